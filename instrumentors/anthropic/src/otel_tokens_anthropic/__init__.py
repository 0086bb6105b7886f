"""otel-tokens instrumentor for the ``anthropic`` client (Anthropic, AsyncAnthropic, Bedrock, Vertex).

Every call through ``Anthropic``, ``AsyncAnthropic``, ``AnthropicBedrock``, ``AnthropicVertex``
(and their async forms) to ``messages.create`` (plain and ``stream=True``), ``messages.parse``,
the ``messages.stream()`` helper, the same on ``beta.messages``, and legacy
``completions.create`` (SDK versions that still have it), including ``with_raw_response`` and
``with_streaming_response``, records a CLIENT span and metrics with token counts, cost in USD
and business tags. ``messages.count_tokens`` is not billed and is not recorded.

The provider is ``aws.bedrock`` for the Bedrock clients, ``gcp.vertex_ai`` for the Vertex ones
and ``anthropic`` otherwise (a configured host override wins).

anthropic 2.x traces its own calls (``anthropic._tracing``): one CLIENT span per API call. For
the calls otel-tokens records, that span is not started (``start_api_call_span`` returns
``None`` inside our call, which the SDK treats as "no span"), so each call has exactly one span,
ours, and nothing that derives metrics from spans counts its tokens twice. Calls we do not
record (``count_tokens``, models, files, batches) keep the SDK's span.

Usually started by ``otel_tokens.init()`` or ``opentelemetry-instrument``; directly::

    from otel_tokens_anthropic import AnthropicInstrumentor
    AnthropicInstrumentor().instrument(tracer_provider=tp, meter_provider=mp)
"""

from __future__ import annotations

from importlib.metadata import version

from otel_tokens.instrumentation import PatchSpec, TokensInstrumentor, call_patches
from otel_tokens_anthropic._endpoints import AnthropicEndpoint, sdk_span_switch, stream_helper_wrapper
from otel_tokens_anthropic._extract import COMPLETION, MESSAGES
from otel_tokens_anthropic.package import _instruments

__all__ = ["AnthropicInstrumentor"]
__version__ = version("otel-tokens-anthropic")

# Declarative: (module, class, methods, endpoint kind); the Async class is wrapped alike.
# The Bedrock and Vertex beta resources copy the beta methods into classes of their own when
# imported, so they are listed too (skipped when they already hold our wrapper).
_MESSAGE_MODULES = (
    "anthropic.resources.messages.messages",
    "anthropic.resources.beta.messages.messages",
    "anthropic.lib.bedrock._beta_messages",
    "anthropic.lib.vertex._beta_messages",
)
_PATCH_TABLE = (
    *((module, "Messages", ("create", "parse"), MESSAGES) for module in _MESSAGE_MODULES),
    ("anthropic.resources.completions", "Completions", ("create",), COMPLETION),
)


class AnthropicInstrumentor(TokensInstrumentor):
    """Instruments the anthropic client (Anthropic, AsyncAnthropic, Bedrock and Vertex variants).

    Holds no configuration; settings come from ``otel_tokens``.
    """

    requirements = _instruments
    scope_name = "otel_tokens_anthropic"
    scope_version = __version__

    def patch_specs(self) -> list[PatchSpec]:
        specs = [
            patch
            for module, cls, methods, kind in _PATCH_TABLE
            for method in methods
            for patch in call_patches(module, cls, f"Async{cls}", method, AnthropicEndpoint(kind))
        ]
        for module in _MESSAGE_MODULES:
            # Named exception: stream() is a plain function on both classes that only builds a
            # manager; the call starts when the manager is entered (see _endpoints).
            specs.append(PatchSpec(module, "Messages.stream", stream_helper_wrapper))
            specs.append(PatchSpec(module, "AsyncMessages.stream", stream_helper_wrapper))
        # Named exception, anthropic 2.x only (older versions have no such function and the spec
        # is skipped): the SDK's own call span is not started inside a call we record.
        specs.append(PatchSpec("anthropic._base_client", "start_api_call_span", sdk_span_switch))
        return specs
