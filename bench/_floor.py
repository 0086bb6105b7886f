"""The floor: what the OpenTelemetry SDK alone costs for the telemetry otel-tokens records.

For each call the floor does what ``otel_tokens.record`` does with plain OpenTelemetry API
calls and precomputed constants (the canned response is known in advance): a CLIENT span with
the same start attributes, made current around the SDK call (as the wrapper does, so HTTP
spans would nest under it), the same response/usage/cost attributes, ``end()``; the same
histogram and counter points with the same attribute dicts. No otel-tokens code runs on this
path: what remains between the floor and the instrumented mode is otel-tokens' own work
(reading the request and response, pricing, building attribute dicts, the wrapt shells).

Names come from ``otel_tokens.semconv`` and bucket boundaries from ``otel_tokens.metrics``;
both are plain constants read once at set-up.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from importlib.metadata import version
from typing import Any

import _wire
import openai
from opentelemetry import trace
from opentelemetry.metrics import MeterProvider
from opentelemetry.trace import SpanKind, TracerProvider

from otel_tokens import metrics as ot_metrics
from otel_tokens import semconv as sc

FLOOR_SCOPE = "bench.floor"

# gpt-4o-mini list prices, USD per token (input 0.15, cached input 0.075, output 0.60 per Mtok).
_INPUT_RATE, _CACHED_RATE, _OUTPUT_RATE = 0.15e-6, 0.075e-6, 0.60e-6
COST_INPUT = (_wire.PROMPT_TOKENS - _wire.CACHED_TOKENS) * _INPUT_RATE
COST_CACHE_READ = _wire.CACHED_TOKENS * _CACHED_RATE
COST_OUTPUT = _wire.COMPLETION_TOKENS * _OUTPUT_RATE
COST_TOTAL = COST_INPUT + COST_CACHE_READ + COST_OUTPUT


@dataclass(frozen=True)
class Plan:
    """Every attribute dict of one call, built once."""

    span_name: str
    start: dict[str, Any]
    end: dict[str, Any]
    metric: dict[str, Any]
    input_tokens: dict[str, Any]
    output_tokens: dict[str, Any]
    cache_read: dict[str, Any]
    reasoning: dict[str, Any]


def make_plan(streaming: bool) -> Plan:
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
        sc.OTEL_TOKENS_PRICE_SOURCE: f"genai-prices {version('genai-prices')}",
        sc.OTEL_TOKENS_COST_CACHE_READ: COST_CACHE_READ,
    }
    metric: dict[str, Any] = {
        sc.GEN_AI_OPERATION_NAME: sc.OPERATION_CHAT,
        sc.GEN_AI_PROVIDER_NAME: sc.PROVIDER_OPENAI,
        sc.GEN_AI_REQUEST_MODEL: _wire.REQUEST_MODEL,
        sc.SERVER_ADDRESS: _wire.SERVER_ADDRESS,
        sc.GEN_AI_RESPONSE_MODEL: _wire.RESPONSE_MODEL,
    }
    return Plan(
        span_name=f"{sc.OPERATION_CHAT} {_wire.REQUEST_MODEL}",
        start=start,
        end=end,
        metric=metric,
        input_tokens={**metric, sc.GEN_AI_TOKEN_TYPE: sc.TOKEN_TYPE_INPUT},
        output_tokens={**metric, sc.GEN_AI_TOKEN_TYPE: sc.TOKEN_TYPE_OUTPUT},
        cache_read={**metric, sc.OTEL_TOKENS_TOKEN_TYPE: sc.TOKEN_DETAIL_CACHE_READ},
        reasoning={**metric, sc.OTEL_TOKENS_TOKEN_TYPE: sc.TOKEN_DETAIL_REASONING},
    )


class Floor:
    """Bare SDK calls plus exactly the span and metric points otel-tokens records for them."""

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
        self._chat_plan = make_plan(streaming=False)
        self._stream_plan = make_plan(streaming=True)

    def chat(self, client: openai.OpenAI) -> Any:
        plan = self._chat_plan
        span = self._tracer.start_span(plan.span_name, kind=SpanKind.CLIENT, attributes=plan.start)
        started = time.perf_counter()
        with trace.use_span(span, record_exception=False, set_status_on_exception=False):
            result = _wire.chat(client)
        duration = time.perf_counter() - started
        span.set_attributes(plan.end)
        span.end()
        self._record(plan, duration, None)
        return result

    def chat_stream(self, client: openai.OpenAI) -> int:
        plan = self._stream_plan
        span = self._tracer.start_span(plan.span_name, kind=SpanKind.CLIENT, attributes=plan.start)
        started = time.perf_counter()
        with trace.use_span(span, record_exception=False, set_status_on_exception=False):
            stream = _wire.open_stream(client)
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
        self._duration.record(duration, plan.metric)
        if first_chunk is not None:
            self._first_chunk.record(first_chunk, plan.metric)
        self._token_usage.record(_wire.PROMPT_TOKENS, plan.input_tokens)
        self._token_usage.record(_wire.COMPLETION_TOKENS, plan.output_tokens)
        self._detail.add(_wire.CACHED_TOKENS, plan.cache_read)
        self._detail.add(_wire.REASONING_TOKENS, plan.reasoning)
        self._cost.record(COST_TOTAL, plan.metric)
