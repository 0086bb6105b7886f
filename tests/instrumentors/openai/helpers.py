"""Assertion helpers for the OpenAI instrumentor tests."""

from __future__ import annotations

from otel_tokens.testing import InMemoryTelemetry, Point

from .._cost import cost  # noqa: F401  (re-exported for the tests)
from .._telemetry import only_span, subset, token_points  # noqa: F401  (re-exported for the tests)

# Public list prices (USD per million tokens) the assertions are computed from.
GPT_4O_MINI = {"input": 0.15, "cached": 0.075, "output": 0.60}
GPT_5 = {"input": 1.25, "cached": 0.125, "output": 10.0}
GPT_5_PRIORITY = {"input": 2.50, "cached": 0.25, "output": 20.0}
EMBEDDING_3_SMALL = {"input": 0.02}


def points(telemetry: InMemoryTelemetry, metric: str) -> list[Point]:
    return telemetry.points(metric)
