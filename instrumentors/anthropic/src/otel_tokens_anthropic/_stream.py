"""Stream observation: the raw events of a Messages or legacy Completions stream -> one CallResult.

Both ``messages.create(stream=True)`` and the ``messages.stream()`` helper are observed at the
raw-event level (the helper reads its events from the same raw stream), so usage is merged the
same way for both; see :class:`otel_tokens_anthropic._extract.StreamUsage`.
"""

from __future__ import annotations

import abc
import weakref
from typing import Any

from otel_tokens.instrumentation import (
    CallResult,
    Invocation,
    StreamTracker,
    get,
    observed_async_items,
    observed_items,
    text_or_none,
)
from otel_tokens.instrumentation import observe_stream as observe_with_proxy
from otel_tokens_anthropic import _extract as ex

_PLAIN_INSTANCECHECKS = (type.__instancecheck__, abc.ABCMeta.__instancecheck__)


def observe_stream(invocation: Invocation, stream: Any) -> Any:
    """What the user gets for an SDK ``Stream``/``AsyncStream``: it ends the invocation once.

    Normally the core's transparent proxy. anthropic 0.x (up to 0.125) gives ``Stream`` and
    ``AsyncStream`` a metaclass whose ``isinstance`` is False for anything but the exact class,
    proxies included; there the stream itself is returned, observed in place (see :func:`_in_place`).
    """
    observer = MessageStreamObserver()
    if type(type(stream)).__instancecheck__ not in _PLAIN_INSTANCECHECKS:
        return _in_place(stream, StreamTracker(invocation, observer), hasattr(stream, "__aiter__"))
    return observe_with_proxy(invocation, stream, observer)


def _in_place(stream: Any, tracker: StreamTracker, is_async: bool) -> Any:
    """Observe an SDK stream through its item iterator and ``close()``, keeping its class.

    The SDK's ``__iter__``/``__next__`` (and ``__aiter__``/``__anext__``) read ``_iterator``, and
    its ``__exit__``/``__aexit__`` call ``self.close()``, so replacing those two on the instance
    sees every item and every way the stream ends; dropping it ends it through the iterator.
    """
    items = observed_async_items if is_async else observed_items
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


_TOOL_BLOCKS = ("tool_use", "server_tool_use")
_DELTAS_WITHOUT_TEXT = ("signature_delta", "citations_delta")


class MessageStreamObserver:
    """Raw ``RawMessageStreamEvent``s (and legacy ``completion`` events): ids, usage, stop reason, text.

    Unknown event types and fields of the wrong type are ignored; token counts are validated
    when the stream ends (see :class:`otel_tokens_anthropic._extract.StreamUsage`).
    """

    __slots__ = ("_model", "_id", "_stop", "_tier", "_usage", "_texts")

    def __init__(self) -> None:
        self._model: str | None = None
        self._id: str | None = None
        self._stop: str | None = None
        self._tier: str | None = None
        self._usage = ex.StreamUsage()
        self._texts: list[str] = []

    def on_item(self, event: Any) -> None:
        # Nearly every event of a stream is a content_block_delta: for the SDK's own types it is
        # read here by plain attribute access, its text by the delta's type. Any other event,
        # and anything odd (a dict, a field of the wrong type, a model with extra fields), is
        # read by _read, field by field. A field a pydantic model lacks costs ~2 µs to ask for
        # (its __getattr__), so a delta is only asked for its own type's field.
        try:
            if event.type == "content_block_delta":
                delta = event.delta
                kind = delta.type
                if kind == "text_delta":
                    text = delta.text
                elif kind == "input_json_delta" and not delta.__pydantic_extra__:
                    text = delta.partial_json
                elif kind == "thinking_delta" and not delta.__pydantic_extra__:
                    text = delta.thinking
                elif kind in _DELTAS_WITHOUT_TEXT and not delta.__pydantic_extra__:
                    return None
                else:
                    text = None
                if type(text) is str:
                    if text:
                        self._texts.append(text)
                        return None
                    if not delta.__pydantic_extra__:
                        return None
        except AttributeError:
            pass
        self._read(event)

    def _read(self, event: Any) -> None:
        """Any event, of any shape, read field by field."""
        kind = get(event, "type")
        if kind == "content_block_delta":
            delta = get(event, "delta")
            text = get(delta, "text") or get(delta, "partial_json") or get(delta, "thinking")
            if text and isinstance(text, str):
                self._texts.append(text)
        elif kind == "message_start":
            message = get(event, "message")
            self._model = text_or_none(get(message, "model"))
            self._id = text_or_none(get(message, "id"))
            usage = get(message, "usage")
            self._usage.merge(usage)
            self._tier = text_or_none(get(usage, "service_tier"))
        elif kind == "message_delta":
            self._stop = text_or_none(get(get(event, "delta"), "stop_reason")) or self._stop
            self._usage.merge(get(event, "usage"))
        elif kind == "content_block_start":
            block = get(event, "content_block")
            if get(block, "type") in _TOOL_BLOCKS:
                name = get(block, "name")
                if name and isinstance(name, str):
                    self._texts.append(name)
        elif kind == "completion":  # legacy Text Completions
            self._model = text_or_none(get(event, "model")) or self._model
            self._id = text_or_none(get(event, "id")) or self._id
            self._stop = text_or_none(get(event, "stop_reason")) or self._stop
            text = get(event, "completion")
            if text and isinstance(text, str):
                self._texts.append(text)

    def result(self) -> CallResult:
        usage = self._usage.usage()
        stop = self._stop
        texts = self._texts
        return CallResult(
            response_model=self._model,
            response_id=self._id,
            finish_reasons=(stop,) if stop else None,
            usage=usage,
            service_tier=self._tier,
            output_texts=texts if usage is None else None,
            output_messages=lambda: [ex.output_message(["".join(texts)], stop)],
        )
