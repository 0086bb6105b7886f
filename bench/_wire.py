"""Canned OpenAI responses served by an in-process httpx2 transport, and the client that uses them.

The transport never opens a socket: it returns the same prepared bytes for every request, so the
benchmark measures the openai SDK (request building, response parsing, SSE decoding) plus
whatever observes it, and no network or server noise.
"""

from __future__ import annotations

import json
from typing import Any

import httpx2
import openai
from openai.types.chat import ChatCompletionMessageParam

REQUEST_MODEL = "gpt-4o-mini"
RESPONSE_MODEL = "gpt-4o-mini-2024-07-18"
RESPONSE_ID = "chatcmpl-bench0001"
FINGERPRINT = "fp_bench01"
SERVICE_TIER = "default"
# A realistic base URL: with the mock transport nothing is sent anywhere, and the known host
# takes the same provider-detection path as production traffic.
BASE_URL = "https://api.openai.com/v1"
SERVER_ADDRESS = "api.openai.com"
SERVER_PORT = 443

STREAM_CHUNKS = 200
PROMPT_TOKENS = 1200
COMPLETION_TOKENS = 300
CACHED_TOKENS = 1024
REASONING_TOKENS = 64

MAX_COMPLETION_TOKENS = 400
TEMPERATURE = 0.2
MESSAGES: list[ChatCompletionMessageParam] = [
    {"role": "system", "content": "You are a concise assistant for an online bookshop."},
    {"role": "user", "content": "Suggest three science-fiction novels for a long train journey."},
]

USAGE: dict[str, Any] = {
    "prompt_tokens": PROMPT_TOKENS,
    "completion_tokens": COMPLETION_TOKENS,
    "total_tokens": PROMPT_TOKENS + COMPLETION_TOKENS,
    "prompt_tokens_details": {"cached_tokens": CACHED_TOKENS, "audio_tokens": 0},
    "completion_tokens_details": {
        "reasoning_tokens": REASONING_TOKENS,
        "audio_tokens": 0,
        "accepted_prediction_tokens": 0,
        "rejected_prediction_tokens": 0,
    },
}
_HEAD: dict[str, Any] = {
    "id": RESPONSE_ID,
    "created": 1_750_000_000,
    "model": RESPONSE_MODEL,
    "service_tier": SERVICE_TIER,
    "system_fingerprint": FINGERPRINT,
}


def completion_body() -> bytes:
    answer = "1. The Left Hand of Darkness\n2. Hyperion\n3. A Fire Upon the Deep"
    body = {
        **_HEAD,
        "object": "chat.completion",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": answer, "refusal": None, "annotations": []},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": USAGE,
    }
    return json.dumps(body).encode()


def stream_body() -> bytes:
    """``STREAM_CHUNKS`` content chunks (the last one finishing), a usage chunk, ``[DONE]``."""
    events = []
    for index in range(STREAM_CHUNKS):
        delta: dict[str, Any] = {"content": f" word{index}"}
        if index == 0:
            delta["role"] = "assistant"
        finish = "stop" if index == STREAM_CHUNKS - 1 else None
        chunk = {
            **_HEAD,
            "object": "chat.completion.chunk",
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
            "usage": None,
        }
        events.append(chunk)
    events.append({**_HEAD, "object": "chat.completion.chunk", "choices": [], "usage": USAGE})
    lines = [f"data: {json.dumps(event)}\n\n" for event in events]
    lines.append("data: [DONE]\n\n")
    return "".join(lines).encode()


def make_client(streaming: bool = False) -> openai.OpenAI:
    """An ``openai.OpenAI`` whose HTTP layer answers in-process with one canned body.

    One client per body, so the transport does no per-request dispatch work.
    """
    body = stream_body() if streaming else completion_body()
    headers = {"content-type": "text/event-stream" if streaming else "application/json"}

    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, content=body, headers=headers)

    transport = httpx2.MockTransport(handler)
    return openai.OpenAI(
        api_key="sk-bench",
        base_url=BASE_URL,
        max_retries=0,
        # openai 2.x defaults to httpx and 3.x to httpx2; the httpx2 client works on both.
        http_client=openai.DefaultHttpx2Client(transport=transport),
    )


def chat(client: openai.OpenAI) -> Any:
    return client.chat.completions.create(
        model=REQUEST_MODEL,
        messages=MESSAGES,
        max_completion_tokens=MAX_COMPLETION_TOKENS,
        temperature=TEMPERATURE,
    )


def open_stream(client: openai.OpenAI) -> Any:
    return client.chat.completions.create(
        model=REQUEST_MODEL,
        messages=MESSAGES,
        max_completion_tokens=MAX_COMPLETION_TOKENS,
        temperature=TEMPERATURE,
        stream=True,
        stream_options={"include_usage": True},
    )


def chat_stream(client: openai.OpenAI) -> int:
    """Open the stream and read it to the end; returns the number of chunks seen."""
    seen = 0
    for _ in open_stream(client):
        seen += 1
    return seen
