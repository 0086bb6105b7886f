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

from collections.abc import Callable

from otel_tokens._instrumentor import TokensInstrumentor
from otel_tokens._patching import PatchSpec
from otel_tokens._wrapping import WrapperFn, async_wrapper, sync_wrapper
from otel_tokens.record import Recorder
from otel_tokens_anthropic._wrappers import (
    COMPLETION,
    MESSAGES,
    AnthropicEndpoint,
    sdk_span_switch,
    stream_helper_wrapper,
)
from otel_tokens_anthropic.package import _instruments

__all__ = ["AnthropicInstrumentor"]
__version__ = "0.1.0"

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
        specs = []
        for module, cls, methods, kind in _PATCH_TABLE:
            endpoint = AnthropicEndpoint(kind)
            for method in methods:
                specs.append(PatchSpec(module, f"{cls}.{method}", _sync(endpoint)))
                specs.append(PatchSpec(module, f"Async{cls}.{method}", _async(endpoint)))
        for module in _MESSAGE_MODULES:
            # stream() is a plain function on both classes: it only builds the manager.
            specs.append(PatchSpec(module, "Messages.stream", stream_helper_wrapper))
            specs.append(PatchSpec(module, "AsyncMessages.stream", stream_helper_wrapper))
        # anthropic 2.x only; older versions have no such function and the spec is skipped.
        specs.append(PatchSpec("anthropic._base_client", "start_api_call_span", sdk_span_switch))
        return specs


def _sync(endpoint: AnthropicEndpoint) -> Callable[[Recorder], WrapperFn]:
    def make(recorder: Recorder) -> WrapperFn:
        return sync_wrapper(recorder, endpoint)

    return make


def _async(endpoint: AnthropicEndpoint) -> Callable[[Recorder], WrapperFn]:
    def make(recorder: Recorder) -> WrapperFn:
        return async_wrapper(recorder, endpoint)

    return make
