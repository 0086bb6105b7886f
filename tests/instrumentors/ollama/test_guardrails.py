"""Guardrails on Ollama calls through the real ollama SDK: checked before the request is sent,
settled with what it cost. Local models are free unless a price override charges GPU time back,
so the USD budgets here run with such an override (two models, one cheaper)."""

from __future__ import annotations

import copy
import gc

import ollama
import pytest
from otel_tokens_fake_providers import Scenario

import otel_tokens
from otel_tokens import Action, Budget, Catalogue, Decision, Policy, _runtime
from otel_tokens._budget_store import MemoryStore, StoreUnavailable
from otel_tokens._guardrail_setup import install_guardrails
from otel_tokens._guardrails import Guardrails
from otel_tokens._settings import Settings

from .._guardrails import Clock, decisions, enforce, held, models_sent, spent
from .helpers import MESSAGES, cost, only_span

LARGE = "llama3.1:70b"
SMALL = "llama3.1:8b"
LARGE_PRICES = {"input": 0.05, "cached": 0.01, "output": 0.20}
SMALL_PRICES = {"input": 0.01, "output": 0.04}
OVERRIDES = """
[[price]]
provider = "ollama"
model = "llama3.1:70b"
input_per_mtok = 0.05
cache_read_per_mtok = 0.01
output_per_mtok = 0.20

[[price]]
provider = "ollama"
model = "llama3.1:8b"
input_per_mtok = 0.01
output_per_mtok = 0.04
"""
KINDS = ["chat", "async chat", "stream", "async stream"]


@pytest.fixture
def gpu_prices(tmp_path, reinstrument):
    """A chargeback price for the two models (set before any guardrails: settings replace them)."""
    overrides = tmp_path / "prices.toml"
    overrides.write_text(OVERRIDES)
    _runtime.set_settings(Settings(price_overrides=str(overrides)))
    reinstrument()


async def call(client, async_client, kind: str, model: str = LARGE, max_tokens: int = 100, **kwargs):
    """One chat call of ``kind``, a stream read to its end; returns what the user got."""
    kwargs.setdefault("messages", MESSAGES)
    kwargs.setdefault("options", {"num_predict": max_tokens})
    stream = kind.endswith("stream")
    if kind.startswith("async"):
        result = await async_client.chat(model=model, stream=stream, **kwargs)
        return [part async for part in result] if stream else result
    result = client.chat(model=model, stream=stream, **kwargs)
    return list(result) if stream else result


def counted_input(model: str = LARGE) -> int:
    """The input tokens the core counts offline for a reservation (the instrumentor's estimate)."""
    return _runtime.tokenizer().count_chat_input(model, MESSAGES).tokens


# -- block -------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
async def test_a_blocking_budget_stops_the_call_before_it_is_sent(
    server, client, async_client, telemetry, gpu_prices, kind
):
    guardrails = enforce(Budget("cap", limit=0, action="block"))
    with pytest.raises(otel_tokens.GuardrailError) as raised:
        await call(client, async_client, kind)
    assert type(raised.value) is otel_tokens.BudgetExceededError
    assert "budget 'cap'" in str(raised.value)
    assert server.requests == []
    span = only_span(telemetry)
    assert span.attributes["otel_tokens.budget.decision"] == "blocked"
    assert span.attributes["otel_tokens.budget.id"] == "cap"
    assert span.attributes["error.type"] == "BudgetExceededError"
    assert span.attributes["otel_tokens.budget.reservation"] == pytest.approx(
        cost(LARGE_PRICES, input=counted_input(), output=100), rel=1e-12
    )
    assert decisions(telemetry) == {("cap", "blocked"): 1}
    assert (held(guardrails, "cap"), spent(guardrails, "cap")) == (0, 0)


def test_a_free_local_model_is_blocked_by_a_zero_limit(server, client, telemetry):
    # No override: the model costs nothing, and a limit of 0 still admits nothing.
    enforce(Budget("cap", limit=0))
    with pytest.raises(otel_tokens.BudgetExceededError) as raised:
        client.chat(model="llama3", messages=MESSAGES)
    assert raised.value.reservation == 0
    assert server.requests == []


@pytest.mark.parametrize("method", ["generate", "embed", "embeddings"])
def test_the_other_methods_are_blocked_too(server, client, telemetry, method):
    enforce(Budget("cap", limit=0))
    with pytest.raises(otel_tokens.BudgetExceededError):
        if method == "generate":
            client.generate(model=LARGE, prompt="Count.")
        elif method == "embed":
            client.embed(model="nomic-embed-text", input="one text")
        else:
            client.embeddings(model="nomic-embed-text", prompt="one text")
    assert server.requests == []
    assert only_span(telemetry).attributes["otel_tokens.budget.decision"] == "blocked"


# -- admitted and settled ------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
async def test_an_admitted_call_is_settled_at_its_cost(
    server, client, async_client, telemetry, gpu_prices, kind
):
    guardrails = enforce(Budget("monthly", limit=100.0))
    server.enqueue(Scenario(chunks=3, prompt_tokens=120, completion_tokens=40))
    await call(client, async_client, kind)
    assert models_sent(server.requests) == [LARGE]
    span = only_span(telemetry)
    expected = cost(LARGE_PRICES, input=120, output=40)
    assert span.attributes["gen_ai.usage.cost.amount"] == pytest.approx(expected, rel=1e-12)
    assert span.attributes["otel_tokens.budget.decision"] == "admitted"
    assert span.attributes["otel_tokens.budget.id"] == "monthly"
    reservation = span.attributes["otel_tokens.budget.reservation"]
    assert reservation == pytest.approx(cost(LARGE_PRICES, input=counted_input(), output=100), rel=1e-12)
    assert reservation > expected
    assert spent(guardrails, "monthly") == pytest.approx(
        span.attributes["gen_ai.usage.cost.amount"], rel=1e-12
    )
    assert held(guardrails, "monthly") == 0
    assert decisions(telemetry) == {}


def test_a_token_budget_counts_input_and_output_tokens(server, client, telemetry):
    guardrails = enforce(Budget("tokens", limit=1_000_000, unit="token"))
    server.enqueue(Scenario(prompt_tokens=120, completion_tokens=40))
    client.chat(model="llama3", messages=MESSAGES, options={"num_predict": 100})
    span = only_span(telemetry)
    assert span.attributes["otel_tokens.budget.reservation"] == counted_input("llama3") + 100
    assert (
        spent(guardrails, "tokens")
        == (span.attributes["gen_ai.usage.input_tokens"] + span.attributes["gen_ai.usage.output_tokens"])
        == 160
    )
    assert held(guardrails, "tokens") == 0


def test_a_token_budget_stops_the_call_that_would_pass_it(server, client, telemetry):
    guardrails = enforce(Budget("tokens", limit=300, unit="token"))
    server.enqueue(Scenario(prompt_tokens=120, completion_tokens=40))
    client.chat(model="llama3", messages=MESSAGES, options={"num_predict": 100})
    assert 160 + counted_input("llama3") + 200 > 300
    with pytest.raises(otel_tokens.BudgetExceededError) as raised:
        client.chat(model="llama3", messages=MESSAGES, options={"num_predict": 200})
    assert (raised.value.spent, raised.value.reservation) == (160, counted_input("llama3") + 200)
    assert len(server.requests) == 1
    assert (spent(guardrails, "tokens"), held(guardrails, "tokens")) == (160, 0)


# -- streams -------------------------------------------------------------------------------------


def test_a_stream_holds_its_reservation_until_it_ends(server, client, telemetry, gpu_prices):
    guardrails = enforce(Budget("monthly", limit=100.0))
    server.enqueue(Scenario(chunks=3, prompt_tokens=30, completion_tokens=4))
    stream = client.chat(model=LARGE, messages=MESSAGES, stream=True, options={"num_predict": 100})
    holding = held(guardrails, "monthly")
    assert holding == pytest.approx(cost(LARGE_PRICES, input=counted_input(), output=100), rel=1e-12)
    assert list(stream)[-1].eval_count == 4
    only_span(telemetry)
    assert spent(guardrails, "monthly") == pytest.approx(cost(LARGE_PRICES, input=30, output=4), rel=1e-12)
    assert held(guardrails, "monthly") == 0


def test_a_stream_abandoned_early_is_settled_with_what_was_seen(server, client, telemetry, gpu_prices):
    guardrails = enforce(Budget("monthly", limit=100.0))
    server.enqueue(Scenario(text="one two three four", chunks=4, prompt_tokens=30, completion_tokens=4))
    stream = client.chat(model=LARGE, messages=MESSAGES, stream=True)
    for _ in stream:
        break
    stream.close()
    span = only_span(telemetry)
    # No "done" part arrived: the call is estimated from what was seen, and that is charged.
    assert span.attributes["otel_tokens.usage.estimated"] is True
    assert spent(guardrails, "monthly") == pytest.approx(
        span.attributes["gen_ai.usage.cost.amount"], rel=1e-12
    )
    assert spent(guardrails, "monthly") > 0
    assert held(guardrails, "monthly") == 0


@pytest.mark.parametrize("is_async", [False, True])
async def test_a_stream_closed_before_its_first_part_releases_its_hold(
    server, client, async_client, telemetry, gpu_prices, is_async
):
    guardrails = enforce(Budget("monthly", limit=100.0))
    if is_async:
        stream = await async_client.chat(model=LARGE, messages=MESSAGES, stream=True)
        assert held(guardrails, "monthly") > 0
        await stream.aclose()
    else:
        stream = client.chat(model=LARGE, messages=MESSAGES, stream=True)
        assert held(guardrails, "monthly") > 0
        stream.close()
    del stream
    gc.collect()
    assert server.requests == []  # the SDK's generator sends on the first next()
    assert "gen_ai.usage.input_tokens" not in only_span(telemetry).attributes
    assert (spent(guardrails, "monthly"), held(guardrails, "monthly")) == (0, 0)


# -- warn and downgrade --------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["chat", "async stream"])
async def test_a_warning_budget_lets_the_call_through(
    server, client, async_client, telemetry, gpu_prices, kind
):
    guardrails = enforce(Budget("cap", limit=0, action="warn"))
    server.enqueue(Scenario(prompt_tokens=120, completion_tokens=40))
    await call(client, async_client, kind)
    assert models_sent(server.requests) == [LARGE]
    span = only_span(telemetry)
    assert span.attributes["otel_tokens.budget.decision"] == "warned"
    assert decisions(telemetry) == {("cap", "warned"): 1}
    assert spent(guardrails, "cap") == pytest.approx(cost(LARGE_PRICES, input=120, output=40), rel=1e-12)


@pytest.mark.parametrize("kind", KINDS)
async def test_a_downgrade_sends_the_cheaper_model(server, client, async_client, telemetry, gpu_prices, kind):
    guardrails = enforce(Budget("cap", limit=0, action="downgrade", downgrade_to=SMALL))
    server.enqueue(Scenario(chunks=3, prompt_tokens=120, completion_tokens=40))
    messages, options = copy.deepcopy(MESSAGES), {"num_predict": 100, "temperature": 0.2}
    await call(client, async_client, kind, messages=messages, options=options)
    assert (messages, options) == (MESSAGES, {"num_predict": 100, "temperature": 0.2})
    assert models_sent(server.requests) == [SMALL]
    span = only_span(telemetry)
    assert span.attributes["gen_ai.request.model"] == SMALL
    assert span.attributes["otel_tokens.budget.original_model"] == LARGE
    assert span.attributes["otel_tokens.budget.decision"] == "downgraded"
    expected = cost(SMALL_PRICES, input=120, output=40)
    assert span.attributes["gen_ai.usage.cost.amount"] == pytest.approx(expected, rel=1e-12)
    assert decisions(telemetry) == {("cap", "downgraded"): 1}
    assert spent(guardrails, "cap") == pytest.approx(expected, rel=1e-12)
    assert held(guardrails, "cap") == 0


async def test_a_downgrade_rewrites_a_positional_model(
    server, client, async_client, default_client, telemetry, gpu_prices
):
    enforce(Budget("cap", limit=0, action="downgrade", downgrade_to=SMALL))
    for _ in range(4):
        server.enqueue(Scenario(prompt_tokens=12, completion_tokens=3))
    client.chat(LARGE, MESSAGES)
    await async_client.chat(LARGE, MESSAGES)
    ollama.chat(LARGE, MESSAGES)  # the package's default Client, wrapped twice, counted once
    client.generate(LARGE, "Count.")
    assert models_sent(server.requests) == [SMALL] * 4
    spans = telemetry.spans()
    assert [s.attributes["otel_tokens.budget.decision"] for s in spans] == ["downgraded"] * 4
    assert [s.attributes["gen_ai.request.model"] for s in spans] == [SMALL] * 4


# -- callbacks -----------------------------------------------------------------------------------


async def test_a_callback_decides_with_the_budgets_numbers(
    server, client, async_client, telemetry, gpu_prices
):
    seen: list[Decision] = []

    def decide(decision: Decision) -> Action:
        seen.append(decision)
        return Action.downgrade(SMALL)

    guardrails = enforce(Budget("cap", limit=0, action=decide))
    server.enqueue(Scenario(prompt_tokens=120, completion_tokens=40))
    await call(client, async_client, "async chat")
    [decision] = seen
    assert (decision.kind, decision.id, decision.provider, decision.model) == (
        "budget",
        "cap",
        "ollama",
        LARGE,
    )
    assert (decision.reason, decision.limit, decision.spent, decision.unit) == ("limit", 0.0, 0.0, "USD")
    assert decision.reservation == pytest.approx(
        cost(LARGE_PRICES, input=counted_input(), output=100), rel=1e-12
    )
    assert models_sent(server.requests) == [SMALL]
    assert only_span(telemetry).attributes["otel_tokens.budget.decision"] == "downgraded"
    assert spent(guardrails, "cap") == pytest.approx(cost(SMALL_PRICES, input=120, output=40), rel=1e-12)


def test_a_callback_may_block(server, client, telemetry):
    enforce(Budget("cap", limit=0, action=lambda decision: "block"))
    with pytest.raises(otel_tokens.BudgetExceededError):
        client.chat(model=LARGE, messages=MESSAGES)
    assert server.requests == []
    assert only_span(telemetry).attributes["otel_tokens.budget.decision"] == "blocked"


@pytest.mark.parametrize(("fail_mode", "decision"), [("open", "warned"), ("closed", "blocked")])
def test_a_raising_callback_follows_the_fail_mode(server, client, telemetry, fail_mode, decision):
    def broken(found: Decision) -> Action:
        raise RuntimeError("the callback's own bug")

    enforce(Budget("cap", limit=0, action=broken, fail_mode=fail_mode))
    server.enqueue(Scenario(prompt_tokens=120, completion_tokens=40))
    if decision == "blocked":
        with pytest.raises(otel_tokens.BudgetExceededError):
            client.chat(model=LARGE, messages=MESSAGES)
    else:
        client.chat(model=LARGE, messages=MESSAGES)
    assert len(server.requests) == (0 if decision == "blocked" else 1)
    assert only_span(telemetry).attributes["otel_tokens.budget.decision"] == decision
    assert decisions(telemetry) == {("cap", decision): 1}


# -- provider errors -----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
async def test_a_provider_error_passes_through_and_releases_the_hold(
    server, client, async_client, telemetry, gpu_prices, kind
):
    guardrails = enforce(Budget("monthly", limit=100.0))
    server.enqueue(Scenario(error_status=429, error_message="too many requests"))
    with pytest.raises(ollama.ResponseError) as raised:
        await call(client, async_client, kind)
    assert type(raised.value) is ollama.ResponseError
    assert (raised.value.status_code, raised.value.error) == (429, "too many requests")
    span = only_span(telemetry)
    assert span.attributes["error.type"] == "ResponseError"
    assert span.attributes["otel_tokens.budget.decision"] == "admitted"
    assert (held(guardrails, "monthly"), spent(guardrails, "monthly")) == (0, 0)


# -- catalogues ----------------------------------------------------------------------------------


def test_a_catalogue_blocks_an_unapproved_model_before_it_is_sent(server, client, telemetry):
    enforce(Catalogue("approved", models=["llama3.1:8b"], action="block"))
    with pytest.raises(otel_tokens.ModelNotApprovedError) as raised:
        client.chat(model=LARGE, messages=MESSAGES)
    assert (raised.value.catalogue_id, raised.value.model) == ("approved", LARGE)
    assert server.requests == []
    span = only_span(telemetry)
    assert span.attributes["otel_tokens.budget.decision"] == "blocked"
    assert span.attributes["otel_tokens.model.approved"] is False
    assert span.attributes["error.type"] == "ModelNotApprovedError"


async def test_a_catalogue_downgrades_to_an_approved_model(
    server, client, async_client, telemetry, gpu_prices
):
    enforce(Catalogue("approved", models=["llama3.1:8b"], action="downgrade", downgrade_to=SMALL))
    server.enqueue(Scenario(chunks=2, prompt_tokens=120, completion_tokens=40))
    await call(client, async_client, "async stream")
    assert models_sent(server.requests) == [SMALL]
    span = only_span(telemetry)
    assert (
        span.attributes["gen_ai.request.model"],
        span.attributes["otel_tokens.budget.original_model"],
    ) == (
        SMALL,
        LARGE,
    )
    assert span.attributes["gen_ai.usage.cost.amount"] == pytest.approx(
        cost(SMALL_PRICES, input=120, output=40), rel=1e-12
    )


def test_an_approved_calls_points_say_so(server, client, telemetry):
    # A local model is priced (at 0), so a catalogue that asks for a price approves it.
    enforce(Catalogue("approved", models=["llama3*"]))
    server.enqueue(Scenario(prompt_tokens=120, completion_tokens=40))
    client.chat(model="llama3", messages=MESSAGES)
    assert only_span(telemetry).attributes["otel_tokens.model.approved"] is True
    points = [
        *telemetry.points("gen_ai.client.token.usage"),
        *telemetry.points("otel_tokens.client.cost"),
        *telemetry.points("gen_ai.client.operation.duration"),
    ]
    assert len(points) == 4
    assert all(p.attributes["otel_tokens.model.approved"] is True for p in points)


# -- unpriced models -----------------------------------------------------------------------------


def test_a_model_unknown_to_the_price_data_is_a_free_local_model(server, client, telemetry):
    # Ollama models are never unpriced: without an override they cost 0 ("local-model"), so
    # on_unpriced="block" does not apply (the unpriced paths are covered on litellm and google-genai).
    guardrails = enforce(Budget("cap", limit=100.0, on_unpriced="block"))
    server.enqueue(Scenario(prompt_tokens=120, completion_tokens=40))
    client.chat(model="acme-unknown-1", messages=MESSAGES)
    assert models_sent(server.requests) == ["acme-unknown-1"]
    span = only_span(telemetry)
    assert span.attributes["otel_tokens.price.source"] == "local-model"
    assert "otel_tokens.price.missing" not in span.attributes
    assert (
        span.attributes["otel_tokens.budget.decision"],
        span.attributes["otel_tokens.budget.reservation"],
    ) == (
        "admitted",
        0,
    )
    assert (spent(guardrails, "cap"), held(guardrails, "cap")) == (0, 0)


def test_a_downgraded_calls_reservation_is_what_it_held(server, client, telemetry, gpu_prices):
    guardrails = enforce(Budget("cap", limit=0, action="downgrade", downgrade_to=SMALL))
    server.enqueue(Scenario(chunks=3, prompt_tokens=120, completion_tokens=40))
    stream = client.chat(model=LARGE, messages=MESSAGES, stream=True, options={"num_predict": 100})
    holding = held(guardrails, "cap")
    assert holding == pytest.approx(cost(SMALL_PRICES, input=counted_input(SMALL), output=100), rel=1e-12)
    list(stream)
    assert only_span(telemetry).attributes["otel_tokens.budget.reservation"] == pytest.approx(
        holding, rel=1e-12
    )


# -- a budget store that does not answer ---------------------------------------------------------


class _DownStore(MemoryStore):
    """A store that times out on every reservation."""

    def reserve(self, *args, **kwargs):
        raise StoreUnavailable("timeout", "the test's store never answers")


def _enforce_with_a_down_store(budget: Budget) -> Guardrails:
    guardrails = Guardrails(Policy.of(budget), _DownStore(), _runtime.price_book(), clock=Clock())
    install_guardrails(guardrails)
    return guardrails


def test_a_store_down_under_fail_open_lets_the_call_through(server, client, telemetry):
    _enforce_with_a_down_store(Budget("cap", limit=0, fail_mode="open"))
    server.enqueue(Scenario(prompt_tokens=120, completion_tokens=40))
    client.chat(model=LARGE, messages=MESSAGES)
    assert models_sent(server.requests) == [LARGE]
    assert only_span(telemetry).attributes["otel_tokens.budget.decision"] == "admitted"
    [failures] = telemetry.points("otel_tokens.budget.store.errors")
    assert (failures.attributes, failures.value) == ({"otel_tokens.budget.store.error": "timeout"}, 1)


def test_a_store_down_under_fail_closed_stops_the_call(server, client, telemetry):
    _enforce_with_a_down_store(Budget("cap", limit=100.0, fail_mode="closed"))
    with pytest.raises(otel_tokens.BudgetStoreUnavailableError) as raised:
        client.chat(model=LARGE, messages=MESSAGES)
    assert (raised.value.budget_id, raised.value.reason) == ("cap", "timeout")
    assert server.requests == []
    assert only_span(telemetry).attributes["error.type"] == "BudgetStoreUnavailableError"


def test_a_call_stopped_by_a_down_store_is_recorded_as_blocked(server, client, telemetry):
    _enforce_with_a_down_store(Budget("cap", limit=100.0, fail_mode="closed"))
    with pytest.raises(otel_tokens.BudgetStoreUnavailableError):
        client.chat(model=LARGE, messages=MESSAGES)
    span = only_span(telemetry)
    assert span.attributes["otel_tokens.budget.decision"] == "blocked"
    assert span.attributes["otel_tokens.budget.id"] == "cap"
    assert decisions(telemetry) == {("cap", "blocked"): 1}
