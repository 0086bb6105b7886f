"""The variants compared, as data: what each installs (parent side) and how each instruments (child side).

This module is imported by ``run.py`` in the project's environment and by ``_child.py`` inside
every variant's own virtual environment, so it imports nothing but the standard library at
module level; each ``instrument`` function imports its package when called.

Every variant receives the same providers: a ``TracerProvider`` with
``SimpleSpanProcessor(InMemorySpanExporter())`` and a ``MeterProvider`` with an
``InMemoryMetricReader``, set as the global providers too (OpenLIT takes no provider arguments and
reuses the global ones). Each tool otherwise keeps its defaults, as a user who picks it gets them;
``capture_content`` notes where that default records prompt and completion text (``run.py
--content off`` turns it off there, for a like-for-like comparison).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Instrument = Callable[[Any, Any, dict[str, Any]], None]
"""``(tracer_provider, meter_provider, options) -> None``; ``options`` from the child's command
line: ``openlit_pricing_json`` (a path), ``content_off`` (turn prompt/completion capture off
where a tool's default records it)."""


@dataclass(frozen=True)
class Variant:
    name: str
    requirements: tuple[str, ...] = ()
    """Packages beyond the pinned SDK stack (exact versions: a rerun measures the same thing)."""
    editable: tuple[str, ...] = ()
    """Paths in this checkout installed with ``-e``."""
    locked: tuple[str, ...] = ()
    """Packages of ``uv.lock`` whose dependency closure is pinned to the lock's versions."""
    overrides: tuple[str, ...] = ()
    """Packages whose bounds, as the variant declares them, are overridden with the pinned version
    (``uv pip install --overrides``), so that the SDKs stay the same in every environment."""
    shown: tuple[str, ...] = ()
    """Distributions whose versions the table shows (all are recorded in the JSON)."""
    capture_content: str = "no"
    notes: tuple[str, ...] = ()
    default: bool = True
    """Run unless ``--variants`` names others; opt-in variants are run only when named."""


# --- instrumenting, run inside the child ------------------------------------------------------


def _bare(tracer_provider: Any, meter_provider: Any, options: dict[str, Any]) -> None:
    """Nothing: the SDKs alone, with the same providers set up (and unused)."""


def _otel_tokens(tracer_provider: Any, meter_provider: Any, options: dict[str, Any]) -> None:
    # Public API only: the core's internals change under this benchmark.
    from otel_tokens_anthropic import AnthropicInstrumentor
    from otel_tokens_openai import OpenAIInstrumentor

    for instrumentor in (OpenAIInstrumentor(), AnthropicInstrumentor()):
        instrumentor.instrument(tracer_provider=tracer_provider, meter_provider=meter_provider)


def _official(tracer_provider: Any, meter_provider: Any, options: dict[str, Any]) -> None:
    from opentelemetry.instrumentation.genai.anthropic import AnthropicInstrumentor
    from opentelemetry.instrumentation.genai.openai import OpenAIInstrumentor

    for instrumentor in (OpenAIInstrumentor(), AnthropicInstrumentor()):
        instrumentor.instrument(tracer_provider=tracer_provider, meter_provider=meter_provider)


def _openllmetry(tracer_provider: Any, meter_provider: Any, options: dict[str, Any]) -> None:
    import os

    if options["content_off"]:
        os.environ["TRACELOOP_TRACE_CONTENT"] = "false"  # read on every call; the default is true
    from opentelemetry.instrumentation.anthropic import AnthropicInstrumentor
    from opentelemetry.instrumentation.openai import OpenAIInstrumentor

    for instrumentor in (OpenAIInstrumentor(), AnthropicInstrumentor()):
        instrumentor.instrument(tracer_provider=tracer_provider, meter_provider=meter_provider)


def _openlit(tracer_provider: Any, meter_provider: Any, options: dict[str, Any]) -> None:
    import openlit
    from openlit._instrumentors import MODULE_NAME_MAP

    # openlit.init has no provider arguments: it reuses the global SDK providers the child set.
    # Every instrumentor but these two is disabled by name, so no HTTP client or framework
    # instrumentation adds spans or work.
    wanted = ("openai", "anthropic")
    openlit.init(
        disabled_instrumentors=[name for name in MODULE_NAME_MAP if name not in wanted],
        # Its default fetches a pricing JSON over the network at init: a local file instead.
        pricing_json=options["openlit_pricing_json"],
        capture_message_content=not options["content_off"],
        # Events go to a LoggerProvider it would create with a console exporter (stdout); the
        # other variants emit no log records with content capture off or absent, so none here.
        disable_events=True,
    )


def _official_openai_v2(tracer_provider: Any, meter_provider: Any, options: dict[str, Any]) -> None:
    from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor

    OpenAIInstrumentor().instrument(tracer_provider=tracer_provider, meter_provider=meter_provider)


INSTRUMENT: dict[str, Instrument] = {
    "bare": _bare,
    "otel-tokens": _otel_tokens,
    "otel-official": _official,
    "openllmetry": _openllmetry,
    "openlit": _openlit,
    "otel-openai-v2": _official_openai_v2,
}

# --- installing, run by the parent ------------------------------------------------------------

VARIANTS: tuple[Variant, ...] = (
    Variant("bare", shown=("openai", "anthropic")),
    Variant(
        "otel-tokens",
        editable=(".", "instrumentors/openai", "instrumentors/anthropic"),
        locked=("otel-tokens", "otel-tokens-openai", "otel-tokens-anthropic"),
        shown=("otel-tokens", "otel-tokens-openai", "otel-tokens-anthropic", "genai-prices", "wrapt"),
    ),
    Variant(
        "otel-official",
        # The current official GenAI instrumentations (repository opentelemetry-python-genai).
        # opentelemetry-instrumentation-openai-v2 (2.x, last 2.4b0) is the older contrib line the
        # genai-openai 1.x family continues; it has no anthropic counterpart.
        requirements=(
            "opentelemetry-instrumentation-genai-openai==1.3b0",
            "opentelemetry-instrumentation-genai-anthropic==1.3b0",
        ),
        shown=(
            "opentelemetry-instrumentation-genai-openai",
            "opentelemetry-instrumentation-genai-anthropic",
            "opentelemetry-util-genai",
            "wrapt",
        ),
    ),
    Variant(
        "openllmetry",
        requirements=(
            "opentelemetry-instrumentation-openai==0.62.4",
            "opentelemetry-instrumentation-anthropic==0.62.4",
        ),
        shown=("opentelemetry-instrumentation-openai", "opentelemetry-instrumentation-anthropic", "wrapt"),
        capture_content="yes (TRACELOOP_TRACE_CONTENT defaults to true)",
    ),
    Variant(
        "openlit",
        requirements=("openlit==1.45.0",),
        # openlit 1.45.0 declares anthropic>=0.42,<1.0; the pinned anthropic is 2.x.
        overrides=("anthropic",),
        shown=("openlit", "wrapt"),
        capture_content="yes (capture_message_content defaults to True)",
        notes=("anthropic<1.0 requirement overridden to the pinned anthropic",),
    ),
    Variant(
        "otel-openai-v2",
        # The older official line, OpenAI only: its Anthropic figures are VOID (no spans) by
        # design. It declares opentelemetry-util-genai>=0.4b0.dev, which resolves to 1.3b0, where
        # opentelemetry.util.genai.instruments is gone: import fails. 0.4b0 works.
        requirements=("opentelemetry-instrumentation-openai-v2==2.4b0", "opentelemetry-util-genai==0.4b0"),
        shown=("opentelemetry-instrumentation-openai-v2", "opentelemetry-util-genai", "wrapt"),
        notes=(
            "OpenAI only; with its declared opentelemetry-util-genai>=0.4b0.dev a fresh install gets "
            "1.3b0 and fails to import (no opentelemetry.util.genai.instruments): pinned to 0.4b0",
        ),
        default=False,
    ),
)
