"""otel-tokens instrumentor for LiteLLM (completion, acompletion, embedding)."""

from __future__ import annotations

from otel_tokens._instrumentor import TokensInstrumentor
from otel_tokens._patching import PatchSpec
from otel_tokens_litellm.package import _instruments

__all__ = ["LiteLLMInstrumentor"]
__version__ = "0.1.0"


class LiteLLMInstrumentor(TokensInstrumentor):
    """Instruments LiteLLM (completion, acompletion, embedding).

    Holds no configuration; settings come from ``otel_tokens``.
    """

    requirements = _instruments
    scope_name = "otel_tokens_litellm"
    scope_version = __version__

    def patch_specs(self) -> list[PatchSpec]:
        return []
