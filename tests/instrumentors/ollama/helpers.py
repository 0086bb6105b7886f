"""Assertion helpers for the Ollama instrumentor tests."""

from __future__ import annotations

from .._cost import cost
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
    return cost(GPU_PRICES, input=input, cached=cached, output=output)
