"""Cohere endpoints: what each API method's request, response and stream say.

The core (``otel_tokens.instrumentation``) runs the call: suppression, nested-call counting, span,
stream proxy, ending exactly once. A :class:`CohereEndpoint` only describes the request and reads
the result; :class:`CohereStreamObserver` only reads the events all Cohere streams share. One named
exception: :func:`embed_batch_wrapper`, for the batches ``Client.embed`` runs on a thread pool.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any

from otel_tokens.instrumentation import (
    CallRequest,
    CallResult,
    Endpoint,
    IdentityCache,
    Prepared,
    Recorder,
    Settings,
    WrapperFn,
    get,
    report,
    semconv,
    sync_wrapper,
    text_or_none,
)
from otel_tokens_cohere import _extract as ex
from otel_tokens_cohere._extract import CHAT_V1, CHAT_V2, EMBED, GENERATE, RERANK, text_or_empty

_OPERATIONS = {
    CHAT_V1: semconv.OPERATION_CHAT,
    CHAT_V2: semconv.OPERATION_CHAT,
    GENERATE: semconv.OPERATION_TEXT_COMPLETION,
    EMBED: semconv.OPERATION_EMBEDDINGS,
    RERANK: semconv.OPERATION_RERANK,
}
_RESULTS: dict[str, Callable[[Any], CallResult]] = {
    CHAT_V1: functools.partial(ex.chat_result, v2=False),
    CHAT_V2: functools.partial(ex.chat_result, v2=True),
    GENERATE: ex.generate_result,
    EMBED: ex.embed_result,
    RERANK: ex.rerank_result,
}


class CohereEndpoint(Endpoint):
    """One Cohere API method: chat (v1 or v2), generate, embed or rerank, plain or streaming."""

    def __init__(self, kind: str, stream: bool = False) -> None:
        self.kind = kind
        self.stream = stream
        self.operation = _OPERATIONS[kind]

    def prepare(
        self, settings: Settings, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Prepared:
        provider, host, port = _client_provider(instance)
        model = text_or_none(kwargs.get("model"))
        request = CallRequest(
            operation=self.operation,
            provider=provider,
            request_model=model,
            server_address=host,
            server_port=port,
            attributes=ex.request_attributes(self.operation, kwargs, self.stream),
            input_messages=ex.input_messages_builder(self.kind, kwargs),
            estimate_input=ex.input_estimator(self.kind, model, kwargs),
        )
        return Prepared(request, kwargs, stream=self.stream)

    def read_result(self, result: Any, plan: Any) -> CallResult:
        return _RESULTS[self.kind](result)

    def stream_observer(self, result: Any, plan: Any) -> CohereStreamObserver | None:
        return CohereStreamObserver(self.kind) if self.stream else None


# (client base URL, client class) -> (provider, host, port). The client wrapper keeps the same
# base-URL string for the client's lifetime.
_providers: IdentityCache[tuple[str, str | None, int | None]] = IdentityCache()


def _client_provider(client: Any) -> tuple[str, str | None, int | None]:
    wrapper = getattr(client, "_client_wrapper", None)
    base_url = wrapper.get_base_url() if wrapper is not None else None
    kind = type(client)
    return _providers.get(base_url, kind, lambda: ex.provider_for(base_url, kind.__name__))


def embed_batch_wrapper(recorder: Recorder, endpoint: CohereEndpoint) -> WrapperFn:
    """The wrapper of ``BaseCohere.embed``: a named exception to ``call_patch``.

    ``Client.embed`` (recorded itself: it is the logical call, with the usage the SDK sums over
    the batches) splits a long list into batches and runs each as a ``BaseCohere.embed`` call on
    the client's thread pool. Pool threads do not inherit the caller's context, so the core's
    nested-call check cannot see the outer call from there: such calls pass through. A direct
    call, or ``Client.embed(batching=False)`` in the caller's thread, goes to the usual shell.
    """
    inner = sync_wrapper(recorder, endpoint)

    def wrapper(
        wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        if _in_batch_worker(instance):
            return wrapped(*args, **kwargs)
        return inner(wrapped, instance, args, kwargs)

    return wrapper


def _in_batch_worker(instance: Any) -> bool:
    # A ThreadPoolExecutor names its threads "<prefix>_<n>" before starting them; its `_threads`
    # set gets a new thread only after the thread may already have run its first batch.
    try:
        prefix = getattr(getattr(instance, "_executor", None), "_thread_name_prefix", None)
        return isinstance(prefix, str) and threading.current_thread().name.startswith(prefix + "_")
    except Exception as error:  # noqa: BLE001
        report("cohere batch check", error)
        return False


class CohereStreamObserver:
    """Events of a v1 chat or generate stream (NDJSON, ``event_type``) or a v2 chat stream (SSE,
    ``type``): ids, text, finish reason, and usage from v1 ``stream-end`` or v2 ``message-end``.

    Fields are kept as they came and validated once, in :meth:`result`.
    """

    __slots__ = ("_kind", "_id", "_reason", "_usage", "_end", "_texts")

    def __init__(self, kind: str) -> None:
        self._kind = kind
        self._id: Any = None
        self._reason: Any = None
        self._usage: Any = None
        self._end: Any = None
        self._texts: list[str] = []

    def on_item(self, event: Any) -> None:
        kind = get(event, "type") or get(event, "event_type")
        if kind == "content-delta":
            text = get(get(get(get(event, "delta"), "message"), "content"), "text")
        elif kind == "text-generation":
            text = get(event, "text")
        elif kind == "tool-plan-delta":
            text = get(get(get(event, "delta"), "message"), "tool_plan")
        elif kind in ("tool-call-start", "tool-call-delta"):
            function = get(get(get(get(event, "delta"), "message"), "tool_calls"), "function")
            text = text_or_empty(get(function, "name")) + text_or_empty(get(function, "arguments"))
        elif kind == "tool-calls-chunk":
            call = get(event, "tool_call_delta")
            text = text_or_empty(get(call, "name")) + text_or_empty(get(call, "parameters"))
        else:
            text = None
            if kind == "message-start":
                self._id = get(event, "id")
            elif kind == "stream-start":
                self._id = get(event, "generation_id")
            elif kind == "message-end":
                delta = get(event, "delta")
                self._reason, self._usage = get(delta, "finish_reason"), get(delta, "usage")
            elif kind in ("stream-end", "stream-error"):
                self._reason = get(event, "finish_reason")
                self._end = get(event, "response")
        if isinstance(text, str) and text:
            self._texts.append(text)

    def result(self) -> CallResult:
        reason = text_or_none(self._reason)
        response_id = text_or_none(self._id)
        if self._end is not None:
            result = _RESULTS[self._kind](self._end)
            if not result.finish_reasons and reason:
                result.finish_reasons = (reason,)
        else:
            found, raw = ex.usage(self._usage)
            result = CallResult(
                response_id=response_id,
                finish_reasons=(reason,) if reason else None,
                usage=found,
                attributes=raw,
            )
        result.response_id = result.response_id or response_id
        texts = self._texts
        result.output_texts = texts if result.usage is None else None
        result.output_messages = lambda: [ex.output_message(["".join(texts)], reason)]
        return result
