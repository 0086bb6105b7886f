"""Helpers for the reporting commands' tests: what a ledger's spans say, and the same calls moved in time.

The ledger itself comes from ``otel-tokens demo --ledger FILE`` (see conftest.py): the demo's
workload (the real client SDKs against the fake provider server, instrumented by
``otel_tokens.init()``) with its spans written as OTLP JSON.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any


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
