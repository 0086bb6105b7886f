"""Guardrails on real cohere calls (v1 and v2 APIs) against the fake server: blocked before
anything is sent, settled exactly, downgraded on the wire, decided by callbacks."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime

import cohere
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
from .helpers import (
    COMMAND,
    COMMAND_R,
    MESSAGES,
    SDK_CLOSE_BUG,
    cost,
    only_span,
    token_points,
    tolerate_sdk_close_bug,
)

MODES = ["v2", "async v2", "v2 stream", "async v2 stream", "v1", "async v1", "v1 stream"]
MONTH_END = datetime(2026, 6, 1, tzinfo=UTC)  # the month window of the tests' clock resets then
TEXTS = ["Be brief.", "Say hello."]
"""What a reservation counts of either request below (Cohere bills the texts without framing)."""


def worst_case(prices: dict[str, float], model: str, max_tokens: int) -> float:
    return cost(prices, input=Tokenizer().count_texts(model, TEXTS).tokens, output=max_tokens)


@pytest.fixture
def clients(v1, v2, async_v1, async_v2):
    return {"v1": v1, "v2": v2, "async v1": async_v1, "async v2": async_v2}


def arguments(mode: str, **kwargs):
    """The same conversation as a v1 (preamble and message) or v2 (messages) request."""
    if mode.startswith(("v1", "async v1")):
        return {**kwargs, "preamble": "Be brief.", "message": "Say hello."}
    return {**kwargs, "messages": MESSAGES}


async def send(mode: str, clients, kwargs):
    """One chat call in ``mode``: the response, or every event of a stream."""
    client = clients[mode.removesuffix(" stream")]
    if mode.endswith("stream"):
        stream = client.chat_stream(**kwargs)
        if mode.startswith("async"):
            return [event async for event in stream]
        return list(stream)
    if mode.startswith("async"):
        return await client.chat(**kwargs)
    return client.chat(**kwargs)


# -- block -----------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
async def test_block_before_send(server, clients, telemetry, mode):
    guardrails = enforce(Budget("team-cap", limit=0))
    with pytest.raises(BudgetExceededError, match="budget 'team-cap' is exhausted") as raised:
        await send(mode, clients, arguments(mode, model="command-r", max_tokens=100))
    assert isinstance(raised.value, GuardrailError)
    assert raised.value.reservation == pytest.approx(worst_case(COMMAND_R, "command-r", 100), rel=1e-12)
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


def test_a_stream_is_blocked_when_asked_for_not_when_read(server, v2, telemetry):
    # Cohere's streams are generators that send on the first next(): the call itself raises.
    enforce(Budget("team-cap", limit=0))
    with pytest.raises(BudgetExceededError):
        v2.chat_stream(model="command-r", messages=MESSAGES)
    assert server.requests == []


# -- admitted and settled --------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
async def test_admitted_call_is_unchanged_and_settled_exactly(server, clients, telemetry, mode):
    guardrails = enforce(Budget("monthly", limit=100))
    server.enqueue(Scenario(text="Hi!", prompt_tokens=6, completion_tokens=20, chunks=2))
    result = await send(mode, clients, arguments(mode, model="command-r", max_tokens=100))
    if mode.endswith("stream"):
        assert len(result) > 2
    elif mode.startswith(("v1", "async v1")):
        assert result.text == "Hi!"
    else:
        assert result.message.content[0].text == "Hi!"
    assert models_sent(server.requests) == ["command-r"]
    span = only_span(telemetry)
    reservation = worst_case(COMMAND_R, "command-r", 100)
    actual = span.attributes["gen_ai.usage.cost.amount"]
    assert actual == pytest.approx(cost(COMMAND_R, input=6, output=20), rel=1e-12)
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


def test_token_budget_counts_billed_input_and_output_tokens(server, v2, telemetry):
    guardrails = enforce(Budget("tokens", limit=10_000, unit="token"))
    server.enqueue(
        Scenario(
            prompt_tokens=62,
            completion_tokens=28,
            usage_fields={"tokens": {"input_tokens": 968, "output_tokens": 83}},
        )
    )
    v2.chat(model="command-r", messages=MESSAGES, max_tokens=100)
    span = only_span(telemetry)
    assert (
        span.attributes["otel_tokens.budget.reservation"]
        == Tokenizer().count_texts("command-r", TEXTS).tokens + 100
    )
    total = span.attributes["gen_ai.usage.input_tokens"] + span.attributes["gen_ai.usage.output_tokens"]
    assert total == 62 + 28  # billed units, not Cohere's raw counts
    assert spent(guardrails, "tokens") == total
    assert held(guardrails, "tokens") == 0


def test_rerank_is_reserved_and_settled_without_tokens(server, v2, telemetry):
    guardrails = enforce(Budget("monthly", limit=100))
    server.enqueue(Scenario(usage_fields={"billed_units": {"search_units": 1}}))
    v2.rerank(model="rerank-v3.5", query="capital of France", documents=["Paris", "Berlin"])
    span = only_span(telemetry)
    # Billed in search units, which genai-prices has no price for, and no tokens to estimate from:
    # without a price override a rerank reserves and charges nothing (see the next test).
    assert span.attributes["otel_tokens.price.missing"] is True
    assert span.attributes["otel_tokens.budget.decision"] == "admitted"
    assert span.attributes["otel_tokens.budget.reservation"] == 0.0
    assert (spent(guardrails, "monthly"), held(guardrails, "monthly")) == (0, 0)


def test_rerank_is_blocked_before_send_by_a_budget_that_blocks_unpriced_models(server, v2, telemetry):
    guardrails = enforce(Budget("strict", limit=100, on_unpriced="block"))
    with pytest.raises(UnpricedModelError, match="cannot price model 'rerank-v3.5' of 'cohere'"):
        v2.rerank(model="rerank-v3.5", query="capital of France", documents=["Paris", "Berlin"])
    assert server.requests == []
    assert only_span(telemetry).attributes["error.type"] == "UnpricedModelError"
    assert held(guardrails, "strict") == 0


# -- streams ---------------------------------------------------------------------------------


def test_stream_holds_its_reservation_until_it_ends(server, v2, telemetry):
    guardrails = enforce(Budget("monthly", limit=100))
    server.enqueue(Scenario(chunks=4, prompt_tokens=7, completion_tokens=9))
    stream = v2.chat_stream(model="command-r", messages=MESSAGES, max_tokens=50)
    assert held(guardrails, "monthly") == pytest.approx(worst_case(COMMAND_R, "command-r", 50), rel=1e-12)
    list(stream)
    span = only_span(telemetry)
    assert span.attributes["gen_ai.usage.cost.amount"] == pytest.approx(cost(COMMAND_R, input=7, output=9))
    assert spent(guardrails, "monthly") == pytest.approx(
        span.attributes["gen_ai.usage.cost.amount"], rel=1e-12
    )
    assert held(guardrails, "monthly") == 0


@tolerate_sdk_close_bug
def test_stream_closed_before_its_usage_is_charged_its_local_estimate(server, v2, telemetry):
    guardrails = enforce(Budget("monthly", limit=100))
    server.enqueue(Scenario(chunks=6))
    stream = v2.chat_stream(model="command-r", messages=MESSAGES)
    next(stream)
    with contextlib.suppress(RuntimeError) if SDK_CLOSE_BUG else contextlib.nullcontext():
        stream.close()
    span = only_span(telemetry)
    assert span.attributes["otel_tokens.usage.estimated"] is True
    assert spent(guardrails, "monthly") == pytest.approx(
        span.attributes["gen_ai.usage.cost.amount"], rel=1e-12
    )
    assert held(guardrails, "monthly") == 0


@tolerate_sdk_close_bug
def test_stream_closed_before_any_usage_without_estimates_is_released(server, telemetry, reinstrument):
    from otel_tokens import _runtime
    from otel_tokens._settings import Settings

    from .conftest import make_client

    _runtime.set_settings(Settings(estimate_usage=False))
    reinstrument()
    v2 = make_client(cohere.ClientV2, server.url)
    guardrails = enforce(Budget("monthly", limit=100))
    server.enqueue(Scenario(chunks=6))
    stream = v2.chat_stream(model="command-r", messages=MESSAGES)
    next(stream)
    with contextlib.suppress(RuntimeError) if SDK_CLOSE_BUG else contextlib.nullcontext():
        stream.close()
    assert "gen_ai.usage.input_tokens" not in only_span(telemetry).attributes
    assert (spent(guardrails, "monthly"), held(guardrails, "monthly")) == (0, 0)


# -- warn ------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["v2", "async v2 stream", "v1"])
async def test_warn_sends_the_call_and_counts_its_spend(server, clients, telemetry, mode):
    guardrails = enforce(Budget("soft", limit=0, action="warn"))
    server.enqueue(Scenario(prompt_tokens=30, completion_tokens=12))
    await send(mode, clients, arguments(mode, model="command-r", max_tokens=100))
    assert models_sent(server.requests) == ["command-r"]
    span = only_span(telemetry)
    assert span.attributes["otel_tokens.budget.decision"] == "warned"
    assert span.attributes["otel_tokens.budget.id"] == "soft"
    assert span.status.status_code is StatusCode.UNSET
    assert decisions(telemetry) == {("soft", "warned"): 1}
    expected = cost(COMMAND_R, input=30, output=12)
    assert span.attributes["gen_ai.usage.cost.amount"] == pytest.approx(expected, rel=1e-12)
    assert spent(guardrails, "soft") == pytest.approx(expected, rel=1e-12)
    assert held(guardrails, "soft") == 0


# -- downgrade -------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
async def test_downgrade_sends_and_prices_the_cheaper_model(server, clients, telemetry, mode):
    guardrails = enforce(Budget("cap", limit=0, action="downgrade", downgrade_to="command-r"))
    server.enqueue(Scenario(prompt_tokens=40, completion_tokens=10, chunks=2))
    kwargs = arguments(mode, model="command", max_tokens=100)
    before = {**kwargs}
    await send(mode, clients, kwargs)
    assert kwargs == before  # the user's arguments are theirs
    assert models_sent(server.requests) == ["command-r"]
    span = only_span(telemetry)
    assert span.name == "chat command-r"
    assert {
        k: span.attributes.get(k)
        for k in (
            "gen_ai.request.model",
            "otel_tokens.budget.original_model",
            "otel_tokens.budget.decision",
            "otel_tokens.budget.id",
        )
    } == {
        "gen_ai.request.model": "command-r",
        "otel_tokens.budget.original_model": "command",
        "otel_tokens.budget.decision": "downgraded",
        "otel_tokens.budget.id": "cap",
    }
    # Cohere names no model in its responses: the model sent is the one priced.
    expected = cost(COMMAND_R, input=40, output=10)
    assert span.attributes["gen_ai.usage.cost.amount"] == pytest.approx(expected, rel=1e-12)
    assert {p.attributes["gen_ai.request.model"] for p in telemetry.points("gen_ai.client.token.usage")} == {
        "command-r"
    }
    assert decisions(telemetry) == {("cap", "downgraded"): 1}
    assert spent(guardrails, "cap") == pytest.approx(expected, rel=1e-12)
    assert held(guardrails, "cap") == 0


def test_a_call_without_a_model_argument_goes_as_asked_and_is_warned(server, v1, telemetry):
    # v1 chat may leave the model to the API's default: there is no argument to change.
    enforce(Budget("cap", limit=0, action="downgrade", downgrade_to="command-r"))
    v1.chat(message="Say hello.")
    assert models_sent(server.requests) == [None]
    span = only_span(telemetry)
    assert span.attributes["otel_tokens.budget.decision"] == "warned"
    assert "otel_tokens.budget.original_model" not in span.attributes
    assert decisions(telemetry) == {("cap", "warned"): 1}


# -- callbacks -------------------------------------------------------------------------------


def test_callback_gets_the_decision_and_downgrades(server, v2, telemetry):
    seen = []

    def choose(decision):
        seen.append(decision)
        return Action.downgrade("command-r")

    guardrails = enforce(Budget("cap", limit=0, action=choose))
    with tags(team="search"):
        v2.chat(model="command", messages=MESSAGES, max_tokens=100)
    [decision] = seen
    assert (decision.kind, decision.id, decision.provider, decision.model, decision.reason) == (
        "budget",
        "cap",
        "cohere",
        "command",
        "limit",
    )
    assert dict(decision.tags) == {"team": "search"}
    assert (decision.limit, decision.spent, decision.unit, decision.resets_at) == (0.0, 0.0, "USD", MONTH_END)
    assert decision.reservation == pytest.approx(worst_case(COMMAND, "command", 100), rel=1e-12)
    assert models_sent(server.requests) == ["command-r"]
    span = only_span(telemetry)
    assert span.attributes["otel_tokens.budget.decision"] == "downgraded"
    assert spent(guardrails, "cap") == pytest.approx(span.attributes["gen_ai.usage.cost.amount"], rel=1e-12)


async def test_callback_blocks(server, async_v2, telemetry):
    guardrails = enforce(Budget("cap", limit=0, action=lambda decision: "block"))
    with pytest.raises(BudgetExceededError):
        await async_v2.chat(model="command", messages=MESSAGES)
    assert server.requests == []
    assert only_span(telemetry).attributes["otel_tokens.budget.decision"] == "blocked"
    assert held(guardrails, "cap") == 0


@pytest.mark.parametrize(("fail_mode", "decision"), [("open", "warned"), ("closed", "blocked")])
def test_a_failing_callback_follows_fail_mode(server, v2, telemetry, fail_mode, decision):
    def broken(decision):
        raise RuntimeError("the callback's own bug")

    guardrails = enforce(Budget("cap", limit=0, action=broken, fail_mode=fail_mode))
    if decision == "blocked":
        with pytest.raises(BudgetExceededError):
            v2.chat(model="command-r", messages=MESSAGES)
        assert server.requests == []
    else:
        v2.chat(model="command-r", messages=MESSAGES)
        assert models_sent(server.requests) == ["command-r"]
    assert only_span(telemetry).attributes["otel_tokens.budget.decision"] == decision
    assert decisions(telemetry) == {("cap", decision): 1}
    assert held(guardrails, "cap") == 0


# -- provider errors -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "error_name"), [(429, "TooManyRequestsError"), (500, "InternalServerError")]
)
@pytest.mark.parametrize("mode", ["v2", "async v2 stream", "v1"])
async def test_provider_error_passes_through_and_releases_the_hold(
    server, clients, telemetry, status, error_name, mode
):
    exception = getattr(cohere.errors, error_name)
    guardrails = enforce(Budget("monthly", limit=100))
    server.enqueue(Scenario(error_status=status))
    with pytest.raises(exception) as raised:
        await send(mode, clients, arguments(mode, model="command-r"))
    assert type(raised.value) is exception
    span = only_span(telemetry)
    assert span.attributes["error.type"] == error_name
    assert span.attributes["otel_tokens.budget.decision"] == "admitted"
    assert "otel_tokens.limit.provider" not in span.attributes  # an ordinary error, not a spend cap
    assert (spent(guardrails, "monthly"), held(guardrails, "monthly")) == (0, 0)


# -- catalogues ------------------------------------------------------------------------------


async def test_catalogue_blocks_an_unapproved_model_before_send(server, async_v1, telemetry):
    enforce(Catalogue("approved", models=["command-r"], action="block"))
    with pytest.raises(ModelNotApprovedError, match="'command' is not approved by catalogue 'approved'"):
        await async_v1.chat(model="command", message="Say hello.")
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


def test_catalogue_downgrades_to_the_approved_model(server, v2, telemetry):
    enforce(Catalogue("approved", models=["command-r"], action="downgrade", downgrade_to="command-r"))
    server.enqueue(Scenario(prompt_tokens=40, completion_tokens=10, chunks=2))
    list(v2.chat_stream(model="command", messages=MESSAGES))
    assert models_sent(server.requests) == ["command-r"]
    span = only_span(telemetry)
    assert span.attributes["otel_tokens.budget.decision"] == "downgraded"
    assert span.attributes["otel_tokens.budget.original_model"] == "command"
    assert span.attributes["gen_ai.usage.cost.amount"] == pytest.approx(
        cost(COMMAND_R, input=40, output=10), rel=1e-12
    )


def test_approved_calls_carry_the_approval_on_their_metrics(server, v2, telemetry):
    enforce(Catalogue("approved", models=["command-r*"]))
    v2.chat(model="command-r", messages=MESSAGES)
    span = only_span(telemetry)
    assert span.attributes["otel_tokens.model.approved"] is True
    points = [
        *token_points(telemetry).values(),
        *telemetry.points("otel_tokens.client.cost"),
        *telemetry.points("gen_ai.client.operation.duration"),
    ]
    assert len(points) == 4
    assert all(p.attributes["otel_tokens.model.approved"] is True for p in points)
