"""The budget store contract, run against every store: a subclass provides the ``store`` fixture.

Time is only the ``now`` passed to each call, so windows, holds and rolling slices are driven
without sleeping.
"""

from __future__ import annotations

import threading
import uuid

from otel_tokens._budget_store import Counter, CounterState, Hold, Reservation, Settled, Store

T0 = 1_800_000_000.0
"""A start time on a whole hour (so on a rolling slice's start too)."""
HOLD = 60.0


def counter(
    budget: str = "b",
    *,
    group: str = "",
    window: str = "1800000000",
    limit: float | None = 10.0,
    expires_at: float | None = T0 + 7200,
    rolling: float | None = None,
    thresholds: tuple[float, ...] = (),
) -> Counter:
    return Counter(budget, group, window, limit, expires_at, rolling, thresholds)


def rolling_counter(limit: float | None = 10.0, thresholds: tuple[float, ...] = ()) -> Counter:
    """A one-hour rolling window: 60 one-minute slices."""
    return counter(window="rolling", limit=limit, expires_at=None, rolling=3600.0, thresholds=thresholds)


def reserve(store: Store, c: Counter, amount: float, now: float = T0, call: str | None = None) -> Reservation:
    return store.reserve(call or uuid.uuid4().hex, [Hold(c, amount)], now, HOLD)


def used(store: Store, c: Counter, now: float = T0) -> float:
    """What another call sees on ``c`` (a zero hold that is then released)."""
    call = uuid.uuid4().hex
    seen = store.reserve(call, [Hold(c, 0.0, enforce=False)], now, HOLD).used[0]
    store.settle(call, [(c, 0.0)], now)
    return seen


def state(store: Store, c: Counter, now: float = T0) -> CounterState:
    [found] = [s for s in store.snapshot(now, [c.budget_id]) if s.counter.key == c.key]
    return found


class StoreContract:
    """The contract of ``otel_tokens._budget_store.Store`` (its module docstring)."""

    # Admission rule: used < limit and used + amount <= limit.

    def test_admits_up_to_the_limit_exactly(self, store):
        c = counter(limit=10.0)
        assert reserve(store, c, 9.5) == Reservation(True, (0.0,))
        assert reserve(store, c, 0.75) == Reservation(False, (9.5,), 0)
        assert reserve(store, c, 0.5) == Reservation(True, (9.5,))
        assert used(store, c) == 10.0

    def test_at_the_limit_not_even_nothing_is_admitted(self, store):
        c = counter(limit=4.0)
        assert reserve(store, c, 4.0).admitted
        assert reserve(store, c, 0.0) == Reservation(False, (4.0,), 0)

    def test_limit_zero_admits_nothing(self, store):
        c = counter(limit=0.0)
        assert reserve(store, c, 0.0) == Reservation(False, (0.0,), 0)
        assert reserve(store, c, 1.0) == Reservation(False, (0.0,), 0)

    def test_no_limit_always_admits_and_counts(self, store):
        c = counter(limit=None)
        assert reserve(store, c, 1e9).admitted
        assert reserve(store, c, 5.0) == Reservation(True, (1e9,))

    def test_used_is_settled_spend_plus_other_calls_holds(self, store):
        c = counter(limit=100.0)
        store.settle("paid", [(c, 7.0)], T0)
        reserve(store, c, 2.0, call="a")
        assert reserve(store, c, 1.0, call="b").used == (9.0,)
        # A call's own holds are not in what it is told.
        assert reserve(store, c, 1.0, call="a").used == (8.0,)

    def test_headroom_over_equal_holds_admits_floor(self, store):
        c = counter(limit=10.0)
        admitted = [reserve(store, c, 3.0).admitted for _ in range(5)]
        assert admitted == [True, True, True, False, False]

    # All or nothing.

    def test_a_refusal_holds_nothing_anywhere(self, store):
        first, second, third = counter("b1"), counter("b2", limit=1.0), counter("b3")
        holds = [Hold(first, 2.0), Hold(second, 2.0), Hold(third, 2.0)]
        assert store.reserve("x", holds, T0, HOLD) == Reservation(False, (0.0, 0.0, 0.0), 1)
        assert [used(store, c) for c in (first, second, third)] == [0.0, 0.0, 0.0]
        assert store.reserve("y", [Hold(first, 2.0), Hold(third, 2.0)], T0, HOLD).admitted
        assert [used(store, c) for c in (first, second, third)] == [2.0, 0.0, 2.0]

    def test_the_first_refused_hold_is_named(self, store):
        a, b = counter("b1", limit=1.0), counter("b2", limit=1.0)
        assert store.reserve("x", [Hold(a, 2.0), Hold(b, 2.0)], T0, HOLD).refused == 0

    def test_not_enforced_is_granted_over_the_limit_and_counted(self, store):
        c = counter(limit=1.0)
        assert store.reserve("warn", [Hold(c, 5.0, enforce=False)], T0, HOLD) == Reservation(True, (0.0,))
        assert reserve(store, c, 0.5) == Reservation(False, (5.0,), 0)
        store.settle("warn", [(c, 5.0)], T0)
        assert state(store, c).spent == 5.0

    def test_reserving_again_replaces_the_calls_holds(self, store):
        c = counter(limit=10.0)
        reserve(store, c, 6.0, call="a")
        assert reserve(store, c, 3.0, call="a") == Reservation(True, (0.0,))
        assert used(store, c) == 3.0
        assert state(store, c).holds == 1

    def test_a_refused_reserve_keeps_the_calls_earlier_holds(self, store):
        c = counter(limit=10.0)
        reserve(store, c, 6.0, call="a")
        reserve(store, c, 4.0, call="b")
        assert reserve(store, c, 7.0, call="a") == Reservation(False, (4.0,), 0)
        assert used(store, c) == 10.0

    # Holds expire.

    def test_holds_expire_by_themselves(self, store):
        c = counter(limit=10.0)
        store.reserve("gone", [Hold(c, 8.0)], T0, 30.0)
        assert reserve(store, c, 5.0, now=T0 + 29.9).refused == 0
        assert reserve(store, c, 5.0, now=T0 + 30.0) == Reservation(True, (0.0,))
        assert state(store, c, T0 + 30.0).holds == 1

    # Settle: once per call id.

    def test_settle_replaces_the_hold_by_the_charge(self, store):
        c = counter(limit=10.0)
        reserve(store, c, 5.0, call="a")
        assert store.settle("a", [(c, 2.0)], T0) == [Settled(c, 2.0)]
        assert state(store, c) == CounterState(c, 2.0, 0.0, 0)

    def test_settle_is_done_once_per_call_id(self, store):
        c = counter(limit=10.0, thresholds=(0.5,))
        reserve(store, c, 6.0, call="a")
        assert store.settle("a", [(c, 6.0)], T0) == [Settled(c, 6.0, (0.5,))]
        # A retried or duplicate settle (LiteLLM #35569: spend counted twice) changes nothing.
        assert store.settle("a", [(c, 6.0)], T0 + 1) == [Settled(c, 6.0)]
        assert store.settle("a", [(c, 9.0)], T0 + 2) == [Settled(c, 6.0)]
        assert state(store, c).spent == 6.0

    def test_a_second_settle_charges_no_other_counter_either(self, store):
        a, b = counter("b1"), counter("b2")
        store.settle("x", [(a, 1.0)], T0)
        assert store.settle("x", [(b, 1.0)], T0) == [Settled(b, 0.0)]
        assert used(store, b) == 0.0

    def test_settle_zero_releases(self, store):
        c = counter(limit=10.0)
        reserve(store, c, 9.0, call="a")
        assert store.settle("a", [(c, 0.0)], T0) == [Settled(c, 0.0)]
        assert state(store, c) == CounterState(c, 0.0, 0.0, 0)
        assert reserve(store, c, 10.0).admitted

    def test_settle_after_the_hold_expired_still_charges(self, store):
        c = counter(limit=10.0)
        store.reserve("slow", [Hold(c, 3.0)], T0, 30.0)
        assert store.settle("slow", [(c, 4.0)], T0 + 600) == [Settled(c, 4.0)]
        assert state(store, c, T0 + 600) == CounterState(c, 4.0, 0.0, 0)

    def test_settle_without_a_reserve_charges(self, store):
        c = counter(limit=None)
        assert store.settle("estimated", [(c, 1.25), (c, 0.5)], T0) == [Settled(c, 1.25), Settled(c, 1.75)]

    # Thresholds: once per counter window.

    def test_thresholds_fire_once_each(self, store):
        c = counter(limit=10.0, thresholds=(0.5, 0.8, 1.0))
        charges = [4.0, 1.0, 1.0, 2.0, 3.0, 1.0]
        crossed = [store.settle(f"c{i}", [(c, x)], T0)[0].crossed for i, x in enumerate(charges)]
        assert crossed == [(), (0.5,), (), (0.8,), (1.0,), ()]

    def test_one_settle_can_cross_several_thresholds(self, store):
        c = counter(limit=10.0, thresholds=(0.5, 0.8, 1.0))
        assert store.settle("big", [(c, 12.0)], T0) == [Settled(c, 12.0, (0.5, 0.8, 1.0))]

    def test_no_thresholds_without_a_limit(self, store):
        c = counter(limit=None, thresholds=(0.5,))
        assert store.settle("a", [(c, 100.0)], T0) == [Settled(c, 100.0)]

    def test_a_new_window_starts_from_zero_and_fires_again(self, store):
        first = counter(window="1800000000", thresholds=(0.5,))
        second = counter(window="1800003600", expires_at=T0 + 10800, thresholds=(0.5,))
        assert store.settle("a", [(first, 9.0)], T0) == [Settled(first, 9.0, (0.5,))]
        assert reserve(store, second, 10.0, now=T0 + 3600) == Reservation(True, (0.0,))
        assert store.settle("b", [(second, 6.0)], T0 + 3600) == [Settled(second, 6.0, (0.5,))]

    def test_groups_are_counters_of_their_own(self, store):
        odd = ["team=a", "team=a,b", "team=a:b", "team={a}", "team=a%3A b", "ü=\x1f", ""]
        for i, group in enumerate(odd):
            store.settle(f"g{i}", [(counter(group=group, limit=None), float(i + 1))], T0)
        snapshot = {s.counter.group: s.spent for s in store.snapshot(T0, ["b"])}
        assert snapshot == {group: float(i + 1) for i, group in enumerate(odd)}

    # Rolling windows: 60 slices.

    def test_rolling_slices_leave_the_sum_when_their_end_is_a_window_ago(self, store):
        c = rolling_counter(limit=None)
        store.settle("a", [(c, 1.0)], T0 + 59.0)  # slice [T0, T0 + 60)
        store.settle("b", [(c, 2.0)], T0 + 60.0)  # slice [T0 + 60, T0 + 120)
        assert state(store, c, T0 + 3600.0).spent == 3.0
        assert state(store, c, T0 + 3660.0).spent == 3.0
        assert state(store, c, T0 + 3660.5).spent == 2.0
        assert state(store, c, T0 + 3720.5).spent == 0.0

    def test_rolling_spend_is_admitted_against(self, store):
        c = rolling_counter(limit=10.0)
        store.settle("a", [(c, 8.0)], T0)
        assert reserve(store, c, 5.0, now=T0 + 1800).refused == 0
        assert reserve(store, c, 5.0, now=T0 + 3661) == Reservation(True, (0.0,))

    def test_rolling_thresholds_re_arm_when_the_sum_falls_below(self, store):
        c = rolling_counter(limit=10.0, thresholds=(0.5, 0.8))
        assert store.settle("a", [(c, 9.0)], T0) == [Settled(c, 9.0, (0.5, 0.8))]
        assert store.settle("b", [(c, 0.5)], T0 + 1800) == [Settled(c, 9.5)]
        later = T0 + 3661  # the 9.0 has left, the 0.5 not yet
        # Re-armed by the settle that finds the sum below them, reported again when reached.
        assert store.settle("c", [(c, 0.25)], later) == [Settled(c, 0.75)]
        assert store.settle("d", [(c, 5.0)], later) == [Settled(c, 5.75, (0.5,))]
        assert store.settle("e", [(c, 3.0)], later) == [Settled(c, 8.75, (0.8,))]

    def test_rolling_thresholds_stay_fired_while_a_settle_finds_the_sum_above(self, store):
        c = rolling_counter(limit=10.0, thresholds=(0.5,))
        assert store.settle("a", [(c, 6.0)], T0) == [Settled(c, 6.0, (0.5,))]
        assert store.settle("b", [(c, 5.5)], T0 + 3661) == [Settled(c, 5.5)]

    # Snapshot.

    def test_snapshot_lists_the_live_counters_of_the_asked_budgets(self, store):
        a = counter("b1", thresholds=(0.5, 1.0))
        b = counter("b2", group="team=x", limit=None, expires_at=None, window="lifetime")
        other = counter("b3")
        store.settle("s", [(a, 1.5)], T0)
        store.reserve("h1", [Hold(a, 2.0), Hold(b, 3.0), Hold(other, 1.0)], T0, HOLD)
        store.reserve("h2", [Hold(b, 4.0)], T0, HOLD)
        found = sorted(store.snapshot(T0, ["b1", "b2", "b1", "nothing"]), key=lambda s: s.counter.budget_id)
        assert found == [CounterState(a, 1.5, 2.0, 1), CounterState(b, 0.0, 7.0, 2)]

    def test_expired_counters_vanish(self, store):
        old = counter(window="1799996400", expires_at=T0 + 100)
        live = counter(window="1800000000", expires_at=T0 + 7200)
        store.settle("a", [(old, 1.0), (live, 2.0)], T0)
        assert {s.counter for s in store.snapshot(T0 + 99.9, ["b"])} == {old, live}
        assert [s.counter for s in store.snapshot(T0 + 100, ["b"])] == [live]
        assert store.snapshot(T0 + 7200, ["b"]) == []

    # Concurrency at the edge.

    def test_concurrent_reserves_admit_exactly_floor_of_headroom_over_hold(self, store):
        c = counter(limit=20.0)
        store.settle("before", [(c, 8.5)], T0)  # headroom 11.5, holds of 2: 5 get in
        results: list[bool] = []
        threads_count = 40
        start = threading.Barrier(threads_count)

        def one(i: int) -> None:
            start.wait()
            results.append(reserve(store, c, 2.0, call=f"t{i}").admitted)

        threads = [threading.Thread(target=one, args=(i,)) for i in range(threads_count)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(results) == [False] * 35 + [True] * 5
        assert used(store, c) == 18.5
