"""Property tests of the response and stream-chunk readers: garbage in one field loses that field only.

Real response shapes (the wire's JSON, and the SDK's own objects built without validation) get
arbitrary JSON-ish values substituted anywhere; the readers never raise, every token count they
report is a valid count, and when one usage field is garbage the others arrive exactly.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from otel_tokens_mistralai import _extract as ex
from otel_tokens_mistralai._endpoints import CompletionStreamObserver

from otel_tokens.instrumentation import CallResult, Usage, text_or_none

from .. import _garbage
from .._garbage import (
    INVALID_COUNTS,
    PROPERTY,
    assert_counts_valid,
    assert_readable,
    paths,
    replaced,
    streamed,
)
from .sdk import UNSET, models

GARBAGE = st.one_of(_garbage.GARBAGE, st.just(UNSET))
"""Any JSON-ish value, or the SDK's own marker of a field not set."""

FULL_USAGE = Usage(
    input_tokens=1200, output_tokens=90, cache_read_input_tokens=1024, reasoning_output_tokens=30
)
# (path into usage, the Usage read from the rest when that one count is garbage)
COUNTS = {
    ("prompt_tokens",): Usage(output_tokens=90, cache_read_input_tokens=1024, reasoning_output_tokens=30),
    ("completion_tokens",): Usage(
        input_tokens=1200, cache_read_input_tokens=1024, reasoning_output_tokens=30
    ),
    ("prompt_tokens_details", "cached_tokens"): Usage(
        input_tokens=1200, output_tokens=90, reasoning_output_tokens=30
    ),
    ("completion_tokens_details", "reasoning_tokens"): Usage(
        input_tokens=1200, output_tokens=90, cache_read_input_tokens=1024
    ),
    ("total_tokens",): FULL_USAGE,  # not read
}


def usage() -> dict[str, Any]:
    return {
        "prompt_tokens": 1200,
        "completion_tokens": 90,
        "total_tokens": 1290,
        "prompt_tokens_details": {"cached_tokens": 1024},
        "completion_tokens_details": {"reasoning_tokens": 30},
        "service_tier": "priority",
    }


def response() -> dict[str, Any]:
    """A chat completion as the API sends it (two choices, one with a tool call)."""
    return {
        "id": "cmpl-1",
        "object": "chat.completion",
        "model": "mistral-small-latest",
        "created": 1,
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": [
                        {"type": "thinking", "thinking": [{"type": "text", "text": "hmm"}]},
                        {"type": "text", "text": "Hello!"},
                    ],
                },
                "finish_reason": "stop",
            },
            {
                "index": 1,
                "message": {
                    "role": "assistant",
                    "content": "",
                    "tool_calls": [{"id": "t1", "function": {"name": "f", "arguments": '{"a": 1}'}}],
                },
                "finish_reason": "tool_calls",
            },
        ],
        "usage": usage(),
    }


@PROPERTY
@given(path=st.sampled_from(paths(response(), whole=False)), garbage=GARBAGE)
def test_chat_result_never_raises_and_counts_stay_valid(path, garbage):
    assert_readable(ex.chat_result(replaced(response(), path, garbage)))


@PROPERTY
@given(body=GARBAGE)
def test_readers_of_a_garbage_body(body):
    assert_readable(ex.chat_result(body))
    assert_readable(ex.embeddings_result(body))


@PROPERTY
@given(path=st.sampled_from(sorted(COUNTS)), garbage=INVALID_COUNTS)
def test_one_bad_count_loses_that_count_only(path, garbage):
    result = ex.chat_result(replaced(response(), ("usage", *path), garbage))
    assert result.usage == COUNTS[path]
    assert (result.response_model, result.response_id, result.service_tier) == (
        "mistral-small-latest",
        "cmpl-1",
        "priority",
    )
    assert result.finish_reasons == ("stop", "tool_calls")


@PROPERTY
@given(path=st.sampled_from(sorted(COUNTS)), garbage=INVALID_COUNTS)
def test_one_bad_count_in_the_sdk_object_loses_that_count_only(path, garbage):
    # The SDK's own objects, as the method returns them; built without validation to carry
    # what a future SDK or a proxy might let through.
    values = replaced(usage(), path, garbage)
    sdk = models.ChatCompletionResponse.model_construct(
        id="cmpl-1",
        model="mistral-small-latest",
        choices=[],
        usage=models.UsageInfo.model_construct(**values),
    )
    result = ex.chat_result(sdk)
    assert result.usage == COUNTS[path]
    assert (result.response_model, result.response_id) == ("mistral-small-latest", "cmpl-1")


@PROPERTY
@given(field=st.sampled_from(["model", "id", "choices", "usage"]), garbage=GARBAGE)
def test_a_bad_field_beside_usage_loses_that_field_only(field, garbage):
    result = ex.chat_result(replaced(response(), (field,), garbage))
    if field != "usage":
        assert result.usage == FULL_USAGE
    else:
        assert_counts_valid(result.usage)
    assert result.response_model == (text_or_none(garbage) if field == "model" else "mistral-small-latest")
    assert result.response_id == (text_or_none(garbage) if field == "id" else "cmpl-1")
    if field != "choices":
        assert result.finish_reasons == ("stop", "tool_calls")


@pytest.mark.parametrize("model", [7, 1.5, True, ["mistral"], {"name": "mistral"}, "", "m" * 300, UNSET])
def test_a_model_that_is_not_a_name_is_lost_alone(model):
    result = ex.chat_result(replaced(response(), ("model",), model))
    assert result.response_model is None
    assert result.usage == FULL_USAGE


# -- stream events -------------------------------------------------------------------------


def events(**last_usage: Any) -> list[dict[str, Any]]:
    """A streamed answer as ``CompletionEvent`` items; the last chunk carries the usage."""

    def chunk(delta: dict[str, Any], reason: Any = None, **extra: Any) -> dict[str, Any]:
        choice = {"index": 0, "delta": delta, "finish_reason": reason}
        return {"data": {"id": "cmpl-1", "model": "mistral-small-latest", "choices": [choice], **extra}}

    return [
        chunk({"role": "assistant", "content": ""}),
        chunk({"content": "Hel"}),
        chunk(
            {"content": "lo", "tool_calls": [{"id": "t1", "function": {"name": "f", "arguments": {"a": 1}}}]}
        ),
        chunk({"content": ""}, "stop", usage={**usage(), **last_usage}),
    ]


def observed(items: list[Any]) -> CallResult:
    return streamed(CompletionStreamObserver(), items)


@PROPERTY
@given(path=st.sampled_from(paths(events(), whole=False)), garbage=GARBAGE)
def test_stream_observer_never_raises_and_counts_stay_valid(path, garbage):
    assert_readable(observed(replaced(events(), path, garbage)))


@PROPERTY
@given(items=st.lists(GARBAGE, max_size=4))
def test_stream_of_garbage_events(items):
    assert_readable(observed(items))


@PROPERTY
@given(path=st.sampled_from(sorted(COUNTS)), garbage=INVALID_COUNTS)
def test_stream_one_bad_count_loses_that_count_only(path, garbage):
    result = observed(replaced(events(), (3, "data", "usage", *path), garbage))
    assert result.usage == COUNTS[path]
    assert (result.response_model, result.response_id, result.finish_reasons, result.service_tier) == (
        "mistral-small-latest",
        "cmpl-1",
        ("stop",),
        "priority",
    )


@PROPERTY
@given(field=st.sampled_from(["model", "id", "choices"]), garbage=GARBAGE)
def test_stream_bad_field_in_the_last_chunk_keeps_the_rest(field, garbage):
    items = events()
    items[-1]["data"][field] = garbage
    result = observed(items)
    assert result.usage == FULL_USAGE
    # Model and id come from the first chunk that names a model: a later one changes nothing.
    assert (result.response_model, result.response_id) == ("mistral-small-latest", "cmpl-1")
    if field != "choices":
        assert result.finish_reasons == ("stop",)


# -- embeddings ----------------------------------------------------------------------------


def embeddings(**usage_fields: Any) -> dict[str, Any]:
    return {
        "id": "emb-1",
        "object": "list",
        "model": "mistral-embed",
        "data": [{"object": "embedding", "embedding": [0.1, 0.2, 0.3], "index": 0}],
        "usage": {"prompt_tokens": 17, "completion_tokens": 0, "total_tokens": 17, **usage_fields},
    }


@PROPERTY
@given(path=st.sampled_from(paths(embeddings(), whole=False)), garbage=GARBAGE)
def test_embeddings_result_never_raises_and_counts_stay_valid(path, garbage):
    assert_readable(ex.embeddings_result(replaced(embeddings(), path, garbage)))


@PROPERTY
@given(garbage=INVALID_COUNTS)
def test_embeddings_bad_count_keeps_the_rest(garbage):
    result = ex.embeddings_result(embeddings(prompt_tokens=garbage))
    assert result.usage is None  # left to the local estimate
    assert (result.response_model, result.response_id) == ("mistral-embed", "emb-1")
    assert result.attributes == {"gen_ai.embeddings.dimension.count": 3}
    assert ex.embeddings_result(embeddings(completion_tokens=garbage)).usage == Usage(input_tokens=17)
