"""Provider-neutral token usage, normalised to the GenAI semantic conventions.

Each provider reports usage in its own shape (OpenAI counts cached tokens inside
``prompt_tokens``; Anthropic and Bedrock report them beside ``input_tokens``). Extractors
convert to this one model so pricing, span attributes and metrics never need to know
which provider a call went to.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

MAX_TOKEN_COUNT = 10**12
"""Above any real call (a million-token context is 10**6), below what OTLP's int64 points overflow
on when summed: a count beyond it is a broken response, not usage."""

_COUNT_FIELDS = (
    "input_tokens",
    "output_tokens",
    "cache_read_input_tokens",
    "cache_creation_input_tokens",
    "cache_creation_1h_input_tokens",
    "reasoning_output_tokens",
    "search_units",
)
_invalid = threading.local()


def count(value: Any) -> int | None:
    """A count read from a response, validated where it is read.

    Returns the count as an ``int`` when ``value`` is a non-negative integer no larger than
    :data:`MAX_TOKEN_COUNT`: an ``int`` (not a ``bool``), a float with no fractional part, or
    a string of decimal digits (some OpenAI-compatible servers quote numbers). ``None`` (absent)
    gives ``None``. Anything else (negative, huge, fractional, a bool, an object) is invalid:
    ``None`` is returned, so that field alone is lost, and the call's recorder counts it on
    ``otel_tokens.telemetry.dropped`` (reason ``invalid_usage``). Never raises.
    """
    if type(value) is int and 0 <= value <= MAX_TOKEN_COUNT:
        return value
    if value is None:
        return None
    checked = _checked(value)
    if checked is None:
        _invalid.count = getattr(_invalid, "count", 0) + 1
    return checked


def _checked(value: Any) -> int | None:
    """``value`` as a valid count, or ``None``; counts nothing."""
    kind = type(value)
    if kind is int:
        return value if 0 <= value <= MAX_TOKEN_COUNT else None  # type: ignore[no-any-return]
    if kind is float:
        return int(value) if value.is_integer() and 0 <= value <= MAX_TOKEN_COUNT else None
    if kind is str:
        text = value.strip()
        if text.isascii() and text.isdigit() and len(text) <= 13 and int(text) <= MAX_TOKEN_COUNT:
            return int(text)
        return None
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_TOKEN_COUNT:
        return int(value)  # an int subclass (an IntEnum...)
    return None


def take_invalid_count() -> int:
    """How many invalid counts :func:`count` rejected on this thread since the last call; resets it."""
    found: int = getattr(_invalid, "count", 0)
    if found:
        _invalid.count = 0
    return found


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

    def validate(self) -> int:
        """Pass every count through :func:`count` again (a backstop for counts an extractor
        computed); invalid ones become ``None``. Returns how many were invalid."""
        invalid = 0
        for name in _COUNT_FIELDS:
            value = getattr(self, name)
            if value is not None and (type(value) is not int or not 0 <= value <= MAX_TOKEN_COUNT):
                checked = _checked(value)
                if checked is None:
                    invalid += 1
                setattr(self, name, checked)
        return invalid

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
