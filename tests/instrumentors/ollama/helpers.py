"""Assertion helpers for the Ollama instrumentor tests."""

from __future__ import annotations

from typing import Any

from otel_tokens.testing import InMemoryTelemetry, Point

MESSAGES = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Say hello."}]

# A team's GPU chargeback price for a local model, USD per million tokens, as an override file says.
GPU_PRICES = {"input": 0.05, "cached": 0.01, "output": 0.20}
OVERRIDES = """
[[price]]
provider = "ollama"
model = "llama3.1:70b"
input_per_mtok = 0.05
cache_read_per_mtok = 0.01
output_per_mtok = 0.20
"""


def gpu_cost(*, input: int, cached: int = 0, output: int = 0) -> float:
    return (
        (input - cached) * GPU_PRICES["input"] + cached * GPU_PRICES["cached"] + output * GPU_PRICES["output"]
    ) / 1e6


def only_span(telemetry: InMemoryTelemetry):
    spans = telemetry.spans()
    assert len(spans) == 1, [s.name for s in spans]
    return spans[0]


def token_points(telemetry: InMemoryTelemetry) -> dict[str, Point]:
    """gen_ai.client.token.usage points by token type."""
    return {p.attributes["gen_ai.token.type"]: p for p in telemetry.points("gen_ai.client.token.usage")}


def details(telemetry: InMemoryTelemetry) -> dict[str, float | None]:
    """otel_tokens.client.token.detail values by token kind."""
    return {
        p.attributes["otel_tokens.token.type"]: p.value
        for p in telemetry.points("otel_tokens.client.token.detail")
    }


def reinstrument(telemetry: InMemoryTelemetry) -> None:
    """Instrument again so the recorder picks up settings changed inside a test."""
    from otel_tokens_ollama import OllamaInstrumentor

    OllamaInstrumentor().uninstrument()
    OllamaInstrumentor().instrument(
        tracer_provider=telemetry.tracer_provider, meter_provider=telemetry.meter_provider
    )


def subset(attributes: Any, expected: dict[str, Any]) -> dict[str, Any]:
    return {key: attributes.get(key) for key in expected}
