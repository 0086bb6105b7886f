"""Guardrails on real anthropic calls against the fake server, the ``messages.stream()`` helper
included: blocked before anything is sent, settled exactly, downgraded on the wire, decided by
callbacks, and the provider's own credit cap."""

from __future__ import annotations

import gc
from datetime import UTC, datetime

import anthropic
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
from .helpers import HAIKU_3, HAIKU_4_5, MESSAGES, MODEL, cost, only_span, token_points

CHEAPER = "claude-3-haiku-20240307"
MODES = ["sync", "async", "stream", "async stream", "helper", "async helper"]
MONTH_END = datetime(2026, 6, 1, tzinfo=UTC)  # the month window of the tests' clock resets then
CREDIT_MESSAGE = (
    "Your credit balance is too low to access the Anthropic API. "
    "Please go to Plans & Billing to upgrade or purchase credits."
)


def worst_case(prices: dict[str, float], model: str, max_tokens: int) -> float:
    """What a budget reserves for MESSAGES: the input counted offline plus ``max_tokens`` out."""
    return cost(prices, input=Tokenizer().count_chat_input(model, MESSAGES).tokens, output=max_tokens)


async def send(mode: str, client, async_client, **kwargs):
    """One messages call in ``mode``; returns the final ``Message`` (or a stream's events)."""
    if mode == "sync":
        return client.messages.create(**kwargs)
    if mode == "async":
        return await async_client.messages.create(**kwargs)
    if mode == "stream":
        return list(client.messages.create(stream=True, **kwargs))
    if mode == "async stream":
        return [event async for event in await async_client.messages.create(stream=True, **kwargs)]
    if mode == "helper":
        with client.messages.stream(**kwargs) as stream:
            return stream.get_final_message()
    async with async_client.messages.stream(**kwargs) as stream:
        return await stream.get_final_message()


# -- block -----------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
async def test_block_before_send(server, client, async_client, telemetry, mode):
    guardrails = enforce(Budget("team-cap", limit=0))
    with pytest.raises(BudgetExceededError, match="budget 'team-cap' is exhausted") as raised:
        await send(mode, client, async_client, model=MODEL, max_tokens=100, messages=MESSAGES)
    assert isinstance(raised.value, GuardrailError)
    assert raised.value.reservation == pytest.approx(worst_case(HAIKU_4_5, MODEL, 100), rel=1e-12)
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


@pytest.mark.parametrize("async_", [False, True], ids=["sync", "async"])
def test_stream_helper_blocks_from_stream_itself(server, client, async_client, telemetry, async_):
    enforce(Budget("team-cap", limit=0))
    messages = async_client.messages if async_ else client.messages
    with pytest.raises(BudgetExceededError):
        messages.stream(model=MODEL, max_tokens=100, messages=MESSAGES)  # no manager is even built
    assert server.requests == []
    assert only_span(telemetry).attributes["otel_tokens.budget.decision"] == "blocked"


# -- admitted and settled --------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
async def test_admitted_call_is_unchanged_and_settled_exactly(server, client, async_client, telemetry, mode):
    guardrails = enforce(Budget("monthly", limit=100))
    server.enqueue(Scenario(text="Hi!", completion_tokens=20, chunks=2))
    result = await send(mode, client, async_client, model=MODEL, max_tokens=100, messages=MESSAGES)
    if "stream" in mode:
        assert "".join(e.delta.text for e in result if e.type == "content_block_delta") == "Hi!"
        input_tokens = result[0].message.usage.input_tokens
    else:
        assert result.content[0].text == "Hi!"
        assert result.usage.output_tokens == 20
        input_tokens = result.usage.input_tokens
    assert models_sent(server.requests) == [MODEL]
    span = only_span(telemetry)
    reservation = worst_case(HAIKU_4_5, MODEL, 100)
    actual = span.attributes["gen_ai.usage.cost.amount"]
    assert actual == pytest.approx(cost(HAIKU_4_5, input=input_tokens, output=20), rel=1e-12)
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
    server.enqueue(
        Scenario(prompt_tokens=40, cached_tokens=1000, cache_creation_tokens=300, completion_tokens=25)
    )
    client.messages.create(model=MODEL, max_tokens=100, messages=MESSAGES)
    span = only_span(telemetry)
    assert span.attributes["otel_tokens.budget.unit"] == "token"
    total = span.attributes["gen_ai.usage.input_tokens"] + span.attributes["gen_ai.usage.output_tokens"]
    assert total == 40 + 1000 + 300 + 25  # the whole input, cache reads and writes included
    assert spent(guardrails, "tokens") == total
    assert held(guardrails, "tokens") == 0


# -- streams ---------------------------------------------------------------------------------


def test_stream_helper_holds_until_it_ends_then_settles(server, client, telemetry):
    guardrails = enforce(Budget("monthly", limit=100))
    server.enqueue(Scenario(chunks=4, prompt_tokens=30, completion_tokens=8))
    with client.messages.stream(model=MODEL, max_tokens=50, messages=MESSAGES) as stream:
        assert held(guardrails, "monthly") == pytest.approx(worst_case(HAIKU_4_5, MODEL, 50), rel=1e-12)
        stream.until_done()
    span = only_span(telemetry)
    assert span.attributes["gen_ai.usage.cost.amount"] == pytest.approx(
        cost(HAIKU_4_5, input=30, output=8), rel=1e-12
    )
    assert spent(guardrails, "monthly") == pytest.approx(
        span.attributes["gen_ai.usage.cost.amount"], rel=1e-12
    )
    assert held(guardrails, "monthly") == 0


@pytest.mark.parametrize("helper", [False, True], ids=["create", "helper"])
def test_stream_left_early_is_settled_with_what_was_seen(server, client, telemetry, helper):
    guardrails = enforce(Budget("monthly", limit=100))
    server.enqueue(Scenario(chunks=6, prompt_tokens=30, completion_tokens=8))
    if helper:
        with client.messages.stream(model=MODEL, max_tokens=50, messages=MESSAGES) as stream:
            for event in stream:
                if event.type == "text":
                    break
    else:
        stream = client.messages.create(model=MODEL, max_tokens=50, messages=MESSAGES, stream=True)
        for event in stream:
            if event.type == "content_block_delta":
                break
        stream.close()
    span = only_span(telemetry)
    assert span.attributes["gen_ai.usage.input_tokens"] == 30  # message_start had arrived
    assert "otel_tokens.usage.estimated" not in span.attributes
    seen = span.attributes["gen_ai.usage.cost.amount"]
    assert seen == pytest.approx(
        cost(HAIKU_4_5, input=30, output=span.attributes["gen_ai.usage.output_tokens"]), rel=1e-12
    )
    assert spent(guardrails, "monthly") == pytest.approx(seen, rel=1e-12)
    assert held(guardrails, "monthly") == 0


@pytest.mark.parametrize(
    "async_",
    [
        pytest.param(False, id="sync"),
        # The SDK's own: an async manager never entered drops the request coroutine it made.
        pytest.param(
            True, id="async", marks=pytest.mark.filterwarnings("ignore:coroutine .* was never awaited")
        ),
    ],
)
def test_stream_helper_never_entered_releases_its_hold(server, client, async_client, telemetry, async_):
    guardrails = enforce(Budget("monthly", limit=100))
    manager = (async_client if async_ else client).messages.stream(
        model=MODEL, max_tokens=50, messages=MESSAGES
    )
    assert held(guardrails, "monthly") == pytest.approx(worst_case(HAIKU_4_5, MODEL, 50), rel=1e-12)
    del manager
    gc.collect()
    assert server.requests == []
    assert telemetry.spans() == ()
    assert (held(guardrails, "monthly"), spent(guardrails, "monthly")) == (0, 0)


def test_stream_helper_entered_then_dropped_keeps_its_hold_until_the_stream_ends(server, client, telemetry):
    # The manager goes away at once; the stream it gave lives on and settles what it used.
    guardrails = enforce(Budget("monthly", limit=100))
    server.enqueue(Scenario(chunks=4, prompt_tokens=30, completion_tokens=8))
    stream = client.messages.stream(model=MODEL, max_tokens=50, messages=MESSAGES).__enter__()
    gc.collect()
    assert held(guardrails, "monthly") == pytest.approx(worst_case(HAIKU_4_5, MODEL, 50), rel=1e-12)
    stream.until_done()
    stream.close()
    span = only_span(telemetry)
    assert spent(guardrails, "monthly") == pytest.approx(
        span.attributes["gen_ai.usage.cost.amount"], rel=1e-12
    )
    assert spent(guardrails, "monthly") == pytest.approx(cost(HAIKU_4_5, input=30, output=8), rel=1e-12)
    assert held(guardrails, "monthly") == 0


def test_stream_helper_entered_under_suppression_is_not_counted(server, client, telemetry):
    from opentelemetry.instrumentation.utils import suppress_instrumentation

    guardrails = enforce(Budget("monthly", limit=100))
    manager = client.messages.stream(model=MODEL, max_tokens=50, messages=MESSAGES)
    with suppress_instrumentation(), manager as stream:
        stream.until_done()
    assert telemetry.spans() == ()
    assert (held(guardrails, "monthly"), spent(guardrails, "monthly")) == (0, 0)


# -- warn ------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["sync", "async helper"])
async def test_warn_sends_the_call_and_counts_its_spend(server, client, async_client, telemetry, mode):
    guardrails = enforce(Budget("soft", limit=0, action="warn"))
    server.enqueue(Scenario(prompt_tokens=30, completion_tokens=12))
    await send(mode, client, async_client, model=MODEL, max_tokens=100, messages=MESSAGES)
    assert models_sent(server.requests) == [MODEL]
    span = only_span(telemetry)
    assert span.attributes["otel_tokens.budget.decision"] == "warned"
    assert span.attributes["otel_tokens.budget.id"] == "soft"
    assert span.status.status_code is StatusCode.UNSET
    assert decisions(telemetry) == {("soft", "warned"): 1}
    expected = cost(HAIKU_4_5, input=30, output=12)
    assert span.attributes["gen_ai.usage.cost.amount"] == pytest.approx(expected, rel=1e-12)
    assert spent(guardrails, "soft") == pytest.approx(expected, rel=1e-12)
    assert held(guardrails, "soft") == 0


# -- downgrade -------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
async def test_downgrade_sends_and_prices_the_cheaper_model(server, client, async_client, telemetry, mode):
    guardrails = enforce(Budget("cap", limit=0, action="downgrade", downgrade_to=CHEAPER))
    server.enqueue(Scenario(prompt_tokens=40, completion_tokens=10, chunks=2))
    kwargs = {"model": MODEL, "max_tokens": 100, "messages": MESSAGES}
    before = {**kwargs, "messages": [dict(m) for m in MESSAGES]}
    await send(mode, client, async_client, **kwargs)
    assert kwargs == before  # the user's arguments are theirs
    assert models_sent(server.requests) == [CHEAPER]
    span = only_span(telemetry)
    assert span.name == f"chat {CHEAPER}"
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
        "gen_ai.request.model": CHEAPER,
        "gen_ai.response.model": CHEAPER,
        "otel_tokens.budget.original_model": MODEL,
        "otel_tokens.budget.decision": "downgraded",
        "otel_tokens.budget.id": "cap",
    }
    expected = cost(HAIKU_3, input=40, output=10)
    assert span.attributes["gen_ai.usage.cost.amount"] == pytest.approx(expected, rel=1e-12)
    assert {p.attributes["gen_ai.request.model"] for p in telemetry.points("gen_ai.client.token.usage")} == {
        CHEAPER
    }
    assert decisions(telemetry) == {("cap", "downgraded"): 1}
    assert spent(guardrails, "cap") == pytest.approx(expected, rel=1e-12)
    assert held(guardrails, "cap") == 0


def test_stream_helper_without_a_model_goes_as_asked_and_releases_its_hold(server, client, telemetry):
    # No model argument to change: the call is warned, the SDK refuses it, nothing stays held.
    guardrails = enforce(Budget("cap", limit=0, action="downgrade", downgrade_to=CHEAPER))
    with pytest.raises(TypeError):
        client.messages.stream(max_tokens=100, messages=MESSAGES)
    assert server.requests == []
    span = only_span(telemetry)
    assert span.attributes["otel_tokens.budget.decision"] == "warned"
    assert span.attributes["error.type"] == "TypeError"
    assert "otel_tokens.budget.original_model" not in span.attributes
    assert (held(guardrails, "cap"), spent(guardrails, "cap")) == (0, 0)


@pytest.mark.parametrize("helper", [False, True], ids=["create", "helper"])
def test_vertex_puts_the_cheaper_model_in_the_path(server, telemetry, helper):
    # AnthropicVertex moves the model argument from the body into the URL: rewriting it is enough.
    enforce(Budget("cap", limit=0, action="downgrade", downgrade_to="claude-3-haiku@20240307"))
    client = anthropic.AnthropicVertex(
        region="us-east5", project_id="demo-project", access_token="ya29.test", base_url=server.url + "/v1"
    )
    kwargs = {"model": "claude-haiku-4-5@20251001", "max_tokens": 100, "messages": MESSAGES}
    if helper:
        with client.messages.stream(**kwargs) as stream:
            stream.until_done()
    else:
        client.messages.create(**kwargs)
    [request] = server.requests
    assert request.path.split("/models/")[1].split(":")[0] == "claude-3-haiku@20240307"
    span = only_span(telemetry)
    assert span.attributes["gen_ai.request.model"] == "claude-3-haiku@20240307"
    assert span.attributes["otel_tokens.budget.original_model"] == "claude-haiku-4-5@20251001"


# -- callbacks -------------------------------------------------------------------------------


@pytest.mark.parametrize("helper", [False, True], ids=["create", "helper"])
def test_callback_gets_the_decision_and_downgrades(server, client, telemetry, helper):
    seen = []

    def choose(decision):
        seen.append(decision)
        return Action.downgrade(CHEAPER)

    guardrails = enforce(Budget("cap", limit=0, action=choose))
    with tags(team="search"):
        if helper:
            with client.messages.stream(model=MODEL, max_tokens=100, messages=MESSAGES) as stream:
                stream.until_done()
        else:
            client.messages.create(model=MODEL, max_tokens=100, messages=MESSAGES)
    [decision] = seen
    assert (decision.kind, decision.id, decision.provider, decision.model, decision.reason) == (
        "budget",
        "cap",
        "anthropic",
        MODEL,
        "limit",
    )
    assert dict(decision.tags) == {"team": "search"}
    assert (decision.limit, decision.spent, decision.unit, decision.resets_at) == (0.0, 0.0, "USD", MONTH_END)
    assert decision.reservation == pytest.approx(worst_case(HAIKU_4_5, MODEL, 100), rel=1e-12)
    assert models_sent(server.requests) == [CHEAPER]
    span = only_span(telemetry)
    assert span.attributes["otel_tokens.budget.decision"] == "downgraded"
    assert spent(guardrails, "cap") == pytest.approx(span.attributes["gen_ai.usage.cost.amount"], rel=1e-12)


async def test_callback_blocks(server, async_client, telemetry):
    guardrails = enforce(Budget("cap", limit=0, action=lambda decision: "block"))
    with pytest.raises(BudgetExceededError):
        await async_client.messages.create(model=MODEL, max_tokens=100, messages=MESSAGES)
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
            client.messages.create(model=MODEL, max_tokens=100, messages=MESSAGES)
        assert server.requests == []
    else:
        client.messages.create(model=MODEL, max_tokens=100, messages=MESSAGES)
        assert models_sent(server.requests) == [MODEL]
    assert only_span(telemetry).attributes["otel_tokens.budget.decision"] == decision
    assert decisions(telemetry) == {("cap", decision): 1}
    assert held(guardrails, "cap") == 0


# -- provider errors -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "exception"), [(429, anthropic.RateLimitError), (500, anthropic.InternalServerError)]
)
@pytest.mark.parametrize("mode", ["sync", "async stream", "helper"])
async def test_provider_error_passes_through_and_releases_the_hold(
    server, client, async_client, telemetry, status, exception, mode
):
    guardrails = enforce(Budget("monthly", limit=100))
    server.enqueue(Scenario(error_status=status))
    with pytest.raises(exception) as raised:
        await send(mode, client, async_client, model=MODEL, max_tokens=100, messages=MESSAGES)
    assert type(raised.value) is exception
    span = only_span(telemetry)
    assert span.attributes["error.type"] == exception.__name__
    assert span.attributes["otel_tokens.budget.decision"] == "admitted"
    assert "otel_tokens.limit.provider" not in span.attributes  # an ordinary error, not a spend cap
    assert (spent(guardrails, "monthly"), held(guardrails, "monthly")) == (0, 0)


@pytest.mark.parametrize("mode", ["sync", "helper"])
async def test_credit_balance_too_low_is_recognised(server, client, async_client, telemetry, mode):
    guardrails = enforce(Budget("monthly", limit=100))
    server.enqueue(
        Scenario(error_status=400, error_type="invalid_request_error", error_message=CREDIT_MESSAGE)
    )
    with pytest.raises(anthropic.BadRequestError):
        await send(mode, client, async_client, model=MODEL, max_tokens=100, messages=MESSAGES)
    span = only_span(telemetry)
    assert span.attributes["otel_tokens.limit.provider"] == "credit_balance_too_low"
    assert span.attributes["error.type"] == "BadRequestError"
    assert CREDIT_MESSAGE not in str(dict(span.attributes))  # the message itself is not recorded
    [point] = telemetry.points("otel_tokens.client.provider_limits")
    assert (point.value, point.attributes["otel_tokens.limit.provider"]) == (1, "credit_balance_too_low")
    assert (spent(guardrails, "monthly"), held(guardrails, "monthly")) == (0, 0)


# -- catalogues ------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["async", "helper"])
async def test_catalogue_blocks_an_unapproved_model_before_send(
    server, client, async_client, telemetry, mode
):
    enforce(Catalogue("approved", models=[CHEAPER], action="block"))
    with pytest.raises(ModelNotApprovedError, match=f"'{MODEL}' is not approved by catalogue 'approved'"):
        await send(mode, client, async_client, model=MODEL, max_tokens=100, messages=MESSAGES)
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


@pytest.mark.parametrize("mode", ["sync", "helper"])
async def test_catalogue_downgrades_to_the_approved_model(server, client, async_client, telemetry, mode):
    enforce(Catalogue("approved", models=["claude-3-*"], action="downgrade", downgrade_to=CHEAPER))
    server.enqueue(Scenario(prompt_tokens=40, completion_tokens=10))
    await send(mode, client, async_client, model=MODEL, max_tokens=100, messages=MESSAGES)
    assert models_sent(server.requests) == [CHEAPER]
    span = only_span(telemetry)
    assert span.attributes["otel_tokens.budget.decision"] == "downgraded"
    assert span.attributes["otel_tokens.budget.original_model"] == MODEL
    assert span.attributes["gen_ai.usage.cost.amount"] == pytest.approx(
        cost(HAIKU_3, input=40, output=10), rel=1e-12
    )


def test_approved_calls_carry_the_approval_on_their_metrics(server, client, telemetry):
    enforce(Catalogue("approved", models=["claude-haiku-*"]))
    client.messages.create(model=MODEL, max_tokens=100, messages=MESSAGES)
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
