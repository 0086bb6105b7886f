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

import functools
import itertools

from otel_tokens._instrumentor import TokensInstrumentor
from otel_tokens._patching import PatchSpec
from otel_tokens._wrapping import WrapperFn, async_wrapper, sync_wrapper
from otel_tokens.record import Recorder
from otel_tokens_mistralai import _sdk_tracing
from otel_tokens_mistralai._wrappers import CHAT, EMBEDDINGS, FIM, MistralEndpoint
from otel_tokens_mistralai.package import _instruments

__all__ = ["MistralAIInstrumentor"]
__version__ = "0.1.0"

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


def _sync(recorder: Recorder, endpoint: MistralEndpoint) -> WrapperFn:
    return sync_wrapper(recorder, endpoint)


def _async(recorder: Recorder, endpoint: MistralEndpoint) -> WrapperFn:
    return async_wrapper(recorder, endpoint)


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
                if method is None:
                    continue
                endpoint = MistralEndpoint(kind, stream)
                specs.append(
                    PatchSpec(module, f"{cls}.{method}", functools.partial(_sync, endpoint=endpoint))
                )
                specs.append(
                    PatchSpec(module, f"{cls}.{method}_async", functools.partial(_async, endpoint=endpoint))
                )
        specs.extend(
            PatchSpec(m, _sdk_tracing.TARGET, _sdk_tracing.make_wrapper) for m in _sdk_tracing.MODULES
        )
        return specs
