"""``otel-tokens report``: chargeback and showback from the telemetry the services already send.

Reads the calls of a range from Prometheus or the ledger, each priced as recorded, groups them
by any tag keys and dimensions, and writes a terminal table, CSV, JSON, FOCUS CSV or a
self-contained HTML page. The range is compared with the range of the same length before it.
Records a source could not read are counted and reported, never silently left out.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import TextIO

import click
from rich.console import Console

from otel_tokens_cli._aggregate import build_report
from otel_tokens_cli._price_book import open_price_book, overrides_option
from otel_tokens_cli._records import DIMENSIONS, UsageRecord
from otel_tokens_cli._report_outputs import print_table, report_json, write_csv
from otel_tokens_cli._reprice import reprice as reprice_records
from otel_tokens_cli._sources import (
    PERIODS,
    Source,
    TimeRange,
    load_with_previous,
    range_options,
    source_options,
)

FORMATS = ("table", "csv", "json", "focus", "html")


def _dimensions(text: str, option: str) -> tuple[str, ...]:
    names = tuple(name.strip() for name in text.split(",") if name.strip())
    if not names:
        raise click.BadParameter("name at least one dimension or tag key", param_hint=option)
    for name in names:
        if name not in DIMENSIONS and not name.replace("_", "").replace(".", "").replace("-", "").isalnum():
            raise click.BadParameter(
                f"{name!r} is neither a dimension ({', '.join(DIMENSIONS)}) nor a tag key", param_hint=option
            )
    return names


@click.command(
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    epilog="""\b
Examples:
  otel-tokens report --prometheus http://127.0.0.1:9090 --month 2026-11 --by team
  otel-tokens report --prometheus http://prometheus:9090 --last 7d --by team,model --format csv > spend.csv
  otel-tokens report --ledger /var/lib/otel-tokens/ledger --month 2026-11 --format focus -o focus.csv
  otel-tokens report --ledger ledger/ --last 30d --by feature --format html -o spend.html
  otel-tokens report --ledger spans.json --by provider,model --reprice --format json

\b
Dimensions for --by: service, provider, host, model, operation, or any tag key (team,
project, feature, user, cost_center...). Each call is priced as recorded when it was made
(FOCUS: x_PricingVersion); --reprice prices the usage with today's price data instead.""",
)
@source_options
@range_options
@click.option(
    "--by",
    "by_text",
    default="team",
    show_default=True,
    metavar="KEYS",
    help="Group by these, comma-separated.",
)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(FORMATS),
    default="table",
    show_default=True,
    help="Output format.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Write to FILE, not stdout.",
)
@click.option(
    "--owner-tag",
    default="team",
    show_default=True,
    metavar="KEY",
    help="Spend without this tag is unallocated.",
)
@click.option(
    "--top-by",
    default="user",
    show_default=True,
    metavar="KEY",
    help="The dimension of the top-spenders list.",
)
@click.option(
    "--top", default=10, show_default=True, type=click.IntRange(min=1), help="How many top spenders."
)
@click.option(
    "--period",
    type=click.Choice(sorted(PERIODS)),
    default="day",
    show_default=True,
    help="Charge period of FOCUS rows and of Prometheus records.",
)
@click.option(
    "--billing-day",
    default=1,
    show_default=True,
    type=click.IntRange(1, 28),
    help="FOCUS: first day of a billing period.",
)
@click.option(
    "--reprice",
    is_flag=True,
    help="Price the usage with today's price data and overrides instead of as recorded.",
)
@overrides_option
def command(
    source: Source,
    time_range: TimeRange,
    by_text: str,
    output_format: str,
    output: Path | None,
    owner_tag: str,
    top_by: str,
    top: int,
    period: str,
    billing_day: int,
    reprice: bool,
    overrides: str | None,
) -> None:
    """Spend by team, feature, model...: chargeback tables, CSV, JSON, FOCUS and an HTML page."""
    by = _dimensions(by_text, "--by")
    current, previous, skipped = load_with_previous(source, time_range, PERIODS[period])
    if reprice:
        book = open_price_book(overrides)
        current, previous = reprice_records(current, book), reprice_records(previous, book)
    report = build_report(
        current,
        start=time_range.start,
        end=time_range.end,
        by=by,
        owner_tag=owner_tag,
        top_by=top_by,
        top=top,
        # No record before the range: the source does not reach back (or nothing ran): no comparison.
        previous=previous or None,
        skipped=skipped,
    )
    out: TextIO = output.open("w", encoding="utf-8", newline="") if output is not None else sys.stdout
    try:
        if output_format == "table":
            console = Console(file=out, soft_wrap=False) if output is not None else Console(soft_wrap=False)
            print_table(report, source.describe(), console)
        elif output_format == "csv":
            write_csv(report, out)
        elif output_format == "json":
            json.dump(report_json(report, source.describe()), out, indent=2)
            out.write("\n")
        elif output_format == "focus":
            _write_focus(current, out, billing_day, PERIODS[period])
        else:
            from otel_tokens_cli._html import render_html

            out.write(render_html(report, title="LLM spend", source=source.describe()))
    finally:
        if output is not None:
            out.close()
    if output_format != "table":
        # Machine formats stay clean on stdout: what was skipped goes to stderr.
        for line in skipped.lines():
            click.echo(f"otel-tokens report: {line}", err=True)


def _write_focus(records: Sequence[UsageRecord], out: TextIO, billing_day: int, period: timedelta) -> None:
    from otel_tokens_cli._focus import write_focus

    # List prices are the public ones (genai-prices, no overrides): the recorded cost of a call
    # priced by an override is its contracted cost.
    result = write_focus(records, out, billing_period_start_day=billing_day, charge_period=period)
    for line in result.notes:
        click.echo(f"otel-tokens report: {line}", err=True)
