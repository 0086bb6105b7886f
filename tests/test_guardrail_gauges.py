"""The guardrail gauges: spend, limit and holds per budget and group, and breaker states, read
from the store when metrics are collected."""

from __future__ import annotations

import pytest

from otel_tokens import _guardrail_gauges, _runtime
from otel_tokens._budget_store import MemoryStore
from otel_tokens._guardrail_setup import install_guardrails
from otel_tokens._guardrails import Guardrails
from otel_tokens._invocation import CallRequest
from otel_tokens.budgets import Breaker, Budget, Policy
from otel_tokens.pricing import Cost
from otel_tokens.testing import InMemoryTelemetry
from otel_tokens.usage import Usage

NOW = 1_780_000_000.0
REQUEST = CallRequest("chat", "openai", "gpt-4o-mini", attributes={"gen_ai.request.max_tokens": 1000})


def values(telemetry: InMemoryTelemetry, metric: str) -> dict[tuple[tuple[str, object], ...], float | None]:
    return {tuple(sorted(p.attributes.items())): p.value for p in telemetry.points(metric)}


def test_the_gauges_report_each_groups_spend_limit_and_holds_and_each_breakers_state():
    telemetry = InMemoryTelemetry()
    _guardrail_gauges.register(telemetry.meter_provider)
    _guardrail_gauges.register(telemetry.meter_provider)  # once per provider
    policy = Policy.of(
        [
            Budget("per-team", limit=2.0, group_by=["team"]),
            Breaker("agent", max_calls_per_minute=5, deviations=None),
        ]
    )
    g = Guardrails(policy, MemoryStore(), _runtime.price_book(), clock=lambda: NOW)
    install_guardrails(g)
    g.settle(
        g.admit(REQUEST, {"team": "a b"}),
        Usage(input_tokens=1, output_tokens=1),
        Cost(0.5, 0, 0.5, 0, 0, "t", None),
    )
    g.admit(REQUEST, {"team": "c"})  # in flight: held, not spent
    team_a = (
        ("otel_tokens.budget.id", "per-team"),
        ("otel_tokens.budget.unit", "USD"),
        ("otel_tokens.tag.team", "a b"),
    )
    team_c = (
        ("otel_tokens.budget.id", "per-team"),
        ("otel_tokens.budget.unit", "USD"),
        ("otel_tokens.tag.team", "c"),
    )
    assert values(telemetry, "otel_tokens.budget.spend") == {team_a: 0.5, team_c: 0.0}
    assert values(telemetry, "otel_tokens.budget.limit") == {team_a: 2.0, team_c: 2.0}
    assert values(telemetry, "otel_tokens.budget.reserved") == {team_a: 0.0, team_c: pytest.approx(0.0006)}
    assert values(telemetry, "otel_tokens.breaker.status") == {(("otel_tokens.breaker.id", "agent"),): 0}
    install_guardrails(None)
    assert telemetry.points("otel_tokens.budget.spend") == []  # no policy, no points
