"""The guardrails' state as observable gauges: spend, limit and holds per budget and group, and
each breaker's state, read from the store when metrics are collected (not on the call path).

With a Redis store, every process of a fleet reports the same shared counters under its own
``service.instance.id``: dashboards take the ``max`` across instances, never the sum.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from opentelemetry import metrics
from opentelemetry.metrics import CallbackOptions, Observation

from otel_tokens import _runtime, semconv
from otel_tokens._budget_store import CounterState, StoreUnavailable
from otel_tokens._guardrails import group_attributes
from otel_tokens._safety import report

SCOPE = "otel_tokens.guardrails"
_STATES = {semconv.BREAKER_CLOSED: 0, semconv.BREAKER_HALF_OPEN: 1, semconv.BREAKER_OPEN: 2}


def register(meter_provider: Any = None) -> None:
    """Register the gauges on ``meter_provider`` (default: the global one), once per provider."""
    provider = meter_provider if meter_provider is not None else metrics.get_meter_provider()
    registered = _runtime.STATE.gauge_providers
    if any(existing is provider for existing in registered):
        return
    registered.append(provider)
    from otel_tokens import __version__

    meter = metrics.get_meter(SCOPE, __version__, meter_provider=provider)
    meter.create_observable_gauge(
        semconv.OTEL_TOKENS_BUDGET_SPEND,
        [lambda options: _counters(options, "spent")],
        description="Settled spend of each budget and group in its current window (USD or tokens).",
    )
    meter.create_observable_gauge(
        semconv.OTEL_TOKENS_BUDGET_LIMIT,
        [lambda options: _counters(options, "limit")],
        description="Limit of each budget and group (USD or tokens); absent for an unlimited budget.",
    )
    meter.create_observable_gauge(
        semconv.OTEL_TOKENS_BUDGET_RESERVED,
        [lambda options: _counters(options, "held")],
        description="Held by calls in flight against each budget and group (USD or tokens).",
    )
    meter.create_observable_gauge(
        semconv.OTEL_TOKENS_BREAKER_STATE_METRIC,
        [_breakers],
        description="State of each runaway breaker and group: 0 closed, 1 half-open, 2 open.",
    )


def _counters(options: CallbackOptions, field: str) -> Iterable[Observation]:
    guardrails = _runtime.STATE.guardrails
    if guardrails is None:
        return []
    try:
        states = guardrails.snapshot()
    except StoreUnavailable:
        return []  # counted on the call path; a gauge simply has no point this time
    except Exception as error:  # noqa: BLE001
        report("guardrail gauges", error)
        return []
    units = {b.id: b.unit for b in guardrails.policy.budgets}
    observations = []
    for state in states:
        value = _value(state, field)
        if value is None:
            continue
        counter = state.counter
        attributes = {
            semconv.OTEL_TOKENS_BUDGET_ID: counter.budget_id,
            semconv.OTEL_TOKENS_BUDGET_UNIT: units.get(counter.budget_id, semconv.BUDGET_UNIT_USD),
            **group_attributes(counter.group),
        }
        observations.append(Observation(value, attributes))
    return observations


def _value(state: CounterState, field: str) -> float | None:
    if field == "limit":
        return state.counter.limit
    return state.spent if field == "spent" else state.held


def _breakers(options: CallbackOptions) -> Iterable[Observation]:
    guardrails = _runtime.STATE.guardrails
    if guardrails is None:
        return []
    try:
        statuses = guardrails.breakers.states(guardrails.clock())
    except Exception as error:  # noqa: BLE001
        report("guardrail gauges", error)
        return []
    return [
        Observation(
            _STATES[status.state],
            {semconv.OTEL_TOKENS_BREAKER_ID: status.rule_id, **group_attributes(status.group)},
        )
        for status in statuses
    ]
