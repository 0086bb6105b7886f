"""mistralai endpoints: what each SDK method's request, response and stream say.

The core (``otel_tokens.instrumentation``) runs the call: suppression, span, stream proxy,
ending exactly once. A :class:`MistralEndpoint` only describes the request and reads the result.
The SDK's streaming methods return an ``EventStream`` / ``EventStreamAsync`` of
``CompletionEvent`` items whose ``data`` is a chunk; :class:`CompletionStreamObserver` reads
them, and the last chunk carries the usage.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from otel_tokens.instrumentation import (
    CallRequest,
    CallResult,
    Endpoint,
    IdentityCache,
    Prepared,
    Settings,
    items,
    semconv,
    text_or_none,
)
from otel_tokens_mistralai import _extract as ex
from otel_tokens_mistralai._extract import CHAT, EMBEDDINGS, FIM

__all__ = ["CHAT", "EMBEDDINGS", "FIM", "CompletionStreamObserver", "MistralEndpoint"]

_OPERATIONS = {
    CHAT: semconv.OPERATION_CHAT,
    FIM: semconv.OPERATION_TEXT_COMPLETION,
    EMBEDDINGS: semconv.OPERATION_EMBEDDINGS,
}
_RESULTS: dict[str, Callable[[Any], CallResult]] = {
    CHAT: ex.chat_result,
    FIM: ex.chat_result,
    EMBEDDINGS: ex.embeddings_result,
}


class MistralEndpoint(Endpoint):
    """One SDK method family: chat or FIM completions (plain or streaming), or embeddings."""

    def __init__(self, kind: str, stream: bool) -> None:
        self.kind = kind
        self.stream = stream
        self.operation = _OPERATIONS[kind]

    def prepare(
        self, settings: Settings, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Prepared:
        model = text_or_none(kwargs.get("model"))
        provider, host, port = _server(instance, kwargs.get("server_url"), settings.provider_hosts)
        request = CallRequest(
            operation=self.operation,
            provider=provider,
            request_model=model,
            server_address=host,
            server_port=port,
            attributes=ex.request_attributes(kwargs, self.stream),
            input_messages=ex.input_messages_builder(self.kind, kwargs),
            estimate_input=ex.input_estimator(self.kind, model, kwargs),
        )
        return Prepared(request, kwargs, stream=self.stream)

    def read_result(self, result: Any, plan: None) -> CallResult:
        return _RESULTS[self.kind](result)

    def stream_observer(self, result: Any, plan: None) -> CompletionStreamObserver | None:
        return CompletionStreamObserver() if self.stream and result is not None else None


# server URL -> (provider, host, port), per host overrides: the URL string of the client's
# configuration (or the call's server_url) rarely changes, and parsing it costs on every call.
_servers: IdentityCache[tuple[str, str | None, int | None]] = IdentityCache()


def _server(
    instance: Any, override: Any, host_overrides: Mapping[str, str]
) -> tuple[str, str | None, int | None]:
    url = override if isinstance(override, str) and override else None
    if url is None:
        url, _ = instance.sdk_configuration.get_server_details()
    found = url or ex.DEFAULT_SERVER_URL
    return _servers.get(found, host_overrides, lambda: ex.provider_for(found, host_overrides))


class CompletionStreamObserver:
    """``CompletionEvent`` items of a chat or FIM stream: ids, finish reasons, text, and the
    usage of the last chunk (read once, when the stream ends)."""

    __slots__ = ("_head", "_reasons", "_usage", "_parts")

    def __init__(self) -> None:
        self._head: Any = None
        self._reasons: dict[int, str] = {}
        self._usage: Any = None
        self._parts: list[dict[str, Any]] = []

    def on_item(self, event: Any) -> None:
        chunk = ex.get(event, "data")
        if chunk is None:
            return
        if self._head is None and text_or_none(ex.get(chunk, "model")):
            self._head = chunk
        for choice in items(ex.field(chunk, "choices")):
            reason = ex.finish_reason(choice)
            if reason:
                self._reasons[ex.choice_index(choice)] = reason
            delta = ex.field(choice, "delta")
            if delta is not None:
                self._parts.extend(ex.parts_of(delta))
        usage = ex.field(chunk, "usage")
        if usage is not None:
            self._usage = usage

    def result(self) -> CallResult:
        head = self._head
        usage = ex.usage_of(self._usage)
        parts = self._parts
        return CallResult(
            response_model=text_or_none(ex.get(head, "model")),
            response_id=text_or_none(ex.field(head, "id")),
            finish_reasons=tuple(self._reasons[index] for index in sorted(self._reasons)) or None,
            usage=usage,
            service_tier=ex.service_tier(self._usage),
            output_texts=ex.part_texts(parts) if usage is None else None,
            output_messages=lambda: [ex.output_message(ex.merged_parts(parts), None)],
        )
