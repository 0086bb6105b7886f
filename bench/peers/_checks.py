"""What a variant's spans must show, read in the measuring child.

Every variant must leave exactly one span per call, or its figures are void: a variant that
records nothing costs nothing and would otherwise look best. otel-tokens' spans must also carry
the exact usage and cost of the canned responses. For the others, what their spans carry (token
counts, a cost) is recorded as found, so a reader can see who does how much work.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

# The canned responses of bench/_wire.py and bench/_anthropic_wire.py, and their list prices
# (USD per token; as bench_openai.py / bench_anthropic.py check them, repeated here because this
# module runs in environments that do not have otel-tokens installed).
_OPENAI_COST = (1200 - 1024) * 0.15e-6 + 1024 * 0.075e-6 + 300 * 0.60e-6
_ANTHROPIC_COST = 176 * 3.0e-6 + 200 * 3.75e-6 + 1024 * 0.30e-6 + 300 * 15.0e-6
OTEL_TOKENS_EXPECTED: dict[str, dict[str, Any]] = {
    "openai": {
        "gen_ai.usage.input_tokens": 1200,
        "gen_ai.usage.output_tokens": 300,
        "gen_ai.usage.cache_read.input_tokens": 1024,
        "gen_ai.usage.reasoning.output_tokens": 64,
        "gen_ai.usage.cost.amount": _OPENAI_COST,
    },
    "anthropic": {
        "gen_ai.usage.input_tokens": 1400,
        "gen_ai.usage.output_tokens": 300,
        "gen_ai.usage.cache_read.input_tokens": 1024,
        "gen_ai.usage.cache_creation.input_tokens": 200,
        "gen_ai.usage.cost.amount": _ANTHROPIC_COST,
    },
}


def _same(found: Any, expected: Any) -> bool:
    if isinstance(expected, float):
        return isinstance(found, float) and abs(found - expected) <= 1e-12
    return bool(found == expected)


def void_reason(spans: Sequence[Any], calls: int, variant: str, provider: str) -> str | None:
    """Why this block's figures cannot stand, or None when every call left its span."""
    if variant == "bare":
        return f"bare left {len(spans)} spans" if spans else None
    if len(spans) != calls:
        return f"{len(spans)} spans for {calls} calls"
    if variant == "otel-tokens":
        expected = OTEL_TOKENS_EXPECTED[provider]
        for span in spans:
            attributes = dict(span.attributes or {})
            wrong = {k: attributes.get(k) for k, v in expected.items() if not _same(attributes.get(k), v)}
            if wrong:
                return f"span {span.name!r} lacks the expected usage/cost: {wrong}"
    return None


def recorded(attributes: Mapping[str, Any]) -> dict[str, Any]:
    """Token and cost attributes as found on a span, and whether each kind is there."""
    found = {k: v for k, v in attributes.items() if "token" in k or "cost" in k}

    def has(*parts: str) -> bool:
        return any(
            any(part in key for part in parts) and isinstance(value, int | float) and value > 0
            for key, value in found.items()
        )

    return {
        "usage": has("input_tokens", "prompt_tokens") and has("output_tokens", "completion_tokens"),
        "cost": has("cost"),
        "attributes": found,
    }
