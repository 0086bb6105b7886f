"""OpenAI endpoints for the shared wrapper shells, and the stream and raw-response observers.

Each :class:`OpenAIEndpoint` knows how to describe one API method's request and read its
result; the sync/async shells in ``otel_tokens._wrapping`` do the rest.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import wrapt

from otel_tokens import _openai_shape as shape
from otel_tokens import semconv
from otel_tokens._safety import report
from otel_tokens._streams import SKIP, AsyncStreamProxy, SyncStreamProxy
from otel_tokens.record import CallRequest, CallResult, Invocation, Recorder
from otel_tokens.tokenize import Estimate, Tokenizer
from otel_tokens_openai import _extract as ex

CHAT = "chat"
COMPLETION = "completion"
EMBEDDINGS = "embeddings"
RESPONSES = "responses"

_OPERATIONS = {
    CHAT: semconv.OPERATION_CHAT,
    COMPLETION: semconv.OPERATION_TEXT_COMPLETION,
    EMBEDDINGS: semconv.OPERATION_EMBEDDINGS,
    # The conventions name the Responses API operation "chat" as well.
    RESPONSES: semconv.OPERATION_CHAT,
}
_RESULTS: dict[str, Callable[[Any], CallResult]] = {
    CHAT: ex.chat_result,
    COMPLETION: ex.completion_result,
    EMBEDDINGS: ex.embeddings_result,
    RESPONSES: ex.responses_result,
}
_RAW_RESPONSE_TYPES = ("LegacyAPIResponse", "APIResponse", "AsyncAPIResponse")


@dataclass(slots=True)
class Plan:
    stream: bool
    injected_usage: bool


class OpenAIEndpoint:
    """One OpenAI API method family: chat completions, legacy completions, embeddings, responses."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.operation = _OPERATIONS[kind]
        self.read_result = _RESULTS[kind]

    def prepare(
        self, recorder: Recorder, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> tuple[CallRequest, dict[str, Any], Plan]:
        provider, host, port = _client_provider(instance._client, recorder.settings.provider_hosts)
        model = kwargs.get("model")
        model = model if isinstance(model, str) else None
        stream = kwargs.get("stream") is True
        call_kwargs = kwargs
        injected = False
        if stream and self.kind in (CHAT, COMPLETION) and recorder.settings.stream_include_usage:
            options = kwargs.get("stream_options")
            options = options if ex.given(options) and isinstance(options, dict) else {}
            if not options.get("include_usage"):
                call_kwargs = {**kwargs, "stream_options": {**options, "include_usage": True}}
                injected = True
        request = CallRequest(
            operation=self.operation,
            provider=provider,
            request_model=model,
            server_address=host,
            server_port=port,
            attributes=ex.request_attributes(self.operation, kwargs),
            input_messages=_input_messages(self.kind, kwargs),
            estimate_input=_input_estimator(self.kind, model, kwargs),
        )
        return request, call_kwargs, Plan(stream, injected)

    def wrap_result(self, invocation: Invocation, result: Any, plan: Plan, is_async: bool) -> Any:
        if type(result).__name__ in _RAW_RESPONSE_TYPES:
            return self._wrap_raw(invocation, result, plan, is_async)
        if plan.stream:
            return self.wrap_stream(invocation, result, plan)
        invocation.finish(self.read_result(result))
        return result

    def wrap_stream(self, invocation: Invocation, stream: Any, plan: Plan) -> Any:
        observer: Any = (
            ResponsesStreamObserver(invocation) if self.kind == RESPONSES else
            ChatStreamObserver(invocation, self.kind, plan.injected_usage)
        )  # fmt: skip
        if hasattr(stream, "__anext__"):
            return AsyncStreamProxy(stream, observer)
        return SyncStreamProxy(stream, observer)

    def _wrap_raw(self, invocation: Invocation, raw: Any, plan: Plan, is_async: bool) -> Any:
        # with_raw_response: the body is already read, so read the usage now; the SDK caches
        # the parsed object, so the user's own parse() returns the same one at no extra cost.
        if type(raw).__name__ == "LegacyAPIResponse" and not plan.stream:
            invocation.finish(self.read_result(raw.parse()))
            return raw
        proxy = AsyncRawResponseProxy if type(raw).__name__ == "AsyncAPIResponse" else RawResponseProxy
        return proxy(raw, self, invocation, plan)


# client base-URL object -> (that object, provider, host, port). Keyed by the URL object, which
# the SDK replaces when the base URL changes: str() of it and the property cost ~2.5 µs a call.
_by_url: dict[int, tuple[Any, Any, tuple[str, str | None, int | None]]] = {}


def _client_provider(client: Any, host_overrides: Mapping[str, str]) -> tuple[str, str | None, int | None]:
    url = getattr(client, "_base_url", None)
    if url is None:
        url = client.base_url
    cached = _by_url.get(id(url))
    if cached is not None and cached[0] is url and cached[1] is host_overrides:
        return cached[2]
    found = ex.provider_for(str(url), "Azure" in type(client).__name__, host_overrides)
    if len(_by_url) > 256:
        _by_url.clear()
    _by_url[id(url)] = (url, host_overrides, found)
    return found


def _input_messages(kind: str, kwargs: dict[str, Any]) -> Callable[[], Any] | None:
    if kind == CHAT:
        return lambda: ex.input_messages(kwargs.get("messages"))
    if kind == RESPONSES:
        return lambda: ex.responses_input_messages(kwargs)
    if kind == COMPLETION:
        return lambda: ex.input_messages(ex.prompt_texts(kwargs.get("prompt")))
    return None


def _input_estimator(kind: str, model: str | None, kwargs: dict[str, Any]) -> Callable[[Tokenizer], Estimate]:
    # Copy now: programs often append the reply to the same message list right after the call.
    if kind == CHAT:
        messages = list(kwargs.get("messages") or ())
        return lambda tokenizer: tokenizer.count_chat_input(model, messages)
    if kind == RESPONSES:
        value = kwargs.get("input")
        instructions = kwargs.get("instructions")
        messages = [{"role": "user", "content": value}] if isinstance(value, str) else list(value or ())
        if isinstance(instructions, str):
            messages.insert(0, {"role": "system", "content": instructions})
        return lambda tokenizer: tokenizer.count_chat_input(model, messages)
    value = kwargs.get("prompt" if kind == COMPLETION else "input")
    return shape.prompt_estimator(model, ex.prompt_texts(value), value)


class ChatStreamObserver(shape.ChatStreamObserverBase):
    """Chat-completion and legacy-completion chunks: ids, finish reasons, usage, text.

    Chunks are the SDK's own types, read by direct attribute access: this runs for every chunk.
    """

    __slots__ = ("_kind",)

    def __init__(self, invocation: Invocation, kind: str, injected_usage: bool) -> None:
        # Not super(): a stream starts on every streamed call, and super() costs twice as much.
        shape.ChatStreamObserverBase.__init__(self, invocation, injected_usage)
        self._kind = kind

    def on_item(self, chunk: Any) -> object | None:
        if self._first:
            self._first = False
            self._inv.first_chunk()
        if self._head is None and getattr(chunk, "model", None):
            self._head = chunk  # Azure's first chunk carries only content-filter results
        choices = chunk.choices
        for choice in choices:
            if choice.finish_reason:
                self._reasons[choice.index] = choice.finish_reason
            if self._kind == CHAT:
                delta = choice.delta
                if delta is not None:
                    if delta.content:
                        self._texts.append(delta.content)
                    if delta.tool_calls:
                        for call in delta.tool_calls:
                            function = call.function
                            if function is not None:
                                self._texts.append((function.name or "") + (function.arguments or ""))
            elif choice.text:
                self._texts.append(choice.text)
        usage = getattr(chunk, "usage", None)
        if usage is not None:
            self._usage = usage
            if self._injected and not choices:
                return SKIP  # the user did not ask for this chunk; they must not see it
        return None

    def on_end(self, error: BaseException | None) -> None:
        head = self._head
        self._end(
            error,
            ex.chat_usage(self._usage),
            ex.get(head, "service_tier"),
            ex.response_attributes(head) if head is not None else None,
        )


class ResponsesStreamObserver:
    """Responses API events: usage arrives in ``response.completed`` (or incomplete/failed)."""

    __slots__ = ("_inv", "_first", "_created", "_final", "_texts")

    _FINAL_EVENTS = frozenset({"response.completed", "response.incomplete", "response.failed"})

    def __init__(self, invocation: Invocation) -> None:
        self._inv = invocation
        self._first = True
        self._created: Any = None
        self._final: Any = None
        self._texts: list[str] = []

    def on_item(self, event: Any) -> object | None:
        if self._first:
            self._first = False
            self._inv.first_chunk()
        kind = event.type
        if kind == "response.output_text.delta":
            self._texts.append(event.delta)
        elif kind in self._FINAL_EVENTS:
            self._final = event.response
        elif kind == "response.created":
            self._created = event.response
        return None

    def on_end(self, error: BaseException | None) -> None:
        response = self._final if self._final is not None else self._created
        result = ex.responses_result(response) if response is not None else CallResult()
        if result.usage is None:
            result.output_texts = self._texts
        if error is None:
            self._inv.finish(result)
        else:
            self._inv.fail(error, result)


class _RawProxyBase(wrapt.ObjectProxy):  # type: ignore[misc]
    """A raw/streaming HTTP response whose body the user reads later through ``parse()``."""

    def __init__(self, wrapped: Any, endpoint: OpenAIEndpoint, invocation: Invocation, plan: Plan) -> None:
        super().__init__(wrapped)
        self._self_endpoint = endpoint
        self._self_invocation = invocation
        self._self_plan = plan
        self._self_parsed: dict[int, Any] = {}

    def _self_observe(self, parsed: Any) -> Any:
        cached = self._self_parsed.get(id(parsed))
        if cached is not None:
            return cached
        try:
            if self._self_plan.stream:
                observed = self._self_endpoint.wrap_stream(self._self_invocation, parsed, self._self_plan)
            else:
                self._self_invocation.finish(self._self_endpoint.read_result(parsed))
                observed = parsed
        except Exception as error:  # noqa: BLE001
            report("openai raw response", error)
            observed = parsed
        self._self_parsed[id(parsed)] = observed
        return observed

    def __del__(self) -> None:
        try:
            if not self._self_parsed:
                self._self_invocation.finish(None)
        except Exception:  # noqa: BLE001, S110 - nothing may escape a finaliser
            pass


class RawResponseProxy(_RawProxyBase):
    def parse(self, *args: Any, **kwargs: Any) -> Any:
        return self._self_observe(self.__wrapped__.parse(*args, **kwargs))

    def close(self) -> Any:
        try:
            return self.__wrapped__.close()
        finally:
            if not self._self_parsed:
                self._self_invocation.finish(None)


class AsyncRawResponseProxy(_RawProxyBase):
    async def parse(self, *args: Any, **kwargs: Any) -> Any:
        return self._self_observe(await self.__wrapped__.parse(*args, **kwargs))

    async def close(self) -> Any:
        try:
            return await self.__wrapped__.close()
        finally:
            if not self._self_parsed:
                self._self_invocation.finish(None)
