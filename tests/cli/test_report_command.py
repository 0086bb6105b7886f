"""``otel-tokens report`` as a user runs it, on a ledger of spans the real SDK recorded.

Every expected number is computed here from the spans' own attributes, independently of the
command's code; every output format is parsed back and compared exactly.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from ._ledger import costs, shift
from ._run import otel_tokens, rows

DAY_NS = 86_400 * 10**9


def _starts(document: dict[str, Any]) -> list[int]:
    return [
        int(span["startTimeUnixNano"])
        for rs in document["resourceSpans"]
        for ss in rs["scopeSpans"]
        for span in ss["spans"]
    ]


@pytest.fixture(scope="module")
def window(demo_document: dict[str, Any]) -> tuple[str, str]:
    """--from/--to around the demo's spans: from the first span's minute to an hour later."""
    first = datetime.fromtimestamp(min(_starts(demo_document)) // 10**9, UTC).replace(second=0)
    return first.strftime("%Y-%m-%dT%H:%M:%SZ"), (first + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _expected(document: dict[str, Any], *keys: str) -> dict[tuple[str, ...], float]:
    totals: dict[tuple[str, ...], list[float]] = defaultdict(list)
    for span in costs(document):
        # The model a call is billed as: the one the response names, else the one requested.
        model = span.get("gen_ai.response.model") or span.get("gen_ai.request.model", "")
        key = tuple(model if k == "model" else str(span.get(k, "")) for k in keys)
        totals[key].append(span.get("gen_ai.usage.cost.amount", 0.0))
    return {key: math.fsum(values) for key, values in totals.items()}


def _range(window: tuple[str, str]) -> list[str]:
    return ["--from", window[0], "--to", window[1]]


def test_csv_by_team_equals_the_spans_costs(
    demo_ledger: Path, demo_document: dict[str, Any], window: tuple[str, str]
) -> None:
    result = otel_tokens("report", "--ledger", str(demo_ledger), *_range(window), "--format", "csv")
    assert result.returncode == 0, result.stderr
    table = list(csv.DictReader(io.StringIO(result.stdout)))
    expected = _expected(demo_document, "otel_tokens.tag.team")
    got = {(row["team"],): float(row["cost_usd"]) for row in table if row["team"] != "TOTAL"}
    assert got.keys() == expected.keys()
    for key, cost in expected.items():
        assert got[key] == pytest.approx(cost, rel=1e-12, abs=1e-15)
    [total] = [row for row in table if row["team"] == "TOTAL"]
    assert float(total["cost_usd"]) == pytest.approx(math.fsum(expected.values()), rel=1e-12)
    assert int(total["requests"]) == len(costs(demo_document))
    spans = costs(demo_document)
    assert int(total["cache_read_tokens"]) == sum(
        s.get("gen_ai.usage.cache_read.input_tokens", 0) for s in spans
    )
    assert int(total["reasoning_tokens"]) == sum(
        s.get("gen_ai.usage.reasoning.output_tokens", 0) for s in spans
    )
    assert int(total["unpriced_requests"]) == sum(1 for s in spans if s.get("otel_tokens.price.missing"))


def test_json_by_provider_and_model(
    demo_ledger: Path, demo_document: dict[str, Any], window: tuple[str, str]
) -> None:
    result = otel_tokens(
        "report", "--ledger", str(demo_ledger), *_range(window), "--by", "provider,model", "--format", "json"
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    expected = _expected(demo_document, "gen_ai.provider.name", "model")
    got = {(group["key"]["provider"], group["key"]["model"]): group["cost_usd"] for group in data["groups"]}
    assert got.keys() == expected.keys()
    for key, cost in expected.items():
        assert got[key] == pytest.approx(cost, rel=1e-12, abs=1e-15)
    assert data["totals"]["requests"] == len(costs(demo_document))
    assert {(m["provider"], m["model"]) for m in data["unpriced_models"]} == {
        ("openai", "ft:gpt-4o-mini:bookshop::x7"),
        ("cohere", "rerank-v3.5"),
    }
    assert data["allocation"] == {"owner_tag": "team", "unallocated_cost_usd": 0.0, "accuracy": 1.0}
    assert data["estimated_share"] == pytest.approx(1 / len(costs(demo_document)))
    assert data["previous"] is None
    assert sum(sum(point["cost_usd"].values()) for point in data["timeline"]["points"]) == pytest.approx(
        data["totals"]["cost_usd"], rel=1e-12
    )


def test_table_by_feature(demo_ledger: Path, demo_document: dict[str, Any], window: tuple[str, str]) -> None:
    result = otel_tokens("report", "--ledger", str(demo_ledger), *_range(window), "--by", "feature")
    assert result.returncode == 0, result.stderr
    expected = _expected(demo_document, "otel_tokens.tag.feature")
    table = {row[0]: row for row in rows(result.stdout, "By feature")}
    assert table.keys() == {key[0] for key in expected}
    for (feature,), cost in expected.items():
        assert table[feature][2] == f"${cost:,.4f}"
    assert f"${math.fsum(expected.values()):,.4f}" in result.stdout
    assert "Top spenders by user" in result.stdout


def test_the_previous_period_is_compared(
    tmp_path: Path, demo_document: dict[str, Any], window: tuple[str, str]
) -> None:
    # The same calls a day earlier, and again with the support team's calls doubled.
    earlier = shift(demo_document, -DAY_NS)
    ledger = tmp_path / "ledger"
    ledger.mkdir()
    (ledger / "a.jsonl").write_text(json.dumps(earlier) + "\n" + json.dumps(demo_document) + "\n")
    start = datetime.fromisoformat(window[0])
    result = otel_tokens(
        "report",
        "--ledger",
        str(ledger),
        "--from",
        window[0],
        "--to",
        (start + timedelta(days=1)).isoformat(),
        "--format",
        "json",
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["previous"]["cost_usd"] == pytest.approx(data["totals"]["cost_usd"], rel=1e-12)
    assert all(
        group["change"] == pytest.approx(0.0, abs=1e-12) for group in data["groups"] if group["cost_usd"] > 0
    )


def test_skipped_records_are_reported_never_silently_dropped(
    tmp_path: Path, demo_ledger: Path, demo_document: dict[str, Any], window: tuple[str, str]
) -> None:
    ledger = tmp_path / "partly-broken.jsonl"
    ledger.write_text(demo_ledger.read_text() + '{"resourceSpans": [\n' + "not json at all\n")
    result = otel_tokens("report", "--ledger", str(ledger), *_range(window), "--format", "csv")
    assert result.returncode == 0, result.stderr
    assert "otel-tokens report: 2 skipped:" in result.stderr
    assert "partly-broken.jsonl:2" in result.stderr
    table = otel_tokens("report", "--ledger", str(ledger), *_range(window))
    assert "2 skipped:" in table.stdout


def test_html_page_is_written(
    tmp_path: Path, demo_ledger: Path, demo_document: dict[str, Any], window: tuple[str, str]
) -> None:
    page = tmp_path / "spend.html"
    result = otel_tokens(
        "report", "--ledger", str(demo_ledger), *_range(window), "--format", "html", "-o", str(page)
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    html = page.read_text(encoding="utf-8")
    assert html.lstrip().lower().startswith("<!doctype html>")
    assert "<svg" in html and "support" in html


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--ledger", "/nonexistent/ledger"], "Error: /nonexistent/ledger"),
        (["--from", "2026-11-02", "--to", "2026-11-01"], "is empty: its end is not after its start"),
        (["--month", "2026-13"], "'2026-13' is not a month like 2026-11"),
        (["--last", "7 days"], "'7 days' is not a duration like 24h, 7d or 4w"),
        (["--by", "team,"], None),
        (["--by", "team;drop"], "'team;drop' is neither a dimension"),
        (["--frobnicate"], "No such option '--frobnicate'"),
        (["--format", "xlsx"], "'xlsx' is not one of"),
    ],
)
def test_bad_input_is_one_clear_line(demo_ledger: Path, args: list[str], message: str | None) -> None:
    base = [] if "--ledger" in args else ["--ledger", str(demo_ledger)]
    result = otel_tokens("report", *base, *args)
    if message is None:  # a trailing comma is harmless
        assert result.returncode in (0, 1), result.stderr
        return
    assert result.returncode != 0
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert [line for line in result.stderr.splitlines() if line.startswith("Error")] != []


def test_no_source_and_no_calls(demo_ledger: Path) -> None:
    none = otel_tokens("report", "--month", "2026-11")
    assert none.returncode == 2
    assert "give a source: --prometheus URL" in none.stderr
    empty = otel_tokens("report", "--ledger", str(demo_ledger), "--month", "2020-01")
    assert empty.returncode == 1
    assert (
        f"no LLM calls in ledger {demo_ledger} from 2020-01-01T00:00:00Z to 2020-02-01T00:00:00Z"
        in empty.stderr
    )


def test_not_a_ledger(tmp_path: Path) -> None:
    metrics = tmp_path / "metrics.json"
    metrics.write_text('{"resourceMetrics": []}\n')
    result = otel_tokens("report", "--ledger", str(metrics), "--month", "2026-11")
    assert result.returncode == 1
    assert "skipped" in result.stderr and "Traceback" not in result.stderr
