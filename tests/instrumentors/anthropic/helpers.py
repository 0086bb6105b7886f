"""Assertion helpers for the Anthropic instrumentor tests."""

from __future__ import annotations

import base64
import binascii
import json
import struct
from typing import Any

from otel_tokens.testing import InMemoryTelemetry, Point

# Public list prices (USD per million tokens) the assertions are computed from.
HAIKU_4_5 = {
    "input": 1.00,
    "output": 5.00,
    "cache_write_5m": 1.25,
    "cache_write_1h": 2.00,
    "cache_read": 0.10,
}
HAIKU_3 = {"input": 0.25, "output": 1.25}
SONNET_3_5 = {"input": 3.00, "output": 15.00}

MODEL = "claude-haiku-4-5"
DATED_MODEL = "claude-haiku-4-5-20251001"
MESSAGES = [{"role": "user", "content": "Say hello."}]


def cost(
    prices: dict[str, float],
    *,
    input: int,
    output: int = 0,
    cache_read: int = 0,
    cache_write_5m: int = 0,
    cache_write_1h: int = 0,
) -> float:
    """USD for Anthropic-style counts: ``input`` is the uncached input, as the API reports it."""
    return (
        input * prices["input"]
        + output * prices["output"]
        + cache_read * prices.get("cache_read", 0)
        + cache_write_5m * prices.get("cache_write_5m", 0)
        + cache_write_1h * prices.get("cache_write_1h", 0)
    ) / 1e6


def only_span(telemetry: InMemoryTelemetry):
    spans = telemetry.spans()
    assert len(spans) == 1, [s.name for s in spans]
    return spans[0]


def token_points(telemetry: InMemoryTelemetry) -> dict[str, Point]:
    """gen_ai.client.token.usage points by token type."""
    return {p.attributes["gen_ai.token.type"]: p for p in telemetry.points("gen_ai.client.token.usage")}


def details(telemetry: InMemoryTelemetry) -> dict[str, float | None]:
    """otel_tokens.client.token.detail values by token type."""
    return {
        p.attributes["otel_tokens.token.type"]: p.value
        for p in telemetry.points("otel_tokens.client.token.detail")
    }


def subset(attributes: Any, expected: dict[str, Any]) -> dict[str, Any]:
    """The attributes named in ``expected``, to compare whole dicts in one assert."""
    return {key: attributes.get(key) for key in expected}


# -- Bedrock's AWS event-stream framing, for AnthropicBedrock stream replies ------------------


def _header(name: str, value: str) -> bytes:
    raw_name, raw_value = name.encode(), value.encode()
    return bytes([len(raw_name)]) + raw_name + b"\x07" + struct.pack(">H", len(raw_value)) + raw_value


def event_stream_frame(event: dict[str, Any]) -> bytes:
    """One ``chunk`` message of InvokeModelWithResponseStream carrying ``event`` (base64 JSON)."""
    headers = (
        _header(":event-type", "chunk")
        + _header(":content-type", "application/json")
        + _header(":message-type", "event")
    )
    payload = json.dumps({"bytes": base64.b64encode(json.dumps(event).encode()).decode()}).encode()
    total = 12 + len(headers) + len(payload) + 4
    prelude = struct.pack(">II", total, len(headers))
    prelude += struct.pack(">I", binascii.crc32(prelude))
    message = prelude + headers + payload
    return message + struct.pack(">I", binascii.crc32(message))
