"""``otel-tokens budgets`` without a shared store: help, the policy as tables and JSON, and each
input problem as one line and a non-zero exit status. Run as a child process, as a user runs it;
against a real Redis in tests/stack/test_cli_budgets.py."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import datetime

from otel_tokens.budgets import Budget

from ._run import otel_tokens, rows

POLICY = """\
[[budget]]
id = "search-monthly"
limit = 5000
window = "month"
timezone = "Europe/Paris"
match = { team = "search", model = ["gpt-4o*", "claude-*"] }
group_by = ["feature"]

[[budget]]
id = "tokens-hourly"
limit = 100000
unit = "token"
window = "rolling:1h"

[[budget]]
id = "count-all"
window = "lifetime"
action = "warn"

[[breaker]]
id = "runaway-agent"
match = { feature = "agent" }
group_by = ["team"]
max_usd_per_minute = 5.0

[[catalogue]]
id = "search-models"
match = { team = "search" }
models = ["gpt-4o-mini", "claude-haiku-*"]
action = "downgrade"
downgrade_to = "gpt-4o-mini"
"""

MEMORY_NOTE = (
    "The memory store keeps counters inside each process, so this command can only show the policy: "
    "point --store (or OTEL_TOKENS_BUDGET_STORE) at the Redis the services share."
)
BREAKER_NOTE = (
    "Breaker state lives in each process (it is not in the store): see the otel_tokens.breaker.status metric."
)


def policy_file(tmp_path, text: str = POLICY) -> str:
    path = tmp_path / "budgets.toml"
    path.write_text(text)
    return str(path)


def one_line_error(completed: subprocess.CompletedProcess[str], status: int = 1) -> str:
    assert completed.returncode == status, completed.stderr
    assert completed.stdout == ""
    assert completed.stderr.count("\n") == 1 and completed.stderr.startswith("Error: "), completed.stderr
    assert "Traceback" not in completed.stderr
    return completed.stderr.removeprefix("Error: ").rstrip("\n")


# Help and version.


def test_help_lists_the_subcommands_with_examples():
    completed = otel_tokens("--help")
    assert completed.returncode == 0
    assert completed.stdout.startswith("Usage: otel-tokens [OPTIONS] COMMAND [ARGS]...\n")
    assert re.search(r"^  budgets +Show every budget of the policy", completed.stdout, re.MULTILINE)
    assert "Examples:\n" in completed.stdout
    assert "    otel-tokens budgets --policy budgets.toml --store redis://redis.internal:6379/0\n" in (
        completed.stdout
    )


def test_version_is_the_distributions():
    completed = otel_tokens("--version")
    from importlib.metadata import version

    assert (completed.returncode, completed.stdout) == (
        0,
        f"otel-tokens, version {version('otel-tokens-cli')}\n",
    )


def test_budgets_help_shows_examples_and_the_variables():
    completed = otel_tokens("budgets", "--help")
    assert completed.returncode == 0
    assert completed.stdout.startswith("Usage: otel-tokens budgets [OPTIONS]\n")
    assert "Examples:\n" in completed.stdout
    assert "    otel-tokens budgets --policy budgets.toml --store redis://redis.internal:6379/0\n" in (
        completed.stdout
    )
    for variable in (
        "OTEL_TOKENS_BUDGETS",
        "OTEL_TOKENS_BUDGET_STORE",
        "OTEL_TOKENS_BUDGET_KEY_PREFIX",
        "OTEL_TOKENS_BUDGET_STORE_TIMEOUT",
    ):
        assert f"[env var: {variable}]" in " ".join(completed.stdout.split()), variable


def test_the_core_does_not_import_the_command_line_stack():
    code = (
        "import sys, otel_tokens, otel_tokens._guardrail_setup; "
        "print('click' in sys.modules, 'rich' in sys.modules)"
    )
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert completed.stdout == "False False\n"


# Input problems: one line, no traceback.


def test_no_policy_is_a_usage_error():
    message = one_line_error(otel_tokens("budgets"), status=2)
    assert message == "no budget policy: give --policy FILE or set OTEL_TOKENS_BUDGETS"


def test_a_missing_policy_file_is_named(tmp_path):
    path = tmp_path / "nowhere.toml"
    message = one_line_error(otel_tokens("budgets", "--policy", str(path)))
    assert message == f"budgets {path}: cannot read the file: No such file or directory"


def test_an_invalid_policy_names_the_file_the_table_and_the_field(tmp_path):
    path = policy_file(tmp_path, '[[budget]]\nid = "team-cap"\nlimit = -5\n')
    message = one_line_error(otel_tokens("budgets", "--policy", path))
    assert (
        message == f"budgets {path}: budget[0] ('team-cap'): limit must be a finite number at least 0, got -5"
    )


def test_invalid_toml_is_one_line(tmp_path):
    path = policy_file(tmp_path, "[[budget]\n")
    message = one_line_error(otel_tokens("budgets", "--policy", path))
    assert message.startswith(f"budgets {path}: not valid TOML: ")


def test_an_invalid_store_url_names_its_option_and_hides_the_password(tmp_path):
    path = policy_file(tmp_path)
    message = one_line_error(
        otel_tokens("budgets", "--policy", path, "--store", "http://user:hunter2@cache:6379")
    )
    assert message == (
        "--store must be 'memory' or a Redis URL (redis://host:port/db, rediss://..., unix://...), "
        "got 'http://***@cache:6379'"
    )
    from_env = otel_tokens("budgets", "--policy", path, env={"OTEL_TOKENS_BUDGET_STORE": "mem"})
    assert one_line_error(from_env).startswith("OTEL_TOKENS_BUDGET_STORE must be 'memory' or a Redis URL")


def test_an_invalid_timeout_or_prefix_names_its_source(tmp_path):
    path = policy_file(tmp_path)
    message = one_line_error(otel_tokens("budgets", "--policy", path, "--timeout", "0"))
    assert message == "--timeout must be a whole number of milliseconds from 1 to 10000, got '0'"
    completed = otel_tokens("budgets", "--policy", path, env={"OTEL_TOKENS_BUDGET_KEY_PREFIX": "a b"})
    assert one_line_error(completed).startswith("OTEL_TOKENS_BUDGET_KEY_PREFIX must be 1-64 characters")


def test_an_unknown_option_is_clicks_usage_error(tmp_path):
    completed = otel_tokens("budgets", "--polcy", "x.toml")
    assert completed.returncode == 2
    last = completed.stderr.splitlines()[-1]
    assert last.startswith("Error: No such option") and "--polcy" in last, completed.stderr


# The memory store: the policy only, and why.


def test_memory_store_shows_the_policy_and_one_line_saying_why(tmp_path):
    path = policy_file(tmp_path)
    completed = otel_tokens("budgets", "--policy", path)
    assert completed.returncode == 0, completed.stderr
    assert completed.stderr == ""
    out = completed.stdout
    [header] = [line for line in out.splitlines() if line.startswith("Budgets from ")]
    assert header.startswith(f"Budgets from {path} at ") and header.endswith("; store memory")
    generated_at = datetime.fromisoformat(header.split(" at ", 1)[1].split(";")[0])
    start, end = Budget("b", 1, window="month", timezone="Europe/Paris").parsed_window().bounds(generated_at)
    month = f"month: {start:%Y-%m-%d %H:%M} UTC to {end:%Y-%m-%d %H:%M} UTC"
    assert rows(out, "Budgets") == [
        ["search-monthly", "USD", "5,000", month, "feature", "block"],
        ["tokens-hourly", "token", "100,000", "rolling:1h (the last 1h up to now)", "-", "block"],
        ["count-all", "USD", "unlimited", "lifetime (never resets)", "-", "warn"],
    ]
    assert rows(out, "Breakers") == [
        ["runaway-agent", "feature=agent", "team", "5 USD/min, 4 deviations", "block"]
    ]
    assert rows(out, "Model catalogues") == [
        ["search-models", "team=search", "gpt-4o-mini, claude-haiku-*", "-", "downgrade to gpt-4o-mini"]
    ]
    assert out.splitlines()[-2:] == [MEMORY_NOTE, BREAKER_NOTE]


def test_memory_store_json_from_the_environment(tmp_path):
    path = policy_file(tmp_path)
    completed = otel_tokens("budgets", "--json", env={"OTEL_TOKENS_BUDGETS": path})
    assert completed.returncode == 0, completed.stderr
    document = json.loads(completed.stdout)
    generated_at = datetime.fromisoformat(document.pop("generated_at"))
    start, end = Budget("b", 1, window="month", timezone="Europe/Paris").parsed_window().bounds(generated_at)
    rolling_start = (generated_at.timestamp() - 3600, generated_at.timestamp())
    hourly = document["budgets"][1]
    assert (
        datetime.fromisoformat(hourly["window"].pop("start")).timestamp(),
        datetime.fromisoformat(hourly["window"].pop("end")).timestamp(),
    ) == rolling_start
    assert document == {
        "policy": path,
        "store": {
            "kind": "memory",
            "url": "memory",
            "key_prefix": "otel_tokens",
            "timeout_ms": 1000,
            "shared": False,
        },
        "budgets": [
            {
                "id": "search-monthly",
                "unit": "USD",
                "limit": 5000.0,
                "window": {
                    "spec": "month",
                    "kind": "calendar",
                    "timezone": "Europe/Paris",
                    "start": start.isoformat(),
                    "end": end.isoformat(),
                },
                "resets_at": end.isoformat(),
                "match": {"team": ["search"], "model": ["gpt-4o*", "claude-*"]},
                "group_by": ["feature"],
                "action": "block",
                "downgrade_to": None,
                "counters": None,
            },
            {
                "id": "tokens-hourly",
                "unit": "token",
                "limit": 100000.0,
                "window": {"spec": "rolling:1h", "kind": "rolling", "timezone": "UTC"},
                "resets_at": None,
                "match": {},
                "group_by": [],
                "action": "block",
                "downgrade_to": None,
                "counters": None,
            },
            {
                "id": "count-all",
                "unit": "USD",
                "limit": None,
                "window": {
                    "spec": "lifetime",
                    "kind": "lifetime",
                    "timezone": "UTC",
                    "start": None,
                    "end": None,
                },
                "resets_at": None,
                "match": {},
                "group_by": [],
                "action": "warn",
                "downgrade_to": None,
                "counters": None,
            },
        ],
        "breakers": [
            {
                "id": "runaway-agent",
                "match": {"feature": ["agent"]},
                "group_by": ["team"],
                "max_usd_per_minute": 5.0,
                "max_calls_per_minute": None,
                "deviations": 4.0,
                "consecutive_minutes": 3,
                "cooldown_seconds": 300.0,
                "action": "block",
                "downgrade_to": None,
            }
        ],
        "catalogues": [
            {
                "id": "search-models",
                "match": {"team": ["search"]},
                "models": ["gpt-4o-mini", "claude-haiku-*"],
                "max_output_usd_per_million": None,
                "allow_unpriced": False,
                "action": "downgrade",
                "downgrade_to": "gpt-4o-mini",
            }
        ],
        "notes": [MEMORY_NOTE, BREAKER_NOTE],
    }


def test_an_empty_policy_is_an_empty_table(tmp_path):
    completed = otel_tokens("budgets", "--policy", policy_file(tmp_path, ""), "--json")
    assert completed.returncode == 0, completed.stderr
    document = json.loads(completed.stdout)
    assert (document["budgets"], document["breakers"], document["catalogues"]) == ([], [], [])
    assert document["notes"] == [MEMORY_NOTE]
