"""otel-tokens instrumentor for the ``openai`` client (2.x and 3.x).

Every call through ``OpenAI``, ``AsyncOpenAI``, ``AzureOpenAI`` or ``AsyncAzureOpenAI`` to
chat completions (``create``, ``parse``, the ``stream()`` helper), the Responses API
(``create``, ``parse``, ``stream()``), embeddings and legacy completions, including
``with_raw_response`` and ``with_streaming_response``, records a CLIENT span and metrics with
token counts, cost in USD and business tags. The provider is read from the client's base URL,
so OpenAI-compatible APIs (Groq, DeepSeek, Together, OpenRouter, Mistral, x.ai, Ollama, vLLM...)
are recognised.

Usually started by ``otel_tokens.init()`` or ``opentelemetry-instrument``; directly::

    from otel_tokens_openai import OpenAIInstrumentor
    OpenAIInstrumentor().instrument(tracer_provider=tp, meter_provider=mp)
"""

from __future__ import annotations

from importlib.metadata import version

from otel_tokens.instrumentation import PatchSpec, TokensInstrumentor, call_patches
from otel_tokens_openai._endpoints import CHAT, COMPLETION, EMBEDDINGS, RESPONSES, OpenAIEndpoint
from otel_tokens_openai.package import _instruments

__all__ = ["OpenAIInstrumentor"]
__version__ = version("otel-tokens-openai")

# Declarative: (module, class, methods, endpoint kind); the Async class is wrapped alike.
_PATCH_TABLE = (
    ("openai.resources.chat.completions.completions", "Completions", ("create", "parse"), CHAT),
    ("openai.resources.responses.responses", "Responses", ("create", "parse"), RESPONSES),
    ("openai.resources.embeddings", "Embeddings", ("create",), EMBEDDINGS),
    ("openai.resources.completions", "Completions", ("create",), COMPLETION),
)


class OpenAIInstrumentor(TokensInstrumentor):
    """Instruments the openai client. Holds no configuration; settings come from ``otel_tokens``."""

    requirements = _instruments
    scope_name = "otel_tokens_openai"
    scope_version = __version__

    def patch_specs(self) -> list[PatchSpec]:
        return [
            patch
            for module, cls, methods, kind in _PATCH_TABLE
            for method in methods
            for patch in call_patches(module, cls, f"Async{cls}", method, OpenAIEndpoint(kind))
        ]
