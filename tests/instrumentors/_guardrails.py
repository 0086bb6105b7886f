"""Putting a guardrail policy in force for a per-client test, with a clock the test controls,
and reading what the budgets counted (one copy for every client's ``test_guardrails.py``)."""

from __future__ import annotations

from collections.abc import Iterable

from otel_tokens_fake_providers import ReceivedRequest

from otel_tokens import _runtime
from otel_tokens._budget_store import CounterState, MemoryStore
from otel_tokens._guardrail_setup import install_guardrails
from otel_tokens._guardrails import Guardrails
from otel_tokens.budgets import Breaker, Budget, Catalogue, Policy
from otel_tokens.testing import InMemoryTelemetry

START = 1_780_000_000.0
"""2026-05-28T20:26:40Z: the tests' "now", well inside a month."""


class Clock:
    """A clock the test moves by hand (``clock.now += 60``)."""

    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def enforce(*guardrails: Budget | Breaker | Catalogue, clock: Clock | None = None) -> Guardrails:
    """Put ``guardrails`` in force for the calls that follow (in-process store)."""
    policy = Policy.of(guardrails)
    installed = Guardrails(policy, MemoryStore(), _runtime.price_book(), clock=clock or Clock())
    install_guardrails(installed)
    return installed


def counters(guardrails: Guardrails, budget_id: str) -> list[CounterState]:
    return [s for s in guardrails.store.snapshot(guardrails.clock(), [budget_id])]


def spent(guardrails: Guardrails, budget_id: str) -> float:
    """Settled spend of an ungrouped budget (0.0 before any call settled)."""
    states = counters(guardrails, budget_id)
    return sum(s.spent for s in states)


def held(guardrails: Guardrails, budget_id: str) -> float:
    return sum(s.held for s in counters(guardrails, budget_id))


def models_sent(requests: Iterable[ReceivedRequest]) -> list[object]:
    """The ``model`` each JSON request body asked for (the wire, not what our span says)."""
    return [r.body.get("model") if isinstance(r.body, dict) else None for r in requests]


def decisions(telemetry: InMemoryTelemetry) -> dict[tuple[str, str], float | None]:
    """``otel_tokens.budget.decisions`` by (guardrail id, decision)."""
    return {
        (p.attributes["otel_tokens.budget.id"], p.attributes["otel_tokens.budget.decision"]): p.value
        for p in telemetry.points("otel_tokens.budget.decisions")
    }
