"""otel-tokens instrumentor for the ``mistralai`` client (1.x, 2.x and 3.x).

Every call through ``Mistral`` to chat completions (``chat.complete``, ``chat.stream``, their
``_async`` forms, and ``chat.parse*``, which call them), embeddings (``embeddings.create``,
``create_async``) and fill-in-the-middle completions (``fim.complete``, ``fim.stream`` and their
``_async`` forms) records a CLIENT span and metrics with token counts, cost in USD and business
tags, under ``gen_ai.provider.name = "mistral_ai"``. Streams are returned as transparent proxies
of the SDK's ``EventStream``/``EventStreamAsync``; their usage is read from the last chunk.

While a call is recorded, the SDK's own built-in GenAI span for it is not opened (see
``_sdk_tracing``), so each call is one span.

Usually started by ``otel_tokens.init()`` or ``opentelemetry-instrument``; directly::

    from otel_tokens_mistralai import MistralAIInstrumentor
    MistralAIInstrumentor().instrument(tracer_provider=tp, meter_provider=mp)
"""

from __future__ import annotations

import itertools
from importlib.metadata import version

from otel_tokens.instrumentation import PatchSpec, TokensInstrumentor, call_patch
from otel_tokens_mistralai import _sdk_tracing
from otel_tokens_mistralai._endpoints import CHAT, EMBEDDINGS, FIM, MistralEndpoint
from otel_tokens_mistralai.package import _instruments

__all__ = ["MistralAIInstrumentor"]
__version__ = version("otel-tokens-mistralai")

# Declarative: (module, class, endpoint kind, plain method, streaming method or None).
# Every method has an ``_async`` twin on the same class.
_PATCH_TABLE = (
    ("chat", "Chat", CHAT, "complete", "stream"),
    ("fim", "Fim", FIM, "complete", "stream"),
    ("embeddings", "Embeddings", EMBEDDINGS, "create", None),
)
# mistralai 2.x moved the generated client from ``mistralai`` into ``mistralai.client``; the
# module of the other layout is never imported, so its patches never apply.
_PACKAGES = ("mistralai.client", "mistralai")


class MistralAIInstrumentor(TokensInstrumentor):
    """Instruments the mistralai client. Holds no configuration; settings come from ``otel_tokens``."""

    requirements = _instruments
    scope_name = "otel_tokens_mistralai"
    scope_version = __version__

    def patch_specs(self) -> list[PatchSpec]:
        specs = []
        for (name, cls, kind, plain, streaming), package in itertools.product(_PATCH_TABLE, _PACKAGES):
            module = f"{package}.{name}"
            for method, stream in ((plain, False), (streaming, True)):
                if method is not None:
                    endpoint = MistralEndpoint(kind, stream)
                    specs.append(call_patch(module, f"{cls}.{method}", endpoint))
                    specs.append(call_patch(module, f"{cls}.{method}_async", endpoint, is_async=True))
        # Named exception: not a call but the SDK's own tracer lookup, switched off while we
        # record a call so that it is one span, not two (see _sdk_tracing).
        specs.extend(
            PatchSpec(m, _sdk_tracing.TARGET, _sdk_tracing.make_wrapper) for m in _sdk_tracing.MODULES
        )
        return specs
