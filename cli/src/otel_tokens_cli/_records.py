"""Usage records: what every source of the reports (ledger spans, Prometheus series) is read into.

A :class:`UsageRecord` is the spend of one set of calls that share every dimension a report can
group or bill by: a charge period, the service, the provider and its host, the model, the
operation, the business tags, the price source and tier. A ledger span is one record of one call;
a Prometheus label set gives one record per charge period. Everything downstream (the report
tables, FOCUS rows, recommendations, forecasts) reads records only, so a new source is one
reader and nothing else.

Tokens are split by the class they are billed at (:class:`TokenClass`): uncached input, cache
reads, 5-minute and 1-hour cache writes, output (reasoning included, as it is billed) and rerank
search units. The classes add up to the call's input and output tokens. Costs are the ones
recorded when the call was made, by class where the source has them; :attr:`UsageRecord.cost_basis`
says how the split was made.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

__all__ = [
    "DIMENSIONS",
    "CostBasis",
    "Skips",
    "SourceError",
    "TokenClass",
    "UsageRecord",
    "dimension_value",
]


class TokenClass(enum.StrEnum):
    """A class of tokens billed at one rate."""

    INPUT = "input"
    """Input tokens neither read from nor written to the prompt cache."""
    CACHE_READ = "cache_read"
    CACHE_WRITE_5M = "cache_write_5m"
    """Cache writes at the standard (5-minute) rate: all of a provider's writes when it has one rate."""
    CACHE_WRITE_1H = "cache_write_1h"
    OUTPUT = "output"
    """All output tokens, reasoning included (billed as output)."""
    SEARCH_UNITS = "search_units"
    """Rerank search units (Cohere), which are billed per unit and have no token counts."""


class CostBasis(enum.StrEnum):
    """Where a record's cost by token class comes from (its total is always the recorded one)."""

    RECORDED = "recorded"
    """Each class's cost as the span recorded it."""
    APPORTIONED = "apportioned"
    """The recorded total, split across the classes in proportion to the price book's rates
    (a metric series has the total only)."""
    REPRICED = "repriced"
    """Priced again with today's price book, on request (``--reprice``)."""


DIMENSIONS = ("service", "provider", "host", "model", "operation")
"""The dimensions besides business tags that a report can group by (tags are named by key)."""


@dataclass(frozen=True, slots=True)
class UsageRecord:
    """The recorded usage and cost of ``requests`` calls sharing every dimension below.

    ``start`` (inclusive) and ``end`` (exclusive) are UTC: a span's own start and end, or the
    charge period of a metric sample. ``cost`` is the recorded USD of the priced calls only;
    ``unpriced_requests`` calls had no price (their tokens are counted, their cost is unknown,
    never 0). ``class_costs`` splits ``cost`` by token class (empty when there is no cost).
    ``input_sizes`` are (input tokens, calls) pairs: exact per call from a span, or a histogram
    bucket's upper bound from metrics, so "calls whose prompt fits N tokens" is exact or a lower
    bound.
    """

    start: datetime
    end: datetime
    service: str
    provider: str
    host: str
    model: str
    operation: str
    tags: tuple[tuple[str, str], ...]
    requests: int
    tokens: Mapping[TokenClass, int]
    reasoning_tokens: int = 0
    cost: float = 0.0
    class_costs: Mapping[TokenClass, float] = field(default_factory=dict)
    cost_basis: CostBasis = CostBasis.RECORDED
    price_source: str = ""
    service_tier: str = ""
    unpriced_requests: int = 0
    estimated_requests: int = 0
    error_requests: int = 0
    input_sizes: tuple[tuple[int, int], ...] = ()

    def __post_init__(self) -> None:
        for moment in (self.start, self.end):
            if moment.tzinfo is None or moment.utcoffset() != UTC.utcoffset(None):
                raise ValueError(f"record times must be UTC-aware, got {moment!r}")

    @property
    def tag_map(self) -> dict[str, str]:
        return dict(self.tags)

    @property
    def input_tokens(self) -> int:
        """All input tokens: uncached, cache reads and cache writes."""
        return sum(
            self.tokens.get(kind, 0)
            for kind in (
                TokenClass.INPUT,
                TokenClass.CACHE_READ,
                TokenClass.CACHE_WRITE_5M,
                TokenClass.CACHE_WRITE_1H,
            )
        )

    @property
    def output_tokens(self) -> int:
        return self.tokens.get(TokenClass.OUTPUT, 0)

    @property
    def priced_requests(self) -> int:
        return self.requests - self.unpriced_requests


def dimension_value(record: UsageRecord, dimension: str) -> str:
    """The record's value for a grouping dimension: one of :data:`DIMENSIONS` or a tag key
    (``""`` when the record has no such tag)."""
    if dimension in DIMENSIONS:
        return str(getattr(record, dimension))
    return record.tag_map.get(dimension, "")


@dataclass(slots=True)
class Skips:
    """What a source could not read, by reason, so that a total is never silently smaller."""

    counts: dict[str, int] = field(default_factory=dict)
    examples: dict[str, str] = field(default_factory=dict)

    def add(self, reason: str, where: str = "", count: int = 1) -> None:
        self.counts[reason] = self.counts.get(reason, 0) + count
        if where:
            self.examples.setdefault(reason, where)

    def merge(self, other: Skips) -> None:
        for reason, count in other.counts.items():
            self.add(reason, other.examples.get(reason, ""), count)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def lines(self) -> Iterable[str]:
        """One line per reason: ``3 records skipped: malformed JSON (first at ledger.jsonl:17)``."""
        for reason, count in sorted(self.counts.items(), key=lambda item: -item[1]):
            where = self.examples.get(reason)
            yield f"{count} skipped: {reason}" + (f" (first at {where})" if where else "")


class SourceError(Exception):
    """A source cannot be read at all (missing file, unreachable or non-Prometheus URL, empty
    range): its message is the one line the command prints before exiting non-zero."""
