"""Ollama endpoints: what each client method's request, response and stream say.

The core (``otel_tokens.instrumentation``) runs the call: suppression, span, stream proxy,
ending exactly once. An :class:`OllamaEndpoint` only describes the request and reads the
result; a streamed call returns a generator (sync) or an async generator, which the core hands
back behind a transparent proxy, and the :class:`PartStreamObserver` only reads its parts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from otel_tokens.instrumentation import (
    CallRequest,
    CallResult,
    Endpoint,
    Estimate,
    IdentityCache,
    Prepared,
    Settings,
    get,
    semconv,
    text_or_none,
)
from otel_tokens_ollama import _extract as ex


@dataclass(slots=True)
class Plan:
    stream: bool
    cached_prompt: Callable[[], Estimate] | None
    """Counts the prompt when the server reports none for a KV-cache hit; None if estimates are off."""


class OllamaEndpoint(Endpoint):
    """One Ollama client method: ``chat``, ``generate``, ``embed`` or ``embeddings``."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.operation = ex.OPERATIONS[kind]

    def prepare(
        self, settings: Settings, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Prepared:
        kind = self.kind
        arguments = ex.call_arguments(kind, args, kwargs)
        model = text_or_none(arguments.get("model"))
        host, port = _client_address(instance)
        generates = kind in (ex.CHAT, ex.GENERATE)
        messages = ex.call_messages(kind, arguments) if generates else []
        request = CallRequest(
            operation=self.operation,
            provider=semconv.PROVIDER_OLLAMA,
            request_model=model,
            server_address=host,
            server_port=port,
            attributes=ex.request_attributes(kind, arguments),
            input_messages=(lambda: ex.input_messages(messages)) if generates else None,
            estimate_input=ex.input_estimator(kind, model, arguments, messages),
        )
        cached = (
            ex.cached_prompt_estimator(kind, arguments, messages)
            if generates and settings.estimate_usage
            else None
        )
        stream = arguments.get("stream") is True
        return Prepared(request, kwargs, Plan(stream, cached), stream)

    def with_model(self, prepared: Prepared, model: str) -> bool:
        """Send the call to ``model``, where the user gave theirs: by keyword or first positional
        argument (``client.chat("llama3", messages)``); by keyword when they gave none."""
        # Not the base's: every Client method takes the model as its first positional argument too.
        args = prepared.args
        if "model" not in prepared.kwargs and args:
            prepared.args = (model, *args[1:])
        else:
            prepared.kwargs = {**prepared.kwargs, "model": model}
        return True

    def read_result(self, result: Any, plan: Plan) -> CallResult:
        return ex.with_cached_prompt(ex.response_result(self.kind, result), result, plan.cached_prompt)

    def stream_observer(self, result: Any, plan: Plan) -> PartStreamObserver | None:
        if plan.stream and (hasattr(result, "__next__") or hasattr(result, "__anext__")):
            return PartStreamObserver(self.kind, plan)
        return None


class PartStreamObserver:
    """Chat or generate stream parts: generated text, and the final ``done`` part's usage."""

    __slots__ = ("_kind", "_plan", "_last", "_final", "_generated")

    def __init__(self, kind: str, plan: Plan) -> None:
        self._kind = kind
        self._plan = plan
        self._last: Any = None
        self._final: Any = None
        self._generated = ex.Generated()

    def on_item(self, part: Any) -> None:
        self._last = part
        if get(part, "done") is True:
            self._final = part
        self._generated.add(self._kind, part)

    def result(self) -> CallResult | None:
        final = self._final if self._final is not None else self._last
        # No part at all: the request failed, or was never sent (the SDK's generator sends it on
        # the first next()); there is nothing to count.
        if final is None:
            return None
        result = ex.generation_result(self._kind, final, self._generated)
        return ex.with_cached_prompt(result, final, self._plan.cached_prompt)


# httpx base-URL object -> (host, port). The URL object is replaced when the base URL changes,
# so its identity is a safe key; reading host and port parses it each time.
_addresses: IdentityCache[tuple[str | None, int | None]] = IdentityCache()


def _client_address(client: Any) -> tuple[str | None, int | None]:
    """``(server.address, server.port)`` of an ollama ``Client`` or ``AsyncClient``."""
    url = getattr(getattr(client, "_client", None), "base_url", None)
    if url is None:
        return None, None
    return _addresses.get(url, None, lambda: _address(url))


def _address(url: Any) -> tuple[str | None, int | None]:
    host = getattr(url, "host", None) or None
    port = getattr(url, "port", None)
    if port is None:
        scheme = getattr(url, "scheme", "")
        port = 443 if scheme == "https" else 80 if scheme == "http" else None
    return host, port
