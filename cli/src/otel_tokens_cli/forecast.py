"""``otel-tokens forecast``: spend to the end of the month and to each budget's next reset.

Reads the recent calls from Prometheus or the ledger and projects the recent burn (see
:mod:`otel_tokens_cli._forecast` for the method) as low, expected and high figures: for all
calls to the end of the calendar month, and for every budget of the policy (``--policy`` or
OTEL_TOKENS_BUDGETS, as the services read it) and each of its groups to the budget's next reset.
``--now`` forecasts as of another moment. Every problem is one line on stderr and a non-zero exit
status.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from otel_tokens._windows import WEEKDAYS
from otel_tokens.budgets import Budget
from otel_tokens_cli._failure import Failure, UsageFailure
from otel_tokens_cli._forecast import (
    WEEKDAY_MIN_DAYS,
    Forecast,
    Pattern,
    budget_forecasts,
    earliest_start,
    history_start,
    month_bounds,
    month_forecast,
)
from otel_tokens_cli._records import Skips
from otel_tokens_cli._sources import PERIODS, Source, TimeRange, load_calls, parse_moment, source_options

METHOD = (
    "Expected = spent so far + each remaining day (or part of today) at its rate: the mean daily spend of "
    f"the history's complete days (with {WEEKDAY_MIN_DAYS}+ days, the mean of the same week day). Low and "
    "high = every remaining day one standard deviation of the history's days (around their rates) below "
    "or above its rate. Spend is taken as even within a day."
)


def _now(text: str | None) -> datetime:
    if text is None:
        return datetime.now(UTC)
    try:
        return parse_moment(text, "--now")
    except click.BadParameter as error:
        raise UsageFailure(f"--now {error.message}") from None


def _zone(text: str) -> str:
    try:
        ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        raise UsageFailure(
            f"--timezone {text!r} is not an IANA time zone such as UTC or Europe/Paris"
        ) from None
    return text


@click.command(
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    epilog="""\b
Examples:
  otel-tokens forecast --ledger /var/lib/otel-tokens/ledger
  otel-tokens forecast --prometheus http://prometheus:9090 --policy budgets.toml
  otel-tokens forecast --ledger ledger/ --days 28 --timezone Europe/Paris
  otel-tokens forecast --ledger ledger/ --now 2026-12-31T00:00Z --pattern flat
  otel-tokens forecast --prometheus http://prometheus:9090 --json | jq '.forecasts[] | {name, expected}'

\b
Expected = spent so far + every remaining day at the recent daily spend (the mean of the same
week day once 14 days of history exist); low/high = one standard deviation of the daily spend
below/above, every remaining day. Budgets follow their own window, time zone and reset time.""",
)
@source_options
@click.option(
    "--policy",
    "policy_path",
    metavar="FILE",
    envvar="OTEL_TOKENS_BUDGETS",
    show_envvar=True,
    help="The budget policy (TOML): forecast each budget to its next reset.",
)
@click.option("--now", "now_text", metavar="TIME", help="Forecast as of this ISO time (UTC unless given).")
@click.option(
    "--days", default=14, show_default=True, type=click.IntRange(1, 366), help="Days of history for the burn."
)
@click.option(
    "--timezone",
    "zone_text",
    default="UTC",
    show_default=True,
    metavar="ZONE",
    help="Time zone of the month and of the history's days.",
)
@click.option(
    "--pattern",
    type=click.Choice(["auto", "flat", "weekday"]),
    default="auto",
    show_default=True,
    help=f"Rate of a day: weekday means (auto: with {WEEKDAY_MIN_DAYS}+ days of history) or the daily mean.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document instead of tables.")
def command(
    source: Source,
    policy_path: str | None,
    now_text: str | None,
    days: int,
    zone_text: str,
    pattern: str,
    as_json: bool,
) -> None:
    """Spend to the end of the month and to each budget's next reset, as a low/expected/high range."""
    now = _now(now_text)
    zone = _zone(zone_text)
    budgets: tuple[Budget, ...] = ()
    policy_source = None
    if policy_path:
        from otel_tokens._errors import ConfigurationError
        from otel_tokens._policy_file import load_policy

        try:
            policy = load_policy(policy_path)
        except ConfigurationError as error:
            raise Failure(str(error)) from None
        budgets, policy_source = tuple(policy.budgets), policy.source
    start = min(history_start(now, zone, days), month_bounds(now, zone)[0], earliest_start(budgets, now))
    time_range = TimeRange(start, now)
    if now <= start:  # cannot happen with days >= 1; kept for a clear message if it ever does
        raise Failure(f"nothing to read before {now:%Y-%m-%dT%H:%M:%SZ}")
    logging.getLogger("otel_tokens.pricing").setLevel(logging.ERROR)
    records, skipped = load_calls(source, time_range, PERIODS["hour"])
    chosen = cast(Pattern, pattern)
    month = month_forecast(records, now, zone, days, chosen)
    found, notes = budget_forecasts(budgets, records, now, zone, days, chosen)
    unpriced = sum(r.unpriced_requests for r in records if month.start <= r.start < now)
    if unpriced:
        notes.insert(
            0,
            f"{unpriced:,} calls this month had no price: they are not in the month's spend "
            "(budgets count them as their on_unpriced says; otel-tokens recommend lists the models)",
        )
    forecasts = [month, *found]
    document = report(forecasts, notes, source.describe(), policy_source, zone, days, skipped)
    if as_json:
        click.echo(json.dumps(document, indent=2))
    else:
        render(document, Console(soft_wrap=False))


# -- the JSON document, which the table renders -------------------------------------------------


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _forecast(forecast: Forecast) -> dict[str, Any]:
    burn = forecast.burn
    limit = forecast.limit
    return {
        "name": forecast.name,
        "budget": forecast.budget,
        "group": forecast.group,
        "window": forecast.window,
        "unit": forecast.unit,
        "period": {"start": _iso(forecast.start), "end": _iso(forecast.end)},
        "resets_at": _iso(forecast.end)
        if forecast.budget is not None and "rolling" not in forecast.window
        else None,
        "spent": forecast.spent,
        "low": forecast.low,
        "expected": forecast.expected,
        "high": forecast.high,
        "limit": limit,
        "expected_utilisation": None if not limit else forecast.expected / limit,
        "reaches_limit_at": _iso(forecast.reaches_limit),
        "exhausted": forecast.exhausted,
        "burn": {
            "pattern": burn.pattern,
            "history_days": len(burn.days),
            "history": [{"date": day.isoformat(), "amount": amount} for day, amount in burn.days],
            "daily_mean": burn.mean,
            "daily_spread": burn.spread,
            "weekday_means": None
            if burn.weekday_means is None
            else dict(zip(WEEKDAYS, burn.weekday_means, strict=True)),
        },
        "notes": list(forecast.notes),
    }


def report(
    forecasts: Sequence[Forecast],
    notes: Sequence[str],
    source: str,
    policy: str | None,
    zone: str,
    days: int,
    skipped: Skips,
) -> dict[str, Any]:
    """The whole answer as plain data."""
    now = forecasts[0].now
    first = history_start(now, zone, days)
    last = history_start(now, zone, 0) - timedelta(seconds=1)
    return {
        "now": _iso(now),
        "source": source,
        "policy": policy,
        "timezone": zone,
        "history": {
            "days": days,
            "from": first.astimezone(ZoneInfo(zone)).date().isoformat(),
            "to": last.astimezone(ZoneInfo(zone)).date().isoformat(),
        },
        "method": METHOD,
        "forecasts": [_forecast(forecast) for forecast in forecasts],
        "notes": list(notes),
        "skipped": dict(skipped.counts),
    }


# -- the table ----------------------------------------------------------------------------------


def _amount(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    return f"{value:,.0f} tok" if unit == "token" else f"${value:,.2f}"


def _short(iso: str) -> str:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).strftime("%Y-%m-%d %H:%M")


def _burn(item: Mapping[str, Any]) -> str:
    burn = item["burn"]
    unit = item["unit"]
    daily = _amount(burn["daily_mean"], unit)
    if burn["pattern"] == "weekday":
        means = burn["weekday_means"]
        return (
            f"{daily}/day, by week day ({', '.join(f'{d[:2]} {_amount(v, unit)}' for d, v in means.items())})"
        )
    if burn["pattern"] == "today":
        return f"{daily}/day (today so far)"
    if burn["pattern"] == "none":
        return "no spend"
    return f"{daily}/day over {burn['history_days']} days"


def render(document: Mapping[str, Any], console: Console) -> None:
    """Print ``document`` as one table and one-line notes."""
    history = document["history"]
    console.print(
        Text(
            f"Forecast from {document['source']} as of {_short(document['now'])} UTC; history: "
            f"{history['from']} to {history['to']} ({document['timezone']} days)"
        ),
        soft_wrap=True,
    )
    table = Table(title="Forecast", title_justify="left")
    for name in ("Target", "Group", "Period ends (UTC)", "Spent", "Low", "Expected", "High", "Limit",
                 "Expected use", "Limit reached", "Burn"):  # fmt: skip
        right = name in ("Spent", "Low", "Expected", "High", "Limit", "Expected use")
        table.add_column(name, justify="right" if right else "left")
    for item in document["forecasts"]:
        unit = item["unit"]
        use = item["expected_utilisation"]
        reached = "already" if item["exhausted"] else (
            _short(item["reaches_limit_at"]) if item["reaches_limit_at"] else "-")  # fmt: skip
        name = item["name"] if item["budget"] is None else f"{item['name']} ({item['window']})"
        amounts = [_amount(item[key], unit) for key in ("spent", "low", "expected", "high", "limit")]
        use_text = "-" if use is None else f"{use:.0%}"
        cells = [
            name,
            item["group"] or "-",
            _short(item["period"]["end"]),
            *amounts,
            use_text,
            reached,
            _burn(item),
        ]
        table.add_row(*map(Text, cells))
    console.print(table)
    lines = [f"Method: {document['method']}", *document["notes"]]
    lines += [note for item in document["forecasts"] for note in item["notes"]]
    lines += [f"{count} skipped: {reason}" for reason, count in document["skipped"].items()]
    for line in lines:
        console.print(Text(line), soft_wrap=True)  # one line each, however narrow the terminal
