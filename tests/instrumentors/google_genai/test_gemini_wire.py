"""The fake server's Gemini wire format, as pure functions (routing, bodies, usage shapes, errors)."""

from __future__ import annotations

import json

import pytest
from otel_tokens_fake_providers import ReceivedRequest, Scenario
from otel_tokens_fake_providers import _gemini_wire as wire

BODY = {"contents": [{"role": "user", "parts": [{"text": "Hello there, how are you?"}]}]}


def request(path: str, body=BODY, query=None, method="POST") -> ReceivedRequest:
    return ReceivedRequest(method, path, query or {}, {}, body, json.dumps(body).encode(), path)


@pytest.mark.parametrize(
    ("path", "handled"),
    [
        ("/v1beta/models/gemini-2.5-flash:generateContent", True),
        ("/v1/models/gemini-2.5-flash:streamGenerateContent", True),
        ("/v1beta/tunedModels/t-1:generateContent", True),
        ("/v1beta/models/gemini-embedding-001:batchEmbedContents", True),
        ("/v1beta1/projects/p/locations/l/publishers/google/models/gemini-2.5-flash:generateContent", True),
        ("/v1beta1/publishers/google/models/gemini-2.5-flash:generateContent", True),
        ("/v1/projects/p/locations/l/publishers/google/models/text-embedding-005:predict", True),
        ("/v1/projects/p/locations/l/publishers/anthropic/models/claude-3-5-sonnet:rawPredict", False),
        ("/v1/chat/completions", False),
        ("/v1/messages", False),
        ("/model/amazon.nova-lite-v1:0/converse", False),
    ],
)
def test_routing(path, handled):
    assert wire.handles(request(path)) is handled


def test_generate_content_usage_shape_matches_the_recordings():
    reply = wire.dispatch(
        request("/v1beta/models/gemini-2.5-flash:generateContent"),
        Scenario(text="Hi", prompt_tokens=5, completion_tokens=877, reasoning_tokens=1058),
    )
    body = json.loads(reply.body)
    assert body["usageMetadata"] == {
        "promptTokenCount": 5,
        "candidatesTokenCount": 877,
        "totalTokenCount": 1940,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 5}],
        "thoughtsTokenCount": 1058,
    }
    assert body["candidates"][0] == {
        "content": {"parts": [{"text": "Hi"}], "role": "model"},
        "finishReason": "STOP",
        "index": 0,
    }
    assert body["modelVersion"] == "gemini-2.5-flash"


def test_stream_is_sse_with_running_counts_and_json_array_without_alt_sse():
    scenario = Scenario(text="abcdef", chunks=3, prompt_tokens=4, completion_tokens=6)
    path = "/v1beta/models/gemini-2.5-flash:streamGenerateContent"
    sse = wire.dispatch(request(path, query={"alt": "sse"}), scenario)
    assert sse.content_type == "text/event-stream"
    chunks = [json.loads(event[len(b"data: ") :]) for event in sse.events]
    assert [c["usageMetadata"]["candidatesTokenCount"] for c in chunks] == [2, 4, 6]
    assert [c["candidates"][0].get("finishReason") for c in chunks] == [None, None, "STOP"]
    array = json.loads(wire.dispatch(request(path), scenario).body)
    assert [c["candidates"][0]["content"]["parts"][0]["text"] for c in array] == ["ab", "cd", "ef"]


def test_errors_use_googles_body():
    reply = wire.dispatch(request("/v1beta/models/m:generateContent"), Scenario(error_status=429))
    assert reply.status == 429
    assert json.loads(reply.body) == {
        "error": {
            "code": 429,
            "message": "The request failed with status RESOURCE_EXHAUSTED.",
            "status": "RESOURCE_EXHAUSTED",
        }
    }
    assert wire.dispatch(request("/v1beta/models/m:generateContent", method="GET"), Scenario()).status == 404
    assert wire.dispatch(request("/v1beta/models/m:generateContent", body=None), Scenario()).status == 400


def test_function_call_answer():
    body = {**BODY, "tools": [{"functionDeclarations": [{"name": "lookup"}]}]}
    reply = wire.dispatch(
        request("/v1beta/models/m:generateContent", body), Scenario(tool_call=True, tool_arguments='{"q": 1}')
    )
    assert json.loads(reply.body)["candidates"][0]["content"]["parts"] == [
        {"functionCall": {"name": "lookup", "args": {"q": 1}}}
    ]


def test_embeddings_gemini_and_vertex():
    batch = {"requests": [{"content": {"parts": [{"text": "a b"}]}, "outputDimensionality": 3}]}
    gemini = json.loads(wire.dispatch(request("/v1beta/models/e:batchEmbedContents", batch), Scenario()).body)
    assert list(gemini) == ["embeddings"] and len(gemini["embeddings"][0]["values"]) == 3
    predict = {"instances": [{"content": "hello world"}, {"content": "x"}]}
    vertex = json.loads(
        wire.dispatch(
            request("/v1/projects/p/locations/l/publishers/google/models/e:predict", predict), Scenario()
        ).body
    )
    assert [p["embeddings"]["statistics"]["token_count"] for p in vertex["predictions"]] == [2, 1]
    assert vertex["metadata"] == {"billableCharacterCount": 11}
