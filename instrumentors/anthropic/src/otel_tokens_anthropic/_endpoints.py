"""Anthropic endpoints for the shared wrapper shells, the ``messages.stream()`` helper, and the
switch that keeps the SDK's own call span out of the calls we record.

``messages.create``/``parse`` and legacy ``completions.create`` go through the shared shells
(``otel_tokens._wrapping``) with an :class:`AnthropicEndpoint`. ``messages.stream()`` only
builds a manager; its HTTP request is sent when the manager is entered, so the call is
started there, by :class:`StreamManagerProxy`, inside an instrumented-call scope like the
shells' own.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any

import wrapt
from opentelemetry import trace

from otel_tokens import semconv
from otel_tokens._safety import report
from otel_tokens._wrapping import WrapperFn
from otel_tokens.record import (
    CallRequest,
    CallResult,
    Invocation,
    Recorder,
    enter_call,
    exit_call,
    in_instrumented_call,
)
from otel_tokens.tokenize import Estimate, Tokenizer
from otel_tokens_anthropic import _extract as ex
from otel_tokens_anthropic._raw import RAW_RESPONSE_TYPES, wrap_raw
from otel_tokens_anthropic._stream import observe_stream

logger = logging.getLogger("otel_tokens")

MESSAGES = "messages"
COMPLETION = "completion"

_OPERATIONS = {MESSAGES: semconv.OPERATION_CHAT, COMPLETION: semconv.OPERATION_TEXT_COMPLETION}
_RESULTS: dict[str, Callable[[Any], CallResult]] = {
    MESSAGES: ex.message_result,
    COMPLETION: ex.completion_result,
}


class AnthropicEndpoint:
    """``messages.create``/``parse`` (stable and beta) or legacy ``completions.create``."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.read_result = _RESULTS[kind]

    def prepare(
        self, recorder: Recorder, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> tuple[CallRequest, dict[str, Any], bool]:
        stream = kwargs.get("stream") is True
        return describe(recorder, instance, kwargs, self.kind, stream), kwargs, stream

    def wrap_result(self, invocation: Invocation, result: Any, stream: bool, is_async: bool) -> Any:
        if type(result).__name__ in RAW_RESPONSE_TYPES:
            return wrap_raw(invocation, result, stream, observe_stream if stream else self._finish)
        if stream:
            return observe_stream(invocation, result)
        invocation.finish(self.read_result(result))
        return result

    def _finish(self, invocation: Invocation, message: Any) -> Any:
        invocation.finish(self.read_result(message))
        return message


def describe(
    recorder: Recorder, instance: Any, kwargs: Mapping[str, Any], kind: str, stream: bool
) -> CallRequest:
    """The :class:`CallRequest` of a call on a resource (``instance``) of an Anthropic client."""
    provider, host, port = _client_provider(instance._client, recorder.settings.provider_hosts)
    model = kwargs.get("model")
    model = model if isinstance(model, str) else None
    if kind == MESSAGES:
        messages = ex.chat_messages(kwargs)
        tools = ex.tool_texts(kwargs.get("tools"))
        schema = ex.output_schema_text(kwargs)
        input_messages: Callable[[], Any] = lambda: ex.input_messages(messages)  # noqa: E731
        estimate = _chat_estimator(model, messages, [*tools, schema] if schema else tools, bool(tools))
    else:
        prompt = kwargs.get("prompt")
        texts = [prompt] if isinstance(prompt, str) else []
        input_messages = lambda: ex.input_messages([{"role": "user", "content": texts}])  # noqa: E731
        estimate = lambda tokenizer: tokenizer.count_texts(model, texts)  # noqa: E731
    return CallRequest(
        operation=_OPERATIONS[kind],
        provider=provider,
        request_model=model,
        server_address=host,
        server_port=port,
        attributes=ex.request_attributes(kwargs, stream),
        input_messages=input_messages,
        estimate_input=estimate,
    )


# The API adds a system prompt of its own when tools are given; Anthropic documents 264 to 346
# input tokens depending on the model and tool_choice (the recorded requests show about 300).
TOOL_USE_SYSTEM_PROMPT_TOKENS = 300


def _chat_estimator(
    model: str | None, messages: list[dict[str, Any]], extra: list[str], tools: bool
) -> Callable[[Tokenizer], Estimate]:
    def count(tokenizer: Tokenizer) -> Estimate:
        estimate = tokenizer.count_chat_input(model, messages)
        if not extra:
            return estimate
        tokens = estimate.tokens + tokenizer.count_texts(model, extra).tokens
        return Estimate(tokens + (TOOL_USE_SYSTEM_PROMPT_TOKENS if tools else 0), estimate.method)

    return count


# client base-URL object -> (that object, overrides, client type, answer). Keyed by the URL
# object, which the SDK replaces when the base URL changes: parsing it on every call is wasted.
_by_url: dict[int, tuple[Any, Any, type, tuple[str, str | None, int | None]]] = {}


def _client_provider(client: Any, host_overrides: Mapping[str, str]) -> tuple[str, str | None, int | None]:
    url = getattr(client, "_base_url", None)
    if url is None:
        url = client.base_url
    kind = type(client)
    cached = _by_url.get(id(url))
    if cached is not None and cached[0] is url and cached[1] is host_overrides and cached[2] is kind:
        return cached[3]
    found = ex.provider_for(kind.__name__, str(url), host_overrides)
    if len(_by_url) > 256:
        _by_url.clear()
    _by_url[id(url)] = (url, host_overrides, kind, found)
    return found


# -- messages.stream() ------------------------------------------------------------------------


def stream_helper_wrapper(recorder: Recorder) -> WrapperFn:
    """Wraps ``messages.stream()`` (sync and async clients alike: the method itself is sync)."""

    def wrapper(
        wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        if in_instrumented_call() or not recorder.settings.enabled:
            return wrapped(*args, **kwargs)
        try:
            request: CallRequest | None = describe(recorder, instance, kwargs, MESSAGES, True)
        except Exception as error:  # noqa: BLE001
            report("anthropic messages.stream", error)
            request = None
        manager = wrapped(*args, **kwargs)
        if request is None:
            return manager
        proxy = AsyncStreamManagerProxy if hasattr(manager, "__aenter__") else StreamManagerProxy
        return proxy(manager, recorder, request)

    return wrapper


def _observe_helper_stream(invocation: Invocation, stream: Any) -> None:
    """Observe the raw event stream a ``MessageStream`` reads from (its helpers bypass the proxy)."""
    raw = getattr(stream, "_raw_stream", None)
    if raw is None:
        logger.debug("otel-tokens: this anthropic version's MessageStream has no raw stream; no usage")
        invocation.finish(None)
        return
    stream._raw_stream = observe_stream(invocation, raw)


class _ManagerProxyBase(wrapt.ObjectProxy):  # type: ignore[misc]
    def __init__(self, wrapped: Any, recorder: Recorder, request: CallRequest) -> None:
        super().__init__(wrapped)
        self._self_recorder = recorder
        self._self_request = request

    def _self_entered(self, invocation: Invocation, stream: Any) -> None:
        try:
            _observe_helper_stream(invocation, stream)
        except Exception as error:  # noqa: BLE001
            report("anthropic stream helper", error)
            invocation.finish(None)


class StreamManagerProxy(_ManagerProxyBase):
    """A ``MessageStreamManager``: entering it sends the request, inside our call."""

    def __enter__(self) -> Any:
        if in_instrumented_call():
            return self.__wrapped__.__enter__()
        invocation = self._self_recorder.start(self._self_request)
        token = enter_call()
        try:
            with trace.use_span(invocation.span, record_exception=False, set_status_on_exception=False):
                stream = self.__wrapped__.__enter__()
        except BaseException as error:
            invocation.fail(error)
            raise
        finally:
            exit_call(token)
        self._self_entered(invocation, stream)
        return stream

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> Any:
        return self.__wrapped__.__exit__(exc_type, exc, tb)


class AsyncStreamManagerProxy(_ManagerProxyBase):
    """An ``AsyncMessageStreamManager``: entering it sends the request, inside our call."""

    async def __aenter__(self) -> Any:
        if in_instrumented_call():
            return await self.__wrapped__.__aenter__()
        invocation = self._self_recorder.start(self._self_request)
        token = enter_call()
        try:
            with trace.use_span(invocation.span, record_exception=False, set_status_on_exception=False):
                stream = await self.__wrapped__.__aenter__()
        except BaseException as error:
            invocation.fail(error)
            raise
        finally:
            exit_call(token)
        self._self_entered(invocation, stream)
        return stream

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> Any:
        return await self.__wrapped__.__aexit__(exc_type, exc, tb)


# -- the SDK's own tracing ----------------------------------------------------------------------


def sdk_span_switch(recorder: Recorder) -> WrapperFn:
    """Wraps anthropic 2.x's ``_base_client.start_api_call_span``: no SDK span inside a call we record.

    The SDK documents that ``None`` means "no span, the call goes on without one". Outside our
    calls (``count_tokens``, models, files, batches, or with otel-tokens disabled) the SDK's
    span is started as usual.
    """

    def wrapper(
        wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        if in_instrumented_call():
            return None
        return wrapped(*args, **kwargs)

    return wrapper
