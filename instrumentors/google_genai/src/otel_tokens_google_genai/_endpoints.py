"""google-genai endpoints for the shared wrapper shells, the stream observer, the call-site carrier.

One span per HTTP request. ``Models.generate_content`` may send several requests for one call:
automatic function calling (AFC) sends one request per round of Python tool calls, and newer
releases' automatic continuation one per continuation token; the response it returns carries only the
last request's ``usage_metadata``. So the per-request methods are wrapped (``_generate_content``,
``_generate_content_stream``), each billed request is counted exactly once, and each is priced on
its own: Gemini's long-context price tier depends on one request's input, never on a sum.
``embed_content`` sends exactly one request and is wrapped as the public method.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from contextvars import Token
from typing import Any, cast

from opentelemetry import context

from otel_tokens import current_tags, semconv, tags
from otel_tokens._safety import call_guarded
from otel_tokens._streams import AsyncStreamProxy, SyncStreamProxy
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
from otel_tokens_google_genai import _extract as ex

GENERATE = "generate"
STREAM = "stream"
EMBED = "embed"


class GenAIEndpoint:
    """One google-genai request method: generate (plain or streamed) or embed."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.operation = semconv.OPERATION_EMBEDDINGS if kind == EMBED else semconv.OPERATION_GENERATE_CONTENT

    def prepare(
        self, recorder: Recorder, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> tuple[CallRequest, dict[str, Any], None]:
        config = kwargs.get("config")
        provider, host, port = _client_provider(
            instance._api_client, config, recorder.settings.provider_hosts
        )
        model = ex.model_name(kwargs.get("model"))
        contents = kwargs.get("contents")
        # Copy now: the SDK appends AFC turns to the same list right after the request.
        contents = list(contents) if isinstance(contents, list) else contents
        if self.kind == EMBED:
            attributes = ex.embed_request_attributes(config)
            messages = None
            estimate = _estimator(model, lambda: ex.embed_texts(contents))
        else:
            attributes = ex.generate_request_attributes(config, self.kind == STREAM)
            messages = lambda: ex.input_messages(contents, config)  # noqa: E731
            estimate = _estimator(model, lambda: ex.input_texts(contents, config))
        request = CallRequest(
            operation=self.operation,
            provider=provider,
            request_model=model,
            server_address=host,
            server_port=port,
            attributes=attributes,
            input_messages=messages,
            estimate_input=estimate,
        )
        return request, kwargs, None

    def wrap_result(self, invocation: Invocation, result: Any, plan: None, is_async: bool) -> Any:
        if self.kind == STREAM:
            observer = GenerateStreamObserver(invocation)
            if hasattr(result, "__anext__"):
                return AsyncStreamProxy(result, observer)
            return SyncStreamProxy(result, observer)
        invocation.finish(ex.embed_result(result) if self.kind == EMBED else ex.generate_result(result))
        return result


def _estimator(model: str | None, texts: Callable[[], list[str]]) -> Callable[[Tokenizer], Estimate]:
    return lambda tokenizer: tokenizer.count_texts(model, texts())


# (base URL, Vertex mode, host overrides) -> provider, host, port; a client's URL rarely changes.
_providers: dict[tuple[str | None, bool], tuple[Mapping[str, str], tuple[str, str | None, int | None]]] = {}


def _client_provider(
    client: Any, config: Any, host_overrides: Mapping[str, str]
) -> tuple[str, str | None, int | None]:
    options = ex.get(config, "http_options")
    base_url = ex.get(options, "base_url") or ex.get(getattr(client, "_http_options", None), "base_url")
    key = (base_url if isinstance(base_url, str) else None, bool(getattr(client, "vertexai", False)))
    cached = _providers.get(key)
    if cached is not None and cached[0] is host_overrides:
        return cached[1]
    found = ex.provider_for(key[0], key[1], host_overrides)
    if len(_providers) > 256:
        _providers.clear()
    _providers[key] = (host_overrides, found)
    return found


class GenerateStreamObserver:
    """``GenerateContentResponse`` chunks of one streamed request.

    Every chunk may carry ``usage_metadata`` with the counts so far; the last one seen holds the
    final counts, so it replaces the earlier ones (summing chunks would count tokens many times).
    """

    __slots__ = ("_inv", "_first", "_usage", "_model", "_id", "_reasons", "_texts")

    def __init__(self, invocation: Invocation) -> None:
        self._inv = invocation
        self._first = True
        self._usage: Any = None
        self._model: str | None = None
        self._id: str | None = None
        self._reasons: dict[int, str] = {}
        self._texts: list[str] = []

    def on_item(self, chunk: Any) -> None:
        if self._first:
            self._first = False
            self._inv.first_chunk()
        metadata = ex.get(chunk, "usage_metadata")
        if metadata is not None:
            self._usage = metadata
        self._model = ex.get(chunk, "model_version") or self._model
        self._id = ex.get(chunk, "response_id") or self._id
        for candidate in ex.get(chunk, "candidates") or ():
            reason = ex.finish_reason(candidate)
            if reason:
                self._reasons[ex.get(candidate, "index") or 0] = reason
            self._texts.extend(ex.candidate_texts(candidate))

    def on_end(self, error: BaseException | None) -> None:
        if error is not None and self._first:
            # Rejected before any chunk (an HTTP error on the lazily sent request): nothing was
            # generated or billed, so there is nothing to estimate either.
            self._inv.fail(error)
            return
        usage = ex.usage_from_metadata(self._usage)
        reasons = tuple(self._reasons[index] for index in sorted(self._reasons))
        texts = self._texts
        result = CallResult(
            response_model=self._model,
            response_id=self._id,
            finish_reasons=reasons or None,
            usage=usage,
            output_texts=texts if usage is None else None,
            output_messages=lambda: [
                {"role": "assistant", "parts": [{"type": "text", "content": "".join(texts)}]}
                | ({"finish_reason": reasons[0]} if reasons else {})
            ],
        )
        if error is None:
            self._inv.finish(result)
        else:
            self._inv.fail(error, result)


# -- call-site carrier ---------------------------------------------------------------------
# The public stream methods send their requests lazily, while the caller iterates, so the
# per-request wrappers run wherever the iteration happens, not where the call was made. These
# wrappers capture the call site (its OpenTelemetry context, so the parent span and baggage; its
# tags; whether an outer instrumented call was running) and restore it around every step of the
# iteration: the span is tagged and parented like the call, and a stream started inside an
# outer instrumented layer (which records the call itself) is left to that layer.


class _CallSite:
    """The call site's OpenTelemetry context, tags and nesting, to restore around each step."""

    __slots__ = ("otel", "tags", "nested")

    def __init__(self) -> None:
        self.otel = context.get_current()
        self.tags = current_tags()
        self.nested = in_instrumented_call()

    def enter(self) -> tuple[object, tags | None, Token[bool] | None]:
        otel_token = context.attach(self.otel)
        scope = tags(**cast(dict[str, Any], self.tags)) if self.tags else None
        if scope is not None:
            scope.__enter__()
        return otel_token, scope, enter_call() if self.nested else None

    @staticmethod
    def leave(entered: tuple[object, tags | None, Token[bool] | None]) -> None:
        otel_token, scope, call_token = entered
        if call_token is not None:
            exit_call(call_token)
        if scope is not None:
            scope.__exit__(None, None, None)
        context.detach(otel_token)  # type: ignore[arg-type]


def stream_call_sync(
    wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    site = call_guarded("google-genai call site", _CallSite)
    result = wrapped(*args, **kwargs)
    return result if site is None else _carried_items(result, site)


async def stream_call_async(
    wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    site = call_guarded("google-genai call site", _CallSite)
    result = await wrapped(*args, **kwargs)
    return result if site is None else _carried_async_items(result, site)


def _carried_items(items: Any, site: _CallSite) -> Iterator[Any]:
    iterator = iter(items)
    try:
        while True:
            entered = site.enter()
            try:
                item = next(iterator)
            except StopIteration:
                return
            finally:
                site.leave(entered)
            yield item
    finally:
        close = getattr(iterator, "close", None)
        if close is not None:
            close()


async def _carried_async_items(items: Any, site: _CallSite) -> AsyncIterator[Any]:
    iterator = aiter(items)
    try:
        while True:
            entered = site.enter()
            try:
                item = await anext(iterator)
            except StopAsyncIteration:
                return
            finally:
                site.leave(entered)
            yield item
    finally:
        aclose = getattr(iterator, "aclose", None)
        if aclose is not None:
            await aclose()
