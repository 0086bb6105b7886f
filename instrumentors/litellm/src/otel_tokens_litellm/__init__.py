"""otel-tokens instrumentor for LiteLLM (``completion``, ``acompletion``, ``embedding``...).

Every call to ``litellm.completion``/``acompletion`` (plain and ``stream=True``),
``litellm.embedding``/``aembedding`` and ``litellm.text_completion``/``atext_completion`` records a
CLIENT span and metrics with token counts, cost in USD and business tags. The provider is the one
LiteLLM resolves for the model (``"anthropic/claude-..."`` -> ``anthropic``, ``"bedrock/..."`` ->
``aws.bedrock``...), and ``gen_ai.request.model`` is the model name that provider sees (LiteLLM's
``provider/`` prefix removed), so calls through LiteLLM and through the provider's own SDK group
and price alike. ``litellm.Router`` calls these functions underneath and is covered by them.

LiteLLM calls other SDKs underneath (the openai SDK for OpenAI, Azure and OpenAI-compatible
models): the outer LiteLLM call records, and an instrumented SDK call inside it does not, so a
call is counted once whichever instrumentors are active.

The names users call (``litellm.completion``...) are patched in the ``litellm`` package; code that
imported one by name before instrumentation (``from litellm import completion``) keeps the original.

Usually started by ``otel_tokens.init()`` or ``opentelemetry-instrument``; directly::

    from otel_tokens_litellm import LiteLLMInstrumentor
    LiteLLMInstrumentor().instrument(tracer_provider=tp, meter_provider=mp)
"""

from __future__ import annotations

from importlib.metadata import version

from otel_tokens.instrumentation import PatchSpec, TokensInstrumentor, call_patch
from otel_tokens_litellm._endpoints import CHAT, EMBEDDINGS, TEXT_COMPLETION, LiteLLMEndpoint
from otel_tokens_litellm._thread_hop import carry_call_marker
from otel_tokens_litellm.package import _instruments

__all__ = ["LiteLLMInstrumentor"]
__version__ = version("otel-tokens-litellm")

# Declarative: (sync function, async function, endpoint kind), all in the ``litellm`` package,
# where ``from .main import *`` (and, in later releases, the dispatch modules) put the public names.
_PATCH_TABLE = (
    ("completion", "acompletion", CHAT),
    ("text_completion", "atext_completion", TEXT_COMPLETION),
    ("embedding", "aembedding", EMBEDDINGS),
)
# Modules that run a coroutine on a fresh thread (``run_async_function``, imported there by name)
# from inside a LiteLLM call: the call-once marker must follow it there (a named exception to the
# call shells, see _thread_hop).
_THREAD_HOPS = (
    "litellm.litellm_core_utils.fallback_utils",
    "litellm.llms.custom_httpx.llm_http_handler",
)


class LiteLLMInstrumentor(TokensInstrumentor):
    """Instruments LiteLLM. Holds no configuration; settings come from ``otel_tokens``."""

    requirements = _instruments
    scope_name = "otel_tokens_litellm"
    scope_version = __version__

    def patch_specs(self) -> list[PatchSpec]:
        specs = []
        for sync_name, async_name, kind in _PATCH_TABLE:
            endpoint = LiteLLMEndpoint(kind)
            specs.append(call_patch("litellm", sync_name, endpoint))
            specs.append(call_patch("litellm", async_name, endpoint, is_async=True))
        specs.extend(PatchSpec(module, "run_async_function", carry_call_marker) for module in _THREAD_HOPS)
        return specs
