"""The runaway-spend breaker: velocity and call-rate trips (strictly above), the statistical trip
after its baseline and m anomalous minutes, the zero-variance rule, the half-open probes, groups
and their overflow, threads and fork. Every clock is passed explicitly: nothing sleeps."""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace

import pytest

from otel_tokens._breaker import (
    OVERFLOW_GROUP,
    BreakerRule,
    BreakerStatus,
    Reason,
    RunawayBreakers,
    Transition,
    Verdict,
)

T0 = 1_700_000_040.0  # a minute boundary: 28_333_334 * 60
GROUP = "team=search"


@dataclass(frozen=True)
class Rule:
    id: str = "runaway"
    max_usd_per_minute: float | None = None
    max_calls_per_minute: int | None = None
    deviations: float | None = None
    consecutive_minutes: int = 1
    baseline_minutes: int = 3
    smoothing: float = 0.5
    cooldown_seconds: float = 60.0
    probe_calls: int = 1


VELOCITY: BreakerRule = Rule(max_usd_per_minute=1.0)
STATISTICAL: BreakerRule = Rule(deviations=2.0, consecutive_minutes=3, baseline_minutes=3)


def _call(breakers: RunawayBreakers, rule: BreakerRule, usd: float, at: float, group: str = GROUP):
    verdict = breakers.check(rule, group, at)
    assert verdict.admitted, verdict
    return breakers.record(rule, group, usd, at, verdict.probe)


def _minute(n: int) -> float:
    return T0 + 60 * n


def _per_minute(rule: BreakerRule, spends: list[float]) -> list[tuple[int, Transition]]:
    """One call per minute with the given spends; the transitions, by the minute they came in."""
    breakers = RunawayBreakers([rule])
    return [(n, t) for n, usd in enumerate(spends) for t in _call(breakers, rule, usd, _minute(n))]


def _trip(reason: Reason, at: float, observed: float, threshold: float, group: str = GROUP) -> Transition:
    return Transition("runaway", group, "closed", "open", reason, at, observed, threshold)


def test_usd_velocity_trips_strictly_above_the_ceiling():
    breakers = RunawayBreakers([VELOCITY])
    assert _call(breakers, VELOCITY, 0.5, T0) == []
    assert _call(breakers, VELOCITY, 0.5, T0 + 10) == []  # 1.0 is the ceiling, not above it
    assert _call(breakers, VELOCITY, 0.25, T0 + 20) == [_trip("usd_per_minute", T0 + 20, 1.25, 1.0)]
    assert breakers.check(VELOCITY, GROUP, T0 + 21) == Verdict("open", admitted=False)
    assert breakers.states(T0 + 21) == [BreakerStatus("runaway", GROUP, "open", T0 + 20, 1.25, 3)]


@pytest.mark.parametrize(("later", "transitions"), [(59.5, 1), (60.0, 0)], ids=["inside", "slid-out"])
def test_the_usd_window_is_the_current_second_and_the_59_before(later, transitions):
    breakers = RunawayBreakers([VELOCITY])
    _call(breakers, VELOCITY, 0.75, T0)
    assert len(_call(breakers, VELOCITY, 0.5, T0 + later)) == transitions
    assert breakers.states(T0 + later)[0].usd_last_minute == (1.25 if transitions else 0.5)


def test_a_call_that_would_exceed_the_call_rate_trips_and_is_refused():
    rule = Rule(max_calls_per_minute=3)
    breakers = RunawayBreakers([rule])
    assert [breakers.check(rule, GROUP, T0 + i) for i in range(3)] == [Verdict("closed", admitted=True)] * 3
    assert breakers.check(rule, GROUP, T0 + 3) == Verdict(
        "open", admitted=False, transitions=(_trip("calls_per_minute", T0 + 3, 4, 3),)
    )
    assert breakers.states(T0 + 3) == [BreakerStatus("runaway", GROUP, "open", T0 + 3, 0.0, 3)]


def test_the_full_cycle_admits_exactly_the_probe_calls_then_closes():
    rule = replace(VELOCITY, cooldown_seconds=60.0, probe_calls=2)
    breakers = RunawayBreakers([rule])
    assert _call(breakers, rule, 1.5, T0) == [_trip("usd_per_minute", T0, 1.5, 1.0)]
    assert breakers.check(rule, GROUP, T0 + 59.5) == Verdict("open", admitted=False)
    half_open = Transition("runaway", GROUP, "open", "half_open", "cooldown_over", T0 + 60, 60.0, 60.0)
    assert breakers.check(rule, GROUP, T0 + 60) == Verdict("half_open", True, True, (half_open,))
    assert breakers.check(rule, GROUP, T0 + 61) == Verdict("half_open", admitted=True, probe=True)
    assert breakers.check(rule, GROUP, T0 + 62) == Verdict("half_open", admitted=False)  # a third
    assert breakers.record(rule, GROUP, 0.25, T0 + 63, probe=True) == []
    assert breakers.check(rule, GROUP, T0 + 64) == Verdict("half_open", admitted=False)  # one out
    assert breakers.record(rule, GROUP, 0.25, T0 + 65, probe=True) == [
        Transition("runaway", GROUP, "half_open", "closed", "probes_passed", T0 + 65, 2, 2)
    ]
    assert breakers.check(rule, GROUP, T0 + 66) == Verdict("closed", admitted=True)
    # The 1.5 of T0 has left the window; the calls of T0 + 60, 61 and 66 have not.
    assert breakers.states(T0 + 66) == [BreakerStatus("runaway", GROUP, "closed", None, 0.5, 3)]


def test_a_probe_that_trips_reopens_with_a_new_cooldown():
    rule = replace(VELOCITY, cooldown_seconds=60.0, probe_calls=2)
    breakers = RunawayBreakers([rule])
    _call(breakers, rule, 1.5, T0)
    assert breakers.check(rule, GROUP, T0 + 60).probe
    assert breakers.record(rule, GROUP, 1.5, T0 + 61, probe=True) == [
        Transition("runaway", GROUP, "half_open", "open", "probe", T0 + 61, 1.5, 1.0)
    ]
    assert breakers.check(rule, GROUP, T0 + 120) == Verdict("open", admitted=False)
    assert breakers.check(rule, GROUP, T0 + 121).transitions == (
        Transition("runaway", GROUP, "open", "half_open", "cooldown_over", T0 + 121, 60.0, 60.0),
    )


def test_a_cooldown_shorter_than_the_window_meets_the_calls_that_tripped_it():
    rule = Rule(max_calls_per_minute=1, cooldown_seconds=30.0)
    breakers = RunawayBreakers([rule])
    assert breakers.check(rule, GROUP, T0).admitted
    assert not breakers.check(rule, GROUP, T0 + 1).admitted
    assert breakers.check(rule, GROUP, T0 + 31) == Verdict(
        "open",
        admitted=False,
        transitions=(
            Transition("runaway", GROUP, "open", "half_open", "cooldown_over", T0 + 31, 30.0, 30.0),
            Transition("runaway", GROUP, "half_open", "open", "probe", T0 + 31, 2, 1),
        ),
    )


@pytest.mark.parametrize(
    ("baseline_minutes", "expected"),
    [(5, []), (3, [(4, _trip("anomaly", _minute(4), 20.0, 12.0))])],
    ids=["before-baseline", "after-baseline"],
)
def test_no_statistical_trip_before_the_baseline_minutes(baseline_minutes, expected):
    rule = replace(STATISTICAL, consecutive_minutes=1, baseline_minutes=baseline_minutes)
    # Minutes 0-2 at 10: mean 10, var 0, std 0.1 * 10 = 1, threshold 10 + 2 * 1 = 12. Minute 3
    # closes when minute 4's call records; tested only if 3 minutes suffice for the baseline.
    assert _per_minute(rule, [10, 10, 10, 20, 0]) == expected


def test_the_statistical_trip_needs_m_consecutive_anomalous_minutes():
    # m = 3, threshold 12 (as above). A minute closes when the next minute's call records.
    assert _per_minute(STATISTICAL, [10, 10, 10, 20, 20, 10, 10]) == []  # m - 1, then normal
    # The threshold is still 12 at the trip: anomalous minutes did not teach the baseline.
    assert _per_minute(STATISTICAL, [10, 10, 10, 20, 20, 20, 10]) == [
        (6, _trip("anomaly", _minute(6), 20.0, 12.0))
    ]
    # A normal minute (5) resets the count: the trip waits for minutes 6, 7 and 8.
    assert _per_minute(STATISTICAL, [10, 10, 10, 20, 20, 10, 20, 20, 20, 10]) == [
        (9, _trip("anomaly", _minute(9), 20.0, 12.0))
    ]


@pytest.mark.parametrize(
    ("baseline", "spend", "deviations", "expected"),
    [
        # Flat 10/min: sqrt(var) = 0, so std = 0.1 * 10 = 1.0; threshold = 10 + 2 * 1.0 = 12.0.
        (10.0, 12.0, 2.0, None),
        (10.0, 12.5, 2.0, 12.0),
        # Zero spend: std = the 0.01 USD floor; threshold = 0 + 4 * 0.01 = 0.04.
        (0.0, 0.04, 4.0, None),
        (0.0, 0.05, 4.0, 0.04),
    ],
    ids=["flat-at-threshold", "flat-above", "zero-at-threshold", "zero-above"],
)
def test_the_zero_variance_rule(baseline, spend, deviations, expected):
    rule = replace(STATISTICAL, consecutive_minutes=1, deviations=deviations)
    found = _per_minute(rule, [baseline] * 3 + [spend, 0])
    assert found == ([] if expected is None else [(4, _trip("anomaly", _minute(4), spend, expected))])


@pytest.mark.parametrize(("spend", "tripped"), [(6.0, False), (7.0, True)])
def test_quiet_minutes_count_as_zeros(spend, tripped):
    rule = replace(STATISTICAL, consecutive_minutes=1, baseline_minutes=2)
    breakers = RunawayBreakers([rule])
    _call(breakers, rule, 4.0, _minute(0))
    # Minute 1 has no call. Closing minute 0 then minute 1 as a zero (alpha 0.5): mean 4 -> 2,
    # var = 0.5 * (0 + (-4) * (-2)) = 4, std 2, threshold 2 + 2 * 2 = 6. Minute 2 is the third
    # observed minute, so it is tested; without the zero it would still be in the baseline.
    assert _call(breakers, rule, spend, _minute(2)) == []
    found = _call(breakers, rule, 0.0, _minute(3))
    assert found == ([_trip("anomaly", _minute(3), spend, 6.0)] if tripped else [])


def test_a_long_quiet_period_leaves_a_zero_baseline():
    rule = replace(STATISTICAL, consecutive_minutes=1)
    breakers = RunawayBreakers([rule])
    _call(breakers, rule, 4.0, _minute(0))
    # Two days later: a day of zero minutes halves the mean and variance to exactly 0.0, so
    # the threshold is the floor, 2 * 0.01.
    assert _call(breakers, rule, 0.03, _minute(2880)) == []
    assert _call(breakers, rule, 0.0, _minute(2881)) == [_trip("anomaly", _minute(2881), 0.03, 0.02)]


def test_groups_are_independent():
    breakers = RunawayBreakers([VELOCITY])
    assert _call(breakers, VELOCITY, 1.5, T0, "team=a") == [_trip("usd_per_minute", T0, 1.5, 1.0, "team=a")]
    assert _call(breakers, VELOCITY, 0.5, T0, "team=b") == []
    assert breakers.states(T0) == [
        BreakerStatus("runaway", "team=a", "open", T0, 1.5, 1),
        BreakerStatus("runaway", "team=b", "closed", None, 0.5, 1),
    ]


def test_groups_beyond_the_limit_share_the_overflow_group():
    breakers = RunawayBreakers([VELOCITY], max_groups=2)
    for group in ("a", "b"):
        _call(breakers, VELOCITY, 0.5, T0, group)
    assert _call(breakers, VELOCITY, 0.75, T0, "c") == []
    assert _call(breakers, VELOCITY, 0.5, T0, "d") == [_trip("usd_per_minute", T0, 1.25, 1.0, OVERFLOW_GROUP)]
    assert _call(breakers, VELOCITY, 0.25, T0, "a") == []  # known groups keep their own
    assert [(s.group, s.state, s.usd_last_minute) for s in breakers.states(T0)] == [
        ("a", "closed", 0.75),
        ("b", "closed", 0.5),
        ("__overflow__", "open", 1.25),
    ]


def test_only_declared_rules_are_accepted():
    with pytest.raises(KeyError):
        RunawayBreakers([VELOCITY]).check(Rule(id="other"), GROUP, T0)


def _in_threads(count: int, work) -> None:
    start = threading.Barrier(count)

    def run(index: int) -> None:
        start.wait()
        work(index)

    threads = [threading.Thread(target=run, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def test_many_threads_recording_keep_exact_totals():
    rule = Rule()
    breakers = RunawayBreakers([rule])

    def work(index: int) -> None:
        for i in range(500):
            _call(breakers, rule, 0.125, T0 + (index + i) % 60)

    _in_threads(8, work)
    assert breakers.states(T0 + 59) == [BreakerStatus("runaway", GROUP, "closed", None, 500.0, 4000)]


def test_many_threads_checking_admit_exactly_the_call_rate():
    rule = Rule(max_calls_per_minute=1000)
    breakers = RunawayBreakers([rule])
    verdicts: list[Verdict] = []

    def work(index: int) -> None:
        mine = [breakers.check(rule, GROUP, T0) for _ in range(200)]
        verdicts.extend(mine)  # list.extend is atomic

    _in_threads(8, work)
    assert sum(v.admitted for v in verdicts) == 1000
    assert [t for v in verdicts for t in v.transitions] == [_trip("calls_per_minute", T0, 1001, 1000)]


def test_a_forked_child_renews_the_lock_and_keeps_the_state():
    breakers = RunawayBreakers([VELOCITY])
    _call(breakers, VELOCITY, 1.5, T0)
    # As if another thread of the parent held the lock at the fork, then disappeared.
    holder = threading.Thread(target=breakers._lock.acquire)
    holder.start()
    holder.join()
    breakers.after_fork_in_child()
    seen: list[Verdict] = []
    checker = threading.Thread(
        target=lambda: seen.append(breakers.check(VELOCITY, GROUP, T0 + 1)), daemon=True
    )
    checker.start()
    checker.join(timeout=10)  # only so that a regression fails instead of hanging
    assert seen == [Verdict("open", admitted=False)]
