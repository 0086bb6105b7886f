"""The cost a test expects, from public list prices (one copy for the clients that share its shape)."""

from __future__ import annotations


def cost(
    prices: dict[str, float], *, input: int, cached: int = 0, cache_write: int = 0, output: int = 0
) -> float:
    """USD of a call at ``prices`` (USD per million tokens) whose ``input`` is the total input, cache
    reads (``cached``) and writes (``cache_write``) included, as OpenAI-shaped usage counts it.
    ``output`` includes reasoning tokens, billed at the output rate; a price not listed is 0."""
    return (
        (input - cached - cache_write) * prices["input"]
        + cached * prices.get("cached", 0)
        + cache_write * prices.get("cache_write", 0)
        + output * prices.get("output", 0)
    ) / 1e6
