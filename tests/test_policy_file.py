"""Tests for otel_tokens._policy_file: a guardrail policy read from TOML, and every error it names."""

from __future__ import annotations

import dataclasses
import re
import textwrap
from pathlib import Path

import pytest

from otel_tokens import _policy_file
from otel_tokens._errors import ConfigurationError
from otel_tokens._policy_file import load_policy
from otel_tokens.budgets import Breaker, Budget, Catalogue, Policy

# The module docstring's example, so the documentation cannot drift from what loads.
EXAMPLE = textwrap.dedent(
    re.search(r"A full example::\n\n(.*?)\n\n(?=\S)", _policy_file.__doc__ or "", re.S).group(1)  # type: ignore[union-attr]
)

EXAMPLE_POLICY = Policy(
    budgets=[
        Budget(
            "search-monthly",
            limit=5000.0,
            unit="USD",
            window="month",
            timezone="Europe/Paris",
            week_start="monday",
            reset_time="00:00",
            match={"team": "search", "model": ["gpt-4o*", "claude-*"]},
            group_by=["feature"],
            thresholds=[0.5, 0.8, 1.0],
            action="block",
            on_unpriced="estimate",
            unpriced_rates=(15.0, 75.0),
            fail_mode="open",
        )
    ],
    breakers=[
        Breaker(
            "runaway-agent",
            match={"feature": "agent"},
            group_by=["team"],
            max_usd_per_minute=5.0,
            max_calls_per_minute=600,
            deviations=4.0,
            consecutive_minutes=3,
            baseline_minutes=30,
            smoothing=0.1,
            cooldown_seconds=300.0,
            probe_calls=5,
            action="block",
            fail_mode="open",
        )
    ],
    catalogues=[
        Catalogue(
            "search-models",
            match={"team": "search"},
            models=["gpt-4o-mini", "claude-haiku-*"],
            max_output_usd_per_million=10.0,
            allow_unpriced=False,
            action="downgrade",
            downgrade_to="gpt-4o-mini",
        )
    ],
    max_output_tokens={"gpt-4o*": 16384, "claude-*": 8192},
    hold_seconds=600.0,
)


def write(tmp_path: Path, text: str, name: str = "budgets.toml") -> str:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return str(path)


def fails(path: str, message: str) -> None:
    """Loading ``path`` raises ConfigurationError with exactly ``budgets {path}: {message}``."""
    with pytest.raises(ConfigurationError) as caught:
        load_policy(path)
    assert str(caught.value) == f"budgets {path}: {message}"
    assert caught.value.__cause__ is None or isinstance(caught.value.__cause__, (OSError, ValueError))


# -- what loads -------------------------------------------------------------------------------


def test_the_documented_example_loads_into_the_policy_built_in_code(tmp_path):
    path = write(tmp_path, EXAMPLE)
    policy = load_policy(path)
    expected = dataclasses.replace(EXAMPLE_POLICY, source=path)
    assert policy == expected
    assert hash(policy) == hash(expected)
    assert policy.source == path
    assert dataclasses.replace(policy, source=None) == EXAMPLE_POLICY
    # Same types as in code, not merely equal values: TOML integers became floats.
    budget, breaker, catalogue = policy.budgets[0], policy.breakers[0], policy.catalogues[0]
    assert type(budget.limit) is float and budget.unpriced_rates == (15.0, 75.0)
    assert isinstance(budget.unpriced_rates, tuple)
    assert type(breaker.cooldown_seconds) is float and type(breaker.max_calls_per_minute) is int
    assert type(catalogue.max_output_usd_per_million) is float and type(policy.hold_seconds) is float
    assert list(policy.max_output_tokens.items()) == [("gpt-4o*", 16384), ("claude-*", 8192)]


def test_reading_an_unchanged_file_again_gives_an_equal_policy(tmp_path):
    path = write(tmp_path, EXAMPLE)
    assert load_policy(path) == load_policy(path)


def test_an_empty_file_is_a_policy_without_guardrails(tmp_path):
    path = write(tmp_path, "")
    policy = load_policy(path)
    assert policy == Policy(source=path)
    assert policy.empty


def test_a_file_with_only_defaults(tmp_path):
    path = write(
        tmp_path,
        """
        [defaults]
        hold_seconds = 120
        max_output_tokens = { "o3*" = 50000 }
        """,
    )
    policy = load_policy(path)
    assert policy == Policy(max_output_tokens={"o3*": 50000}, hold_seconds=120.0, source=path)
    assert policy.empty


def test_an_absent_limit_counts_only_and_a_zero_limit_blocks(tmp_path):
    path = write(
        tmp_path,
        """
        [[budget]]
        id = "count-only"

        [[budget]]
        id = "closed"
        limit = 0
        """,
    )
    count_only, closed = load_policy(path).budgets
    assert count_only == Budget("count-only", limit=None) and count_only.limit is None
    assert closed == Budget("closed", limit=0.0)
    assert closed.limit is not None and closed.limit == 0.0 and type(closed.limit) is float


def test_defaults_apply_to_keys_left_out(tmp_path):
    path = write(
        tmp_path,
        """
        [[breaker]]
        id = "b"
        [[catalogue]]
        id = "c"
        """,
    )
    assert load_policy(path) == Policy(breakers=[Breaker("b")], catalogues=[Catalogue("c")], source=path)


def test_deviations_false_turns_the_deviation_test_off(tmp_path):
    path = write(tmp_path, '[[breaker]]\nid = "b"\nmax_calls_per_minute = 10\ndeviations = false\n')
    assert load_policy(path).breakers == (Breaker("b", max_calls_per_minute=10, deviations=None),)


def test_deviations_true_is_refused(tmp_path):
    path = write(tmp_path, '[[breaker]]\nid = "b"\ndeviations = true\n')
    fails(path, "breaker[0] ('b'): deviations must be a finite number greater than 0, got True")


# -- the file itself --------------------------------------------------------------------------


def test_an_unreadable_file(tmp_path):
    fails(str(tmp_path / "missing.toml"), "cannot read the file: No such file or directory")
    fails(str(tmp_path), "cannot read the file: Is a directory")


def test_a_file_not_in_utf8_names_the_line(tmp_path):
    path = tmp_path / "latin1.toml"
    path.write_bytes(b'[[budget]]\nid = "caf\xe9"\n')
    fails(str(path), "not UTF-8 text (byte 0xe9 on line 2); TOML files must be saved as UTF-8")


def test_invalid_toml_carries_line_and_column(tmp_path):
    path = write(tmp_path, '[[budget]]\nid = "a"\nlimit = = 5\n')
    with pytest.raises(
        ConfigurationError, match=rf"^budgets {re.escape(path)}: not valid TOML: .*line 3, column"
    ):
        load_policy(path)


def test_an_unknown_top_level_key(tmp_path):
    path = write(tmp_path, '[[budgets]]\nid = "a"\n')
    fails(
        path,
        "unknown top-level key 'budgets'; "
        "accepted: a [defaults] table and [[budget]], [[breaker]] and [[catalogue]] tables",
    )


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ('[budget]\nid = "a"\n', "budget"),
        ("breaker = 5\n", "breaker"),
        ('catalogue = ["a"]\n', "catalogue"),
    ],
)
def test_guardrails_must_be_arrays_of_tables(tmp_path, text, name):
    fails(write(tmp_path, text), f"{name!r} must be written as [[{name}]] tables")


def test_defaults_must_be_a_table(tmp_path):
    fails(write(tmp_path, "defaults = 5\n"), "'defaults' must be written as a [defaults] table")


# -- fields -----------------------------------------------------------------------------------


def test_a_misspelt_field_is_named_with_a_suggestion_and_the_accepted_keys(tmp_path):
    path = write(tmp_path, '[[budget]]\nid = "a"\n\n[[budget]]\nid = "team-cap"\nlimt = 5\n')
    accepted = ", ".join(sorted(f.name for f in dataclasses.fields(Budget)))
    fails(path, f"budget[1] ('team-cap'): unknown field 'limt' (did you mean 'limit'?); accepted: {accepted}")
    assert "reset_time" in accepted and "unpriced_rates" in accepted


def test_an_unknown_field_in_defaults(tmp_path):
    path = write(tmp_path, "[defaults]\nmax_tokens = 5\n")
    fails(
        path,
        "defaults: unknown field 'max_tokens' (did you mean 'max_output_tokens'?); "
        "accepted: hold_seconds, max_output_tokens",
    )


@pytest.mark.parametrize("name", ["budget", "breaker", "catalogue"])
def test_a_missing_id(tmp_path, name):
    path = write(tmp_path, f'[[{name}]]\nid = "first"\n[[{name}]]\naction = "warn"\n')
    fails(path, f"{name}[1]: missing field 'id' (a name such as 'team-cap', unique in the file)")


@pytest.mark.parametrize(
    ("ident", "shown"),
    [("5", "5"), ('"-dash"', "'-dash'"), ('""', "''"), ('"a b"', "'a b'")],
)
def test_an_invalid_id_is_named_without_parentheses(tmp_path, ident, shown):
    path = write(tmp_path, f"[[budget]]\nid = {ident}\n")
    fails(
        path,
        "budget[0]: id must be 1-128 ASCII letters, digits, '_', '.', ':' or '-', "
        f"starting with a letter or digit, got {shown}",
    )


@pytest.mark.parametrize(
    ("ident", "char", "code"),
    [("équipe", "é", "U+00E9"), ("te\u0430m", "\u0430", "U+0430"), ("cap\u200b", "\u200b", "U+200B")],
)
def test_a_unicode_id_is_refused_naming_the_character(tmp_path, ident, char, code):
    path = write(tmp_path, f'[[catalogue]]\nid = "{ident}"\n')
    fails(
        path,
        f"catalogue[0]: id {ident!r} contains {char!r} ({code}); "
        "ids are 1-128 ASCII letters, digits, '_', '.', ':' or '-'",
    )


def test_a_negative_limit_names_file_table_index_id_and_field(tmp_path):
    path = write(tmp_path, '[[budget]]\nid = "a"\nlimit = 1\n\n[[budget]]\nid = "team-cap"\nlimit = -5\n')
    fails(path, "budget[1] ('team-cap'): limit must be a finite number at least 0, got -5")


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("limit", "true", "limit must be a finite number at least 0, got True"),
        ("limit", '"5000"', "limit must be a finite number at least 0, got '5000'"),
        ("limit", "inf", "limit must be a finite number at least 0, got inf"),
        ("limit", "nan", "limit must be a finite number at least 0, got nan"),
        ("unit", '"EUR"', "unit must be one of USD, token, got 'EUR'"),
        ("action", "1", "action must be one of warn, block, downgrade, got 1"),
        (
            "action",
            '"downgrade"',
            "downgrade_to (required by action 'downgrade') must be a non-empty string, got None",
        ),
        (
            "downgrade_to",
            '"gpt-4o-mini"',
            "downgrade_to is only used with action 'downgrade', got action 'block'",
        ),
        ("on_unpriced", '"ignore"', "on_unpriced must be one of block, estimate, allow, got 'ignore'"),
        ("fail_mode", "false", "fail_mode must be one of open, closed, got False"),
        ("unpriced_rates", "[1.0]", "unpriced_rates must be (input, output) USD per million tokens"),
        ("unpriced_rates", "[1, -2]", "unpriced_rates must be a finite number at least 0, got -2"),
        ("thresholds", "[0.5, 1.5]", "thresholds are fractions of the limit in (0, 1], got 1.5"),
        ("thresholds", "0.5", "thresholds must be a list of fractions such as [0.5, 0.8, 1.0]"),
        ("match", '"team"', "match must be a table of key = pattern(s), got 'team'"),
        (
            "match",
            '{ "Team" = "a" }',
            "match key 'Team' must be 'provider', 'model' or a tag key ([a-z][a-z0-9_]*)",
        ),
        (
            "match",
            "{ team = { a = 1 } }",
            "match['team'] must be a string or a list of strings, got {'a': 1}",
        ),
        ("group_by", '["Team"]', "group_by entry 'Team' is not a tag key ([a-z][a-z0-9_]*)"),
        (
            "window",
            '"year"',
            "window must be day, week, month, quarter, lifetime, fixed:<duration> or "
            "rolling:<duration>, got 'year'",
        ),
        ("window", "30", "window must be a string, got 30"),
        (
            "timezone",
            '"Mars/Olympus"',
            "timezone must be an IANA time zone such as 'Europe/Paris', got 'Mars/Olympus'",
        ),
        (
            "reset_time",
            "07:30:00",
            'reset_time must be a time of day "HH:MM" (quoted in TOML), got datetime.time(7, 30)',
        ),
        ("limit", str(2**63), f"limit holds {2**63}, outside TOML's 64-bit integer range"),
        (
            "unpriced_rates",
            f"[1, {2**64}]",
            f"unpriced_rates holds {2**64}, outside TOML's 64-bit integer range",
        ),
    ],
)
def test_a_wrong_budget_field_is_named(tmp_path, field, value, message):
    limit = "" if field == "limit" else "limit = 10\n"
    path = write(tmp_path, f'[[budget]]\nid = "team-cap"\n{limit}{field} = {value}\n')
    fails(path, f"budget[0] ('team-cap'): {message}")


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ("max_calls_per_minute = 1.5", "max_calls_per_minute must be a whole number of at least 1, got 1.5"),
        (
            "max_calls_per_minute = true",
            "max_calls_per_minute must be a whole number of at least 1, got True",
        ),
        ("probe_calls = 0", "probe_calls must be a whole number of at least 1, got 0"),
        ("smoothing = 2", "smoothing must be in (0, 1], got 2"),
        ("cooldown_seconds = 0", "cooldown_seconds must be a finite number greater than 0, got 0"),
        (
            "deviations = false",
            "set max_usd_per_minute, max_calls_per_minute or deviations (nothing can trip it)",
        ),
        ('action = "stop"', "action must be one of warn, block, downgrade, got 'stop'"),
    ],
)
def test_a_wrong_breaker_field_is_named(tmp_path, fields, message):
    path = write(
        tmp_path, f'[[budget]]\nid = "a"\n[[breaker]]\nid = "x"\n[[breaker]]\nid = "loop"\n{fields}\n'
    )
    fails(path, f"breaker[1] ('loop'): {message}")


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ('allow_unpriced = "no"', "allow_unpriced must be true or false, got 'no'"),
        ("allow_unpriced = 0", "allow_unpriced must be true or false, got 0"),
        ("models = 5", "models must be a string or a list of strings, got 5"),
        (
            "max_output_usd_per_million = -1",
            "max_output_usd_per_million must be a finite number at least 0, got -1",
        ),
    ],
)
def test_a_wrong_catalogue_field_is_named(tmp_path, fields, message):
    path = write(tmp_path, f'[[catalogue]]\nid = "models"\n{fields}\n')
    fails(path, f"catalogue[0] ('models'): {message}")


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ("hold_seconds = 0", "hold_seconds must be a finite number at least 1, got 0"),
        ('hold_seconds = "10m"', "hold_seconds must be a finite number at least 1, got '10m'"),
        (
            "max_output_tokens = [1, 2]",
            "max_output_tokens must be a table of model glob = tokens, got [1, 2]",
        ),
        (
            'max_output_tokens = { "gpt-*" = 1.5 }',
            "max_output_tokens['gpt-*'] must be a whole number of at least 1, got 1.5",
        ),
        ('max_output_tokens = { "" = 5 }', "max_output_tokens key must be a non-empty string, got ''"),
    ],
)
def test_a_wrong_default_is_named(tmp_path, fields, message):
    fails(write(tmp_path, f"[defaults]\n{fields}\n"), f"defaults: {message}")


def test_the_error_does_not_chain_the_dataclass_error(tmp_path):
    path = write(tmp_path, '[[budget]]\nid = "a"\nlimit = -1\n')
    with pytest.raises(ConfigurationError) as caught:
        load_policy(path)
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_a_callback_cannot_be_named_in_a_file(tmp_path):
    path = write(tmp_path, '[[budget]]\nid = "a"\nlimit = 1\naction = "my_module:decide"\n')
    fails(path, "budget[0] ('a'): action must be one of warn, block, downgrade, got 'my_module:decide'")


# -- ids across the file ----------------------------------------------------------------------


def test_an_id_used_twice_names_both_tables(tmp_path):
    path = write(
        tmp_path,
        """
        [[budget]]
        id = "search"
        limit = 10
        [[breaker]]
        id = "other"
        [[breaker]]
        id = "search"
        """,
    )
    fails(
        path,
        "breaker[1] ('search'): id 'search' is already used by budget[0]; ids must be unique in the file",
    )


def test_an_id_used_twice_in_one_kind(tmp_path):
    path = write(tmp_path, '[[catalogue]]\nid = "c"\n[[catalogue]]\nid = "c"\n')
    fails(path, "catalogue[1] ('c'): id 'c' is already used by catalogue[0]; ids must be unique in the file")
