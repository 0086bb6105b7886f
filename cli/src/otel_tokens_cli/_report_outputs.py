"""A :class:`Report` as a terminal table, CSV or JSON (FOCUS and HTML have modules of their own).

CSV and JSON carry full-precision numbers (``repr`` of the float) so a spreadsheet or script
sums to exactly what the report shows; the terminal table rounds for reading.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from typing import Any, TextIO

from rich.console import Console
from rich.table import Table

from otel_tokens_cli._aggregate import Group, Report, Totals
from otel_tokens_cli._records import TokenClass
from otel_tokens_cli._sources import format_moment

__all__ = ["CSV_COLUMNS", "print_table", "report_json", "write_csv"]

_TOKEN_COLUMNS = tuple(
    f"{kind.value}_tokens" if kind != TokenClass.SEARCH_UNITS else kind.value for kind in TokenClass
)
CSV_COLUMNS = (
    "requests",
    "cost_usd",
    "cost_per_call_usd",
    *_TOKEN_COLUMNS,
    "reasoning_tokens",
    "unpriced_requests",
    "estimated_requests",
    "error_requests",
    "previous_cost_usd",
    "change",
)
"""The columns after the grouping dimensions, in order."""


def _usd(value: float | None, places: int = 4) -> str:
    return "" if value is None else f"${value:,.{places}f}"


def _share(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def _totals_dict(totals: Totals) -> dict[str, Any]:
    return {
        "requests": totals.requests,
        "cost_usd": totals.cost,
        "cost_per_call_usd": totals.cost_per_call,
        "tokens": {kind.value: totals.tokens[kind] for kind in TokenClass},
        "reasoning_tokens": totals.reasoning_tokens,
        "unpriced_requests": totals.unpriced_requests,
        "estimated_requests": totals.estimated_requests,
        "error_requests": totals.error_requests,
    }


def _group_dict(report: Report, group: Group) -> dict[str, Any]:
    return {
        "key": dict(zip(report.by, group.key, strict=True)),
        **_totals_dict(group.totals),
        "previous_cost_usd": None if group.previous is None else group.previous.cost,
        "change": group.change,
    }


def report_json(report: Report, source: str) -> dict[str, Any]:
    """The whole report as JSON-ready data."""
    previous = report.previous_totals
    return {
        "source": source,
        "start": format_moment(report.start),
        "end": format_moment(report.end),
        "group_by": list(report.by),
        "totals": _totals_dict(report.totals),
        "previous": None if previous is None else _totals_dict(previous),
        "allocation": {
            "owner_tag": report.owner_tag,
            "unallocated_cost_usd": report.unallocated_cost,
            "accuracy": report.allocation_accuracy,
        },
        "estimated_share": report.estimated_share,
        "unpriced_models": [
            {"provider": provider, "model": model, "requests": calls}
            for provider, model, calls in report.unpriced_models
        ],
        "groups": [_group_dict(report, group) for group in report.groups],
        "top_spenders": {
            "by": report.top_by,
            "groups": [
                {"value": group.key[0], **_totals_dict(group.totals)} for group in report.top_spenders
            ],
        },
        "timeline": {
            "step_seconds": int(report.timeline_step.total_seconds()),
            "points": [
                {"start": format_moment(moment), "cost_usd": series}
                for moment, series in report.timeline.items()
            ],
        },
        "skipped": dict(report.skipped.counts),
    }


def _csv_row(totals: Totals, previous: Totals | None, change: float | None) -> list[Any]:
    cost_per_call = totals.cost_per_call
    return [
        totals.requests,
        repr(totals.cost),
        "" if cost_per_call is None else repr(cost_per_call),
        *(totals.tokens[kind] for kind in TokenClass),
        totals.reasoning_tokens,
        totals.unpriced_requests,
        totals.estimated_requests,
        totals.error_requests,
        "" if previous is None else repr(previous.cost),
        "" if change is None else repr(change),
    ]


def write_csv(report: Report, out: TextIO) -> None:
    """One row per group, then a ``TOTAL`` row (its dimension cells read ``TOTAL``)."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*report.by, *CSV_COLUMNS])
    for group in report.groups:
        writer.writerow([*group.key, *_csv_row(group.totals, group.previous, group.change)])
    previous = report.previous_totals
    change = None if previous is None or previous.cost <= 0 else report.totals.cost / previous.cost - 1
    writer.writerow([*(["TOTAL"] * len(report.by)), *_csv_row(report.totals, previous, change)])


def _tokens(totals: Totals, kinds: Iterable[TokenClass]) -> int:
    return sum(totals.tokens[kind] for kind in kinds)


def print_table(report: Report, source: str, console: Console) -> None:
    """The report for a terminal: headline, groups, unpriced models, top spenders, skips."""
    totals = report.totals
    previous = report.previous_totals
    headline = Table(title="LLM spend", show_header=False, title_justify="left")
    headline.add_column("what")
    headline.add_column("value", justify="right")
    headline.add_row("source", source)
    headline.add_row("range", f"{format_moment(report.start)} to {format_moment(report.end)}")
    headline.add_row("cost", _usd(totals.cost))
    headline.add_row("calls", f"{totals.requests:,}")
    headline.add_row("cost per priced call", _usd(totals.cost_per_call, 6))
    headline.add_row("input tokens (uncached)", f"{totals.tokens[TokenClass.INPUT]:,}")
    headline.add_row("cache reads", f"{totals.tokens[TokenClass.CACHE_READ]:,}")
    writes = (TokenClass.CACHE_WRITE_5M, TokenClass.CACHE_WRITE_1H)
    headline.add_row("cache writes", f"{_tokens(totals, writes):,}")
    headline.add_row(
        "output tokens (reasoning incl.)", f"{totals.output_tokens:,} ({totals.reasoning_tokens:,})"
    )
    if totals.tokens[TokenClass.SEARCH_UNITS]:
        headline.add_row("search units", f"{totals.tokens[TokenClass.SEARCH_UNITS]:,}")
    if previous is not None:
        change = "" if previous.cost <= 0 else f" ({totals.cost / previous.cost - 1:+.1%})"
        headline.add_row("previous period", _usd(previous.cost) + change)
    else:
        headline.add_row("previous period", "no data")
    headline.add_row(f"allocated (with a {report.owner_tag} tag)", _share(report.allocation_accuracy))
    headline.add_row("estimated usage (calls)", _share(report.estimated_share))
    headline.add_row("unpriced calls", f"{totals.unpriced_requests:,}")
    console.print(headline)

    groups = Table(title=f"By {', '.join(report.by)}", title_justify="left")
    for dimension in report.by:
        groups.add_column(dimension)
    for name in ("calls", "cost", "per call", "input", "output", "vs previous"):
        groups.add_column(name, justify="right")
    for group in report.groups:
        change = "new" if group.previous is None and previous is not None else _share(group.change)
        groups.add_row(
            *(value or "(none)" for value in group.key),
            f"{group.totals.requests:,}",
            _usd(group.totals.cost),
            _usd(group.totals.cost_per_call, 6),
            f"{group.totals.input_tokens:,}",
            f"{group.totals.output_tokens:,}",
            change if previous is not None else "",
        )
    console.print(groups)

    if report.unpriced_models:
        unpriced = Table(title="Unpriced models (price them with an override)", title_justify="left")
        unpriced.add_column("provider")
        unpriced.add_column("model")
        unpriced.add_column("calls", justify="right")
        for provider, model, calls in report.unpriced_models:
            unpriced.add_row(provider, model, f"{calls:,}")
        console.print(unpriced)

    if report.top_spenders:
        top = Table(title=f"Top spenders by {report.top_by}", title_justify="left")
        top.add_column(report.top_by)
        for name in ("calls", "cost"):
            top.add_column(name, justify="right")
        for group in report.top_spenders:
            top.add_row(group.key[0], f"{group.totals.requests:,}", _usd(group.totals.cost))
        console.print(top)

    for line in report.skipped.lines():
        console.print(f"[yellow]{line}[/yellow]", highlight=False)
