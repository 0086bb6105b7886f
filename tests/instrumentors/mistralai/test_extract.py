"""The pure extraction functions, on shapes the fake server does not produce."""

from __future__ import annotations

from otel_tokens_mistralai import _extract as ex

from otel_tokens.usage import Usage

from .sdk import models


def test_usage_reads_cache_and_reasoning_details_from_the_sdk_model():
    usage = models.UsageInfo.model_validate(
        {
            "prompt_tokens": 100,
            "completion_tokens": 40,
            "total_tokens": 140,
            "prompt_tokens_details": {"cached_tokens": 64},
            "completion_tokens_details": {"reasoning_tokens": 30},
        }
    )
    assert ex.usage_of(usage) == Usage(
        input_tokens=100, output_tokens=40, cache_read_input_tokens=64, reasoning_output_tokens=30
    )


def test_usage_accepts_the_singular_details_spelling_and_nulls():
    usage = {"prompt_tokens": 10, "completion_tokens": 0, "prompt_token_details": None}
    assert ex.usage_of(usage) == Usage(input_tokens=10, output_tokens=0)
    assert (
        ex.usage_of(
            {"prompt_tokens": 9, "prompt_token_details": {"cached_tokens": 4}}
        ).cache_read_input_tokens
        == 4
    )
    assert ex.usage_of(None) is None


def test_unset_sentinels_read_as_absent():
    from .sdk import UNSET

    assert ex.request_attributes({"temperature": UNSET, "max_tokens": None, "n": UNSET}, stream=False) == {}
    assert ex.service_tier(models.UsageInfo(prompt_tokens=1)) is None


def test_thinking_and_text_chunks_become_reasoning_and_text_parts():
    content = [
        {"type": "thinking", "thinking": [{"type": "text", "text": "Let me think."}]},
        {"type": "text", "text": "42"},
        {"type": "image_url", "image_url": "https://example.invalid/x.png"},
    ]
    assert ex.content_parts(content) == [
        {"type": "reasoning", "content": "Let me think."},
        {"type": "text", "content": "42"},
    ]
    assert ex.part_texts(ex.content_parts(content)) == ["Let me think.", "42"]


def test_tool_call_arguments_given_as_an_object_are_serialised():
    message = {
        "role": "assistant",
        "tool_calls": [{"id": "a1", "function": {"name": "f", "arguments": {"x": 1}}}],
    }
    assert ex.parts_of(message) == [{"type": "tool_call", "id": "a1", "name": "f", "arguments": '{"x": 1}'}]
    assert ex.message_texts(message) == ["f", '{"x": 1}']


def test_response_format_and_stop_list():
    attributes = ex.request_attributes(
        {"response_format": {"type": "json_object"}, "stop": ["a", "b"]}, stream=True
    )
    assert attributes == {
        "gen_ai.request.stop_sequences": ["a", "b"],
        "gen_ai.request.stream": True,
        "gen_ai.output.type": "json",
    }


def test_chat_result_without_usage_keeps_the_text_for_an_estimate():
    result = ex.chat_result(
        {"id": "r", "model": "m", "choices": [{"finish_reason": "stop", "message": {"content": "hi"}}]}
    )
    assert result.usage is None and result.output_texts == ["hi"]
    assert result.finish_reasons == ("stop",)


def test_embeddings_request_attributes():
    attributes = ex.request_attributes({"output_dimension": 256, "encoding_format": "base64"}, stream=False)
    assert attributes == {
        "gen_ai.embeddings.dimension.count": 256,
        "gen_ai.request.encoding_formats": ["base64"],
    }


def test_server_of_a_default_port():
    assert ex.server_of("https://api.mistral.ai") == ("api.mistral.ai", 443)
    assert ex.server_of("http://localhost:8080/") == ("localhost", 8080)
