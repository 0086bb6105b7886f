"""The fake server's Ollama wire format: the same shapes as the recorded real responses."""

from __future__ import annotations

import json
from typing import Any

import pytest
from otel_tokens_fake_providers import ReceivedRequest, Scenario
from otel_tokens_fake_providers import _ollama_wire as wire

from tests._recorded import load_exchanges, recorded


def request(path: str, body: Any, method: str = "POST") -> ReceivedRequest:
    raw = json.dumps(body).encode()
    return ReceivedRequest(method, path, {}, {}, body, raw, path)


def lines(reply: Any) -> list[dict[str, Any]]:
    return [json.loads(event) for event in reply.events]


def recorded_objects(name: str) -> list[dict[str, Any]]:
    [exchange] = [e for e in load_exchanges(clients=["ollama"]) if e["file"] == f"ollama/{name}.json"]
    return [json.loads(line) for line in exchange["response"]["body_text"].splitlines() if line]


CHAT = {"model": "llama3", "messages": [{"role": "user", "content": "Tell me a joke"}]}
GENERATE = {"model": "llama3", "prompt": "Tell me a joke"}


@recorded
@pytest.mark.parametrize(
    ("path", "body", "name"),
    [("/api/chat", CHAT, "chat_llama3"), ("/api/generate", GENERATE, "generate_llama3")],
)
def test_whole_responses_have_the_recorded_fields_in_order(path, body, name):
    reply = wire.dispatch(
        request(path, {**body, "stream": False}), Scenario(prompt_tokens=17, completion_tokens=66)
    )
    assert (reply.status, reply.content_type) == (200, "application/json; charset=utf-8")
    [real] = recorded_objects(name)
    fake = json.loads(reply.body)
    assert list(fake) == list(real)
    assert (fake["prompt_eval_count"], fake["eval_count"], fake["done_reason"]) == (17, 66, "stop")
    assert (
        fake["total_duration"] == fake["load_duration"] + fake["prompt_eval_duration"] + fake["eval_duration"]
    )


@recorded
@pytest.mark.parametrize(
    ("path", "body", "name"),
    [("/api/chat", CHAT, "chat_stream_llama3"), ("/api/generate", GENERATE, "generate_stream_llama3")],
)
def test_streams_are_ndjson_with_the_recorded_fields_in_order(path, body, name):
    # Like the real server, a request that does not say "stream": false streams.
    reply = wire.dispatch(request(path, body), Scenario(text="Why did", chunks=2, completion_tokens=50))
    assert reply.content_type == "application/x-ndjson"
    assert all(event.endswith(b"\n") and event.count(b"\n") == 1 for event in reply.events)
    fake, real = lines(reply), recorded_objects(name)
    assert [list(part) for part in fake[:-1]] == [list(real[0])] * 2
    assert list(fake[-1]) == list(real[-1])
    assert fake[-1]["done"] is True and fake[-1]["eval_count"] == 50
    assert "".join(p.get("response") or p.get("message", {}).get("content", "") for p in fake) == "Why did"


@recorded
def test_a_kv_cache_hit_leaves_prompt_eval_count_out_as_recorded():
    reply = wire.dispatch(request("/api/generate", {**GENERATE, "stream": False}), Scenario(prompt_tokens=0))
    [real] = recorded_objects("generate_llama3_no_prompt_eval_count")
    assert list(json.loads(reply.body)) == list(real)


@recorded
def test_legacy_embeddings_carry_the_vector_only():
    reply = wire.dispatch(
        request("/api/embeddings", {"model": "llama3", "prompt": "x"}), Scenario(embedding_dims=4)
    )
    [real] = recorded_objects("embeddings_legacy_llama3")
    fake = json.loads(reply.body)
    assert list(fake) == list(real) == ["embedding"]
    assert len(fake["embedding"]) == 4


def test_embed_has_vectors_and_the_input_count():
    reply = wire.dispatch(
        request("/api/embed", {"model": "all-minilm", "input": ["a", "b"], "dimensions": 3}),
        Scenario(prompt_tokens=2),
    )
    body = json.loads(reply.body)
    assert list(body) == ["model", "embeddings", "total_duration", "load_duration", "prompt_eval_count"]
    assert [len(v) for v in body["embeddings"]] == [3, 3]
    assert body["prompt_eval_count"] == 2


def test_counts_and_extras():
    scenario = Scenario(cached_tokens=12, prompt_tokens=20, usage_fields={"thinking": "hm"})
    body = json.loads(wire.dispatch(request("/api/chat", {**CHAT, "stream": False}), scenario).body)
    assert (body["prompt_eval_count"], body["prompt_eval_cached_count"], body["thinking"]) == (20, 12, "hm")
    bare = json.loads(
        wire.dispatch(request("/api/chat", {**CHAT, "stream": False}), Scenario(include_usage=False)).body
    )
    assert "prompt_eval_count" not in bare and "eval_count" not in bare


def test_tool_call_arguments_are_an_object():
    body = {**CHAT, "stream": False, "tools": [{"type": "function", "function": {"name": "f"}}]}
    reply = wire.dispatch(request("/api/chat", body), Scenario(tool_call=True, tool_arguments='{"a": 1}'))
    message = json.loads(reply.body)["message"]
    assert message["tool_calls"] == [{"function": {"name": "f", "arguments": {"a": 1}}}]


def test_errors():
    reply = wire.dispatch(request("/api/chat", {**CHAT, "model": "nope"}), Scenario(error_status=404))
    assert (reply.status, json.loads(reply.body)) == (
        404,
        {"error": 'model "nope" not found, try pulling it first'},
    )
    assert wire.dispatch(request("/api/chat", {"messages": []}), Scenario()).status == 400
    assert wire.dispatch(request("/api/tags", None, "GET"), Scenario()).body == b"404 page not found"


def test_error_line_during_a_stream():
    reply = wire.dispatch(
        request("/api/chat", CHAT), Scenario(chunks=4, fail_after_chunks=1, error_message="boom")
    )
    parts = lines(reply)
    assert len(parts) == 2 and parts[-1] == {"error": "boom"}
    assert not reply.abort


def test_stream_cut_midway():
    reply = wire.dispatch(request("/api/generate", GENERATE), Scenario(chunks=4, fail_after_chunks=2))
    assert reply.abort and len(reply.events) == 2


def test_handles_only_the_ollama_namespace():
    assert wire.handles(request("/api/chat", CHAT))
    assert not wire.handles(request("/v1/chat/completions", CHAT))
