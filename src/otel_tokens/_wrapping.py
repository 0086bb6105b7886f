"""The call shells every instrumentor uses: sync and async, one code path each.

An instrumentor supplies an :class:`Endpoint` (pure, provider-specific: how to read a request,
a response and a stream); these shells do the rest the same way everywhere: step aside under
OpenTelemetry's ``suppress_instrumentation()`` and inside an outer recorded call (counted once),
call the wrapped function exactly once, return its result or a transparent proxy, and let the
user's exceptions through untouched.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from otel_tokens import _runtime
from otel_tokens._guardrails import Admission
from otel_tokens._invocation import CallRequest, CallResult, CallScope, Invocation, should_record
from otel_tokens._patching import PatchSpec
from otel_tokens._raw import is_raw_response, observe_raw_response
from otel_tokens._safety import report
from otel_tokens._settings import Settings
from otel_tokens._streams import StreamObserver, observe_stream
from otel_tokens._tags import effective_tags
from otel_tokens.budgets import GuardrailError
from otel_tokens.record import Recorder

WrapperFn = Callable[[Callable[..., Any], Any, tuple[Any, ...], dict[str, Any]], Any]


@dataclass(slots=True)
class Prepared:
    """What :meth:`Endpoint.prepare` found: the call's description and how to make it."""

    request: CallRequest
    kwargs: dict[str, Any]
    """The keyword arguments to call with (the user's, unless the endpoint had to add one)."""
    plan: Any = None
    """Anything the endpoint wants back when the result arrives."""
    stream: bool = False
    """The call returns a stream (decides how a raw response is read)."""
    args: tuple[Any, ...] = ()
    """The positional arguments to call with (set by the core: the user's, unless a guardrail
    sent the call to another model through :meth:`Endpoint.with_model`)."""


class Endpoint:
    """Provider-specific knowledge of one API method.

    Subclasses implement :meth:`prepare` and :meth:`read_result`; a method that can stream also
    :meth:`stream_observer`. :meth:`wrap_result` handles raw responses, streams and plain
    results; override it only where a client really differs (say why there).
    """

    def prepare(
        self, settings: Settings, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Prepared:
        """Describe the call from its arguments (``instance`` is the SDK object the method is on)."""
        raise NotImplementedError

    def read_result(self, result: Any, plan: Any) -> CallResult | None:
        """What a complete (non-streamed) response said."""
        raise NotImplementedError

    def with_model(self, prepared: Prepared, model: str) -> bool:
        """Make the call ask for ``model`` instead (a guardrail's downgrade): rewrite
        ``prepared.kwargs`` / ``prepared.args`` without touching the user's own objects.

        The default replaces a ``model`` keyword argument; override where the model travels
        elsewhere. Returns False when the model cannot be changed (the call then goes as asked).
        """
        if "model" not in prepared.kwargs:
            return False
        prepared.kwargs = {**prepared.kwargs, "model": model}
        return True

    def recorded_model(self, prepared: Prepared, model: str) -> str:
        """The ``gen_ai.request.model`` of a call sent to ``model`` by :meth:`with_model`: the
        name as the provider sees it (override where the client routes on a prefix)."""
        return model

    def stream_observer(self, result: Any, plan: Any) -> StreamObserver | None:
        """An observer for ``result`` if it is a stream, else ``None`` (read it with :meth:`read_result`)."""
        return None

    def wrap_result(self, invocation: Invocation, result: Any, prepared: Prepared, is_async: bool) -> Any:
        """End ``invocation`` from ``result`` (or hand it to a stream proxy); return what the user gets."""
        if is_raw_response(result):
            plan = prepared.plan
            return observe_raw_response(
                invocation, result, prepared.stream, lambda inv, parsed: self._observe(inv, parsed, plan)
            )
        return self._observe(invocation, result, prepared.plan)

    def _observe(self, invocation: Invocation, result: Any, plan: Any) -> Any:
        observer = self.stream_observer(result, plan)
        if observer is not None:
            return observe_stream(invocation, result, observer)
        invocation.end(self.read_result(result, plan))
        return result


def sync_wrapper(recorder: Recorder, endpoint: Endpoint) -> WrapperFn:
    """The wrapt wrapper of a sync method described by ``endpoint``."""

    def wrapper(
        wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        if not should_record():
            return wrapped(*args, **kwargs)
        started = start_call(recorder, endpoint, instance, args, kwargs)
        if started is None:
            return wrapped(*args, **kwargs)
        invocation, prepared = started
        with CallScope(invocation):
            result = wrapped(*prepared.args, **prepared.kwargs)
        return _wrap_result(endpoint, invocation, result, prepared, False)

    return wrapper


def async_wrapper(recorder: Recorder, endpoint: Endpoint) -> WrapperFn:
    """The wrapt wrapper of an async method described by ``endpoint``."""

    async def wrapper(
        wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        if not should_record():
            return await wrapped(*args, **kwargs)
        started = start_call(recorder, endpoint, instance, args, kwargs)
        if started is None:
            return await wrapped(*args, **kwargs)
        invocation, prepared = started
        with CallScope(invocation):
            result = await wrapped(*prepared.args, **prepared.kwargs)
        return _wrap_result(endpoint, invocation, result, prepared, True)

    return wrapper


def start_call(
    recorder: Recorder, endpoint: Endpoint, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[Invocation, Prepared] | None:
    """Describe the call, run the guardrails on it and start it; ``None`` (call unrecorded) when
    disabled or the endpoint failed. Call with ``prepared.args`` and ``prepared.kwargs``.

    Raises the :class:`~otel_tokens.budgets.GuardrailError` of a guardrail configured to block
    (the blocked call is recorded first); nothing else escapes.
    """
    settings = recorder.settings
    if not settings.enabled:
        return None
    try:
        prepared = endpoint.prepare(settings, instance, args, kwargs)
    except Exception as error:  # noqa: BLE001
        report(f"{type(endpoint).__name__}.prepare", error)
        return None
    prepared.args = args
    admission = admit_call(recorder, endpoint, prepared) if _runtime.STATE.guardrails is not None else None
    return recorder.start(prepared.request, admission), prepared


def admit_call(recorder: Recorder, endpoint: Endpoint, prepared: Prepared) -> Admission | None:
    """Run the process's guardrails on a call about to be sent; None when there are none.

    A downgrade rewrites ``prepared`` (through ``endpoint.with_model``) to send the call to the
    cheaper model. A guardrail that blocks: the call is recorded as blocked (a span with the
    decision and the error) and its :class:`~otel_tokens.budgets.GuardrailError` raised, before
    anything is sent. An internal failure is reported and the call goes on unguarded.
    """
    guardrails = _runtime.STATE.guardrails
    if guardrails is None:
        return None
    request = prepared.request
    try:
        admission = guardrails.admit(request, effective_tags())
    except GuardrailError as blocked:
        invocation = recorder.start(request, blocked.admission)
        invocation.end(None, blocked)
        raise
    except Exception as error:  # noqa: BLE001
        report("guardrails", error)
        return None
    if admission.model is not None:
        _send_to(endpoint, prepared, admission)
    return admission


def _send_to(endpoint: Endpoint, prepared: Prepared, admission: Admission) -> None:
    model = admission.model
    assert model is not None
    try:
        changed = endpoint.with_model(prepared, model)
    except Exception as error:  # noqa: BLE001
        report(f"{type(endpoint).__name__}.with_model", error)
        changed = False
    if changed:
        prepared.request.request_model = endpoint.recorded_model(prepared, model)
        return
    admission.cannot_downgrade()


def _wrap_result(
    endpoint: Endpoint, invocation: Invocation, result: Any, prepared: Prepared, is_async: bool
) -> Any:
    try:
        return endpoint.wrap_result(invocation, result, prepared, is_async)
    except Exception as error:  # noqa: BLE001
        report(f"{type(endpoint).__name__}.wrap_result", error)
        invocation.end(None)
        return result


def call_patch(module: str, target: str, endpoint: Endpoint, *, is_async: bool = False) -> PatchSpec:
    """The patch of one method: ``module.target`` recorded through ``endpoint``."""
    shell = async_wrapper if is_async else sync_wrapper
    return PatchSpec(module, target, functools.partial(shell, endpoint=endpoint))


def call_patches(
    module: str, sync_class: str, async_class: str | None, method: str, endpoint: Endpoint
) -> list[PatchSpec]:
    """``sync_class.method`` and its async twin ``async_class.method``, recorded through ``endpoint``."""
    patches = [call_patch(module, f"{sync_class}.{method}", endpoint)]
    if async_class is not None:
        patches.append(call_patch(module, f"{async_class}.{method}", endpoint, is_async=True))
    return patches
