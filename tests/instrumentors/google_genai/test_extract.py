"""The pure extraction functions: model names, usage mapping, contents in every accepted spelling."""

from __future__ import annotations

import pytest
from google.genai import types
from otel_tokens_google_genai import _extract as ex

from otel_tokens.usage import Usage


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("gemini-2.5-flash", "gemini-2.5-flash"),
        ("models/gemini-2.5-flash", "gemini-2.5-flash"),
        ("publishers/google/models/gemini-2.5-pro", "gemini-2.5-pro"),
        ("projects/p/locations/us-central1/publishers/google/models/gemini-2.0-flash", "gemini-2.0-flash"),
        ("google/gemini-2.5-flash", "gemini-2.5-flash"),
        ("tunedModels/my-tune-123", "tunedModels/my-tune-123"),
        ("", None),
        (None, None),
    ],
)
def test_model_name(given, expected):
    assert ex.model_name(given) == expected


@pytest.mark.parametrize(
    ("base_url", "vertex", "overrides", "expected"),
    [
        (
            "https://generativelanguage.googleapis.com/",
            False,
            {},
            ("gcp.gemini", "generativelanguage.googleapis.com", 443),
        ),
        (
            "https://us-central1-aiplatform.googleapis.com/",
            True,
            {},
            ("gcp.vertex_ai", "us-central1-aiplatform.googleapis.com", 443),
        ),
        ("http://gw.corp:8080/gemini", False, {"gw.corp": "acme_gateway"}, ("acme_gateway", "gw.corp", 8080)),
        (None, True, {}, ("gcp.vertex_ai", None, None)),
    ],
)
def test_provider_for(base_url, vertex, overrides, expected):
    assert ex.provider_for(base_url, vertex, overrides) == expected


def test_usage_mapping_from_sdk_object_and_raw_json_agree():
    sdk = types.GenerateContentResponseUsageMetadata(
        prompt_token_count=1000,
        cached_content_token_count=600,
        candidates_token_count=50,
        thoughts_token_count=200,
        tool_use_prompt_token_count=30,
        total_token_count=1280,
    )
    raw = {
        "promptTokenCount": 1000,
        "cachedContentTokenCount": 600,
        "candidatesTokenCount": 50,
        "thoughtsTokenCount": 200,
        "toolUsePromptTokenCount": 30,
        "totalTokenCount": 1280,
    }
    expected = Usage(
        input_tokens=1030, output_tokens=250, cache_read_input_tokens=600, reasoning_output_tokens=200
    )
    assert ex.usage_from_metadata(sdk) == expected
    assert ex.usage_from_metadata(raw) == expected


def test_usage_with_only_some_counts():
    assert ex.usage_from_metadata({"promptTokenCount": 7, "totalTokenCount": 7}) == Usage(input_tokens=7)
    assert ex.usage_from_metadata({"totalTokenCount": 7}) is None
    assert ex.usage_from_metadata(None) is None


def test_contents_in_every_spelling():
    assert ex.content_list("hi") == [("user", ["hi"])]
    assert ex.content_list(["a", "b"]) == [("user", ["a", "b"])]
    part = types.Part.from_text(text="x")
    content = types.Content(role="model", parts=[part])
    assert ex.content_list(content) == [("model", [part])]
    assert ex.content_list(["q", content, {"text": "r"}]) == [
        ("user", ["q"]),
        ("model", [part]),
        ("user", [{"text": "r"}]),
    ]
    assert ex.content_list({"role": "user", "parts": [{"text": "d"}]}) == [("user", [{"text": "d"}])]
    assert ex.content_list(None) == []


def test_input_texts_and_messages_cover_system_and_tool_parts():
    contents = [
        types.Content(role="user", parts=[types.Part.from_text(text="Weather?")]),
        types.Content(
            role="model", parts=[types.Part.from_function_call(name="get_weather", args={"city": "Paris"})]
        ),
        types.Content(
            role="user",
            parts=[types.Part.from_function_response(name="get_weather", response={"result": "sunny"})],
        ),
    ]
    config = types.GenerateContentConfig(system_instruction="Be brief.")
    assert ex.input_texts(contents, config) == [
        "Be brief.",
        "Weather?",
        'get_weather{"city": "Paris"}',
        'get_weather{"result": "sunny"}',
    ]
    messages = ex.input_messages(contents, config)
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user"]
    assert messages[2]["parts"] == [
        {"type": "tool_call", "id": None, "name": "get_weather", "arguments": {"city": "Paris"}}
    ]
    assert messages[3]["parts"][0]["type"] == "tool_call_response"


def test_thought_parts_are_output_and_captured_as_reasoning():
    candidate = types.Candidate(
        content=types.Content(
            role="model", parts=[types.Part(text="thinking...", thought=True), types.Part(text="Answer.")]
        ),
        finish_reason=types.FinishReason.MAX_TOKENS,
    )
    assert ex.candidate_texts(candidate) == ["thinking...", "Answer."]
    assert ex.finish_reason(candidate) == "max_tokens"
    assert ex.output_message(candidate.content, "max_tokens") == {
        "role": "assistant",
        "parts": [{"type": "reasoning", "content": "thinking..."}, {"type": "text", "content": "Answer."}],
        "finish_reason": "max_tokens",
    }


def test_embed_result_sums_vertex_statistics_and_drops_output():
    response = types.EmbedContentResponse(
        embeddings=[
            types.ContentEmbedding(
                values=[0.1, 0.2], statistics=types.ContentEmbeddingStatistics(token_count=4.0)
            ),
            types.ContentEmbedding(
                values=[0.3, 0.4], statistics=types.ContentEmbeddingStatistics(token_count=6.0)
            ),
        ]
    )
    result = ex.embed_result(response)
    assert result.usage == Usage(input_tokens=10)
    assert result.attributes == {"gen_ai.embeddings.dimension.count": 2}
    assert (
        ex.embed_result(types.EmbedContentResponse(embeddings=[types.ContentEmbedding(values=[0.1])])).usage
        is None
    )


def test_odd_shapes_never_raise():
    assert ex.generate_result(object()).usage is None
    assert ex.generate_result({"candidates": [{"finishReason": "STOP"}]}).finish_reasons == ("stop",)
    assert ex.generate_request_attributes({"stop_sequences": "END"}, False) == {
        "gen_ai.request.stop_sequences": ["END"]
    }
    assert ex.embed_texts(["a", 3, {"text": "b"}]) == ["a", "b"]
