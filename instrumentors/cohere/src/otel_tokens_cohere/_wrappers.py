"""Cohere endpoints for the shared wrapper shells, and the one stream observer all Cohere streams share.

Each :class:`CohereEndpoint` knows how to describe one API method's request and read its result;
the sync/async shells in ``otel_tokens._wrapping`` do the rest.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any

from otel_tokens import semconv
from otel_tokens._safety import report
from otel_tokens._streams import AsyncStreamProxy, SyncStreamProxy
from otel_tokens._wrapping import WrapperFn
from otel_tokens.record import CallRequest, CallResult, Invocation, Recorder
from otel_tokens.tokenize import Estimate, Tokenizer
from otel_tokens_cohere import _extract as ex

CHAT_V1 = "chat_v1"
CHAT_V2 = "chat_v2"
GENERATE = "generate"
EMBED = "embed"
RERANK = "rerank"

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


class CohereEndpoint:
    """One Cohere API method: chat (v1 or v2), generate, embed or rerank, plain or streaming."""

    def __init__(self, kind: str, stream: bool = False) -> None:
        self.kind = kind
        self.stream = stream
        self.operation = _OPERATIONS[kind]

    def prepare(
        self, recorder: Recorder, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> tuple[CallRequest, dict[str, Any], None]:
        wrapper = getattr(instance, "_client_wrapper", None)
        base_url = wrapper.get_base_url() if wrapper is not None else None
        provider, host, port = _provider(base_url, type(instance).__name__)
        model = kwargs.get("model")
        model = model if isinstance(model, str) else None
        request = CallRequest(
            operation=self.operation,
            provider=provider,
            request_model=model,
            server_address=host,
            server_port=port,
            attributes=ex.request_attributes(self.operation, kwargs, self.stream),
            input_messages=_input_messages(self.kind, kwargs),
            estimate_input=_input_estimator(self.kind, model, kwargs),
        )
        return request, kwargs, None

    def wrap_result(self, invocation: Invocation, result: Any, plan: None, is_async: bool) -> Any:
        if self.stream:
            observer = StreamObserver(invocation, self.kind)
            if hasattr(result, "__anext__"):
                return AsyncStreamProxy(result, observer)
            return SyncStreamProxy(result, observer)
        invocation.finish(_RESULTS[self.kind](result))
        return result


# A client's base URL rarely changes: parse it once per (URL, client class).
_provider = functools.lru_cache(maxsize=256)(ex.provider_for)


def _input_messages(kind: str, kwargs: dict[str, Any]) -> Callable[[], Any] | None:
    if kind == CHAT_V1:
        return lambda: ex.input_messages(ex.v1_chat_messages(kwargs))
    if kind == CHAT_V2:
        return lambda: ex.input_messages(kwargs.get("messages") or ())
    if kind == GENERATE:
        return lambda: ex.input_messages(
            {"role": "user", "content": t} for t in ex.text_list(kwargs.get("prompt"))
        )
    return None


def _input_estimator(
    kind: str, model: str | None, kwargs: dict[str, Any]
) -> Callable[[Tokenizer], Estimate] | None:
    # Copy now: programs often append the reply to the same message list right after the call.
    if kind in (CHAT_V1, CHAT_V2):
        messages = ex.v1_chat_messages(kwargs) if kind == CHAT_V1 else list(kwargs.get("messages") or ())
        # Cohere bills the text of the messages, without OpenAI's per-message framing tokens.
        return lambda tokenizer: tokenizer.count_texts(model, ex.chat_texts(messages))
    if kind in (GENERATE, EMBED):
        texts = ex.text_list(kwargs.get("prompt" if kind == GENERATE else "texts"))
        return lambda tokenizer: tokenizer.count_texts(model, texts)
    return None  # a rerank is billed in search units, which no tokenizer counts


class Switch:
    """On while the patches of one ``instrument()`` are in place.

    ``Client.__init__`` stores bound ``chat``/``chat_stream`` methods on each instance, so a client
    made while instrumented keeps calling our wrapper after ``uninstrument()``: the wrapper must
    then step aside, and a later ``instrument()`` does not reach that client's chat methods.
    """

    __slots__ = ("on",)

    def __init__(self) -> None:
        self.on = True


def shell(
    recorder: Recorder,
    endpoint: CohereEndpoint,
    make: Callable[[Recorder, CohereEndpoint], WrapperFn],
    switch: Switch,
    batches: bool = False,
) -> WrapperFn:
    """The shared shell ``make`` for ``endpoint``, active while ``switch`` is on.

    ``batches``: the method is ``BaseCohere.embed``, which ``Client.embed`` runs on the client's
    thread pool, one batch of a call it already counts. Pool threads do not inherit the caller's
    context, so the shells cannot see that by themselves; such calls pass through.
    """
    inner = make(recorder, endpoint)

    def wrapper(
        wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        if not switch.on or (batches and _in_batch_worker(instance)):
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


class StreamObserver:
    """Events of a v1 chat or generate stream (NDJSON, ``event_type``) or a v2 chat stream (SSE,
    ``type``): ids, text, finish reason, and usage from v1 ``stream-end`` or v2 ``message-end``."""

    __slots__ = ("_inv", "_kind", "_first", "_id", "_reason", "_usage", "_end", "_texts")

    def __init__(self, invocation: Invocation, kind: str) -> None:
        self._inv = invocation
        self._kind = kind
        self._first = True
        self._id: Any = None
        self._reason: Any = None
        self._usage: Any = None
        self._end: Any = None
        self._texts: list[str] = []

    def on_item(self, event: Any) -> None:
        if self._first:
            self._first = False
            self._inv.first_chunk()
        get = ex.get
        kind = get(event, "type") or get(event, "event_type")
        if kind == "content-delta":
            text = get(get(get(get(event, "delta"), "message"), "content"), "text")
        elif kind == "text-generation":
            text = get(event, "text")
        elif kind == "tool-plan-delta":
            text = get(get(get(event, "delta"), "message"), "tool_plan")
        elif kind in ("tool-call-start", "tool-call-delta"):
            function = get(get(get(get(event, "delta"), "message"), "tool_calls"), "function")
            text = (get(function, "name") or "") + (get(function, "arguments") or "")
        elif kind == "tool-calls-chunk":
            call = get(event, "tool_call_delta")
            text = (get(call, "name") or "") + (get(call, "parameters") or "")
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

    def on_end(self, error: BaseException | None) -> None:
        if self._end is not None:
            result = _RESULTS[self._kind](self._end)
            if not result.finish_reasons and self._reason:
                result.finish_reasons = (str(self._reason),)
        else:
            found, raw = ex.usage(self._usage)
            result = CallResult(
                response_id=self._id,
                finish_reasons=(str(self._reason),) if self._reason else None,
                usage=found,
                attributes=raw,
            )
        result.response_id = result.response_id or self._id
        texts, reason = self._texts, self._reason
        result.output_texts = texts if result.usage is None else None
        result.output_messages = lambda: [ex.output_message(["".join(texts)], reason)]
        if error is None:
            self._inv.finish(result)
        else:
            self._inv.fail(error, result)
