"""otel-tokens instrumentor for Amazon Bedrock through boto3/botocore (``bedrock-runtime``).

Every ``converse``, ``converse_stream``, ``invoke_model`` and ``invoke_model_with_response_stream``
call of a boto3/botocore ``bedrock-runtime`` client records a CLIENT span and metrics with token
counts, cost in USD and business tags, for the Anthropic, Amazon Nova and Titan, Meta Llama,
Mistral, Cohere and AI21 model families. Model ids may be inference profiles (``us.``/``eu.``...)
or ARNs. The patch point is botocore's ``BaseClient._make_api_call``, as in OpenTelemetry's
botocore instrumentation; every other AWS call passes through after one dict look-up. Clients are
sync only: aiobotocore is not instrumented.

Usually started by ``otel_tokens.init()`` or ``opentelemetry-instrument``; directly::

    from otel_tokens_bedrock import BedrockInstrumentor
    BedrockInstrumentor().instrument(tracer_provider=tp, meter_provider=mp)
"""

from __future__ import annotations

from importlib.metadata import version

from otel_tokens.instrumentation import PatchSpec, TokensInstrumentor
from otel_tokens_bedrock._endpoints import make_wrapper
from otel_tokens_bedrock.package import _instruments

__all__ = ["BedrockInstrumentor"]
__version__ = version("otel-tokens-bedrock")


class BedrockInstrumentor(TokensInstrumentor):
    """Instruments Amazon Bedrock through boto3/botocore (bedrock-runtime).

    Holds no configuration; settings come from ``otel_tokens``.
    """

    requirements = _instruments
    scope_name = "otel_tokens_bedrock"
    scope_version = __version__

    def patch_specs(self) -> list[PatchSpec]:
        # A named wrapper, not call_patch: every AWS operation goes through this one botocore
        # method, and make_wrapper dispatches the four Bedrock runtime ones to their endpoints.
        return [PatchSpec("botocore.client", "BaseClient._make_api_call", make_wrapper)]
