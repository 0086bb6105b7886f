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

from collections.abc import Collection
from typing import Any

from opentelemetry import metrics, trace
from opentelemetry.instrumentation.instrumentor import BaseInstrumentor  # type: ignore[attr-defined]

from otel_tokens._dependencies import check_client
from otel_tokens._patching import Applied, PatchSpec, apply, remove
from otel_tokens._wrapping import async_wrapper, sync_wrapper
from otel_tokens.metrics import create_instruments
from otel_tokens.record import Recorder
from otel_tokens_openai._wrappers import CHAT, COMPLETION, EMBEDDINGS, RESPONSES, OpenAIEndpoint
from otel_tokens_openai.package import _instruments

__all__ = ["OpenAIInstrumentor"]
__version__ = "0.1.0"

_CHAT_MODULE = "openai.resources.chat.completions.completions"
_RESPONSES_MODULE = "openai.resources.responses.responses"


def _specs() -> list[PatchSpec]:
    specs = []
    table = (
        (_CHAT_MODULE, "Completions", ("create", "parse"), CHAT),
        (_RESPONSES_MODULE, "Responses", ("create", "parse"), RESPONSES),
        ("openai.resources.embeddings", "Embeddings", ("create",), EMBEDDINGS),
        ("openai.resources.completions", "Completions", ("create",), COMPLETION),
    )
    for module, cls, methods, kind in table:
        endpoint = OpenAIEndpoint(kind)
        for method in methods:
            specs.append(PatchSpec(module, f"{cls}.{method}", lambda rec, e=endpoint: sync_wrapper(rec, e)))
            specs.append(PatchSpec(module, f"Async{cls}.{method}", lambda rec, e=endpoint: async_wrapper(rec, e)))
    return specs


class OpenAIInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """Instruments the openai client. Holds no configuration; settings come from ``otel_tokens``."""

    _applied: list[Applied] = []

    def instrumentation_dependencies(self) -> Collection[str]:
        return _instruments

    def _instrument(self, **kwargs: Any) -> None:
        if not check_client(_instruments[0]):
            return
        tracer = trace.get_tracer(__name__, __version__, tracer_provider=kwargs.get("tracer_provider"))
        meter = metrics.get_meter(__name__, __version__, meter_provider=kwargs.get("meter_provider"))
        recorder = Recorder(tracer, create_instruments(meter))
        self._applied = apply(_specs(), recorder)

    def _uninstrument(self, **kwargs: Any) -> None:
        remove(self._applied)
        self._applied = []
