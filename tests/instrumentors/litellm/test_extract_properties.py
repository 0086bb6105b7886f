"""Properties of the LiteLLM response and stream-chunk readers under garbage.

Whatever JSON-ish value replaces any part of a real response or stream chunk (as a plain dict
or, where LiteLLM accepts it, as LiteLLM's own object built from it), the readers never raise,
every count they report is None or an int in [0, MAX_TOKEN_COUNT], and a bad field loses that
field only: the other counts, the model, the id and the finish reasons survive exactly.
"""

from __future__ import annotations

import copy
from typing import Any

import litellm
from hypothesis import given
from hypothesis import strategies as st
from otel_tokens_litellm._endpoints import LiteLLMStreamObserver
from otel_tokens_litellm._extract import chat_result, embeddings_result, text_completion_result, usage_of

from otel_tokens.instrumentation import SKIP, CallResult, Usage
from otel_tokens.usage import take_invalid_count

from .._garbage import (
    GARBAGE,
    INVALID_COUNTS,
    NOT_TEXT,
    PROPERTY,
    assert_readable,
    assert_usage_but,
    paths,
    replaced,
    sdk_form,
)

# -- real shapes --------------------------------------------------------------------------------

USAGE = {
    "prompt_tokens": 1400,
    "completion_tokens": 50,
    "total_tokens": 1450,
    "prompt_tokens_details": {
        "cached_tokens": 1024,
        "cache_creation_token_details": {"ephemeral_1h_input_tokens": 100},
    },
    "cache_creation_input_tokens": 300,
    "completion_tokens_details": {"reasoning_tokens": 8},
}
FULL_USAGE = Usage(
    input_tokens=1400,
    output_tokens=50,
    cache_read_input_tokens=1024,
    cache_creation_input_tokens=300,
    cache_creation_1h_input_tokens=100,
    reasoning_output_tokens=8,
)
# A count's path in USAGE -> the usage when that count alone is invalid.
USAGE_LOSSES = {
    ("prompt_tokens",): Usage(
        output_tokens=50,
        cache_read_input_tokens=1024,
        cache_creation_input_tokens=300,
        cache_creation_1h_input_tokens=100,
        reasoning_output_tokens=8,
    ),
    ("completion_tokens",): Usage(
        input_tokens=1400,
        cache_read_input_tokens=1024,
        cache_creation_input_tokens=300,
        cache_creation_1h_input_tokens=100,
        reasoning_output_tokens=8,
    ),
    ("prompt_tokens_details", "cached_tokens"): Usage(
        input_tokens=1400,
        output_tokens=50,
        cache_creation_input_tokens=300,
        cache_creation_1h_input_tokens=100,
        reasoning_output_tokens=8,
    ),
    ("prompt_tokens_details", "cache_creation_token_details", "ephemeral_1h_input_tokens"): Usage(
        input_tokens=1400,
        output_tokens=50,
        cache_read_input_tokens=1024,
        cache_creation_input_tokens=300,
        reasoning_output_tokens=8,
    ),
    ("cache_creation_input_tokens",): Usage(
        input_tokens=1400,
        output_tokens=50,
        cache_read_input_tokens=1024,
        cache_creation_1h_input_tokens=100,
        reasoning_output_tokens=8,
    ),
    ("completion_tokens_details", "reasoning_tokens"): Usage(
        input_tokens=1400,
        output_tokens=50,
        cache_read_input_tokens=1024,
        cache_creation_input_tokens=300,
        cache_creation_1h_input_tokens=100,
    ),
}

CHAT = {
    "id": "chatcmpl-01",
    "object": "chat.completion",
    "created": 1700000000,
    "model": "gpt-4o-mini-2024-07-18",
    "choices": [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": "Hello!",
                "tool_calls": [
                    {
                        "id": "call_01",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                    }
                ],
            },
            "finish_reason": "stop",
        }
    ],
    "usage": USAGE,
}
TEXT_COMPLETION = {
    "id": "cmpl-01",
    "object": "text_completion",
    "created": 1700000000,
    "model": "gpt-3.5-turbo-instruct",
    "choices": [{"index": 0, "text": "Once upon a time", "finish_reason": "length", "logprobs": None}],
    "usage": {"prompt_tokens": 8, "completion_tokens": 5, "total_tokens": 13},
}
EMBEDDINGS = {
    "object": "list",
    "model": "text-embedding-3-small",
    "data": [{"object": "embedding", "index": 0, "embedding": [0.1, 0.2, 0.3, 0.4]}],
    "usage": {"prompt_tokens": 12, "total_tokens": 12},
}


def _chunk(choices: list[Any], **extra: Any) -> dict[str, Any]:
    return {
        "id": "chatcmpl-02",
        "object": "chat.completion.chunk",
        "created": 1700000000,
        "model": "gpt-4o-mini-2024-07-18",
        "choices": choices,
        **extra,
    }


STREAM = [
    _chunk([{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]),
    _chunk([{"index": 0, "delta": {"content": "Hel"}, "finish_reason": None}]),
    _chunk([{"index": 0, "delta": {"content": "lo!"}, "finish_reason": None}]),
    _chunk([{"index": 0, "delta": {}, "finish_reason": "stop"}]),
    # LiteLLM's usage chunk: one choice with an empty delta (see CustomStreamWrapper).
    _chunk([{"index": 0, "delta": {}, "finish_reason": None}], usage=USAGE),
]
_STREAM_USAGE = (4, "usage")


def _plain(document: Any) -> Any:
    return document


CHAT_FORMS = st.sampled_from([_plain, sdk_form(litellm.ModelResponse)])
CHUNK_FORMS = st.sampled_from([_plain, sdk_form(litellm.types.utils.ModelResponseStream)])


def stream_result(chunks: list[Any], injected: bool = False) -> CallResult:
    observer = LiteLLMStreamObserver(stream=None, injected_usage=injected)
    for chunk in chunks:
        shown = observer.on_item(chunk)
        assert shown is None or injected  # without the opt-in, every chunk reaches the user unchanged
        assert shown is None or shown is SKIP or type(shown) is type(chunk)
    return observer.result()


def assert_sane(result: CallResult) -> None:
    """What any reader may return, whatever it read; each output message has a role and text."""
    assert_readable(result)
    if result.output_messages is not None:
        for message in result.output_messages():
            assert type(message["role"]) is str
            assert all(type(part["content"]) is str for part in message["parts"])


# -- usage --------------------------------------------------------------------------------------


def test_the_real_usage_is_read_whole():
    assert usage_of(USAGE) == FULL_USAGE
    assert usage_of(litellm.Usage(**copy.deepcopy(USAGE))) == FULL_USAGE
    assert take_invalid_count() == 0


@PROPERTY
@given(st.sampled_from(sorted(USAGE_LOSSES)), INVALID_COUNTS)
def test_an_invalid_count_loses_that_count_only(path, garbage):
    take_invalid_count()
    assert usage_of(replaced(USAGE, path, garbage)) == USAGE_LOSSES[path]
    assert take_invalid_count() == 1  # counted, for otel_tokens.telemetry.dropped


@PROPERTY
@given(st.sampled_from(list(paths(USAGE))), GARBAGE)
def test_usage_with_garbage_anywhere_never_breaks_the_reader(path, garbage):
    assert_sane(CallResult(usage=usage_of(replaced(USAGE, path, garbage))))


# -- responses ----------------------------------------------------------------------------------


def test_the_real_responses_are_read_whole():
    for form in (_plain, sdk_form(litellm.ModelResponse)):
        result = chat_result(form(CHAT))
        assert result.usage == FULL_USAGE
        assert (result.response_model, result.response_id, result.finish_reasons) == (
            "gpt-4o-mini-2024-07-18",
            "chatcmpl-01",
            ("stop",),
        )
    completion = text_completion_result(TEXT_COMPLETION)
    assert completion.usage == Usage(input_tokens=8, output_tokens=5)
    assert completion.finish_reasons == ("length",)
    embeddings = embeddings_result(EMBEDDINGS)
    assert embeddings.usage == Usage(input_tokens=12)
    assert embeddings.attributes == {"gen_ai.embeddings.dimension.count": 4}
    assert take_invalid_count() == 0


@PROPERTY
@given(st.sampled_from(list(paths(CHAT))), GARBAGE, CHAT_FORMS)
def test_chat_response_with_garbage_anywhere_never_breaks_the_reader(path, garbage, form):
    assert_sane(chat_result(form(replaced(CHAT, path, garbage))))


@PROPERTY
@given(st.sampled_from(list(paths(TEXT_COMPLETION))), GARBAGE)
def test_text_completion_with_garbage_anywhere_never_breaks_the_reader(path, garbage):
    assert_sane(text_completion_result(replaced(TEXT_COMPLETION, path, garbage)))


@PROPERTY
@given(st.sampled_from(list(paths(EMBEDDINGS))), GARBAGE)
def test_embeddings_with_garbage_anywhere_never_breaks_the_reader(path, garbage):
    result = embeddings_result(replaced(EMBEDDINGS, path, garbage))
    assert_sane(result)
    assert result.attributes is None or set(result.attributes) == {"gen_ai.embeddings.dimension.count"}


@PROPERTY
@given(GARBAGE)
def test_garbage_instead_of_a_response_never_breaks_the_readers(garbage):
    assert_sane(chat_result(garbage))
    assert_sane(text_completion_result(garbage))
    assert_sane(embeddings_result(garbage))


# A count's path in USAGE -> its field in Usage.
USAGE_FIELDS = {
    ("prompt_tokens",): "input_tokens",
    ("completion_tokens",): "output_tokens",
    ("prompt_tokens_details", "cached_tokens"): "cache_read_input_tokens",
    ("prompt_tokens_details", "cache_creation_token_details", "ephemeral_1h_input_tokens"): (
        "cache_creation_1h_input_tokens"
    ),
    ("cache_creation_input_tokens",): "cache_creation_input_tokens",
    ("completion_tokens_details", "reasoning_tokens"): "reasoning_output_tokens",
}


def assert_usage_lost(usage: Usage | None, path: tuple[Any, ...], form: Any) -> None:
    """The count at ``path`` alone is lost; in LiteLLM's own object LiteLLM may have put its own
    value there first (it reads a missing count as 0), so then only the others are compared."""
    if form is _plain:
        assert usage == USAGE_LOSSES[path]
    else:
        assert_usage_but(usage, USAGE_LOSSES[path], USAGE_FIELDS[path])


@PROPERTY
@given(st.sampled_from(sorted(USAGE_LOSSES)), INVALID_COUNTS, CHAT_FORMS)
def test_an_invalid_count_in_a_response_keeps_the_rest(path, garbage, form):
    result = chat_result(form(replaced(CHAT, ("usage", *path), garbage)))
    assert_usage_lost(result.usage, path, form)
    assert (result.response_model, result.response_id, result.finish_reasons) == (
        "gpt-4o-mini-2024-07-18",
        "chatcmpl-01",
        ("stop",),
    )


@PROPERTY
@given(st.sampled_from(["model", "id", "finish_reason"]), NOT_TEXT)
def test_a_bad_text_field_loses_that_field_only(field, garbage):
    path = ("choices", 0, "finish_reason") if field == "finish_reason" else (field,)
    result = chat_result(replaced(CHAT, path, garbage))
    assert result.usage == FULL_USAGE
    expected = {"model": "gpt-4o-mini-2024-07-18", "id": "chatcmpl-01", "finish_reason": ("stop",)}
    expected[field] = None
    found = {"model": result.response_model, "id": result.response_id, "finish_reason": result.finish_reasons}
    assert found == expected


@PROPERTY
@given(
    st.sampled_from(["choices", "choices.0", "choices.0.message", "choices.0.message.tool_calls"]), GARBAGE
)
def test_garbage_choices_lose_the_text_only(field, garbage):
    path = tuple(int(key) if key.isdigit() else key for key in field.split("."))
    result = chat_result(replaced(CHAT, path, garbage))
    assert_sane(result)
    assert result.usage == FULL_USAGE
    assert (result.response_model, result.response_id) == ("gpt-4o-mini-2024-07-18", "chatcmpl-01")


# -- streams ------------------------------------------------------------------------------------


def test_the_real_stream_is_read_whole():
    for form in (_plain, sdk_form(litellm.types.utils.ModelResponseStream)):
        result = stream_result([form(chunk) for chunk in STREAM])
        assert result.usage == FULL_USAGE
        assert (result.response_model, result.response_id, result.finish_reasons) == (
            "gpt-4o-mini-2024-07-18",
            "chatcmpl-02",
            ("stop",),
        )
        assert result.output_texts is None
    assert take_invalid_count() == 0


@PROPERTY
@given(st.sampled_from(list(paths(STREAM))), GARBAGE, CHUNK_FORMS, st.booleans())
def test_stream_with_garbage_anywhere_never_breaks_the_observer(path, garbage, form, injected):
    chunks = replaced(STREAM, path, garbage)
    if isinstance(chunks, list):
        chunks = [form(chunk) for chunk in chunks]
        assert_sane(stream_result(chunks, injected))
    else:  # the stream itself replaced: its items are whatever iterating the garbage gives
        assert_sane(
            stream_result(list(chunks) if isinstance(chunks, list | dict | str) else [chunks], injected)
        )


@PROPERTY
@given(st.sampled_from(sorted(USAGE_LOSSES)), INVALID_COUNTS, CHUNK_FORMS)
def test_an_invalid_count_in_a_stream_loses_that_count_only(path, garbage, form):
    chunks = [form(chunk) for chunk in replaced(STREAM, (*_STREAM_USAGE, *path), garbage)]
    result = stream_result(chunks)
    assert_usage_lost(result.usage, path, form)
    assert (result.response_model, result.response_id, result.finish_reasons) == (
        "gpt-4o-mini-2024-07-18",
        "chatcmpl-02",
        ("stop",),
    )


@PROPERTY
@given(st.sampled_from(["model", "finish_reason", "index"]), NOT_TEXT)
def test_a_bad_chunk_field_loses_that_field_only(field, garbage):
    if field == "model":  # the first chunk's: the next chunk names the same model and id
        chunks = replaced(STREAM, (0, "model"), garbage)
        expected = ("gpt-4o-mini-2024-07-18", "chatcmpl-02", ("stop",))
    elif field == "finish_reason":
        chunks = replaced(STREAM, (3, "choices", 0, "finish_reason"), garbage)
        expected = ("gpt-4o-mini-2024-07-18", "chatcmpl-02", None)
    else:  # a bad index: the reason is kept under the choice's position
        chunks = replaced(STREAM, (3, "choices", 0, "index"), garbage)
        expected = ("gpt-4o-mini-2024-07-18", "chatcmpl-02", ("stop",))
    result = stream_result(chunks)
    assert result.usage == FULL_USAGE
    assert (result.response_model, result.response_id, result.finish_reasons) == expected


@PROPERTY
@given(GARBAGE)
def test_garbage_chunks_in_an_injected_stream_are_shown_or_hidden_never_broken(garbage):
    observer = LiteLLMStreamObserver(stream=None, injected_usage=True)
    for chunk in [*STREAM[:4], garbage, STREAM[4]]:
        shown = observer.on_item(chunk)
        assert shown is None or shown is SKIP or isinstance(shown, dict)
    result = observer.result()
    assert_sane(result)
    assert result.usage == FULL_USAGE
