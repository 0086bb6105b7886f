"""``otel-tokens report`` on what the real stack recorded: Prometheus's series and the gateway's ledger.

The workload's costs are known in advance: every span it sent is kept (stack.sent_spans), and the
recording backend got them through the real agent and gateway. The report, read back from
Prometheus (through remote write) and from the ledger's files (the real file exporter), must give
exactly those costs for every grouping and in every output format.
"""

from __future__ import annotations

import csv
import io
import json
import math
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from ..cli._run import rows
from ._e2e import Stack

# Tags the metrics carry as labels (a per-user tag stays on spans; see the README).
METRIC_DIMENSIONS = ("team", "provider,model", "service", "project,cost_center")


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "otel_tokens_cli", "report", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "COLUMNS": "250", "NO_COLOR": "1"},
    )


def _window(stack: Stack) -> list[str]:
    start = datetime.fromtimestamp(stack.started_at - 60, UTC).replace(second=0, microsecond=0)
    end = datetime.fromtimestamp(time.time() + 120, UTC).replace(microsecond=0)
    return ["--from", start.isoformat(), "--to", end.isoformat()]


def _value(span: dict[str, Any], dimension: str) -> str:
    attributes = span["attributes"]
    if dimension == "provider":
        return str(attributes.get("gen_ai.provider.name", ""))
    if dimension == "model":
        return str(attributes.get("gen_ai.response.model") or attributes.get("gen_ai.request.model", ""))
    if dimension == "service":
        return str(span["resource"].get("service.name", ""))
    return str(attributes.get(f"otel_tokens.tag.{dimension}", ""))


def _expected(stack: Stack, dimensions: Sequence[str]) -> dict[tuple[str, ...], float]:
    """Cost per group from the spans the backend received (the calls as made)."""
    parts: dict[tuple[str, ...], list[float]] = defaultdict(list)
    for span in stack.backend.spans:
        attributes = span["attributes"]
        if "gen_ai.operation.name" not in attributes:
            continue
        key = tuple(_value(span, dimension) for dimension in dimensions)
        parts[key].append(attributes.get("gen_ai.usage.cost.amount", 0.0))
    return {key: math.fsum(values) for key, values in parts.items()}


def _same(got: dict[tuple[str, ...], float], expected: dict[tuple[str, ...], float]) -> None:
    assert got.keys() == expected.keys()
    for key, cost in expected.items():
        assert math.isclose(got[key], cost, rel_tol=1e-9, abs_tol=1e-12), (key, got[key], cost)


def _csv(stdout: str, dimensions: Sequence[str]) -> dict[tuple[str, ...], float]:
    rows = list(csv.DictReader(io.StringIO(stdout)))
    return {
        tuple(row[d] for d in dimensions): float(row["cost_usd"])
        for row in rows
        if row[dimensions[0]] != "TOTAL"
    }


def _json(stdout: str, dimensions: Sequence[str]) -> dict[tuple[str, ...], float]:
    data = json.loads(stdout)
    return {tuple(group["key"][d] for d in dimensions): group["cost_usd"] for group in data["groups"]}


def _focus(stdout: str, dimensions: Sequence[str]) -> dict[tuple[str, ...], float]:
    """Billed cost per group, summed over FOCUS rows (the tag set is in Tags)."""
    got: dict[tuple[str, ...], list[float]] = defaultdict(list)
    for row in csv.DictReader(io.StringIO(stdout)):
        tags = json.loads(row["Tags"]) if row["Tags"] else {}
        got[tuple(tags.get(d, "") for d in dimensions)].append(float(row["BilledCost"]))
    return {key: math.fsum(values) for key, values in got.items()}


PARSERS: dict[str, Callable[[str, Sequence[str]], dict[tuple[str, ...], float]]] = {
    "csv": _csv,
    "json": _json,
}


@pytest.fixture(params=["prometheus", "ledger"])
def source(request: pytest.FixtureRequest, stack: Stack) -> list[str]:
    if request.param == "prometheus":
        return ["--prometheus", stack.prometheus]
    return ["--ledger", str(stack.ledger)]


@pytest.mark.parametrize("by", METRIC_DIMENSIONS)
@pytest.mark.parametrize("output", sorted(PARSERS))
def test_every_grouping_equals_the_workloads_costs(
    stack: Stack, source: list[str], by: str, output: str
) -> None:
    result = _run(*source, *_window(stack), "--by", by, "--format", output)
    assert result.returncode == 0, result.stderr
    dimensions = by.split(",")
    _same(PARSERS[output](result.stdout, dimensions), _expected(stack, dimensions))


def test_table_totals_equal_the_workloads(stack: Stack, source: list[str]) -> None:
    result = _run(*source, *_window(stack), "--by", "team")
    assert result.returncode == 0, result.stderr
    headline = dict(rows(result.stdout, "LLM spend"))
    assert headline["cost"] == f"${math.fsum(_expected(stack, ['team']).values()):,.4f}"
    llm_calls = sum(1 for span in stack.backend.spans if "gen_ai.operation.name" in span["attributes"])
    assert headline["calls"] == f"{llm_calls:,}"
    teams = {row[0]: row[2] for row in rows(result.stdout, "By team")}
    assert teams == {
        (key[0] or "(none)"): f"${cost:,.4f}" for key, cost in _expected(stack, ["team"]).items()
    }


def test_focus_rows_bill_exactly_the_workloads_costs(stack: Stack, source: list[str]) -> None:
    result = _run(*source, *_window(stack), "--format", "focus")
    assert result.returncode == 0, result.stderr
    _same(
        _focus(result.stdout, ["team"]),
        {key: cost for key, cost in _expected(stack, ["team"]).items() if cost > 0},
    )


def test_the_ledger_holds_per_user_tags_the_metrics_do_not(stack: Stack) -> None:
    result = _run("--ledger", str(stack.ledger), *_window(stack), "--by", "user", "--format", "json")
    assert result.returncode == 0, result.stderr
    _same(_json(result.stdout, ["user"]), _expected(stack, ["user"]))


def test_token_counts_agree_between_the_two_sources(stack: Stack) -> None:
    totals = {}
    for name, source in (
        ("prometheus", ["--prometheus", stack.prometheus]),
        ("ledger", ["--ledger", str(stack.ledger)]),
    ):
        result = _run(*source, *_window(stack), "--format", "json")
        assert result.returncode == 0, result.stderr
        totals[name] = json.loads(result.stdout)["totals"]
    fields = ("requests", "reasoning_tokens", "unpriced_requests", "estimated_requests", "error_requests")
    for field in fields:
        assert totals["prometheus"][field] == totals["ledger"][field], field
    # Search units (rerank) are on spans only: no metric counts them.
    ledger_tokens = totals["ledger"]["tokens"]
    assert ledger_tokens["search_units"] > 0 and totals["prometheus"]["tokens"]["search_units"] == 0
    assert totals["prometheus"]["tokens"] == {**ledger_tokens, "search_units": 0}
    assert math.isclose(totals["prometheus"]["cost_usd"], totals["ledger"]["cost_usd"], rel_tol=1e-9)


def test_a_url_that_is_not_prometheus_is_one_clear_line(stack: Stack) -> None:
    # The backend receiver answers HTTP but is no Prometheus API.
    result = _run("--prometheus", stack.backend.endpoint, "--last", "1h")
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("Error: ")
    assert "Traceback" not in result.stderr


def test_the_html_page_in_chromium_shows_the_csv_totals_and_a_chart(
    stack: Stack, source: list[str], chromium_bin: str, tmp_path: Path
) -> None:
    from ..cli.test_html import PageReader, text
    from .test_html_chromium import bar_spans, hex_rgb, read_png, run_chromium

    page = tmp_path / "spend.html"
    query = [*source, *_window(stack), "--by", "team"]
    html = _run(*query, "--format", "html", "-o", str(page))
    assert html.returncode == 0, html.stderr
    table = _run(*query, "--format", "csv")
    assert table.returncode == 0, table.stderr
    csv_costs = _csv(table.stdout, ["team"])
    [total] = [row for row in csv.DictReader(io.StringIO(table.stdout)) if row["team"] == "TOTAL"]

    dom = PageReader(run_chromium(chromium_bin, tmp_path, "--dump-dom", page.as_uri()))
    assert float(dom.by_id("total-cost").attrs["data-usd"]) == float(total["cost_usd"])
    assert text(dom.by_id("total-calls")) == f"{int(total['requests']):,}"
    rows = {row.attrs["data-key"]: float(row.attrs["data-usd"]) for row in dom.by_class("group", "tr")}
    assert rows == {(key[0] or "(none)"): cost for key, cost in csv_costs.items()}

    screenshot = tmp_path / "spend.png"
    run_chromium(chromium_bin, tmp_path, f"--screenshot={screenshot}", page.as_uri())
    image = read_png(screenshot)
    bars = PageReader(page.read_text()).by_class("bar", "rect")
    colours = {bar.attrs["fill"] for bar in bars if float(bar.attrs["height"]) >= 2}
    assert colours, "the page has no bar tall enough to see"
    for colour in colours:
        assert bar_spans(image, hex_rgb(colour)), f"no bar drawn in {colour}"
