"""Guardrails on google-genai requests through the real SDK: checked before each request is sent,
settled with what it cost. The model travels in the URL path (``/v1beta/models/<id>:...``)."""

from __future__ import annotations

import contextlib
import copy

import pytest
from google.genai import errors
from otel_tokens_fake_providers import Scenario

import otel_tokens
from otel_tokens import Action, Budget, Catalogue, Decision, _runtime
from otel_tokens._settings import Settings

from .._guardrails import decisions, enforce, held, spent
from .helpers import GEMINI_25_FLASH, GEMINI_25_PRO, cost, only_span

PRO = "gemini-2.5-pro"
FLASH = "gemini-2.5-flash"
PROMPT = "Say hello."
KINDS = ["generate", "async generate", "stream", "async stream"]


async def call(client, kind: str, model: str = PRO, max_tokens: int | None = 100, **kwargs):
    """One request of ``kind``, a stream read to its end; returns what the user got."""
    if max_tokens is not None:
        kwargs.setdefault("config", {"max_output_tokens": max_tokens})
    kwargs.setdefault("contents", PROMPT)
    models = client.aio.models if kind.startswith("async") else client.models
    if kind == "generate":
        return models.generate_content(model=model, **kwargs)
    if kind == "async generate":
        return await models.generate_content(model=model, **kwargs)
    if kind == "stream":
        return list(models.generate_content_stream(model=model, **kwargs))
    return [chunk async for chunk in await models.generate_content_stream(model=model, **kwargs)]


def models_in_paths(requests) -> list[str]:
    """The model of each request: the Gemini API names it in the path, ``/v1beta/models/<id>:<method>``."""
    return [r.path.rsplit("/", 1)[1].split(":", 1)[0] for r in requests]


def counted_input(model: str = PRO, texts: list[str] | None = None) -> int:
    """The input tokens the core counts offline for a reservation (the instrumentor's estimate)."""
    return _runtime.tokenizer().count_texts(model, texts or [PROMPT]).tokens


# -- block -------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
async def test_a_blocking_budget_stops_the_request_before_it_is_sent(server, client, telemetry, kind):
    guardrails = enforce(Budget("cap", limit=0, action="block"))
    with pytest.raises(otel_tokens.GuardrailError) as raised:
        await call(client, kind)
    assert type(raised.value) is otel_tokens.BudgetExceededError
    assert "budget 'cap'" in str(raised.value)
    assert server.requests == []
    span = only_span(telemetry)
    assert span.attributes["otel_tokens.budget.decision"] == "blocked"
    assert span.attributes["otel_tokens.budget.id"] == "cap"
    assert span.attributes["error.type"] == "BudgetExceededError"
    assert span.attributes["otel_tokens.budget.reservation"] == pytest.approx(
        cost(GEMINI_25_PRO, input=counted_input(), output=100), rel=1e-12
    )
    assert decisions(telemetry) == {("cap", "blocked"): 1}
    assert (held(guardrails, "cap"), spent(guardrails, "cap")) == (0, 0)


async def test_an_embedding_is_blocked_too(server, client, telemetry):
    enforce(Budget("cap", limit=0))
    with pytest.raises(otel_tokens.BudgetExceededError):
        client.models.embed_content(model="gemini-embedding-001", contents=["one text"])
    assert server.requests == []
    span = only_span(telemetry)
    assert span.attributes["gen_ai.operation.name"] == "embeddings"
    assert span.attributes["otel_tokens.budget.decision"] == "blocked"


# -- admitted and settled ------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
async def test_an_admitted_request_is_settled_at_its_cost(server, client, telemetry, kind):
    guardrails = enforce(Budget("monthly", limit=100.0))
    server.enqueue(Scenario(chunks=3, prompt_tokens=120, completion_tokens=40))
    await call(client, kind)
    assert models_in_paths(server.requests) == [PRO]
    span = only_span(telemetry)
    expected = cost(GEMINI_25_PRO, input=120, output=40)
    assert span.attributes["gen_ai.usage.cost.amount"] == pytest.approx(expected, rel=1e-12)
    assert span.attributes["otel_tokens.budget.decision"] == "admitted"
    assert span.attributes["otel_tokens.budget.id"] == "monthly"
    reservation = span.attributes["otel_tokens.budget.reservation"]
    assert reservation == pytest.approx(cost(GEMINI_25_PRO, input=counted_input(), output=100), rel=1e-12)
    assert reservation > expected
    assert span.attributes["otel_tokens.budget.utilisation"] == pytest.approx(reservation / 100.0, rel=1e-12)
    assert spent(guardrails, "monthly") == pytest.approx(
        span.attributes["gen_ai.usage.cost.amount"], rel=1e-12
    )
    assert held(guardrails, "monthly") == 0
    assert decisions(telemetry) == {}


def test_without_a_maximum_the_reservation_is_the_models_ceiling(server, client, telemetry):
    enforce(Budget("tokens", limit=10_000_000, unit="token"))
    server.enqueue(Scenario(prompt_tokens=12, completion_tokens=3))
    client.models.generate_content(model=PRO, contents=PROMPT)
    span = only_span(telemetry)
    # No max_output_tokens in the request: Gemini's documented ceiling for the family.
    assert span.attributes["otel_tokens.budget.reservation"] == counted_input() + 65_536


async def test_a_token_budget_counts_input_and_output_tokens(server, client, telemetry):
    guardrails = enforce(Budget("tokens", limit=1_000_000, unit="token"))
    server.enqueue(Scenario(prompt_tokens=120, completion_tokens=40, reasoning_tokens=10))
    await call(client, "async generate")
    span = only_span(telemetry)
    assert span.attributes["otel_tokens.budget.unit"] == "token"
    assert span.attributes["otel_tokens.budget.reservation"] == counted_input() + 100
    # Thinking is output: 40 candidates + 10 thoughts.
    assert (
        spent(guardrails, "tokens")
        == (span.attributes["gen_ai.usage.input_tokens"] + span.attributes["gen_ai.usage.output_tokens"])
        == 170
    )
    assert held(guardrails, "tokens") == 0


# -- streams -------------------------------------------------------------------------------------


def test_a_stream_holds_its_reservation_until_it_ends(server, client, telemetry):
    guardrails = enforce(Budget("monthly", limit=100.0))
    server.enqueue(Scenario(chunks=3, prompt_tokens=30, completion_tokens=4))
    stream = client.models.generate_content_stream(
        model=PRO, contents=PROMPT, config={"max_output_tokens": 100}
    )
    assert held(guardrails, "monthly") == 0  # the SDK sends nothing before the first chunk is asked for
    first = next(stream)
    holding = held(guardrails, "monthly")
    assert holding == pytest.approx(cost(GEMINI_25_PRO, input=counted_input(), output=100), rel=1e-12)
    assert [first, *stream][-1].usage_metadata.candidates_token_count == 4
    span = only_span(telemetry)
    assert span.attributes["otel_tokens.budget.reservation"] == pytest.approx(holding, rel=1e-12)
    assert spent(guardrails, "monthly") == pytest.approx(cost(GEMINI_25_PRO, input=30, output=4), rel=1e-12)
    assert held(guardrails, "monthly") == 0


def test_a_stream_abandoned_early_is_settled_with_the_counts_so_far(server, client, telemetry):
    guardrails = enforce(Budget("monthly", limit=100.0))
    server.enqueue(Scenario(chunks=6, prompt_tokens=11, completion_tokens=6))
    stream = client.models.generate_content_stream(model=PRO, contents=PROMPT)
    for _ in stream:
        break
    stream.close()
    span = only_span(telemetry)
    # Every chunk carries the counts so far: 11 input, 1 output when the stream was left.
    assert span.attributes["gen_ai.usage.output_tokens"] == 1
    assert spent(guardrails, "monthly") == pytest.approx(cost(GEMINI_25_PRO, input=11, output=1), rel=1e-12)
    assert held(guardrails, "monthly") == 0


async def test_an_async_stream_abandoned_early_is_settled_with_the_counts_so_far(server, client, telemetry):
    import asyncio

    guardrails = enforce(Budget("monthly", limit=100.0))
    server.enqueue(Scenario(chunks=6, prompt_tokens=11, completion_tokens=6))
    stream = await client.aio.models.generate_content_stream(model=PRO, contents=PROMPT)
    async with contextlib.aclosing(stream):
        async for _ in stream:
            break
    for _ in range(3):  # the SDK's inner async generators are closed by the loop a turn later
        await asyncio.sleep(0)
    only_span(telemetry)
    assert spent(guardrails, "monthly") == pytest.approx(cost(GEMINI_25_PRO, input=11, output=1), rel=1e-12)
    assert held(guardrails, "monthly") == 0


def test_a_stream_without_usage_or_estimate_releases_its_hold(server, client, telemetry, reinstrument):
    _runtime.set_settings(Settings(estimate_usage=False))
    reinstrument()
    guardrails = enforce(Budget("monthly", limit=100.0))
    server.enqueue(Scenario(chunks=3, include_usage=False))
    assert len(list(client.models.generate_content_stream(model=PRO, contents=PROMPT))) == 3
    span = only_span(telemetry)
    assert "gen_ai.usage.input_tokens" not in span.attributes
    assert (spent(guardrails, "monthly"), held(guardrails, "monthly")) == (0, 0)


# -- warn and downgrade --------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["generate", "async stream"])
async def test_a_warning_budget_lets_the_request_through(server, client, telemetry, kind):
    guardrails = enforce(Budget("cap", limit=0, action="warn"))
    server.enqueue(Scenario(prompt_tokens=120, completion_tokens=40))
    await call(client, kind)
    assert models_in_paths(server.requests) == [PRO]
    span = only_span(telemetry)
    assert span.attributes["otel_tokens.budget.decision"] == "warned"
    assert span.attributes["otel_tokens.budget.id"] == "cap"
    assert decisions(telemetry) == {("cap", "warned"): 1}
    assert spent(guardrails, "cap") == pytest.approx(cost(GEMINI_25_PRO, input=120, output=40), rel=1e-12)


@pytest.mark.parametrize("kind", KINDS)
async def test_a_downgrade_sends_the_cheaper_model(server, client, telemetry, kind):
    guardrails = enforce(Budget("cap", limit=0, action="downgrade", downgrade_to=FLASH))
    server.enqueue(Scenario(chunks=3, prompt_tokens=120, completion_tokens=40))
    contents = [{"role": "user", "parts": [{"text": PROMPT}]}]
    config = {"max_output_tokens": 100, "temperature": 0.2}
    given = copy.deepcopy((contents, config))
    await call(client, kind, model=f"models/{PRO}", contents=contents, config=config)
    assert (contents, config) == given  # the user's objects, as they were
    assert models_in_paths(server.requests) == [FLASH]
    span = only_span(telemetry)
    assert span.attributes["gen_ai.request.model"] == FLASH
    assert span.attributes["otel_tokens.budget.original_model"] == PRO
    assert span.attributes["otel_tokens.budget.decision"] == "downgraded"
    expected = cost(GEMINI_25_FLASH, input=120, output=40)
    assert span.attributes["gen_ai.usage.cost.amount"] == pytest.approx(expected, rel=1e-12)
    assert decisions(telemetry) == {("cap", "downgraded"): 1}
    assert spent(guardrails, "cap") == pytest.approx(expected, rel=1e-12)
    assert held(guardrails, "cap") == 0


# -- callbacks -----------------------------------------------------------------------------------


async def test_a_callback_decides_with_the_budgets_numbers(server, client, telemetry):
    seen: list[Decision] = []

    def decide(decision: Decision) -> Action:
        seen.append(decision)
        return Action.downgrade(FLASH)

    enforce(Budget("cap", limit=0, action=decide))
    server.enqueue(Scenario(prompt_tokens=120, completion_tokens=40))
    await call(client, "async generate")
    [decision] = seen
    assert (decision.kind, decision.id, decision.provider, decision.model) == (
        "budget",
        "cap",
        "gcp.gemini",
        PRO,
    )
    assert (decision.reason, decision.limit, decision.spent, decision.unit) == ("limit", 0.0, 0.0, "USD")
    assert decision.reservation == pytest.approx(
        cost(GEMINI_25_PRO, input=counted_input(), output=100), rel=1e-12
    )
    assert models_in_paths(server.requests) == [FLASH]
    assert only_span(telemetry).attributes["otel_tokens.budget.decision"] == "downgraded"


def test_a_callback_may_block(server, client, telemetry):
    enforce(Budget("cap", limit=0, action=lambda decision: "block"))
    with pytest.raises(otel_tokens.BudgetExceededError):
        client.models.generate_content(model=PRO, contents=PROMPT)
    assert server.requests == []
    assert only_span(telemetry).attributes["otel_tokens.budget.decision"] == "blocked"


@pytest.mark.parametrize(("fail_mode", "decision"), [("open", "warned"), ("closed", "blocked")])
def test_a_raising_callback_follows_the_fail_mode(server, client, telemetry, fail_mode, decision):
    def broken(found: Decision) -> Action:
        raise RuntimeError("the callback's own bug")

    enforce(Budget("cap", limit=0, action=broken, fail_mode=fail_mode))
    with contextlib.suppress(otel_tokens.BudgetExceededError):
        client.models.generate_content(model=PRO, contents=PROMPT)
    assert len(server.requests) == (0 if decision == "blocked" else 1)
    assert only_span(telemetry).attributes["otel_tokens.budget.decision"] == decision
    assert decisions(telemetry) == {("cap", decision): 1}


# -- provider errors -----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
async def test_a_provider_error_passes_through_and_releases_the_hold(server, client, telemetry, kind):
    guardrails = enforce(Budget("monthly", limit=100.0))
    server.enqueue(Scenario(error_status=429, error_message="quota"))
    with pytest.raises(errors.ClientError) as raised:
        await call(client, kind)
    assert type(raised.value) is errors.ClientError
    assert (raised.value.code, raised.value.message) == (429, "quota")
    span = only_span(telemetry)
    assert span.attributes["error.type"] == "ClientError"
    assert span.attributes["otel_tokens.budget.decision"] == "admitted"
    assert (held(guardrails, "monthly"), spent(guardrails, "monthly")) == (0, 0)


# -- catalogues ----------------------------------------------------------------------------------


def test_a_catalogue_blocks_an_unapproved_model_before_it_is_sent(server, client, telemetry):
    enforce(Catalogue("approved", models=["gemini-*-flash*"], action="block"))
    with pytest.raises(otel_tokens.ModelNotApprovedError) as raised:
        client.models.generate_content(model=PRO, contents=PROMPT)
    assert (raised.value.catalogue_id, raised.value.model) == ("approved", PRO)
    assert server.requests == []
    span = only_span(telemetry)
    assert span.attributes["otel_tokens.budget.decision"] == "blocked"
    assert span.attributes["otel_tokens.model.approved"] is False
    assert span.attributes["error.type"] == "ModelNotApprovedError"


async def test_a_catalogue_downgrades_to_an_approved_model(server, client, telemetry):
    enforce(Catalogue("approved", models=["gemini-*-flash*"], action="downgrade", downgrade_to=FLASH))
    server.enqueue(Scenario(chunks=2, prompt_tokens=120, completion_tokens=40))
    await call(client, "async stream")
    assert models_in_paths(server.requests) == [FLASH]
    span = only_span(telemetry)
    assert (
        span.attributes["gen_ai.request.model"],
        span.attributes["otel_tokens.budget.original_model"],
    ) == (
        FLASH,
        PRO,
    )
    assert span.attributes["gen_ai.usage.cost.amount"] == pytest.approx(
        cost(GEMINI_25_FLASH, input=120, output=40), rel=1e-12
    )


def test_an_approved_calls_points_say_so(server, client, telemetry):
    enforce(Catalogue("approved", models=["gemini-*-flash*"]))
    server.enqueue(Scenario(prompt_tokens=120, completion_tokens=40))
    client.models.generate_content(model=FLASH, contents=PROMPT)
    assert only_span(telemetry).attributes["otel_tokens.model.approved"] is True
    points = [
        *telemetry.points("gen_ai.client.token.usage"),
        *telemetry.points("otel_tokens.client.cost"),
        *telemetry.points("gen_ai.client.operation.duration"),
    ]
    assert len(points) == 4
    assert all(p.attributes["otel_tokens.model.approved"] is True for p in points)


# -- unpriced models -----------------------------------------------------------------------------


def test_an_unpriced_model_is_blocked_when_its_budget_says_so(server, client, telemetry):
    enforce(Budget("cap", limit=100.0, on_unpriced="block"))
    with pytest.raises(otel_tokens.UnpricedModelError) as raised:
        client.models.generate_content(model="acme-unknown-1", contents=PROMPT)
    assert (raised.value.budget_id, raised.value.model) == ("cap", "acme-unknown-1")
    assert server.requests == []
    assert only_span(telemetry).attributes["error.type"] == "UnpricedModelError"


def test_a_call_blocked_as_unpriced_is_recorded_as_blocked(server, client, telemetry):
    enforce(Budget("cap", limit=100.0, on_unpriced="block"))
    with pytest.raises(otel_tokens.UnpricedModelError):
        client.models.generate_content(model="acme-unknown-1", contents=PROMPT)
    span = only_span(telemetry)
    assert span.attributes["otel_tokens.budget.decision"] == "blocked"
    assert span.attributes["otel_tokens.budget.id"] == "cap"
    assert decisions(telemetry) == {("cap", "blocked"): 1}
