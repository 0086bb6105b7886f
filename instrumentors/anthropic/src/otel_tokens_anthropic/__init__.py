"""otel-tokens instrumentor for the anthropic client (Anthropic, AsyncAnthropic, Bedrock, Vertex)."""

from __future__ import annotations

from otel_tokens._instrumentor import TokensInstrumentor
from otel_tokens._patching import PatchSpec
from otel_tokens_anthropic.package import _instruments

__all__ = ["AnthropicInstrumentor"]
__version__ = "0.1.0"


class AnthropicInstrumentor(TokensInstrumentor):
    """Instruments the anthropic client (Anthropic, AsyncAnthropic, Bedrock and Vertex variants).

    Holds no configuration; settings come from ``otel_tokens``.
    """

    requirements = _instruments
    scope_name = "otel_tokens_anthropic"
    scope_version = __version__

    def patch_specs(self) -> list[PatchSpec]:
        return []
