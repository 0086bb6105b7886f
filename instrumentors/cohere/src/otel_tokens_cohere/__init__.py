"""otel-tokens instrumentor for the ``cohere`` client (v1 and v2).

Every call through ``cohere.Client``/``AsyncClient`` (v1 API) or ``cohere.ClientV2``/
``AsyncClientV2`` (v2 API) to ``chat``, ``chat_stream``, ``embed``, ``rerank``, and v1
``generate``/``generate_stream``, records a CLIENT span and metrics with token counts, cost in
USD and business tags. Input and output tokens are Cohere's billed units (what is priced); the raw
counts, which include Cohere's own preamble, go to ``otel_tokens.usage.raw.*``. A rerank records
its billed search units.

The methods are patched on the classes that define them (``BaseCohere``, ``V2Client``,
``Client.embed`` and their async twins), so ``ClientV2``, which inherits from both API
generations, is covered once. ``Client.__init__`` binds ``chat`` and ``chat_stream`` onto each
instance, so a client created before instrumentation keeps uninstrumented chat methods: create
clients after ``otel_tokens.init()``.

Usually started by ``otel_tokens.init()`` or ``opentelemetry-instrument``; directly::

    from otel_tokens_cohere import CohereInstrumentor
    CohereInstrumentor().instrument(tracer_provider=tp, meter_provider=mp)
"""

from __future__ import annotations

import functools
from importlib.metadata import version

from otel_tokens.instrumentation import PatchSpec, TokensInstrumentor, call_patch
from otel_tokens_cohere._endpoints import CohereEndpoint, embed_batch_wrapper
from otel_tokens_cohere._extract import CHAT_V1, CHAT_V2, EMBED, GENERATE, RERANK
from otel_tokens_cohere.package import _instruments

__all__ = ["CohereInstrumentor"]
__version__ = version("otel-tokens-cohere")

# Declarative: (module, sync class, async class, method, endpoint kind, streaming).
_PATCH_TABLE = (
    ("cohere.base_client", "BaseCohere", "AsyncBaseCohere", "chat", CHAT_V1, False),
    ("cohere.base_client", "BaseCohere", "AsyncBaseCohere", "chat_stream", CHAT_V1, True),
    ("cohere.base_client", "BaseCohere", "AsyncBaseCohere", "generate", GENERATE, False),
    ("cohere.base_client", "BaseCohere", "AsyncBaseCohere", "generate_stream", GENERATE, True),
    ("cohere.base_client", "BaseCohere", "AsyncBaseCohere", "embed", EMBED, False),
    ("cohere.base_client", "BaseCohere", "AsyncBaseCohere", "rerank", RERANK, False),
    # Client.embed splits a long list into batches of BaseCohere.embed calls: the logical call
    # is counted here, once, with the usage the SDK sums over the batches.
    ("cohere.client", "Client", "AsyncClient", "embed", EMBED, False),
    ("cohere.v2.client", "V2Client", "AsyncV2Client", "chat", CHAT_V2, False),
    ("cohere.v2.client", "V2Client", "AsyncV2Client", "chat_stream", CHAT_V2, True),
    ("cohere.v2.client", "V2Client", "AsyncV2Client", "embed", EMBED, False),
    ("cohere.v2.client", "V2Client", "AsyncV2Client", "rerank", RERANK, False),
)


class CohereInstrumentor(TokensInstrumentor):
    """Instruments the cohere client (v1 and v2).

    Holds no configuration; settings come from ``otel_tokens``.
    """

    requirements = _instruments
    scope_name = "otel_tokens_cohere"
    scope_version = __version__

    def patch_specs(self) -> list[PatchSpec]:
        specs = []
        for module, cls, async_cls, method, kind, stream in _PATCH_TABLE:
            endpoint = CohereEndpoint(kind, stream)
            if (cls, method) == ("BaseCohere", "embed"):
                # A named wrapper: Client.embed runs its batches through this method on a thread
                # pool, where the core cannot see the outer call (see embed_batch_wrapper).
                make = functools.partial(embed_batch_wrapper, endpoint=endpoint)
                specs.append(PatchSpec(module, f"{cls}.{method}", make))
            else:
                specs.append(call_patch(module, f"{cls}.{method}", endpoint))
            # The async stream methods are async generator functions: calling one returns the
            # stream at once with nothing to await, which is the sync shell's contract.
            specs.append(call_patch(module, f"{async_cls}.{method}", endpoint, is_async=not stream))
        return specs
