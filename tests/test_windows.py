"""Budget windows: calendar periods in a time zone (daylight saving, year ends, 29 February),
epoch-aligned and rolling durations, lifetime, and every invalid value named."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from otel_tokens._errors import ConfigurationError
from otel_tokens._windows import Window, parse_duration

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")


def _at(zone: ZoneInfo, *parts: int) -> datetime:
    return datetime(*parts, tzinfo=zone).astimezone(UTC)


def test_a_day_in_a_zone_runs_from_its_midnight_to_the_next():
    window = Window.parse("window", "day", zone="Europe/Berlin")
    start, end = window.bounds(_at(BERLIN, 2026, 7, 1, 23, 59))
    assert (start, end) == (_at(BERLIN, 2026, 7, 1), _at(BERLIN, 2026, 7, 2))


@pytest.mark.parametrize(
    ("day", "hours"),
    [((2026, 3, 29), 23), ((2026, 10, 25), 25), ((2026, 7, 1), 24)],
    ids=["spring-forward", "fall-back", "ordinary"],
)
def test_a_day_with_a_daylight_saving_change_is_23_or_25_hours(day, hours):
    start, end = Window.parse("window", "day", zone="Europe/Berlin").bounds(_at(BERLIN, *day, 12))
    assert end - start == timedelta(hours=hours)


def test_a_reset_time_inside_the_spring_forward_gap_moves_to_the_end_of_the_gap():
    # 02:30 does not exist in Berlin on 29 March 2026 (02:00 -> 03:00).
    window = Window.parse("window", "day", zone="Europe/Berlin", reset="02:30")
    start, end = window.bounds(_at(BERLIN, 2026, 3, 29, 12))
    assert start == datetime(2026, 3, 29, 1, 0, tzinfo=UTC)  # 03:00 CEST
    assert end == _at(BERLIN, 2026, 3, 30, 2, 30)


def test_an_ambiguous_reset_time_takes_its_first_occurrence():
    # 01:30 happens twice in New York on 1 November 2026; the window starts at the first.
    window = Window.parse("window", "day", zone="America/New_York", reset="01:30")
    start, _ = window.bounds(datetime(2026, 11, 1, 12, tzinfo=UTC))
    assert start == datetime(2026, 11, 1, 5, 30, tzinfo=UTC)  # 01:30 EDT (-04:00)


def test_a_moment_before_the_reset_time_belongs_to_the_previous_window():
    window = Window.parse("window", "day", zone="UTC", reset="06:00")
    start, end = window.bounds(datetime(2026, 5, 10, 5, 59, tzinfo=UTC))
    assert (start, end) == (datetime(2026, 5, 9, 6, tzinfo=UTC), datetime(2026, 5, 10, 6, tzinfo=UTC))
    # At the reset instant exactly, the new window has begun.
    assert window.bounds(datetime(2026, 5, 10, 6, tzinfo=UTC))[0] == datetime(2026, 5, 10, 6, tzinfo=UTC)


@pytest.mark.parametrize(("week_start", "first"), [("monday", 7), ("sunday", 13)])
def test_a_week_starts_on_the_configured_day(week_start, first):
    window = Window.parse("window", "week", week_start=week_start)
    start, end = window.bounds(datetime(2026, 12, 13, 12, tzinfo=UTC))  # a Sunday
    assert start == datetime(2026, 12, first, tzinfo=UTC)
    assert end - start == timedelta(days=7)


def test_a_month_crosses_the_year_end():
    start, end = Window.parse("window", "month").bounds(datetime(2026, 12, 31, 23, 59, tzinfo=UTC))
    assert (start, end) == (datetime(2026, 12, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC))


def test_february_of_a_leap_year_has_29_days():
    start, end = Window.parse("window", "month").bounds(datetime(2028, 2, 29, 12, tzinfo=UTC))
    assert end - start == timedelta(days=29)


@pytest.mark.parametrize(
    ("month", "first", "following"),
    [(1, (2026, 1, 1), (2026, 4, 1)), (6, (2026, 4, 1), (2026, 7, 1)), (11, (2026, 10, 1), (2027, 1, 1))],
)
def test_quarters(month, first, following):
    start, end = Window.parse("window", "quarter").bounds(datetime(2026, month, 15, tzinfo=UTC))
    assert (start, end) == (datetime(*first, tzinfo=UTC), datetime(*following, tzinfo=UTC))


def test_a_month_in_a_zone_starts_at_local_midnight():
    start, _ = Window.parse("window", "month", zone="America/New_York").bounds(
        datetime(2026, 12, 1, 3, tzinfo=UTC)  # still 30 November in New York
    )
    assert start == _at(NEW_YORK, 2026, 11, 1)


def test_fixed_windows_are_epoch_aligned_and_keyed_by_their_start():
    window = Window.parse("window", "fixed:15m")
    now = datetime(2026, 12, 7, 10, 44, 59, tzinfo=UTC)
    assert window.bounds(now) == (
        datetime(2026, 12, 7, 10, 30, tzinfo=UTC),
        datetime(2026, 12, 7, 10, 45, tzinfo=UTC),
    )
    assert window.key(now) == str(int(datetime(2026, 12, 7, 10, 30, tzinfo=UTC).timestamp()))
    assert window.key(now + timedelta(seconds=1)) != window.key(now)  # a new window: a new counter


def test_rolling_and_lifetime_windows():
    now = datetime(2026, 12, 7, 10, tzinfo=UTC)
    assert Window.parse("window", "rolling:24h").bounds(now) == (now - timedelta(hours=24), now)
    assert Window.parse("window", "lifetime").bounds(now)[1] is None
    assert Window.parse("window", "lifetime").key(now) == "lifetime"


def test_a_naive_moment_is_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        Window.parse("window", "day").bounds(datetime(2026, 1, 1))


@pytest.mark.parametrize(
    ("text", "options", "message"),
    [
        (
            "fortnight",
            {},
            "lifetime, fixed:<duration> or rolling:<duration>, got 'fortnight'",
        ),
        ("rolling:0h", {}, "must be a positive duration"),
        ("fixed:5y", {}, "must be a positive duration"),
        ("day", {"zone": "Mars/Olympus"}, "unknown IANA time zone 'Mars/Olympus'"),
        ("week", {"week_start": "funday"}, "week_start must be one of monday"),
        ("day", {"reset": "25:00"}, "reset must be a time of day HH:MM, got '25:00'"),
        ("day", {"reset": "06:00+02:00"}, "without an offset"),
    ],
)
def test_invalid_windows_name_the_setting_and_the_value(text, options, message):
    with pytest.raises(ConfigurationError, match="^budget\\[0\\].window") as raised:
        Window.parse("budget[0].window", text, **options)
    assert message in str(raised.value)


def test_durations():
    assert parse_duration("x", "90s") == timedelta(seconds=90)
    assert parse_duration("x", "2w") == timedelta(days=14)
