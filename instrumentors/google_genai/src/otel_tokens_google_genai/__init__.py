"""otel-tokens instrumentor for the google-genai client (Gemini API and Vertex AI).

Every request that ``genai.Client().models`` and ``client.aio.models`` send for
``generate_content``, ``generate_content_stream`` and ``embed_content`` (and so for
``client.chats``, which calls them) records a CLIENT span and metrics with token counts, cost in
USD and business tags. ``gen_ai.provider.name`` is ``gcp.vertex_ai`` for a client in Vertex mode,
else ``gcp.gemini``.

One span per HTTP request: automatic function calling and automatic continuation send several
requests for one ``generate_content`` call, each billed and priced on its own (see
``_endpoints``). ``count_tokens`` is not billed and is not recorded.

Usually started by ``otel_tokens.init()`` or ``opentelemetry-instrument``; directly::

    from otel_tokens_google_genai import GoogleGenAIInstrumentor
    GoogleGenAIInstrumentor().instrument(tracer_provider=tp, meter_provider=mp)
"""

from __future__ import annotations

from importlib.metadata import version

from otel_tokens.instrumentation import PatchSpec, TokensInstrumentor, call_patches
from otel_tokens_google_genai._call_site import carrier_async, carrier_sync
from otel_tokens_google_genai._endpoints import EMBED, GENERATE, STREAM, GenAIEndpoint
from otel_tokens_google_genai.package import _instruments

__all__ = ["GoogleGenAIInstrumentor"]
__version__ = version("otel-tokens-google-genai")

_MODULE = "google.genai.models"
# Declarative: (method, endpoint kind); "Models.x" is wrapped sync, "AsyncModels.x" async.
_PATCH_TABLE = (
    ("_generate_content", GENERATE),
    ("_generate_content_stream", STREAM),
    ("embed_content", EMBED),
)
# Named exception: the public stream methods get no span of their own, only a carrier of the
# call site (context, tags, nesting) into the lazy iteration that sends the requests (see
# _call_site).
_CARRIERS = (
    PatchSpec(_MODULE, "Models.generate_content_stream", carrier_sync),
    PatchSpec(_MODULE, "AsyncModels.generate_content_stream", carrier_async),
)


class GoogleGenAIInstrumentor(TokensInstrumentor):
    """Instruments the google-genai client (Gemini API and Vertex AI).

    Holds no configuration; settings come from ``otel_tokens``.
    """

    requirements = _instruments
    scope_name = "otel_tokens_google_genai"
    scope_version = __version__

    def patch_specs(self) -> list[PatchSpec]:
        return [
            patch
            for method, kind in _PATCH_TABLE
            for patch in call_patches(_MODULE, "Models", "AsyncModels", method, GenAIEndpoint(kind))
        ] + list(_CARRIERS)
