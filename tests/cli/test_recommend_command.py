"""``otel-tokens recommend`` run as a user runs it (a child process) on an OTLP JSON ledger written
here, span attributes as README "What is recorded" lists them; each input problem one line."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from ._run import otel_tokens, rows


def _value(value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}  # int64 as a string, as OTLP JSON writes it
    if isinstance(value, float):
        return {"doubleValue": value}
    return {"stringValue": value}


def span(
    index: int,
    when: datetime,
    *,
    model: str,
    input_tokens: int,
    output_tokens: int,
    cost: float | None,
    provider: str = "openai",
    cache_read: int = 0,
    tags: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """One LLM call's span with the attributes the SDK records."""
    attributes: dict[str, Any] = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": provider,
        "gen_ai.request.model": model,
        "gen_ai.response.model": model,
        "server.address": "api.openai.com",
        "gen_ai.usage.input_tokens": input_tokens,
        "gen_ai.usage.output_tokens": output_tokens,
    }
    if cache_read:
        attributes["gen_ai.usage.cache_read.input_tokens"] = cache_read
    if cost is None:
        attributes["otel_tokens.price.missing"] = True
    else:
        attributes.update({"gen_ai.usage.cost.amount": cost, "gen_ai.usage.cost.currency": "USD"})
        attributes["otel_tokens.price.source"] = "genai-prices 0.2.3"
    for key, value in (tags or {}).items():
        attributes[f"otel_tokens.tag.{key}"] = value
    nanos = int(when.timestamp()) * 1_000_000_000
    return {
        "traceId": f"{index:032x}",
        "spanId": f"{index:016x}",
        "name": f"chat {model}",
        "kind": 3,
        "startTimeUnixNano": str(nanos),
        "endTimeUnixNano": str(nanos + 1_500_000_000),
        "attributes": [{"key": key, "value": _value(value)} for key, value in attributes.items()],
        "status": {},
    }


def write_ledger(path: Path, spans: list[dict[str, Any]]) -> str:
    """An ExportTraceServiceRequest as one JSON line, as the collector's file exporter writes it."""
    document = {
        "resourceSpans": [
            {
                "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "shop"}}]},
                "scopeSpans": [{"scope": {"name": "otel_tokens"}, "spans": spans}],
            }
        ]
    }
    path.write_text(json.dumps(document) + "\n", encoding="utf-8")
    return str(path)


START = datetime(2026, 11, 1, tzinfo=UTC)
# gpt-4o and gpt-4o-mini, USD per million input / cached input / output tokens (published rates).
GPT_4O = (Decimal("2.50"), Decimal("1.25"), Decimal("10"))
GPT_4O_MINI = (Decimal("0.15"), Decimal("0.075"), Decimal("0.60"))
SEARCH = [(6_000, 2_000, 400), (9_000, 0, 800), (2_500, 1_024, 150)] * 4  # 12 calls


def _priced(
    rates: tuple[Decimal, Decimal, Decimal], input_tokens: int, cached: int, output_tokens: int
) -> Decimal:
    rate_in, rate_cached, rate_out = rates
    return ((input_tokens - cached) * rate_in + cached * rate_cached + output_tokens * rate_out) / 1_000_000


def ledger(tmp_path: Path) -> str:
    spans = [
        span(n + 1, START + timedelta(days=2 * n, hours=3), model="gpt-4o", input_tokens=i, output_tokens=o,
             cache_read=c, cost=float(_priced(GPT_4O, i, c, o)), tags={"feature": "search", "team": "growth"})
        for n, (i, c, o) in enumerate(SEARCH)
    ]  # fmt: skip
    spans.append(
        span(
            100,
            START + timedelta(days=3),
            model="acme-llm-7",
            input_tokens=500,
            output_tokens=40,
            cost=None,
            tags={"team": "labs"},
        )
    )
    return write_ledger(tmp_path / "ledger.jsonl", spans)


RANGE = ("--from", "2026-11-01", "--to", "2026-12-01")


def test_json_names_the_saving_of_gpt_4o_mini_with_its_evidence(tmp_path):
    completed = otel_tokens(
        "recommend", "--ledger", ledger(tmp_path), *RANGE, "--candidates", "gpt-4o-mini", "--json"
    )
    assert completed.returncode == 0, completed.stderr
    document = json.loads(completed.stdout)
    assert document["range"] == {
        "start": "2026-11-01T00:00:00Z",
        "end": "2026-12-01T00:00:00Z",
        "counted_to": "2026-12-01T00:00:00Z",
        "days": 30.0,
    }
    (switch,) = document["switches"]
    current = sum(_priced(GPT_4O, *c) for c in SEARCH)
    mini = sum(_priced(GPT_4O_MINI, *c) for c in SEARCH)
    assert switch["group"] == {"key": "feature", "value": "search"}
    assert (switch["provider"], switch["model"], switch["current_cost_basis"]) == (
        "openai",
        "gpt-4o",
        "repriced",
    )
    assert abs(switch["current_cost_usd"] - float(current)) < 1e-12
    evidence = switch["evidence"]
    assert (evidence["calls"], evidence["input_tokens"], evidence["output_tokens"]) == (
        12, sum(i for i, _, _ in SEARCH), sum(o for _, _, o in SEARCH),
    )  # fmt: skip
    assert abs(evidence["recorded_cost_usd"] - float(current)) < 1e-12
    assert evidence["range"]["start"] == "2026-11-01T00:00:00Z"
    (candidate,) = switch["candidates"]
    assert candidate["model"] == "gpt-4o-mini"
    assert abs(candidate["saving_usd"] - float(current - mini)) < 1e-12
    assert abs(candidate["saving_per_month_usd"] - float(current - mini) * 30.44 / 30) < 1e-12
    assert candidate["context_fit"] == {
        "context_window": 128_000,
        "fitting_calls": 12,
        "calls_with_size": 12,
        "share": 1.0,
        "kind": "exact",
    }
    assert switch["assumptions"] == ["same token counts; quality not judged"]
    (unpriced,) = document["unpriced"]
    assert (unpriced["model"], unpriced["groups"], unpriced["check"]) == (
        "acme-llm-7", ["team=labs"], "otel-tokens prices acme-llm-7 --provider openai",
    )  # fmt: skip
    # 12,096 of the 70,000 input tokens (17%) were read from the cache: above --max-cache-read 10%.
    assert document["caching"] == []
    assert document["notes"] == ["No call before the range in the source: no jumps can be compared."]


def test_the_table_shows_each_recommendation(tmp_path):
    completed = otel_tokens("recommend", "--ledger", ledger(tmp_path), *RANGE, "--candidates", "gpt-4o-mini")
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.startswith(
        "Recommendations from ledger " + str(tmp_path / "ledger.jsonl") + ", 2026-11-01T00:00:00Z to "
        "2026-12-01T00:00:00Z (30.00 days); each call grouped by the first of feature, team it has\n"
    )
    (switch,) = rows(completed.stdout, "Cheaper models (same token counts; quality not judged)")
    assert switch[:3] == ["feature=search", "openai/gpt-4o", "12"]
    assert switch[6] == "gpt-4o-mini" and switch[10] == "100% of 12 (128,000 tokens)"
    (unpriced,) = rows(completed.stdout, "Unpriced models (add a [[price]] override)")
    assert unpriced == [
        "openai",
        "acme-llm-7",
        "1",
        "500",
        "40",
        "team=labs",
        "otel-tokens prices acme-llm-7 --provider openai",
    ]
    assert "No jump against the period before." in completed.stdout
    assert "Assumptions:" in completed.stdout


def test_help_shows_examples():
    completed = otel_tokens("recommend", "--help")
    assert completed.returncode == 0
    assert (
        "  Examples:\n    otel-tokens recommend --ledger /var/lib/otel-tokens/ledger --last 30d\n"
        in completed.stdout
    )


def one_line_error(completed, status: int) -> str:
    assert completed.returncode == status, completed.stderr
    assert completed.stdout == ""
    assert completed.stderr.count("\n") == 1 and completed.stderr.startswith("Error: "), completed.stderr
    return completed.stderr.removeprefix("Error: ").rstrip("\n")


def test_a_missing_ledger_is_one_line(tmp_path):
    missing = tmp_path / "nope.jsonl"
    message = one_line_error(otel_tokens("recommend", "--ledger", str(missing), *RANGE), 1)
    assert str(missing) in message


def test_a_range_without_calls_is_one_line(tmp_path):
    completed = otel_tokens(
        "recommend", "--ledger", ledger(tmp_path), "--from", "2025-01-01", "--to", "2025-02-01"
    )
    assert one_line_error(completed, 1).startswith("no LLM calls in ledger ")


def test_a_bad_option_value_is_one_line(tmp_path):
    completed = otel_tokens("recommend", "--ledger", ledger(tmp_path), *RANGE, "--prefix-share", "1.5")
    assert one_line_error(completed, 2) == "--prefix-share must be a share above 0 and at most 1, got 1.5"


def test_a_bad_overrides_file_is_one_line(tmp_path):
    overrides = tmp_path / "prices.toml"
    overrides.write_text("[[price]]\nmodel = 'x'\n")
    completed = otel_tokens("recommend", "--ledger", ledger(tmp_path), *RANGE, "--overrides", str(overrides))
    assert "input_per_mtok" in one_line_error(completed, 1)
