"""OpenAI endpoints: what each API method family's request, response and stream say.

The core (``otel_tokens.instrumentation``) runs the call: suppression, span, stream proxy,
``with_raw_response`` proxy, ending exactly once. An :class:`OpenAIEndpoint` only describes the
request and reads the result; the stream observers only read chunks.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from otel_tokens.instrumentation import (
    SKIP,
    CallRequest,
    CallResult,
    Endpoint,
    IdentityCache,
    Prepared,
    Settings,
    openai_shape,
    semconv,
    text_or_none,
)
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


@dataclass(frozen=True, slots=True)
class Plan:
    stream: bool
    injected_usage: bool
    fixed_deployment: bool = False
    """The client is an Azure one made for one deployment: the ``model`` argument cannot move the call."""


# Every plan there can be, made once rather than one per call.
_PLANS = {(s, i, d): Plan(s, i, d) for s in (False, True) for i in (False, True) for d in (False, True)}


class OpenAIEndpoint(Endpoint):
    """One OpenAI API method family: chat completions, legacy completions, embeddings, responses."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.operation = _OPERATIONS[kind]

    def prepare(
        self, settings: Settings, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Prepared:
        provider, host, port, gateway, fixed = _client_provider(instance._client, settings.provider_hosts)
        model = text_or_none(kwargs.get("model"))
        stream = kwargs.get("stream") is True
        call_kwargs = kwargs
        injected = False
        if (
            stream
            and self.kind in (CHAT, COMPLETION)
            and settings.stream_include_usage
            and ex.asks_for_usage(provider, host, settings.provider_hosts)
        ):
            call_kwargs = ex.with_stream_usage(kwargs)
            injected = call_kwargs is not kwargs
        request = CallRequest(
            operation=self.operation,
            provider=provider,
            request_model=model,
            server_address=host,
            server_port=port,
            gateway=gateway,
            attributes=ex.request_attributes(self.operation, kwargs),
            # Both are per-call closures, made only when they can be used.
            input_messages=ex.input_messages_builder(self.kind, kwargs) if settings.capture_content else None,
            estimate_input=ex.input_estimator(self.kind, model, kwargs) if settings.estimate_usage else None,
        )
        return Prepared(request, call_kwargs, _PLANS[stream, injected, fixed], stream)

    def with_model(self, prepared: Prepared, model: str) -> bool:
        if prepared.plan.fixed_deployment:
            return False  # the deployment in the client's base URL decides, not the argument
        return super().with_model(prepared, model)

    def read_result(self, result: Any, plan: Plan) -> CallResult:
        return _RESULTS[self.kind](result)

    def stream_observer(self, result: Any, plan: Plan) -> Any:
        if not plan.stream:
            return None
        if self.kind == RESPONSES:
            return ResponsesStreamObserver()
        return ChatStreamObserver(self.kind, plan.injected_usage)


Route = tuple[str, str | None, int | None, bool, bool]
"""(provider, host, port, gateway, fixed deployment) of a client."""

# client base-URL object -> Route. Keyed by the URL object, which the SDK replaces when the base
# URL changes: str() of it and the property cost ~2.5 µs a call.
_providers: IdentityCache[Route] = IdentityCache()


def _client_provider(client: Any, host_overrides: Mapping[str, str]) -> Route:
    url = getattr(client, "_base_url", None)
    if url is None:
        url = client.base_url
    return _providers.get(url, host_overrides, lambda: _route(client, url, host_overrides))


def _route(client: Any, url: Any, host_overrides: Mapping[str, str]) -> Route:
    azure = "Azure" in type(client).__name__
    # An Azure client made with ``azure_deployment=`` has the deployment in its base URL, and the
    # SDK then sends every call there whatever the ``model`` argument says (it puts the model in
    # the path only when the base URL names no deployment): a downgrade cannot be made there.
    fixed = azure and "/deployments" in str(getattr(url, "path", ""))
    return (*ex.route_for(str(url), azure, host_overrides), fixed)


class ChatStreamObserver(openai_shape.ChatStreamObserverBase):
    """Chat-completion and legacy-completion chunks: ids, finish reasons, usage, text.

    Chunks are the SDK's own types, read by direct attribute access: this runs for every chunk.
    A chunk of another shape (a compatible server's oddity) is read field by field instead.
    """

    __slots__ = ("_kind", "_chat")

    def __init__(self, kind: str, injected_usage: bool) -> None:
        # Not super(): a stream starts on every streamed call, and super() costs twice as much.
        openai_shape.ChatStreamObserverBase.__init__(self, injected_usage)
        self._kind = kind
        self._chat = kind == CHAT

    def on_item(self, chunk: Any) -> object | None:
        # The choices are read inline, not in a method of their own: this runs for every chunk.
        try:
            usage = chunk.usage  # first: a chunk without it is read field by field, from the start
            choices = chunk.choices
            for choice in choices:
                if choice.finish_reason:
                    self._reasons[choice.index] = choice.finish_reason
                if self._chat:
                    delta = choice.delta
                    if delta is not None:
                        if delta.content:
                            self._texts.append(delta.content)
                        if delta.tool_calls:
                            self._read_tool_calls(delta.tool_calls)
                elif choice.text:
                    self._texts.append(choice.text)
        except (AttributeError, TypeError):
            usage = getattr(chunk, "usage", None)
            choices = ex.read_odd_chunk(chunk, self._kind, self._reasons, self._texts)
        if self._head is None and getattr(chunk, "model", None):
            self._head = chunk  # Azure's first chunk carries only content-filter results
        if usage is not None:
            self._usage = usage
            if self._injected:
                if not choices:
                    return SKIP  # the user did not ask for this chunk; they must not see it
                return ex.without_usage(chunk)  # usage on the finish chunk: hide it all the same
        return None

    def _read_tool_calls(self, calls: Any) -> None:
        for call in calls:
            function = call.function
            if function is not None:
                self._texts.append((function.name or "") + (function.arguments or ""))

    def result(self) -> CallResult:
        head = self._head
        tier = text_or_none(ex.get(head, "service_tier"))
        return self._result(
            ex.chat_usage(self._usage), tier, ex.response_attributes(head, tier) if head is not None else None
        )


class ResponsesStreamObserver:
    """Responses API events: usage arrives in ``response.completed`` (or incomplete/failed)."""

    __slots__ = ("_created", "_final", "_texts")

    _FINAL_EVENTS = frozenset({"response.completed", "response.incomplete", "response.failed"})

    def __init__(self) -> None:
        self._created: Any = None
        self._final: Any = None
        self._texts: list[str] = []

    def on_item(self, event: Any) -> None:
        kind = ex.get(event, "type")
        if kind == "response.output_text.delta":
            delta = ex.get(event, "delta")
            if isinstance(delta, str):
                self._texts.append(delta)
        elif kind in self._FINAL_EVENTS:
            self._final = ex.get(event, "response")
        elif kind == "response.created":
            self._created = ex.get(event, "response")

    def result(self) -> CallResult:
        response = self._final if self._final is not None else self._created
        result = ex.responses_result(response) if response is not None else CallResult()
        if result.usage is None:
            result.output_texts = self._texts
        return result
