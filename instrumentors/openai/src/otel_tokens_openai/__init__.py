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

import functools

from otel_tokens._instrumentor import TokensInstrumentor
from otel_tokens._patching import PatchSpec
from otel_tokens._wrapping import WrapperFn, async_wrapper, sync_wrapper
from otel_tokens.record import Recorder
from otel_tokens_openai._wrappers import CHAT, COMPLETION, EMBEDDINGS, RESPONSES, OpenAIEndpoint
from otel_tokens_openai.package import _instruments

__all__ = ["OpenAIInstrumentor"]
__version__ = "0.1.0"

# Declarative: (module, class, methods, endpoint kind); the Async class is wrapped alike.
_PATCH_TABLE = (
    ("openai.resources.chat.completions.completions", "Completions", ("create", "parse"), CHAT),
    ("openai.resources.responses.responses", "Responses", ("create", "parse"), RESPONSES),
    ("openai.resources.embeddings", "Embeddings", ("create",), EMBEDDINGS),
    ("openai.resources.completions", "Completions", ("create",), COMPLETION),
)


def _sync(recorder: Recorder, endpoint: OpenAIEndpoint) -> WrapperFn:
    return sync_wrapper(recorder, endpoint)


def _async(recorder: Recorder, endpoint: OpenAIEndpoint) -> WrapperFn:
    return async_wrapper(recorder, endpoint)


class OpenAIInstrumentor(TokensInstrumentor):
    """Instruments the openai client. Holds no configuration; settings come from ``otel_tokens``."""

    requirements = _instruments
    scope_name = "otel_tokens_openai"
    scope_version = __version__

    def patch_specs(self) -> list[PatchSpec]:
        specs = []
        for module, cls, methods, kind in _PATCH_TABLE:
            endpoint = OpenAIEndpoint(kind)
            for method in methods:
                sync = functools.partial(_sync, endpoint=endpoint)
                specs.append(PatchSpec(module, f"{cls}.{method}", sync))
                specs.append(
                    PatchSpec(module, f"Async{cls}.{method}", functools.partial(_async, endpoint=endpoint))
                )
        return specs
