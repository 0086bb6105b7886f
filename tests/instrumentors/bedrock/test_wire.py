"""The fake Bedrock wire format: event-stream framing checked against botocore and real recordings."""

from __future__ import annotations

import base64
import json

import pytest
from botocore.eventstream import ChecksumMismatch, EventStreamBuffer
from otel_tokens_fake_providers import ReceivedRequest, Scenario
from otel_tokens_fake_providers._bedrock_wire import (
    chunk_frame,
    dispatch,
    event_frame,
    exception_frame,
    family_of,
    frame,
    handles,
)

from tests._recorded import load_exchanges, recorded


def _request(path: str, body: object, method: str = "POST") -> ReceivedRequest:
    raw = json.dumps(body).encode()
    return ReceivedRequest(method, path, {}, {}, body, raw, path)


def _decode(data: bytes) -> list:
    buffer = EventStreamBuffer()
    buffer.add_data(data)
    return list(buffer)


def test_frames_decode_with_botocore():
    payload = {"contentBlockIndex": 0, "delta": {"text": "héllo"}}
    [message] = _decode(event_frame("contentBlockDelta", payload) + chunk_frame({"a": 1}))[:1]
    assert message.headers == {
        ":event-type": "contentBlockDelta",
        ":content-type": "application/json",
        ":message-type": "event",
    }
    assert json.loads(message.payload) == payload
    [_, chunk] = _decode(event_frame("messageStop", {}) + chunk_frame({"a": 1}))
    assert json.loads(base64.b64decode(json.loads(chunk.payload)["bytes"])) == {"a": 1}
    [error] = _decode(exception_frame("throttlingException", "slow down"))
    assert error.headers[":message-type"] == "exception"
    assert error.headers[":exception-type"] == "throttlingException"


def test_corrupted_frame_is_refused_by_botocore():
    data = bytearray(event_frame("messageStart", {"role": "assistant"}))
    data[-1] ^= 0xFF
    with pytest.raises(ChecksumMismatch):
        _decode(bytes(data))


@recorded
def test_encoder_reproduces_every_recorded_stream_byte_for_byte():
    streams = [e for e in load_exchanges(providers=["aws.bedrock"]) if "body_base64" in e["response"]]
    assert streams
    for exchange in streams:
        recorded_bytes = base64.b64decode(exchange["response"]["body_base64"])
        rebuilt = b"".join(frame(dict(m.headers), m.payload) for m in _decode(recorded_bytes))
        assert rebuilt == recorded_bytes, exchange["file"]


@pytest.mark.parametrize(
    ("path", "taken"),
    [
        ("/model/amazon.nova-lite-v1%3A0/converse", True),
        ("/model/amazon.nova-lite-v1%3A0/converse-stream", True),
        ("/model/anthropic.claude-3-haiku-20240307-v1:0/invoke", True),
        (
            "/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A1%3Ainference-profile%2Fus.x/invoke-with-response-stream",
            True,
        ),
        ("/model/x/other", False),
        ("/v1/chat/completions", False),
    ],
)
def test_handles_bedrock_runtime_paths_only(path, taken):
    assert handles(_request(path, {})) is taken


@pytest.mark.parametrize(
    ("model_id", "body", "family"),
    [
        ("arn:aws:bedrock:us-east-1:1:inference-profile/eu.anthropic.claude-3-7-sonnet-20250219-v1:0",
         {"messages": []}, "anthropic"),
        ("anthropic.claude-v2:1", {"prompt": "x"}, "claude_text"),
        ("us.amazon.nova-pro-v1:0", {"messages": []}, "nova"),
        ("amazon.titan-embed-text-v2:0", {"inputText": "x"}, "titan_embed"),
        ("meta.llama3-70b-instruct-v1:0", {"prompt": "x"}, "llama"),
        ("mistral.mistral-large-2402-v1:0", {"messages": []}, "openai_chat"),
        ("cohere.command-r-plus-v1:0", {"message": "x"}, "cohere_chat"),
        ("arn:aws:sagemaker:us-east-1:1:endpoint/custom", {"prompt": "x"}, "openai_text"),
    ],
)  # fmt: skip
def test_family_of(model_id, body, family):
    assert family_of(model_id, body) == family


def test_invoke_reply_carries_token_headers_and_errors_carry_the_aws_error_type():
    body = {"messages": [{"role": "user", "content": "hi"}], "anthropic_version": "bedrock-2023-05-31"}
    path = "/model/anthropic.claude-3-5-haiku-20241022-v1%3A0/invoke"
    reply = dispatch(_request(path, body), Scenario(prompt_tokens=4, cached_tokens=9, completion_tokens=2))
    assert reply.headers == {
        "x-amzn-bedrock-input-token-count": "4",
        "x-amzn-bedrock-output-token-count": "2",
        "x-amzn-bedrock-cache-read-input-token-count": "9",
        "x-amzn-bedrock-cache-write-input-token-count": "0",
    }
    assert json.loads(reply.body)["usage"] == {
        "input_tokens": 4,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 9,
        "output_tokens": 2,
    }
    error = dispatch(_request(path, body), Scenario(error_status=429))
    assert error.status == 429
    assert error.headers["x-amzn-ErrorType"].startswith("ThrottlingException:")
    assert json.loads(error.body) == {"message": "ThrottlingException (fake server)"}
    assert dispatch(_request(path, body, method="GET"), Scenario()).status == 404
