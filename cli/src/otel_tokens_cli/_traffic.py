"""The calls a recommendation rests on: which group a record belongs to, the evidence (calls,
tokens, recorded cost) a group's records add up to, and one group's traffic on one model with
its prompt sizes and the parts its token counts are priced in."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from otel_tokens_cli._records import TokenClass, UsageRecord, dimension_value

__all__ = ["Evidence", "Part", "Traffic", "exact_sizes", "group_label"]


def group_label(record: UsageRecord, by: Sequence[str]) -> tuple[str, str]:
    """``(key, value)`` of the first of ``by`` the record has a value for; ``("", "")`` for none."""
    for key in by:
        value = dimension_value(record, key)
        if value:
            return key, value
    return "", ""


@dataclass(slots=True)
class Evidence:
    """What a recommendation rests on: the calls, tokens and recorded cost of its records."""

    calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    cost: float = 0.0
    unpriced_calls: int = 0

    def add(self, record: UsageRecord) -> None:
        self.calls += record.requests
        self.input_tokens += record.input_tokens
        self.output_tokens += record.output_tokens
        self.cache_read_tokens += record.tokens.get(TokenClass.CACHE_READ, 0)
        self.cache_write_tokens += record.tokens.get(TokenClass.CACHE_WRITE_5M, 0) + record.tokens.get(
            TokenClass.CACHE_WRITE_1H, 0
        )
        self.cost += record.cost
        self.unpriced_calls += record.unpriced_requests


def exact_sizes(record: UsageRecord) -> bool:
    """Whether the record's prompt sizes are the calls' own: recorded sizes are exact or upper
    bounds, so they are exact exactly when they add up to the record's input tokens."""
    return sum(size * calls for size, calls in record.input_sizes) == record.input_tokens


Part = tuple[str | None, Mapping[TokenClass, int], int, int]
"""Calls priced together: (service tier, tokens by class, reasoning tokens, calls)."""


@dataclass(slots=True)
class Traffic:
    """The records of one group (``label``) on one ``provider`` and ``model``, and their prompt
    sizes (size -> calls); ``exact`` says every size is a call's own (else an upper bound)."""

    label: tuple[str, str]
    provider: str
    model: str
    records: list[UsageRecord] = field(default_factory=list)
    evidence: Evidence = field(default_factory=Evidence)
    sizes: dict[int, int] = field(default_factory=dict)
    exact: bool = True

    def add(self, record: UsageRecord) -> None:
        self.records.append(record)
        self.evidence.add(record)
        self.exact = self.exact and exact_sizes(record)
        for size, calls in record.input_sizes:
            self.sizes[size] = self.sizes.get(size, 0) + calls

    def exact_parts(self) -> list[Part]:
        """Record by record: a span is one call, priced as billed."""
        return [
            (r.service_tier or None, r.tokens, r.reasoning_tokens, r.requests)
            for r in self.records
            if r.requests > r.unpriced_requests
        ]

    def pooled_parts(self) -> list[Part]:
        """All calls of a tier pooled (a quick estimate to rank candidates before exact pricing)."""
        pooled: dict[str | None, tuple[dict[TokenClass, int], list[int]]] = {}
        for tier, tokens, reasoning, calls in self.exact_parts():
            counts, sums = pooled.setdefault(tier, (dict.fromkeys(TokenClass, 0), [0, 0]))
            for kind, count in tokens.items():
                counts[kind] += count
            sums[0] += reasoning
            sums[1] += calls
        return [(tier, counts, sums[0], sums[1]) for tier, (counts, sums) in pooled.items()]
