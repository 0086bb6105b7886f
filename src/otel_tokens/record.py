"""The one place that writes span attributes and metric points for an LLM call.

An instrumentor describes a call with a :class:`CallRequest` when it starts and a
:class:`CallResult` when it ends; :class:`Recorder` turns them into a CLIENT span and metric
points the same way for every provider. Usage, cost and tags are computed here, each step
guarded on its own so that a pricing failure cannot lose the token counts. Ending is split
into numbered side effects (span attributes, span end, each metric point) so that an end
cut short by an interrupt resumes where it stopped and never writes anything twice.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, Tracer

from otel_tokens import _guardrail_outcome, _redaction, _runtime, _tags, _worker, semconv
from otel_tokens._guardrails import Admission, release_call
from otel_tokens._invocation import (
    CallRequest,
    CallResult,
    EstimateFn,
    Invocation,
    enter_call,
    exit_call,
    in_instrumented_call,
)
from otel_tokens._provider_limits import provider_limit
from otel_tokens._safety import call_guarded, report
from otel_tokens._settings import Settings
from otel_tokens.metrics import Instruments
from otel_tokens.pricing import Cost, PriceBook
from otel_tokens.usage import Usage, take_invalid_count

logger = logging.getLogger("otel_tokens")

__all__ = [
    "CallRequest",
    "CallResult",
    "EstimateFn",
    "Invocation",
    "Recorder",
    "cost_attributes",
    "enter_call",
    "exit_call",
    "in_instrumented_call",
    "usage_attributes",
]

Point = tuple[Callable[..., None], Any, Mapping[str, Any]]
"""``(instrument method, value, attributes)``: called as ``record(value, attributes, context)``."""


class Recorder:
    """Starts :class:`Invocation` objects for one instrumentor's tracer and instruments, and
    writes their telemetry when they end. Settings, prices and the tag guard are the process's."""

    def __init__(self, tracer: Tracer, instruments: Instruments) -> None:
        self._tracer = tracer
        self._instruments = instruments
        self.settings: Settings = _runtime.settings()
        self._prices: PriceBook = _runtime.price_book()
        # Shared by every recorder, so the limit is per process; folds count on our own scope.
        self.guard = _runtime.tag_guard()
        folded = instruments.tags_folded
        self._count_fold = lambda key: folded.add(1, {semconv.OTEL_TOKENS_TAG_KEY: key})

    def start(self, request: CallRequest, admission: Admission | None = None) -> Invocation:
        """Start the span of a call (with the guardrails' decision, if any); never raises
        (returns an inert invocation on failure, which still settles the admission)."""
        try:
            return self._start(request, admission)
        except Exception as error:  # noqa: BLE001
            report("record.start", error)
            release_call(admission)
            return Invocation(None, request, trace.INVALID_SPAN, time.perf_counter(), {})

    def _start(self, request: CallRequest, admission: Admission | None = None) -> Invocation:
        tag_values = _tags.effective_tags()
        attributes: dict[str, Any] = {}
        dropped_tags = 0
        if tag_values:
            # Tags first: if the span's attribute limit is still reached, the SDK evicts the
            # oldest attributes, and those must be tags, never the conventions' own.
            tag_attributes, dropped_tags = _tags.span_attributes(tag_values, self.guard.keys)
            attributes.update(tag_attributes)
        attributes[semconv.GEN_AI_OPERATION_NAME] = request.operation
        attributes[semconv.GEN_AI_PROVIDER_NAME] = request.provider
        if request.request_model:
            attributes[semconv.GEN_AI_REQUEST_MODEL] = request.request_model
        if request.server_address:
            attributes[semconv.SERVER_ADDRESS] = request.server_address
            if request.server_port:
                attributes[semconv.SERVER_PORT] = request.server_port
        if request.attributes:
            attributes.update(request.attributes)
        if admission is not None:
            attributes.update(_guardrail_outcome.span_attributes(admission))
        name = f"{request.operation} {request.request_model}" if request.request_model else request.operation
        span = self._tracer.start_span(name, kind=SpanKind.CLIENT, attributes=attributes)
        if self.settings.capture_content and request.input_messages is not None and span.is_recording():
            messages = call_guarded("capture input", request.input_messages)
            if messages:
                span.set_attribute(semconv.GEN_AI_INPUT_MESSAGES, _json(messages))
        metric_attributes: dict[str, Any] = {
            semconv.GEN_AI_OPERATION_NAME: request.operation,
            semconv.GEN_AI_PROVIDER_NAME: request.provider,
        }
        if request.request_model:
            metric_attributes[semconv.GEN_AI_REQUEST_MODEL] = request.request_model
        if request.server_address:
            metric_attributes[semconv.SERVER_ADDRESS] = request.server_address
        if tag_values:
            metric_attributes.update(self.guard.metric_attributes(tag_values, self._count_fold))
        if admission is not None:
            if admission.approved is not None:
                metric_attributes[semconv.OTEL_TOKENS_MODEL_APPROVED] = admission.approved
            _guardrail_outcome.write_admission(span, self._instruments, admission)
        invocation = Invocation(self, request, span, time.perf_counter(), metric_attributes, admission)
        if dropped_tags:
            self._count_dropped(semconv.DROP_SPAN_TAGS_LIMIT, dropped_tags, metric_attributes)
        return invocation

    # -- completion ------------------------------------------------------------------------

    def complete(self, inv: Invocation, result: CallResult | None, error: BaseException | None) -> None:
        """Write the call's telemetry (called by :meth:`Invocation.end`; resumable, see the module doc).

        A call without reported usage hands its local estimate and the rest of its telemetry to
        the background worker; when the worker's queue is full it is recorded at once without
        the estimate, and counted.
        """
        if inv.ended_at is None:
            inv.ended_at = (time.perf_counter() - inv.started, time.time_ns(), take_invalid_count())
            usage = result.usage if result is not None else None
            if (
                result is not None
                and (usage is None or usage.is_empty)
                and self.settings.estimate_usage
                and (inv.request.estimate_input is not None or result.output_texts)
            ):
                inv.progress = _QUEUED
                # Off the call path: the tokenizer may need to load, and long texts take time.
                if _worker.submit(lambda: self._emit(inv, result, self._estimate(inv, result), error)):
                    return
                inv.progress = 0
                self._count_dropped(semconv.DROP_ESTIMATE_QUEUE_FULL, 1, inv.metric_attributes)
        elif inv.progress == _QUEUED:
            return  # the worker owns it
        self._emit(inv, result, result.usage if result is not None else None, error)

    def _estimate(self, inv: Invocation, result: CallResult) -> Usage:
        tokenizer = _runtime.tokenizer()
        methods: list[str] = []
        input_tokens = output_tokens = None
        if inv.request.estimate_input is not None:
            estimate = inv.request.estimate_input(tokenizer)
            input_tokens = estimate.tokens
            methods.append(estimate.method)
        if result.output_texts is not None:
            model = result.response_model or inv.request.request_model
            # Streamed pieces are joined first: tokens span chunk boundaries.
            estimate = tokenizer.count_text(model, "".join(result.output_texts))
            output_tokens = estimate.tokens
            methods.append(estimate.method)
        method = "+".join(dict.fromkeys(methods))
        return Usage(
            input_tokens=input_tokens, output_tokens=output_tokens, estimated=True, estimate_method=method
        )

    def _emit(
        self, inv: Invocation, result: CallResult | None, usage: Usage | None, error: BaseException | None
    ) -> None:
        assert inv.ended_at is not None
        duration, end_ns, invalid = inv.ended_at
        if inv.progress == _QUEUED:
            inv.progress = 0
        span = inv.span
        attrs = inv.metric_attributes  # owned by this invocation: extended in place, not copied
        if result is not None and result.response_model:
            attrs[semconv.GEN_AI_RESPONSE_MODEL] = result.response_model
        if usage is not None:
            invalid += usage.validate()
            if usage.is_empty:
                usage = None  # from here on, None means "no counts" (one check, not one per step)
        cost = None
        if usage is not None:
            # Guarded inline, not through call_guarded: this runs on every call (see _record_points).
            try:
                cost = self._price(inv, result, usage)
            except Exception as internal:  # noqa: BLE001
                report("pricing", internal)
        admission = inv.admission
        if admission is not None and not admission.settled:
            try:
                settled = admission.owner.settle(admission, usage, cost)
                _guardrail_outcome.write_settle(span, self._instruments, settled)
            except Exception as internal:  # noqa: BLE001
                report("guardrails settle", internal)
        if inv.progress == 0:
            if span.is_recording():
                try:
                    self._set_span_attributes(span, result, usage, cost, error)
                except Exception as internal:  # noqa: BLE001
                    report("span attributes", internal)
            inv.progress = 1
        if inv.progress == 1:
            span.end(end_time=end_ns)
            inv.progress = 2
        try:
            points = self._metric_points(inv, attrs, usage, cost, error, duration)
        except Exception as internal:  # noqa: BLE001
            report("metrics", internal)
            return
        if invalid:
            points.append(self._dropped_point(semconv.DROP_INVALID_USAGE, invalid, attrs))
        _record_points(points, inv)

    def _price(self, inv: Invocation, result: CallResult | None, usage: Usage) -> Cost | None:
        tier = result.service_tier if result is not None else None
        provider = inv.request.provider
        response_model = result.response_model if result is not None else None
        model = response_model or inv.request.request_model
        if not model:
            return None
        return self._prices.cost(provider, model, usage, tier, inv.request.request_model, inv.request.gateway)

    def _set_span_attributes(
        self,
        span: Span,
        result: CallResult | None,
        usage: Usage | None,
        cost: Cost | None,
        error: BaseException | None,
    ) -> None:
        values: dict[str, Any] = {}
        if result is not None:
            if result.response_model:
                values[semconv.GEN_AI_RESPONSE_MODEL] = result.response_model
            if result.response_id:
                values[semconv.GEN_AI_RESPONSE_ID] = result.response_id
            if result.finish_reasons:
                values[semconv.GEN_AI_RESPONSE_FINISH_REASONS] = result.finish_reasons
            if result.attributes:
                values.update(result.attributes)
            if self.settings.capture_content and result.output_messages is not None:
                messages = call_guarded("capture output", result.output_messages)
                if messages:
                    values[semconv.GEN_AI_OUTPUT_MESSAGES] = _json(messages)
        if usage is not None:  # never empty here (see _emit)
            _put_usage(values, usage)
            if cost is not None:
                _put_cost(values, cost)
            else:
                values[semconv.OTEL_TOKENS_PRICE_MISSING] = True
        if error is not None:
            values[semconv.ERROR_TYPE] = type(error).__qualname__
            cap = provider_limit(error)
            if cap is not None:
                values[semconv.OTEL_TOKENS_LIMIT_PROVIDER] = cap
            status = _redaction.http_status(error)
            if status is not None:
                values[semconv.HTTP_RESPONSE_STATUS_CODE] = status
            description = _redaction.error_description(error, status, self.settings.capture_content)
            span.set_status(Status(StatusCode.ERROR, description))
        span.set_attributes(values)

    def _metric_points(
        self,
        inv: Invocation,
        attrs: dict[str, Any],
        usage: Usage | None,
        cost: Cost | None,
        error: BaseException | None,
        duration: float,
    ) -> list[Point]:
        """Every metric point of the call, in a fixed order, not yet recorded."""
        instruments = self._instruments
        points: list[Point] = []
        if error is not None:
            points.append(
                (
                    instruments.operation_duration.record,
                    duration,
                    {**attrs, semconv.ERROR_TYPE: type(error).__qualname__},
                )
            )
            cap = provider_limit(error)
            if cap is not None:
                points.append(
                    (instruments.provider_limits.add, 1, {**attrs, semconv.OTEL_TOKENS_LIMIT_PROVIDER: cap})
                )
        else:
            points.append((instruments.operation_duration.record, duration, attrs))
        if inv.time_to_first_chunk is not None:
            points.append((instruments.time_to_first_chunk.record, inv.time_to_first_chunk, attrs))
        if usage is None:  # never empty here (see _emit)
            return points
        measured: Mapping[str, Any] = attrs
        if usage.estimated:
            measured = {**attrs, semconv.OTEL_TOKENS_USAGE_ESTIMATED: True}
        record_tokens = instruments.token_usage.record
        if usage.input_tokens is not None:
            points.append(
                (
                    record_tokens,
                    usage.input_tokens,
                    {**measured, semconv.GEN_AI_TOKEN_TYPE: semconv.TOKEN_TYPE_INPUT},
                )
            )
        if usage.output_tokens is not None:
            points.append(
                (
                    record_tokens,
                    usage.output_tokens,
                    {**measured, semconv.GEN_AI_TOKEN_TYPE: semconv.TOKEN_TYPE_OUTPUT},
                )
            )
        add_detail = instruments.token_detail.add
        for value, kind in (
            (usage.cache_read_input_tokens, semconv.TOKEN_DETAIL_CACHE_READ),
            (usage.cache_creation_input_tokens, semconv.TOKEN_DETAIL_CACHE_CREATION),
            (usage.reasoning_output_tokens, semconv.TOKEN_DETAIL_REASONING),
        ):
            if value:
                points.append((add_detail, value, {**measured, semconv.OTEL_TOKENS_TOKEN_TYPE: kind}))
        if cost is not None:
            points.append((instruments.cost.record, cost.total, measured))
        else:
            points.append((instruments.unpriced_calls.add, 1, measured))
        return points

    def _dropped_point(self, reason: str, amount: int, attrs: Mapping[str, Any]) -> Point:
        return (
            self._instruments.telemetry_dropped.add,
            amount,
            {**attrs, semconv.OTEL_TOKENS_DROP_REASON: reason},
        )

    def _count_dropped(self, reason: str, amount: int, attrs: Mapping[str, Any]) -> None:
        record, value, point_attributes = self._dropped_point(reason, amount, attrs)
        call_guarded("metrics", record, value, point_attributes)


def _record_points(points: list[Point], inv: Invocation) -> None:
    """Record the points ``inv`` has not recorded yet, each guarded on its own.

    The current context is read once and given to every point: the SDK would read it again for
    each (for the exemplar filter), and nothing here changes it in between.
    """
    ctx = otel_context.get_current()
    for record, value, point_attributes in points[inv.progress - 2 :]:
        inv.progress += 1  # before: an interrupt inside record() loses that point, never doubles it
        try:
            record(value, point_attributes, ctx)
        except Exception as internal:  # noqa: BLE001
            report("metrics", internal)


_QUEUED = -1
"""``Invocation.progress`` while the call's telemetry waits on the background worker."""


def usage_attributes(usage: Usage) -> dict[str, Any]:
    """Span attributes for token counts (only the counts the provider reported)."""
    values: dict[str, Any] = {}
    _put_usage(values, usage)
    return values


def cost_attributes(cost: Cost) -> dict[str, Any]:
    """Span attributes for a cost: the proposed ``gen_ai.usage.cost.*`` plus our breakdown."""
    values: dict[str, Any] = {}
    _put_cost(values, cost)
    return values


def _put_usage(values: dict[str, Any], usage: Usage) -> None:
    if usage.input_tokens is not None:
        values[semconv.GEN_AI_USAGE_INPUT_TOKENS] = usage.input_tokens
    if usage.output_tokens is not None:
        values[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] = usage.output_tokens
    if usage.cache_read_input_tokens is not None:
        values[semconv.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] = usage.cache_read_input_tokens
    if usage.cache_creation_input_tokens is not None:
        values[semconv.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS] = usage.cache_creation_input_tokens
    if usage.reasoning_output_tokens is not None:
        values[semconv.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS] = usage.reasoning_output_tokens
    if usage.cache_creation_1h_input_tokens:
        values[semconv.OTEL_TOKENS_USAGE_CACHE_CREATION_1H] = usage.cache_creation_1h_input_tokens
    if usage.search_units is not None:
        values[semconv.OTEL_TOKENS_USAGE_SEARCH_UNITS] = usage.search_units
    if usage.estimated:
        values[semconv.OTEL_TOKENS_USAGE_ESTIMATED] = True
        if usage.estimate_method:
            values[semconv.OTEL_TOKENS_USAGE_ESTIMATE_METHOD] = usage.estimate_method


def _put_cost(values: dict[str, Any], cost: Cost) -> None:
    values[semconv.GEN_AI_USAGE_COST_AMOUNT] = cost.total
    values[semconv.GEN_AI_USAGE_COST_CURRENCY] = semconv.CURRENCY_USD
    values[semconv.GEN_AI_USAGE_COST_SOURCE] = semconv.COST_SOURCE_LOCAL
    values[semconv.OTEL_TOKENS_COST_INPUT] = cost.input
    values[semconv.OTEL_TOKENS_COST_OUTPUT] = cost.output
    values[semconv.OTEL_TOKENS_PRICE_SOURCE] = cost.source
    if cost.cache_read:
        values[semconv.OTEL_TOKENS_COST_CACHE_READ] = cost.cache_read
    if cost.cache_creation:
        values[semconv.OTEL_TOKENS_COST_CACHE_CREATION] = cost.cache_creation
    if cost.service_tier:
        values[semconv.OTEL_TOKENS_PRICE_TIER] = cost.service_tier
    if cost.match is not None:  # inferred from a gateway call's model name
        values[semconv.OTEL_TOKENS_PRICE_MATCH] = cost.match
        values[semconv.OTEL_TOKENS_PRICE_PROVIDER] = cost.price_provider


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)
