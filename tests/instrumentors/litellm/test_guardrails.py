"""Guardrails on LiteLLM calls through the real litellm: checked before the call is sent, settled
with what it cost; a downgrade rewrites the model wherever the user gave it (keyword or position)."""

from __future__ import annotations

import copy
import gc

import litellm
import pytest
from otel_tokens_fake_providers import Scenario

import otel_tokens
from otel_tokens import Action, Budget, Catalogue, Decision, _runtime
from otel_tokens._settings import Settings

from .._guardrails import decisions, enforce, held, models_sent, spent
from .helpers import GPT_4O_MINI, MESSAGES, cost, only_span

GPT_4O = {"input": 2.50, "cached": 1.25, "output": 10.0}
KINDS = ["completion", "acompletion", "stream", "async stream"]
UNKNOWN = "acme-unknown-1"


async def call(kind: str, api: dict, model: str = "openai/gpt-4o", max_tokens: int = 100, **kwargs):
    """One call of ``kind``, a stream read to its end; returns what the user got."""
    kwargs = {"messages": MESSAGES, "max_tokens": max_tokens, **api, **kwargs}
    if kind.endswith("stream"):
        kwargs.update(stream=True, stream_options={"include_usage": True})
    if kind == "completion":
        return litellm.completion(model=model, **kwargs)
    if kind == "stream":
        return list(litellm.completion(model=model, **kwargs))
    result = await litellm.acompletion(model=model, **kwargs)
    return [chunk async for chunk in result] if kind == "async stream" else result


def counted_input(model: str = "gpt-4o") -> int:
    """The input tokens the core counts offline for a reservation (the instrumentor's estimate)."""
    return _runtime.tokenizer().count_chat_input(model, MESSAGES).tokens


# -- block -------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
async def test_a_blocking_budget_stops_the_call_before_it_is_sent(server, openai_api, telemetry, kind):
    guardrails = enforce(Budget("cap", limit=0, action="block"))
    with pytest.raises(otel_tokens.GuardrailError) as raised:
        await call(kind, openai_api)
    assert type(raised.value) is otel_tokens.BudgetExceededError
    assert "budget 'cap'" in str(raised.value)
    assert server.requests == []
    span = only_span(telemetry)
    assert span.attributes["otel_tokens.budget.decision"] == "blocked"
    assert span.attributes["otel_tokens.budget.id"] == "cap"
    assert span.attributes["error.type"] == "BudgetExceededError"
    assert span.attributes["otel_tokens.budget.reservation"] == pytest.approx(
        cost(GPT_4O, input=counted_input(), output=100), rel=1e-12
    )
    assert decisions(telemetry) == {("cap", "blocked"): 1}
    assert (held(guardrails, "cap"), spent(guardrails, "cap")) == (0, 0)


@pytest.mark.parametrize("kind", ["embedding", "text_completion"])
def test_the_other_functions_are_blocked_too(server, openai_api, telemetry, kind):
    enforce(Budget("cap", limit=0))
    with pytest.raises(otel_tokens.BudgetExceededError):
        if kind == "embedding":
            litellm.embedding(model="openai/text-embedding-3-small", input="hello", **openai_api)
        else:
            litellm.text_completion(
                model="text-completion-openai/gpt-3.5-turbo-instruct", prompt="Hi", max_tokens=5, **openai_api
            )
    assert server.requests == []
    assert only_span(telemetry).attributes["otel_tokens.budget.decision"] == "blocked"


# -- admitted and settled ------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
async def test_an_admitted_call_is_settled_at_its_cost(server, openai_api, telemetry, kind):
    guardrails = enforce(Budget("monthly", limit=100.0))
    server.enqueue(Scenario(chunks=3, prompt_tokens=120, completion_tokens=40))
    await call(kind, openai_api)
    assert models_sent(server.requests) == ["gpt-4o"]
    span = only_span(telemetry)
    expected = cost(GPT_4O, input=120, output=40)
    assert span.attributes["gen_ai.usage.cost.amount"] == pytest.approx(expected, rel=1e-12)
    assert span.attributes["otel_tokens.budget.decision"] == "admitted"
    assert span.attributes["otel_tokens.budget.id"] == "monthly"
    reservation = span.attributes["otel_tokens.budget.reservation"]
    assert reservation == pytest.approx(cost(GPT_4O, input=counted_input(), output=100), rel=1e-12)
    assert reservation > expected
    assert spent(guardrails, "monthly") == pytest.approx(
        span.attributes["gen_ai.usage.cost.amount"], rel=1e-12
    )
    assert held(guardrails, "monthly") == 0
    assert decisions(telemetry) == {}


def test_a_token_budget_counts_input_and_output_tokens(server, openai_api, telemetry):
    guardrails = enforce(Budget("tokens", limit=1_000_000, unit="token"))
    server.enqueue(Scenario(prompt_tokens=120, completion_tokens=40))
    litellm.completion("openai/gpt-4o", MESSAGES, max_tokens=100, **openai_api)
    span = only_span(telemetry)
    assert span.attributes["otel_tokens.budget.reservation"] == counted_input() + 100
    assert (
        spent(guardrails, "tokens")
        == (span.attributes["gen_ai.usage.input_tokens"] + span.attributes["gen_ai.usage.output_tokens"])
        == 160
    )
    assert held(guardrails, "tokens") == 0


# -- streams -------------------------------------------------------------------------------------


def test_a_stream_holds_its_reservation_until_it_ends(server, openai_api, telemetry):
    guardrails = enforce(Budget("monthly", limit=100.0))
    server.enqueue(Scenario(chunks=3, prompt_tokens=30, completion_tokens=4))
    stream = litellm.completion(
        model="openai/gpt-4o",
        messages=MESSAGES,
        max_tokens=100,
        stream=True,
        stream_options={"include_usage": True},
        **openai_api,
    )
    holding = held(guardrails, "monthly")
    assert holding == pytest.approx(cost(GPT_4O, input=counted_input(), output=100), rel=1e-12)
    assert spent(guardrails, "monthly") == 0
    list(stream)
    only_span(telemetry)
    assert spent(guardrails, "monthly") == pytest.approx(cost(GPT_4O, input=30, output=4), rel=1e-12)
    assert held(guardrails, "monthly") == 0


def test_a_stream_abandoned_early_is_settled_with_what_was_seen(server, openai_api, telemetry):
    guardrails = enforce(Budget("monthly", limit=100.0))
    server.enqueue(Scenario(chunks=6, prompt_tokens=11, completion_tokens=6, include_usage=True))
    stream = litellm.completion(model="openai/gpt-4o", messages=MESSAGES, stream=True, **openai_api)
    next(iter(stream))
    del stream  # litellm's sync stream has no close(): dropping it ends the call
    gc.collect()
    span = only_span(telemetry)
    # No usage arrived before the break: the call is estimated from what was seen, and charged so.
    assert span.attributes["otel_tokens.usage.estimated"] is True
    assert spent(guardrails, "monthly") == pytest.approx(
        span.attributes["gen_ai.usage.cost.amount"], rel=1e-12
    )
    assert spent(guardrails, "monthly") > 0
    assert held(guardrails, "monthly") == 0


async def test_an_async_stream_abandoned_without_usage_or_estimate_releases_its_hold(
    server, openai_api, telemetry, reinstrument
):
    _runtime.set_settings(Settings(estimate_usage=False))
    reinstrument()
    guardrails = enforce(Budget("monthly", limit=100.0))
    server.enqueue(Scenario(chunks=6, prompt_tokens=11, completion_tokens=6, include_usage=True))
    stream = await litellm.acompletion(model="openai/gpt-4o", messages=MESSAGES, stream=True, **openai_api)
    async for _ in stream:
        break
    if hasattr(stream, "aclose"):  # only later litellm streams have aclose(); the proxy mirrors that
        await stream.aclose()
    else:
        del stream
        gc.collect()
    assert "gen_ai.usage.input_tokens" not in only_span(telemetry).attributes
    assert (spent(guardrails, "monthly"), held(guardrails, "monthly")) == (0, 0)


# -- warn and downgrade --------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["completion", "async stream"])
async def test_a_warning_budget_lets_the_call_through(server, openai_api, telemetry, kind):
    guardrails = enforce(Budget("cap", limit=0, action="warn"))
    server.enqueue(Scenario(prompt_tokens=120, completion_tokens=40))
    await call(kind, openai_api)
    assert models_sent(server.requests) == ["gpt-4o"]
    span = only_span(telemetry)
    assert span.attributes["otel_tokens.budget.decision"] == "warned"
    assert decisions(telemetry) == {("cap", "warned"): 1}
    assert spent(guardrails, "cap") == pytest.approx(cost(GPT_4O, input=120, output=40), rel=1e-12)


@pytest.mark.parametrize("kind", KINDS)
async def test_a_downgrade_sends_the_cheaper_model(server, openai_api, telemetry, kind):
    guardrails = enforce(Budget("cap", limit=0, action="downgrade", downgrade_to="gpt-4o-mini"))
    server.enqueue(Scenario(chunks=3, prompt_tokens=120, completion_tokens=40))
    messages = copy.deepcopy(MESSAGES)
    await call(kind, openai_api, messages=messages)
    assert messages == MESSAGES  # the user's list, as it was
    assert models_sent(server.requests) == ["gpt-4o-mini"]
    span = only_span(telemetry)
    assert span.attributes["gen_ai.request.model"] == "gpt-4o-mini"
    assert span.attributes["otel_tokens.budget.original_model"] == "gpt-4o"
    assert span.attributes["otel_tokens.budget.decision"] == "downgraded"
    expected = cost(GPT_4O_MINI, input=120, output=40)
    assert span.attributes["gen_ai.usage.cost.amount"] == pytest.approx(expected, rel=1e-12)
    assert decisions(telemetry) == {("cap", "downgraded"): 1}
    assert spent(guardrails, "cap") == pytest.approx(expected, rel=1e-12)
    assert held(guardrails, "cap") == 0


async def test_a_downgrade_rewrites_a_positional_model(server, openai_api, telemetry):
    enforce(Budget("cap", limit=0, action="downgrade", downgrade_to="gpt-4o-mini"))
    server.enqueue(Scenario(prompt_tokens=120, completion_tokens=40))
    server.enqueue(Scenario(prompt_tokens=120, completion_tokens=40))
    server.enqueue(Scenario(prompt_tokens=8, completion_tokens=5))
    litellm.completion("openai/gpt-4o", MESSAGES, **openai_api)
    await litellm.acompletion("openai/gpt-4o", MESSAGES, **openai_api)
    litellm.text_completion("Tell a story", "text-completion-openai/gpt-3.5-turbo-instruct", **openai_api)
    assert models_sent(server.requests) == ["gpt-4o-mini", "gpt-4o-mini", "gpt-4o-mini"]
    assert [s.attributes["otel_tokens.budget.decision"] for s in telemetry.spans()] == ["downgraded"] * 3
    assert [s.attributes["gen_ai.request.model"] for s in telemetry.spans()] == ["gpt-4o-mini"] * 3


def test_a_prefixed_downgrade_goes_to_litellm_as_written(server, openai_api, telemetry):
    guardrails = enforce(Budget("cap", limit=0, action="downgrade", downgrade_to="openai/gpt-4o-mini"))
    server.enqueue(Scenario(prompt_tokens=120, completion_tokens=40))
    litellm.completion(model="openai/gpt-4o", messages=MESSAGES, **openai_api)
    assert models_sent(server.requests) == ["gpt-4o-mini"]  # LiteLLM routed the prefix, as it would
    span = only_span(telemetry)
    assert span.attributes["otel_tokens.budget.decision"] == "downgraded"
    assert spent(guardrails, "cap") == pytest.approx(cost(GPT_4O_MINI, input=120, output=40), rel=1e-12)


def test_a_prefixed_downgrade_is_recorded_as_the_model_the_provider_sees(server, openai_api, telemetry):
    enforce(Budget("cap", limit=0, action="downgrade", downgrade_to="openai/gpt-4o-mini"))
    server.enqueue(Scenario(prompt_tokens=120, completion_tokens=40))
    litellm.completion(model="openai/gpt-4o", messages=MESSAGES, **openai_api)
    assert only_span(telemetry).attributes["gen_ai.request.model"] == "gpt-4o-mini"


# -- callbacks -----------------------------------------------------------------------------------


async def test_a_callback_decides_with_the_budgets_numbers(server, openai_api, telemetry):
    seen: list[Decision] = []

    def decide(decision: Decision) -> Action:
        seen.append(decision)
        return Action.downgrade("gpt-4o-mini")

    guardrails = enforce(Budget("cap", limit=0, action=decide))
    server.enqueue(Scenario(prompt_tokens=120, completion_tokens=40))
    await call("acompletion", openai_api)
    [decision] = seen
    assert (decision.kind, decision.id, decision.provider, decision.model) == (
        "budget",
        "cap",
        "openai",
        "gpt-4o",
    )
    assert (decision.reason, decision.limit, decision.spent, decision.unit) == ("limit", 0.0, 0.0, "USD")
    assert decision.reservation == pytest.approx(cost(GPT_4O, input=counted_input(), output=100), rel=1e-12)
    assert models_sent(server.requests) == ["gpt-4o-mini"]
    assert only_span(telemetry).attributes["otel_tokens.budget.decision"] == "downgraded"
    assert spent(guardrails, "cap") == pytest.approx(cost(GPT_4O_MINI, input=120, output=40), rel=1e-12)


def test_a_callback_may_block(server, openai_api, telemetry):
    enforce(Budget("cap", limit=0, action=lambda decision: "block"))
    with pytest.raises(otel_tokens.BudgetExceededError):
        litellm.completion(model="openai/gpt-4o", messages=MESSAGES, **openai_api)
    assert server.requests == []
    assert only_span(telemetry).attributes["otel_tokens.budget.decision"] == "blocked"


@pytest.mark.parametrize(("fail_mode", "decision"), [("open", "warned"), ("closed", "blocked")])
def test_a_raising_callback_follows_the_fail_mode(server, openai_api, telemetry, fail_mode, decision):
    def broken(found: Decision) -> Action:
        raise RuntimeError("the callback's own bug")

    enforce(Budget("cap", limit=0, action=broken, fail_mode=fail_mode))
    server.enqueue(Scenario(prompt_tokens=120, completion_tokens=40))
    if decision == "blocked":
        with pytest.raises(otel_tokens.BudgetExceededError):
            litellm.completion(model="openai/gpt-4o", messages=MESSAGES, **openai_api)
    else:
        litellm.completion(model="openai/gpt-4o", messages=MESSAGES, **openai_api)
    assert len(server.requests) == (0 if decision == "blocked" else 1)
    assert only_span(telemetry).attributes["otel_tokens.budget.decision"] == decision
    assert decisions(telemetry) == {("cap", decision): 1}


# -- provider errors -----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
async def test_a_provider_error_passes_through_and_releases_the_hold(server, openai_api, telemetry, kind):
    guardrails = enforce(Budget("monthly", limit=100.0))
    server.enqueue(Scenario(error_status=429))
    with pytest.raises(litellm.RateLimitError) as raised:
        await call(kind, openai_api)
    assert type(raised.value) is litellm.RateLimitError
    span = only_span(telemetry)
    assert span.attributes["error.type"] == "RateLimitError"
    assert span.attributes["otel_tokens.budget.decision"] == "admitted"
    assert (held(guardrails, "monthly"), spent(guardrails, "monthly")) == (0, 0)


# -- catalogues ----------------------------------------------------------------------------------


def test_a_catalogue_blocks_an_unapproved_model_before_it_is_sent(server, openai_api, telemetry):
    enforce(Catalogue("approved", models=["gpt-4o-mini*"], action="block"))
    with pytest.raises(otel_tokens.ModelNotApprovedError) as raised:
        litellm.completion(model="openai/gpt-4o", messages=MESSAGES, **openai_api)
    assert (raised.value.catalogue_id, raised.value.model) == ("approved", "gpt-4o")
    assert server.requests == []
    span = only_span(telemetry)
    assert span.attributes["otel_tokens.budget.decision"] == "blocked"
    assert span.attributes["otel_tokens.model.approved"] is False
    assert span.attributes["error.type"] == "ModelNotApprovedError"


async def test_a_catalogue_downgrades_to_an_approved_model(server, openai_api, telemetry):
    enforce(Catalogue("approved", models=["gpt-4o-mini*"], action="downgrade", downgrade_to="gpt-4o-mini"))
    server.enqueue(Scenario(chunks=2, prompt_tokens=120, completion_tokens=40))
    await call("async stream", openai_api)
    assert models_sent(server.requests) == ["gpt-4o-mini"]
    span = only_span(telemetry)
    assert (
        span.attributes["gen_ai.request.model"],
        span.attributes["otel_tokens.budget.original_model"],
    ) == (
        "gpt-4o-mini",
        "gpt-4o",
    )
    assert span.attributes["gen_ai.usage.cost.amount"] == pytest.approx(
        cost(GPT_4O_MINI, input=120, output=40), rel=1e-12
    )


def test_an_approved_calls_points_say_so(server, openai_api, telemetry):
    enforce(Catalogue("approved", models=["gpt-4o-mini*"]))
    server.enqueue(Scenario(prompt_tokens=120, completion_tokens=40))
    litellm.completion(model="openai/gpt-4o-mini", messages=MESSAGES, **openai_api)
    assert only_span(telemetry).attributes["otel_tokens.model.approved"] is True
    points = [
        *telemetry.points("gen_ai.client.token.usage"),
        *telemetry.points("otel_tokens.client.cost"),
        *telemetry.points("gen_ai.client.operation.duration"),
    ]
    assert len(points) == 4
    assert all(p.attributes["otel_tokens.model.approved"] is True for p in points)


# -- unpriced models -----------------------------------------------------------------------------


def test_an_unpriced_model_is_blocked_when_its_budget_says_so(server, openai_api, telemetry):
    enforce(Budget("cap", limit=100.0, on_unpriced="block"))
    with pytest.raises(otel_tokens.UnpricedModelError) as raised:
        litellm.completion(model=f"openai/{UNKNOWN}", messages=MESSAGES, **openai_api)
    assert (raised.value.budget_id, raised.value.model) == ("cap", UNKNOWN)
    assert "budget 'cap'" in str(raised.value)
    assert server.requests == []
    assert only_span(telemetry).attributes["error.type"] == "UnpricedModelError"


@pytest.mark.parametrize("kind", ["completion", "async stream"])
async def test_an_unpriced_model_is_estimated_at_the_budgets_rates(server, openai_api, telemetry, kind):
    guardrails = enforce(Budget("cap", limit=100.0, on_unpriced="estimate"))
    server.enqueue(Scenario(chunks=2, prompt_tokens=120, completion_tokens=40))
    await call(kind, openai_api, model=f"openai/{UNKNOWN}", max_tokens=100)
    span = only_span(telemetry)
    # The default unpriced rates: 15 USD per million input tokens, 75 per million output.
    assert span.attributes["otel_tokens.budget.reservation"] == pytest.approx(
        counted_input(UNKNOWN) * 15 / 1e6 + 100 * 75 / 1e6, rel=1e-12
    )
    assert span.attributes["otel_tokens.price.missing"] is True
    assert "gen_ai.usage.cost.amount" not in span.attributes
    assert spent(guardrails, "cap") == pytest.approx(120 * 15 / 1e6 + 40 * 75 / 1e6, rel=1e-12)
    assert held(guardrails, "cap") == 0


def test_an_unpriced_model_with_its_own_rates(server, openai_api, telemetry):
    guardrails = enforce(Budget("cap", limit=100.0, unpriced_rates=(1.0, 2.0)))
    server.enqueue(Scenario(prompt_tokens=120, completion_tokens=40))
    litellm.completion(model=f"openai/{UNKNOWN}", messages=MESSAGES, max_tokens=100, **openai_api)
    assert only_span(telemetry).attributes["otel_tokens.budget.reservation"] == pytest.approx(
        (counted_input(UNKNOWN) * 1.0 + 100 * 2.0) / 1e6, rel=1e-12
    )
    assert spent(guardrails, "cap") == pytest.approx((120 * 1.0 + 40 * 2.0) / 1e6, rel=1e-12)


def test_an_unpriced_model_allowed_costs_the_budget_nothing(server, openai_api, telemetry):
    guardrails = enforce(Budget("cap", limit=100.0, on_unpriced="allow"))
    server.enqueue(Scenario(prompt_tokens=120, completion_tokens=40))
    litellm.completion(model=f"openai/{UNKNOWN}", messages=MESSAGES, max_tokens=100, **openai_api)
    assert models_sent(server.requests) == [UNKNOWN]
    span = only_span(telemetry)
    assert span.attributes["otel_tokens.price.missing"] is True
    assert span.attributes["otel_tokens.budget.decision"] == "admitted"
    assert span.attributes["otel_tokens.budget.reservation"] == 0
    assert (spent(guardrails, "cap"), held(guardrails, "cap")) == (0, 0)
