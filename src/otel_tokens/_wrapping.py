"""Generic wrapper shells shared by every instrumentor: sync and async, one code path each.

An instrumentor supplies an :class:`Endpoint` (pure, provider-specific: how to read a
request, a response and a stream); these shells do the rest the same way everywhere:
call the wrapped function exactly once, return its result or a transparent stream proxy,
let the user's exceptions through untouched, and count a nested instrumented call once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from opentelemetry import trace

from otel_tokens._safety import report
from otel_tokens.record import CallRequest, Invocation, Recorder, enter_call, exit_call, in_instrumented_call

WrapperFn = Callable[[Callable[..., Any], Any, tuple[Any, ...], dict[str, Any]], Any]


class Endpoint(Protocol):
    """Provider-specific knowledge of one API method."""

    def prepare(
        self, recorder: Recorder, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> tuple[CallRequest, dict[str, Any], Any]:
        """Describe the call; may return changed kwargs (e.g. asking for stream usage) and a plan."""

    def wrap_result(self, invocation: Invocation, result: Any, plan: Any, is_async: bool) -> Any:
        """Finish the invocation from ``result`` (or hand it to a stream proxy); return what the user gets."""


def sync_wrapper(recorder: Recorder, endpoint: Endpoint) -> WrapperFn:
    def wrapper(
        wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        if in_instrumented_call():
            return wrapped(*args, **kwargs)
        started = _start(recorder, endpoint, instance, args, kwargs)
        if started is None:
            return wrapped(*args, **kwargs)
        invocation, call_kwargs, plan = started
        token = enter_call()
        try:
            with trace.use_span(invocation.span, record_exception=False, set_status_on_exception=False):
                result = wrapped(*args, **call_kwargs)
        except BaseException as error:
            invocation.fail(error)
            raise
        finally:
            exit_call(token)
        return _wrap_result(endpoint, invocation, result, plan, False)

    return wrapper


def async_wrapper(recorder: Recorder, endpoint: Endpoint) -> WrapperFn:
    async def wrapper(
        wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        if in_instrumented_call():
            return await wrapped(*args, **kwargs)
        started = _start(recorder, endpoint, instance, args, kwargs)
        if started is None:
            return await wrapped(*args, **kwargs)
        invocation, call_kwargs, plan = started
        token = enter_call()
        try:
            with trace.use_span(invocation.span, record_exception=False, set_status_on_exception=False):
                result = await wrapped(*args, **call_kwargs)
        except BaseException as error:
            invocation.fail(error)
            raise
        finally:
            exit_call(token)
        return _wrap_result(endpoint, invocation, result, plan, True)

    return wrapper


def _start(
    recorder: Recorder, endpoint: Endpoint, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[Invocation, dict[str, Any], Any] | None:
    if not recorder.settings.enabled:
        return None
    try:
        request, call_kwargs, plan = endpoint.prepare(recorder, instance, args, kwargs)
    except Exception as error:  # noqa: BLE001
        report(f"{type(endpoint).__name__}.prepare", error)
        return None
    return recorder.start(request), call_kwargs, plan


def _wrap_result(endpoint: Endpoint, invocation: Invocation, result: Any, plan: Any, is_async: bool) -> Any:
    try:
        return endpoint.wrap_result(invocation, result, plan, is_async)
    except Exception as error:  # noqa: BLE001
        report(f"{type(endpoint).__name__}.wrap_result", error)
        invocation.finish(None)
        return result
