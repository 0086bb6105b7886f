"""The fake server's Mistral wire format against the recorded real responses."""

from __future__ import annotations

import json

import pytest
from otel_tokens_fake_providers import ReceivedRequest, Scenario
from otel_tokens_fake_providers import _mistral_wire as wire

from tests._recorded import load_exchanges, recorded

MISTRAL_AGENT = "mistral-client-python/3.7.0"


def request(path: str, body: object, agent: str = MISTRAL_AGENT) -> ReceivedRequest:
    raw = json.dumps(body).encode()
    return ReceivedRequest("POST", path, {}, {"user-agent": agent}, body, raw, path)


@pytest.mark.parametrize(
    ("agent", "taken"),
    [
        (MISTRAL_AGENT, True),
        ("speakeasy-sdk/python 2.0.0 2.841.0 1.0.0 mistralai", True),
        ("speakeasy-sdk/python 2.2.0 2.935.1 1.0.0 mistralai-azure", False),
        ("OpenAI/Python 2.54.0", False),
        ("", False),
    ],
)
def test_only_the_mistral_sdk_is_answered_in_mistral_format(agent, taken):
    assert wire.handles(request("/v1/chat/completions", {}, agent)) is taken


def _recorded(operation: str, stream: bool) -> dict:
    [exchange] = [
        e
        for e in load_exchanges(clients=["mistralai"])
        if e["operation"] == operation and e["stream"] is stream
    ]
    return exchange


def _events(reply) -> list[bytes]:
    return [event for event in reply.events]


@recorded
def test_chat_json_has_the_recorded_shape():
    exchange = _recorded("chat", False)
    reply = wire.dispatch(request("/v1/chat/completions", exchange["request"]["body"]), Scenario())
    real, fake = json.loads(exchange["response"]["body_text"]), json.loads(reply.body)
    assert list(fake) == list(real)
    assert list(fake["usage"]) == list(real["usage"])
    assert list(fake["choices"][0]) == list(real["choices"][0])
    assert list(fake["choices"][0]["message"]) == list(real["choices"][0]["message"])


@recorded
def test_chat_stream_has_usage_on_the_finish_chunk_then_done():
    exchange = _recorded("chat", True)
    reply = wire.dispatch(request("/v1/chat/completions", exchange["request"]["body"]), Scenario(chunks=3))
    assert reply.content_type == exchange["response"]["content_type"]
    events = _events(reply)
    assert events[-1] == b"data: [DONE]\n\n"
    real = [
        json.loads(line[6:]) for line in exchange["response"]["body_text"].split("\n\n") if line[6:7] == "{"
    ]
    fake = [json.loads(event[6:]) for event in events[:-1]]
    # Real chunks also carry a random-length padding field "p", which clients ignore.
    drop_padding = lambda chunk: [k for k in chunk if k != "p"]  # noqa: E731
    assert drop_padding(fake[0]) == drop_padding(real[0])
    assert (
        fake[0]["choices"][0]["delta"]
        == real[0]["choices"][0]["delta"]
        == {"role": "assistant", "content": ""}
    )
    assert drop_padding(fake[-1]) == drop_padding(real[-1])
    assert fake[-1]["choices"][0]["finish_reason"] == "stop" and list(fake[-1]["usage"]) == list(
        real[-1]["usage"]
    )
    assert all("usage" not in chunk for chunk in fake[:-1])


@recorded
def test_embeddings_have_the_recorded_shape():
    exchange = _recorded("embeddings", False)
    reply = wire.dispatch(request("/v1/embeddings", exchange["request"]["body"]), Scenario(prompt_tokens=10))
    real, fake = json.loads(exchange["response"]["body_text"]), json.loads(reply.body)
    assert list(fake) == list(real)
    assert fake["usage"] == real["usage"]
    assert list(fake["data"][0]) == list(real["data"][0])


def test_errors_use_mistral_error_bodies():
    reply = wire.dispatch(request("/v1/chat/completions", {"model": "m"}), Scenario(error_status=429))
    assert reply.status == 429
    assert json.loads(reply.body) == {
        "object": "error",
        "message": "Requests rate limit exceeded",
        "type": "rate_limited",
        "param": None,
        "code": "429",
    }
    missing = wire.dispatch(request("/v1/nowhere", {}), Scenario())
    assert missing.status == 404 and json.loads(missing.body)["object"] == "error"


def test_cached_tokens_and_extra_usage_fields():
    reply = wire.dispatch(
        request("/v1/chat/completions", {"model": "m", "messages": []}),
        Scenario(prompt_tokens=100, cached_tokens=64, completion_tokens=5, usage_fields={"extra": 1}),
    )
    assert json.loads(reply.body)["usage"] == {
        "prompt_tokens": 100,
        "total_tokens": 105,
        "completion_tokens": 5,
        "prompt_tokens_details": {"cached_tokens": 64},
        "extra": 1,
    }
