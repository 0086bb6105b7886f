"""Assertion helpers and list prices for the mistralai instrumentor tests."""

from __future__ import annotations

from .._cost import cost  # noqa: F401  (re-exported for the tests)
from .._telemetry import details, only_span, token_points  # noqa: F401  (re-exported for the tests)

# Mistral's public list prices (USD per million tokens) the assertions are computed from.
# Cached prompt tokens are billed at 10% of the input price.
MISTRAL_SMALL = {"input": 0.15, "cached": 0.015, "output": 0.60}
MISTRAL_TINY = {"input": 0.25, "output": 0.25}
MISTRAL_EMBED = {"input": 0.10}
CODESTRAL = {"input": 0.30, "output": 0.90}

MESSAGES = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Say hello."}]
