"""The core call lifecycle, end to end through a stub endpoint: shells, recorder, invocation.

A tiny fake "SDK" method is wrapped by the real call shells with an :class:`Endpoint` written
against the public API only, and every test asserts the exact span attributes and metric
points the core writes. Prices come from an override file, so every cost is worked out here.
"""

from __future__ import annotations

import gc
import logging

import pytest
from opentelemetry import baggage, context, trace
from opentelemetry.instrumentation.utils import suppress_instrumentation
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF

from otel_tokens import _runtime, _safety, _worker
from otel_tokens._settings import Settings
from otel_tokens.instrumentation import (
    CallRequest,
    CallResult,
    Endpoint,
    Prepared,
    Recorder,
    Usage,
    async_wrapper,
    count,
    semconv,
    sync_wrapper,
    tags,
)
from otel_tokens.metrics import create_instruments
from otel_tokens.testing import InMemoryTelemetry

PRICES = """
[[price]]
provider = "vllm"
model = "acme-1"
input_per_mtok = 2.0
output_per_mtok = 8.0
cache_read_per_mtok = 0.5
"""
INPUT, OUTPUT, CACHED = 1000, 200, 400
COST = ((INPUT - CACHED) * 2.0 + CACHED * 0.5 + OUTPUT * 8.0) / 1e6  # 0.0034


class Response:
    def __init__(self, usage: dict | None, model: str = "acme-1") -> None:
        self.model = model
        self.usage = usage


class StubEndpoint(Endpoint):
    """Reads the stub SDK's requests and responses the way an instrumentor would."""

    def prepare(self, settings, instance, args, kwargs):
        request = CallRequest(
            operation=semconv.OPERATION_CHAT,
            provider="vllm",
            request_model=kwargs.get("model"),
            server_address="api.acme.test",
            server_port=443,
            attributes={semconv.GEN_AI_REQUEST_MAX_TOKENS: 50},
            estimate_input=lambda tokenizer: tokenizer.count_texts(None, [kwargs.get("prompt", "")]),
        )
        return Prepared(request, kwargs, stream=kwargs.get("stream") is True)

    def read_result(self, response, plan):
        usage = response.usage
        return CallResult(
            response_model=response.model,
            response_id="r-1",
            finish_reasons=("stop",),
            usage=None
            if usage is None
            else Usage(
                input_tokens=count(usage.get("in")),
                output_tokens=count(usage.get("out")),
                cache_read_input_tokens=count(usage.get("cached")),
            ),
            output_texts=["some output text"] if usage is None else None,
        )

    def stream_observer(self, result, plan):
        return ChunkObserver() if plan is None and isinstance(result, Chunks) else None


class Chunks(list):
    """A stub stream: a list of chunks whose last one carries the usage."""


class ChunkObserver:
    def __init__(self) -> None:
        self.usage = None

    def on_item(self, chunk):
        if isinstance(chunk, dict):
            self.usage = chunk

    def result(self):
        return CallResult(
            response_model="acme-1",
            usage=Usage(input_tokens=count(self.usage["in"]), output_tokens=count(self.usage["out"]))
            if self.usage
            else None,
        )


class UserError(Exception):
    pass


def sdk_create(**kwargs):
    if kwargs.get("fail"):
        raise kwargs["fail"]
    if kwargs.get("stream"):
        return Chunks(["a", "b", {"in": 10, "out": 3}])
    return Response(kwargs.get("usage"), kwargs.get("response_model", "acme-1"))


@pytest.fixture
def prices(tmp_path):
    path = tmp_path / "prices.toml"
    path.write_text(PRICES)
    return str(path)


@pytest.fixture
def telemetry():
    memory = InMemoryTelemetry()
    yield memory
    memory.shutdown()


def make_call(telemetry, prices, is_async=False, sampler_memory=None, **settings):
    _runtime.set_settings(Settings(price_overrides=prices, **settings))
    memory = sampler_memory or telemetry
    recorder = Recorder(
        trace.get_tracer("test", tracer_provider=memory.tracer_provider),
        create_instruments(memory.meter_provider.get_meter("test")),
    )
    shell = (async_wrapper if is_async else sync_wrapper)(recorder, StubEndpoint())
    if is_async:

        async def call(**kwargs):
            async def wrapped(**inner):
                return sdk_create(**inner)

            return await shell(wrapped, None, (), kwargs)

        return call
    return lambda **kwargs: shell(sdk_create, None, (), kwargs)


def points(telemetry, metric):
    return {
        tuple(sorted((k, v) for k, v in p.attributes.items() if k in KEYS)): (p.value, p.sum, p.count)
        for p in telemetry.points(metric)
    }


KEYS = (
    semconv.GEN_AI_TOKEN_TYPE,
    semconv.OTEL_TOKENS_TOKEN_TYPE,
    semconv.ERROR_TYPE,
    "otel_tokens.drop.reason",
)
BASE_METRIC_ATTRIBUTES = {
    "gen_ai.operation.name": "chat",
    "gen_ai.provider.name": "vllm",
    "gen_ai.request.model": "acme-1",
    "server.address": "api.acme.test",
    "gen_ai.response.model": "acme-1",
}


def test_usage_present_gives_exact_span_and_points(telemetry, prices):
    call = make_call(telemetry, prices)
    response = call(model="acme-1", usage={"in": INPUT, "out": OUTPUT, "cached": CACHED})
    assert response.usage["in"] == INPUT  # the user's object, untouched
    (span,) = telemetry.spans()
    assert span.name == "chat acme-1"
    assert span.kind == trace.SpanKind.CLIENT
    assert dict(span.attributes) == {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "vllm",
        "gen_ai.request.model": "acme-1",
        "server.address": "api.acme.test",
        "server.port": 443,
        "gen_ai.request.max_tokens": 50,
        "gen_ai.response.model": "acme-1",
        "gen_ai.response.id": "r-1",
        "gen_ai.response.finish_reasons": ("stop",),
        "gen_ai.usage.input_tokens": INPUT,
        "gen_ai.usage.output_tokens": OUTPUT,
        "gen_ai.usage.cache_read.input_tokens": CACHED,
        "gen_ai.usage.cost.amount": pytest.approx(COST),
        "gen_ai.usage.cost.currency": "USD",
        "gen_ai.usage.cost.source": "local",
        "otel_tokens.cost.input": pytest.approx((INPUT - CACHED) * 2.0 / 1e6),
        "otel_tokens.cost.output": pytest.approx(OUTPUT * 8.0 / 1e6),
        "otel_tokens.cost.cache_read": pytest.approx(CACHED * 0.5 / 1e6),
        "otel_tokens.price.source": "override",
    }
    assert span.status.status_code == trace.StatusCode.UNSET
    tokens = telemetry.points(semconv.GEN_AI_CLIENT_TOKEN_USAGE)
    assert {p.attributes[semconv.GEN_AI_TOKEN_TYPE]: p.sum for p in tokens} == {
        "input": INPUT,
        "output": OUTPUT,
    }
    for point in tokens:
        assert {
            k: v for k, v in point.attributes.items() if k != semconv.GEN_AI_TOKEN_TYPE
        } == BASE_METRIC_ATTRIBUTES
    (cost,) = telemetry.points(semconv.OTEL_TOKENS_CLIENT_COST)
    assert cost.sum == pytest.approx(COST) and cost.count == 1 and cost.attributes == BASE_METRIC_ATTRIBUTES
    (detail,) = telemetry.points(semconv.OTEL_TOKENS_CLIENT_TOKEN_DETAIL)
    assert detail.value == CACHED and detail.attributes[semconv.OTEL_TOKENS_TOKEN_TYPE] == "cache_read"
    (duration,) = telemetry.points(semconv.GEN_AI_CLIENT_OPERATION_DURATION)
    assert duration.count == 1 and duration.attributes == BASE_METRIC_ATTRIBUTES
    assert telemetry.points(semconv.OTEL_TOKENS_CLIENT_UNPRICED_CALLS) == []
    assert telemetry.points(semconv.OTEL_TOKENS_TELEMETRY_DROPPED) == []


def test_usage_absent_is_estimated_off_the_call_path(telemetry, prices):
    call = make_call(telemetry, prices)
    call(model="acme-1", usage=None, prompt="four words of prompt")
    (span,) = telemetry.spans()
    assert span.attributes["otel_tokens.usage.estimated"] is True
    assert span.attributes["otel_tokens.usage.estimate_method"] == "heuristic"
    assert span.attributes["gen_ai.usage.input_tokens"] > 0
    assert span.attributes["gen_ai.usage.output_tokens"] > 0
    for point in telemetry.points(semconv.GEN_AI_CLIENT_TOKEN_USAGE):
        assert point.attributes["otel_tokens.usage.estimated"] is True


def test_unpriced_model_has_no_cost_and_is_counted(telemetry, prices):
    call = make_call(telemetry, prices)
    call(model="acme-unknown-9", response_model="acme-unknown-9", usage={"in": 5, "out": 1})
    (span,) = telemetry.spans()
    assert span.attributes["otel_tokens.price.missing"] is True
    assert "gen_ai.usage.cost.amount" not in span.attributes
    assert span.attributes["gen_ai.usage.input_tokens"] == 5
    (unpriced,) = telemetry.points(semconv.OTEL_TOKENS_CLIENT_UNPRICED_CALLS)
    assert unpriced.value == 1
    assert telemetry.points(semconv.OTEL_TOKENS_CLIENT_COST) == []


def test_a_pricing_failure_keeps_the_token_counts(telemetry, prices, monkeypatch):
    _safety.set_strict(False)
    call = make_call(telemetry, prices)
    monkeypatch.setattr(type(_runtime.price_book()), "cost", lambda *a, **k: 1 / 0)
    call(model="acme-1", usage={"in": 7, "out": 2})
    (span,) = telemetry.spans()
    assert span.attributes["gen_ai.usage.input_tokens"] == 7
    assert span.attributes["otel_tokens.price.missing"] is True
    assert {
        p.attributes[semconv.GEN_AI_TOKEN_TYPE]: p.sum
        for p in telemetry.points(semconv.GEN_AI_CLIENT_TOKEN_USAGE)
    } == {
        "input": 7,
        "output": 2,
    }


def test_the_users_exception_passes_through_unchanged_and_is_recorded_without_its_message(telemetry, prices):
    call = make_call(telemetry, prices)
    error = UserError("401: invalid key sk-proj-abcdefghijklmnop1234 for prompt 'my secret plan'")
    error.status_code = 401  # type: ignore[attr-defined]
    with pytest.raises(UserError) as raised:
        call(model="acme-1", fail=error)
    assert raised.value is error
    (span,) = telemetry.spans()
    assert span.status.status_code == trace.StatusCode.ERROR
    assert span.status.description == "UserError: HTTP 401"
    assert span.attributes["error.type"] == "UserError"
    assert span.attributes["http.response.status_code"] == 401
    assert "sk-proj" not in str(dict(span.attributes)) and "secret plan" not in str(span.status.description)
    (duration,) = telemetry.points(semconv.GEN_AI_CLIENT_OPERATION_DURATION)
    assert duration.attributes["error.type"] == "UserError"


def test_with_content_capture_the_error_message_is_kept_masked(telemetry, prices):
    call = make_call(telemetry, prices, capture_content=True)
    with pytest.raises(UserError):
        call(
            model="acme-1",
            fail=UserError("bad key sk-ant-api03-abcdefghijkl; Authorization: Bearer abc.def.ghijklmnop"),
        )
    (span,) = telemetry.spans()
    assert span.status.description == "UserError: bad key ****; Authorization: ****"


def test_unsampled_calls_still_record_metrics(prices):
    memory = InMemoryTelemetry(sampler=ALWAYS_OFF)
    try:
        call = make_call(memory, prices)
        call(model="acme-1", usage={"in": 3, "out": 1})
        assert memory.spans() == ()
        (cost,) = memory.points(semconv.OTEL_TOKENS_CLIENT_COST)
        assert cost.sum == pytest.approx((3 * 2.0 + 8.0) / 1e6)
    finally:
        memory.shutdown()


def test_tag_values_past_the_limit_fold_and_are_counted(telemetry, prices):
    call = make_call(telemetry, prices, max_tag_values=1)
    for team in ("search", "ads"):
        with tags(team=team):
            call(model="acme-1", usage={"in": 1, "out": 1})
    teams = [
        p.attributes.get("otel_tokens.tag.team") for p in telemetry.points(semconv.OTEL_TOKENS_CLIENT_COST)
    ]
    assert sorted(teams) == ["__overflow__", "search"]
    (folded,) = telemetry.points(semconv.OTEL_TOKENS_TAGS_FOLDED)
    assert folded.value == 1 and folded.attributes == {"otel_tokens.tag.key": "team"}
    assert [s.attributes["otel_tokens.tag.team"] for s in telemetry.spans()] == ["search", "ads"]


def test_a_stream_notes_its_first_chunk_and_ends_once(telemetry, prices):
    call = make_call(telemetry, prices)
    stream = call(model="acme-1", stream=True)
    assert telemetry.spans() == ()
    assert list(stream) == ["a", "b", {"in": 10, "out": 3}]
    (span,) = telemetry.spans()
    assert span.attributes["gen_ai.usage.input_tokens"] == 10
    assert span.attributes["gen_ai.response.time_to_first_chunk"] >= 0
    (first,) = telemetry.points(semconv.GEN_AI_CLIENT_OPERATION_TIME_TO_FIRST_CHUNK)
    assert first.count == 1


async def test_async_shell_records_and_passes_errors_through(telemetry, prices):
    call = make_call(telemetry, prices, is_async=True)
    response = await call(model="acme-1", usage={"in": 2, "out": 2})
    assert response.usage == {"in": 2, "out": 2}
    error = UserError("boom")
    with pytest.raises(UserError) as raised:
        await call(model="acme-1", fail=error)
    assert raised.value is error
    assert [s.status.status_code for s in telemetry.spans()] == [
        trace.StatusCode.UNSET,
        trace.StatusCode.ERROR,
    ]


def test_suppress_instrumentation_records_nothing(telemetry, prices):
    call = make_call(telemetry, prices)
    with suppress_instrumentation():
        response = call(model="acme-1", usage={"in": 1, "out": 1})
    assert response.usage == {"in": 1, "out": 1}
    assert telemetry.spans() == ()
    assert telemetry.points() == []


def test_a_nested_instrumented_call_is_counted_once(telemetry, prices):
    _runtime.set_settings(Settings(price_overrides=prices))
    recorder = Recorder(
        trace.get_tracer("test", tracer_provider=telemetry.tracer_provider),
        create_instruments(telemetry.meter_provider.get_meter("test")),
    )
    inner = sync_wrapper(recorder, StubEndpoint())
    outer = sync_wrapper(recorder, StubEndpoint())
    response = outer(
        lambda **k: inner(sdk_create, None, (), k),
        None,
        (),
        {"model": "acme-1", "usage": {"in": 4, "out": 4}},
    )
    assert response.usage["in"] == 4
    assert len(telemetry.spans()) == 1


def test_a_failing_endpoint_leaves_the_call_unrecorded_and_untouched(telemetry, prices, monkeypatch):
    _safety.set_strict(False)
    call = make_call(telemetry, prices)
    monkeypatch.setattr(StubEndpoint, "prepare", lambda *a: 1 / 0)
    assert call(model="acme-1", usage={"in": 1, "out": 1}).usage == {"in": 1, "out": 1}
    assert telemetry.spans() == ()


@pytest.mark.parametrize(
    "bad",
    [2**70, -1, True, 1.5, "12x", {"nested": 1}, [3]],
    ids=["huge", "negative", "bool", "fraction", "junk-string", "object", "list"],
)
def test_an_invalid_count_loses_that_count_only_and_is_counted(telemetry, prices, bad):
    call = make_call(telemetry, prices)
    call(model="acme-1", usage={"in": INPUT, "out": OUTPUT, "cached": bad})
    (span,) = telemetry.spans()
    assert span.attributes["gen_ai.usage.input_tokens"] == INPUT
    assert span.attributes["gen_ai.usage.output_tokens"] == OUTPUT
    assert "gen_ai.usage.cache_read.input_tokens" not in span.attributes
    assert span.attributes["gen_ai.usage.cost.amount"] == pytest.approx((INPUT * 2.0 + OUTPUT * 8.0) / 1e6)
    (dropped,) = telemetry.points(semconv.OTEL_TOKENS_TELEMETRY_DROPPED)
    assert dropped.value == 1 and dropped.attributes["otel_tokens.drop.reason"] == "invalid_usage"


def test_counts_in_number_like_forms_are_read_deliberately():
    assert [count(v) for v in (5, 5.0, "5", " 12 ", None)] == [5, 5, 5, 12, None]
    assert [count(v) for v in (True, 5.5, "-1", "1e3", 10**13, object())] == [None] * 6


def test_huge_counts_never_reach_a_metric_export(telemetry, prices):
    """One absurd count must not poison the cumulative counters of every later export."""
    call = make_call(telemetry, prices)
    call(model="acme-1", usage={"in": 2**70, "out": 1, "cached": 2**70})
    call(model="acme-1", usage={"in": 5, "out": 1})
    for point in telemetry.points():
        for value in (point.value, point.sum):
            assert value is None or abs(value) < 2**63


def test_an_interrupt_while_writing_is_completed_once_later(telemetry, prices, monkeypatch):
    """A KeyboardInterrupt inside the end leaves nothing half done for good, nor done twice."""
    call = make_call(telemetry, prices)
    recorder_cls = Recorder
    original = recorder_cls._metric_points
    interrupted = []

    def interrupt_once(self, *args):
        if not interrupted:
            interrupted.append(True)
            raise KeyboardInterrupt
        return original(self, *args)

    monkeypatch.setattr(recorder_cls, "_metric_points", interrupt_once)
    with pytest.raises(KeyboardInterrupt):
        call(model="acme-1", usage={"in": 3, "out": 1})
    # The span ended before the interrupt (a step done is never redone); the metrics are
    # written when the invocation is collected.
    assert len(telemetry.spans()) == 1
    gc.collect()
    (cost,) = telemetry.points(semconv.OTEL_TOKENS_CLIENT_COST)
    assert cost.count == 1
    assert len(telemetry.spans()) == 1


def test_large_baggage_keeps_the_conventions_attributes(telemetry, prices, caplog):
    call = make_call(telemetry, prices)
    ctx = context.get_current()
    for index in range(180):
        ctx = baggage.set_baggage(f"otel_tokens.tag.k{index:03d}", f"v{index}", ctx)
    token = context.attach(ctx)
    try:
        with caplog.at_level(logging.WARNING):
            for _ in range(3):
                call(model="acme-1", usage={"in": 1, "out": 1})
    finally:
        context.detach(token)
    for span in telemetry.spans():
        assert span.attributes["gen_ai.operation.name"] == "chat"
        assert span.attributes["gen_ai.provider.name"] == "vllm"
        assert span.attributes["gen_ai.request.model"] == "acme-1"
        assert span.attributes["gen_ai.usage.cost.amount"] > 0
        assert sum(1 for key in span.attributes if key.startswith("otel_tokens.tag.")) == 32
    assert not [r for r in caplog.records if "attribute" in r.getMessage().lower()]
    dropped = telemetry.points(semconv.OTEL_TOKENS_TELEMETRY_DROPPED)
    assert [(p.value, p.attributes["otel_tokens.drop.reason"]) for p in dropped] == [
        (3 * 148, "span_tag_limit")
    ]


def test_a_full_estimate_queue_records_at_once_and_counts_it(telemetry, prices, monkeypatch):
    call = make_call(telemetry, prices)
    monkeypatch.setattr(_worker, "submit", lambda task: False)
    call(model="acme-1", usage=None, prompt="hello")
    (span,) = telemetry.spans()
    assert "gen_ai.usage.input_tokens" not in span.attributes
    (dropped,) = telemetry.points(semconv.OTEL_TOKENS_TELEMETRY_DROPPED)
    assert dropped.attributes["otel_tokens.drop.reason"] == "estimate_queue_full"
