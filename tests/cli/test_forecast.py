"""Spend forecasts over synthetic usage records with known answers: a constant burn, a week-day
pattern, month ends (December into January), budgets' resets in their own time zone."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from otel_tokens_cli._forecast import (
    budget_amount,
    budget_forecasts,
    budget_group,
    measure_burn,
    month_forecast,
)
from otel_tokens_cli._records import TokenClass, UsageRecord

from otel_tokens.budgets import Budget


def record(
    when: datetime,
    cost: float,
    *,
    feature: str = "search",
    team: str | None = "growth",
    model: str = "gpt-4o-mini",
    provider: str = "openai",
    unpriced: bool = False,
) -> UsageRecord:
    tags = tuple(sorted((k, v) for k, v in (("feature", feature), ("team", team)) if v is not None))
    return UsageRecord(
        start=when,
        end=when + timedelta(seconds=1),
        service="shop",
        provider=provider,
        host="api.openai.com",
        model=model,
        operation="chat",
        tags=tags,
        requests=1,
        tokens={TokenClass.INPUT: 1000, TokenClass.OUTPUT: 200},
        cost=0.0 if unpriced else cost,
        unpriced_requests=1 if unpriced else 0,
        input_sizes=((1000, 1),),
    )


def hourly(first: datetime, last: datetime, per_day: float | None = None, **tags: str) -> list[UsageRecord]:
    """One record an hour from ``first`` to before ``last``: ``per_day`` / 24 each, or by week day
    $10 (Monday to Friday) and $2 (Saturday, Sunday) when ``per_day`` is None."""
    found = []
    moment = first
    while moment < last:
        daily = per_day if per_day is not None else (10.0 if moment.weekday() < 5 else 2.0)
        found.append(record(moment, daily / 24, **tags))
        moment += timedelta(hours=1)
    return found


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


# -- the month ---------------------------------------------------------------------------------


def test_constant_burn_on_the_first_day_of_a_month_uses_the_trailing_days():
    records = hourly(utc(2026, 9, 1), utc(2026, 11, 1), 10.0)
    forecast = month_forecast(records, utc(2026, 11, 1), days=14)
    assert (forecast.start, forecast.end) == (utc(2026, 11, 1), utc(2026, 12, 1))
    assert forecast.spent == 0
    assert (forecast.low, forecast.expected, forecast.high) == pytest.approx((300.0, 300.0, 300.0))
    assert forecast.burn.pattern == "weekday" and len(forecast.burn.days) == 14
    assert forecast.burn.days[0][0] == date(2026, 10, 18) and forecast.burn.days[-1][0] == date(2026, 10, 31)
    assert forecast.burn.spread == pytest.approx(0.0, abs=1e-12)
    # Later on the first day: what was spent today is actual, the rest of today projected.
    later = month_forecast(
        records + hourly(utc(2026, 11, 1), utc(2026, 11, 1, 12), 10.0), utc(2026, 11, 1, 12)
    )
    assert later.spent == pytest.approx(5.0)
    assert later.expected == pytest.approx(300.0)


def test_constant_burn_mid_month():
    records = hourly(utc(2026, 10, 1), utc(2026, 11, 15, 12), 10.0)
    forecast = month_forecast(records, utc(2026, 11, 15, 12), days=14, pattern="flat")
    assert forecast.spent == pytest.approx(145.0)  # 14.5 days of November
    assert forecast.expected == pytest.approx(300.0)  # + 15.5 days at $10
    assert forecast.burn.pattern == "flat" and forecast.burn.mean == pytest.approx(10.0)


def test_constant_burn_on_31_december_runs_to_the_new_year():
    records = hourly(utc(2026, 11, 1), utc(2026, 12, 31), 10.0)
    forecast = month_forecast(records, utc(2026, 12, 31), days=14)
    assert (forecast.start, forecast.end) == (utc(2026, 12, 1), utc(2027, 1, 1))
    assert forecast.spent == pytest.approx(300.0)
    assert forecast.expected == pytest.approx(310.0)
    budget = Budget("monthly", limit=305.0, window="month")
    (to_reset,), notes = budget_forecasts([budget], records, utc(2026, 12, 31), days=14)
    assert notes == []
    assert to_reset.end == utc(2027, 1, 1)  # resets on 1 January of the next year
    assert to_reset.expected == pytest.approx(310.0)
    assert to_reset.reaches_limit == utc(2026, 12, 31, 12)  # $5 of the last day's $10 left
    assert not to_reset.exhausted


def test_weekday_pattern_forecasts_weekdays_and_weekends_apart():
    now = utc(2026, 11, 16)  # a Monday
    assert now.weekday() == 0
    records = hourly(utc(2026, 10, 1), now)
    forecast = month_forecast(records, now, days=28)
    assert forecast.burn.pattern == "weekday"
    assert forecast.burn.weekday_means == pytest.approx((10.0, 10.0, 10.0, 10.0, 10.0, 2.0, 2.0))
    assert forecast.burn.spread == pytest.approx(0.0, abs=1e-12)
    spent = sum(10.0 if date(2026, 11, d).weekday() < 5 else 2.0 for d in range(1, 16))
    rest = sum(10.0 if date(2026, 11, d).weekday() < 5 else 2.0 for d in range(16, 31))
    assert forecast.spent == pytest.approx(spent)
    assert (forecast.low, forecast.expected, forecast.high) == pytest.approx((spent + rest,) * 3)
    # With less than two weeks of history the flat mean is used, and the spread shows.
    flat = month_forecast(records, now, days=7)
    assert flat.burn.pattern == "flat"
    assert flat.burn.mean == pytest.approx((5 * 10 + 2 * 2) / 7)
    assert flat.low < flat.expected < flat.high


def test_no_complete_day_of_history_uses_today_so_far():
    records = hourly(utc(2026, 11, 20), utc(2026, 11, 20, 6), 24.0)  # $1 an hour since midnight
    forecast = month_forecast(records, utc(2026, 11, 20, 6), days=14)
    assert forecast.burn.pattern == "today" and forecast.burn.mean == pytest.approx(24.0)
    assert forecast.expected == pytest.approx(6.0 + 24.0 * 10.75)


def test_history_days_follow_the_time_zone():
    # $10 a day in UTC; seen from Paris (UTC+1) the days split differently, the sums do not.
    records = hourly(utc(2026, 11, 1), utc(2026, 11, 20), 10.0)
    burn = measure_burn([(r.start, r.cost) for r in records], utc(2026, 11, 20), "Europe/Paris", 7)
    assert [day for day, _ in burn.days][0] == date(2026, 11, 13)
    assert burn.mean == pytest.approx(10.0)


# -- budgets --------------------------------------------------------------------------------------


def test_a_monthly_budget_resets_in_its_time_zone():
    budget = Budget("paris", limit=1000.0, window="month", timezone="Europe/Paris")
    records = hourly(utc(2026, 10, 1), utc(2026, 11, 15, 12), 10.0)
    (forecast,), _ = budget_forecasts([budget], records, utc(2026, 11, 15, 12), days=14)
    # Paris is UTC+1 in November: its month runs from 31 October 23:00 to 30 November 23:00 UTC.
    assert (forecast.start, forecast.end) == (utc(2026, 10, 31, 23), utc(2026, 11, 30, 23))
    assert forecast.spent == pytest.approx(10.0 * (14 * 24 + 13) / 24)
    assert forecast.expected == pytest.approx(300.0)  # a 30-day month at $10
    assert forecast.reaches_limit is None and forecast.limit == 1000.0


def test_budgets_forecast_only_the_calls_they_match_per_group():
    budget = Budget("agents", limit=100.0, window="week", match={"feature": "agent*"}, group_by=["team"])
    now = utc(2026, 11, 18)  # a Wednesday
    records = (
        hourly(utc(2026, 11, 1), now, 10.0, feature="agent", team="a")
        + hourly(utc(2026, 11, 1), now, 4.0, feature="agent-v2", team="b")
        + hourly(utc(2026, 11, 1), now, 50.0, feature="search", team="a")
    )
    forecasts, _ = budget_forecasts([budget], records, now, days=14)
    assert [f.group for f in forecasts] == ["team=a", "team=b"]
    a, b = forecasts
    assert a.end == utc(2026, 11, 23)  # next Monday
    assert (a.spent, a.expected) == pytest.approx((20.0, 70.0))
    assert (b.spent, b.expected) == pytest.approx((8.0, 28.0))


def test_rolling_and_lifetime_budgets():
    budgets = [
        Budget("hourly", limit=1.0, window="rolling:1h"),
        Budget("ever", limit=None, window="lifetime"),
    ]
    now = utc(2026, 11, 18, 12)
    records = hourly(utc(2026, 11, 1), now, 24.0)
    (rolling,), notes = budget_forecasts(budgets, records, now, days=14)
    assert (rolling.start, rolling.end) == (now, now + timedelta(hours=1))
    assert rolling.expected == pytest.approx(1.0)  # an hour at $24 a day
    assert notes == ["budget ever: a lifetime budget never resets, so it has no forecast"]


def test_budget_amounts_tokens_and_unpriced_estimates():
    priced = record(utc(2026, 11, 1), 0.5)
    unpriced = record(utc(2026, 11, 1), 0.0, unpriced=True)
    assert budget_amount(Budget("t", limit=1, unit="token"), priced) == 1200
    assert budget_amount(Budget("u", limit=1), priced) == 0.5
    # The default unpriced rates: $15 and $75 per million input and output tokens.
    assert budget_amount(Budget("u", limit=1), unpriced) == pytest.approx((1000 * 15 + 200 * 75) / 1e6)
    assert budget_amount(Budget("u", limit=1, on_unpriced="allow"), unpriced) == 0.0


@pytest.mark.parametrize(
    ("match", "spent"),
    [
        ({}, 7.0),
        ({"feature": "search"}, 3.0),
        ({"feature": "sea*", "team": ["growth", "ops"]}, 3.0),
        ({"team": "ops"}, 2.0),
        ({"team": "*"}, 3.0),  # a call without the tag is not selected, even by "*"
        ({"model": "gpt-4o*", "provider": "openai"}, 3.0),
        ({"model": "gpt-4o"}, 2.0),
        ({"provider": "anthropic"}, 4.0),
        ({"feature": "Search"}, 0.0),  # case-sensitive
        ({"project": "x"}, 0.0),
    ],
)
def test_a_budget_forecasts_the_calls_its_match_selects(match, spent):
    records = [
        record(utc(2026, 11, 2), 1.0, feature="search", team="growth", model="gpt-4o-mini"),
        record(utc(2026, 11, 2), 2.0, feature="search", team="ops", model="gpt-4o"),
        record(
            utc(2026, 11, 2), 4.0, feature="chat", team=None, model="claude-sonnet-4-5", provider="anthropic"
        ),
    ]
    budget = Budget("b", limit=100.0, window="month", match=match)
    (forecast,), _ = budget_forecasts([budget], records, utc(2026, 11, 10), days=7)
    assert forecast.spent == pytest.approx(spent)


def test_budget_groups_are_written_as_the_guardrails_write_them():
    budget = Budget("b", limit=1, group_by=["team", "project"])
    assert budget_group(budget, record(utc(2026, 11, 1), 1.0)) == "team=growth,project=__untagged__"
    assert budget_group(Budget("c", limit=1), record(utc(2026, 11, 1), 1.0)) == ""
