"""Cumulative counter samples -> exact increases by charge period: pure functions, no I/O.

A sample's increase is its difference from its series' previous value; a decrease is a counter
reset, so the new value is the increase since the reset, and a series without a previous value
was born at 0, so its whole value is an increase. An increase belongs to the charge period holding
the later sample (start inclusive, end exclusive), periods aligned to the epoch. Times are
milliseconds since the epoch, as Prometheus keeps them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from otel_tokens_cli._records import Skips

__all__ = [
    "EPOCH",
    "MS",
    "counter_increase",
    "increases_by_period",
    "iso_ms",
    "period_index",
    "to_ms",
    "unusable",
]

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MS = timedelta(milliseconds=1)


def counter_increase(previous: float | None, value: float) -> float:
    """The increase a counter sample shows over its series' previous value: the difference, or
    the whole value after a reset (a decrease) or when the series has no previous value."""
    if previous is None or value < previous:
        return value
    return value - previous


def period_index(at_ms: int, period_ms: int) -> int:
    """Which epoch-aligned period of ``period_ms`` holds the millisecond ``at_ms``."""
    return at_ms // period_ms


def to_ms(moment: datetime) -> int:
    """``moment`` in milliseconds since the epoch, rounded up: a sample's millisecond time is at
    or after ``moment`` exactly when it is at or after this."""
    micros = (moment - EPOCH) // timedelta(microseconds=1)
    return -(-micros // 1000)


def iso_ms(at_ms: int) -> str:
    """The millisecond ``at_ms`` as an ISO 8601 UTC time with two decimals of a second."""
    return (EPOCH + at_ms * MS).strftime("%Y-%m-%dT%H:%M:%S.%fZ")[:-4] + "Z"


def unusable(value: float) -> str | None:
    """Why a counter value cannot be used, or ``None``."""
    if not math.isfinite(value):
        return "NaN or infinite sample value"
    if value < 0:
        return "negative counter value"
    return None


def increases_by_period(
    samples: Iterable[tuple[int, float]],
    *,
    baseline: float | None,
    start: datetime,
    end: datetime,
    period: timedelta,
    skips: Skips | None = None,
) -> dict[datetime, float]:
    """One counter series' increases by charge period (keyed by the period's epoch-aligned start).

    ``samples`` are (milliseconds since the epoch, value) in time order; ``baseline`` is the
    series' last value before ``start`` (``None``: born in the range). Samples outside
    ``[start, end)`` are ignored; unusable values are skipped and counted in ``skips``. This is
    the rule :func:`otel_tokens_cli._prometheus_source.read_prometheus` applies to every series.
    """
    start_ms, end_ms, period_ms = to_ms(start), to_ms(end), period // MS
    found: dict[datetime, float] = {}
    previous = baseline
    for at_ms, value in samples:
        if not start_ms <= at_ms < end_ms:
            continue
        reason = unusable(value)
        if reason is not None:
            if skips is not None:
                skips.add(reason, iso_ms(at_ms))
            continue
        moment = EPOCH + period_index(at_ms, period_ms) * period
        found[moment] = found.get(moment, 0.0) + counter_increase(previous, value)
        previous = value
    return found
