"""Property tests of the response and stream-chunk readers: garbage in one field loses that field only.

Real response shapes (the wire's camelCase JSON, and the SDK's own objects built without
validation) get arbitrary JSON-ish values substituted anywhere; the readers never raise, every
token count they report is a valid count, and when one usage field is garbage the others arrive
exactly.
"""

from __future__ import annotations

from typing import Any

import pytest
from google.genai import types
from hypothesis import given
from hypothesis import strategies as st
from otel_tokens_google_genai import _extract as ex
from otel_tokens_google_genai._endpoints import GenerateStreamObserver

from otel_tokens.instrumentation import CallResult, Usage, text_or_none

from .._garbage import (
    GARBAGE,
    INVALID_COUNTS,
    PROPERTY,
    assert_counts_valid,
    assert_readable,
    paths,
    replaced,
    streamed,
)

USAGE = {
    "promptTokenCount": 1000,
    "cachedContentTokenCount": 600,
    "candidatesTokenCount": 50,
    "thoughtsTokenCount": 200,
    "toolUsePromptTokenCount": 30,
    "totalTokenCount": 1280,
}
FULL_USAGE = Usage(
    input_tokens=1030, output_tokens=250, cache_read_input_tokens=600, reasoning_output_tokens=200
)
# One usage field garbage -> the Usage read from the rest, exactly.
WITHOUT = {
    "promptTokenCount": Usage(
        input_tokens=30, output_tokens=250, cache_read_input_tokens=600, reasoning_output_tokens=200
    ),
    "toolUsePromptTokenCount": Usage(
        input_tokens=1000, output_tokens=250, cache_read_input_tokens=600, reasoning_output_tokens=200
    ),
    "cachedContentTokenCount": Usage(input_tokens=1030, output_tokens=250, reasoning_output_tokens=200),
    "candidatesTokenCount": Usage(
        input_tokens=1030, output_tokens=200, cache_read_input_tokens=600, reasoning_output_tokens=200
    ),
    "thoughtsTokenCount": Usage(input_tokens=1030, output_tokens=50, cache_read_input_tokens=600),
    "totalTokenCount": FULL_USAGE,  # not read
}
SNAKE = {
    "promptTokenCount": "prompt_token_count",
    "cachedContentTokenCount": "cached_content_token_count",
    "candidatesTokenCount": "candidates_token_count",
    "thoughtsTokenCount": "thoughts_token_count",
    "toolUsePromptTokenCount": "tool_use_prompt_token_count",
    "totalTokenCount": "total_token_count",
}


def response(**usage: Any) -> dict[str, Any]:
    """A generateContent body as the API sends it (two candidates)."""
    return {
        "candidates": [
            {
                "content": {
                    "role": "model",
                    "parts": [{"text": "thinking", "thought": True}, {"text": "Hello!"}],
                },
                "finishReason": "STOP",
                "index": 0,
            },
            {
                "content": {"role": "model", "parts": [{"functionCall": {"name": "f", "args": {"a": 1}}}]},
                "finishReason": "MAX_TOKENS",
                "index": 1,
            },
        ],
        "usageMetadata": {**USAGE, **usage},
        "modelVersion": "gemini-2.5-flash",
        "responseId": "resp-1",
    }


BODY_PATHS = paths(response(), whole=False)


@PROPERTY
@given(path=st.sampled_from(BODY_PATHS), garbage=GARBAGE)
def test_generate_result_never_raises_and_counts_stay_valid(path, garbage):
    assert_readable(ex.generate_result(replaced(response(), path, garbage)))


@PROPERTY
@given(body=GARBAGE)
def test_generate_result_of_a_garbage_body(body):
    assert_readable(ex.generate_result(body))


@PROPERTY
@given(field=st.sampled_from(sorted(USAGE)), garbage=INVALID_COUNTS)
def test_one_bad_count_loses_that_count_only(field, garbage):
    result = ex.generate_result(response(**{field: garbage}))
    assert result.usage == WITHOUT[field]
    assert (result.response_model, result.response_id) == ("gemini-2.5-flash", "resp-1")
    assert result.finish_reasons == ("stop", "max_tokens")


@PROPERTY
@given(field=st.sampled_from(sorted(USAGE)), garbage=INVALID_COUNTS)
def test_one_bad_count_in_the_sdk_object_loses_that_count_only(field, garbage):
    # The SDK's own objects, as the per-request method returns them; built without validation
    # to carry what a future SDK or a proxy might let through.
    values = {SNAKE[name]: value for name, value in USAGE.items()} | {SNAKE[field]: garbage}
    metadata = types.GenerateContentResponseUsageMetadata.model_construct(**values)
    sdk = types.GenerateContentResponse.model_construct(
        usage_metadata=metadata, model_version="gemini-2.5-flash", response_id="resp-1"
    )
    result = ex.generate_result(sdk)
    assert result.usage == WITHOUT[field]
    assert (result.response_model, result.response_id) == ("gemini-2.5-flash", "resp-1")


@PROPERTY
@given(
    field=st.sampled_from(["modelVersion", "responseId", "candidates", "usageMetadata"]),
    garbage=GARBAGE,
)
def test_a_bad_field_beside_usage_loses_that_field_only(field, garbage):
    result = ex.generate_result(replaced(response(), (field,), garbage))
    if field != "usageMetadata":
        assert result.usage == FULL_USAGE
    else:
        assert_counts_valid(result.usage)
    assert result.response_model == (text_or_none(garbage) if field == "modelVersion" else "gemini-2.5-flash")
    assert result.response_id == (text_or_none(garbage) if field == "responseId" else "resp-1")
    if field != "candidates":
        assert result.finish_reasons == ("stop", "max_tokens")


@pytest.mark.parametrize("model", [7, 1.5, True, ["gemini"], {"name": "gemini"}, "", "m" * 300])
def test_a_model_that_is_not_a_name_is_lost_alone(model):
    result = ex.generate_result(replaced(response(), ("modelVersion",), model))
    assert result.response_model is None
    assert result.usage == FULL_USAGE
    assert ex.model_name(model) is None


# -- stream chunks -------------------------------------------------------------------------


def chunks(**last_usage: Any) -> list[dict[str, Any]]:
    """A streamed answer: every chunk carries the counts so far, the last one the final counts."""
    return [
        {
            "candidates": [{"content": {"role": "model", "parts": [{"text": "Hel"}]}, "index": 0}],
            "usageMetadata": {"promptTokenCount": 1000, "candidatesTokenCount": 1},
            "modelVersion": "gemini-2.5-flash",
            "responseId": "resp-1",
        },
        {
            "candidates": [
                {"content": {"role": "model", "parts": [{"text": "lo"}]}, "finishReason": "STOP", "index": 0}
            ],
            "usageMetadata": {**USAGE, **last_usage},
            "modelVersion": "gemini-2.5-flash",
            "responseId": "resp-1",
        },
    ]


def observed(items: list[Any]) -> CallResult:
    return streamed(GenerateStreamObserver(), items)


STREAM_PATHS = paths(chunks(), whole=False)


@PROPERTY
@given(path=st.sampled_from(STREAM_PATHS), garbage=GARBAGE)
def test_stream_observer_never_raises_and_counts_stay_valid(path, garbage):
    assert_readable(observed(replaced(chunks(), path, garbage)))


@PROPERTY
@given(items=st.lists(GARBAGE, max_size=4))
def test_stream_of_garbage_chunks(items):
    assert_readable(observed(items))


@PROPERTY
@given(field=st.sampled_from(sorted(USAGE)), garbage=INVALID_COUNTS)
def test_stream_one_bad_count_loses_that_count_only(field, garbage):
    result = observed(chunks(**{field: garbage}))
    assert result.usage == WITHOUT[field]
    assert (result.response_model, result.response_id, result.finish_reasons) == (
        "gemini-2.5-flash",
        "resp-1",
        ("stop",),
    )


@PROPERTY
@given(field=st.sampled_from(["modelVersion", "responseId", "candidates"]), garbage=GARBAGE)
def test_stream_bad_field_in_the_last_chunk_keeps_the_rest(field, garbage):
    items = chunks()
    items[-1][field] = garbage
    result = observed(items)
    assert result.usage == FULL_USAGE
    # Model and id were already read from the first chunk: a later value replaces them only if
    # it is text, a bad one does not erase them.
    model = text_or_none(garbage) if field == "modelVersion" else None
    response_id = text_or_none(garbage) if field == "responseId" else None
    assert (result.response_model, result.response_id) == (
        model or "gemini-2.5-flash",
        response_id or "resp-1",
    )


# -- embeddings ----------------------------------------------------------------------------


def vertex_embeddings(*counts: Any) -> dict[str, Any]:
    return {
        "embeddings": [{"values": [0.1, 0.2, 0.3], "statistics": {"token_count": value}} for value in counts]
    }


@PROPERTY
@given(path=st.sampled_from(paths(vertex_embeddings(4.0, 6.0), whole=False)), garbage=GARBAGE)
def test_embed_result_never_raises_and_counts_stay_valid(path, garbage):
    assert_readable(ex.embed_result(replaced(vertex_embeddings(4.0, 6.0), path, garbage)))


@PROPERTY
@given(garbage=INVALID_COUNTS)
def test_embed_bad_statistic_loses_the_count_keeps_the_dimensions(garbage):
    result = ex.embed_result(vertex_embeddings(4.0, garbage))
    assert result.usage is None  # an input count of unknown part is left to the local estimate
    assert result.attributes == {"gen_ai.embeddings.dimension.count": 3}
    assert ex.embed_result(vertex_embeddings(4.0, 6)).usage == Usage(input_tokens=10)


@PROPERTY
@given(field=st.sampled_from(["promptTokenCount", "candidatesTokenCount"]), garbage=INVALID_COUNTS)
def test_embed_usage_metadata_with_a_bad_count(field, garbage):
    body = {
        "embeddings": [{"values": [0.1]}],
        "usage_metadata": {"promptTokenCount": 17, "candidatesTokenCount": 0} | {field: garbage},
    }
    # Embeddings have no output: a bad input count leaves nothing (estimated locally).
    expected = None if field == "promptTokenCount" else Usage(input_tokens=17)
    assert ex.embed_result(body).usage == expected
