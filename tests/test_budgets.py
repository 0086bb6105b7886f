"""The policy model: every invalid field of a guardrail is refused naming the guardrail and the field."""

from __future__ import annotations

import pytest

from otel_tokens import ConfigurationError
from otel_tokens.budgets import Action, Breaker, Budget, Catalogue, Policy


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"limit": -1}, "Budget 'b': limit must be a finite number at least 0, got -1"),
        ({"limit": float("nan")}, "limit must be a finite number"),
        ({"limit": True}, "limit must be a finite number at least 0, got True"),
        ({"limit": "5"}, "limit must be a finite number at least 0, got '5'"),
        ({"unit": "EUR"}, "unit must be one of USD, token, got 'EUR'"),
        ({"window": "fortnight"}, "window must be day, week, month, quarter, lifetime"),
        ({"window": "rolling:0h"}, "positive duration"),
        ({"timezone": "Mars/Olympus"}, "timezone must be an IANA time zone"),
        ({"week_start": "funday"}, "week_start must be one of monday"),
        ({"reset_time": "25:00"}, 'reset_time must be a time of day "HH:MM"'),
        ({"match": {"Team": "x"}}, "match key 'Team' must be 'provider', 'model' or a tag key"),
        ({"match": {"team": []}}, "match['team'] needs at least one pattern"),
        ({"match": ["team"]}, "match must be a table"),
        ({"group_by": ["team", "Bad Key"]}, "group_by entry 'Bad Key' is not a tag key"),
        ({"thresholds": [0.5, 1.5]}, "thresholds are fractions of the limit in (0, 1], got 1.5"),
        ({"thresholds": [0]}, "thresholds entry must be a finite number greater than 0"),
        ({"action": "deny"}, "action must be one of warn, block, downgrade, got 'deny'"),
        ({"action": "downgrade"}, "downgrade_to (required by action 'downgrade') must be a non-empty string"),
        ({"downgrade_to": "gpt-4o-mini"}, "downgrade_to is only used with action 'downgrade'"),
        ({"on_unpriced": "ignore"}, "on_unpriced must be one of block, estimate, allow"),
        ({"unpriced_rates": (1.0,)}, "unpriced_rates must be (input, output) USD per million tokens"),
        ({"fail_mode": "maybe"}, "fail_mode must be one of open, closed"),
    ],
)
def test_every_invalid_budget_field_is_named(fields, message):
    with pytest.raises(ConfigurationError, match="^Budget 'b': ") as error:
        Budget("b", **{"limit": 1.0, **fields})
    assert message in str(error.value)


@pytest.mark.parametrize("ident", ["", "-x", "a b", "é", "x" * 129, 5])
def test_an_invalid_id_is_refused(ident):
    with pytest.raises(ConfigurationError, match="id must be 1-128 ASCII letters"):
        Budget(ident, limit=1)


def test_zero_and_absent_limits_stay_apart():
    assert Budget("b", limit=0).limit == 0.0
    assert Budget("b", limit=None).limit is None
    assert isinstance(Budget("b", limit=5).limit, float)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({}, "set max_usd_per_minute, max_calls_per_minute or deviations"),
        ({"max_calls_per_minute": 0}, "max_calls_per_minute must be a whole number of at least 1"),
        ({"max_usd_per_minute": 0}, "max_usd_per_minute must be a finite number greater than 0"),
        ({"deviations": 3, "smoothing": 1.5}, "smoothing must be in (0, 1], got 1.5"),
        ({"deviations": 3, "probe_calls": 0}, "probe_calls must be a whole number of at least 1"),
        ({"deviations": 3, "cooldown_seconds": 0}, "cooldown_seconds must be a finite number greater than 0"),
        ({"deviations": 3, "action": "downgrade", "downgrade_to": "x"}, None),
    ],
)
def test_every_invalid_breaker_field_is_named(fields, message):
    values = {"deviations": None, **fields}
    if message is None:
        assert Breaker("r", **values).action == "downgrade"  # accepted; applied as block (see docs)
        return
    with pytest.raises(ConfigurationError, match="^Breaker 'r': ") as error:
        Breaker("r", **values)
    assert message in str(error.value)


def test_catalogue_and_policy_validation():
    with pytest.raises(ConfigurationError, match="Catalogue 'c': allow_unpriced must be true or false"):
        Catalogue("c", allow_unpriced="no")
    with pytest.raises(ConfigurationError, match="Catalogue 'c': models must be a string or a list"):
        Catalogue("c", models={"gpt-4o": 1})
    with pytest.raises(ConfigurationError, match="guardrail id\\(s\\) used more than once: x"):
        Policy(budgets=[Budget("x", limit=1)], breakers=[Breaker("x", deviations=2)])
    with pytest.raises(ConfigurationError, match="budgets must be Budget, Breaker or Catalogue objects"):
        Policy.of(["not a budget"])
    with pytest.raises(ConfigurationError, match="max_output_tokens must be a mapping"):
        Policy(max_output_tokens=[1, 2])
    with pytest.raises(ConfigurationError, match="Action.downgrade: model must be a non-empty string"):
        Action.downgrade("")


def test_policies_compare_as_values_and_the_max_output_order_matters():
    def make(order):
        return Policy(budgets=[Budget("b", limit=1, match={"team": "x"})], max_output_tokens=dict(order))

    assert make([("a*", 1), ("b*", 2)]) == make([("a*", 1), ("b*", 2)])
    assert hash(make([("a*", 1)])) == hash(make([("a*", 1)]))
    assert make([("a*", 1), ("b*", 2)]) != make([("b*", 2), ("a*", 1)])
    with pytest.raises(TypeError, match="read-only"):
        make([("a*", 1)]).max_output_tokens["a*"] = 5  # type: ignore[index]
