"""The floor: what the OpenTelemetry SDK alone costs for the telemetry otel-tokens records.

For each call the floor does what ``otel_tokens.record`` does with plain OpenTelemetry API
calls and precomputed constants (the canned response is known in advance): a CLIENT span with
the same start attributes, made current around the SDK call (attached and detached directly,
as the wrapper does, so HTTP spans would nest under it), the same response/usage/cost
attributes, ``end()``; the same histogram and counter points with the same attribute dicts,
given the context read once. No otel-tokens code runs on this path: what remains between the
floor and the instrumented mode is otel-tokens' own work (reading the request and response,
pricing, building attribute dicts, the wrapt shells).

Names come from ``otel_tokens.semconv`` and bucket boundaries from ``otel_tokens.metrics``;
both are plain constants read once at set-up. A :class:`Plan` holds one call's telemetry; the
OpenAI plans of ``bench_openai.py`` are built here, ``bench_anthropic.py`` builds its own with
:func:`make_plan` and runs it through :meth:`Floor.call` and :meth:`Floor.stream`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib.metadata import version
from typing import Any, TypeVar

import _wire
import openai
from opentelemetry import context, trace
from opentelemetry.metrics import MeterProvider
from opentelemetry.trace import SpanKind, TracerProvider

from otel_tokens import metrics as ot_metrics
from otel_tokens import semconv as sc

FLOOR_SCOPE = "bench.floor"

C = TypeVar("C")  # a client

# gpt-4o-mini list prices, USD per token (input 0.15, cached input 0.075, output 0.60 per Mtok).
_INPUT_RATE, _CACHED_RATE, _OUTPUT_RATE = 0.15e-6, 0.075e-6, 0.60e-6
COST_INPUT = (_wire.PROMPT_TOKENS - _wire.CACHED_TOKENS) * _INPUT_RATE
COST_CACHE_READ = _wire.CACHED_TOKENS * _CACHED_RATE
COST_OUTPUT = _wire.COMPLETION_TOKENS * _OUTPUT_RATE
COST_TOTAL = COST_INPUT + COST_CACHE_READ + COST_OUTPUT
PRICE_SOURCE = f"genai-prices {version('genai-prices')}"

# The request attributes that otel_tokens.record also puts on metric points.
_METRIC_KEYS = (sc.GEN_AI_OPERATION_NAME, sc.GEN_AI_PROVIDER_NAME, sc.GEN_AI_REQUEST_MODEL, sc.SERVER_ADDRESS)


@dataclass(frozen=True)
class Plan:
    """Every attribute dict and metric value of one call, built once."""

    span_name: str
    start: dict[str, Any]
    end: dict[str, Any]
    metric: dict[str, Any]
    tokens: tuple[tuple[int, dict[str, Any]], ...]
    """``gen_ai.client.token.usage`` points: (value, attributes)."""
    details: tuple[tuple[int, dict[str, Any]], ...]
    """``otel_tokens.client.token.detail`` points: (value, attributes)."""
    cost: float


def make_plan(
    start: dict[str, Any],
    end: dict[str, Any],
    input_tokens: int,
    output_tokens: int,
    details: dict[str, int],
    cost: float,
) -> Plan:
    """A plan from the span's start and end attributes; the metric attributes are derived as
    ``otel_tokens.record`` derives them (request side, plus the response model)."""
    metric = {key: start[key] for key in _METRIC_KEYS if key in start}
    metric[sc.GEN_AI_RESPONSE_MODEL] = end[sc.GEN_AI_RESPONSE_MODEL]
    return Plan(
        span_name=f"{start[sc.GEN_AI_OPERATION_NAME]} {start[sc.GEN_AI_REQUEST_MODEL]}",
        start=start,
        end=end,
        metric=metric,
        tokens=(
            (input_tokens, {**metric, sc.GEN_AI_TOKEN_TYPE: sc.TOKEN_TYPE_INPUT}),
            (output_tokens, {**metric, sc.GEN_AI_TOKEN_TYPE: sc.TOKEN_TYPE_OUTPUT}),
        ),
        details=tuple(
            (value, {**metric, sc.OTEL_TOKENS_TOKEN_TYPE: kind}) for kind, value in details.items()
        ),
        cost=cost,
    )


def openai_plan(streaming: bool) -> Plan:
    start: dict[str, Any] = {
        sc.GEN_AI_OPERATION_NAME: sc.OPERATION_CHAT,
        sc.GEN_AI_PROVIDER_NAME: sc.PROVIDER_OPENAI,
        sc.GEN_AI_REQUEST_MODEL: _wire.REQUEST_MODEL,
        sc.SERVER_ADDRESS: _wire.SERVER_ADDRESS,
        sc.SERVER_PORT: _wire.SERVER_PORT,
        sc.GEN_AI_REQUEST_TEMPERATURE: _wire.TEMPERATURE,
        sc.GEN_AI_REQUEST_MAX_TOKENS: _wire.MAX_COMPLETION_TOKENS,
    }
    if streaming:
        start[sc.GEN_AI_REQUEST_STREAM] = True
    end: dict[str, Any] = {
        sc.GEN_AI_RESPONSE_MODEL: _wire.RESPONSE_MODEL,
        sc.GEN_AI_RESPONSE_ID: _wire.RESPONSE_ID,
        sc.GEN_AI_RESPONSE_FINISH_REASONS: ("stop",),
        sc.OPENAI_RESPONSE_SERVICE_TIER: _wire.SERVICE_TIER,
        sc.OPENAI_RESPONSE_SYSTEM_FINGERPRINT: _wire.FINGERPRINT,
        sc.GEN_AI_USAGE_INPUT_TOKENS: _wire.PROMPT_TOKENS,
        sc.GEN_AI_USAGE_OUTPUT_TOKENS: _wire.COMPLETION_TOKENS,
        sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: _wire.CACHED_TOKENS,
        sc.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS: _wire.REASONING_TOKENS,
        sc.GEN_AI_USAGE_COST_AMOUNT: COST_TOTAL,
        sc.GEN_AI_USAGE_COST_CURRENCY: sc.CURRENCY_USD,
        sc.GEN_AI_USAGE_COST_SOURCE: sc.COST_SOURCE_LOCAL,
        sc.OTEL_TOKENS_COST_INPUT: COST_INPUT,
        sc.OTEL_TOKENS_COST_OUTPUT: COST_OUTPUT,
        sc.OTEL_TOKENS_PRICE_SOURCE: PRICE_SOURCE,
        sc.OTEL_TOKENS_COST_CACHE_READ: COST_CACHE_READ,
    }
    details = {
        sc.TOKEN_DETAIL_CACHE_READ: _wire.CACHED_TOKENS,
        sc.TOKEN_DETAIL_REASONING: _wire.REASONING_TOKENS,
    }
    return make_plan(start, end, _wire.PROMPT_TOKENS, _wire.COMPLETION_TOKENS, details, COST_TOTAL)


class Floor:
    """Bare SDK calls plus exactly the span and metric points otel-tokens records for them.

    :meth:`call` and :meth:`stream` work for any client, given a plan and the bare call;
    :meth:`chat` and :meth:`chat_stream` are the OpenAI calls of ``_wire.py``.
    """

    def __init__(self, tracer_provider: TracerProvider, meter_provider: MeterProvider) -> None:
        self._tracer = tracer_provider.get_tracer(FLOOR_SCOPE)
        meter = meter_provider.get_meter(FLOOR_SCOPE)
        # Same instruments and advisory buckets: bucket count changes the cost of a record().
        self._token_usage = meter.create_histogram(
            sc.GEN_AI_CLIENT_TOKEN_USAGE,
            unit="{token}",
            explicit_bucket_boundaries_advisory=list(ot_metrics.TOKEN_USAGE_BUCKETS),
        )
        self._duration = meter.create_histogram(
            sc.GEN_AI_CLIENT_OPERATION_DURATION,
            unit="s",
            explicit_bucket_boundaries_advisory=list(ot_metrics.DURATION_BUCKETS),
        )
        self._first_chunk = meter.create_histogram(
            sc.GEN_AI_CLIENT_OPERATION_TIME_TO_FIRST_CHUNK,
            unit="s",
            explicit_bucket_boundaries_advisory=list(ot_metrics.TIME_TO_FIRST_CHUNK_BUCKETS),
        )
        self._cost = meter.create_histogram(
            sc.OTEL_TOKENS_CLIENT_COST,
            unit="{USD}",
            explicit_bucket_boundaries_advisory=list(ot_metrics.COST_BUCKETS),
        )
        self._detail = meter.create_counter(sc.OTEL_TOKENS_CLIENT_TOKEN_DETAIL, unit="{token}")
        self._chat_plan = openai_plan(streaming=False)
        self._stream_plan = openai_plan(streaming=True)

    def chat(self, client: openai.OpenAI) -> Any:
        return self.call(self._chat_plan, _wire.chat, client)

    def chat_stream(self, client: openai.OpenAI) -> int:
        return self.stream(self._stream_plan, _wire.open_stream, client)

    def call(self, plan: Plan, request: Callable[[C], Any], client: C) -> Any:
        """``request(client)`` inside the plan's span, then the plan's metric points."""
        span = self._tracer.start_span(plan.span_name, kind=SpanKind.CLIENT, attributes=plan.start)
        started = time.perf_counter()
        token = context.attach(trace.set_span_in_context(span))
        try:
            result = request(client)
        finally:
            context.detach(token)
        duration = time.perf_counter() - started
        span.set_attributes(plan.end)
        span.end()
        self._record(plan, duration, None)
        return result

    def stream(self, plan: Plan, open_stream: Callable[[C], Iterable[Any]], client: C) -> int:
        """Open the stream inside the plan's span and read it to the end; returns the items seen."""
        span = self._tracer.start_span(plan.span_name, kind=SpanKind.CLIENT, attributes=plan.start)
        started = time.perf_counter()
        token = context.attach(trace.set_span_in_context(span))
        try:
            stream = open_stream(client)
        finally:
            context.detach(token)
        first_chunk: float | None = None
        seen = 0
        for _ in stream:
            # The one per-chunk thing the recorded telemetry needs: the time to the first chunk.
            if first_chunk is None:
                first_chunk = time.perf_counter() - started
                span.set_attribute(sc.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK, first_chunk)
            seen += 1
        duration = time.perf_counter() - started
        span.set_attributes(plan.end)
        span.end()
        self._record(plan, duration, first_chunk)
        return seen

    def _record(self, plan: Plan, duration: float, first_chunk: float | None) -> None:
        # The context read once for every point, as otel_tokens.record does (the SDK reads it
        # per point when none is given): the same exemplar decision, less work.
        ctx = context.get_current()
        self._duration.record(duration, plan.metric, ctx)
        if first_chunk is not None:
            self._first_chunk.record(first_chunk, plan.metric, ctx)
        for value, attributes in plan.tokens:
            self._token_usage.record(value, attributes, ctx)
        for value, attributes in plan.details:
            self._detail.add(value, attributes, ctx)
        self._cost.record(plan.cost, plan.metric, ctx)
