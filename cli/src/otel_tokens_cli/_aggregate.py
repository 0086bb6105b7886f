"""Usage records -> a report: totals, groups, allocation, unpriced models, a timeline.

Pure and source-agnostic: it reads :class:`UsageRecord` values only, so the terminal table, the
CSV, JSON and HTML outputs show the same numbers whatever the records came from.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from otel_tokens_cli._records import Skips, TokenClass, UsageRecord, dimension_value

__all__ = ["Group", "Report", "Totals", "build_report", "timeline_step"]


@dataclass(slots=True)
class Totals:
    """Sums over a set of records."""

    requests: int = 0
    cost: float = 0.0
    tokens: dict[TokenClass, int] = field(default_factory=lambda: dict.fromkeys(TokenClass, 0))
    reasoning_tokens: int = 0
    unpriced_requests: int = 0
    estimated_requests: int = 0
    error_requests: int = 0

    def add(self, record: UsageRecord) -> None:
        self.requests += record.requests
        self.cost += record.cost
        for kind, count in record.tokens.items():
            self.tokens[kind] += count
        self.reasoning_tokens += record.reasoning_tokens
        self.unpriced_requests += record.unpriced_requests
        self.estimated_requests += record.estimated_requests
        self.error_requests += record.error_requests

    @property
    def input_tokens(self) -> int:
        return sum(
            self.tokens[kind]
            for kind in TokenClass
            if kind not in (TokenClass.OUTPUT, TokenClass.SEARCH_UNITS)
        )

    @property
    def output_tokens(self) -> int:
        return self.tokens[TokenClass.OUTPUT]

    @property
    def cost_per_call(self) -> float | None:
        """Mean recorded cost of a priced call; ``None`` without one."""
        priced = self.requests - self.unpriced_requests
        return self.cost / priced if priced > 0 else None


@dataclass(slots=True)
class Group:
    """One row of a grouped report: the values of the grouping dimensions and their totals."""

    key: tuple[str, ...]
    totals: Totals
    previous: Totals | None = None

    @property
    def change(self) -> float | None:
        """Relative change of cost against the previous period; ``None`` when it had none."""
        if self.previous is None or self.previous.cost <= 0:
            return None
        return self.totals.cost / self.previous.cost - 1


@dataclass(slots=True)
class Report:
    """Everything the outputs show, for records in ``[start, end)`` grouped by ``by``."""

    start: datetime
    end: datetime
    by: tuple[str, ...]
    owner_tag: str
    totals: Totals
    groups: list[Group]
    previous_totals: Totals | None
    unallocated_cost: float
    unpriced_models: list[tuple[str, str, int]]
    top_by: str
    top_spenders: list[Group]
    timeline_step: timedelta
    timeline: dict[datetime, dict[str, float]]
    skipped: Skips

    @property
    def allocation_accuracy(self) -> float | None:
        """The share of recorded spend that carries the owner tag; ``None`` with no spend."""
        if self.totals.cost <= 0:
            return None
        return 1 - self.unallocated_cost / self.totals.cost

    @property
    def estimated_share(self) -> float | None:
        """The share of calls whose token counts were counted locally, not billed counts."""
        if self.totals.requests == 0:
            return None
        return self.totals.estimated_requests / self.totals.requests


def timeline_step(start: datetime, end: datetime) -> timedelta:
    """Hourly points up to two days, daily beyond."""
    return timedelta(hours=1) if end - start <= timedelta(days=2) else timedelta(days=1)


def _group(records: Iterable[UsageRecord], by: Sequence[str]) -> dict[tuple[str, ...], Totals]:
    groups: dict[tuple[str, ...], Totals] = {}
    for record in records:
        key = tuple(dimension_value(record, dimension) for dimension in by)
        groups.setdefault(key, Totals()).add(record)
    return groups


def build_report(
    records: Sequence[UsageRecord],
    *,
    start: datetime,
    end: datetime,
    by: Sequence[str],
    owner_tag: str = "team",
    top_by: str = "user",
    top: int = 10,
    previous: Sequence[UsageRecord] | None = None,
    skipped: Skips | None = None,
) -> Report:
    """Aggregate ``records`` (those starting in ``[start, end)``; the others are ignored) into a
    report grouped by the dimensions ``by``; ``previous`` holds the records of the period of the
    same length before, for the comparison."""
    in_range = [record for record in records if start <= record.start < end]
    totals = Totals()
    for record in in_range:
        totals.add(record)

    previous_groups = _group(previous, by) if previous is not None else {}
    previous_totals = None
    if previous is not None:
        previous_totals = Totals()
        for record in previous:
            previous_totals.add(record)
    groups = [
        Group(key, group_totals, previous_groups.get(key) if previous is not None else None)
        for key, group_totals in _group(in_range, by).items()
    ]
    groups.sort(key=lambda group: (-group.totals.cost, -group.totals.requests, group.key))

    unallocated = sum(record.cost for record in in_range if not dimension_value(record, owner_tag))
    unpriced: dict[tuple[str, str], int] = {}
    for record in in_range:
        if record.unpriced_requests:
            model = (record.provider, record.model)
            unpriced[model] = unpriced.get(model, 0) + record.unpriced_requests

    top_groups = [
        Group(key, group_totals) for key, group_totals in _group(in_range, [top_by]).items() if key != ("",)
    ]
    top_groups.sort(key=lambda group: (-group.totals.cost, group.key))

    step = timeline_step(start, end)
    timeline: dict[datetime, dict[str, float]] = {}
    moment = start
    while moment < end:
        timeline[moment] = {}
        moment += step
    for record in in_range:
        bucket = start + step * ((record.start - start) // step)
        label = " / ".join(dimension_value(record, dimension) or "(none)" for dimension in by) or "total"
        timeline[bucket][label] = timeline[bucket].get(label, 0.0) + record.cost

    return Report(
        start=start,
        end=end,
        by=tuple(by),
        owner_tag=owner_tag,
        totals=totals,
        groups=groups,
        previous_totals=previous_totals,
        unallocated_cost=unallocated,
        unpriced_models=sorted(
            ((provider, model, calls) for (provider, model), calls in unpriced.items()),
            key=lambda item: (-item[2], item[0], item[1]),
        ),
        top_by=top_by,
        top_spenders=top_groups[:top],
        timeline_step=step,
        timeline=timeline,
        skipped=skipped or Skips(),
    )
