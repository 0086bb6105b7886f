"""Where budget counters live: the store contract and the in-process store.

A *counter* is one budget's spend for one group (say ``team=search``) in one window. A call is
admitted by :meth:`Store.reserve`, which checks and places a *hold* on every counter the call
matches, all or nothing, in one atomic step; :meth:`Store.settle` later replaces the call's holds
by what it really cost. Every hold is keyed by the call's id and expires by itself, so a process
that dies mid-call frees its holds when they expire, and a settle is done once per call id
however often it is asked for. The Redis store (``otel_tokens._redis_store``) keeps the same
contract for every process and host sharing one Redis; a conformance test runs both.

Admission rule, the same everywhere: a hold on a counter with a limit is granted when
``used < limit`` and ``used + amount <= limit``, where ``used`` is the settled spend plus the
unexpired holds of other calls. So a limit of 0 admits nothing, and with headroom ``H`` and
equal holds ``r`` exactly ``floor(H / r)`` concurrent calls get in. A hold with
``enforce=False`` (a ``warn`` or ``downgrade`` budget, or an unlimited one) is always granted
and still counted.

Rolling windows count settled spend in 60 slices of the window (a one-hour window in one-minute
slices): a slice leaves the sum when its end is more than the window ago.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

ROLLING_SLICES = 60
"""Slices per rolling window."""


@dataclass(frozen=True, slots=True)
class Counter:
    """One budget's counter for one group in one window."""

    budget_id: str
    group: str
    """The group's tag values, canonical: ``"team=search,feature=chat"``; ``""`` when not grouped."""
    window: str
    """The window's key: its start in epoch seconds, ``"rolling"`` or ``"lifetime"``."""
    limit: float | None
    """In the budget's unit (USD or tokens); None means unlimited (counted, never refused)."""
    expires_at: float | None
    """Epoch seconds after which the counter may be forgotten (window end plus a day); None: never."""
    rolling_seconds: float | None = None
    """The length of a rolling window; None for the others."""
    thresholds: tuple[float, ...] = ()
    """Fractions of the limit (0.5, 0.8, 1.0) reported once each when settled spend reaches them."""

    @property
    def key(self) -> str:
        return f"{self.budget_id}\x1f{self.group}\x1f{self.window}"


@dataclass(frozen=True, slots=True)
class Hold:
    """What one call asks of one counter."""

    counter: Counter
    amount: float
    enforce: bool = True
    """False: granted even over the limit (still counted)."""


@dataclass(frozen=True, slots=True)
class Reservation:
    """The answer to :meth:`Store.reserve`."""

    admitted: bool
    used: tuple[float, ...]
    """Per hold, in order: settled spend plus other calls' holds before this call."""
    refused: int | None = None
    """Index of the first hold refused (when not admitted); nothing was held then."""


@dataclass(frozen=True, slots=True)
class Settled:
    """A counter after a settle: its settled spend and the thresholds this settle crossed."""

    counter: Counter
    spent: float
    crossed: tuple[float, ...] = ()


@dataclass(frozen=True, slots=True)
class CounterState:
    """A counter as :meth:`Store.snapshot` sees it."""

    counter: Counter
    spent: float
    held: float
    holds: int


class StoreUnavailable(Exception):
    """The store could not answer in time (unreachable, slow or failing); the message says which."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        """``timeout``, ``unreachable`` or ``error``."""


class Store(Protocol):
    """The contract every budget store keeps (see the module docstring)."""

    def reserve(self, call_id: str, holds: Sequence[Hold], now: float, hold_seconds: float) -> Reservation:
        """Check and hold ``holds`` for ``call_id`` atomically, all or nothing.

        Holds expire ``hold_seconds`` after ``now``. Reserving again for a call id that already
        holds replaces its holds. Raises :class:`StoreUnavailable`.
        """
        ...

    def settle(self, call_id: str, charges: Sequence[tuple[Counter, float]], now: float) -> list[Settled]:
        """Drop ``call_id``'s holds and add each charge to its counter, once per call id.

        A second settle of the same call id changes nothing and reports no crossing. A charge of
        0 just releases. Raises :class:`StoreUnavailable`.
        """
        ...

    def snapshot(self, now: float, budget_ids: Sequence[str]) -> list[CounterState]:
        """Every live counter (``now`` before its expiry) of the given budgets, for reports and gauges."""
        ...

    def close(self) -> None: ...


@dataclass(slots=True)
class _CounterData:
    counter: Counter
    spent: float = 0.0
    slices: dict[int, float] = field(default_factory=dict)
    """Rolling windows: slice index -> settled spend."""
    holds: dict[str, tuple[float, float]] = field(default_factory=dict)
    """call id -> (amount, expires at)."""
    fired: set[float] = field(default_factory=set)
    """Thresholds already reported in this window (re-armed when a rolling sum falls below)."""

    def settled(self, now: float) -> float:
        rolling = self.counter.rolling_seconds
        if rolling is None:
            return self.spent
        width = rolling / ROLLING_SLICES
        oldest = math.ceil((now - rolling) / width) - 1  # slice k ends at (k + 1) * width
        for index in [index for index in self.slices if index < oldest]:
            del self.slices[index]
        return sum(self.slices.values())

    def held(self, now: float, excluding: str) -> float:
        expired = [call for call, (_, until) in self.holds.items() if until <= now]
        for call in expired:
            del self.holds[call]
        return sum(amount for call, (amount, _) in self.holds.items() if call != excluding)

    def add(self, amount: float, now: float) -> None:
        rolling = self.counter.rolling_seconds
        if rolling is None:
            self.spent += amount
        else:
            index = math.floor(now / (rolling / ROLLING_SLICES))
            self.slices[index] = self.slices.get(index, 0.0) + amount


def admits(used: float, amount: float, limit: float | None) -> bool:
    """The admission rule (module docstring): ``used < limit`` and ``used + amount <= limit``."""
    return limit is None or (used < limit and used + amount <= limit)


def crossed(after: float, counter: Counter, fired: set[float]) -> tuple[float, ...]:
    """The thresholds of ``counter`` that settled spend ``after`` (> 0) reaches not fired yet."""
    limit = counter.limit
    if limit is None or after <= 0:
        return ()
    return tuple(t for t in counter.thresholds if t not in fired and after >= t * limit)


class MemoryStore:
    """Counters in this process's memory: the default store, no dependency.

    One lock makes each reserve and settle atomic across threads; asyncio tasks and threads of
    one process share it. Processes do not share it (use the Redis store for that).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counters: dict[str, _CounterData] = {}
        self._settled: dict[str, float] = {}
        """call id -> when its settle may be forgotten."""
        self._next_sweep = 0.0

    def after_fork_in_child(self) -> None:
        """A child's own lock (the parent's may have been held by another thread at the fork)."""
        self._lock = threading.Lock()

    def reserve(self, call_id: str, holds: Sequence[Hold], now: float, hold_seconds: float) -> Reservation:
        with self._lock:
            self._forget(now)
            data = [self._data(hold.counter) for hold in holds]
            used = tuple(d.settled(now) + d.held(now, call_id) for d in data)
            for index, (hold, before) in enumerate(zip(holds, used, strict=True)):
                if hold.enforce and not admits(before, hold.amount, hold.counter.limit):
                    return Reservation(False, used, index)
            until = now + hold_seconds
            for hold, d in zip(holds, data, strict=True):
                d.holds[call_id] = (hold.amount, until)
            return Reservation(True, used)

    def settle(self, call_id: str, charges: Sequence[tuple[Counter, float]], now: float) -> list[Settled]:
        with self._lock:
            already = call_id in self._settled
            results = []
            for counter, amount in charges:
                d = self._data(counter)
                d.holds.pop(call_id, None)
                before = d.settled(now)
                if already or amount == 0:
                    results.append(Settled(counter, before))
                    continue
                d.add(amount, now)
                after = d.settled(now)
                if counter.rolling_seconds is not None and counter.limit is not None:
                    d.fired = {t for t in d.fired if after >= t * counter.limit}  # re-arm on the way down
                new = crossed(after, counter, d.fired)
                d.fired.update(new)
                results.append(Settled(counter, after, new))
            if not already:
                self._settled[call_id] = now + 86400.0
            return results

    def snapshot(self, now: float, budget_ids: Sequence[str]) -> list[CounterState]:
        wanted = set(budget_ids)
        with self._lock:
            self._forget(now)
            states = []
            for d in self._counters.values():
                if d.counter.budget_id not in wanted or _expired(d.counter, now):
                    continue
                held = d.held(now, "")
                states.append(CounterState(d.counter, d.settled(now), held, len(d.holds)))
            return states

    def close(self) -> None:
        with self._lock:
            self._counters.clear()
            self._settled.clear()

    def _data(self, counter: Counter) -> _CounterData:
        key = counter.key
        data = self._counters.get(key)
        if data is None:
            data = self._counters[key] = _CounterData(counter)
        return data

    def _forget(self, now: float) -> None:
        # Past windows and old settles, once a minute: the store's size follows live windows.
        if now < self._next_sweep:
            return
        self._next_sweep = now + 60.0
        for key in [k for k, d in self._counters.items() if _expired(d.counter, now)]:
            del self._counters[key]
        for call in [c for c, until in self._settled.items() if until <= now]:
            del self._settled[call]


def _expired(counter: Counter, now: float) -> bool:
    return counter.expires_at is not None and counter.expires_at <= now
