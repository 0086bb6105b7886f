"""Properties of the Anthropic response and stream-event readers under garbage.

Whatever JSON-ish value replaces any part of a real message or stream event (as a plain dict or
as the SDK's own object built from it), the readers never raise, every count they report is
None or an int in [0, MAX_TOKEN_COUNT], and a bad field loses that field only: the other
counts, the model, the id, the stop reason and the tier survive exactly.
"""

from __future__ import annotations

from typing import Any

import pytest
from anthropic._models import construct_type
from anthropic.types import Message, RawMessageStreamEvent
from hypothesis import assume, given
from hypothesis import strategies as st
from otel_tokens_anthropic._extract import completion_result, message_result
from otel_tokens_anthropic._stream import MessageStreamObserver

from otel_tokens.instrumentation import CallResult, Usage, count, get
from otel_tokens.usage import take_invalid_count

from .._garbage import GARBAGE, INVALID_COUNTS, NOT_TEXT, PROPERTY, assert_readable, paths, replaced, streamed

KNOWN_TYPES = ["message_start", "message_delta", "content_block_start", "content_block_delta", "completion"]
UNKNOWN_TYPES = st.text(max_size=20).filter(lambda kind: kind not in KNOWN_TYPES)
ODD_EVENTS = st.fixed_dictionaries(
    {"type": st.sampled_from(KNOWN_TYPES)},
    optional={
        name: GARBAGE
        for name in ("message", "usage", "delta", "content_block", "model", "id", "stop_reason", "completion")
    },
)
"""Events of a type the observer reads, every field of them garbage."""


# -- real shapes --------------------------------------------------------------------------------

MESSAGE = {
    "id": "msg_01",
    "type": "message",
    "role": "assistant",
    "model": "claude-haiku-4-5-20251001",
    "content": [
        {"type": "thinking", "thinking": "Greet.", "signature": "sig"},
        {"type": "text", "text": "Hello!"},
        {"type": "tool_use", "id": "toolu_01", "name": "get_weather", "input": {"city": "Paris"}},
    ],
    "stop_reason": "end_turn",
    "stop_sequence": None,
    "usage": {
        "input_tokens": 40,
        "cache_read_input_tokens": 1000,
        "cache_creation_input_tokens": 300,
        "cache_creation": {"ephemeral_5m_input_tokens": 200, "ephemeral_1h_input_tokens": 100},
        "output_tokens": 25,
        "output_tokens_details": {"thinking_tokens": 10},
        "service_tier": "standard",
    },
}
MESSAGE_USAGE = Usage(
    input_tokens=1340,
    output_tokens=25,
    cache_read_input_tokens=1000,
    cache_creation_input_tokens=300,
    cache_creation_1h_input_tokens=100,
    reasoning_output_tokens=10,
)
# A count's path in MESSAGE -> the usage when that count alone is invalid.
MESSAGE_LOSSES = {
    ("usage", "input_tokens"): Usage(
        output_tokens=25,
        cache_read_input_tokens=1000,
        cache_creation_input_tokens=300,
        cache_creation_1h_input_tokens=100,
        reasoning_output_tokens=10,
    ),
    ("usage", "cache_read_input_tokens"): Usage(
        input_tokens=340,
        output_tokens=25,
        cache_creation_input_tokens=300,
        cache_creation_1h_input_tokens=100,
        reasoning_output_tokens=10,
    ),
    ("usage", "cache_creation_input_tokens"): Usage(
        input_tokens=1040,
        output_tokens=25,
        cache_read_input_tokens=1000,
        cache_creation_1h_input_tokens=100,
        reasoning_output_tokens=10,
    ),
    ("usage", "cache_creation", "ephemeral_1h_input_tokens"): Usage(
        input_tokens=1340,
        output_tokens=25,
        cache_read_input_tokens=1000,
        cache_creation_input_tokens=300,
        reasoning_output_tokens=10,
    ),
    ("usage", "output_tokens"): Usage(
        input_tokens=1340,
        cache_read_input_tokens=1000,
        cache_creation_input_tokens=300,
        cache_creation_1h_input_tokens=100,
        reasoning_output_tokens=10,
    ),
    ("usage", "output_tokens_details", "thinking_tokens"): Usage(
        input_tokens=1340,
        output_tokens=25,
        cache_read_input_tokens=1000,
        cache_creation_input_tokens=300,
        cache_creation_1h_input_tokens=100,
    ),
}

STREAM = [
    {
        "type": "message_start",
        "message": {
            "id": "msg_02",
            "type": "message",
            "role": "assistant",
            "model": "claude-haiku-4-5",
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {
                "input_tokens": 20,
                "cache_read_input_tokens": 100,
                "cache_creation_input_tokens": 50,
                "cache_creation": {"ephemeral_5m_input_tokens": 20, "ephemeral_1h_input_tokens": 30},
                "output_tokens": 1,
                "service_tier": "standard",
            },
        },
    },
    {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
    {"type": "ping"},
    {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hel"}},
    {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "lo!"}},
    {"type": "content_block_stop", "index": 0},
    {
        "type": "message_delta",
        "delta": {"stop_reason": "end_turn", "stop_sequence": None},
        "usage": {"output_tokens": 7, "output_tokens_details": {"thinking_tokens": 3}},
    },
    {"type": "message_stop"},
]
STREAM_USAGE = Usage(
    input_tokens=170,
    output_tokens=7,
    cache_read_input_tokens=100,
    cache_creation_input_tokens=50,
    cache_creation_1h_input_tokens=30,
    reasoning_output_tokens=3,
)
_START_USAGE = (0, "message", "usage")
_DELTA_USAGE = (6, "usage")
# A count's path in STREAM -> (the usage when that count alone is invalid, invalid counts seen).
STREAM_LOSSES = {
    (*_START_USAGE, "input_tokens"): (
        Usage(
            output_tokens=7,
            cache_read_input_tokens=100,
            cache_creation_input_tokens=50,
            cache_creation_1h_input_tokens=30,
            reasoning_output_tokens=3,
        ),
        1,
    ),
    (*_START_USAGE, "cache_read_input_tokens"): (
        Usage(
            input_tokens=70,
            output_tokens=7,
            cache_creation_input_tokens=50,
            cache_creation_1h_input_tokens=30,
            reasoning_output_tokens=3,
        ),
        1,
    ),
    (*_START_USAGE, "cache_creation_input_tokens"): (
        Usage(
            input_tokens=120,
            output_tokens=7,
            cache_read_input_tokens=100,
            cache_creation_1h_input_tokens=30,
            reasoning_output_tokens=3,
        ),
        1,
    ),
    (*_START_USAGE, "cache_creation", "ephemeral_1h_input_tokens"): (
        Usage(
            input_tokens=170,
            output_tokens=7,
            cache_read_input_tokens=100,
            cache_creation_input_tokens=50,
            reasoning_output_tokens=3,
        ),
        1,
    ),
    # message_start's output count is a placeholder the last message_delta replaces: never read.
    (*_START_USAGE, "output_tokens"): (STREAM_USAGE, 0),
    (*_DELTA_USAGE, "output_tokens"): (
        Usage(
            input_tokens=170,
            cache_read_input_tokens=100,
            cache_creation_input_tokens=50,
            cache_creation_1h_input_tokens=30,
            reasoning_output_tokens=3,
        ),
        1,
    ),
    (*_DELTA_USAGE, "output_tokens_details", "thinking_tokens"): (
        Usage(
            input_tokens=170,
            output_tokens=7,
            cache_read_input_tokens=100,
            cache_creation_input_tokens=50,
            cache_creation_1h_input_tokens=30,
        ),
        1,
    ),
}

COMPLETION = {
    "type": "completion",
    "id": "compl_01",
    "completion": " Hello!",
    "stop_reason": "stop_sequence",
    "model": "claude-2.1",
}


def value_at(document: Any, path: tuple[Any, ...]) -> Any:
    for key in path:
        document = document[key] if isinstance(key, int) else get(document, key)
    return document


def still_invalid(document: Any, path: tuple[Any, ...]) -> bool:
    """The SDK's construction turns some invalid values into valid ones (``False`` into ``0``
    for an optional count): only a value still invalid when we read it must be lost."""
    invalid = count(value_at(document, path)) is None
    take_invalid_count()
    return invalid


def sdk_message(document: Any) -> Any:
    """What the SDK hands the user for this body (its lenient, unvalidated construction)."""
    return construct_type(type_=Message, value=document)


def sdk_event(document: Any) -> Any:
    return construct_type(type_=RawMessageStreamEvent, value=document)


FORMS = st.sampled_from([lambda document: document, sdk_message])
EVENT_FORMS = st.sampled_from([lambda document: document, sdk_event])


def stream_result(events: list[Any]) -> CallResult:
    return streamed(MessageStreamObserver(), events)


def assert_sane(result: CallResult) -> None:
    """What any reader may return, whatever it read: a message reader always offers one message."""
    assert_readable(result)
    assert result.output_messages is not None
    [message] = result.output_messages()
    assert message["role"] == "assistant"
    assert all(type(part["content"]) is str for part in message["parts"])


# -- messages -------------------------------------------------------------------------------


def test_the_real_message_is_read_whole():
    result = message_result(MESSAGE)
    assert result.usage == MESSAGE_USAGE
    assert (result.response_model, result.response_id, result.finish_reasons, result.service_tier) == (
        "claude-haiku-4-5-20251001",
        "msg_01",
        ("end_turn",),
        "standard",
    )
    assert message_result(sdk_message(MESSAGE)).usage == MESSAGE_USAGE
    assert take_invalid_count() == 0


@PROPERTY
@given(st.sampled_from(list(paths(MESSAGE))), GARBAGE, FORMS)
def test_message_with_garbage_anywhere_never_breaks_the_reader(path, garbage, form):
    assert_sane(message_result(form(replaced(MESSAGE, path, garbage))))


@PROPERTY
@given(GARBAGE)
def test_garbage_instead_of_a_message_never_breaks_the_reader(garbage):
    assert_sane(message_result(garbage))
    assert_sane(completion_result(garbage))


@PROPERTY
@given(st.sampled_from(sorted(MESSAGE_LOSSES)), INVALID_COUNTS, FORMS)
def test_an_invalid_count_loses_that_count_only(path, garbage, form):
    message = form(replaced(MESSAGE, path, garbage))
    assume(still_invalid(message, path))
    result = message_result(message)
    assert result.usage == MESSAGE_LOSSES[path]
    assert take_invalid_count() == 1  # counted, for otel_tokens.telemetry.dropped
    assert (result.response_model, result.response_id, result.finish_reasons, result.service_tier) == (
        "claude-haiku-4-5-20251001",
        "msg_01",
        ("end_turn",),
        "standard",
    )


@PROPERTY
@given(st.sampled_from(["model", "id", "stop_reason", "usage.service_tier"]), NOT_TEXT, FORMS)
def test_a_bad_text_field_loses_that_field_only(field, garbage, form):
    path = tuple(field.split("."))
    result = message_result(form(replaced(MESSAGE, path, garbage)))
    assert result.usage == MESSAGE_USAGE
    expected = {
        "model": "claude-haiku-4-5-20251001",
        "id": "msg_01",
        "stop_reason": ("end_turn",),
        "usage.service_tier": "standard",
    }
    expected[field] = None
    found = {
        "model": result.response_model,
        "id": result.response_id,
        "stop_reason": result.finish_reasons,
        "usage.service_tier": result.service_tier,
    }
    assert found == expected


@PROPERTY
@given(GARBAGE)
def test_garbage_content_loses_the_text_only(garbage):
    result = message_result(replaced(MESSAGE, ("content",), garbage))
    assert result.usage == MESSAGE_USAGE
    assert result.response_model == "claude-haiku-4-5-20251001"
    assert_sane(result)


@PROPERTY
@given(st.sampled_from(["completion", "model", "id", "stop_reason"]), NOT_TEXT)
def test_legacy_completion_with_a_bad_field(field, garbage):
    result = completion_result(replaced(COMPLETION, (field,), garbage))
    assert_sane(result)
    expected = {
        "completion": [" Hello!"],
        "model": "claude-2.1",
        "id": "compl_01",
        "stop_reason": ("stop_sequence",),
    }
    if field == "completion":  # content, not a name: a long text is still text
        expected[field] = [garbage] if isinstance(garbage, str) else [""]
    else:
        expected[field] = None
    found = {
        "completion": result.output_texts,
        "model": result.response_model,
        "id": result.response_id,
        "stop_reason": result.finish_reasons,
    }
    assert found == expected


# -- stream events ----------------------------------------------------------------------------


def test_the_real_stream_is_read_whole():
    result = stream_result([sdk_event(event) for event in STREAM])
    assert result.usage == STREAM_USAGE
    assert (result.response_model, result.response_id, result.finish_reasons, result.service_tier) == (
        "claude-haiku-4-5",
        "msg_02",
        ("end_turn",),
        "standard",
    )
    assert result.output_texts is None
    assert result.output_messages()[0]["parts"] == [{"type": "text", "content": "Hello!"}]
    assert take_invalid_count() == 0


@PROPERTY
@given(st.sampled_from(list(paths(STREAM))), GARBAGE, EVENT_FORMS)
def test_stream_with_garbage_anywhere_never_breaks_the_observer(path, garbage, form):
    events = replaced(STREAM, path, garbage)
    assert_sane(stream_result([form(event) for event in events] if isinstance(events, list) else []))


@PROPERTY
@given(st.lists(st.one_of(GARBAGE, ODD_EVENTS), max_size=6))
def test_any_sequence_of_odd_events_never_breaks_the_observer(events):
    assert_sane(stream_result(events))


@PROPERTY
@given(st.sampled_from(sorted(STREAM_LOSSES)), INVALID_COUNTS, EVENT_FORMS)
def test_an_invalid_stream_count_loses_that_count_only(path, garbage, form):
    events = [form(event) for event in replaced(STREAM, path, garbage)]
    assume(still_invalid(events, path))
    result = stream_result(events)
    usage, invalid = STREAM_LOSSES[path]
    assert result.usage == usage
    assert take_invalid_count() == invalid
    assert (result.response_model, result.response_id, result.finish_reasons, result.service_tier) == (
        "claude-haiku-4-5",
        "msg_02",
        ("end_turn",),
        "standard",
    )


@PROPERTY
@given(
    st.sampled_from(
        [
            (0, "message", "model"),
            (0, "message", "id"),
            (6, "delta", "stop_reason"),
            (*_START_USAGE, "service_tier"),
        ]
    ),
    NOT_TEXT,
)
def test_a_bad_stream_text_field_loses_that_field_only(path, garbage):
    result = stream_result(replaced(STREAM, path, garbage))
    assert result.usage == STREAM_USAGE
    found = [result.response_model, result.response_id, result.finish_reasons, result.service_tier]
    expected = ["claude-haiku-4-5", "msg_02", ("end_turn",), "standard"]
    lost = {"model": 0, "id": 1, "stop_reason": 2, "service_tier": 3}[path[-1]]
    expected[lost] = None
    assert found == expected


@PROPERTY
@given(
    st.lists(
        st.tuples(
            st.integers(min_value=0, max_value=len(STREAM)),
            st.dictionaries(
                st.sampled_from(["message", "usage", "delta", "content_block", "model"]), GARBAGE
            ),
            UNKNOWN_TYPES,
        ),
        max_size=4,
    )
)
def test_unknown_events_change_nothing(insertions):
    events = list(STREAM)
    for position, payload, kind in insertions:
        events.insert(position, {**payload, "type": kind})
    result = stream_result(events)
    baseline = stream_result(STREAM)
    assert (
        result.usage,
        result.response_model,
        result.response_id,
        result.finish_reasons,
        result.service_tier,
    ) == (
        baseline.usage,
        baseline.response_model,
        baseline.response_id,
        baseline.finish_reasons,
        baseline.service_tier,
    )
    assert result.output_messages() == baseline.output_messages()


# -- the observer's fast path for deltas ----------------------------------------------------------

DELTAS = [
    {"type": "text_delta", "text": "Hel"},
    {"type": "text_delta", "text": ""},
    {"type": "input_json_delta", "partial_json": '{"city": '},
    {"type": "input_json_delta", "partial_json": ""},
    {"type": "thinking_delta", "thinking": "Greet."},
    {"type": "thinking_delta", "thinking": ""},
    {"type": "signature_delta", "signature": "sig"},
    {"type": "citations_delta", "citation": {"type": "char_location", "cited_text": "Paris"}},
]
DELTA_FIELDS = st.dictionaries(
    st.sampled_from(["text", "partial_json", "thinking", "type"]), GARBAGE, max_size=2
)


def delta_event(delta: dict[str, Any]) -> dict[str, Any]:
    return {"type": "content_block_delta", "index": 0, "delta": delta}


def read_apart(events: list[Any]) -> CallResult:
    """What the observer makes of ``events`` read field by field only (no fast path)."""
    observer = MessageStreamObserver()
    for event in events:
        observer._read(event)  # noqa: SLF001 - the reference the fast path must equal
    return observer.result()


def test_every_kind_of_delta_gives_its_own_text():
    documents = [delta_event(delta) for delta in DELTAS]
    expected = ["Hel", '{"city": ', "Greet."]
    assert stream_result([sdk_event(document) for document in documents]).output_texts == expected
    assert stream_result(documents).output_texts == expected


@pytest.mark.parametrize("delta", DELTAS, ids=lambda delta: delta["type"])
@pytest.mark.parametrize("extra", [{"text": "x"}, {"partial_json": "x"}, {"thinking": "x"}, {"text": ""}])
def test_a_delta_with_extra_fields_is_read_as_field_by_field(delta, extra):
    """The SDK's models keep unknown fields: a delta carrying another kind's field is read in
    the field-by-field reader's order."""
    events = [sdk_event(delta_event({**delta, **extra}))]
    assert stream_result(events).output_texts == read_apart(events).output_texts


@PROPERTY
@given(st.sampled_from(DELTAS), DELTA_FIELDS, EVENT_FORMS)
def test_a_delta_with_odd_or_extra_fields_is_read_as_field_by_field(delta, fields, form):
    """The fast path for deltas reads exactly what the field-by-field reader reads, whatever the
    delta carries: extra fields (kept by the SDK's models), a field of the wrong type, a wrong type."""
    events = [form(delta_event({**delta, **fields}))]
    assert stream_result(events).output_texts == read_apart(events).output_texts


DELTA_PLACES = st.sampled_from(DELTAS).flatmap(
    lambda delta: st.tuples(st.just(delta), st.sampled_from(paths(delta_event(delta))))
)


@PROPERTY
@given(DELTA_PLACES, GARBAGE, EVENT_FORMS)
def test_a_delta_with_garbage_anywhere_is_read_as_field_by_field(place, garbage, form):
    delta, path = place
    events = [form(replaced(delta_event(delta), path, garbage))]
    assert stream_result(events).output_texts == read_apart(events).output_texts
