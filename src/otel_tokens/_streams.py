"""Stream proxies: the user's stream object, observed, ending its telemetry exactly once.

A proxy is a ``wrapt.ObjectProxy``, so ``isinstance``, attribute access, helper methods and
``response`` keep working as on the SDK's own object. Its state lives only in ``_self_*``
attributes (wrapt keeps those on the proxy, not on the SDK object). The telemetry ends on
whichever comes first: exhaustion, an error, ``close()``, leaving the context manager, or
garbage collection of an abandoned stream.
"""

from __future__ import annotations

import contextlib
from types import TracebackType
from typing import Any, Protocol

import wrapt

from otel_tokens._safety import report

SKIP = object()
"""Returned by :meth:`StreamObserver.on_item` to hide an item from the user (an injected usage chunk)."""


class StreamObserver(Protocol):
    """Provider-specific bookkeeping of one stream."""

    def on_item(self, item: Any) -> object | None:
        """See one item; return :data:`SKIP` to hide it from the user."""

    def on_end(self, error: BaseException | None) -> None:
        """Called exactly once, when the stream ends for any reason."""


class _ProxyBase(wrapt.ObjectProxy):  # type: ignore[misc]
    def __init__(self, wrapped: Any, observer: StreamObserver) -> None:
        super().__init__(wrapped)
        self._self_observer = observer
        self._self_ended = False

    def _self_see(self, item: Any) -> bool:
        """True if the item goes to the user."""
        try:
            return self._self_observer.on_item(item) is not SKIP
        except Exception as error:  # noqa: BLE001
            report("stream item", error)
            return True

    def _self_end(self, error: BaseException | None) -> None:
        if self._self_ended:
            return
        self._self_ended = True
        try:
            self._self_observer.on_end(error)
        except Exception as internal:  # noqa: BLE001
            report("stream end", internal)

    def __del__(self) -> None:
        # An abandoned stream still ends its span, with the usage seen so far.
        with contextlib.suppress(Exception):  # nothing may escape a finaliser
            self._self_end(None)

    def __reduce_ex__(self, protocol: int) -> Any:
        return self.__wrapped__.__reduce_ex__(protocol)


class SyncStreamProxy(_ProxyBase):
    """Proxy for an iterator-like stream (``openai.Stream``, generators...)."""

    def __iter__(self) -> SyncStreamProxy:
        return self

    def __next__(self) -> Any:
        while True:
            try:
                item = next(self.__wrapped__)
            except StopIteration:
                self._self_end(None)
                raise
            except BaseException as error:
                self._self_end(error)
                raise
            if self._self_see(item):
                return item

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

    def __aiter__(self) -> AsyncStreamProxy:
        return self

    async def __anext__(self) -> Any:
        while True:
            try:
                item = await self.__wrapped__.__anext__()
            except StopAsyncIteration:
                self._self_end(None)
                raise
            except BaseException as error:
                self._self_end(error)
                raise
            if self._self_see(item):
                return item

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
