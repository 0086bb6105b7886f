"""Assertion helpers and list prices for the mistralai instrumentor tests."""

from __future__ import annotations

from otel_tokens.testing import InMemoryTelemetry

from .._telemetry import details, only_span, token_points  # noqa: F401  (re-exported for the tests)

# Mistral's public list prices (USD per million tokens) the assertions are computed from.
# Cached prompt tokens are billed at 10% of the input price.
MISTRAL_SMALL = {"input": 0.15, "cached": 0.015, "output": 0.60}
MISTRAL_TINY = {"input": 0.25, "output": 0.25}
MISTRAL_EMBED = {"input": 0.10}
CODESTRAL = {"input": 0.30, "output": 0.90}

MESSAGES = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Say hello."}]


def cost(prices: dict[str, float], *, input: int, cached: int = 0, output: int = 0) -> float:
    return (
        (input - cached) * prices["input"]
        + cached * prices.get("cached", 0)
        + output * prices.get("output", 0)
    ) / 1e6


def reinstrument(telemetry: InMemoryTelemetry) -> None:
    """Re-instrument so the recorder picks up settings changed inside a test."""
    from otel_tokens_mistralai import MistralAIInstrumentor

    MistralAIInstrumentor().uninstrument()
    MistralAIInstrumentor().instrument(
        tracer_provider=telemetry.tracer_provider, meter_provider=telemetry.meter_provider
    )
