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

from importlib.metadata import version

from otel_tokens.instrumentation import PatchSpec, TokensInstrumentor, call_patch, call_patches
from otel_tokens_ollama._endpoints import OllamaEndpoint
from otel_tokens_ollama._extract import CHAT, EMBED, EMBEDDINGS, GENERATE
from otel_tokens_ollama.package import _instruments

__all__ = ["OllamaInstrumentor"]
__version__ = version("otel-tokens-ollama")

# Declarative: client method -> endpoint kind. Each is wrapped on Client and AsyncClient, and
# the module-level function of the same name (a bound method of ollama's default Client, taken
# when ollama is imported, so patching the class alone would miss it) is wrapped too. A bound
# method that outlives its instrumentation (``ollama.chat`` bound from the wrapped class when
# ollama is imported after instrumenting, or a program's own ``chat = client.chat``) records
# through whichever instrumentation is active when it is called, and not at all once
# uninstrumented: the core's patch set hands such calls on (see PatchSpec).
_PATCH_TABLE = (("chat", CHAT), ("generate", GENERATE), ("embed", EMBED), ("embeddings", EMBEDDINGS))
_CLIENT_MODULE = "ollama._client"
_PACKAGE = "ollama"


class OllamaInstrumentor(TokensInstrumentor):
    """Instruments the ollama client. Holds no configuration; settings come from ``otel_tokens``."""

    requirements = _instruments
    scope_name = "otel_tokens_ollama"
    scope_version = __version__

    def patch_specs(self) -> list[PatchSpec]:
        specs = []
        for method, kind in _PATCH_TABLE:
            endpoint = OllamaEndpoint(kind)
            specs.extend(call_patches(_CLIENT_MODULE, "Client", "AsyncClient", method, endpoint))
            # Nested under the Client.<method> wrapper when both apply: counted once all the same.
            specs.append(call_patch(_PACKAGE, method, endpoint))
        return specs
