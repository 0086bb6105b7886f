"""The guardrails' decisions, call by call, with a hand-moved clock and the in-process store.

Calls are described by a ``CallRequest`` as an instrumentor would (gpt-4o-mini, a fixed
``max_tokens``, no input to count), so the reservation of each is known exactly:
1000 output tokens x 0.60 USD per million = 0.0006 USD. The same decisions through every real
client are tested in ``tests/instrumentors/*/test_guardrails.py``.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from datetime import UTC, datetime

import pytest

import otel_tokens
from otel_tokens import _runtime, semconv
from otel_tokens._budget_store import MemoryStore
from otel_tokens._guardrail_setup import install_guardrails
from otel_tokens._guardrails import Guardrails
from otel_tokens._invocation import CallRequest
from otel_tokens.budgets import Action, Breaker, Budget, Catalogue, Policy
from otel_tokens.pricing import Cost
from otel_tokens.usage import Usage

RESERVATION = 0.0006  # 1000 output tokens of gpt-4o-mini at 0.60 USD per million
TAGS = {"team": "search"}


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def at(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def request(model: str = "gpt-4o-mini", max_tokens: int = 1000) -> CallRequest:
    return CallRequest(
        operation="chat",
        provider="openai",
        request_model=model,
        attributes={semconv.GEN_AI_REQUEST_MAX_TOKENS: max_tokens},
    )


def guardrails(*items, clock: Clock | None = None) -> Guardrails:
    return Guardrails(
        Policy.of(items),
        MemoryStore(),
        _runtime.price_book(),
        clock=clock or Clock(at("2026-05-28T12:00:00+00:00")),
    )


def cost(total: float) -> Cost:
    return Cost(total, 0.0, total, 0.0, 0.0, "test", None)


def spent(g: Guardrails, budget_id: str) -> float:
    return sum(s.spent for s in g.store.snapshot(g.clock(), [budget_id]))


def held(g: Guardrails, budget_id: str) -> float:
    return sum(s.held for s in g.store.snapshot(g.clock(), [budget_id]))


# -- limits ----------------------------------------------------------------------------------


def test_the_reservation_is_the_worst_case_of_the_request():
    g = guardrails(Budget("cap", limit=1.0))
    admission = g.admit(request(), TAGS)
    assert admission.reservation == pytest.approx(RESERVATION, rel=1e-12)
    assert admission.utilisation == pytest.approx(RESERVATION / 1.0, rel=1e-12)
    assert held(g, "cap") == pytest.approx(RESERVATION, rel=1e-12)


def test_limit_zero_blocks_everything_and_an_absent_limit_nothing():
    g = guardrails(Budget("zero", limit=0), Budget("count-only", limit=None))
    with pytest.raises(otel_tokens.BudgetExceededError, match="budget 'zero' is exhausted"):
        g.admit(request(max_tokens=0), TAGS)
    assert held(g, "count-only") == 0  # all or nothing: the refusal held nothing anywhere
    g = guardrails(Budget("count-only", limit=None))
    for _ in range(100):
        g.settle(g.admit(request(), TAGS), Usage(input_tokens=1, output_tokens=1), cost(1.0))
    assert spent(g, "count-only") == pytest.approx(100.0)


def test_a_call_that_reaches_the_limit_exactly_is_admitted_and_the_next_is_not():
    g = guardrails(Budget("cap", limit=3 * RESERVATION))
    for _ in range(3):
        g.admit(request(), TAGS)  # used + amount <= limit, the third lands exactly on it
    with pytest.raises(otel_tokens.BudgetExceededError) as blocked:
        g.admit(request(), TAGS)
    error = blocked.value
    assert (error.budget_id, error.unit, error.group) == ("cap", "USD", "")
    assert error.spent == pytest.approx(3 * RESERVATION) and error.limit == pytest.approx(3 * RESERVATION)
    assert error.resets_at == datetime(2026, 6, 1, tzinfo=UTC)
    assert "resets at 2026-06-01T00:00:00+00:00" in str(error)


def test_settle_charges_the_actual_cost_once_and_frees_the_hold():
    g = guardrails(Budget("cap", limit=1.0))
    admission = g.admit(request(), TAGS)
    g.settle(admission, Usage(input_tokens=10, output_tokens=20), cost(0.0001))
    g.settle(admission, Usage(input_tokens=10, output_tokens=20), cost(0.0001))  # idempotent
    assert spent(g, "cap") == pytest.approx(0.0001) and held(g, "cap") == 0


def test_a_failed_call_without_usage_releases_its_hold():
    g = guardrails(Budget("cap", limit=1.0))
    g.settle(g.admit(request(), TAGS), None, None)
    assert spent(g, "cap") == 0 and held(g, "cap") == 0


def test_a_token_budget_reserves_and_charges_tokens():
    g = guardrails(Budget("tokens", limit=2500, unit="token"))
    first = g.admit(request(), TAGS)
    assert first.reservation == 1000 and first.unit == "token"
    g.settle(first, Usage(input_tokens=300, output_tokens=200), cost(0.1))
    assert spent(g, "tokens") == 500
    g.admit(request(), TAGS)
    g.admit(request(max_tokens=500), TAGS)  # 500 + 1000 held + 500 = 2000: fits
    with pytest.raises(otel_tokens.BudgetExceededError, match="tokens"):
        g.admit(request(max_tokens=501), TAGS)


# -- concurrency: at most floor(headroom / reservation) admitted ---------------------------


def test_threads_at_the_edge_admit_exactly_floor_headroom_over_reservation():
    g = guardrails(Budget("cap", limit=7.5 * RESERVATION))
    barrier = threading.Barrier(32)
    outcomes: list[bool] = []

    def call() -> None:
        barrier.wait()
        try:
            g.admit(request(), TAGS)
            outcomes.append(True)
        except otel_tokens.BudgetExceededError:
            outcomes.append(False)

    threads = [threading.Thread(target=call) for _ in range(32)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes.count(True) == 7 and outcomes.count(False) == 25


def test_asyncio_tasks_at_the_edge_admit_exactly_floor_headroom_over_reservation():
    g = guardrails(Budget("cap", limit=4.99 * RESERVATION))

    async def call() -> bool:
        await asyncio.sleep(0)
        try:
            g.admit(request(), TAGS)
            return True
        except otel_tokens.BudgetExceededError:
            return False

    async def main() -> list[bool]:
        return await asyncio.gather(*(call() for _ in range(20)))

    assert asyncio.run(main()).count(True) == 4


def test_a_hold_never_settled_expires_by_itself():
    clock = Clock(at("2026-05-28T12:00:00+00:00"))
    g = guardrails(Budget("cap", limit=RESERVATION), clock=clock)
    g.admit(request(), TAGS)  # the process "dies": never settled
    with pytest.raises(otel_tokens.BudgetExceededError):
        g.admit(request(), TAGS)
    clock.now += g.policy.hold_seconds
    g.admit(request(), TAGS)


# -- windows, groups, thresholds ------------------------------------------------------------


def test_a_calendar_window_resets_at_its_start_in_its_time_zone():
    clock = Clock(at("2026-03-28T22:59:00+00:00"))  # 23:59 in Paris, the day before the DST change
    g = guardrails(Budget("daily", limit=RESERVATION, window="day", timezone="Europe/Paris"), clock=clock)
    g.admit(request(), TAGS)
    with pytest.raises(otel_tokens.BudgetExceededError) as blocked:
        g.admit(request(), TAGS)
    assert blocked.value.resets_at == datetime(2026, 3, 28, 23, 0, tzinfo=UTC)
    clock.now = at("2026-03-28T23:00:00+00:00")  # midnight in Paris: a new counter
    g.settle(g.admit(request(), TAGS), Usage(input_tokens=1, output_tokens=1000), cost(RESERVATION))
    clock.now = at("2026-03-29T21:59:59+00:00")  # 23:59:59 CEST: the 23-hour day is not over
    with pytest.raises(otel_tokens.BudgetExceededError) as blocked:
        g.admit(request(), TAGS)
    assert blocked.value.resets_at == datetime(2026, 3, 29, 22, 0, tzinfo=UTC)


def test_group_by_keeps_one_counter_per_value():
    g = guardrails(Budget("per-team", limit=RESERVATION, group_by=["team"]))
    g.admit(request(), {"team": "search"})
    g.admit(request(), {"team": "ads"})
    with pytest.raises(otel_tokens.BudgetExceededError, match="for team=search"):
        g.admit(request(), {"team": "search"})
    g.admit(request(), {})  # no team: its own group
    groups = sorted(s.counter.group for s in g.store.snapshot(g.clock(), ["per-team"]))
    assert groups == ["team=__untagged__", "team=ads", "team=search"]


def test_match_selects_calls_by_tag_provider_and_model_glob():
    g = guardrails(Budget("claude-search", limit=0, match={"team": "search", "model": "claude-*"}))
    g.admit(request("gpt-4o-mini"), TAGS)
    g.admit(request("claude-haiku-4-5"), {"team": "ads"})
    with pytest.raises(otel_tokens.BudgetExceededError):
        g.admit(request("claude-haiku-4-5"), TAGS)


def test_thresholds_fire_once_per_window_each():
    clock = Clock(at("2026-05-28T12:00:00+00:00"))
    g = guardrails(Budget("cap", limit=1.0, window="day", thresholds=[0.5, 0.8], action="warn"), clock=clock)

    def spend(amount: float) -> list[float]:
        report = g.settle(
            g.admit(request(max_tokens=0), TAGS), Usage(input_tokens=1, output_tokens=1), cost(amount)
        )
        return [threshold for _, threshold in report.crossed]

    assert spend(0.4) == []
    assert spend(0.2) == [0.5]
    assert spend(0.01) == []
    assert spend(0.5) == [0.8]
    assert spend(0.0) == []  # over the limit (warn lets it in): nothing fires again
    clock.now += 86400
    assert spend(0.9) == [0.5, 0.8]


# -- actions ---------------------------------------------------------------------------------


def test_warn_admits_over_the_limit_and_says_so(caplog):
    g = guardrails(Budget("soft", limit=0, action="warn"))
    with caplog.at_level(logging.WARNING, "otel_tokens"):
        admission = g.admit(request(), TAGS)
    assert (admission.decision, admission.decided_by, admission.actions) == (
        "warned",
        "soft",
        [("soft", "warned")],
    )
    assert "would stop this call" in caplog.text
    assert held(g, "soft") == pytest.approx(RESERVATION)  # still counted


def test_downgrade_sends_the_cheaper_model_and_reserves_for_it():
    g = guardrails(Budget("cap", limit=0.0001, action="downgrade", downgrade_to="gpt-4.1-nano"))
    admission = g.admit(request("gpt-4o", max_tokens=1000), TAGS)
    assert (admission.decision, admission.model, admission.original_model) == (
        "downgraded",
        "gpt-4.1-nano",
        "gpt-4o",
    )
    assert held(g, "cap") == pytest.approx(1000 * 0.40 / 1e6)  # gpt-4.1-nano's output price


def test_a_callback_decides_and_sees_the_decision():
    seen = []

    def decide(decision):
        seen.append(decision)
        return Action.downgrade("gpt-4.1-nano")

    g = guardrails(Budget("cap", limit=0.0001, action=decide))
    admission = g.admit(request("gpt-4o"), TAGS)
    assert admission.model == "gpt-4.1-nano"
    (decision,) = seen
    assert (decision.kind, decision.id, decision.model, decision.limit, decision.spent) == (
        "budget", "cap", "gpt-4o", 0.0001, 0.0,
    )  # fmt: skip
    assert decision.reservation == pytest.approx(1000 * 10.0 / 1e6)


@pytest.mark.parametrize(("fail_mode", "blocked"), [("open", False), ("closed", True)])
def test_a_callback_that_raises_follows_fail_mode(fail_mode, blocked):
    def broken(decision):
        raise RuntimeError("boom")

    g = guardrails(Budget("cap", limit=0, action=broken, fail_mode=fail_mode))
    if blocked:
        with pytest.raises(otel_tokens.BudgetExceededError):
            g.admit(request(), TAGS)
    else:
        assert g.admit(request(), TAGS).decision == "warned"


# -- unpriced models -------------------------------------------------------------------------


def test_unpriced_models_are_blocked_estimated_or_allowed_never_free_by_accident():
    unknown = request("acme-unknown-1", max_tokens=1000)
    with pytest.raises(otel_tokens.UnpricedModelError, match="cannot price model 'acme-unknown-1'"):
        guardrails(Budget("b", limit=1.0, on_unpriced="block")).admit(unknown, TAGS)
    g = guardrails(Budget("e", limit=1.0, on_unpriced="estimate", unpriced_rates=(10.0, 50.0)))
    admission = g.admit(unknown, TAGS)
    assert admission.reservation == pytest.approx(1000 * 50.0 / 1e6)
    g.settle(admission, Usage(input_tokens=100, output_tokens=20), None)
    assert spent(g, "e") == pytest.approx((100 * 10.0 + 20 * 50.0) / 1e6)
    g = guardrails(Budget("a", limit=1.0, on_unpriced="allow"))
    g.settle(g.admit(unknown, TAGS), Usage(input_tokens=100, output_tokens=20), None)
    assert spent(g, "a") == 0.0


# -- catalogue and breaker -------------------------------------------------------------------


def test_a_catalogue_approves_by_list_price_ceiling_and_price_knowledge():
    catalogue = Catalogue("search-models", match={"team": "search"}, models=["gpt-4o-mini", "claude-haiku-*"])
    g = guardrails(catalogue)
    assert g.admit(request("gpt-4o-mini"), TAGS).approved is True
    with pytest.raises(otel_tokens.ModelNotApprovedError, match="not in the approved list"):
        g.admit(request("gpt-4o"), TAGS)
    assert g.admit(request("gpt-4o"), {"team": "ads"}).approved is None  # not matched
    ceiling = guardrails(Catalogue("cheap", max_output_usd_per_million=10))
    assert ceiling.admit(request("gpt-4o"), TAGS).approved is True  # 10.00 is not above 10
    with pytest.raises(otel_tokens.ModelNotApprovedError, match="above the ceiling of 10"):
        ceiling.admit(request("gpt-4.5-preview"), TAGS)
    with pytest.raises(otel_tokens.ModelNotApprovedError, match="no known price"):
        ceiling.admit(request("acme-unknown-1"), TAGS)


def test_the_breaker_blocks_a_runaway_then_probes_and_closes():
    clock = Clock(at("2026-05-28T12:00:00+00:00"))
    rule = Breaker("agent", max_calls_per_minute=3, deviations=None, cooldown_seconds=120, probe_calls=1)
    g = guardrails(rule, clock=clock)
    for _ in range(3):
        g.settle(g.admit(request(), TAGS), Usage(input_tokens=1, output_tokens=1), cost(0.001))
    with pytest.raises(otel_tokens.BreakerOpenError, match="runaway breaker 'agent' is open"):
        g.admit(request(), TAGS)
    clock.now += 121
    probe = g.admit(request(), TAGS)
    assert [t.to_state for t in probe.transitions] == ["half_open"]
    report = g.settle(probe, Usage(input_tokens=1, output_tokens=1), cost(0.001))
    assert [t.to_state for t in report.transitions] == ["closed"]


def test_guardrails_apply_in_order_catalogue_budget_breaker_and_a_block_releases_everything():
    clock = Clock(at("2026-05-28T12:00:00+00:00"))
    g = guardrails(
        Budget("cap", limit=1.0),
        Breaker("agent", max_calls_per_minute=1, deviations=None),
        clock=clock,
    )
    g.admit(request(), TAGS)
    with pytest.raises(otel_tokens.BreakerOpenError):
        g.admit(request(), TAGS)
    assert held(g, "cap") == pytest.approx(RESERVATION)  # the blocked call's hold was released


# -- in force for the process ----------------------------------------------------------------


def test_reload_keeps_the_policy_when_the_file_is_invalid(tmp_path, caplog):
    path = tmp_path / "budgets.toml"
    path.write_text('[[budget]]\nid = "cap"\nlimit = 1\n')
    otel_tokens.init(budgets=str(path), configure_otel=False)
    assert _runtime.STATE.guardrails is not None
    store = _runtime.STATE.guardrails.store
    path.write_text('[[budget]]\nid = "cap"\nlimit = 2\n')
    assert otel_tokens.reload_budgets() is True
    assert _runtime.STATE.guardrails.policy.budgets[0].limit == 2.0
    assert _runtime.STATE.guardrails.store is store  # counters carry over
    path.write_text('[[budget]]\nid = "cap"\nlimt = 3\n')
    with caplog.at_level(logging.ERROR, "otel_tokens"):
        assert otel_tokens.reload_budgets() is False
    assert "unknown field 'limt'" in caplog.text and "policy in force is kept" in caplog.text
    assert _runtime.STATE.guardrails.policy.budgets[0].limit == 2.0


def test_init_accepts_objects_and_an_empty_policy_turns_guardrails_off():
    otel_tokens.init(budgets=[Budget("cap", limit=1)], configure_otel=False)
    assert [b.id for b in _runtime.STATE.guardrails.policy.budgets] == ["cap"]
    otel_tokens.init(budgets=[], configure_otel=False)
    assert _runtime.STATE.guardrails is None


def test_an_unusable_budget_store_setting_fails_init_naming_it_without_the_password():
    with pytest.raises(
        otel_tokens.ConfigurationError, match=r"budget_store must be 'memory' or a Redis URL"
    ) as bad:
        otel_tokens.init(budget_store="http://user:sekret@host", budgets=[Budget("cap", limit=1)])
    assert "sekret" not in str(bad.value)


def test_an_installed_policy_is_used_by_the_next_call_and_removed_by_reset():
    install_guardrails(guardrails(Budget("cap", limit=1)))
    assert _runtime.STATE.guardrails is not None
    _runtime.reset()
    assert _runtime.STATE.guardrails is None


def test_a_call_in_flight_when_the_policy_is_replaced_settles_where_it_was_admitted():
    from opentelemetry.metrics import get_meter_provider
    from opentelemetry.trace import get_tracer

    from otel_tokens._invocation import CallResult
    from otel_tokens.metrics import create_instruments
    from otel_tokens.record import Recorder

    clock = Clock(at("2026-05-28T12:00:00+00:00"))
    old = guardrails(Breaker("agent", max_usd_per_minute=1.0, deviations=None), clock=clock)
    install_guardrails(old)
    recorder = Recorder(get_tracer("test"), create_instruments(get_meter_provider().get_meter("test")))
    invocation = recorder.start(request(), old.admit(request(), TAGS))
    install_guardrails(guardrails(Budget("cap", limit=1.0)))  # a reload without that breaker
    invocation.end(CallResult(usage=Usage(input_tokens=10, output_tokens=20)))  # strict: no internal error
    (status,) = old.breakers.states(clock())
    assert status.rule_id == "agent" and status.usd_last_minute == pytest.approx(20 * 0.6e-6 + 10 * 0.15e-6)


def test_release_call_frees_the_hold_in_the_guardrails_that_admitted_it():
    from otel_tokens._guardrails import release_call

    g = guardrails(Budget("cap", limit=1.0))
    admission = g.admit(request(), TAGS)
    install_guardrails(None)  # nothing in force any more: the admission still knows its own
    release_call(admission)
    assert held(g, "cap") == 0
    release_call(None)  # a call no policy admitted: nothing to do


def test_group_values_beyond_the_tag_value_limit_share_the_overflow_counter():
    g = Guardrails(
        Policy.of([Budget("per-team", limit=1.0, group_by=["team"])]),
        MemoryStore(),
        _runtime.price_book(),
        clock=Clock(at("2026-05-28T12:00:00+00:00")),
        max_tag_values=2,
    )
    for team in ("a", "b", "c", "d", "a"):
        g.admit(request(), {"team": team})
    groups = sorted((s.counter.group, s.holds) for s in g.store.snapshot(g.clock(), ["per-team"]))
    assert groups == [("team=__overflow__", 2), ("team=a", 2), ("team=b", 1)]
