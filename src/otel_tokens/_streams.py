"""Stream proxies: the user's stream object, observed, ending its telemetry exactly once.

A proxy is a ``wrapt.ObjectProxy``, so ``isinstance``, attribute access, helper methods and
``response`` keep working as on the SDK's own object. Its state lives only in ``_self_*``
attributes (wrapt keeps those on the proxy, not on the SDK object). The telemetry ends on
whichever comes first: exhaustion, an error, ``close()``, leaving the context manager, or
garbage collection of an abandoned stream.
"""

from __future__ import annotations

import contextlib
import weakref
from collections.abc import AsyncIterator, Iterator
from types import TracebackType
from typing import Any, Protocol

import wrapt

from otel_tokens._invocation import CallResult, Invocation
from otel_tokens._safety import report

SKIP = object()
"""Returned by :meth:`StreamObserver.on_item` to hide an item from the user (an injected usage chunk)."""
_SKIP = SKIP


class StreamObserver(Protocol):
    """What an instrumentor knows about one stream: how to read its items, and what they said.

    The core does the rest: it notes the first item's arrival, guards both methods, and ends
    the call exactly once, with :meth:`result`, however the stream ends.
    """

    def on_item(self, item: Any) -> object | None:
        """Read one item. Return ``None`` to pass it on, :data:`SKIP` to hide it from the user,
        or another object to give the user instead (only to undo a change the instrumentor made
        to the request: the user must see the stream they would have seen without us)."""

    def result(self) -> CallResult | None:
        """What the items seen so far said; called once, when the stream ends for any reason.

        Not called when the stream failed before its first item (nothing was seen).
        """


class StreamTracker:
    """A stream's invocation and observer, and whether it has ended. Kept apart from the proxy so
    the item generator can use it without referring to the proxy: no reference cycle, so an
    abandoned stream is finalised as soon as the user drops it, not at the next cyclic GC."""

    __slots__ = ("invocation", "observer", "ended", "started")

    def __init__(self, invocation: Invocation, observer: StreamObserver) -> None:
        self.invocation = invocation
        self.observer = observer
        self.ended = False
        self.started = False
        """True once iteration began (the item generator then owns the ending)."""

    def see(self, item: Any) -> Any:
        """What the user gets for ``item``: itself, a replacement, or :data:`SKIP`."""
        try:
            shown = self.observer.on_item(item)
        except Exception as error:  # noqa: BLE001
            report("stream item", error)
            return item
        return item if shown is None else shown

    def own(self, items: Any) -> Any:
        """Hand the ending to an item generator: `for x in proxy` drops the proxy at once and
        keeps only the generator, which ends the stream when exhausted, failing or collected
        (even collected before its first item, through the finaliser)."""
        self.started = True
        weakref.finalize(items, self.end, None)
        return items

    def end(self, error: BaseException | None) -> None:
        """End the call with what the observer saw; again after an interrupted end, else nothing."""
        if self.ended:
            return
        invocation = self.invocation
        result = None
        if error is None or invocation.time_to_first_chunk is not None:
            try:
                result = self.observer.result()
            except Exception as internal:  # noqa: BLE001
                report("stream result", internal)
        invocation.end(result, error)
        self.ended = True  # after: an interrupt above leaves the end to the next close, exit or GC


def observed_items(wrapped: Any, tracker: StreamTracker) -> Iterator[Any]:
    """The items of ``wrapped``, each seen by the tracker; ends the call when they end."""
    # A generator is the cheapest per-item path CPython has (about 0.5 µs less per chunk than a
    # Python-level __next__ calling next() on the wrapped stream). The first item is taken
    # apart, so the arrival of the first chunk costs nothing on the others; after it,
    # StreamTracker.see is inlined and the observer's bound on_item held in a local: one
    # Python-level call per item, the observer's own.
    on_item = tracker.observer.on_item
    try:
        iterator = iter(wrapped)
        for item in iterator:
            tracker.invocation.first_chunk()
            shown = tracker.see(item)
            if shown is not _SKIP:
                yield shown
            break
        for item in iterator:
            try:
                shown = on_item(item)
            except Exception as error:  # noqa: BLE001
                report("stream item", error)
                shown = None
            if shown is None:
                yield item
            elif shown is not _SKIP:
                yield shown
    except GeneratorExit:
        tracker.end(None)  # the consumer stopped early: not an error
        raise
    except BaseException as error:
        tracker.end(error)
        raise
    tracker.end(None)


async def observed_async_items(wrapped: Any, tracker: StreamTracker) -> AsyncIterator[Any]:
    """Async form of :func:`observed_items`."""
    on_item = tracker.observer.on_item
    try:
        iterator = wrapped.__aiter__()
        async for item in iterator:
            tracker.invocation.first_chunk()
            shown = tracker.see(item)
            if shown is not _SKIP:
                yield shown
            break
        async for item in iterator:
            try:
                shown = on_item(item)
            except Exception as error:  # noqa: BLE001
                report("stream item", error)
                shown = None
            if shown is None:
                yield item
            elif shown is not _SKIP:
                yield shown
    except GeneratorExit:
        tracker.end(None)
        raise
    except BaseException as error:
        tracker.end(error)
        raise
    tracker.end(None)


def observe_stream(invocation: Invocation, stream: Any, observer: StreamObserver) -> Any:
    """``stream`` behind a transparent proxy that feeds ``observer`` and ends ``invocation`` once."""
    if hasattr(stream, "__aiter__") or hasattr(stream, "__anext__"):
        return AsyncStreamProxy(stream, invocation, observer)
    return SyncStreamProxy(stream, invocation, observer)


class _ProxyBase(wrapt.ObjectProxy):  # type: ignore[misc]
    def __init__(self, wrapped: Any, invocation: Invocation, observer: StreamObserver) -> None:
        super().__init__(wrapped)
        self._self_tracker = StreamTracker(invocation, observer)
        self._self_items: Any = None

    def _self_end(self, error: BaseException | None) -> None:
        self._self_tracker.end(error)

    def __del__(self) -> None:
        # An abandoned stream still ends its span, with the usage seen so far; once iterated,
        # the item generator owns the ending (see StreamTracker.own).
        with contextlib.suppress(Exception):  # nothing may escape a finaliser
            if not self._self_tracker.started:
                self._self_tracker.end(None)


class SyncStreamProxy(_ProxyBase):
    """Proxy for an iterator-like stream (``openai.Stream``, generators...)."""

    def __iter__(self) -> Iterator[Any]:
        if self._self_items is None:
            self._self_items = self._self_tracker.own(observed_items(self.__wrapped__, self._self_tracker))
        return self._self_items  # type: ignore[no-any-return]

    def __next__(self) -> Any:
        # Per item for a caller driving next() itself: one Python-level call, not two.
        items = self._self_items
        if items is None:
            items = self.__iter__()
        return next(items)

    def __enter__(self) -> SyncStreamProxy:
        self.__wrapped__.__enter__()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> Any:
        try:
            return self.__wrapped__.__exit__(exc_type, exc, tb)
        finally:
            self._self_end(None)

    def close(self) -> Any:
        try:
            return self.__wrapped__.close()
        finally:
            self._self_end(None)


class AsyncStreamProxy(_ProxyBase):
    """Proxy for an async-iterator stream (``openai.AsyncStream``, async generators...)."""

    def __aiter__(self) -> AsyncIterator[Any]:
        if self._self_items is None:
            self._self_items = self._self_tracker.own(
                observed_async_items(self.__wrapped__, self._self_tracker)
            )
        return self._self_items  # type: ignore[no-any-return]

    async def __anext__(self) -> Any:
        # A coroutine, as the SDK's own __anext__ (create_task() takes only those).
        items = self._self_items
        if items is None:
            items = self.__aiter__()
        return await items.__anext__()

    async def __aenter__(self) -> AsyncStreamProxy:
        await self.__wrapped__.__aenter__()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> Any:
        try:
            return await self.__wrapped__.__aexit__(exc_type, exc, tb)
        finally:
            self._self_end(None)

    async def close(self) -> Any:
        try:
            return await self.__wrapped__.close()
        finally:
            self._self_end(None)

    async def aclose(self) -> Any:
        try:
            return await self.__wrapped__.aclose()
        finally:
            self._self_end(None)
