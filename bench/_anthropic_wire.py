"""Canned Anthropic responses served by an in-process httpx2 transport, and the client that uses them.

The Anthropic counterpart of ``_wire.py``: the transport never opens a socket and returns the
same prepared bytes for every request, so the benchmark measures the anthropic SDK (request
building, response parsing, SSE decoding) plus whatever observes it. The bodies have the shape
of the recorded real responses in ``../shared/recorded/anthropic`` (claude-sonnet-4-5, prompt
caching on): ``input_tokens`` excludes the cached part, which is reported beside it.

The SDK's own OpenTelemetry tracing (anthropic 2.x, ``anthropic/_tracing.py``) is off in every
client made here (``open_telemetry=False``), so ``bare`` is bare and every mode runs the same
SDK code; :func:`make_client` checks that the client really has no tracer.
"""

from __future__ import annotations

import json
from typing import Any

import anthropic
import httpx2
from anthropic.types import MessageParam

REQUEST_MODEL = "claude-sonnet-4-5"
RESPONSE_MODEL = "claude-sonnet-4-5-20250929"
RESPONSE_ID = "msg_01BenchAnthropic0000001"
REQUEST_ID = "req_01BenchAnthropic0000001"
STOP_REASON = "end_turn"
SERVICE_TIER = "standard"
BASE_URL = "https://api.anthropic.com"
SERVER_ADDRESS = "api.anthropic.com"
SERVER_PORT = 443

STREAM_DELTAS = 200
# What the user iterates: message_start, content_block_start, the deltas, content_block_stop,
# message_delta, message_stop (the SDK swallows the ping).
STREAM_EVENTS = STREAM_DELTAS + 5

UNCACHED_INPUT_TOKENS = 176  # Anthropic's ``input_tokens``: the input after the last cache breakpoint
CACHE_CREATION_TOKENS = 200  # all with the 5-minute TTL
CACHE_READ_TOKENS = 1024
OUTPUT_TOKENS = 300
INPUT_TOKENS = UNCACHED_INPUT_TOKENS + CACHE_CREATION_TOKENS + CACHE_READ_TOKENS
"""The conventions' ``gen_ai.usage.input_tokens``: the total, cached reads and writes included."""

MAX_TOKENS = 400
SYSTEM = "You are a concise assistant for an online bookshop."
MESSAGES: list[MessageParam] = [
    {"role": "user", "content": "Suggest three science-fiction novels for a long train journey."},
]
REQUEST: dict[str, Any] = {
    "model": REQUEST_MODEL,
    "max_tokens": MAX_TOKENS,
    "system": SYSTEM,
    "messages": MESSAGES,
}

_INPUT_USAGE: dict[str, Any] = {
    "input_tokens": UNCACHED_INPUT_TOKENS,
    "cache_creation_input_tokens": CACHE_CREATION_TOKENS,
    "cache_read_input_tokens": CACHE_READ_TOKENS,
}
USAGE: dict[str, Any] = {
    **_INPUT_USAGE,
    "cache_creation": {"ephemeral_5m_input_tokens": CACHE_CREATION_TOKENS, "ephemeral_1h_input_tokens": 0},
    "output_tokens": OUTPUT_TOKENS,
    "service_tier": SERVICE_TIER,
}
_HEAD: dict[str, Any] = {
    "id": RESPONSE_ID,
    "type": "message",
    "role": "assistant",
    "model": RESPONSE_MODEL,
}


def message_body() -> bytes:
    answer = "1. The Left Hand of Darkness\n2. Hyperion\n3. A Fire Upon the Deep"
    body = {
        **_HEAD,
        "content": [{"type": "text", "text": answer}],
        "stop_reason": STOP_REASON,
        "stop_sequence": None,
        "usage": USAGE,
    }
    return json.dumps(body).encode()


def stream_body() -> bytes:
    """A real stream's event sequence, with ``STREAM_DELTAS`` text deltas.

    ``message_start`` carries the input usage and a placeholder output count of 1, as the API
    sends it; ``message_delta`` the cumulative usage, input and cache fields repeated.
    """
    start_usage = {**USAGE, "output_tokens": 1}
    message = {**_HEAD, "content": [], "stop_reason": None, "stop_sequence": None, "usage": start_usage}
    events: list[tuple[str, dict[str, Any]]] = [
        ("message_start", {"type": "message_start", "message": message}),
        (
            "content_block_start",
            {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        ),
        ("ping", {"type": "ping"}),
    ]
    for index in range(STREAM_DELTAS):
        delta = {"type": "text_delta", "text": f" word{index}"}
        events.append(("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": delta}))
    events += [
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": STOP_REASON, "stop_sequence": None},
                "usage": {**_INPUT_USAGE, "output_tokens": OUTPUT_TOKENS},
            },
        ),
        ("message_stop", {"type": "message_stop"}),
    ]
    return "".join(f"event: {name}\ndata: {json.dumps(data)}\n\n" for name, data in events).encode()


def make_client(streaming: bool = False) -> anthropic.Anthropic:
    """An ``anthropic.Anthropic`` whose HTTP layer answers in-process with one canned body.

    One client per body, so the transport does no per-request dispatch work. The SDK's own
    tracing is off (``open_telemetry=False``, which beats ``ANTHROPIC_OPEN_TELEMETRY``).
    """
    body = stream_body() if streaming else message_body()
    headers = {
        "content-type": "text/event-stream; charset=utf-8" if streaming else "application/json",
        "request-id": REQUEST_ID,
    }

    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, content=body, headers=headers)

    client = anthropic.Anthropic(
        api_key="sk-ant-bench",
        base_url=BASE_URL,
        max_retries=0,
        open_telemetry=False,
        http_client=anthropic.DefaultHttpxClient(transport=httpx2.MockTransport(handler)),
    )
    if sdk_tracer(client) is not None:
        raise AssertionError("the anthropic SDK's own tracing is on: bare would not be bare")
    return client


def sdk_tracer(client: anthropic.Anthropic) -> Any:
    """The SDK's own tracer for this client (``None`` when its tracing is off)."""
    return client._tracer  # noqa: SLF001 - a check, not a use


def message(client: anthropic.Anthropic) -> Any:
    return client.messages.create(**REQUEST)


def open_stream(client: anthropic.Anthropic) -> Any:
    return client.messages.create(**REQUEST, stream=True)


def message_stream(client: anthropic.Anthropic) -> int:
    """Open the stream and read it to the end; returns the number of events seen."""
    seen = 0
    for _ in open_stream(client):
        seen += 1
    return seen
