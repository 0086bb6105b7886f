"""Reading recorded telemetry in the per-client instrumentor tests (one copy for every client)."""

from __future__ import annotations

from typing import Any

from otel_tokens.testing import InMemoryTelemetry, Point


def only_span(telemetry: InMemoryTelemetry):
    spans = telemetry.spans()
    assert len(spans) == 1, [s.name for s in spans]
    return spans[0]


def token_points(telemetry: InMemoryTelemetry) -> dict[str, Point]:
    """gen_ai.client.token.usage points by token type (each type once)."""
    points = telemetry.points("gen_ai.client.token.usage")
    by_type = {p.attributes["gen_ai.token.type"]: p for p in points}
    assert len(by_type) == len(points), points
    return by_type


def details(telemetry: InMemoryTelemetry) -> dict[str, float | None]:
    """otel_tokens.client.token.detail values by token type."""
    return {
        p.attributes["otel_tokens.token.type"]: p.value
        for p in telemetry.points("otel_tokens.client.token.detail")
    }


def subset(attributes: Any, expected: dict[str, Any]) -> dict[str, Any]:
    """The attributes named in ``expected``, to compare whole dicts in one assert."""
    return {key: attributes.get(key) for key in expected}
