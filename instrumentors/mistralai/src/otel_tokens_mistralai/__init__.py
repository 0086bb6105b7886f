"""otel-tokens instrumentor for the mistralai client."""

from __future__ import annotations

from otel_tokens._instrumentor import TokensInstrumentor
from otel_tokens._patching import PatchSpec
from otel_tokens_mistralai.package import _instruments

__all__ = ["MistralAIInstrumentor"]
__version__ = "0.1.0"


class MistralAIInstrumentor(TokensInstrumentor):
    """Instruments the mistralai client.

    Holds no configuration; settings come from ``otel_tokens``.
    """

    requirements = _instruments
    scope_name = "otel_tokens_mistralai"
    scope_version = __version__

    def patch_specs(self) -> list[PatchSpec]:
        return []
