"""The guardrails' decisions, written into the call's telemetry: span attributes and events,
metric points and log records (thresholds reached, breakers changing state).

Kept apart from ``otel_tokens.record`` so that a process without a policy pays nothing for it,
and apart from ``otel_tokens._guardrails`` so that the decisions stay free of telemetry.
"""

from __future__ import annotations

import logging
from typing import Any

from opentelemetry.trace import Span

from otel_tokens import semconv
from otel_tokens._breaker import Transition
from otel_tokens._guardrails import Admission, SettleReport
from otel_tokens.metrics import Instruments

logger = logging.getLogger("otel_tokens")


def span_attributes(admission: Admission) -> dict[str, Any]:
    """The decision as span attributes (set when the span starts, so a sampler can see them)."""
    values: dict[str, Any] = {semconv.OTEL_TOKENS_BUDGET_DECISION: admission.decision}
    if admission.decided_by is not None:
        values[semconv.OTEL_TOKENS_BUDGET_ID] = admission.decided_by
    if admission.utilisation is not None:
        values[semconv.OTEL_TOKENS_BUDGET_UTILISATION] = admission.utilisation
    if admission.reservation is not None:
        values[semconv.OTEL_TOKENS_BUDGET_RESERVATION] = admission.reservation
        values[semconv.OTEL_TOKENS_BUDGET_UNIT] = admission.unit
    if admission.original_model is not None:
        values[semconv.OTEL_TOKENS_BUDGET_ORIGINAL_MODEL] = admission.original_model
    if admission.catalogue_id is not None:
        values[semconv.OTEL_TOKENS_CATALOGUE_ID] = admission.catalogue_id
        values[semconv.OTEL_TOKENS_MODEL_APPROVED] = bool(admission.approved)
    if admission.breakers:
        rule, _, _ = admission.breakers[0]
        values[semconv.OTEL_TOKENS_BREAKER_ID] = rule.id
    return values


def write_admission(span: Span, instruments: Instruments, admission: Admission) -> None:
    """Events and metric points of the decision, when the call's span has started."""
    recording = span.is_recording()
    for ident, decision in admission.actions:
        instruments.budget_decisions.add(
            1, {semconv.OTEL_TOKENS_BUDGET_ID: ident, semconv.OTEL_TOKENS_BUDGET_DECISION: decision}
        )
        if recording:
            span.add_event(
                semconv.EVENT_BUDGET_DECISION,
                {semconv.OTEL_TOKENS_BUDGET_ID: ident, semconv.OTEL_TOKENS_BUDGET_DECISION: decision},
            )
    for reason in admission.store_errors:
        instruments.store_errors.add(1, {semconv.OTEL_TOKENS_STORE_ERROR: reason})
    _transitions(span, instruments, admission.transitions)


def write_settle(span: Span, instruments: Instruments, settled: SettleReport) -> None:
    """Thresholds reached and breaker changes found when the call settled."""
    recording = span.is_recording()
    for result, threshold in settled.crossed:
        counter = result.counter
        labels = {
            semconv.OTEL_TOKENS_BUDGET_ID: counter.budget_id,
            semconv.OTEL_TOKENS_BUDGET_THRESHOLD: f"{threshold:g}",
        }
        instruments.threshold_crossings.add(1, labels)
        where = f" for {counter.group}" if counter.group else ""
        logger.warning(
            "otel-tokens: budget %r%s reached %g%% of its limit (%g of %g)",
            counter.budget_id, where, threshold * 100, result.spent, counter.limit,
        )  # fmt: skip
        if recording:
            span.add_event(
                semconv.EVENT_BUDGET_THRESHOLD,
                {
                    **labels,
                    semconv.OTEL_TOKENS_BUDGET_UTILISATION: result.spent / counter.limit
                    if counter.limit
                    else 1.0,
                },
            )
    for reason in settled.store_errors:
        instruments.store_errors.add(1, {semconv.OTEL_TOKENS_STORE_ERROR: reason})
    _transitions(span, instruments, settled.transitions)


def _transitions(span: Span, instruments: Instruments, transitions: list[Transition]) -> None:
    recording = span.is_recording()
    for change in transitions:
        labels = {
            semconv.OTEL_TOKENS_BREAKER_ID: change.rule_id,
            semconv.OTEL_TOKENS_BREAKER_STATE: change.to_state,
        }
        instruments.breaker_transitions.add(1, labels)
        where = f" for {change.group}" if change.group else ""
        level = logging.WARNING if change.to_state == semconv.BREAKER_OPEN else logging.INFO
        logger.log(
            level,
            "otel-tokens: runaway breaker %r%s: %s -> %s (%s)",
            change.rule_id, where, change.from_state, change.to_state, change.reason,
        )  # fmt: skip
        if recording:
            span.add_event(
                semconv.EVENT_BREAKER_TRANSITION,
                {**labels, semconv.OTEL_TOKENS_BREAKER_REASON: change.reason},
            )
