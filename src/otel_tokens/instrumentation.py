"""The public, versioned API that otel-tokens instrumentors are built on.

An instrumentor distribution imports from this module only, never a private ``otel_tokens._*``
module, and pins the core to the range that provides its :data:`API_VERSION` (the core's
minor version: ``otel-tokens>=0.1,<0.2``). Anything not listed in ``__all__`` may change in
any release.

The core owns the call lifecycle: the shells start the call (after checking
``suppress_instrumentation()`` and counting a nested instrumented call once), make the span
current, call the SDK exactly once, end the call on an error, put a stream behind a proxy that
notes its first chunk and ends it exactly once however it ends, and write every span attribute
and metric point. An instrumentor only declares what to patch and how to read requests,
responses and chunks::

    class ChatEndpoint(Endpoint):
        def prepare(self, settings, instance, args, kwargs):
            model = text_or_none(kwargs.get("model"))
            request = CallRequest(operation=semconv.OPERATION_CHAT, provider="acme", request_model=model)
            return Prepared(request, kwargs, stream=kwargs.get("stream") is True)

        def read_result(self, response, plan):
            return CallResult(response_model=text_or_none(get(response, "model")), usage=...)

        def stream_observer(self, result, plan):
            return ChatStreamObserver() if plan else None

    class AcmeInstrumentor(TokensInstrumentor):
        requirements = ("acme >= 1.0, < 3",)
        scope_name = "otel_tokens_acme"
        scope_version = version("otel-tokens-acme")

        def patch_specs(self):
            return call_patches("acme.chat", "Chat", "AsyncChat", "create", ChatEndpoint())

Values read from a response are validated where they are read: :func:`count` for token counts,
:func:`text_or_none` for model names and ids, :func:`items` for lists, so one bad field loses
that field only.
"""

from __future__ import annotations

from otel_tokens import _openai_shape as openai_shape
from otel_tokens import semconv
from otel_tokens._cache import IdentityCache
from otel_tokens._errors import ConfigurationError
from otel_tokens._fields import get, items, text_or_none
from otel_tokens._guardrails import release_call
from otel_tokens._instrumentor import TokensInstrumentor
from otel_tokens._invocation import (
    CallRequest,
    CallResult,
    CallScope,
    EstimateFn,
    Invocation,
    enter_call,
    exit_call,
    in_instrumented_call,
    should_record,
)
from otel_tokens._patching import PatchSpec, Wrapper
from otel_tokens._raw import RAW_RESPONSE_TYPES, is_raw_response, observe_raw_response
from otel_tokens._safety import call_guarded, report
from otel_tokens._settings import Settings
from otel_tokens._streams import (
    SKIP,
    AsyncStreamProxy,
    StreamObserver,
    StreamTracker,
    SyncStreamProxy,
    observe_stream,
    observed_async_items,
    observed_items,
)
from otel_tokens._tags import current_tags, tags
from otel_tokens._wrapping import (
    Endpoint,
    Prepared,
    WrapperFn,
    admit_call,
    async_wrapper,
    call_patch,
    call_patches,
    start_call,
    sync_wrapper,
)
from otel_tokens.record import Recorder
from otel_tokens.tokenize import Estimate, Tokenizer, default_tokenizer
from otel_tokens.usage import MAX_TOKEN_COUNT, Usage, count

API_VERSION = "1.1"
"""Major.minor of this API. A minor release only adds; a major one may remove or change."""

__all__ = [
    "API_VERSION",
    "MAX_TOKEN_COUNT",
    "RAW_RESPONSE_TYPES",
    "SKIP",
    "AsyncStreamProxy",
    "CallRequest",
    "CallResult",
    "CallScope",
    "ConfigurationError",
    "Endpoint",
    "Estimate",
    "EstimateFn",
    "IdentityCache",
    "Invocation",
    "PatchSpec",
    "Prepared",
    "Recorder",
    "Settings",
    "StreamObserver",
    "StreamTracker",
    "SyncStreamProxy",
    "Tokenizer",
    "TokensInstrumentor",
    "Usage",
    "Wrapper",
    "WrapperFn",
    "admit_call",
    "async_wrapper",
    "call_guarded",
    "call_patch",
    "call_patches",
    "count",
    "current_tags",
    "default_tokenizer",
    "enter_call",
    "exit_call",
    "get",
    "in_instrumented_call",
    "is_raw_response",
    "items",
    "observe_raw_response",
    "observe_stream",
    "observed_async_items",
    "observed_items",
    "openai_shape",
    "release_call",
    "report",
    "semconv",
    "should_record",
    "start_call",
    "sync_wrapper",
    "tags",
    "text_or_none",
]
