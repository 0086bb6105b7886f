"""otel-tokens instrumentor for the cohere client (v1 and v2)."""

from __future__ import annotations

from otel_tokens._instrumentor import TokensInstrumentor
from otel_tokens._patching import PatchSpec
from otel_tokens_cohere.package import _instruments

__all__ = ["CohereInstrumentor"]
__version__ = "0.1.0"


class CohereInstrumentor(TokensInstrumentor):
    """Instruments the cohere client (v1 and v2).

    Holds no configuration; settings come from ``otel_tokens``.
    """

    requirements = _instruments
    scope_name = "otel_tokens_cohere"
    scope_version = __version__

    def patch_specs(self) -> list[PatchSpec]:
        return []
