"""otel-tokens instrumentor for the ollama client."""

from __future__ import annotations

from otel_tokens._instrumentor import TokensInstrumentor
from otel_tokens._patching import PatchSpec
from otel_tokens_ollama.package import _instruments

__all__ = ["OllamaInstrumentor"]
__version__ = "0.1.0"


class OllamaInstrumentor(TokensInstrumentor):
    """Instruments the ollama client.

    Holds no configuration; settings come from ``otel_tokens``.
    """

    requirements = _instruments
    scope_name = "otel_tokens_ollama"
    scope_version = __version__

    def patch_specs(self) -> list[PatchSpec]:
        return []
