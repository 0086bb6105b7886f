"""The metric instruments otel-tokens records, created once per meter.

Bucket boundaries are given as the instruments' advisory boundaries, so they apply without
the user configuring a View: the SDK's default buckets are latency-shaped and would put
every token count above 10 into the last buckets.
"""

from __future__ import annotations

from dataclasses import dataclass

from opentelemetry.metrics import Counter, Histogram, Meter

from otel_tokens import semconv

# From the GenAI semantic conventions.
TOKEN_USAGE_BUCKETS = tuple(float(4**power) for power in range(14))  # 1, 4, 16, ... 67108864
DURATION_BUCKETS = (0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92)
TIME_TO_FIRST_CHUNK_BUCKETS = (
    0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
)  # fmt: skip
# Ours: USD per call, from a hundredth of a cent's hundredth to 100 dollars (roughly x3 steps).
COST_BUCKETS = (
    0.000001, 0.000003, 0.00001, 0.00003, 0.0001, 0.0003, 0.001, 0.003,
    0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0,
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Instruments:
    token_usage: Histogram
    operation_duration: Histogram
    time_to_first_chunk: Histogram
    cost: Histogram
    token_detail: Counter
    unpriced_calls: Counter
    tags_folded: Counter
    telemetry_dropped: Counter
    budget_decisions: Counter
    threshold_crossings: Counter
    breaker_transitions: Counter
    store_errors: Counter
    provider_limits: Counter


def create_instruments(meter: Meter) -> Instruments:
    """Create every instrument on ``meter``."""
    return Instruments(
        token_usage=meter.create_histogram(
            semconv.GEN_AI_CLIENT_TOKEN_USAGE,
            unit="{token}",
            description="Number of input and output tokens used.",
            explicit_bucket_boundaries_advisory=list(TOKEN_USAGE_BUCKETS),
        ),
        operation_duration=meter.create_histogram(
            semconv.GEN_AI_CLIENT_OPERATION_DURATION,
            unit="s",
            description="GenAI operation duration.",
            explicit_bucket_boundaries_advisory=list(DURATION_BUCKETS),
        ),
        time_to_first_chunk=meter.create_histogram(
            semconv.GEN_AI_CLIENT_OPERATION_TIME_TO_FIRST_CHUNK,
            unit="s",
            description="Time from the request until the first chunk of a streamed response.",
            explicit_bucket_boundaries_advisory=list(TIME_TO_FIRST_CHUNK_BUCKETS),
        ),
        cost=meter.create_histogram(
            semconv.OTEL_TOKENS_CLIENT_COST,
            # Curly braces: an annotation, so Prometheus names it otel_tokens_client_cost_*.
            unit="{USD}",
            description="Cost of one GenAI call in US dollars; the sum is total spend.",
            explicit_bucket_boundaries_advisory=list(COST_BUCKETS),
        ),
        token_detail=meter.create_counter(
            semconv.OTEL_TOKENS_CLIENT_TOKEN_DETAIL,
            unit="{token}",
            description="Cache-read, cache-write and reasoning tokens (already inside input/output).",
        ),
        unpriced_calls=meter.create_counter(
            semconv.OTEL_TOKENS_CLIENT_UNPRICED_CALLS,
            unit="{call}",
            description="GenAI calls whose model has no known price, so no cost was recorded.",
        ),
        tags_folded=meter.create_counter(
            semconv.OTEL_TOKENS_TAGS_FOLDED,
            unit="{value}",
            description="Tag values folded into __overflow__ because the key had too many values.",
        ),
        telemetry_dropped=meter.create_counter(
            semconv.OTEL_TOKENS_TELEMETRY_DROPPED,
            unit="{item}",
            description="Parts of a call's telemetry deliberately left out, by otel_tokens.drop.reason.",
        ),
        budget_decisions=meter.create_counter(
            semconv.OTEL_TOKENS_BUDGET_DECISIONS,
            unit="{call}",
            description="Calls a guardrail warned about, blocked or downgraded, by guardrail and decision.",
        ),
        threshold_crossings=meter.create_counter(
            semconv.OTEL_TOKENS_BUDGET_THRESHOLD_CROSSINGS,
            unit="{crossing}",
            description="Budget thresholds reached (each once per window).",
        ),
        breaker_transitions=meter.create_counter(
            semconv.OTEL_TOKENS_BREAKER_TRANSITIONS,
            unit="{transition}",
            description="Runaway breaker state changes, by the state entered.",
        ),
        store_errors=meter.create_counter(
            semconv.OTEL_TOKENS_BUDGET_STORE_ERRORS,
            unit="{error}",
            description="Budget store calls that failed or timed out (the budget's fail_mode applied).",
        ),
        provider_limits=meter.create_counter(
            semconv.OTEL_TOKENS_CLIENT_PROVIDER_LIMITS,
            unit="{call}",
            description="Calls refused by the provider's own spending cap.",
        ),
    )
