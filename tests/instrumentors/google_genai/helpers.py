"""Assertion helpers and public list prices for the google-genai instrumentor tests."""

from __future__ import annotations

from typing import Any

from .._cost import cost  # noqa: F401  (re-exported for the tests)
from .._telemetry import details, only_span, token_points  # noqa: F401  (re-exported for the tests)

# Public list prices (USD per million tokens, paid tier, text) the assertions are computed from.
GEMINI_25_FLASH = {"input": 0.30, "cached": 0.03, "output": 2.50}
# Gemini 2.5 Pro: prompts up to 200k tokens, and every token of a call whose prompt is longer.
GEMINI_25_PRO = {"input": 1.25, "cached": 0.125, "output": 10.0}
GEMINI_25_PRO_LONG = {"input": 2.50, "cached": 0.25, "output": 15.0}
GEMINI_EMBEDDING_001 = {"input": 0.15}


def usage_of(span: Any) -> dict[str, Any]:
    keys = (
        "gen_ai.usage.input_tokens",
        "gen_ai.usage.output_tokens",
        "gen_ai.usage.cache_read.input_tokens",
        "gen_ai.usage.reasoning.output_tokens",
    )
    return {key: span.attributes[key] for key in keys if key in span.attributes}
