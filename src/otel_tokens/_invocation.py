"""One LLM call in flight: what an instrumentor says about it, and the lifecycle the core owns.

An instrumentor describes a call with a :class:`CallRequest` when it starts and a
:class:`CallResult` when it ends. The core turns the request into an :class:`Invocation`
(``Recorder.start``), which owns the span, the timing and the metric attributes, and ends it
exactly once through :meth:`Invocation.end`, whichever way the call ends: response read,
stream exhausted, closed or dropped, error raised, or an interrupt arriving while the
telemetry was being written (the end is then completed on the next attempt or at collection).
"""

from __future__ import annotations

import contextlib
import contextvars
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING, Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.instrumentation.utils import is_instrumentation_enabled
from opentelemetry.trace import Span

from otel_tokens import semconv
from otel_tokens._safety import report
from otel_tokens.tokenize import Estimate, Tokenizer
from otel_tokens.usage import Usage

if TYPE_CHECKING:
    from otel_tokens._guardrails import Admission
    from otel_tokens.record import Recorder

EstimateFn = Callable[[Tokenizer], Estimate]

# True while an instrumented call is running in this context: an instrumented library calling
# another instrumented client underneath must be counted once, by the outermost layer.
_in_call: contextvars.ContextVar[bool] = contextvars.ContextVar("otel_tokens_in_call", default=False)


def in_instrumented_call() -> bool:
    """True inside a call that otel-tokens records (so a nested instrumented call is not counted)."""
    return _in_call.get()


def should_record() -> bool:
    """False inside a recorded call (count once) or under OpenTelemetry's ``suppress_instrumentation()``."""
    return not _in_call.get() and is_instrumentation_enabled()


def enter_call() -> contextvars.Token[bool]:
    """Mark the current context as inside a recorded call; undo with :func:`exit_call`."""
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
    gateway: bool = False
    """True when the host is no known provider (a gateway or proxy): ``provider`` is then only the
    client's default, and the price is found from the model name (see ``otel_tokens.pricing``)."""
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


_PENDING, _ENDING, _ENDED = 0, 1, 2


class Invocation:
    """One call in flight: its span, start time and metric attributes.

    :meth:`end` ends it exactly once. If the end is interrupted (a ``KeyboardInterrupt`` while
    the telemetry is written), the next :meth:`end` call, or the collection of the invocation,
    completes it with what the first call was given; the recorder's steps are idempotent.
    """

    __slots__ = (
        "_recorder",
        "request",
        "span",
        "started",
        "metric_attributes",
        "time_to_first_chunk",
        "_state",
        "_result",
        "_error",
        "progress",
        "ended_at",
        "admission",
    )

    def __init__(
        self,
        recorder: Recorder | None,
        request: CallRequest,
        span: Span,
        started: float,
        metric_attributes: dict[str, Any],
        admission: Admission | None = None,
    ) -> None:
        self._recorder = recorder
        self.request = request
        self.span = span
        self.started = started
        self.metric_attributes = metric_attributes
        self.time_to_first_chunk: float | None = None
        self._state = _PENDING
        self._result: CallResult | None = None
        self._error: BaseException | None = None
        self.progress = 0
        """How many of the recorder's end steps are done (so an interrupted end resumes, never repeats)."""
        self.ended_at: tuple[float, int, int] | None = None
        """(duration s, end time ns, invalid counts seen), fixed by the first end attempt."""
        self.admission = admission
        """What the guardrails decided and hold for the call (settled when it ends); None: no policy."""

    def first_chunk(self) -> None:
        """Note the arrival of a stream's first chunk (the stream proxies call it themselves)."""
        if self.time_to_first_chunk is None:
            self.time_to_first_chunk = time.perf_counter() - self.started
            if self.span.is_recording():
                self.span.set_attribute(semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK, self.time_to_first_chunk)

    @property
    def done(self) -> bool:
        return self._state == _ENDED

    def end(self, result: CallResult | None = None, error: BaseException | None = None) -> None:
        """End the call with what the response said (``result``) and the error that ended it, if any.

        Called once per call by the core; later calls do nothing, except to complete an end
        that an interrupt cut short. Never raises an internal error into the caller.
        """
        state = self._state
        if state == _ENDED:
            return
        if state == _PENDING:
            self._result, self._error = result, error
            self._state = _ENDING
        recorder = self._recorder
        if recorder is None:
            self._state = _ENDED
            return
        try:
            recorder.complete(self, self._result, self._error)
        except Exception as internal:  # noqa: BLE001
            report("record.end", internal)
        self._state = _ENDED
        self._result = self._error = None  # drop references to response objects and tracebacks

    def __del__(self) -> None:
        # A call whose end was interrupted, or that nothing ended (an SDK object we never saw
        # again), still ends its span when the invocation is collected.
        if self._state != _ENDED:
            with contextlib.suppress(BaseException):  # nothing may escape a finaliser
                self.end()


class CallScope:
    """The scope of the wrapped call: the span is current, nested instrumented calls are not
    counted again, and an exception that ends the call ends the invocation with it (and passes
    through unchanged). Used by every call shell and by instrumentors that start a call themselves
    (a stream manager's ``__enter__``)."""

    __slots__ = ("_invocation", "_call_token", "_context_token")

    def __init__(self, invocation: Invocation) -> None:
        self._invocation = invocation

    def __enter__(self) -> Invocation:
        self._call_token = _in_call.set(True)
        # attach/detach directly: trace.use_span is a generator context manager, 3x the cost.
        self._context_token = otel_context.attach(trace.set_span_in_context(self._invocation.span))
        return self._invocation

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        otel_context.detach(self._context_token)
        _in_call.reset(self._call_token)
        if exc is not None:
            self._invocation.end(None, exc)
