"""LiteLLM endpoints for the shared wrapper shells, and the stream observer.

Each :class:`LiteLLMEndpoint` describes one of LiteLLM's module-level functions (chat completion,
text completion, embedding) and reads its result; the sync/async shells in ``otel_tokens._wrapping``
do the rest, including counting a call once when LiteLLM calls an instrumented SDK underneath.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from typing import Any

from otel_tokens import _openai_shape as shape
from otel_tokens import semconv
from otel_tokens._streams import SKIP, AsyncStreamProxy, SyncStreamProxy
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
from otel_tokens_litellm import _extract as ex

CHAT = "chat"
TEXT_COMPLETION = "text_completion"
EMBEDDINGS = "embeddings"

_OPERATIONS = {
    CHAT: semconv.OPERATION_CHAT,
    TEXT_COMPLETION: semconv.OPERATION_TEXT_COMPLETION,
    EMBEDDINGS: semconv.OPERATION_EMBEDDINGS,
}
_RESULTS: dict[str, Callable[[Any], CallResult]] = {
    CHAT: ex.chat_result,
    TEXT_COMPLETION: ex.text_completion_result,
    EMBEDDINGS: ex.embeddings_result,
}
# (name, position) of the model and of the content each function takes; text_completion's
# first positional argument is the prompt.
_ARGUMENTS = {
    CHAT: (("model", 0), ("messages", 1)),
    TEXT_COMPLETION: (("model", 1), ("prompt", 0)),
    EMBEDDINGS: (("model", 0), ("input", 1)),
}


@dataclass(slots=True)
class Plan:
    stream: bool
    injected_usage: bool


@dataclass(frozen=True, slots=True)
class Target:
    """Where LiteLLM sends a model: its provider id, the provider's model name, the API base."""

    litellm_provider: str | None
    model: str | None
    api_base: str | None


class LiteLLMEndpoint:
    """One LiteLLM function family: ``completion``, ``text_completion`` or ``embedding`` (and ``a*``)."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.operation = _OPERATIONS[kind]
        self.read_result = _RESULTS[kind]

    def prepare(
        self, recorder: Recorder, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> tuple[CallRequest, dict[str, Any], Plan]:
        (model_name, model_at), (content_name, content_at) = _ARGUMENTS[self.kind]
        model = ex.argument(args, kwargs, model_name, model_at)
        content = ex.argument(args, kwargs, content_name, content_at)
        target = resolve(
            model if isinstance(model, str) else None,
            kwargs.get("custom_llm_provider"),
            kwargs.get("api_base") or kwargs.get("base_url"),
        )
        host, port = ex.server(target.api_base)
        provider = host_provider(recorder.settings.provider_hosts, host, port) or ex.provider_name(
            target.litellm_provider
        )
        stream = kwargs.get("stream") is True
        call_kwargs, injected = kwargs, False
        if stream and self.kind != EMBEDDINGS and recorder.settings.stream_include_usage:
            options = kwargs.get("stream_options")
            options = options if isinstance(options, dict) else {}
            if not options.get("include_usage"):
                call_kwargs = {**kwargs, "stream_options": {**options, "include_usage": True}}
                injected = True
        request = CallRequest(
            operation=self.operation,
            provider=provider,
            request_model=target.model,
            server_address=host,
            server_port=port,
            attributes=ex.request_attributes(self.operation, kwargs),
            input_messages=(lambda: ex.input_messages(content)) if self.kind != EMBEDDINGS else None,
            estimate_input=_input_estimator(self.kind, target.model, content),
        )
        return request, call_kwargs, Plan(stream, injected)

    def wrap_result(self, invocation: Invocation, result: Any, plan: Plan, is_async: bool) -> Any:
        if plan.stream and (hasattr(result, "__next__") or hasattr(result, "__anext__")):
            observer = StreamObserver(invocation, result, plan.injected_usage)
            return LiteLLMAsyncStream(result, observer) if is_async else LiteLLMSyncStream(result, observer)
        invocation.finish(self.read_result(result))
        return result


# (model, custom_llm_provider, api_base) -> Target. Resolving costs LiteLLM ~8 µs a call, and a
# program uses a handful of models.
_targets: dict[tuple[Any, Any, Any], Target] = {}


def resolve(model: str | None, custom_llm_provider: Any, api_base: Any) -> Target:
    """LiteLLM's own reading of a model name (``"anthropic/claude-..."``, ``"gpt-4o"``...)."""
    key = (model, custom_llm_provider, api_base)
    found = _targets.get(key)
    if found is not None:
        return found
    base = api_base if isinstance(api_base, str) else None
    found = Target(custom_llm_provider if isinstance(custom_llm_provider, str) else None, model, base)
    litellm = sys.modules.get("litellm")
    if model and litellm is not None:
        try:
            name, provider, _, resolved_base = litellm.get_llm_provider(
                model=model, custom_llm_provider=found.litellm_provider, api_base=base
            )
            found = Target(provider, ex.provider_model(provider, name), resolved_base or base)
        except Exception:  # noqa: BLE001, S110 - an unknown provider: LiteLLM's own call raises it to the user
            pass
    if len(_targets) > 256:
        _targets.clear()
    _targets[key] = found
    return found


def _input_estimator(kind: str, model: str | None, content: Any) -> Callable[[Tokenizer], Estimate]:
    # Copy now: programs often append the reply to the same message list right after the call.
    if kind == CHAT:
        messages = list(content) if isinstance(content, list | tuple) else []
        return lambda tokenizer: tokenizer.count_chat_input(model, messages)
    return shape.prompt_estimator(model, ex.prompt_texts(content), content)


class StreamObserver(shape.ChatStreamObserverBase):
    """Chunks of a ``CustomStreamWrapper`` (chat) or ``TextCompletionStreamWrapper``.

    Usage is read from the chunk that carries it, which LiteLLM sends only when
    ``stream_options.include_usage`` was asked for. When the provider sent no usage, LiteLLM still
    sends that chunk with counts of its own making; those are not what the provider billed, so they
    are dropped and the call is estimated (and flagged) as for any stream without usage.
    """

    __slots__ = ("_stream",)

    def __init__(self, invocation: Invocation, stream: Any, injected_usage: bool) -> None:
        super().__init__(invocation, injected_usage)
        self._stream = stream

    def on_item(self, chunk: Any) -> object | None:
        if self._first:
            self._first = False
            self._inv.first_chunk()
        if self._head is None and ex.get(chunk, "model"):
            self._head = chunk
        content = False
        for choice in ex.get(chunk, "choices") or ():
            reason = ex.get(choice, "finish_reason")
            if reason:
                self._reasons[ex.get(choice, "index") or 0] = str(reason)
                content = True
            texts = ex.chunk_texts(choice)
            if texts:
                self._texts.extend(texts)
                content = True
        usage = ex.get(chunk, "usage")
        if usage is not None:
            self._usage = usage
            if self._injected and not content:
                return SKIP  # the user did not ask for this chunk; they must not see it
        return None

    def on_end(self, error: BaseException | None) -> None:
        usage = (
            ex.usage_of(self._usage)
            if self._usage is not None and _provider_sent_usage(self._stream)
            else None
        )
        self._end(error, usage)


def _provider_sent_usage(stream: Any) -> bool:
    """Whether any chunk the provider sent carried usage (else LiteLLM counted the tokens itself).

    ``CustomStreamWrapper.chunks`` keeps every chunk parsed from the provider, usage-only ones
    included; the usage chunk LiteLLM builds at the end is not among them. A text-completion
    stream wraps a chat one. Without that list (another LiteLLM version) the usage is trusted.
    """
    chunks = getattr(stream, "chunks", None)
    if not isinstance(chunks, list):
        chunks = getattr(getattr(stream, "completion_stream", None), "chunks", None)
    if not isinstance(chunks, list):
        return True
    return any(ex.get(chunk, "usage") is not None for chunk in chunks)


def _has(proxy: Any, name: str) -> None:
    if not hasattr(proxy.__wrapped__, name):
        raise AttributeError(name)  # ObjectProxy then asks the wrapped object, which fails alike


class LiteLLMSyncStream(SyncStreamProxy):
    """The user's stream, observed. ``close`` exists only where LiteLLM's own stream has it."""

    @property
    def close(self) -> Callable[[], Any]:  # type: ignore[override]
        _has(self, "close")
        return super().close


class LiteLLMAsyncStream(AsyncStreamProxy):
    """The user's async stream, observed. ``close``/``aclose`` exist only where LiteLLM's stream has them."""

    @property
    def close(self) -> Callable[[], Any]:  # type: ignore[override]
        _has(self, "close")
        return super().close

    @property
    def aclose(self) -> Callable[[], Any]:  # type: ignore[override]
        _has(self, "aclose")
        return super().aclose


def host_provider(overrides: Mapping[str, str], host: str | None, port: int | None) -> str | None:
    """The provider a user mapped this API host to (``OTEL_TOKENS_PROVIDER_HOSTS``), if any."""
    if not host or not overrides:
        return None
    return overrides.get(f"{host}:{port}") or overrides.get(host)


def carry_call_marker(recorder: Recorder) -> WrapperFn:
    """Wrap LiteLLM's ``run_async_function`` so the coroutine it runs knows it is inside our call.

    A sync ``completion(fallbacks=...)`` made while an event loop runs in the thread (a notebook,
    a coroutine calling the sync API) runs its fallbacks through ``run_async_function``, which
    starts a new thread without copying context variables: the ``acompletion`` and the openai call
    inside would then each record the same logical call again.
    """

    def wrapper(
        wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        if not in_instrumented_call():
            return wrapped(*args, **kwargs)
        if args:
            args = (_marked(args[0]), *args[1:])
        elif "async_function" in kwargs:
            kwargs = {**kwargs, "async_function": _marked(kwargs["async_function"])}
        return wrapped(*args, **kwargs)

    return wrapper


def _marked(function: Callable[..., Coroutine[Any, Any, Any]]) -> Callable[..., Coroutine[Any, Any, Any]]:
    @functools.wraps(function)
    async def run(*args: Any, **kwargs: Any) -> Any:
        token = enter_call()  # the task runs in the context it was created in: set it there
        try:
            return await function(*args, **kwargs)
        finally:
            exit_call(token)

    return run
