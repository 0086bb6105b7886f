"""The one place that writes span attributes and metric points for an LLM call.

An instrumentor describes a call with a :class:`CallRequest` when it starts and a
:class:`CallResult` when it ends; :class:`Recorder` turns them into a CLIENT span and metric
points the same way for every provider. Usage, cost and tags are computed here, each step
guarded on its own so that a pricing failure cannot lose the token counts.
"""

from __future__ import annotations

import contextvars
import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, Tracer

from otel_tokens import _runtime, _tags, _worker, semconv
from otel_tokens._safety import call_guarded, report
from otel_tokens._settings import Settings
from otel_tokens.metrics import Instruments
from otel_tokens.pricing import Cost, PriceBook
from otel_tokens.tokenize import Estimate, Tokenizer
from otel_tokens.usage import Usage

logger = logging.getLogger("otel_tokens")

EstimateFn = Callable[[Tokenizer], Estimate]

# True while an instrumented call is running in this context: an instrumented library calling
# another instrumented client underneath must be counted once, by the outermost layer.
_in_call: contextvars.ContextVar[bool] = contextvars.ContextVar("otel_tokens_in_call", default=False)


def in_instrumented_call() -> bool:
    return _in_call.get()


def enter_call() -> contextvars.Token[bool]:
    return _in_call.set(True)


def exit_call(token: contextvars.Token[bool]) -> None:
    _in_call.reset(token)


@dataclass(slots=True)
class CallRequest:
    """What is known when a call starts."""

    operation: str
    provider: str
    request_model: str | None
    server_address: str | None = None
    server_port: int | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    """Request attributes (``gen_ai.request.*``) for the span."""
    input_messages: Callable[[], Any] | None = None
    """Builds the ``gen_ai.input.messages`` value; called only when content capture is on."""
    estimate_input: EstimateFn | None = None
    """Counts input tokens locally; used only when the response reports no usage."""


@dataclass(slots=True)
class CallResult:
    """What the response said."""

    response_model: str | None = None
    response_id: str | None = None
    finish_reasons: tuple[str, ...] | None = None
    usage: Usage | None = None
    service_tier: str | None = None
    attributes: dict[str, Any] | None = None
    output_texts: list[str] | None = None
    """Generated text, for a local estimate of output tokens when usage is missing."""
    output_messages: Callable[[], Any] | None = None
    """Builds the ``gen_ai.output.messages`` value; called only when content capture is on."""


class Recorder:
    """Creates :class:`Invocation` objects for one instrumentor's tracer and instruments."""

    def __init__(self, tracer: Tracer, instruments: Instruments, settings: Settings | None = None) -> None:
        self._tracer = tracer
        self._instruments = instruments
        self.settings = settings or _runtime.settings()
        self._prices: PriceBook = _runtime.price_book()
        # Shared by every recorder, so the limit is per process; folds count on our own scope.
        self.guard = (
            _runtime.tag_guard()
            if settings is None
            else _tags.CardinalityGuard(self.settings.metric_tag_keys, self.settings.max_tag_values)
        )
        folded = instruments.tags_folded
        self._count_fold = lambda key: folded.add(1, {semconv.OTEL_TOKENS_TAG_KEY: key})

    def start(self, request: CallRequest) -> Invocation:
        """Start the span of a call; never raises (returns an inert invocation on failure)."""
        try:
            return self._start(request)
        except Exception as error:  # noqa: BLE001
            report("record.start", error)
            return Invocation(self, request, trace.INVALID_SPAN, time.perf_counter(), {})

    def _start(self, request: CallRequest) -> Invocation:
        attributes: dict[str, Any] = {
            semconv.GEN_AI_OPERATION_NAME: request.operation,
            semconv.GEN_AI_PROVIDER_NAME: request.provider,
        }
        if request.request_model:
            attributes[semconv.GEN_AI_REQUEST_MODEL] = request.request_model
        if request.server_address:
            attributes[semconv.SERVER_ADDRESS] = request.server_address
            if request.server_port:
                attributes[semconv.SERVER_PORT] = request.server_port
        if request.attributes:
            attributes.update(request.attributes)
        tag_values = _tags.effective_tags()
        if tag_values:
            attributes.update(_tags.span_attributes(tag_values))
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
        return Invocation(self, request, span, time.perf_counter(), metric_attributes)

    # -- completion ------------------------------------------------------------------------

    def _complete(self, inv: Invocation, result: CallResult | None, error: BaseException | None) -> None:
        duration = time.perf_counter() - inv.started
        end_ns = time.time_ns()
        usage = result.usage if result is not None else None
        if (
            result is not None
            and (usage is None or usage.is_empty)
            and self.settings.estimate_usage
            and (inv.request.estimate_input is not None or result.output_texts)
        ):
            # Off the call path: the tokenizer may need to load, and long texts take time.
            _worker.submit(
                lambda: self._emit(inv, result, self._estimate(inv, result), error, duration, end_ns)
            )
            return
        self._emit(inv, result, usage, error, duration, end_ns)

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
        self,
        inv: Invocation,
        result: CallResult | None,
        usage: Usage | None,
        error: BaseException | None,
        duration: float,
        end_ns: int,
    ) -> None:
        span = inv.span
        attrs = inv.metric_attributes  # owned by this invocation: extended in place, not copied
        if result is not None and result.response_model:
            attrs[semconv.GEN_AI_RESPONSE_MODEL] = result.response_model
        cost = None
        if usage is not None and not usage.is_empty:
            cost = call_guarded("pricing", self._price, inv, result, usage)
        recording = span.is_recording()
        if recording:
            call_guarded("span attributes", self._set_span_attributes, span, result, usage, cost, error)
        span.end(end_time=end_ns)
        call_guarded("metrics", self._record_metrics, inv, attrs, usage, cost, error, duration)

    def _price(self, inv: Invocation, result: CallResult | None, usage: Usage) -> Cost | None:
        tier = result.service_tier if result is not None else None
        provider = inv.request.provider
        response_model = result.response_model if result is not None else None
        model = response_model or inv.request.request_model
        if not model:
            return None
        return self._prices.cost(provider, model, usage, tier, fallback_model=inv.request.request_model)

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
        if usage is not None and not usage.is_empty:
            values.update(usage_attributes(usage))
            if cost is not None:
                values.update(cost_attributes(cost))
            else:
                values[semconv.OTEL_TOKENS_PRICE_MISSING] = True
        if error is not None:
            values[semconv.ERROR_TYPE] = type(error).__qualname__
            span.set_status(Status(StatusCode.ERROR, str(error)[:1024]))
        span.set_attributes(values)

    def _record_metrics(
        self,
        inv: Invocation,
        attrs: Mapping[str, Any],
        usage: Usage | None,
        cost: Cost | None,
        error: BaseException | None,
        duration: float,
    ) -> None:
        instruments = self._instruments
        if error is not None:
            instruments.operation_duration.record(
                duration, {**attrs, semconv.ERROR_TYPE: type(error).__qualname__}
            )
        else:
            instruments.operation_duration.record(duration, attrs)
        if inv.time_to_first_chunk is not None:
            instruments.time_to_first_chunk.record(inv.time_to_first_chunk, attrs)
        if usage is None or usage.is_empty:
            return
        if usage.estimated:
            attrs = {**attrs, semconv.OTEL_TOKENS_USAGE_ESTIMATED: True}
        token_usage = instruments.token_usage
        if usage.input_tokens is not None:
            token_usage.record(
                usage.input_tokens, {**attrs, semconv.GEN_AI_TOKEN_TYPE: semconv.TOKEN_TYPE_INPUT}
            )
        if usage.output_tokens is not None:
            token_usage.record(
                usage.output_tokens, {**attrs, semconv.GEN_AI_TOKEN_TYPE: semconv.TOKEN_TYPE_OUTPUT}
            )
        detail = instruments.token_detail
        if usage.cache_read_input_tokens:
            detail.add(
                usage.cache_read_input_tokens,
                {**attrs, semconv.OTEL_TOKENS_TOKEN_TYPE: semconv.TOKEN_DETAIL_CACHE_READ},
            )
        if usage.cache_creation_input_tokens:
            detail.add(
                usage.cache_creation_input_tokens,
                {**attrs, semconv.OTEL_TOKENS_TOKEN_TYPE: semconv.TOKEN_DETAIL_CACHE_CREATION},
            )
        if usage.reasoning_output_tokens:
            detail.add(
                usage.reasoning_output_tokens,
                {**attrs, semconv.OTEL_TOKENS_TOKEN_TYPE: semconv.TOKEN_DETAIL_REASONING},
            )
        if cost is not None:
            instruments.cost.record(cost.total, attrs)
        else:
            instruments.unpriced_calls.add(1, attrs)


class Invocation:
    """One call in flight. ``finish``/``fail`` end it exactly once; later calls are ignored."""

    __slots__ = (
        "_recorder",
        "request",
        "span",
        "started",
        "metric_attributes",
        "time_to_first_chunk",
        "_done",
    )

    def __init__(
        self,
        recorder: Recorder,
        request: CallRequest,
        span: Span,
        started: float,
        metric_attributes: dict[str, Any],
    ) -> None:
        self._recorder = recorder
        self.request = request
        self.span = span
        self.started = started
        self.metric_attributes = metric_attributes
        self.time_to_first_chunk: float | None = None
        self._done = False

    def first_chunk(self) -> None:
        """Note the arrival of a stream's first chunk."""
        if self.time_to_first_chunk is None:
            self.time_to_first_chunk = time.perf_counter() - self.started
            if self.span.is_recording():
                self.span.set_attribute(semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK, self.time_to_first_chunk)

    @property
    def done(self) -> bool:
        return self._done

    def finish(self, result: CallResult | None) -> None:
        if self._done:
            return
        self._done = True
        call_guarded("record.finish", self._recorder._complete, self, result, None)

    def fail(self, error: BaseException, result: CallResult | None = None) -> None:
        if self._done:
            return
        self._done = True
        call_guarded("record.fail", self._recorder._complete, self, result, error)


def usage_attributes(usage: Usage) -> dict[str, Any]:
    """Span attributes for token counts (only the counts the provider reported)."""
    values: dict[str, Any] = {}
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
    return values


def cost_attributes(cost: Cost) -> dict[str, Any]:
    """Span attributes for a cost: the proposed ``gen_ai.usage.cost.*`` plus our breakdown."""
    values: dict[str, Any] = {
        semconv.GEN_AI_USAGE_COST_AMOUNT: cost.total,
        semconv.GEN_AI_USAGE_COST_CURRENCY: semconv.CURRENCY_USD,
        semconv.GEN_AI_USAGE_COST_SOURCE: semconv.COST_SOURCE_LOCAL,
        semconv.OTEL_TOKENS_COST_INPUT: cost.input,
        semconv.OTEL_TOKENS_COST_OUTPUT: cost.output,
        semconv.OTEL_TOKENS_PRICE_SOURCE: cost.source,
    }
    if cost.cache_read:
        values[semconv.OTEL_TOKENS_COST_CACHE_READ] = cost.cache_read
    if cost.cache_creation:
        values[semconv.OTEL_TOKENS_COST_CACHE_CREATION] = cost.cache_creation
    if cost.service_tier:
        values[semconv.OTEL_TOKENS_PRICE_TIER] = cost.service_tier
    return values


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)
