"""Assertion helpers and list prices for the LiteLLM instrumentor tests."""

from __future__ import annotations

from .._cost import cost  # noqa: F401  (re-exported for the tests)
from .._telemetry import details, only_span, token_points  # noqa: F401  (re-exported for the tests)

# Public list prices (USD per million tokens) the assertions are computed from.
GPT_4O_MINI = {"input": 0.15, "cached": 0.075, "output": 0.60}
GPT_5 = {"input": 1.25, "cached": 0.125, "output": 10.0}
EMBEDDING_3_SMALL = {"input": 0.02}
GPT_35_TURBO_INSTRUCT = {"input": 1.50, "output": 2.00}
# Claude 3.5 Sonnet: cache writes (5 minutes) at 1.25x input, cache reads at 0.1x input.
CLAUDE_35_SONNET = {"input": 3.0, "cache_write": 3.75, "cached": 0.30, "output": 15.0}

MESSAGES = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Say hello."}]
