"""Records -> report: totals, groups, comparison, allocation, unpriced models, timeline."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from otel_tokens_cli._aggregate import build_report
from otel_tokens_cli._records import TokenClass, UsageRecord

START = datetime(2026, 11, 1, tzinfo=UTC)
END = datetime(2026, 12, 1, tzinfo=UTC)


def record(
    day: int,
    cost: float,
    *,
    team: str | None = "search",
    model: str = "gpt-4o-mini",
    user: str | None = None,
    requests: int = 1,
    unpriced: int = 0,
    estimated: int = 0,
    month: int = 11,
) -> UsageRecord:
    tags = {"team": team, "user": user}
    moment = datetime(2026, month, day, 12, tzinfo=UTC)
    return UsageRecord(
        start=moment,
        end=moment + timedelta(seconds=1),
        service="shop",
        provider="openai",
        host="api.openai.com",
        model=model,
        operation="chat",
        tags=tuple(sorted((key, value) for key, value in tags.items() if value is not None)),
        requests=requests,
        tokens={
            TokenClass.INPUT: 100 * requests,
            TokenClass.CACHE_READ: 50 * requests,
            TokenClass.OUTPUT: 10 * requests,
        },
        reasoning_tokens=2 * requests,
        cost=cost,
        unpriced_requests=unpriced,
        estimated_requests=estimated,
    )


RECORDS = [
    record(1, 1.0, team="search", user="ann"),
    record(2, 2.0, team="search", user="bob", model="gpt-4o"),
    record(2, 4.0, team="support", user="ann", requests=4),
    record(3, 0.5, team=None),
    record(30, 0.0, team="support", model="ft:custom", unpriced=2, requests=2),
    record(5, 0.25, team="search", estimated=1),
]


def test_totals_and_groups() -> None:
    report = build_report(RECORDS, start=START, end=END, by=["team"])
    assert report.totals.requests == 10
    assert report.totals.cost == pytest.approx(7.75)
    assert report.totals.tokens[TokenClass.INPUT] == 1000
    assert report.totals.input_tokens == 1500
    assert report.totals.reasoning_tokens == 20
    # 8 priced calls share $7.75.
    assert report.totals.cost_per_call == pytest.approx(7.75 / 8)
    assert [(group.key, group.totals.cost, group.totals.requests) for group in report.groups] == [
        (("support",), 4.0, 6),
        (("search",), 3.25, 3),
        (("",), 0.5, 1),
    ]


def test_grouping_by_several_dimensions_and_a_tag() -> None:
    report = build_report(RECORDS, start=START, end=END, by=["team", "model"])
    keys = {group.key: group.totals.cost for group in report.groups}
    assert keys == {
        ("search", "gpt-4o-mini"): 1.25,
        ("search", "gpt-4o"): 2.0,
        ("support", "gpt-4o-mini"): 4.0,
        ("support", "ft:custom"): 0.0,
        ("", "gpt-4o-mini"): 0.5,
    }


def test_allocation_unpriced_and_estimated_share() -> None:
    report = build_report(RECORDS, start=START, end=END, by=["team"])
    assert report.unallocated_cost == 0.5
    assert report.allocation_accuracy == pytest.approx(1 - 0.5 / 7.75)
    assert report.unpriced_models == [("openai", "ft:custom", 2)]
    assert report.estimated_share == pytest.approx(1 / 10)


def test_top_spenders_leave_out_records_without_the_key() -> None:
    report = build_report(RECORDS, start=START, end=END, by=["team"], top_by="user", top=1)
    assert [(group.key, group.totals.cost) for group in report.top_spenders] == [(("ann",), 5.0)]


def test_comparison_with_the_previous_period() -> None:
    previous = [record(15, 2.0, team="search", month=10), record(16, 8.0, team="gone", month=10)]
    report = build_report(RECORDS, start=START, end=END, by=["team"], previous=previous)
    assert report.previous_totals is not None and report.previous_totals.cost == 10.0
    changes = {group.key: group.change for group in report.groups}
    assert changes[("search",)] == pytest.approx(3.25 / 2.0 - 1)
    assert changes[("support",)] is None  # new this period


def test_records_outside_the_range_are_ignored() -> None:
    report = build_report([*RECORDS, record(1, 100.0, month=12)], start=START, end=END, by=["team"])
    assert report.totals.cost == pytest.approx(7.75)


def test_daily_timeline_has_every_day_and_sums_to_the_total() -> None:
    report = build_report(RECORDS, start=START, end=END, by=["team"])
    assert report.timeline_step == timedelta(days=1)
    assert len(report.timeline) == 30
    assert report.timeline[datetime(2026, 11, 2, tzinfo=UTC)] == {"search": 2.0, "support": 4.0}
    assert report.timeline[datetime(2026, 11, 3, tzinfo=UTC)] == {"(none)": 0.5}
    assert report.timeline[datetime(2026, 11, 4, tzinfo=UTC)] == {}
    assert sum(sum(points.values()) for points in report.timeline.values()) == pytest.approx(7.75)


def test_hourly_timeline_for_short_ranges() -> None:
    start = datetime(2026, 11, 2, tzinfo=UTC)
    report = build_report(RECORDS, start=start, end=start + timedelta(days=1), by=["model"])
    assert report.timeline_step == timedelta(hours=1)
    assert report.timeline[start + timedelta(hours=12)] == {"gpt-4o": 2.0, "gpt-4o-mini": 4.0}


def test_records_must_be_utc() -> None:
    with pytest.raises(ValueError, match="UTC-aware"):
        UsageRecord(
            start=datetime(2026, 11, 1),
            end=datetime(2026, 11, 1),
            service="",
            provider="",
            host="",
            model="",
            operation="",
            tags=(),
            requests=1,
            tokens={},
        )
