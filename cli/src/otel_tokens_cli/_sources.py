"""Where the reporting subcommands read usage from, and over which time range: shared options.

Two sources, one per run: ``--prometheus URL`` (the stack's series, from any Prometheus-compatible
API) or ``--ledger PATH...`` (span files written by the collector's ledger overlay, or plain OTLP
JSON files). Both give :class:`UsageRecord` values and a :class:`Skips` count of what could not
be read. The range is UTC, start inclusive and end exclusive, from ``--month``, ``--last`` or
``--from``/``--to``; by default the current calendar month up to now.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import click

from otel_tokens_cli._records import Skips, SourceError, UsageRecord

__all__ = [
    "PERIODS",
    "Source",
    "TimeRange",
    "format_moment",
    "load_calls",
    "load_with_previous",
    "load_records",
    "parse_moment",
    "range_options",
    "source_options",
]

F = TypeVar("F", bound=Callable[..., Any])

PERIODS = {"hour": timedelta(hours=1), "day": timedelta(days=1)}
"""Charge period lengths: the granularity of Prometheus records and FOCUS rows."""

_DURATION = re.compile(r"^(\d+)([hdw])$")
_UNITS = {"h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1)}


@dataclass(frozen=True, slots=True)
class Source:
    """One source of usage: a Prometheus API or ledger paths (exactly one is set)."""

    prometheus: str | None = None
    ledger: tuple[str, ...] = ()
    headers: tuple[tuple[str, str], ...] = ()
    timeout: float = 30.0

    def describe(self) -> str:
        """A human name for the source, with credentials masked."""
        if self.prometheus is not None:
            from otel_tokens._redaction import redact_url

            return f"Prometheus {redact_url(self.prometheus)}"
        return "ledger " + ", ".join(self.ledger)


@dataclass(frozen=True, slots=True)
class TimeRange:
    """``[start, end)`` in UTC."""

    start: datetime
    end: datetime

    @property
    def length(self) -> timedelta:
        return self.end - self.start

    def previous(self) -> TimeRange:
        """The range of the same length just before this one."""
        return TimeRange(self.start - self.length, self.start)

    def describe(self) -> str:
        return f"{format_moment(self.start)} to {format_moment(self.end)}"


def format_moment(moment: datetime) -> str:
    """A UTC moment as the commands print it: ``2026-11-01T00:00:00Z``."""
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_moment(text: str, option: str) -> datetime:
    """An ISO date or date-time as UTC (a date is its midnight; no offset means UTC)."""
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(
            f"{text!r} is not an ISO date or time (2026-11-01, 2026-11-01T09:00Z)", param_hint=option
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _month(text: str) -> TimeRange:
    match = re.fullmatch(r"(\d{4})-(\d{2})", text.strip())
    if match is None or not 1 <= int(match[2]) <= 12:
        raise click.BadParameter(f"{text!r} is not a month like 2026-11", param_hint="--month")
    year, month = int(match[1]), int(match[2])
    start = datetime(year, month, 1, tzinfo=UTC)
    end = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)
    return TimeRange(start, end)


def resolve_range(
    month: str | None, last: str | None, start: str | None, end: str | None, now: datetime | None = None
) -> TimeRange:
    """The range the options name; one clear error for a contradictory or empty one."""
    now = now or datetime.now(UTC)
    if sum(option is not None for option in (month, last, start)) > 1:
        raise click.UsageError("give one of --month, --last or --from")
    if month is not None:
        if end is not None:
            raise click.UsageError("--to goes with --from, not --month")
        chosen = _month(month)
    elif last is not None:
        match = _DURATION.fullmatch(last.strip())
        if match is None or int(match[1]) == 0:
            raise click.BadParameter(f"{last!r} is not a duration like 24h, 7d or 4w", param_hint="--last")
        stop = parse_moment(end, "--to") if end is not None else now
        chosen = TimeRange(stop - int(match[1]) * _UNITS[match[2]], stop)
    else:
        first = (
            parse_moment(start, "--from")
            if start is not None
            else now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        )
        chosen = TimeRange(first, parse_moment(end, "--to") if end is not None else now)
    if chosen.end <= chosen.start:
        raise click.UsageError(f"the range {chosen.describe()} is empty: its end is not after its start")
    return chosen


def range_options(function: F) -> F:
    """Adds ``--month``, ``--last``, ``--from`` and ``--to``; the command receives ``time_range``."""

    @click.option("--month", metavar="YYYY-MM", help="A calendar month (UTC).")
    @click.option("--last", metavar="DURATION", help="The last 24h, 7d, 4w... up to --to or now.")
    @click.option(
        "--from", "start", metavar="TIME", help="Start (inclusive), ISO date or time, UTC unless given."
    )
    @click.option("--to", "end", metavar="TIME", help="End (exclusive); default now.")
    @functools.wraps(function)
    def wrapper(
        month: str | None, last: str | None, start: str | None, end: str | None, **kwargs: Any
    ) -> Any:
        return function(time_range=resolve_range(month, last, start, end), **kwargs)

    return wrapper  # type: ignore[return-value]


def _header(text: str) -> tuple[str, str]:
    name, sep, value = text.partition(":")
    if not sep or not name.strip():
        raise click.BadParameter(
            f"a header is 'Name: value', not {text.split(':')[0]!r}...", param_hint="--header"
        )
    return name.strip(), value.strip()


def source_options(function: F) -> F:
    """Adds ``--prometheus``, ``--ledger``, ``--header`` and ``--timeout``; the command receives
    ``source``."""

    @click.option(
        "--prometheus",
        metavar="URL",
        envvar="OTEL_TOKENS_PROMETHEUS_URL",
        help="A Prometheus-compatible API (Prometheus, Mimir, Thanos) [env: OTEL_TOKENS_PROMETHEUS_URL].",
    )
    @click.option(
        "--ledger",
        metavar="PATH",
        multiple=True,
        help="Ledger files or folders (the collector's ledger overlay) or OTLP JSON files; repeatable.",
    )
    @click.option(
        "--header",
        "headers",
        metavar="'NAME: VALUE'",
        multiple=True,
        help="HTTP header for --prometheus (auth, tenant).",
    )
    @click.option(
        "--timeout",
        type=click.FloatRange(min=0.1),
        default=30.0,
        show_default=True,
        help="Seconds per HTTP request.",
    )
    @functools.wraps(function)
    def wrapper(
        prometheus: str | None, ledger: Sequence[str], headers: Sequence[str], timeout: float, **kwargs: Any
    ) -> Any:
        if prometheus and ledger:
            raise click.UsageError("give one source: --prometheus URL or --ledger PATH, not both")
        if not prometheus and not ledger:
            raise click.UsageError(
                "give a source: --prometheus URL (or OTEL_TOKENS_PROMETHEUS_URL) or --ledger PATH"
            )
        source = Source(prometheus or None, tuple(ledger), tuple(_header(h) for h in headers), timeout)
        return function(source=source, **kwargs)

    return wrapper  # type: ignore[return-value]


def load_records(
    source: Source, time_range: TimeRange, period: timedelta = PERIODS["day"]
) -> tuple[list[UsageRecord], Skips]:
    """Every record of ``source`` that starts in ``time_range``, and what could not be read.

    Raises :class:`SourceError` when the source cannot be read at all.
    """
    if source.prometheus is not None:
        from otel_tokens_cli._prometheus_source import read_prometheus

        return read_prometheus(
            source.prometheus,
            time_range.start,
            time_range.end,
            period=period,
            headers=dict(source.headers),
            timeout=source.timeout,
        )
    return _read_ledger(source.ledger, time_range)


def _read_ledger(paths: Sequence[str], time_range: TimeRange) -> tuple[list[UsageRecord], Skips]:
    from otel_tokens_cli._ledger_files import Document, LedgerError, iter_documents
    from otel_tokens_cli._otlp_spans import SpanReader

    reader = SpanReader()
    try:
        for item in iter_documents(paths):
            where = (
                f"{item.source}:{item.number}"
                if item.unit == "line"
                else f"{item.source} record {item.number}"
            )
            if isinstance(item, Document):
                reader.add(item.body, where)
            else:
                # Counted by kind ("not JSON"); the first one's details go with its position.
                kind, _, detail = item.reason.partition(": ")
                reader.skips.add(kind, f"{where}: {detail}" if detail else where)
    except LedgerError as error:
        raise SourceError(str(error)) from None
    records = [record for record in reader.records if time_range.start <= record.start < time_range.end]
    return records, reader.skips


def _read(source: Source, time_range: TimeRange, period: timedelta) -> tuple[list[UsageRecord], Skips]:
    from otel_tokens_cli._failure import Failure

    try:
        return load_records(source, time_range, period)
    except SourceError as error:
        raise Failure(str(error)) from None


def _no_calls(source: Source, time_range: TimeRange, skipped: Skips) -> Exception:
    from otel_tokens_cli._failure import Failure

    first = next(iter(skipped.lines()), "")
    return Failure(
        f"no LLM calls in {source.describe()} from {time_range.describe()}"
        + (f" ({skipped.total} records skipped: {first})" if skipped.total else "")
    )


def load_calls(
    source: Source, time_range: TimeRange, period: timedelta = PERIODS["day"]
) -> tuple[list[UsageRecord], Skips]:
    """:func:`load_records`, failing as a command does: one line for a source that cannot be read,
    and one when no call starts in the range, with what was skipped."""
    records, skipped = _read(source, time_range, period)
    if not records:
        raise _no_calls(source, time_range, skipped)
    return records, skipped


def load_with_previous(
    source: Source, time_range: TimeRange, period: timedelta = PERIODS["day"]
) -> tuple[list[UsageRecord], list[UsageRecord], Skips]:
    """The records of ``time_range`` (as :func:`load_calls`) and of the range of the same length
    before it, for comparisons. Metric records are per charge period, clipped to the range read,
    so each range is read on its own; ledger files are read once."""
    previous_range = time_range.previous()
    if source.prometheus is None:
        records, skipped = _read(source, TimeRange(previous_range.start, time_range.end), period)
        current = [record for record in records if record.start >= time_range.start]
        previous = [record for record in records if record.start < time_range.start]
    else:
        current, skipped = _read(source, time_range, period)
        previous, previous_skipped = _read(source, previous_range, period) if current else ([], Skips())
        skipped.merge(previous_skipped)
    if not current:
        raise _no_calls(source, time_range, skipped)
    return current, previous, skipped
