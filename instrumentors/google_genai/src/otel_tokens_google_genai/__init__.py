"""otel-tokens instrumentor for the google-genai client (Gemini API and Vertex AI).

Every request that ``genai.Client().models`` and ``client.aio.models`` send for
``generate_content``, ``generate_content_stream`` and ``embed_content`` (and so for
``client.chats``, which calls them) records a CLIENT span and metrics with token counts, cost in
USD and business tags. ``gen_ai.provider.name`` is ``gcp.vertex_ai`` for a client in Vertex mode,
else ``gcp.gemini``.

One span per HTTP request: automatic function calling and automatic continuation send several
requests for one ``generate_content`` call, each billed and priced on its own (see
``_wrappers``). ``count_tokens`` is not billed and is not recorded.

Usually started by ``otel_tokens.init()`` or ``opentelemetry-instrument``; directly::

    from otel_tokens_google_genai import GoogleGenAIInstrumentor
    GoogleGenAIInstrumentor().instrument(tracer_provider=tp, meter_provider=mp)
"""

from __future__ import annotations

import functools

from otel_tokens._instrumentor import TokensInstrumentor
from otel_tokens._patching import PatchSpec, Wrapper
from otel_tokens._wrapping import async_wrapper, sync_wrapper
from otel_tokens.record import Recorder
from otel_tokens_google_genai._wrappers import (
    EMBED,
    GENERATE,
    STREAM,
    GenAIEndpoint,
    stream_call_async,
    stream_call_sync,
)
from otel_tokens_google_genai.package import _instruments

__all__ = ["GoogleGenAIInstrumentor"]
__version__ = "0.1.0"

_MODULE = "google.genai.models"
# Declarative: (method, endpoint kind); "Models.x" is wrapped sync, "AsyncModels.x" async.
_PATCH_TABLE = (
    ("_generate_content", GENERATE),
    ("_generate_content_stream", STREAM),
    ("embed_content", EMBED),
)
# Public stream methods: no span of their own, they only carry an outer instrumented call
# into the lazy iteration (see _wrappers).
_CARRIERS = (("Models", stream_call_sync), ("AsyncModels", stream_call_async))


def _sync(recorder: Recorder, endpoint: GenAIEndpoint) -> Wrapper:
    return sync_wrapper(recorder, endpoint)


def _async(recorder: Recorder, endpoint: GenAIEndpoint) -> Wrapper:
    return async_wrapper(recorder, endpoint)


def _carrier(recorder: Recorder, wrapper: Wrapper) -> Wrapper:
    return wrapper


class GoogleGenAIInstrumentor(TokensInstrumentor):
    """Instruments the google-genai client (Gemini API and Vertex AI).

    Holds no configuration; settings come from ``otel_tokens``.
    """

    requirements = _instruments
    scope_name = "otel_tokens_google_genai"
    scope_version = __version__

    def patch_specs(self) -> list[PatchSpec]:
        specs = []
        for method, kind in _PATCH_TABLE:
            endpoint = GenAIEndpoint(kind)
            specs.append(PatchSpec(_MODULE, f"Models.{method}", functools.partial(_sync, endpoint=endpoint)))
            specs.append(
                PatchSpec(_MODULE, f"AsyncModels.{method}", functools.partial(_async, endpoint=endpoint))
            )
        for cls, wrapper in _CARRIERS:
            specs.append(
                PatchSpec(
                    _MODULE, f"{cls}.generate_content_stream", functools.partial(_carrier, wrapper=wrapper)
                )
            )
        return specs
