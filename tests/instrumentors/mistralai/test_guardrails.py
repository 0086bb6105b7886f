"""Guardrails on real mistralai calls against the fake server: blocked before anything is sent,
settled exactly, downgraded on the wire, decided by callbacks."""

from __future__ import annotations

from datetime import UTC, datetime

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
    tags,
)
from otel_tokens.tokenize import Tokenizer

from .._guardrails import decisions, enforce, held, models_sent, spent
from .helpers import MESSAGES, MISTRAL_EMBED, MISTRAL_SMALL, cost, only_span, token_points
from .sdk import errors

MODEL = "mistral-small-latest"
LARGE = "mistral-large-latest"
MISTRAL_LARGE = {"input": 2.0, "output": 6.0}
MODES = ["sync", "async", "stream", "async stream"]
MONTH_END = datetime(2026, 6, 1, tzinfo=UTC)  # the month window of the tests' clock resets then


def worst_case(prices: dict[str, float], model: str, max_tokens: int) -> float:
    """What a budget reserves for MESSAGES: the input counted offline plus ``max_tokens`` out."""
    return cost(prices, input=Tokenizer().count_chat_input(model, MESSAGES).tokens, output=max_tokens)


async def send(mode: str, client, **kwargs):
    """One chat call in ``mode``: the response, or every event of a stream."""
    if mode == "sync":
        return client.chat.complete(**kwargs)
    if mode == "async":
        return await client.chat.complete_async(**kwargs)
    if mode == "stream":
        return list(client.chat.stream(**kwargs))
    stream = await client.chat.stream_async(**kwargs)
    async with stream:
        return [event async for event in stream]


# -- block -----------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
async def test_block_before_send(server, client, telemetry, mode):
    guardrails = enforce(Budget("team-cap", limit=0))
    with pytest.raises(BudgetExceededError, match="budget 'team-cap' is exhausted") as raised:
        await send(mode, client, model=MODEL, messages=MESSAGES, max_tokens=100)
    assert isinstance(raised.value, GuardrailError)
    assert raised.value.reservation == pytest.approx(worst_case(MISTRAL_SMALL, MODEL, 100), rel=1e-12)
    assert server.requests == []
    span = only_span(telemetry)
    assert span.status.status_code is StatusCode.ERROR
    assert {k: span.attributes.get(k) for k in ("otel_tokens.budget.decision", "otel_tokens.budget.id")} == {
        "otel_tokens.budget.decision": "blocked",
        "otel_tokens.budget.id": "team-cap",
    }
    assert span.attributes["error.type"] == "BudgetExceededError"
    assert span.attributes["otel_tokens.budget.reservation"] == raised.value.reservation
    assert decisions(telemetry) == {("team-cap", "blocked"): 1}
    assert telemetry.points("gen_ai.client.token.usage") == []
    assert (held(guardrails, "team-cap"), spent(guardrails, "team-cap")) == (0, 0)


def test_embeddings_reserve_their_input_only(server, client, telemetry):
    inputs = ["first text to embed", "second one"]
    guardrails = enforce(Budget("tokens", limit=0, unit="token"))
    with pytest.raises(BudgetExceededError):
        client.embeddings.create(model="mistral-embed", inputs=inputs)
    assert server.requests == []
    span = only_span(telemetry)
    assert (
        span.attributes["otel_tokens.budget.reservation"]
        == Tokenizer().count_texts("mistral-embed", inputs).tokens
    )
    assert held(guardrails, "tokens") == 0


# -- admitted and settled --------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
async def test_admitted_call_is_unchanged_and_settled_exactly(server, client, telemetry, mode):
    guardrails = enforce(Budget("monthly", limit=100))
    server.enqueue(Scenario(text="Hi!", completion_tokens=20, chunks=2))
    result = await send(mode, client, model=MODEL, messages=MESSAGES, max_tokens=100)
    if "stream" in mode:
        assert "".join(e.data.choices[0].delta.content or "" for e in result) == "Hi!"
        usage = result[-1].data.usage
    else:
        assert result.choices[0].message.content == "Hi!"
        usage = result.usage
    assert models_sent(server.requests) == [MODEL]
    span = only_span(telemetry)
    reservation = worst_case(MISTRAL_SMALL, MODEL, 100)
    actual = span.attributes["gen_ai.usage.cost.amount"]
    assert actual == pytest.approx(cost(MISTRAL_SMALL, input=usage.prompt_tokens, output=20), rel=1e-12)
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
    assert decisions(telemetry) == {}


def test_token_budget_counts_input_and_output_tokens(server, client, telemetry):
    guardrails = enforce(Budget("tokens", limit=10_000, unit="token"))
    server.enqueue(Scenario(prompt_tokens=1200, cached_tokens=1024, completion_tokens=50))
    client.chat.complete(model=MODEL, messages=MESSAGES, max_tokens=100)
    span = only_span(telemetry)
    assert span.attributes["otel_tokens.budget.reservation"] == (
        Tokenizer().count_chat_input(MODEL, MESSAGES).tokens + 100
    )
    total = span.attributes["gen_ai.usage.input_tokens"] + span.attributes["gen_ai.usage.output_tokens"]
    assert total == 1250
    assert spent(guardrails, "tokens") == total
    assert held(guardrails, "tokens") == 0


def test_embeddings_are_settled_at_their_cost(server, client, telemetry):
    guardrails = enforce(Budget("monthly", limit=100))
    server.enqueue(Scenario(prompt_tokens=14))
    client.embeddings.create(model="mistral-embed", inputs=["first text to embed", "second one"])
    span = only_span(telemetry)
    assert span.attributes["gen_ai.usage.cost.amount"] == pytest.approx(
        cost(MISTRAL_EMBED, input=14), rel=1e-12
    )
    assert spent(guardrails, "monthly") == pytest.approx(
        span.attributes["gen_ai.usage.cost.amount"], rel=1e-12
    )


# -- streams ---------------------------------------------------------------------------------


def test_stream_holds_its_reservation_until_it_ends(server, client, telemetry):
    guardrails = enforce(Budget("monthly", limit=100))
    server.enqueue(Scenario(chunks=4, prompt_tokens=20, completion_tokens=9))
    stream = client.chat.stream(model=MODEL, messages=MESSAGES, max_tokens=50)
    assert held(guardrails, "monthly") == pytest.approx(worst_case(MISTRAL_SMALL, MODEL, 50), rel=1e-12)
    list(stream)
    span = only_span(telemetry)
    assert span.attributes["gen_ai.usage.cost.amount"] == pytest.approx(
        cost(MISTRAL_SMALL, input=20, output=9), rel=1e-12
    )
    assert spent(guardrails, "monthly") == pytest.approx(
        span.attributes["gen_ai.usage.cost.amount"], rel=1e-12
    )
    assert held(guardrails, "monthly") == 0


def test_stream_left_before_its_usage_is_charged_its_local_estimate(server, client, telemetry):
    guardrails = enforce(Budget("monthly", limit=100))
    server.enqueue(Scenario(chunks=6, prompt_tokens=5, completion_tokens=3))
    with client.chat.stream(model=MODEL, messages=MESSAGES) as stream:
        for _ in stream:
            break
    span = only_span(telemetry)
    assert span.attributes["otel_tokens.usage.estimated"] is True
    assert spent(guardrails, "monthly") == pytest.approx(
        span.attributes["gen_ai.usage.cost.amount"], rel=1e-12
    )
    assert held(guardrails, "monthly") == 0


def test_stream_left_before_any_usage_without_estimates_is_released(server, client, telemetry, reinstrument):
    from otel_tokens import _runtime
    from otel_tokens._settings import Settings

    _runtime.set_settings(Settings(estimate_usage=False))
    reinstrument()
    guardrails = enforce(Budget("monthly", limit=100))
    server.enqueue(Scenario(chunks=6))
    with client.chat.stream(model=MODEL, messages=MESSAGES) as stream:
        for _ in stream:
            break
    assert "gen_ai.usage.input_tokens" not in only_span(telemetry).attributes
    assert (spent(guardrails, "monthly"), held(guardrails, "monthly")) == (0, 0)


# -- warn ------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["sync", "async stream"])
async def test_warn_sends_the_call_and_counts_its_spend(server, client, telemetry, mode):
    guardrails = enforce(Budget("soft", limit=0, action="warn"))
    server.enqueue(Scenario(prompt_tokens=30, completion_tokens=12))
    await send(mode, client, model=MODEL, messages=MESSAGES, max_tokens=100)
    assert models_sent(server.requests) == [MODEL]
    span = only_span(telemetry)
    assert span.attributes["otel_tokens.budget.decision"] == "warned"
    assert span.attributes["otel_tokens.budget.id"] == "soft"
    assert span.status.status_code is StatusCode.UNSET
    assert decisions(telemetry) == {("soft", "warned"): 1}
    expected = cost(MISTRAL_SMALL, input=30, output=12)
    assert span.attributes["gen_ai.usage.cost.amount"] == pytest.approx(expected, rel=1e-12)
    assert spent(guardrails, "soft") == pytest.approx(expected, rel=1e-12)
    assert held(guardrails, "soft") == 0


# -- downgrade -------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
async def test_downgrade_sends_and_prices_the_cheaper_model(server, client, telemetry, mode):
    guardrails = enforce(Budget("cap", limit=0, action="downgrade", downgrade_to=MODEL))
    server.enqueue(Scenario(prompt_tokens=40, completion_tokens=10, chunks=2))
    kwargs = {"model": LARGE, "messages": MESSAGES, "max_tokens": 100}
    before = {**kwargs, "messages": [dict(m) for m in MESSAGES]}
    await send(mode, client, **kwargs)
    assert kwargs == before  # the user's arguments are theirs
    assert models_sent(server.requests) == [MODEL]
    span = only_span(telemetry)
    assert span.name == f"chat {MODEL}"
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
        "gen_ai.request.model": MODEL,
        "gen_ai.response.model": MODEL,
        "otel_tokens.budget.original_model": LARGE,
        "otel_tokens.budget.decision": "downgraded",
        "otel_tokens.budget.id": "cap",
    }
    expected = cost(MISTRAL_SMALL, input=40, output=10)
    assert span.attributes["gen_ai.usage.cost.amount"] == pytest.approx(expected, rel=1e-12)
    assert {p.attributes["gen_ai.request.model"] for p in telemetry.points("gen_ai.client.token.usage")} == {
        MODEL
    }
    assert decisions(telemetry) == {("cap", "downgraded"): 1}
    assert spent(guardrails, "cap") == pytest.approx(expected, rel=1e-12)
    assert held(guardrails, "cap") == 0


def test_fim_is_downgraded_too(server, client, telemetry):
    enforce(Budget("cap", limit=0, action="downgrade", downgrade_to="codestral-2501"))
    server.enqueue(Scenario(prompt_tokens=14, completion_tokens=5))
    client.fim.complete(model="codestral-latest", prompt="def add(a, b):", suffix="return c")
    assert models_sent(server.requests) == ["codestral-2501"]
    span = only_span(telemetry)
    assert span.attributes["gen_ai.request.model"] == "codestral-2501"
    assert span.attributes["otel_tokens.budget.original_model"] == "codestral-latest"


# -- callbacks -------------------------------------------------------------------------------


def test_callback_gets_the_decision_and_downgrades(server, client, telemetry):
    seen = []

    def choose(decision):
        seen.append(decision)
        return Action.downgrade(MODEL)

    guardrails = enforce(Budget("cap", limit=0, action=choose))
    with tags(team="search"):
        client.chat.complete(model=LARGE, messages=MESSAGES, max_tokens=100)
    [decision] = seen
    assert (decision.kind, decision.id, decision.provider, decision.model, decision.reason) == (
        "budget",
        "cap",
        "mistral_ai",
        LARGE,
        "limit",
    )
    assert dict(decision.tags) == {"team": "search"}
    assert (decision.limit, decision.spent, decision.unit, decision.resets_at) == (0.0, 0.0, "USD", MONTH_END)
    assert decision.reservation == pytest.approx(worst_case(MISTRAL_LARGE, LARGE, 100), rel=1e-12)
    assert models_sent(server.requests) == [MODEL]
    span = only_span(telemetry)
    assert span.attributes["otel_tokens.budget.decision"] == "downgraded"
    assert spent(guardrails, "cap") == pytest.approx(span.attributes["gen_ai.usage.cost.amount"], rel=1e-12)


async def test_callback_blocks(server, client, telemetry):
    guardrails = enforce(Budget("cap", limit=0, action=lambda decision: "block"))
    with pytest.raises(BudgetExceededError):
        await client.chat.complete_async(model=LARGE, messages=MESSAGES)
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
            client.chat.complete(model=MODEL, messages=MESSAGES)
        assert server.requests == []
    else:
        client.chat.complete(model=MODEL, messages=MESSAGES)
        assert models_sent(server.requests) == [MODEL]
    assert only_span(telemetry).attributes["otel_tokens.budget.decision"] == decision
    assert decisions(telemetry) == {("cap", decision): 1}
    assert held(guardrails, "cap") == 0


# -- provider errors -------------------------------------------------------------------------


@pytest.mark.parametrize("status", [429, 500])
@pytest.mark.parametrize("mode", ["sync", "async stream"])
async def test_provider_error_passes_through_and_releases_the_hold(server, client, telemetry, status, mode):
    guardrails = enforce(Budget("monthly", limit=100))
    server.enqueue(Scenario(error_status=status))
    with pytest.raises(errors.SDKError) as raised:
        await send(mode, client, model=MODEL, messages=MESSAGES)
    assert type(raised.value) is errors.SDKError
    assert raised.value.status_code == status
    span = only_span(telemetry)
    assert span.attributes["error.type"] == "SDKError"
    assert span.attributes["otel_tokens.budget.decision"] == "admitted"
    assert "otel_tokens.limit.provider" not in span.attributes  # an ordinary error, not a spend cap
    assert (spent(guardrails, "monthly"), held(guardrails, "monthly")) == (0, 0)


# -- catalogues ------------------------------------------------------------------------------


async def test_catalogue_blocks_an_unapproved_model_before_send(server, client, telemetry):
    enforce(Catalogue("approved", models=[MODEL], action="block"))
    with pytest.raises(ModelNotApprovedError, match=f"'{LARGE}' is not approved by catalogue 'approved'"):
        await client.chat.complete_async(model=LARGE, messages=MESSAGES)
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
    enforce(Catalogue("approved", models=[MODEL], action="downgrade", downgrade_to=MODEL))
    server.enqueue(Scenario(prompt_tokens=40, completion_tokens=10, chunks=2))
    list(client.chat.stream(model=LARGE, messages=MESSAGES))
    assert models_sent(server.requests) == [MODEL]
    span = only_span(telemetry)
    assert span.attributes["otel_tokens.budget.decision"] == "downgraded"
    assert span.attributes["otel_tokens.budget.original_model"] == LARGE
    assert span.attributes["gen_ai.usage.cost.amount"] == pytest.approx(
        cost(MISTRAL_SMALL, input=40, output=10), rel=1e-12
    )


def test_approved_calls_carry_the_approval_on_their_metrics(server, client, telemetry):
    enforce(Catalogue("approved", models=["mistral-small-*"]))
    client.chat.complete(model=MODEL, messages=MESSAGES)
    span = only_span(telemetry)
    assert span.attributes["otel_tokens.model.approved"] is True
    points = [
        *token_points(telemetry).values(),
        *telemetry.points("otel_tokens.client.cost"),
        *telemetry.points("gen_ai.client.operation.duration"),
    ]
    assert len(points) == 4
    assert all(p.attributes["otel_tokens.model.approved"] is True for p in points)
