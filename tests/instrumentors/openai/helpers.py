"""Assertion helpers for the OpenAI instrumentor tests."""

from __future__ import annotations

from typing import Any

from otel_tokens.testing import InMemoryTelemetry, Point

# Public list prices (USD per million tokens) the assertions are computed from.
GPT_4O_MINI = {"input": 0.15, "cached": 0.075, "output": 0.60}
GPT_5 = {"input": 1.25, "cached": 0.125, "output": 10.0}
GPT_5_PRIORITY = {"input": 2.50, "cached": 0.25, "output": 20.0}
EMBEDDING_3_SMALL = {"input": 0.02}


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


def points(telemetry: InMemoryTelemetry, metric: str) -> list[Point]:
    return telemetry.points(metric)


def token_points(telemetry: InMemoryTelemetry) -> dict[str, Point]:
    """gen_ai.client.token.usage points by token type."""
    return {p.attributes["gen_ai.token.type"]: p for p in telemetry.points("gen_ai.client.token.usage")}


def subset(attributes: Any, expected: dict[str, Any]) -> dict[str, Any]:
    """The attributes named in ``expected``, to compare whole dicts in one assert."""
    return {key: attributes.get(key) for key in expected}
