"""Guardrails on real openai calls against the fake server: blocked before anything is sent,
settled exactly, downgraded on the wire, decided by callbacks, and the provider's own caps."""

from __future__ import annotations

from datetime import UTC, datetime

import openai
import pytest
from opentelemetry.trace import StatusCode
from otel_tokens_fake_providers import Scenario

from otel_tokens import (
    Action,
    Budget,
    BudgetExceededError,
    Catalogue,
    GuardrailError,
    ModelNotApprovedError,
    UnpricedModelError,
    tags,
)
from otel_tokens.tokenize import Tokenizer

from .._guardrails import decisions, enforce, held, models_sent, spent
from .helpers import GPT_4O_MINI, GPT_5, cost, only_span, token_points

MESSAGES = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Say hello."}]
MODES = ["sync", "async", "stream", "async stream"]
MONTH_END = datetime(2026, 6, 1, tzinfo=UTC)  # the month window of the tests' clock resets then


def counted(model: str) -> int:
    """The input tokens a reservation counts for MESSAGES (offline, as the core does)."""
    return Tokenizer().count_chat_input(model, MESSAGES).tokens


def worst_case(prices: dict[str, float], model: str, max_tokens: int) -> float:
    return cost(prices, input=counted(model), output=max_tokens)


async def send(mode: str, client, async_client, **kwargs):
    """One chat call in ``mode``: the response, or every chunk of a stream that reports usage."""
    if "stream" in mode:
        kwargs = {**kwargs, "stream": True, "stream_options": {"include_usage": True}}
    if mode == "sync":
        return client.chat.completions.create(**kwargs)
    if mode == "async":
        return await async_client.chat.completions.create(**kwargs)
    if mode == "stream":
        return list(client.chat.completions.create(**kwargs))
    stream = await async_client.chat.completions.create(**kwargs)
    return [chunk async for chunk in stream]


# -- block -----------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
async def test_block_before_send(server, client, async_client, telemetry, mode):
    guardrails = enforce(Budget("team-cap", limit=0))
    with pytest.raises(BudgetExceededError, match="budget 'team-cap' is exhausted") as raised:
        await send(mode, client, async_client, model="gpt-4o-mini", messages=MESSAGES, max_tokens=100)
    assert isinstance(raised.value, GuardrailError)
    assert raised.value.reservation == pytest.approx(worst_case(GPT_4O_MINI, "gpt-4o-mini", 100), rel=1e-12)
    assert server.requests == []
    span = only_span(telemetry)
    assert span.status.status_code is StatusCode.ERROR
    assert {k: span.attributes.get(k) for k in ("otel_tokens.budget.decision", "otel_tokens.budget.id")} == {
        "otel_tokens.budget.decision": "blocked",
        "otel_tokens.budget.id": "team-cap",
    }
    assert span.attributes["error.type"] == "BudgetExceededError"
    assert span.attributes["otel_tokens.budget.reservation"] == raised.value.reservation
    assert "gen_ai.usage.input_tokens" not in span.attributes
    assert decisions(telemetry) == {("team-cap", "blocked"): 1}
    assert telemetry.points("gen_ai.client.token.usage") == []
    assert (held(guardrails, "team-cap"), spent(guardrails, "team-cap")) == (0, 0)


def test_a_limit_below_the_worst_case_blocks_though_the_call_would_fit(server, client, telemetry):
    # 10 output tokens would cost less than the limit, but 1,000 may come back: the worst case counts.
    limit = worst_case(GPT_5, "gpt-5", 1000) / 2
    guardrails = enforce(Budget("small", limit=limit))
    with pytest.raises(BudgetExceededError, match="'small'"):
        client.chat.completions.create(model="gpt-5", messages=MESSAGES, max_tokens=1000)
    assert server.requests == []
    assert only_span(telemetry).attributes["otel_tokens.budget.utilisation"] == pytest.approx(2.0)
    assert held(guardrails, "small") == 0


def test_an_unpriced_model_is_blocked_before_send_when_the_budget_says_so(server, client, telemetry):
    guardrails = enforce(Budget("strict", limit=100, on_unpriced="block"))
    with pytest.raises(UnpricedModelError, match="budget 'strict' cannot price model 'acme-private-llm-7'"):
        client.chat.completions.create(model="acme-private-llm-7", messages=MESSAGES, max_tokens=100)
    assert server.requests == []
    span = only_span(telemetry)
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes["error.type"] == "UnpricedModelError"
    assert span.attributes["otel_tokens.budget.decision"] == "blocked"
    assert span.attributes["otel_tokens.budget.id"] == "strict"
    assert decisions(telemetry) == {("strict", "blocked"): 1}
    assert held(guardrails, "strict") == 0


# -- admitted and settled --------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
async def test_admitted_call_is_unchanged_and_settled_exactly(server, client, async_client, telemetry, mode):
    guardrails = enforce(Budget("monthly", limit=100))
    server.enqueue(Scenario(text="Hi!", completion_tokens=20, chunks=2))
    result = await send(mode, client, async_client, model="gpt-4o-mini", messages=MESSAGES, max_tokens=100)
    if "stream" in mode:
        assert "".join(c.choices[0].delta.content or "" for c in result if c.choices) == "Hi!"
        usage = result[-1].usage
    else:
        assert result.choices[0].message.content == "Hi!"
        usage = result.usage
    assert models_sent(server.requests) == ["gpt-4o-mini"]
    assert server.requests[0].body["max_tokens"] == 100
    span = only_span(telemetry)
    reservation = worst_case(GPT_4O_MINI, "gpt-4o-mini", 100)
    actual = span.attributes["gen_ai.usage.cost.amount"]
    assert actual == pytest.approx(cost(GPT_4O_MINI, input=usage.prompt_tokens, output=20), rel=1e-12)
    assert {k: v for k, v in span.attributes.items() if k.startswith("otel_tokens.budget.")} == {
        "otel_tokens.budget.decision": "admitted",
        "otel_tokens.budget.id": "monthly",
        "otel_tokens.budget.reservation": pytest.approx(reservation, rel=1e-12),
        "otel_tokens.budget.unit": "USD",
        "otel_tokens.budget.utilisation": pytest.approx(reservation / 100, rel=1e-12),
    }
    assert reservation > actual
    assert spent(guardrails, "monthly") == pytest.approx(actual, rel=1e-12)
    assert held(guardrails, "monthly") == 0
    assert decisions(telemetry) == {}  # only guardrails that acted are counted


def test_token_budget_counts_input_and_output_tokens(server, client, telemetry):
    guardrails = enforce(Budget("tokens", limit=10_000, unit="token"))
    server.enqueue(Scenario(prompt_tokens=1200, cached_tokens=1024, completion_tokens=50))
    client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, max_tokens=100)
    span = only_span(telemetry)
    assert span.attributes["otel_tokens.budget.reservation"] == counted("gpt-4o-mini") + 100
    assert span.attributes["otel_tokens.budget.unit"] == "token"
    total = span.attributes["gen_ai.usage.input_tokens"] + span.attributes["gen_ai.usage.output_tokens"]
    assert total == 1250
    assert spent(guardrails, "tokens") == total
    assert held(guardrails, "tokens") == 0


def test_without_max_tokens_the_family_ceiling_is_reserved(server, client, telemetry):
    enforce(Budget("monthly", limit=100))
    client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    reservation = only_span(telemetry).attributes["otel_tokens.budget.reservation"]
    assert reservation == pytest.approx(worst_case(GPT_4O_MINI, "gpt-4o-mini", 16_384), rel=1e-12)


# -- streams ---------------------------------------------------------------------------------


def test_stream_holds_its_reservation_until_it_ends(server, client, telemetry):
    guardrails = enforce(Budget("monthly", limit=100))
    server.enqueue(Scenario(chunks=4, completion_tokens=9))
    stream = client.chat.completions.create(
        model="gpt-4o-mini",
        messages=MESSAGES,
        max_tokens=50,
        stream=True,
        stream_options={"include_usage": True},
    )
    assert held(guardrails, "monthly") == pytest.approx(worst_case(GPT_4O_MINI, "gpt-4o-mini", 50), rel=1e-12)
    assert spent(guardrails, "monthly") == 0
    chunks = list(stream)
    span = only_span(telemetry)
    assert span.attributes["gen_ai.usage.output_tokens"] == chunks[-1].usage.completion_tokens == 9
    assert spent(guardrails, "monthly") == pytest.approx(
        span.attributes["gen_ai.usage.cost.amount"], rel=1e-12
    )
    assert held(guardrails, "monthly") == 0


def test_stream_closed_before_its_usage_is_charged_its_local_estimate(server, client, telemetry):
    guardrails = enforce(Budget("monthly", limit=100))
    server.enqueue(Scenario(chunks=6))
    stream = client.chat.completions.create(
        model="gpt-4o-mini", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
    )
    for _ in stream:
        break
    stream.close()
    span = only_span(telemetry)
    assert span.attributes["otel_tokens.usage.estimated"] is True
    assert spent(guardrails, "monthly") == pytest.approx(
        span.attributes["gen_ai.usage.cost.amount"], rel=1e-12
    )
    assert held(guardrails, "monthly") == 0


def test_stream_closed_before_any_usage_without_estimates_is_released(
    server, client, telemetry, reinstrument
):
    from otel_tokens import _runtime
    from otel_tokens._settings import Settings

    _runtime.set_settings(Settings(estimate_usage=False))
    reinstrument()
    guardrails = enforce(Budget("monthly", limit=100))
    server.enqueue(Scenario(chunks=6))
    stream = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True)
    for _ in stream:
        break
    stream.close()
    span = only_span(telemetry)
    assert "gen_ai.usage.input_tokens" not in span.attributes
    assert span.attributes["otel_tokens.budget.decision"] == "admitted"
    assert (spent(guardrails, "monthly"), held(guardrails, "monthly")) == (0, 0)


# -- warn ------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["sync", "async stream"])
async def test_warn_sends_the_call_and_counts_its_spend(server, client, async_client, telemetry, mode):
    guardrails = enforce(Budget("soft", limit=0, action="warn"))
    server.enqueue(Scenario(prompt_tokens=30, completion_tokens=12))
    await send(mode, client, async_client, model="gpt-4o-mini", messages=MESSAGES, max_tokens=100)
    assert models_sent(server.requests) == ["gpt-4o-mini"]
    span = only_span(telemetry)
    assert span.attributes["otel_tokens.budget.decision"] == "warned"
    assert span.attributes["otel_tokens.budget.id"] == "soft"
    assert span.status.status_code is StatusCode.UNSET
    assert decisions(telemetry) == {("soft", "warned"): 1}
    expected = cost(GPT_4O_MINI, input=30, output=12)
    assert span.attributes["gen_ai.usage.cost.amount"] == pytest.approx(expected, rel=1e-12)
    assert spent(guardrails, "soft") == pytest.approx(expected, rel=1e-12)
    assert held(guardrails, "soft") == 0


# -- downgrade -------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
async def test_downgrade_sends_and_prices_the_cheaper_model(server, client, async_client, telemetry, mode):
    guardrails = enforce(Budget("cap", limit=0, action="downgrade", downgrade_to="gpt-4o-mini"))
    server.enqueue(Scenario(prompt_tokens=40, completion_tokens=10, chunks=2))
    kwargs = {"model": "gpt-5", "messages": MESSAGES, "max_tokens": 100}
    before = {**kwargs, "messages": [dict(m) for m in MESSAGES]}
    await send(mode, client, async_client, **kwargs)
    assert kwargs == before  # the user's arguments are theirs
    assert models_sent(server.requests) == ["gpt-4o-mini"]
    span = only_span(telemetry)
    assert span.name == "chat gpt-4o-mini"
    assert {
        k: span.attributes.get(k)
        for k in (
            "gen_ai.request.model",
            "gen_ai.response.model",
            "otel_tokens.budget.original_model",
            "otel_tokens.budget.decision",
            "otel_tokens.budget.id",
        )
    } == {
        "gen_ai.request.model": "gpt-4o-mini",
        "gen_ai.response.model": "gpt-4o-mini",
        "otel_tokens.budget.original_model": "gpt-5",
        "otel_tokens.budget.decision": "downgraded",
        "otel_tokens.budget.id": "cap",
    }
    expected = cost(GPT_4O_MINI, input=40, output=10)
    assert span.attributes["gen_ai.usage.cost.amount"] == pytest.approx(expected, rel=1e-12)
    assert {p.attributes["gen_ai.request.model"] for p in telemetry.points("gen_ai.client.token.usage")} == {
        "gpt-4o-mini"
    }
    assert decisions(telemetry) == {("cap", "downgraded"): 1}
    assert spent(guardrails, "cap") == pytest.approx(expected, rel=1e-12)
    assert held(guardrails, "cap") == 0


def test_downgrade_once_the_budget_is_used_up(server, client, telemetry):
    first = worst_case(GPT_5, "gpt-5", 50)
    guardrails = enforce(Budget("cap", limit=1.5 * first, action="downgrade", downgrade_to="gpt-4o-mini"))
    server.enqueue(Scenario(prompt_tokens=counted("gpt-5"), completion_tokens=50))  # uses its worst case
    server.enqueue(Scenario(prompt_tokens=20, completion_tokens=5))
    for _ in range(2):
        client.chat.completions.create(model="gpt-5", messages=MESSAGES, max_tokens=50)
    assert models_sent(server.requests) == ["gpt-5", "gpt-4o-mini"]
    admitted, downgraded = telemetry.spans()
    assert admitted.attributes["otel_tokens.budget.decision"] == "admitted"
    assert downgraded.attributes["otel_tokens.budget.decision"] == "downgraded"
    assert admitted.attributes["gen_ai.usage.cost.amount"] == pytest.approx(first, rel=1e-12)
    second = cost(GPT_4O_MINI, input=20, output=5)
    assert downgraded.attributes["gen_ai.usage.cost.amount"] == pytest.approx(second, rel=1e-12)
    assert spent(guardrails, "cap") == pytest.approx(first + second, rel=1e-12)


def test_a_downgraded_call_reserves_the_cheaper_models_worst_case(server, client, telemetry):
    guardrails = enforce(Budget("cap", limit=1, action="downgrade", downgrade_to="gpt-4o-mini"))
    stream = client.chat.completions.create(model="gpt-5", messages=MESSAGES, stream=True)
    try:
        assert held(guardrails, "cap") == pytest.approx(
            worst_case(GPT_4O_MINI, "gpt-4o-mini", 16_384), rel=1e-12
        )
    finally:
        stream.close()


def test_responses_api_is_downgraded_too(server, client, telemetry):
    enforce(Budget("cap", limit=0, action="downgrade", downgrade_to="gpt-4o-mini"))
    server.enqueue(Scenario(prompt_tokens=12, completion_tokens=4))
    client.responses.create(model="gpt-5", input="Say hello.", max_output_tokens=100)
    assert models_sent(server.requests) == ["gpt-4o-mini"]
    span = only_span(telemetry)
    assert span.attributes["otel_tokens.budget.original_model"] == "gpt-5"
    assert span.attributes["gen_ai.usage.cost.amount"] == pytest.approx(
        cost(GPT_4O_MINI, input=12, output=4), rel=1e-12
    )


def test_chat_stream_helper_and_parse_go_through_create_and_are_downgraded(server, client, telemetry):
    from pydantic import BaseModel

    class Answer(BaseModel):
        greeting: str

    guardrails = enforce(Budget("cap", limit=0, action="downgrade", downgrade_to="gpt-4o-mini"))
    server.enqueue(Scenario(text="Hi!", chunks=2, prompt_tokens=8, completion_tokens=2))
    server.enqueue(Scenario(text='{"greeting": "hello"}', prompt_tokens=40, completion_tokens=9))
    with client.chat.completions.stream(
        model="gpt-5", messages=MESSAGES, max_tokens=100, stream_options={"include_usage": True}
    ) as stream:
        assert stream.get_final_completion().choices[0].message.content == "Hi!"
    parsed = client.chat.completions.parse(
        model="gpt-5", messages=MESSAGES, max_tokens=100, response_format=Answer
    )
    assert parsed.choices[0].message.parsed == Answer(greeting="hello")
    assert models_sent(server.requests) == ["gpt-4o-mini", "gpt-4o-mini"]
    streamed, plain = telemetry.spans()
    assert [s.attributes["otel_tokens.budget.decision"] for s in (streamed, plain)] == ["downgraded"] * 2
    expected = cost(GPT_4O_MINI, input=8, output=2) + cost(GPT_4O_MINI, input=40, output=9)
    assert spent(guardrails, "cap") == pytest.approx(expected, rel=1e-12)


def test_chat_stream_helper_is_blocked_when_entered(server, client, telemetry):
    # The helper sends (through create) when its manager is entered: that is where it raises.
    enforce(Budget("cap", limit=0))
    manager = client.chat.completions.stream(model="gpt-5", messages=MESSAGES)
    with pytest.raises(BudgetExceededError), manager:
        pass
    assert server.requests == []
    assert only_span(telemetry).attributes["otel_tokens.budget.decision"] == "blocked"


def test_a_call_without_a_model_argument_goes_as_asked_and_is_warned(server, client, telemetry):
    # A stored prompt names the model on the server side: there is no argument to change.
    enforce(Budget("cap", limit=0, action="downgrade", downgrade_to="gpt-4o-mini"))
    client.responses.create(prompt={"id": "pmpt_123"}, input="Say hello.")
    assert models_sent(server.requests) == [None]
    span = only_span(telemetry)
    assert span.attributes["otel_tokens.budget.decision"] == "warned"
    assert "otel_tokens.budget.original_model" not in span.attributes
    assert "gen_ai.request.model" not in span.attributes
    assert decisions(telemetry) == {("cap", "warned"): 1}


def azure(server, **deployment):
    return openai.AzureOpenAI(
        azure_endpoint=server.url, api_version="2024-10-21", api_key="x", max_retries=0, **deployment
    )


def test_azure_without_a_fixed_deployment_is_sent_to_the_cheaper_deployment(server, telemetry):
    # The SDK puts the model argument into the path: the downgrade names a deployment.
    enforce(Budget("cap", limit=0, action="downgrade", downgrade_to="gpt-4o-mini"))
    azure(server).chat.completions.create(model="gpt-5", messages=MESSAGES, max_tokens=100)
    assert [r.path for r in server.requests] == ["/openai/deployments/gpt-4o-mini/chat/completions"]
    span = only_span(telemetry)
    assert span.attributes["otel_tokens.budget.decision"] == "downgraded"
    assert span.attributes["gen_ai.request.model"] == "gpt-4o-mini"


def test_azure_with_a_fixed_deployment_goes_as_asked_and_is_warned(server, telemetry):
    # The deployment is in the client's base URL: the model argument cannot move the call, so the
    # call is not recorded as sent to a model it never reached.
    enforce(Budget("cap", limit=0, action="downgrade", downgrade_to="gpt-4o-mini"))
    client = azure(server, azure_deployment="prod-gpt5")
    client.chat.completions.create(model="prod-gpt5", messages=MESSAGES, max_tokens=100)
    assert [r.path for r in server.requests] == ["/openai/deployments/prod-gpt5/chat/completions"]
    assert models_sent(server.requests) == ["prod-gpt5"]
    span = only_span(telemetry)
    assert span.attributes["otel_tokens.budget.decision"] == "warned"
    assert span.attributes["gen_ai.request.model"] == "prod-gpt5"
    assert "otel_tokens.budget.original_model" not in span.attributes
    assert decisions(telemetry) == {("cap", "warned"): 1}


# -- callbacks -------------------------------------------------------------------------------


def test_callback_gets_the_decision_and_downgrades(server, client, telemetry):
    seen = []

    def choose(decision):
        seen.append(decision)
        return Action.downgrade("gpt-4o-mini")

    guardrails = enforce(Budget("cap", limit=0, action=choose))
    with tags(team="search"):
        client.chat.completions.create(model="gpt-5", messages=MESSAGES, max_tokens=100)
    [decision] = seen
    assert (decision.kind, decision.id, decision.provider, decision.model, decision.reason) == (
        "budget",
        "cap",
        "openai",
        "gpt-5",
        "limit",
    )
    assert dict(decision.tags) == {"team": "search"}
    assert (decision.limit, decision.spent, decision.unit, decision.resets_at) == (0.0, 0.0, "USD", MONTH_END)
    assert decision.reservation == pytest.approx(worst_case(GPT_5, "gpt-5", 100), rel=1e-12)
    assert models_sent(server.requests) == ["gpt-4o-mini"]
    span = only_span(telemetry)
    assert span.attributes["otel_tokens.budget.decision"] == "downgraded"
    assert spent(guardrails, "cap") == pytest.approx(span.attributes["gen_ai.usage.cost.amount"], rel=1e-12)


async def test_callback_blocks(server, async_client, telemetry):
    guardrails = enforce(Budget("cap", limit=0, action=lambda decision: "block"))
    with pytest.raises(BudgetExceededError):
        await async_client.chat.completions.create(model="gpt-5", messages=MESSAGES)
    assert server.requests == []
    assert only_span(telemetry).attributes["otel_tokens.budget.decision"] == "blocked"
    assert held(guardrails, "cap") == 0


@pytest.mark.parametrize(("fail_mode", "decision"), [("open", "warned"), ("closed", "blocked")])
def test_a_failing_callback_follows_fail_mode(server, client, telemetry, fail_mode, decision):
    def broken(decision):
        raise RuntimeError("the callback's own bug")

    guardrails = enforce(Budget("cap", limit=0, action=broken, fail_mode=fail_mode))
    if decision == "blocked":
        with pytest.raises(BudgetExceededError):
            client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
        assert server.requests == []
    else:
        client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
        assert models_sent(server.requests) == ["gpt-4o-mini"]
    assert only_span(telemetry).attributes["otel_tokens.budget.decision"] == decision
    assert decisions(telemetry) == {("cap", decision): 1}
    assert held(guardrails, "cap") == 0


# -- provider errors -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "exception"), [(429, openai.RateLimitError), (500, openai.InternalServerError)]
)
@pytest.mark.parametrize("mode", ["sync", "async stream"])
async def test_provider_error_passes_through_and_releases_the_hold(
    server, client, async_client, telemetry, status, exception, mode
):
    guardrails = enforce(Budget("monthly", limit=100))
    server.enqueue(Scenario(error_status=status))
    with pytest.raises(exception) as raised:
        await send(mode, client, async_client, model="gpt-4o-mini", messages=MESSAGES)
    assert type(raised.value) is exception
    span = only_span(telemetry)
    assert span.attributes["error.type"] == exception.__name__
    assert span.attributes["otel_tokens.budget.decision"] == "admitted"
    assert "otel_tokens.limit.provider" not in span.attributes  # an ordinary error, not a spend cap
    assert (spent(guardrails, "monthly"), held(guardrails, "monthly")) == (0, 0)


@pytest.mark.parametrize("code", ["organization_spend_limit_exceeded", "project_spend_limit_exceeded"])
def test_provider_spend_limit_is_recognised(server, client, telemetry, code):
    guardrails = enforce(Budget("monthly", limit=100))
    server.enqueue(
        Scenario(
            error_status=429,
            error_type="insufficient_quota",
            error_code=code,
            error_message="You have exceeded your spend limit. Raise it in the billing settings.",
        )
    )
    with pytest.raises(openai.RateLimitError) as raised:
        client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert raised.value.code == code
    span = only_span(telemetry)
    assert span.attributes["otel_tokens.limit.provider"] == code
    assert span.attributes["error.type"] == "RateLimitError"
    [point] = telemetry.points("otel_tokens.client.provider_limits")
    assert (point.value, point.attributes["otel_tokens.limit.provider"]) == (1, code)
    assert point.attributes["gen_ai.request.model"] == "gpt-4o-mini"
    assert (spent(guardrails, "monthly"), held(guardrails, "monthly")) == (0, 0)


# -- catalogues ------------------------------------------------------------------------------


async def test_catalogue_blocks_an_unapproved_model_before_send(server, async_client, telemetry):
    enforce(Catalogue("approved", models=["gpt-4o-mini"], action="block"))
    with pytest.raises(ModelNotApprovedError, match="'gpt-5' is not approved by catalogue 'approved'"):
        await async_client.chat.completions.create(model="gpt-5", messages=MESSAGES)
    assert server.requests == []
    span = only_span(telemetry)
    assert {k: v for k, v in span.attributes.items() if k.startswith(("otel_tokens.", "error."))} == {
        "otel_tokens.budget.decision": "blocked",
        "otel_tokens.budget.id": "approved",
        "otel_tokens.catalogue.id": "approved",
        "otel_tokens.model.approved": False,
        "error.type": "ModelNotApprovedError",
    }
    assert decisions(telemetry) == {("approved", "blocked"): 1}


def test_catalogue_downgrades_to_the_approved_model(server, client, telemetry):
    guardrails = enforce(
        Catalogue("approved", models=["gpt-4o-mini"], action="downgrade", downgrade_to="gpt-4o-mini"),
        Budget("monthly", limit=100),
    )
    server.enqueue(Scenario(prompt_tokens=40, completion_tokens=10))
    client.chat.completions.create(model="gpt-5", messages=MESSAGES, max_tokens=100)
    assert models_sent(server.requests) == ["gpt-4o-mini"]
    span = only_span(telemetry)
    assert span.attributes["otel_tokens.budget.decision"] == "downgraded"
    assert span.attributes["otel_tokens.budget.original_model"] == "gpt-5"
    assert spent(guardrails, "monthly") == pytest.approx(cost(GPT_4O_MINI, input=40, output=10), rel=1e-12)
    assert held(guardrails, "monthly") == 0


def test_catalogue_downgrade_keeps_the_budget_reservation_on_the_span(server, client, telemetry):
    enforce(
        Catalogue("approved", models=["gpt-4o-mini"], action="downgrade", downgrade_to="gpt-4o-mini"),
        Budget("monthly", limit=100),
    )
    client.chat.completions.create(model="gpt-5", messages=MESSAGES, max_tokens=100)
    span = only_span(telemetry)
    # The budget held the worst case of the model actually sent.
    assert span.attributes.get("otel_tokens.budget.reservation") == pytest.approx(
        cost(GPT_4O_MINI, input=counted("gpt-5"), output=100), rel=1e-12
    )
    assert span.attributes.get("otel_tokens.budget.unit") == "USD"


def test_approved_calls_carry_the_approval_on_their_metrics(server, client, telemetry):
    enforce(Catalogue("approved", models=["gpt-4o-*"]))
    client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    span = only_span(telemetry)
    assert span.attributes["otel_tokens.model.approved"] is True
    assert span.attributes["otel_tokens.budget.decision"] == "admitted"
    points = [
        *token_points(telemetry).values(),
        *telemetry.points("otel_tokens.client.cost"),
        *telemetry.points("gen_ai.client.operation.duration"),
    ]
    assert len(points) == 4
    assert all(p.attributes["otel_tokens.model.approved"] is True for p in points)
    assert decisions(telemetry) == {}
