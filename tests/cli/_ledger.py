"""Ledger files for the reporting commands' tests, from spans the real SDK recorded.

``python -m tests.cli._ledger OUT.jsonl`` runs the demo's workload (the real client SDKs against
the fake provider server, instrumented by ``otel_tokens.init()``) in its own process and writes
its spans as OTLP JSON lines, encoded as the collector's file exporter encodes them: the SDK's
own protobuf encoder, then the protobuf JSON mapping with ids as hex (OTLP JSON's one
difference from the plain mapping, which writes bytes as base64).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from google.protobuf.json_format import MessageToDict
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.trace import ReadableSpan


def _hex_ids(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            key: base64.b64decode(item).hex()
            if key in ("traceId", "spanId", "parentSpanId")
            else _hex_ids(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_hex_ids(item) for item in value]
    return value


def otlp_json(spans: Sequence[ReadableSpan]) -> dict[str, Any]:
    """An ``ExportTraceServiceRequest`` in OTLP JSON: int64 as strings, ids as hex."""
    return _hex_ids(MessageToDict(encode_spans(spans)))  # type: ignore[no-any-return]


def shift(document: dict[str, Any], nanoseconds: int) -> dict[str, Any]:
    """Other calls like the document's: every span moved by ``nanoseconds``, with new span ids."""
    moved = json.loads(json.dumps(document))
    for resource_spans in moved["resourceSpans"]:
        for scope_spans in resource_spans["scopeSpans"]:
            for span in scope_spans["spans"]:
                for field in ("startTimeUnixNano", "endTimeUnixNano"):
                    span[field] = str(int(span[field]) + nanoseconds)
                span["spanId"] = hashlib.sha256(f"{span['spanId']}{nanoseconds}".encode()).hexdigest()[:16]
    return moved


def costs(document: dict[str, Any]) -> list[dict[str, Any]]:
    """Every span's attributes as plain values, for expected totals computed independently."""
    found = []
    for resource_spans in document["resourceSpans"]:
        for scope_spans in resource_spans["scopeSpans"]:
            for span in scope_spans["spans"]:
                attributes = {}
                for item in span.get("attributes", []):
                    value = item["value"]
                    kind, raw = next(iter(value.items()))
                    attributes[item["key"]] = int(raw) if kind == "intValue" else raw
                found.append(attributes)
    return found


def _write_demo_ledger(path: Path) -> None:
    from otel_tokens_fake_providers import FakeProviderServer

    import otel_tokens
    from otel_tokens.demo import run_other_providers, run_workload
    from otel_tokens.testing import InMemoryTelemetry

    os.environ["OTEL_SERVICE_NAME"] = "bookshop"  # read by the tracer provider's default resource
    telemetry = InMemoryTelemetry()
    otel_tokens.init(tracer_provider=telemetry.tracer_provider, meter_provider=telemetry.meter_provider)
    with FakeProviderServer() as server:
        run_workload(server.url, server)
        run_other_providers(server.url, server)
    otel_tokens.flush()
    spans = telemetry.spans()
    otel_tokens.shutdown()
    path.write_text(json.dumps(otlp_json(spans)) + "\n", encoding="utf-8")


if __name__ == "__main__":
    _write_demo_ledger(Path(sys.argv[1]))
