"""Properties of the Ollama response and stream-part readers under garbage.

Whatever JSON-ish value replaces any part of a real response or stream part (as a plain dict or,
where the SDK accepts it, as the SDK's own object built from it), the readers never raise, every
count they report is None or an int in [0, MAX_TOKEN_COUNT], and a bad field loses that field
only: the other counts, the model and the finish reason survive exactly.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import ollama
from hypothesis import given
from hypothesis import strategies as st
from otel_tokens_ollama._endpoints import OllamaEndpoint, PartStreamObserver, Plan
from otel_tokens_ollama._extract import CHAT, EMBED, EMBEDDINGS, GENERATE, response_result

from otel_tokens.instrumentation import CallResult, Estimate, Usage
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
    streamed,
)

# -- real shapes --------------------------------------------------------------------------------

CHAT_RESPONSE = {
    "model": "llama3.1:70b",
    "created_at": "2025-06-01T12:00:00.000000Z",
    "message": {
        "role": "assistant",
        "content": "Hello!",
        "thinking": "Greet briefly.",
        "tool_calls": [{"function": {"name": "get_weather", "arguments": {"city": "Paris"}}}],
    },
    "done": True,
    "done_reason": "stop",
    "total_duration": 900_000_000,
    "prompt_eval_count": 1200,
    "prompt_eval_cached_count": 1000,
    "eval_count": 300,
}
CHAT_USAGE = Usage(input_tokens=1200, output_tokens=300, cache_read_input_tokens=1000)
# A count's name -> the usage when that count alone is invalid.
CHAT_LOSSES = {
    "prompt_eval_count": Usage(output_tokens=300, cache_read_input_tokens=1000),
    "eval_count": Usage(input_tokens=1200, cache_read_input_tokens=1000),
    "prompt_eval_cached_count": Usage(input_tokens=1200, output_tokens=300),
}
GENERATE_RESPONSE = {
    "model": "llama3.1:70b",
    "created_at": "2025-06-01T12:00:00.000000Z",
    "response": "Once upon a time",
    "done": True,
    "done_reason": "length",
    "context": [1, 2, 3],
    "prompt_eval_count": 8,
    "eval_count": 5,
}
EMBED_RESPONSE = {"model": "all-minilm", "embeddings": [[0.1, 0.2, 0.3]], "prompt_eval_count": 12}
EMBEDDINGS_RESPONSE = {"embedding": [0.1, 0.2, 0.3, 0.4]}


def _part(content: str, **extra: Any) -> dict[str, Any]:
    return {
        "model": "llama3.1:70b",
        "created_at": "2025-06-01T12:00:00.000000Z",
        "message": {"role": "assistant", "content": content},
        "done": False,
        **extra,
    }


STREAM = [
    _part("Hel"),
    _part("lo!"),
    _part("", done=True, done_reason="stop", prompt_eval_count=20, eval_count=7, prompt_eval_cached_count=4),
]
STREAM_USAGE = Usage(input_tokens=20, output_tokens=7, cache_read_input_tokens=4)
STREAM_LOSSES = {
    "prompt_eval_count": Usage(output_tokens=7, cache_read_input_tokens=4),
    "eval_count": Usage(input_tokens=20, cache_read_input_tokens=4),
    "prompt_eval_cached_count": Usage(input_tokens=20, output_tokens=7),
}

_SDK_TYPES = {
    CHAT: ollama.ChatResponse,
    GENERATE: ollama.GenerateResponse,
    EMBED: ollama.EmbedResponse,
    EMBEDDINGS: ollama.EmbeddingsResponse,
}
_DOCUMENTS = {
    CHAT: CHAT_RESPONSE,
    GENERATE: GENERATE_RESPONSE,
    EMBED: EMBED_RESPONSE,
    EMBEDDINGS: EMBEDDINGS_RESPONSE,
}


FORMS = st.sampled_from(["plain", "sdk"])


def formed(kind: str, form: str, document: Any) -> Any:
    return document if form == "plain" else sdk_form(_SDK_TYPES[kind])(document)


# The SDK up to 0.6 drops the fields it does not declare, newer servers' cached count among them.
_SDK_KEEPS_CACHED = "prompt_eval_cached_count" in ollama.ChatResponse.model_fields


def expected(usage: Usage, read: Any) -> Usage:
    """``usage`` as read from ``read`` (a document, or the SDK's object built from it)."""
    if not isinstance(read, dict) and not _SDK_KEEPS_CACHED:
        return dataclasses.replace(usage, cache_read_input_tokens=None)
    return usage


def stream_result(parts: list[Any], kind: str = CHAT, cached_prompt: Any = None) -> CallResult | None:
    return streamed(PartStreamObserver(kind, Plan(stream=True, cached_prompt=cached_prompt)), parts)


def assert_sane(result: CallResult | None) -> None:
    """What any reader may return, whatever it read (an observer that saw nothing: None); a chat
    offers one assistant message, and the only attribute is the embeddings' dimension count."""
    if result is None:
        return
    assert_readable(result)
    if result.output_messages is not None:
        [message] = result.output_messages()
        assert message["role"] == "assistant"
        for part in message["parts"]:
            assert part["type"] != "tool_call" or part["name"] is None or type(part["name"]) is str
            assert part["type"] == "tool_call" or type(part["content"]) is str
    attributes = result.attributes or {}
    assert set(attributes) <= {"gen_ai.embeddings.dimension.count"}
    assert all(type(value) is int for value in attributes.values())


# -- responses ----------------------------------------------------------------------------------


def test_the_real_responses_are_read_whole():
    for form in ("plain", "sdk"):
        document = formed(CHAT, form, CHAT_RESPONSE)
        chat = response_result(CHAT, document)
        assert (chat.usage, chat.response_model, chat.finish_reasons) == (
            expected(CHAT_USAGE, document),
            "llama3.1:70b",
            ("stop",),
        )
        generate = response_result(GENERATE, formed(GENERATE, form, GENERATE_RESPONSE))
        assert (generate.usage, generate.finish_reasons) == (
            Usage(input_tokens=8, output_tokens=5),
            ("length",),
        )
        embed = response_result(EMBED, formed(EMBED, form, EMBED_RESPONSE))
        assert (embed.usage, embed.attributes) == (
            Usage(input_tokens=12),
            {"gen_ai.embeddings.dimension.count": 3},
        )
        legacy = response_result(EMBEDDINGS, formed(EMBEDDINGS, form, EMBEDDINGS_RESPONSE))
        assert (legacy.usage, legacy.attributes) == (None, {"gen_ai.embeddings.dimension.count": 4})
    assert take_invalid_count() == 0


@PROPERTY
@given(
    st.sampled_from([(kind, path) for kind, document in _DOCUMENTS.items() for path in paths(document)]),
    GARBAGE,
    FORMS,
)
def test_a_response_with_garbage_anywhere_never_breaks_the_reader(kind_and_path, garbage, form):
    kind, path = kind_and_path
    assert_sane(response_result(kind, formed(kind, form, replaced(_DOCUMENTS[kind], path, garbage))))


@PROPERTY
@given(GARBAGE)
def test_garbage_instead_of_a_response_never_breaks_the_readers(garbage):
    for kind in (CHAT, GENERATE, EMBED, EMBEDDINGS):
        assert_sane(response_result(kind, garbage))
    assert_sane(stream_result([garbage]))
    assert_sane(stream_result([garbage], GENERATE))


@PROPERTY
@given(st.sampled_from(sorted(CHAT_LOSSES)), INVALID_COUNTS)
def test_an_invalid_count_loses_that_count_only(name, garbage):
    take_invalid_count()
    result = response_result(CHAT, replaced(CHAT_RESPONSE, (name,), garbage))
    assert result.usage == CHAT_LOSSES[name]
    assert take_invalid_count() == 1  # counted, for otel_tokens.telemetry.dropped
    assert (result.response_model, result.finish_reasons) == ("llama3.1:70b", ("stop",))


@PROPERTY
@given(INVALID_COUNTS)
def test_an_invalid_prompt_count_is_not_taken_for_a_kv_cache_hit(garbage):
    # Absent means "all read from the KV cache" (estimated); invalid means that count is lost.
    plan = Plan(stream=False, cached_prompt=lambda: Estimate(99, "heuristic"))
    endpoint = OllamaEndpoint(CHAT)
    lost = endpoint.read_result(replaced(CHAT_RESPONSE, ("prompt_eval_count",), garbage), plan)
    assert lost.usage == CHAT_LOSSES["prompt_eval_count"]
    absent = {key: value for key, value in CHAT_RESPONSE.items() if key != "prompt_eval_count"}
    assert endpoint.read_result(absent, plan).usage == Usage(
        input_tokens=99,
        output_tokens=300,
        cache_read_input_tokens=99,
        estimated=True,
        estimate_method="heuristic",
    )


@PROPERTY
@given(st.sampled_from(["model", "done_reason"]), NOT_TEXT, FORMS)
def test_a_bad_text_field_loses_that_field_only(field, garbage, form):
    document = formed(CHAT, form, replaced(CHAT_RESPONSE, (field,), garbage))
    result = response_result(CHAT, document)
    assert result.usage == expected(CHAT_USAGE, document)
    found = {"model": result.response_model, "done_reason": result.finish_reasons}
    wanted = {"model": "llama3.1:70b", "done_reason": ("stop",)}
    if form == "sdk" and found[field] is not None:  # the SDK made text of the value (5 -> "5")
        wanted[field] = found[field]
    else:
        wanted[field] = None
    assert found == wanted


@PROPERTY
@given(st.sampled_from(["message", "message.content", "message.tool_calls", "message.thinking"]), GARBAGE)
def test_a_garbage_message_loses_the_text_only(field, garbage):
    result = response_result(CHAT, replaced(CHAT_RESPONSE, tuple(field.split(".")), garbage))
    assert_sane(result)
    assert (result.usage, result.response_model, result.finish_reasons) == (
        CHAT_USAGE,
        "llama3.1:70b",
        ("stop",),
    )


@PROPERTY
@given(st.sampled_from(["embeddings", "embeddings.0"]), GARBAGE)
def test_garbage_vectors_lose_the_dimension_only(field, garbage):
    path = tuple(int(key) if key.isdigit() else key for key in field.split("."))
    result = response_result(EMBED, replaced(EMBED_RESPONSE, path, garbage))
    assert_sane(result)
    assert (result.usage, result.response_model) == (Usage(input_tokens=12), "all-minilm")


# -- streams ------------------------------------------------------------------------------------


def test_the_real_stream_is_read_whole():
    for form in ("plain", "sdk"):
        parts = [formed(CHAT, form, part) for part in STREAM]
        result = stream_result(parts)
        assert result is not None
        assert (result.usage, result.response_model, result.finish_reasons) == (
            expected(STREAM_USAGE, parts[-1]),
            "llama3.1:70b",
            ("stop",),
        )
    assert stream_result([]) is None  # no part at all: nothing to count
    assert take_invalid_count() == 0


@PROPERTY
@given(st.sampled_from(list(paths(STREAM))), GARBAGE, FORMS)
def test_a_stream_with_garbage_anywhere_never_breaks_the_observer(path, garbage, form):
    parts = replaced(STREAM, path, garbage)
    parts = [formed(CHAT, form, part) for part in parts] if isinstance(parts, list) else [parts]
    assert_sane(stream_result(parts))


@PROPERTY
@given(st.sampled_from(sorted(STREAM_LOSSES)), INVALID_COUNTS, FORMS)
def test_an_invalid_count_in_a_stream_loses_that_count_only(name, garbage, form):
    parts = [formed(CHAT, form, part) for part in replaced(STREAM, (2, name), garbage)]
    result = stream_result(parts)
    assert result is not None
    if form == "plain":
        assert result.usage == STREAM_LOSSES[name]
    else:  # the SDK may have made a count of the value first (True -> 1): compare the others
        assert_usage_but(result.usage, expected(STREAM_LOSSES[name], parts[-1]), _USAGE_FIELDS[name])
    assert (result.response_model, result.finish_reasons) == ("llama3.1:70b", ("stop",))


_USAGE_FIELDS = {
    "prompt_eval_count": "input_tokens",
    "eval_count": "output_tokens",
    "prompt_eval_cached_count": "cache_read_input_tokens",
}


@PROPERTY
@given(st.sampled_from(["done", "model"]), NOT_TEXT)
def test_a_bad_final_part_field_loses_that_field_only(field, garbage):
    result = stream_result(replaced(STREAM, (2, field), garbage))
    assert result is not None
    # A bad "done" flag: the last part is read all the same (a stream's last part is its final one).
    expected = ("llama3.1:70b" if field == "done" else None, ("stop",))
    assert result.usage == STREAM_USAGE
    assert (result.response_model, result.finish_reasons) == expected
