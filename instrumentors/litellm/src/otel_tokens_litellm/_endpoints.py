"""LiteLLM endpoints: what each of LiteLLM's functions' arguments, responses and streams say.

The core (``otel_tokens.instrumentation``) runs the call: suppression, span, counting a call once
when LiteLLM calls an instrumented SDK underneath, ending exactly once. A
:class:`LiteLLMEndpoint` only describes the request and reads the result; the stream observer
only reads chunks.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from otel_tokens.instrumentation import (
    SKIP,
    AsyncStreamProxy,
    CallRequest,
    CallResult,
    Endpoint,
    Invocation,
    Prepared,
    Settings,
    SyncStreamProxy,
    get,
    openai_shape,
    semconv,
    text_or_none,
)
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


class LiteLLMEndpoint(Endpoint):
    """One LiteLLM function family: ``completion``, ``text_completion`` or ``embedding`` (and ``a*``)."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.operation = _OPERATIONS[kind]

    def prepare(
        self, settings: Settings, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Prepared:
        (model_name, model_at), (content_name, content_at) = _ARGUMENTS[self.kind]
        model = ex.argument(args, kwargs, model_name, model_at)
        content = ex.argument(args, kwargs, content_name, content_at)
        target = resolve(
            model if isinstance(model, str) else None,
            kwargs.get("custom_llm_provider"),
            kwargs.get("api_base") or kwargs.get("base_url"),
        )
        host, port = ex.server(target.api_base)
        overrides = settings.provider_hosts
        declared = ex.host_provider(overrides, host, port)
        provider = declared or ex.provider_name(target.litellm_provider)
        stream = kwargs.get("stream") is True
        call_kwargs = kwargs
        if (
            stream
            and self.kind != EMBEDDINGS
            and settings.stream_include_usage
            and ex.asks_for_usage(
                target.litellm_provider, target.api_base or _configured_api_base(target), overrides
            )
        ):
            call_kwargs = ex.with_stream_usage(kwargs)
        request = CallRequest(
            operation=self.operation,
            provider=provider,
            request_model=target.model,
            server_address=host,
            server_port=port,
            gateway=ex.is_gateway(target.litellm_provider, host, declared),
            attributes=ex.request_attributes(self.operation, kwargs),
            input_messages=(lambda: ex.input_messages(content)) if self.kind != EMBEDDINGS else None,
            estimate_input=ex.input_estimator(self.kind, target.model, content),
        )
        return Prepared(request, call_kwargs, Plan(stream, call_kwargs is not kwargs), stream)

    def with_model(self, prepared: Prepared, model: str) -> bool:
        """Send the call to ``model``, given as the user gave theirs: by keyword or at its position
        (``litellm.completion("gpt-4o", messages)``). ``model`` goes to LiteLLM as written, so a
        ``provider/`` prefix in it routes the call as it would in the user's own code."""
        # Not the base's: LiteLLM's functions take the model positionally too.
        (name, position), _ = _ARGUMENTS[self.kind]
        if name in prepared.kwargs:
            prepared.kwargs = {**prepared.kwargs, name: model}
            return True
        args = prepared.args
        if len(args) > position:
            prepared.args = (*args[:position], model, *args[position + 1 :])
            return True
        return False

    def recorded_model(self, prepared: Prepared, model: str) -> str:
        # As prepare() records the user's own model: without the routing prefix ("openai/").
        kwargs = prepared.kwargs
        target = resolve(
            model, kwargs.get("custom_llm_provider"), kwargs.get("api_base") or kwargs.get("base_url")
        )
        return target.model or model

    def read_result(self, result: Any, plan: Plan) -> CallResult:
        return _RESULTS[self.kind](result)

    def stream_observer(self, result: Any, plan: Plan) -> LiteLLMStreamObserver | None:
        if plan.stream and (hasattr(result, "__next__") or hasattr(result, "__anext__")):
            return LiteLLMStreamObserver(result, plan.injected_usage)
        return None

    def wrap_result(self, invocation: Invocation, result: Any, prepared: Prepared, is_async: bool) -> Any:
        # Not the base's: LiteLLM has no raw responses, and its stream is one object for both
        # iteration protocols (CustomStreamWrapper has __iter__ and __aiter__), so the proxy is
        # chosen by the function called, and mirrors close()/aclose() only where the stream has them.
        observer = self.stream_observer(result, prepared.plan)
        if observer is None:
            invocation.end(self.read_result(result, prepared.plan))
            return result
        proxy = LiteLLMAsyncStream if is_async else LiteLLMSyncStream
        return proxy(result, invocation, observer)


# (model, custom_llm_provider, api_base) -> Target. Resolving costs LiteLLM ~8 µs a call, and a
# program uses a handful of models. Keyed by value, not by identity (IdentityCache): model names
# are often built per call (f-strings, config reads), and equal names must share their entry.
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


# Where LiteLLM sends a call to these providers that names no API base, before its built-in
# default (litellm/main.py): the global ``litellm.api_base``, then these variables.
_BASE_VARIABLES = {
    "openai": ("OPENAI_BASE_URL", "OPENAI_API_BASE"),
    "text-completion-openai": ("OPENAI_BASE_URL", "OPENAI_API_BASE"),
    "openrouter": ("OPENROUTER_API_BASE",),
}


def _configured_api_base(target: Target) -> str | None:
    """The API base LiteLLM will use for a call that gives none; ``None`` for its default.

    Read on the opt-in's path only (a streamed call with ``stream_include_usage``): LiteLLM reads
    the environment on every call, so a cached answer could be stale.
    """
    litellm = sys.modules.get("litellm")
    configured = getattr(litellm, "api_base", None)
    if isinstance(configured, str) and configured:
        return configured
    for name in _BASE_VARIABLES.get(target.litellm_provider or "", ()):
        value = os.environ.get(name)
        if value:
            return value
    return None


class LiteLLMStreamObserver(openai_shape.ChatStreamObserverBase):
    """Chunks of a ``CustomStreamWrapper`` (chat) or ``TextCompletionStreamWrapper``.

    Usage is read from the chunk that carries it, which LiteLLM sends only when
    ``stream_options.include_usage`` was asked for. When the provider sent no usage, LiteLLM still
    sends that chunk with counts of its own making; those are not what the provider billed, so they
    are dropped and the call is estimated (and flagged) as for any stream without usage.
    """

    __slots__ = ("_stream",)

    def __init__(self, stream: Any, injected_usage: bool) -> None:
        # Not super(): a stream starts on every streamed call, and super() costs twice as much.
        openai_shape.ChatStreamObserverBase.__init__(self, injected_usage)
        self._stream = stream

    def on_item(self, chunk: Any) -> object | None:
        if self._head is None and text_or_none(get(chunk, "model")):
            self._head = chunk
        content = ex.read_chunk(chunk, self._reasons, self._texts)
        usage = get(chunk, "usage")
        if usage is not None:
            self._usage = usage
            if self._injected:
                if not content:
                    return SKIP  # the user did not ask for this chunk; they must not see it
                return ex.without_usage(chunk)  # usage on a chunk with content: hide it all the same
        return None

    def result(self) -> CallResult:
        provider_usage = self._usage is not None and ex.provider_sent_usage(self._stream)
        return self._result(ex.usage_of(self._usage) if provider_usage else None)


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
