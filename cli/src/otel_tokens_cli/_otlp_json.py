"""Finished spans -> OTLP JSON, as the collector's file exporter and the ledger reader spell it.

The SDK's own protobuf encoder builds the ``ExportTraceServiceRequest``; protobuf's JSON mapping
then writes it with lowerCamelCase names and 64-bit integers as strings, which OTLP JSON keeps,
and bytes as base64, which OTLP JSON replaces by hex for trace and span ids.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from google.protobuf.json_format import MessageToDict
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.trace import ReadableSpan

__all__ = ["append_ledger", "otlp_json"]

_IDS = ("traceId", "spanId", "parentSpanId")


def _hex_ids(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            key: base64.b64decode(item).hex() if key in _IDS else _hex_ids(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_hex_ids(item) for item in value]
    return value


def otlp_json(spans: Sequence[ReadableSpan]) -> dict[str, Any]:
    """An ``ExportTraceServiceRequest`` of ``spans`` in OTLP JSON."""
    return _hex_ids(MessageToDict(encode_spans(spans)))  # type: ignore[no-any-return]


def append_ledger(spans: Sequence[ReadableSpan], path: Path) -> None:
    """Append ``spans`` to ``path`` as one OTLP JSON line (a file ``otel-tokens report --ledger`` reads)."""
    with path.open("a", encoding="utf-8") as ledger:
        ledger.write(json.dumps(otlp_json(spans), separators=(",", ":")) + "\n")
