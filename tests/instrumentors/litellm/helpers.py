"""Assertion helpers and list prices for the LiteLLM instrumentor tests."""

from __future__ import annotations

from typing import Any

from otel_tokens.testing import InMemoryTelemetry, Point

# Public list prices (USD per million tokens) the assertions are computed from.
GPT_4O_MINI = {"input": 0.15, "cached": 0.075, "output": 0.60}
GPT_5 = {"input": 1.25, "cached": 0.125, "output": 10.0}
EMBEDDING_3_SMALL = {"input": 0.02}
GPT_35_TURBO_INSTRUCT = {"input": 1.50, "output": 2.00}
# Claude 3.5 Sonnet: cache writes (5 minutes) at 1.25x input, cache reads at 0.1x input.
CLAUDE_35_SONNET = {"input": 3.0, "cache_write": 3.75, "cached": 0.30, "output": 15.0}

MESSAGES = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Say hello."}]


def cost(
    prices: dict[str, float], *, input: int, cached: int = 0, cache_write: int = 0, output: int = 0
) -> float:
    """USD of a call whose ``input`` is the total input (cache reads and writes included)."""
    return (
        (input - cached - cache_write) * prices["input"]
        + cached * prices.get("cached", 0)
        + cache_write * prices.get("cache_write", 0)
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
    """otel_tokens.client.token.detail values by kind."""
    return {
        p.attributes["otel_tokens.token.type"]: p.value
        for p in telemetry.points("otel_tokens.client.token.detail")
    }
