"""Assertion helpers and list prices for the mistralai instrumentor tests."""

from __future__ import annotations

from typing import Any

from otel_tokens.testing import InMemoryTelemetry, Point

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


def only_span(telemetry: InMemoryTelemetry):
    spans = telemetry.spans()
    assert len(spans) == 1, [s.name for s in spans]
    return spans[0]


def token_points(telemetry: InMemoryTelemetry) -> dict[str, Point]:
    """gen_ai.client.token.usage points by token type."""
    return {p.attributes["gen_ai.token.type"]: p for p in telemetry.points("gen_ai.client.token.usage")}


def details(telemetry: InMemoryTelemetry) -> dict[str, Any]:
    """otel_tokens.client.token.detail values by detail type."""
    return {
        p.attributes["otel_tokens.token.type"]: p.value
        for p in telemetry.points("otel_tokens.client.token.detail")
    }


def reinstrument(telemetry: InMemoryTelemetry) -> None:
    """Re-instrument so the recorder picks up settings changed inside a test."""
    from otel_tokens_mistralai import MistralAIInstrumentor

    MistralAIInstrumentor().uninstrument()
    MistralAIInstrumentor().instrument(
        tracer_provider=telemetry.tracer_provider, meter_provider=telemetry.meter_provider
    )
