"""Spend forecasts: to the end of the month and to each budget's next reset, from the recent burn.

Pure: it reads :class:`UsageRecord` values, a moment "now" and a time zone only.

The method, kept simple so that a reader can check it by hand:

* **History.** The spend of each complete calendar day (in the forecast's time zone) of the last
  ``days`` days before today, starting at the first day that has any call (days before it are
  taken as "not recorded yet", not as zero spend). With no complete day, today's spend so far
  divided by the share of today that has passed is the daily rate.
* **Rate of a day.** With at least 14 days of history (two full weeks: every week day twice) the
  mean spend of that week day (``weekday`` pattern), else the mean daily spend (``flat``).
* **Expected** spend to an end = what was spent since the period's start up to now (actual), plus
  for every remaining day, or part of a day, its rate times the share of the day left (spend is
  taken as even over a day).
* **Low and high** = the same with every remaining day one standard deviation below (not under 0)
  or above its rate, the deviation being that of the history's days around their rates. A
  constant burn has low = expected = high; the range is a spread a day at a time, not a
  statistical confidence interval.

Calendar periods come from :class:`otel_tokens._windows.Window`, the budgets' own windows, so a
month ends where the budgets' month ends: daylight-saving days have 23 or 25 hours, December runs
into January of the next year, and a budget's reset follows its own time zone and reset time.
Budgets select calls with the guardrails' own rule (:func:`otel_tokens._guardrails.call_matches`;
their model is the requested one, a record's is the answering model, else the requested one); a
budget with ``group_by`` has one forecast per group, as it has one counter per group.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Literal
from urllib.parse import quote
from zoneinfo import ZoneInfo

from otel_tokens._guardrails import call_matches
from otel_tokens._windows import WEEKDAYS, Window
from otel_tokens.budgets import Budget
from otel_tokens_cli._records import UsageRecord

__all__ = [
    "WEEKDAY_MIN_DAYS",
    "Burn",
    "Forecast",
    "Pattern",
    "budget_amount",
    "budget_forecasts",
    "budget_group",
    "earliest_start",
    "history_start",
    "measure_burn",
    "month_bounds",
    "month_forecast",
    "project",
]

Pattern = Literal["auto", "flat", "weekday"]
WEEKDAY_MIN_DAYS = 14
"""History days needed for the week-day pattern: two full weeks, so every week day twice."""
UNTAGGED = "__untagged__"
"""A call without a group_by tag counts under this value, as in the guardrails' counters."""

Amounts = Sequence[tuple[datetime, float]]
"""(moment, amount) pairs: what each record adds to a series."""


@dataclass(frozen=True, slots=True)
class Burn:
    """The recent burn of one series: its history and what a day is expected to spend.

    ``days`` are the complete history days used (date, spend); ``pattern`` is ``weekday``,
    ``flat``, ``today`` (no complete day: today's spend so far, scaled to a day) or ``none`` (no
    spend at all). ``weekday_means`` (Monday first) only with the ``weekday`` pattern.
    ``spread`` is the standard deviation of the history's days around their expected spend.
    """

    days: tuple[tuple[date, float], ...]
    pattern: str
    mean: float
    spread: float
    weekday_means: tuple[float, ...] | None = None

    def rate(self, day: date) -> float:
        """The expected spend of ``day``."""
        if self.weekday_means is not None:
            return self.weekday_means[day.weekday()]
        return self.mean


@dataclass(frozen=True, slots=True)
class Projection:
    """Spend from now to an end: the low, expected and high totals of the remaining time, and
    when the expected cumulative spend reaches ``limit`` (``None``: not before the end)."""

    low: float
    expected: float
    high: float
    remaining_days: float
    reaches_limit: datetime | None = None


@dataclass(frozen=True, slots=True)
class Forecast:
    """The forecast of one target: the month (``budget`` None) or one budget's group.

    ``start``/``end`` bound the period (UTC); ``end`` is the next reset. ``spent`` is the actual
    amount from ``start`` to now, ``low``/``expected``/``high`` the totals at ``end``.
    ``reaches_limit`` is when the expected spend reaches ``limit``; ``exhausted`` says ``spent``
    already has. ``unit`` is ``USD`` or ``token``.
    """

    name: str
    budget: str | None
    group: str
    window: str
    unit: str
    start: datetime
    end: datetime
    now: datetime
    spent: float
    low: float
    expected: float
    high: float
    limit: float | None
    burn: Burn
    reaches_limit: datetime | None = None
    exhausted: bool = False
    notes: tuple[str, ...] = field(default=())


@functools.lru_cache(maxsize=16)
def _day_window(zone: str) -> Window:
    return Window.parse("--timezone", "day", zone=zone)


def _day_bounds(zone: str, moment: datetime) -> tuple[datetime, datetime]:
    """The calendar day of ``zone`` holding ``moment``: its start and end in UTC."""
    start, end = _day_window(zone).bounds(moment)
    assert end is not None  # a calendar window always ends
    return start, end


def history_start(now: datetime, zone: str, days: int) -> datetime:
    """The start (UTC) of the first history day: ``days`` calendar days before today in ``zone``."""
    start, _ = _day_bounds(zone, now)
    for _ in range(days):
        start, _ = _day_bounds(zone, start - timedelta(seconds=1))
    return start


def measure_burn(amounts: Amounts, now: datetime, zone: str, days: int, pattern: Pattern = "auto") -> Burn:
    """The burn of ``amounts`` over the ``days`` complete days before ``now``'s day in ``zone``
    (see the module doc). ``pattern`` ``flat`` or ``weekday`` forces one; ``weekday`` with fewer
    than 7 history days falls back to ``flat``."""
    tz = ZoneInfo(zone)
    today_start, today_end = _day_bounds(zone, now)
    first = history_start(now, zone, days)
    daily: dict[date, float] = {}
    today = 0.0
    for moment, amount in amounts:
        if first <= moment < today_start:
            day = moment.astimezone(tz).date()
            daily[day] = daily.get(day, 0.0) + amount
        elif today_start <= moment < now:
            today += amount
    if not daily:
        elapsed = (now - today_start) / (today_end - today_start)
        if today > 0 and elapsed > 0:
            return Burn((), "today", today / elapsed, 0.0)
        return Burn((), "none", 0.0, 0.0)
    history: list[tuple[date, float]] = []
    day = min(daily)
    last = today_start.astimezone(tz).date()
    while day < last:
        history.append((day, daily.get(day, 0.0)))
        day += timedelta(days=1)
    values = [spend for _, spend in history]
    mean = sum(values) / len(values)
    weekly = (pattern == "weekday" and len(history) >= 7) or (
        pattern == "auto" and len(history) >= WEEKDAY_MIN_DAYS
    )
    means: tuple[float, ...] | None = None
    if weekly:
        by_weekday: list[list[float]] = [[] for _ in WEEKDAYS]
        for day, spend in history:
            by_weekday[day.weekday()].append(spend)
        means = tuple(sum(spends) / len(spends) for spends in by_weekday)
    burn = Burn(tuple(history), "weekday" if weekly else "flat", mean, 0.0, means)
    spread = math.sqrt(sum((spend - burn.rate(day)) ** 2 for day, spend in history) / len(history))
    return Burn(burn.days, burn.pattern, mean, spread, means)


def project(burn: Burn, now: datetime, end: datetime, zone: str, headroom: float | None = None) -> Projection:
    """The spend from ``now`` to ``end`` at ``burn``'s rates, day by day in ``zone`` (the part of
    today left counts as that share of today's rate). ``headroom`` is what is left under a limit:
    the projection then also says when the expected spend uses it up."""
    tz = ZoneInfo(zone)
    low = expected = high = remaining = 0.0
    reaches: datetime | None = None
    moment = now
    while moment < end:
        day_start, day_end = _day_bounds(zone, moment)
        stop = min(day_end, end)
        share = (stop - moment) / (day_end - day_start)
        rate = burn.rate(day_start.astimezone(tz).date())
        if headroom is not None and reaches is None and rate > 0 and expected + rate * share >= headroom:
            reaches = moment + (day_end - day_start) * ((headroom - expected) / rate)
        expected += rate * share
        low += max(0.0, rate - burn.spread) * share
        high += (rate + burn.spread) * share
        remaining += share
        moment = stop
    return Projection(low, expected, high, remaining, reaches)


def _forecast(
    name: str,
    amounts: Amounts,
    *,
    start: datetime,
    end: datetime,
    now: datetime,
    zone: str,
    days: int,
    pattern: Pattern,
    window: str,
    unit: str = "USD",
    budget: str | None = None,
    group: str = "",
    limit: float | None = None,
    notes: tuple[str, ...] = (),
) -> Forecast:
    spent = sum(amount for moment, amount in amounts if start <= moment < now)
    burn = measure_burn(amounts, now, zone, days, pattern)
    headroom = None if limit is None or spent >= limit else limit - spent
    projection = project(burn, now, end, zone, headroom)
    return Forecast(
        name=name,
        budget=budget,
        group=group,
        window=window,
        unit=unit,
        start=start,
        end=end,
        now=now,
        spent=spent,
        low=spent + projection.low,
        expected=spent + projection.expected,
        high=spent + projection.high,
        limit=limit,
        burn=burn,
        reaches_limit=projection.reaches_limit,
        exhausted=limit is not None and spent >= limit,
        notes=notes,
    )


def month_bounds(now: datetime, zone: str = "UTC") -> tuple[datetime, datetime]:
    """The calendar month of ``zone`` holding ``now``: its start and end in UTC."""
    start, end = Window.parse("--timezone", "month", zone=zone).bounds(now)
    assert end is not None  # a calendar window always ends
    return start, end


def month_forecast(
    records: Iterable[UsageRecord],
    now: datetime,
    zone: str = "UTC",
    days: int = 14,
    pattern: Pattern = "auto",
) -> Forecast:
    """All recorded spend (USD, priced calls) of the calendar month holding ``now`` in ``zone``,
    to the month's end."""
    start, end = month_bounds(now, zone)
    amounts = [(record.start, record.cost) for record in records]
    return _forecast(
        "this month", amounts, start=start, end=end, now=now, zone=zone, days=days, pattern=pattern,
        window="month",
    )  # fmt: skip


# -- budgets --------------------------------------------------------------------------------------


def budget_group(budget: Budget, record: UsageRecord) -> str:
    """The budget's counter group of the record (``team=search,feature=chat``, values quoted),
    written as the guardrails write it; ``""`` without ``group_by``."""
    tags = record.tag_map
    return ",".join(f"{key}={quote(tags.get(key, UNTAGGED), safe='')}" for key in budget.group_by)


def budget_amount(budget: Budget, record: UsageRecord) -> float:
    """What the record adds to the budget's counter: tokens (input and output) for a token
    budget; else its recorded USD, plus its unpriced calls at ``unpriced_rates`` when the budget
    estimates them (their tokens taken as the record's tokens times the unpriced share of calls)."""
    if budget.unit == "token":
        return float(record.input_tokens + record.output_tokens)
    amount = record.cost
    if record.unpriced_requests and budget.on_unpriced == "estimate" and record.requests:
        share = record.unpriced_requests / record.requests
        rate_in, rate_out = budget.unpriced_rates
        amount += share * (record.input_tokens * rate_in + record.output_tokens * rate_out) / 1_000_000
    return amount


def budget_forecasts(
    budgets: Iterable[Budget],
    records: Sequence[UsageRecord],
    now: datetime,
    zone: str = "UTC",
    days: int = 14,
    pattern: Pattern = "auto",
) -> tuple[list[Forecast], list[str]]:
    """One forecast per budget and group to the budget's next reset, and a note per budget that
    cannot have one (a lifetime budget never resets; a rolling one is forecast as its window's
    spend at the current burn). History days are counted in ``zone``; each budget's period
    follows its own window and time zone."""
    forecasts: list[Forecast] = []
    notes: list[str] = []
    for budget in budgets:
        window = budget.parsed_window()
        if window.kind == "lifetime":
            notes.append(f"budget {budget.id}: a lifetime budget never resets, so it has no forecast")
            continue
        series: dict[str, list[tuple[datetime, float]]] = {}
        for record in records:
            if call_matches(budget.match, record.provider, record.model, record.tag_map):
                series.setdefault(budget_group(budget, record), []).append(
                    (record.start, budget_amount(budget, record))
                )
        if not series:
            series[""] = []
        start, end = window.bounds(now)
        assert end is not None
        notes_of: tuple[str, ...] = ()
        if window.kind == "rolling":
            # A rolling window never resets: what it will hold one length from now is the spend
            # of [now, now + length), all of it still to come.
            assert window.length is not None
            start, end = now, now + window.length
            notes_of = (f"{budget.window} never resets: the forecast is what the window holds at its end",)
        for group in sorted(series):
            forecasts.append(
                _forecast(
                    budget.id,
                    series[group],
                    start=start,
                    end=end,
                    now=now,
                    zone=zone,
                    days=days,
                    pattern=pattern,
                    window=budget.window,
                    unit=budget.unit,
                    budget=budget.id,
                    group=group,
                    limit=budget.limit,
                    notes=notes_of,
                )
            )
    return forecasts, notes


def earliest_start(budgets: Iterable[Budget], now: datetime) -> datetime:
    """The earliest period start any budget needs records from (``now`` without budgets)."""
    starts = [now]
    for budget in budgets:
        window = budget.parsed_window()
        if window.kind in ("calendar", "fixed"):
            starts.append(window.bounds(now)[0])
    return min(starts)
