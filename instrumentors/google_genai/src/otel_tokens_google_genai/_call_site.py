"""The call-site carrier of ``generate_content_stream``: a named exception to the call shells.

The public stream methods send their requests lazily, while the caller iterates, so the
per-request wrappers (``_endpoints``) run wherever the iteration happens, not where the call was
made. These wrappers record nothing themselves: they capture the call site (its OpenTelemetry
context, so the parent span, baggage and ``suppress_instrumentation()``; its tags; whether an
outer instrumented call was running) and restore it around every step of the iteration. The
request's span is then tagged and parented like the call, and a stream started inside an outer
instrumented layer (which records the call itself) is left to that layer.

The shells (``call_patches``) cannot do this: they wrap one call, and this wraps an iteration
that outlives it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextvars import Token
from typing import Any, cast

from opentelemetry import context

from otel_tokens.instrumentation import (
    Recorder,
    WrapperFn,
    call_guarded,
    current_tags,
    enter_call,
    exit_call,
    in_instrumented_call,
    tags,
)

_Entered = tuple[object, tags | None, Token[bool] | None]


class _CallSite:
    """The call site's OpenTelemetry context, tags and nesting, to restore around each step."""

    __slots__ = ("otel", "tags", "nested")

    def __init__(self) -> None:
        self.otel = context.get_current()
        self.tags = current_tags()
        self.nested = in_instrumented_call()

    def enter(self) -> _Entered:
        otel_token = context.attach(self.otel)
        # The tags were validated when set; cast: tags() also takes a bool `propagate`.
        scope = tags(**cast(dict[str, Any], self.tags)) if self.tags else None
        if scope is not None:
            scope.__enter__()
        return otel_token, scope, enter_call() if self.nested else None

    @staticmethod
    def leave(entered: _Entered) -> None:
        otel_token, scope, call_token = entered
        if call_token is not None:
            exit_call(call_token)
        if scope is not None:
            scope.__exit__(None, None, None)
        context.detach(otel_token)  # type: ignore[arg-type]


def carrier_sync(recorder: Recorder) -> WrapperFn:
    """The wrapper of ``Models.generate_content_stream`` (records nothing, so needs no recorder)."""
    return _stream_call_sync


def carrier_async(recorder: Recorder) -> WrapperFn:
    """The wrapper of ``AsyncModels.generate_content_stream``."""
    return _stream_call_async


def _stream_call_sync(
    wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    site = call_guarded("google-genai call site", _CallSite)
    result = wrapped(*args, **kwargs)
    return result if site is None else _carried_items(result, site)


async def _stream_call_async(
    wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    site = call_guarded("google-genai call site", _CallSite)
    result = await wrapped(*args, **kwargs)
    return result if site is None else _carried_async_items(result, site)


def _carried_items(items: Any, site: _CallSite) -> Iterator[Any]:
    iterator = iter(items)
    try:
        while True:
            entered = site.enter()
            try:
                item = next(iterator)
            except StopIteration:
                return
            finally:
                site.leave(entered)
            yield item
    finally:
        close = getattr(iterator, "close", None)
        if close is not None:
            close()


async def _carried_async_items(items: Any, site: _CallSite) -> AsyncIterator[Any]:
    iterator = aiter(items)
    try:
        while True:
            entered = site.enter()
            try:
                item = await anext(iterator)
            except StopAsyncIteration:
                return
            finally:
                site.leave(entered)
            yield item
    finally:
        aclose = getattr(iterator, "aclose", None)
        if aclose is not None:
            await aclose()
