"""Assertion helpers for the Ollama instrumentor tests."""

from __future__ import annotations

from otel_tokens.testing import InMemoryTelemetry

from .._telemetry import details, only_span, subset, token_points  # noqa: F401  (re-exported for the tests)

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


def reinstrument(telemetry: InMemoryTelemetry) -> None:
    """Instrument again so the recorder picks up settings changed inside a test."""
    from otel_tokens_ollama import OllamaInstrumentor

    OllamaInstrumentor().uninstrument()
    OllamaInstrumentor().instrument(
        tracer_provider=telemetry.tracer_provider, meter_provider=telemetry.meter_provider
    )
