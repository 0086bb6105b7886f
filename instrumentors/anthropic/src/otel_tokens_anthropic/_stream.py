"""Stream observation: the raw events of a Messages or legacy Completions stream -> one CallResult.

Both ``messages.create(stream=True)`` and the ``messages.stream()`` helper are observed at the
raw-event level (the helper reads its events from the same raw stream), so usage is merged the
same way for both; see :class:`otel_tokens_anthropic._extract.StreamUsage`.
"""

from __future__ import annotations

import abc
import weakref
from typing import Any

from otel_tokens._streams import AsyncStreamProxy, SyncStreamProxy, _async_items, _items, _Tracker
from otel_tokens.record import CallResult, Invocation
from otel_tokens_anthropic import _extract as ex

_PLAIN_INSTANCECHECKS = (type.__instancecheck__, abc.ABCMeta.__instancecheck__)


def observe_stream(invocation: Invocation, stream: Any) -> Any:
    """What the user gets for an SDK ``Stream``/``AsyncStream``: it ends the invocation once.

    Normally a transparent proxy. anthropic 0.x (up to 0.125) gives ``Stream`` and ``AsyncStream``
    a metaclass whose ``isinstance`` is False for anything but the exact class, proxies
    included; there the stream itself is returned, observed in place (see :func:`_in_place`).
    """
    observer = MessageStreamObserver(invocation)
    is_async = hasattr(stream, "__aiter__")
    if type(type(stream)).__instancecheck__ not in _PLAIN_INSTANCECHECKS:
        return _in_place(stream, observer, is_async)
    return AsyncStreamProxy(stream, observer) if is_async else SyncStreamProxy(stream, observer)


def _in_place(stream: Any, observer: MessageStreamObserver, is_async: bool) -> Any:
    """Observe an SDK stream through its item iterator and ``close()``, keeping its class.

    The SDK's ``__iter__``/``__next__`` (and ``__aiter__``/``__anext__``) read ``_iterator``, and
    its ``__exit__``/``__aexit__`` call ``self.close()``, so replacing those two on the instance
    sees every item and every way the stream ends; dropping it ends it through the iterator.
    """
    tracker = _Tracker(observer)
    items = _async_items if is_async else _items
    stream._iterator = tracker.own(items(stream._iterator, tracker))
    close = type(stream).close
    ref = weakref.ref(stream)  # no cycle through the instance's own attribute

    if is_async:

        async def aclose() -> Any:
            try:
                return await close(ref())
            finally:
                tracker.end(None)

        stream.close = aclose
    else:

        def sync_close() -> Any:
            try:
                return close(ref())
            finally:
                tracker.end(None)

        stream.close = sync_close
    return stream


class MessageStreamObserver:
    """Raw ``RawMessageStreamEvent``s (and legacy ``completion`` events): ids, usage, stop reason, text."""

    __slots__ = ("_inv", "_first", "_model", "_id", "_stop", "_tier", "_usage", "_texts")

    def __init__(self, invocation: Invocation) -> None:
        self._inv = invocation
        self._first = True
        self._model: Any = None
        self._id: Any = None
        self._stop: Any = None
        self._tier: Any = None
        self._usage = ex.StreamUsage()
        self._texts: list[str] = []

    def on_item(self, event: Any) -> None:
        if self._first:
            self._first = False
            self._inv.first_chunk()
        get = ex.get
        kind = get(event, "type")
        if kind == "content_block_delta":
            delta = get(event, "delta")
            text = get(delta, "text") or get(delta, "partial_json") or get(delta, "thinking")
            if text:
                self._texts.append(text)
        elif kind == "message_start":
            message = get(event, "message")
            self._model = get(message, "model")
            self._id = get(message, "id")
            usage = get(message, "usage")
            self._usage.merge(usage)
            self._tier = get(usage, "service_tier")
        elif kind == "message_delta":
            self._stop = get(get(event, "delta"), "stop_reason") or self._stop
            self._usage.merge(get(event, "usage"))
        elif kind == "content_block_start":
            block = get(event, "content_block")
            if get(block, "type") in ("tool_use", "server_tool_use"):
                self._texts.append(get(block, "name") or "")
        elif kind == "completion":  # legacy Text Completions
            self._model = get(event, "model") or self._model
            self._id = get(event, "id") or self._id
            self._stop = get(event, "stop_reason") or self._stop
            text = get(event, "completion")
            if text:
                self._texts.append(text)
        return None

    def on_end(self, error: BaseException | None) -> None:
        usage = self._usage.usage()
        stop = self._stop
        texts = self._texts
        result = CallResult(
            response_model=self._model or None,
            response_id=self._id,
            finish_reasons=(str(stop),) if stop else None,
            usage=usage,
            service_tier=self._tier,
            output_texts=texts if usage is None else None,
            output_messages=lambda: [ex.output_message(["".join(texts)], stop)],
        )
        if error is None:
            self._inv.finish(result)
        else:
            self._inv.fail(error, result)
