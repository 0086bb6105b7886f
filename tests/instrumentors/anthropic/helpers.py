"""Assertion helpers for the Anthropic instrumentor tests."""

from __future__ import annotations

import base64
import binascii
import json
import struct
from typing import Any

from .._telemetry import details, only_span, subset, token_points  # noqa: F401  (re-exported for the tests)

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
