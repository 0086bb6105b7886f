"""otel-tokens instrumentor for Amazon Bedrock through boto3/botocore (bedrock-runtime)."""

from __future__ import annotations

from otel_tokens._instrumentor import TokensInstrumentor
from otel_tokens._patching import PatchSpec
from otel_tokens_bedrock.package import _instruments

__all__ = ["BedrockInstrumentor"]
__version__ = "0.1.0"


class BedrockInstrumentor(TokensInstrumentor):
    """Instruments Amazon Bedrock through boto3/botocore (bedrock-runtime).

    Holds no configuration; settings come from ``otel_tokens``.
    """

    requirements = _instruments
    scope_name = "otel_tokens_bedrock"
    scope_version = __version__

    def patch_specs(self) -> list[PatchSpec]:
        return []
