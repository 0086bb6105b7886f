"""Assertion helpers and public list prices for the Bedrock instrumentor tests."""

from __future__ import annotations

import functools
from typing import Any

import pytest

from .._telemetry import details, only_span, token_points  # noqa: F401  (re-exported for the tests)

# Amazon Bedrock on-demand list prices, us-east-1 (USD per million tokens). Claude caches are
# priced at 0.1x input for reads and 1.25x input for writes; Nova reads at 0.25x, writes at input.
CLAUDE_35_HAIKU = {"input": 0.80, "output": 4.00, "cache_read": 0.08, "cache_write": 1.00}
CLAUDE_37_SONNET = {"input": 3.00, "output": 15.00, "cache_read": 0.30, "cache_write": 3.75}
CLAUDE_3_HAIKU = {"input": 0.25, "output": 1.25}
CLAUDE_3_SONNET = {"input": 3.00, "output": 15.00}
NOVA_LITE = {"input": 0.06, "output": 0.24, "cache_read": 0.015, "cache_write": 0.06}
NOVA_PRO = {"input": 0.80, "output": 3.20}
TITAN_TEXT_EXPRESS = {"input": 0.20, "output": 0.60}
TITAN_EMBED_V2 = {"input": 0.02}
LLAMA3_70B = {"input": 2.65, "output": 3.50}
LLAMA32_1B = {"input": 0.10, "output": 0.10}
MISTRAL_7B = {"input": 0.15, "output": 0.20}
MISTRAL_LARGE_2402 = {"input": 4.00, "output": 12.00}

SECRETS = ("AKIDTESTSECRETKEY", "test-secret-access-key", "Authorization", "AWS4-HMAC-SHA256")


def cost(
    prices: dict[str, float], *, input: int, output: int = 0, cache_read: int = 0, cache_write: int = 0
) -> float:
    """USD of a call; ``input`` is Bedrock's count, which excludes the cache reads and writes."""
    return (
        input * prices["input"]
        + output * prices.get("output", 0)
        + cache_read * prices.get("cache_read", prices["input"])
        + cache_write * prices.get("cache_write", prices["input"])
    ) / 1e6


def usage_of(span: Any) -> dict[str, Any]:
    """The span's gen_ai.usage.* token attributes."""
    return {
        key: value
        for key, value in span.attributes.items()
        if key.startswith("gen_ai.usage.") and key.endswith("tokens")
    }


def assert_no_secrets(span: Any) -> None:
    text = str(dict(span.attributes))
    for secret in SECRETS:
        assert secret not in text


@functools.cache
def converse_reports_cache() -> bool:
    """Whether this botocore's model has the Converse cache counts (added in botocore 1.37.24).

    Older releases drop ``cacheReadInputTokens``/``cacheWriteInputTokens`` from the parsed
    response as unmodeled keys: neither the user nor we can see them.
    """
    import botocore.session

    model = botocore.session.get_session().get_service_model("bedrock-runtime")
    return "cacheReadInputTokens" in model.shape_for("TokenUsage").members


needs_converse_cache = pytest.mark.skipif(
    not converse_reports_cache(), reason="botocore < 1.37.24 drops the Converse cache counts"
)


@functools.cache
def supports_service_tier() -> bool:
    """Whether this botocore knows the ``serviceTier`` request parameter (added late 2025)."""
    import botocore.session

    model = botocore.session.get_session().get_service_model("bedrock-runtime")
    return "serviceTier" in model.operation_model("Converse").input_shape.members


needs_service_tier = pytest.mark.skipif(not supports_service_tier(), reason="botocore without serviceTier")
