"""Properties of Cohere's response and stream-event readers under garbage.

Whatever JSON-ish value replaces any part of a real v1 or v2 response or stream event, the readers
never raise, every count they report is None or an int in [0, MAX_TOKEN_COUNT], and a bad field
loses that field only: the other counts, the raw counts, the id and the finish reason survive.
"""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from otel_tokens_cohere import _extract as ex
from otel_tokens_cohere._endpoints import CohereEndpoint, CohereStreamObserver

from otel_tokens.instrumentation import MAX_TOKEN_COUNT, CallResult, Usage

from .._garbage import (
    GARBAGE,
    INVALID_COUNTS,
    NOT_TEXT,
    PROPERTY,
    assert_readable,
    mangled,
    replaced,
    streamed,
)

RAW_INPUT = "otel_tokens.usage.raw.input_tokens"
RAW_OUTPUT = "otel_tokens.usage.raw.output_tokens"

# -- real shapes (the SDK's objects read the same as these dicts) --------------------------------

USAGE = {
    "billed_units": {"input_tokens": 62.0, "output_tokens": 28.0},
    "tokens": {"input_tokens": 968.0, "output_tokens": 83.0},
}
V2_CHAT = {
    "id": "c-1",
    "finish_reason": "COMPLETE",
    "message": {
        "role": "assistant",
        "content": [{"type": "text", "text": "Hi"}],
        "tool_plan": "Look it up.",
        "tool_calls": [{"id": "t1", "type": "function", "function": {"name": "f", "arguments": "{}"}}],
    },
    "usage": USAGE,
}
V1_CHAT = {
    "text": "Hi",
    "generation_id": "g-1",
    "response_id": "r-1",
    "finish_reason": "COMPLETE",
    "tool_calls": [{"name": "f", "parameters": {"a": 1}}],
    "meta": {"api_version": {"version": "1"}, **USAGE},
}
GENERATE = {
    "id": "gen-1",
    "generations": [{"id": "x", "text": "Hi", "finish_reason": "COMPLETE"}],
    "meta": {"billed_units": {"input_tokens": 4.0, "output_tokens": 2.0}},
}
EMBED = {
    "id": "e-1",
    "embeddings": {"float": [[0.1, 0.2, 0.3]]},
    "meta": {"billed_units": {"input_tokens": 12.0}},
}
EMBED_V1 = {"id": "e-2", "embeddings": [[0.1, 0.2]], "meta": {"billed_units": {"input_tokens": 5.0}}}
RERANK = {
    "id": "rr-1",
    "results": [{"index": 0, "relevance_score": 0.9}],
    "meta": {"billed_units": {"search_units": 1.0}},
}
V2_EVENTS = [
    {"type": "message-start", "id": "c-2", "delta": {"message": {"role": "assistant"}}},
    {"type": "content-start", "index": 0, "delta": {"message": {"content": {"type": "text", "text": ""}}}},
    {"type": "content-delta", "index": 0, "delta": {"message": {"content": {"text": "Hel"}}}},
    {"type": "content-delta", "index": 0, "delta": {"message": {"content": {"text": "lo"}}}},
    {"type": "tool-plan-delta", "delta": {"message": {"tool_plan": "plan"}}},
    {
        "type": "tool-call-start",
        "delta": {"message": {"tool_calls": {"function": {"name": "f", "arguments": ""}}}},
    },
    {"type": "tool-call-delta", "delta": {"message": {"tool_calls": {"function": {"arguments": "{}"}}}}},
    {"type": "message-end", "delta": {"finish_reason": "COMPLETE", "usage": copy.deepcopy(USAGE)}},
]
V1_EVENTS = [
    {"event_type": "stream-start", "generation_id": "g-2", "is_finished": False},
    {"event_type": "text-generation", "text": "Hel", "is_finished": False},
    {"event_type": "tool-calls-chunk", "tool_call_delta": {"name": "f", "parameters": "{}"}},
    {"event_type": "stream-end", "finish_reason": "COMPLETE", "response": copy.deepcopy(V1_CHAT)},
]
GENERATE_EVENTS = [
    {"event_type": "text-generation", "text": "Hi", "is_finished": False},
    {"event_type": "stream-end", "finish_reason": "COMPLETE", "response": copy.deepcopy(GENERATE)},
]
STREAMS = [(ex.CHAT_V2, V2_EVENTS), (ex.CHAT_V1, V1_EVENTS), (ex.GENERATE, GENERATE_EVENTS)]
RESPONSES = [
    (ex.CHAT_V2, V2_CHAT),
    (ex.CHAT_V1, V1_CHAT),
    (ex.GENERATE, GENERATE),
    (ex.EMBED, EMBED),
    (ex.EMBED, EMBED_V1),
    (ex.RERANK, RERANK),
]


def assert_sane(result: CallResult) -> None:
    """What any reader may return, whatever it read; the raw counts too are valid counts."""
    assert_readable(result)
    for key, value in (result.attributes or {}).items():
        if key in (RAW_INPUT, RAW_OUTPUT):
            assert type(value) is int and 0 <= value <= MAX_TOKEN_COUNT, (key, value)


def observe(kind: str, events: list[Any]) -> CallResult:
    return streamed(CohereStreamObserver(kind), events)


# -- never raise, counts bounded ----------------------------------------------------------------


@PROPERTY
@given(st.sampled_from(RESPONSES).flatmap(lambda pair: st.tuples(st.just(pair[0]), mangled(pair[1]))))
def test_any_response_with_garbage_anywhere_reads_sanely(case):
    kind, doc = case
    assert_sane(CohereEndpoint(kind).read_result(doc, None))


@PROPERTY
@given(st.sampled_from([ex.CHAT_V1, ex.CHAT_V2, ex.GENERATE, ex.EMBED, ex.RERANK]), GARBAGE)
def test_pure_garbage_reads_sanely(kind, doc):
    assert_sane(CohereEndpoint(kind).read_result(doc, None))


@PROPERTY
@given(st.data())
def test_streams_with_one_mangled_event_read_sanely(data):
    kind, events = data.draw(st.sampled_from(STREAMS))
    position = data.draw(st.integers(0, len(events) - 1))
    events = [*events[:position], data.draw(mangled(events[position])), *events[position + 1 :]]
    assert_sane(observe(kind, events))


@PROPERTY
@given(st.sampled_from([ex.CHAT_V1, ex.CHAT_V2, ex.GENERATE]), st.lists(GARBAGE, max_size=4))
def test_garbage_events_never_raise(kind, events):
    assert_sane(observe(kind, events))


# -- one bad field loses that field only --------------------------------------------------------

# (path in USAGE, what survives: usage, raw attributes)
_SURVIVORS = {
    ("billed_units", "input_tokens"): (Usage(output_tokens=28), {RAW_INPUT: 968, RAW_OUTPUT: 83}),
    ("billed_units", "output_tokens"): (Usage(input_tokens=62), {RAW_INPUT: 968, RAW_OUTPUT: 83}),
    ("tokens", "input_tokens"): (Usage(input_tokens=62, output_tokens=28), {RAW_OUTPUT: 83}),
    ("tokens", "output_tokens"): (Usage(input_tokens=62, output_tokens=28), {RAW_INPUT: 968}),
}


@PROPERTY
@given(st.sampled_from(list(_SURVIVORS)), INVALID_COUNTS)
def test_v2_chat_bad_count_loses_that_count_only(path, bad):
    result = CohereEndpoint(ex.CHAT_V2).read_result(replaced(V2_CHAT, ("usage", *path), bad), None)
    assert (result.usage, result.attributes) == _SURVIVORS[path]
    assert (result.response_id, result.finish_reasons) == ("c-1", ("COMPLETE",))


@PROPERTY
@given(st.sampled_from(list(_SURVIVORS)), INVALID_COUNTS)
def test_v1_chat_bad_count_loses_that_count_only(path, bad):
    result = CohereEndpoint(ex.CHAT_V1).read_result(replaced(V1_CHAT, ("meta", *path), bad), None)
    assert (result.usage, result.attributes) == _SURVIVORS[path]
    assert (result.response_id, result.finish_reasons) == ("r-1", ("COMPLETE",))


@PROPERTY
@given(st.sampled_from(["id", "finish_reason", "message"]), NOT_TEXT)
def test_v2_chat_bad_field_keeps_the_usage(key, bad):
    result = CohereEndpoint(ex.CHAT_V2).read_result(replaced(V2_CHAT, (key,), bad), None)
    assert result.usage == Usage(input_tokens=62, output_tokens=28)
    assert result.attributes == {RAW_INPUT: 968, RAW_OUTPUT: 83}
    assert result.response_id == (None if key == "id" else "c-1")
    assert result.finish_reasons == (None if key == "finish_reason" else ("COMPLETE",))


@PROPERTY
@given(st.sampled_from(["content", "tool_calls", "tool_plan"]), GARBAGE)
def test_v2_chat_bad_message_part_keeps_the_rest(key, bad):
    result = CohereEndpoint(ex.CHAT_V2).read_result(replaced(V2_CHAT, ("message", key), bad), None)
    assert result.usage == Usage(input_tokens=62, output_tokens=28)
    assert result.output_messages is not None
    [message] = result.output_messages()
    texts = [part["content"] for part in message["parts"]]
    survivors = {"content": "Hi", "tool_plan": "Look it up.", "tool_calls": "f"}
    assert all(text in texts for part, text in survivors.items() if part != key)


@PROPERTY
@given(st.sampled_from(["generations", "id"]), NOT_TEXT)
def test_generate_bad_field_keeps_the_others(key, bad):
    result = CohereEndpoint(ex.GENERATE).read_result(replaced(GENERATE, (key,), bad), None)
    assert result.usage == Usage(input_tokens=4, output_tokens=2)
    assert result.response_id == (None if key == "id" else "gen-1")


@PROPERTY
@given(GARBAGE)
def test_embed_bad_embeddings_keep_the_usage(bad):
    for doc, tokens in ((EMBED, 12), (EMBED_V1, 5)):
        result = CohereEndpoint(ex.EMBED).read_result(replaced(doc, ("embeddings",), bad), None)
        assert result.usage == Usage(input_tokens=tokens)
        assert type(result.usage.input_tokens) is int
        assert result.response_id == doc["id"]


@PROPERTY
@given(INVALID_COUNTS)
def test_rerank_bad_search_units_are_lost_alone(bad):
    result = CohereEndpoint(ex.RERANK).read_result(
        replaced(RERANK, ("meta", "billed_units", "search_units"), bad), None
    )
    assert (result.usage, result.response_id) == (None, "rr-1")


@PROPERTY
@given(st.sampled_from(list(_SURVIVORS)), INVALID_COUNTS)
def test_v2_stream_bad_count_loses_that_count_only(path, bad):
    events = copy.deepcopy(V2_EVENTS)
    events[-1] = replaced(events[-1], ("delta", "usage", *path), bad)
    result = observe(ex.CHAT_V2, events)
    assert (result.usage, result.attributes) == _SURVIVORS[path]
    assert (result.response_id, result.finish_reasons) == ("c-2", ("COMPLETE",))


@PROPERTY
@given(st.integers(0, len(V2_EVENTS) - 2), GARBAGE)
def test_v2_stream_garbage_event_keeps_the_usage(position, bad):
    # Any event but message-end replaced by garbage: an unknown event name, a broken event.
    events = [*V2_EVENTS[:position], bad, *V2_EVENTS[position + 1 :]]
    result = observe(ex.CHAT_V2, events)
    assert result.usage == Usage(input_tokens=62, output_tokens=28)
    assert result.finish_reasons == ("COMPLETE",)
    assert result.response_id == (None if position == 0 else "c-2")


@PROPERTY
@given(st.sampled_from(list(_SURVIVORS)), INVALID_COUNTS)
def test_v1_stream_end_bad_count_loses_that_count_only(path, bad):
    events = copy.deepcopy(V1_EVENTS)
    events[-1] = replaced(events[-1], ("response", "meta", *path), bad)
    result = observe(ex.CHAT_V1, events)
    assert (result.usage, result.attributes) == _SURVIVORS[path]
    assert (result.response_id, result.finish_reasons) == ("r-1", ("COMPLETE",))


@PROPERTY
@given(st.sampled_from(["finish_reason", "generation_id"]), NOT_TEXT)
def test_v1_stream_bad_text_field_keeps_the_usage(key, bad):
    events = copy.deepcopy(V1_EVENTS)
    target = 0 if key == "generation_id" else -1
    events[target] = replaced(events[target], (key,), bad)
    result = observe(ex.CHAT_V1, events)
    assert result.usage == Usage(input_tokens=62, output_tokens=28)
    assert result.response_id == "r-1"  # stream-end's response carries it too
    assert result.finish_reasons == ("COMPLETE",)  # and its own finish reason
