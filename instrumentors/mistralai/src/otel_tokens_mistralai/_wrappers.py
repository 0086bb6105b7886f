"""mistralai endpoints for the shared wrapper shells, and the stream observer.

Each :class:`MistralEndpoint` knows how to describe one SDK method's request and read its
result; the sync/async shells in ``otel_tokens._wrapping`` do the rest. The SDK's streaming
methods return an ``EventStream`` / ``EventStreamAsync`` of ``CompletionEvent`` items whose
``data`` is a chunk; the last chunk carries the usage.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from otel_tokens import semconv
from otel_tokens._streams import AsyncStreamProxy, SyncStreamProxy
from otel_tokens.record import CallRequest, CallResult, Invocation, Recorder
from otel_tokens.tokenize import Estimate, Tokenizer
from otel_tokens_mistralai import _extract as ex

CHAT = "chat"
FIM = "fim"
EMBEDDINGS = "embeddings"

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


class MistralEndpoint:
    """One SDK method family: chat or FIM completions (plain or streaming), or embeddings."""

    def __init__(self, kind: str, stream: bool) -> None:
        self.kind = kind
        self.stream = stream
        self.operation = _OPERATIONS[kind]

    def prepare(
        self, recorder: Recorder, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> tuple[CallRequest, dict[str, Any], bool]:
        model = kwargs.get("model")
        model = model if isinstance(model, str) else None
        provider, host, port = _server(instance, kwargs.get("server_url"), recorder.settings.provider_hosts)
        request = CallRequest(
            operation=self.operation,
            provider=provider,
            request_model=model,
            server_address=host,
            server_port=port,
            attributes=ex.request_attributes(kwargs, self.stream),
            input_messages=_input_messages(self.kind, kwargs),
            estimate_input=_input_estimator(self.kind, model, kwargs),
        )
        return request, kwargs, self.stream

    def wrap_result(self, invocation: Invocation, result: Any, stream: bool, is_async: bool) -> Any:
        if stream:
            observer = StreamObserver(invocation)
            return AsyncStreamProxy(result, observer) if is_async else SyncStreamProxy(result, observer)
        invocation.finish(_RESULTS[self.kind](result))
        return result


# (server URL, overrides) -> (provider, host, port); a client's URL rarely changes.
_servers: dict[tuple[str, int], tuple[Mapping[str, str], tuple[str, str | None, int | None]]] = {}


def _server(
    instance: Any, override: Any, host_overrides: Mapping[str, str]
) -> tuple[str, str | None, int | None]:
    url = override if isinstance(override, str) and override else None
    if url is None:
        url, _ = instance.sdk_configuration.get_server_details()
    url = url or ex.DEFAULT_SERVER_URL
    key = (url, id(host_overrides))
    cached = _servers.get(key)
    if cached is not None and cached[0] is host_overrides:
        return cached[1]
    host, port = ex.server_of(url)
    provider = (
        host_overrides.get(f"{host}:{port}") or host_overrides.get(host or "") or semconv.PROVIDER_MISTRAL_AI
    )
    if len(_servers) > 256:
        _servers.clear()
    _servers[key] = (host_overrides, (provider, host, port))
    return provider, host, port


def _input_messages(kind: str, kwargs: dict[str, Any]) -> Callable[[], Any]:
    if kind == CHAT:
        return lambda: ex.input_messages(kwargs.get("messages"))
    if kind == FIM:
        return lambda: ex.prompt_messages(kwargs.get("prompt"), kwargs.get("suffix"))
    return lambda: [
        {"role": "user", "parts": [{"type": "text", "content": text}]}
        for text in ex.input_texts(kwargs.get("inputs"))
    ]


def _input_estimator(kind: str, model: str | None, kwargs: dict[str, Any]) -> Callable[[Tokenizer], Estimate]:
    # Copy now: programs often append the reply to the same message list right after the call.
    if kind == CHAT:
        messages = list(kwargs.get("messages") or ())
        return lambda tokenizer: tokenizer.count_chat_input(model, messages)
    if kind == FIM:
        texts = [t for t in (kwargs.get("prompt"), kwargs.get("suffix")) if isinstance(t, str)]
    else:
        texts = ex.input_texts(kwargs.get("inputs"))
    return lambda tokenizer: tokenizer.count_texts(model, texts)


class StreamObserver:
    """``CompletionEvent`` items: ids, finish reasons, text, and the usage of the last chunk."""

    __slots__ = ("_inv", "_first", "_head", "_reasons", "_usage", "_parts")

    def __init__(self, invocation: Invocation) -> None:
        self._inv = invocation
        self._first = True
        self._head: Any = None
        self._reasons: dict[int, str] = {}
        self._usage: Any = None
        self._parts: list[dict[str, Any]] = []

    def on_item(self, event: Any) -> None:
        if self._first:
            self._first = False
            self._inv.first_chunk()
        chunk = ex.get(event, "data")
        if chunk is None:
            return
        if self._head is None and ex.get(chunk, "model"):
            self._head = chunk
        for choice in ex.get(chunk, "choices") or ():
            reason = ex.get(choice, "finish_reason")
            if reason:
                self._reasons[ex.get(choice, "index") or 0] = str(reason)
            delta = ex.get(choice, "delta")
            if delta is not None:
                self._parts.extend(ex.parts_of(delta))
        usage = ex.get(chunk, "usage")
        if usage is not None:
            self._usage = usage

    def on_end(self, error: BaseException | None) -> None:
        head = self._head
        usage = ex.usage_of(self._usage)
        result = CallResult(
            response_model=ex.get(head, "model") or None,
            response_id=ex.get(head, "id"),
            finish_reasons=tuple(self._reasons[index] for index in sorted(self._reasons)) or None,
            usage=usage,
            service_tier=ex.service_tier(self._usage),
            output_texts=ex.part_texts(self._parts) if usage is None else None,
            output_messages=lambda: [ex.output_message(_merged(self._parts), None)],
        )
        if error is None:
            self._inv.finish(result)
        else:
            self._inv.fail(error, result)


def _merged(parts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Streamed deltas joined: consecutive text (or reasoning) pieces become one part."""
    merged: list[dict[str, Any]] = []
    for part in parts:
        last = merged[-1] if merged else None
        if last is not None and part["type"] == last["type"] and part["type"] != "tool_call":
            merged[-1] = {**last, "content": last["content"] + part["content"]}
        else:
            merged.append(part)
    return merged
