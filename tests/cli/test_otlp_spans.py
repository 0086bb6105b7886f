"""OTLP JSON documents -> usage records: every LLM span once, priced as recorded, nothing lost silently."""

from __future__ import annotations

import copy
import math
from datetime import UTC, datetime
from typing import Any

import pytest
from otel_tokens_cli._otlp_spans import SpanReader
from otel_tokens_cli._records import TokenClass

from ._ledger import costs


def _spans(document: dict[str, Any]) -> list[dict[str, Any]]:
    return [span for rs in document["resourceSpans"] for ss in rs["scopeSpans"] for span in ss["spans"]]


def _read(document: dict[str, Any]) -> SpanReader:
    reader = SpanReader()
    reader.add(document, "demo.jsonl:1")
    return reader


def test_every_llm_span_is_one_record_with_its_recorded_cost(demo_document: dict[str, Any]) -> None:
    reader = _read(demo_document)
    spans = costs(demo_document)
    assert len(reader.records) == len(spans) > 15
    assert reader.skips.total == 0
    recorded = math.fsum(span.get("gen_ai.usage.cost.amount", 0.0) for span in spans)
    assert math.fsum(record.cost for record in reader.records) == pytest.approx(recorded, rel=1e-12)
    assert all(record.service == "otel-tokens-demo" and record.requests == 1 for record in reader.records)


def test_token_classes_add_up_to_the_spans_counts(demo_document: dict[str, Any]) -> None:
    reader = _read(demo_document)
    for record, span in zip(reader.records, costs(demo_document), strict=True):
        assert record.input_tokens == span.get("gen_ai.usage.input_tokens", 0)
        assert record.output_tokens == span.get("gen_ai.usage.output_tokens", 0)
        assert record.tokens[TokenClass.CACHE_READ] == span.get("gen_ai.usage.cache_read.input_tokens", 0)
        assert record.reasoning_tokens == span.get("gen_ai.usage.reasoning.output_tokens", 0)
        assert record.tag_map == {
            key.removeprefix("otel_tokens.tag."): value
            for key, value in span.items()
            if key.startswith("otel_tokens.tag.")
        }
        if "gen_ai.usage.cost.amount" in span:
            assert math.fsum(record.class_costs.values()) == pytest.approx(
                span["gen_ai.usage.cost.amount"], rel=1e-9, abs=1e-15
            )
            assert record.price_source == span["otel_tokens.price.source"]


def test_unpriced_estimated_and_failed_calls_are_marked(demo_document: dict[str, Any]) -> None:
    records = _read(demo_document).records
    unpriced = {record.model for record in records if record.unpriced_requests}
    assert unpriced == {"ft:gpt-4o-mini:bookshop::x7", "rerank-v3.5"}
    assert [record.model for record in records if record.estimated_requests] == ["gpt-4o-mini"]
    [failed] = [record for record in records if record.error_requests]
    assert (failed.cost, failed.unpriced_requests, failed.input_tokens) == (0.0, 0, 0)
    # Ollama's local model costs 0 as priced (not unpriced).
    [local] = [record for record in records if record.provider == "ollama"]
    assert (local.cost, local.unpriced_requests, local.price_source) == (0.0, 0, "local-model")


def test_times_are_parsed_from_int64_strings(demo_document: dict[str, Any]) -> None:
    document = copy.deepcopy(demo_document)
    span = _spans(document)[0]
    span["startTimeUnixNano"] = "1764547200123456789"  # 2025-12-01T00:00:00.123456789Z
    span["endTimeUnixNano"] = "1764547201000000000"
    record = _read(document).records[0]
    assert record.start == datetime(2025, 12, 1, 0, 0, 0, 123456, tzinfo=UTC)
    assert record.end == datetime(2025, 12, 1, 0, 0, 1, tzinfo=UTC)


def test_a_span_seen_twice_counts_once(demo_document: dict[str, Any]) -> None:
    reader = SpanReader()
    reader.add(demo_document, "a.jsonl:1")
    reader.add(demo_document, "b.jsonl:1")
    assert len(reader.records) == len(costs(demo_document))
    assert reader.skips.counts == {"duplicate span (same trace and span id)": len(reader.records)}
    assert reader.skips.examples["duplicate span (same trace and span id)"] == "b.jsonl:1"


@pytest.mark.parametrize(
    ("attribute", "value", "reason"),
    [
        ("gen_ai.usage.input_tokens", {"intValue": "many"}, "intValue 'many' is not an integer"),
        (
            "gen_ai.usage.output_tokens",
            {"intValue": "-3"},
            "gen_ai.usage.output_tokens = -3 is not a token count",
        ),
        (
            "gen_ai.usage.cost.amount",
            {"doubleValue": "NaN"},
            "gen_ai.usage.cost.amount = nan is not an amount in USD",
        ),
        (
            "gen_ai.usage.cost.amount",
            {"stringValue": "0.1"},
            "gen_ai.usage.cost.amount = '0.1' is not an amount in USD",
        ),
    ],
)
def test_a_malformed_span_is_skipped_with_its_reason(
    demo_document: dict[str, Any], attribute: str, value: dict[str, Any], reason: str
) -> None:
    document = copy.deepcopy(demo_document)
    span = _spans(document)[0]
    span["attributes"] = [item for item in span["attributes"] if item["key"] != attribute]
    span["attributes"].append({"key": attribute, "value": value})
    reader = _read(document)
    assert len(reader.records) == len(costs(demo_document)) - 1
    assert reader.skips.counts == {f"malformed LLM span: {reason}": 1}


def test_a_span_without_times_is_skipped(demo_document: dict[str, Any]) -> None:
    document = copy.deepcopy(demo_document)
    del _spans(document)[0]["startTimeUnixNano"]
    assert _read(document).skips.counts == {"malformed LLM span: startTimeUnixNano is missing": 1}


def test_other_spans_are_ignored_and_other_documents_counted(demo_document: dict[str, Any]) -> None:
    document = copy.deepcopy(demo_document)
    span = _spans(document)[0]
    span["attributes"] = [{"key": "http.request.method", "value": {"stringValue": "GET"}}]
    reader = _read(document)
    assert len(reader.records) == len(costs(demo_document)) - 1
    assert reader.skips.total == 0
    reader.add({"resourceMetrics": []}, "metrics.json:1")
    assert reader.skips.counts == {"not an OTLP JSON trace document (no resourceSpans)": 1}


def test_status_code_as_number_marks_an_error(demo_document: dict[str, Any]) -> None:
    document = copy.deepcopy(demo_document)
    span = _spans(document)[0]
    span["status"] = {"code": 2, "message": "boom"}
    assert _read(document).records[0].error_requests == 1
