"""Ollama endpoints for the shared wrapper shells, and the stream observer.

Each :class:`OllamaEndpoint` describes one client method (chat, generate, embed, embeddings);
the sync/async shells in ``otel_tokens._wrapping`` call it exactly once and end its telemetry.
A streamed call returns a generator (sync) or an async generator: it is handed back inside a
transparent proxy that ends the telemetry once, with the usage of the final ``done`` part.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from otel_tokens import semconv
from otel_tokens._streams import AsyncStreamProxy, SyncStreamProxy
from otel_tokens.record import CallRequest, CallResult, Invocation, Recorder
from otel_tokens.tokenize import Estimate, Tokenizer, default_tokenizer
from otel_tokens_ollama import _extract as ex

PromptEstimate = Callable[[], Estimate]


@dataclass(slots=True)
class Plan:
    stream: bool
    cached_prompt: PromptEstimate | None
    """Counts the prompt when the server reports none for a KV-cache hit; None if estimates are off."""


class OllamaEndpoint:
    """One Ollama client method: ``chat``, ``generate``, ``embed`` or ``embeddings``."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.operation = ex.OPERATIONS[kind]

    def prepare(
        self, recorder: Recorder, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> tuple[CallRequest, dict[str, Any], Plan]:
        kind = self.kind
        arguments = ex.call_arguments(kind, args, kwargs)
        model = arguments.get("model")
        model = model if isinstance(model, str) and model else None
        host, port = _client_address(instance)
        # Copied now: programs often append the reply to the same list right after the call.
        messages = (
            list(arguments.get("messages") or ()) if kind == ex.CHAT else ex.generate_messages(arguments)
        )

        def estimate(tokenizer: Tokenizer, for_model: str | None = model) -> Estimate:
            return ex.count_prompt(tokenizer, for_model, kind, arguments, messages)

        def estimate_cached() -> Estimate:
            # Runs on the call path, so always the heuristic: it never loads an encoding.
            return estimate(default_tokenizer(), None)

        cached = kind in (ex.CHAT, ex.GENERATE) and recorder.settings.estimate_usage
        request = CallRequest(
            operation=self.operation,
            provider=semconv.PROVIDER_OLLAMA,
            request_model=model,
            server_address=host,
            server_port=port,
            attributes=ex.request_attributes(kind, arguments),
            input_messages=(lambda: ex.input_messages(messages)) if kind in (ex.CHAT, ex.GENERATE) else None,
            estimate_input=estimate,
        )
        return request, kwargs, Plan(arguments.get("stream") is True, estimate_cached if cached else None)

    def wrap_result(self, invocation: Invocation, result: Any, plan: Plan, is_async: bool) -> Any:
        if plan.stream and (hasattr(result, "__next__") or hasattr(result, "__anext__")):
            observer = StreamObserver(invocation, self.kind, plan)
            if hasattr(result, "__anext__"):
                return AsyncStreamProxy(result, observer)
            return SyncStreamProxy(result, observer)
        invocation.finish(complete(ex.response_result(self.kind, result), result, plan))
        return result


def complete(result: CallResult, final: Any, plan: Plan) -> CallResult:
    """``result``, with the prompt estimated as a full cache read when the server left its count out."""
    if (
        plan.cached_prompt is not None
        and result.usage is not None
        and ex.is_cached_prompt(final, result.usage)
    ):
        result.usage = ex.cached_prompt_usage(result.usage, plan.cached_prompt())
    return result


class StreamObserver:
    """Chat or generate stream parts: generated text, and the final ``done`` part's usage."""

    __slots__ = ("_inv", "_kind", "_plan", "_first", "_last", "_final", "_generated")

    def __init__(self, invocation: Invocation, kind: str, plan: Plan) -> None:
        self._inv = invocation
        self._kind = kind
        self._plan = plan
        self._first = True
        self._last: Any = None
        self._final: Any = None
        self._generated = ex.Generated()

    def on_item(self, part: Any) -> None:
        if self._first:
            self._first = False
            self._inv.first_chunk()
        self._last = part
        if ex.get(part, "done") is True:
            self._final = part
        self._generated.add(self._kind, part)

    def on_end(self, error: BaseException | None) -> None:
        final = self._final if self._final is not None else self._last
        result = None
        # No part at all: the request failed, or was never sent (the SDK's generator sends it on
        # the first next()); there is nothing to count.
        if final is not None:
            result = complete(ex.generation_result(self._kind, final, self._generated), final, self._plan)
        if error is None:
            self._inv.finish(result)
        else:
            self._inv.fail(error, result)


# httpx base-URL object -> (that object, (host, port)). The URL object is replaced when the
# base URL changes, so its identity is a safe key; reading host and port parses it each time.
_by_url: dict[int, tuple[Any, tuple[str | None, int | None]]] = {}


def _client_address(client: Any) -> tuple[str | None, int | None]:
    """``(server.address, server.port)`` of an ollama ``Client`` or ``AsyncClient``."""
    http = getattr(client, "_client", None)
    url = getattr(http, "base_url", None)
    if url is None:
        return None, None
    cached = _by_url.get(id(url))
    if cached is not None and cached[0] is url:
        return cached[1]
    host = getattr(url, "host", None) or None
    port = getattr(url, "port", None)
    if port is None:
        scheme = getattr(url, "scheme", "")
        port = 443 if scheme == "https" else 80 if scheme == "http" else None
    if len(_by_url) > 256:
        _by_url.clear()
    _by_url[id(url)] = (url, (host, port))
    return host, port
