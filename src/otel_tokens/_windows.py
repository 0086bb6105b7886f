"""Budget windows: which period a moment belongs to, so a counter can be keyed by its start.

A budget counts spend per window. Calendar windows (``day``, ``week``, ``month``, ``quarter``)
follow the wall clock of an IANA time zone, starting at a reset time of day (and, for weeks,
on a week day); ``fixed`` windows are epoch-aligned durations (``15m``, ``1h``...); ``rolling``
windows are the last duration up to now (a sliding window: no start to key by); ``lifetime``
never resets. Keying a counter by its window's start means a reset needs no job and cannot be
missed: the next call simply lands in a new key.

Calendar arithmetic is done on wall-clock dates and converted to UTC last, so a day with a
daylight-saving change is 23 or 25 hours long, a reset time that does not exist that day (a
spring-forward gap) moves to the first instant after the gap, and an ambiguous one (fall-back)
takes its first occurrence. 29 February and December -> January need nothing special.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from datetime import date as date_type
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from otel_tokens._errors import ConfigurationError

CALENDAR = ("day", "week", "month", "quarter")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_DURATION = re.compile(r"^(\d+)(s|m|h|d|w)$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(setting: str, text: str) -> timedelta:
    """``"90s"``, ``"15m"``, ``"1h"``, ``"7d"``, ``"2w"`` as a timedelta; else ConfigurationError."""
    found = _DURATION.match(text.strip()) if isinstance(text, str) else None
    if found is None or int(found.group(1)) == 0:
        raise ConfigurationError(
            f"{setting} must be a positive duration such as 90s, 15m, 1h, 7d or 2w, got {text!r}"
        )
    return timedelta(seconds=int(found.group(1)) * _UNIT_SECONDS[found.group(2)])


@dataclass(frozen=True, slots=True)
class Window:
    """One window kind: ``calendar`` (with ``unit``), ``fixed`` or ``rolling`` (with ``length``),
    or ``lifetime``. Build one with :meth:`parse`."""

    kind: str
    unit: str | None = None
    length: timedelta | None = None
    zone: str = "UTC"
    week_start: int = 0
    """0 = Monday ... 6 = Sunday."""
    reset: time = time(0, 0)

    @classmethod
    def parse(
        cls,
        setting: str,
        text: str,
        *,
        zone: str = "UTC",
        week_start: str = "monday",
        reset: str = "00:00",
    ) -> Window:
        """A window from its text form: ``day``, ``week``, ``month``, ``quarter``, ``lifetime``,
        ``fixed:<duration>`` or ``rolling:<duration>``. Every problem raises ConfigurationError
        naming ``setting`` and the value."""
        if not isinstance(text, str):
            raise ConfigurationError(f"{setting} must be a string, got {text!r}")
        value = text.strip().lower()
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError, TypeError) as error:
            raise ConfigurationError(f"{setting}: unknown IANA time zone {zone!r}") from error
        if week_start not in WEEKDAYS:
            raise ConfigurationError(
                f"{setting}: week_start must be one of {', '.join(WEEKDAYS)}, got {week_start!r}"
            )
        try:
            reset_time = time.fromisoformat(reset)
        except (ValueError, TypeError) as error:
            raise ConfigurationError(
                f"{setting}: reset must be a time of day HH:MM, got {reset!r}"
            ) from error
        if reset_time.tzinfo is not None:
            raise ConfigurationError(f"{setting}: reset is a wall-clock time in the zone, without an offset")
        if value in CALENDAR:
            return cls(
                "calendar", unit=value, zone=zone, week_start=WEEKDAYS.index(week_start), reset=reset_time
            )
        if value == "lifetime":
            return cls("lifetime")
        kind, _, duration = value.partition(":")
        if kind in ("fixed", "rolling") and duration:
            return cls(kind, length=parse_duration(setting, duration))
        raise ConfigurationError(
            f"{setting} must be day, week, month, quarter, lifetime, fixed:<duration> or "
            f"rolling:<duration>, got {text!r}"
        )

    def bounds(self, now: datetime) -> tuple[datetime, datetime | None]:
        """``(start, end)`` in UTC of the window holding ``now`` (aware); ``end`` is None for
        ``lifetime``. For ``rolling``, the last ``length`` up to ``now``."""
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        now = now.astimezone(UTC)
        if self.kind == "lifetime":
            return datetime(1970, 1, 1, tzinfo=UTC), None
        if self.kind == "rolling":
            assert self.length is not None
            return now - self.length, now
        if self.kind == "fixed":
            assert self.length is not None
            step = int(self.length.total_seconds())
            seconds = int(now.timestamp())
            start = datetime.fromtimestamp(seconds - seconds % step, UTC)
            return start, start + self.length
        return self._calendar_bounds(now)

    def key(self, now: datetime) -> str:
        """The counter key of the window holding ``now``: its start, in UTC seconds (``lifetime``
        for lifetime, ``rolling`` for rolling windows, whose counters are not keyed by start)."""
        if self.kind in ("lifetime", "rolling"):
            return self.kind
        start, _ = self.bounds(now)
        return str(int(start.timestamp()))

    def _calendar_bounds(self, now: datetime) -> tuple[datetime, datetime]:
        zone = ZoneInfo(self.zone)
        local = now.astimezone(zone)
        day = local.date()
        # The window's first day, on the wall clock; a moment before today's reset time still
        # belongs to the window that started with the previous reset.
        if _instant(day, self.reset, zone) > now:
            day -= timedelta(days=1)
        first = self._first_day(day)
        start = _instant(first, self.reset, zone)
        end = _instant(self._next_first_day(first), self.reset, zone)
        return start, end

    def _first_day(self, day: date_type) -> date_type:
        if self.unit == "day":
            return day
        if self.unit == "week":
            return day - timedelta(days=(day.weekday() - self.week_start) % 7)
        if self.unit == "month":
            return day.replace(day=1)
        return day.replace(month=(day.month - 1) // 3 * 3 + 1, day=1)  # quarter

    def _next_first_day(self, first: date_type) -> date_type:
        if self.unit == "day":
            return first + timedelta(days=1)
        if self.unit == "week":
            return first + timedelta(days=7)
        months = 1 if self.unit == "month" else 3
        month = first.month - 1 + months
        return first.replace(year=first.year + month // 12, month=month % 12 + 1, day=1)


def _instant(day: date_type, at: time, zone: ZoneInfo) -> datetime:
    """The UTC instant of wall-clock ``day`` ``at`` in ``zone``: a time in a spring-forward gap
    becomes the first instant after the gap, an ambiguous one its first occurrence."""
    wall = datetime.combine(day, at)
    first = wall.replace(tzinfo=zone, fold=0)
    if first.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != wall:
        # In a gap: the wall time does not exist. Move to the end of the gap, the first instant
        # whose wall time is later than the one asked for.
        after = wall.replace(tzinfo=zone, fold=1).astimezone(UTC)
        before = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
        gap_end = max(after, before)
        return _first_instant_at_or_after(wall, zone, min(after, before), gap_end)
    return first.astimezone(UTC)


def _first_instant_at_or_after(wall: datetime, zone: ZoneInfo, low: datetime, high: datetime) -> datetime:
    """The first UTC instant in [low, high] whose wall time in ``zone`` is at or after ``wall``."""
    while high - low > timedelta(seconds=1):
        middle = low + (high - low) / 2
        if middle.astimezone(zone).replace(tzinfo=None) >= wall:
            high = middle
        else:
            low = middle
    return high.replace(microsecond=0)
