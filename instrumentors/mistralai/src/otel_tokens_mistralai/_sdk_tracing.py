"""Coexistence with the OpenTelemetry tracing built into the mistralai SDK.

The SDK has a request hook (``mistralai.client._hooks.tracing``, ``mistralai._hooks.tracing`` in
1.x) that opens a GenAI span of its own per call, with ``gen_ai.usage.*`` counts and the prompt
and reply texts. mistralai 1.10-2.4 does so whenever a global tracer provider is set; from 2.5
only after an opt-in (``MISTRAL_SDK_TELEMETRY`` or ``mistralai.extra.observability.configure_telemetry``).
Left alone, a call we record would show up as two spans with the same token counts in the same backend, and
anything that derives metrics from spans would count its tokens twice.

So while otel-tokens records a call (ours, or an outer instrumented layer's), the hook's tracer
lookup reports tracing as off when it would use the global provider: the SDK then opens no span
and the call is one span, ours. A tracer provider attached to the client itself (the SDK's
"dedicated" mode that exports to Mistral, or a provider passed to ``configure_telemetry``) is
the user's explicit choice and is left untouched. Calls we do not record are untouched too.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from otel_tokens.instrumentation import Recorder, WrapperFn, in_instrumented_call

MODULES = ("mistralai.client._hooks.tracing", "mistralai._hooks.tracing")
TARGET = "get_or_create_otel_tracer"
"""Imported by name into the hook's module, which looks it up there on every request."""


def quiet_global_tracer(
    wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    """``(tracing_enabled, tracer)`` of the SDK, with tracing off inside a recorded call."""
    found = wrapped(*args, **kwargs)
    provider = kwargs.get("provider", args[0] if args else None)
    if provider is None and in_instrumented_call() and isinstance(found, tuple) and len(found) == 2:
        return False, found[1]
    return found


def make_wrapper(recorder: Recorder) -> WrapperFn:
    """The wrapper of the hook's tracer lookup (records nothing, so needs no recorder)."""
    return quiet_global_tracer
