"""otel-tokens instrumentor for the google-genai client (Gemini API and Vertex AI)."""

from __future__ import annotations

from otel_tokens._instrumentor import TokensInstrumentor
from otel_tokens._patching import PatchSpec
from otel_tokens_google_genai.package import _instruments

__all__ = ["GoogleGenAIInstrumentor"]
__version__ = "0.1.0"


class GoogleGenAIInstrumentor(TokensInstrumentor):
    """Instruments the google-genai client (Gemini API and Vertex AI).

    Holds no configuration; settings come from ``otel_tokens``.
    """

    requirements = _instruments
    scope_name = "otel_tokens_google_genai"
    scope_version = __version__

    def patch_specs(self) -> list[PatchSpec]:
        return []
