"""The runaway-spend circuit breaker: per rule and group, closed -> open -> half-open -> closed.

Pure logic in this process's memory; every method takes the time (``now``, epoch seconds), so
tests and callers control the clock. :meth:`RunawayBreakers.check` runs before a call and says
whether it may go; :meth:`RunawayBreakers.record` runs after it with its cost.

Trips (each is strictly *above* its ceiling: a value equal to the ceiling does not trip):

- ``usd_per_minute``: USD recorded in the sliding last 60 s > ``max_usd_per_minute``.
- ``calls_per_minute``: checked before a call; the call trips the breaker (and meets it open)
  when admitting it would make the calls started in the last 60 s exceed
  ``max_calls_per_minute``, so at most that many calls are admitted per sliding minute.
- ``anomaly``: per-minute spend (epoch-aligned minutes, ``floor(now / 60)``) above
  ``mean + k * std`` of the group's own baseline for ``consecutive_minutes`` completed minutes
  in a row, once ``baseline_minutes`` completed minutes have been observed. A normal minute
  resets the count. The baseline is an exponentially weighted mean and variance (West/Finch,
  ``alpha = smoothing``) started at the first minute's value. Anomalous minutes are *not* folded
  in: a sustained runaway would otherwise teach the baseline its own level and never trip. The
  price is that a legitimate, lasting rise in spend keeps tripping until ``deviations`` is
  raised. Zero-variance rule: ``std = max(sqrt(var), STD_FLOOR_FRACTION * mean, STD_FLOOR_USD)``,
  so a flat baseline still needs a 10 % step per deviation and a baseline of zero spend needs
  more than ``k * 0.01`` USD in a minute. Minutes without calls count as zeros (at most
  ``MAX_QUIET_MINUTES`` of them are folded after a gap). A group's first minute counts even if
  the group appeared halfway through it.

After ``cooldown_seconds`` the next check moves an open breaker to half-open, which admits
``probe_calls`` calls (at least one) and refuses the rest; when all of them are recorded and no
trip holds it closes, and any trip while half-open reopens it (reason ``probe``). The sliding
windows keep what tripped the breaker for 60 s, so a cooldown under a minute mostly reopens.

Sliding windows have one-second resolution: the current second and the 59 before. Time never
runs backwards for a group: a late timestamp counts in the group's latest second and minute.
Each rule keeps at most ``MAX_GROUPS_PER_RULE`` groups; later groups share ``OVERFLOW_GROUP``.
One lock makes every method atomic; a forked child keeps the state and renews the lock.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal, Protocol

from otel_tokens import semconv

State = Literal["closed", "open", "half_open"]
Reason = Literal["usd_per_minute", "calls_per_minute", "anomaly", "probe", "cooldown_over", "probes_passed"]

WINDOW_SECONDS: Final = 60
"""Length of the sliding velocity windows, in one-second buckets."""
STD_FLOOR_FRACTION: Final = 0.1
"""Zero-variance rule: the standard deviation is at least this fraction of the mean..."""
STD_FLOOR_USD: Final = 0.01
"""...and at least this many USD per minute."""
MAX_QUIET_MINUTES: Final = 24 * 60
"""At most this many zero minutes are folded in after a gap between calls."""
MAX_GROUPS_PER_RULE: Final = 10_000
"""Groups with their own state per rule; later ones share :data:`OVERFLOW_GROUP`."""
OVERFLOW_GROUP: Final = semconv.TAG_OVERFLOW_VALUE


class BreakerRule(Protocol):
    """What the breaker reads of a declared rule (``otel_tokens.Breaker`` satisfies it)."""

    @property
    def id(self) -> str: ...
    @property
    def max_usd_per_minute(self) -> float | None: ...
    @property
    def max_calls_per_minute(self) -> int | None: ...
    @property
    def deviations(self) -> float | None: ...
    @property
    def consecutive_minutes(self) -> int: ...
    @property
    def baseline_minutes(self) -> int: ...
    @property
    def smoothing(self) -> float: ...
    @property
    def cooldown_seconds(self) -> float: ...
    @property
    def probe_calls(self) -> int: ...


@dataclass(frozen=True, slots=True)
class Transition:
    """One change of state, with the numbers that justified it: for a trip the observed value
    and its ceiling, for ``cooldown_over`` the seconds open and the cooldown, for
    ``probes_passed`` the probes recorded and ``probe_calls``."""

    rule_id: str
    group: str
    from_state: State
    to_state: State
    reason: Reason
    at: float
    observed: float
    threshold: float


@dataclass(frozen=True, slots=True)
class Verdict:
    """What a call meets. ``admitted``: go ahead (closed, or a half-open probe); otherwise the
    caller applies the rule's action. Pass ``probe`` back to :meth:`RunawayBreakers.record`."""

    state: State
    admitted: bool
    probe: bool = False
    transitions: tuple[Transition, ...] = ()


@dataclass(frozen=True, slots=True)
class BreakerStatus:
    """One group's breaker, for reports and gauges; the totals cover the sliding last 60 s."""

    rule_id: str
    group: str
    state: State
    opened_at: float | None
    usd_last_minute: float
    calls_last_minute: int


class _Window:
    """Values summed over the sliding last 60 s, one bucket per second (at most 60 buckets)."""

    __slots__ = ("_buckets",)

    def __init__(self) -> None:
        self._buckets: deque[list[float]] = deque()  # [second, sum]

    def add(self, now: float, value: float) -> None:
        second = math.floor(now)
        if self._buckets and second <= self._buckets[-1][0]:
            self._buckets[-1][1] += value
        else:
            self._buckets.append([second, value])

    def total(self, now: float) -> float:
        oldest = math.floor(now) - WINDOW_SECONDS + 1
        while self._buckets and self._buckets[0][0] < oldest:
            self._buckets.popleft()
        return math.fsum(bucket[1] for bucket in self._buckets)  # no drift from running sums


class _Group:
    """One (rule, group) breaker: its state, velocity windows and per-minute baseline."""

    __slots__ = (
        "rule_id", "name", "state", "opened_at", "admitted", "recorded", "usd", "calls",
        "minute", "spend", "mean", "var", "folded", "observed", "streak", "anomaly",
    )  # fmt: skip

    def __init__(self, rule_id: str, name: str) -> None:
        self.rule_id, self.name = rule_id, name
        self.state: State = "closed"
        self.opened_at: float | None = None
        self.admitted = self.recorded = 0  # probes, while half-open
        self.usd, self.calls = _Window(), _Window()
        self.minute: int | None = None
        self.spend = self.mean = self.var = 0.0
        self.folded = self.observed = self.streak = 0
        self.anomaly = (0.0, 0.0)  # the last anomalous minute's spend and threshold

    def move(self, to: State, reason: Reason, now: float, observed: float, threshold: float) -> Transition:
        transition = Transition(self.rule_id, self.name, self.state, to, reason, now, observed, threshold)
        self.state = to
        self.opened_at = now if to == "open" else None
        self.admitted = self.recorded = 0
        return transition

    def status(self, now: float) -> BreakerStatus:
        calls = int(self.calls.total(now))
        return BreakerStatus(self.rule_id, self.name, self.state, self.opened_at, self.usd.total(now), calls)

    def advance(self, minute: int, rule: BreakerRule) -> None:
        """Close the minutes before ``minute``: the current one, then the quiet ones as zeros."""
        if self.minute is None:
            self.minute = minute
        if minute <= self.minute:
            return
        self._close(self.spend, rule)
        for _ in range(min(minute - self.minute - 1, MAX_QUIET_MINUTES)):
            self._close(0.0, rule)
        self.minute, self.spend = minute, 0.0

    def _close(self, spend: float, rule: BreakerRule) -> None:
        tested = rule.deviations is not None and self.folded and self.observed >= rule.baseline_minutes
        self.observed += 1
        if tested:
            assert rule.deviations is not None
            std = max(math.sqrt(self.var), STD_FLOOR_FRACTION * self.mean, STD_FLOOR_USD)
            threshold = self.mean + rule.deviations * std
            if spend > threshold:
                self.streak += 1
                self.anomaly = (spend, threshold)
                return  # not folded: the baseline must not learn the runaway
        self.streak = 0
        if self.folded:
            diff = spend - self.mean
            incr = rule.smoothing * diff
            self.mean += incr
            self.var = (1 - rule.smoothing) * (self.var + diff * incr)
        else:
            self.mean, self.var = spend, 0.0
        self.folded += 1

    def trip(self, rule: BreakerRule, now: float) -> tuple[Reason, float, float] | None:
        """The first trip condition that holds now, with its observed value and threshold."""
        usd = self.usd.total(now)
        if rule.max_usd_per_minute is not None and usd > rule.max_usd_per_minute:
            return "usd_per_minute", usd, rule.max_usd_per_minute
        if rule.deviations is not None and self.streak >= max(1, rule.consecutive_minutes):
            return "anomaly", *self.anomaly
        return None


class RunawayBreakers:
    """The breakers of the declared rules, per (rule id, group); thread-safe."""

    def __init__(self, rules: Sequence[BreakerRule], *, max_groups: int = MAX_GROUPS_PER_RULE) -> None:
        """``rules`` are the only ones :meth:`check` and :meth:`record` accept (KeyError else)."""
        self._lock = threading.Lock()
        self._max_groups = max_groups
        self._groups: dict[str, dict[str, _Group]] = {rule.id: {} for rule in rules}

    def after_fork_in_child(self) -> None:
        """A child's own lock (the parent's may have been held by another thread at the fork);
        the breakers' state is kept."""
        self._lock = threading.Lock()

    def check(self, rule: BreakerRule, group: str, now: float) -> Verdict:
        """Before a call: the state it meets and whether it is admitted. An admitted call counts
        as started at ``now``; a refused one counts nowhere."""
        with self._lock:
            data = self._group(rule, group)
            moved: list[Transition] = []
            if data.state == "open":
                assert data.opened_at is not None
                open_for = now - data.opened_at
                if open_for < rule.cooldown_seconds:
                    return Verdict("open", admitted=False)
                moved.append(data.move("half_open", "cooldown_over", now, open_for, rule.cooldown_seconds))
            probing = data.state == "half_open"
            if probing and data.admitted >= max(1, rule.probe_calls):
                return Verdict("half_open", admitted=False, transitions=tuple(moved))
            calls = data.calls.total(now) + 1
            if rule.max_calls_per_minute is not None and calls > rule.max_calls_per_minute:
                reason: Reason = "probe" if probing else "calls_per_minute"
                moved.append(data.move("open", reason, now, calls, rule.max_calls_per_minute))
                return Verdict("open", admitted=False, transitions=tuple(moved))
            data.calls.add(now, 1)
            if probing:
                data.admitted += 1
            return Verdict(data.state, admitted=True, probe=probing, transitions=tuple(moved))

    def record(self, rule: BreakerRule, group: str, usd: float, now: float, probe: bool) -> list[Transition]:
        """After a call, with its cost: updates the windows and the per-minute baseline, then
        evaluates the trips; returns the transitions this caused (none while open)."""
        with self._lock:
            data = self._group(rule, group)
            data.advance(math.floor(now / 60), rule)
            data.spend += usd
            data.usd.add(now, usd)
            if data.state == "open":
                return []
            tripped = data.trip(rule, now)
            if data.state == "half_open" and probe:
                data.recorded += 1
            if tripped is not None:
                reason, observed, threshold = tripped
                if data.state == "half_open":
                    reason = "probe"
                return [data.move("open", reason, now, observed, threshold)]
            if data.state == "closed":
                return []
            needed = max(1, rule.probe_calls)
            if data.recorded < needed:
                return []
            return [data.move("closed", "probes_passed", now, data.recorded, needed)]

    def states(self, now: float) -> list[BreakerStatus]:
        """Every group's breaker as it stands (an elapsed cooldown shows as open until a check)."""
        with self._lock:
            return [data.status(now) for groups in self._groups.values() for data in groups.values()]

    def _group(self, rule: BreakerRule, group: str) -> _Group:
        groups = self._groups[rule.id]
        if group not in groups and len(groups) >= self._max_groups:
            group = OVERFLOW_GROUP
        data = groups.get(group)
        if data is None:
            data = groups[group] = _Group(rule.id, group)
        return data
