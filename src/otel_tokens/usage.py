"""Provider-neutral token usage, normalised to the GenAI semantic conventions.

Each provider reports usage in its own shape (OpenAI counts cached tokens inside
``prompt_tokens``; Anthropic and Bedrock report them beside ``input_tokens``). Extractors
convert to this one model so pricing, span attributes and metrics never need to know
which provider a call went to.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class Usage:
    """Token counts of one call.

    ``input_tokens`` is the total input, cached reads and cache writes included, as the
    conventions define ``gen_ai.usage.input_tokens``; ``output_tokens`` includes reasoning.
    A field is ``None`` when the provider did not report it, which is not the same as 0.
    """

    input_tokens: int | None = None
    output_tokens: int | None = None
    cache_read_input_tokens: int | None = None
    cache_creation_input_tokens: int | None = None
    cache_creation_1h_input_tokens: int | None = None
    """The part of ``cache_creation_input_tokens`` written with a 1-hour TTL (Anthropic)."""
    reasoning_output_tokens: int | None = None
    search_units: int | None = None
    """Billed search units of a rerank call (Cohere); such a call has no token counts."""
    estimated: bool = False
    """True when counted locally because the provider reported nothing."""
    estimate_method: str | None = None

    @property
    def uncached_input_tokens(self) -> int:
        """Input tokens billed at the plain input rate."""
        total = self.input_tokens or 0
        return max(0, total - (self.cache_read_input_tokens or 0) - (self.cache_creation_input_tokens or 0))

    @property
    def is_empty(self) -> bool:
        return self.input_tokens is None and self.output_tokens is None and self.search_units is None

    @classmethod
    def from_uncached_input(
        cls,
        *,
        uncached_input_tokens: int | None,
        output_tokens: int | None,
        cache_read_input_tokens: int | None = None,
        cache_creation_input_tokens: int | None = None,
        cache_creation_1h_input_tokens: int | None = None,
        reasoning_output_tokens: int | None = None,
    ) -> Usage:
        """Build from a provider that reports input without its cached part (Anthropic, Bedrock)."""
        total: int | None = None
        if uncached_input_tokens is not None:
            total = (
                uncached_input_tokens + (cache_read_input_tokens or 0) + (cache_creation_input_tokens or 0)
            )
        return cls(
            input_tokens=total,
            output_tokens=output_tokens,
            cache_read_input_tokens=cache_read_input_tokens,
            cache_creation_input_tokens=cache_creation_input_tokens,
            cache_creation_1h_input_tokens=cache_creation_1h_input_tokens,
            reasoning_output_tokens=reasoning_output_tokens,
        )
