"""``otel-tokens forecast`` run as a user runs it (a child process) on an OTLP JSON ledger written
here: a constant $10 a day, the month and a budget forecast as of ``--now``; each input problem
one line."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ._run import otel_tokens, rows
from .test_recommend_command import one_line_error, span, write_ledger

POLICY = """\
[[budget]]
id = "search-monthly"
limit = 200
window = "month"
timezone = "Europe/Paris"
match = { feature = "search" }

[[budget]]
id = "forever"
window = "lifetime"
"""


def ledger(tmp_path: Path, first: datetime, last: datetime) -> str:
    """A $2.50 call of the search feature every 6 hours from ``first`` to before ``last``."""
    spans = []
    moment = first
    while moment < last:
        spans.append(
            span(len(spans) + 1, moment, model="gpt-4o-mini", input_tokens=1_000, output_tokens=100, cost=2.5,
                 tags={"feature": "search", "team": "growth"})
        )  # fmt: skip
        moment += timedelta(hours=6)
    return write_ledger(tmp_path / "ledger.jsonl", spans)


def policy(tmp_path: Path, text: str = POLICY) -> str:
    path = tmp_path / "budgets.toml"
    path.write_text(text)
    return str(path)


NOW = "2026-12-31T00:00Z"


def test_json_forecasts_the_month_and_each_budget_into_the_new_year(tmp_path):
    source = ledger(tmp_path, datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 12, 31, tzinfo=UTC))
    completed = otel_tokens(
        "forecast", "--ledger", source, "--policy", policy(tmp_path), "--now", NOW, "--json"
    )
    assert completed.returncode == 0, completed.stderr
    document = json.loads(completed.stdout)
    assert document["now"] == "2026-12-31T00:00:00Z"
    assert document["history"] == {"days": 14, "from": "2026-12-17", "to": "2026-12-30"}
    month, budget = document["forecasts"]
    assert month["period"] == {"start": "2026-12-01T00:00:00Z", "end": "2027-01-01T00:00:00Z"}
    assert (month["spent"], month["low"], month["expected"], month["high"]) == (300.0, 310.0, 310.0, 310.0)
    assert month["burn"]["pattern"] == "weekday" and month["burn"]["history_days"] == 14
    assert month["burn"]["daily_mean"] == 10.0
    # Paris is UTC+1: its December runs from 30 November 23:00 to 31 December 23:00 UTC.
    assert budget["budget"] == "search-monthly"
    assert budget["period"] == {"start": "2026-11-30T23:00:00Z", "end": "2026-12-31T23:00:00Z"}
    assert budget["resets_at"] == "2026-12-31T23:00:00Z"
    # The calls of 1 to 30 December (the 30 November 18:00 one is before 23:00), then 23 hours of
    # the last day at $10 a day.
    assert budget["spent"] == 300.0
    assert abs(budget["expected"] - (300.0 + 10 * 23 / 24)) < 1e-9
    assert budget["limit"] == 200.0 and budget["exhausted"] is True
    assert document["notes"] == ["budget forever: a lifetime budget never resets, so it has no forecast"]


def test_the_table_on_the_first_day_of_a_month(tmp_path):
    source = ledger(tmp_path, datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 11, 1, tzinfo=UTC))
    completed = otel_tokens("forecast", "--ledger", source, "--now", "2026-11-01", "--pattern", "flat")
    assert completed.returncode == 0, completed.stderr
    first_line = completed.stdout.splitlines()[0]
    assert first_line == (
        f"Forecast from ledger {source} as of 2026-11-01 00:00 UTC; "
        "history: 2026-10-18 to 2026-10-31 (UTC days)"
    )
    (month,) = rows(completed.stdout, "Forecast")
    assert month[:8] == ["this month", "-", "2026-12-01 00:00", "$0.00", "$300.00", "$300.00", "$300.00", "-"]
    assert month[-1] == "$10.00/day over 14 days"
    assert "Method: Expected = spent so far" in completed.stdout


def test_help_shows_examples():
    completed = otel_tokens("forecast", "--help")
    assert completed.returncode == 0
    assert "  Examples:\n    otel-tokens forecast --ledger /var/lib/otel-tokens/ledger\n" in completed.stdout


def test_a_bad_now_is_one_line(tmp_path):
    source = ledger(tmp_path, datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 11, 2, tzinfo=UTC))
    message = one_line_error(otel_tokens("forecast", "--ledger", source, "--now", "yesterday"), 2)
    assert message == "--now 'yesterday' is not an ISO date or time (2026-11-01, 2026-11-01T09:00Z)"


def test_a_bad_policy_is_one_line(tmp_path):
    source = ledger(tmp_path, datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 11, 2, tzinfo=UTC))
    bad = policy(tmp_path, "[[budget]]\nid = 'x'\nlimit = -5\n")
    message = one_line_error(otel_tokens("forecast", "--ledger", source, "--policy", bad, "--now", NOW), 1)
    assert message.startswith(f"budgets {bad}: budget[0] ('x'): limit must be")


def test_a_policy_from_the_environment(tmp_path):
    source = ledger(tmp_path, datetime(2026, 12, 1, tzinfo=UTC), datetime(2026, 12, 31, tzinfo=UTC))
    completed = otel_tokens(
        "forecast", "--ledger", source, "--now", NOW, "--json", env={"OTEL_TOKENS_BUDGETS": policy(tmp_path)}
    )
    assert completed.returncode == 0, completed.stderr
    assert [f["name"] for f in json.loads(completed.stdout)["forecasts"]] == ["this month", "search-monthly"]


def test_no_calls_is_one_line(tmp_path):
    source = ledger(tmp_path, datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 2, tzinfo=UTC))
    message = one_line_error(otel_tokens("forecast", "--ledger", source, "--now", NOW), 1)
    assert message.startswith("no LLM calls in ledger ")
