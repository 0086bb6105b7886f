"""otel-tokens instrumentor for the ``ollama`` client (0.4 and later).

Every ``chat``, ``generate``, ``embed`` and (legacy) ``embeddings`` call through ``Client``,
``AsyncClient`` or the module-level functions (``ollama.chat(...)``), plain or with
``stream=True``, records a CLIENT span and metrics with token counts, cost in USD and business
tags. The provider is ``ollama``; ``server.address``/``server.port`` come from the client's host.

Usage: ``prompt_eval_count`` is the input, ``eval_count`` the output; a stream's counts come
from its final ``"done": true`` part. When a server leaves ``prompt_eval_count`` out because
the whole prompt came from its KV cache, the prompt is counted locally (the heuristic) and
recorded as input that was all read from the cache, flagged ``otel_tokens.usage.estimated``.
Ollama models cost 0 (price source ``local-model``) unless a ``[[price]]`` override with
``provider = "ollama"`` prices them, e.g. to charge GPU time back.

Usually started by ``otel_tokens.init()`` or ``opentelemetry-instrument``; directly::

    from otel_tokens_ollama import OllamaInstrumentor
    OllamaInstrumentor().instrument(tracer_provider=tp, meter_provider=mp)
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from otel_tokens._instrumentor import TokensInstrumentor
from otel_tokens._patching import PatchSpec
from otel_tokens._wrapping import WrapperFn, async_wrapper, sync_wrapper
from otel_tokens.record import Recorder
from otel_tokens_ollama._extract import CHAT, EMBED, EMBEDDINGS, GENERATE
from otel_tokens_ollama._wrappers import OllamaEndpoint
from otel_tokens_ollama.package import _instruments

__all__ = ["OllamaInstrumentor"]
__version__ = "0.1.0"

# Declarative: client method -> endpoint kind. Each is wrapped on Client and AsyncClient, and
# the module-level function of the same name (a bound method of ollama's default Client, taken
# when ollama is imported, so patching the class alone would miss it) is wrapped too.
_PATCH_TABLE = (("chat", CHAT), ("generate", GENERATE), ("embed", EMBED), ("embeddings", EMBEDDINGS))
_CLIENT_MODULE = "ollama._client"
_PACKAGE = "ollama"


class _Current:
    """The current instrumentation: its recorder (None when not instrumented) and the wrapper
    shells made for it, swapped together as one tuple so a reader never mixes two of them."""

    state: tuple[Recorder | None, dict[tuple[str, bool], WrapperFn]] = (None, {})


def _shell(endpoint: OllamaEndpoint, is_async: bool) -> WrapperFn | None:
    recorder, shells = _Current.state
    if recorder is None:
        return None
    key = (endpoint.kind, is_async)
    shell = shells.get(key)
    if shell is None:
        shell = (async_wrapper if is_async else sync_wrapper)(recorder, endpoint)
        if _Current.state[0] is recorder:
            _Current.state = (recorder, {**shells, key: shell})
    return shell


def _make_wrapper(recorder: Recorder, endpoint: OllamaEndpoint, is_async: bool) -> WrapperFn:
    """A wrapper that records through whichever instrumentation is current when it is called.

    A bound method taken from a wrapped class keeps the wrapper it was bound with, even after
    the class is restored: ``ollama.chat`` when ollama is imported after instrumenting, or a
    program's own ``chat = client.chat``. Such a method then records with the settings and
    providers of a re-instrumentation (``init()`` called again), and not at all once
    uninstrumented, like a method taken from the class at that moment.
    """
    if _Current.state[0] is not recorder:
        _Current.state = (recorder, {})

    def wrapper(
        wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        shell = _shell(endpoint, is_async)
        if shell is None:
            return wrapped(*args, **kwargs)
        return shell(wrapped, instance, args, kwargs)

    return wrapper


class OllamaInstrumentor(TokensInstrumentor):
    """Instruments the ollama client. Holds no configuration; settings come from ``otel_tokens``."""

    requirements = _instruments
    scope_name = "otel_tokens_ollama"
    scope_version = __version__

    def patch_specs(self) -> list[PatchSpec]:
        specs = []
        for method, kind in _PATCH_TABLE:
            endpoint = OllamaEndpoint(kind)
            sync = functools.partial(_make_wrapper, endpoint=endpoint, is_async=False)
            specs.append(PatchSpec(_CLIENT_MODULE, f"Client.{method}", sync))
            async_ = functools.partial(_make_wrapper, endpoint=endpoint, is_async=True)
            specs.append(PatchSpec(_CLIENT_MODULE, f"AsyncClient.{method}", async_))
            # Nested under the Client.<method> wrapper when both apply: counted once all the same.
            specs.append(PatchSpec(_PACKAGE, method, sync))
        return specs

    def _uninstrument(self, **kwargs: Any) -> None:
        super()._uninstrument(**kwargs)
        _Current.state = (None, {})
