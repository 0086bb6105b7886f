"""Properties of Bedrock's response, stream-event and header readers under garbage.

Whatever JSON-ish value replaces any part of a real response shape, the readers never raise,
every count they report is None or an int in [0, MAX_TOKEN_COUNT], and a bad field loses that
field only: the other counts, the model, the id and the finish reasons survive exactly.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from otel_tokens_bedrock._endpoints import BedrockEndpoint, EventObserver
from otel_tokens_bedrock._extract import header_counts
from otel_tokens_bedrock._families import OutputReader

from otel_tokens.instrumentation import CallResult

from .._garbage import (
    GARBAGE,
    INVALID_COUNTS,
    NOT_TEXT,
    PROPERTY,
    assert_counts_valid,
    assert_readable,
    mangled,
    replaced,
    streamed,
)

# -- real shapes --------------------------------------------------------------------------------

CONVERSE = {
    "metrics": {"latencyMs": 512},
    "output": {"message": {"role": "assistant", "content": [{"text": "Hello!"}]}},
    "stopReason": "end_turn",
    "usage": {
        "inputTokens": 120,
        "outputTokens": 40,
        "totalTokens": 2720,
        "cacheReadInputTokens": 2048,
        "cacheWriteInputTokens": 512,
    },
    "serviceTier": {"type": "priority"},
}
CONVERSE_EVENTS = [
    {"messageStart": {"role": "assistant"}},
    {"contentBlockDelta": {"contentBlockIndex": 0, "delta": {"text": "Hel"}}},
    {"contentBlockDelta": {"contentBlockIndex": 0, "delta": {"text": "lo!"}}},
    {"contentBlockStop": {"contentBlockIndex": 0}},
    {"messageStop": {"stopReason": "end_turn"}},
    {"metadata": {"usage": {"inputTokens": 30, "outputTokens": 4, "cacheReadInputTokens": 100}}},
]
ANTHROPIC = {
    "id": "msg_bdrk_01",
    "type": "message",
    "role": "assistant",
    "model": "claude-3-haiku-20240307",
    "content": [{"type": "text", "text": "Hi"}, {"type": "tool_use", "name": "f", "input": {"a": 1}}],
    "stop_reason": "end_turn",
    "usage": {
        "input_tokens": 21,
        "output_tokens": 3,
        "cache_read_input_tokens": 5,
        "cache_creation_input_tokens": 7,
        "cache_creation": {"ephemeral_1h_input_tokens": 2},
    },
}
_START = {**ANTHROPIC, "content": [], "stop_reason": None, "usage": {"input_tokens": 21, "output_tokens": 1}}
ANTHROPIC_CHUNKS = [
    {"type": "message_start", "message": _START},
    {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
    {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hi"}},
    {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 3}},
    {
        "type": "message_stop",
        "amazon-bedrock-invocationMetrics": {"inputTokenCount": 21, "outputTokenCount": 3},
    },
]
TITAN = {
    "inputTextTokenCount": 6,
    "results": [{"tokenCount": 3, "outputText": "Hi", "completionReason": "FINISH"}],
}
LLAMA = {"generation": "Hi", "prompt_token_count": 9, "generation_token_count": 2, "stop_reason": "stop"}
OPENAI_STYLE = {
    "id": "chatcmpl-1",
    "model": "mistral-large",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hi"}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 5, "completion_tokens": 2},
}
COHERE = {"id": "gen-1", "generations": [{"text": "Hi", "finish_reason": "COMPLETE"}], "prompt": "x"}
AI21 = {"id": 1, "completions": [{"data": {"text": "Hi"}, "finishReason": {"reason": "endoftext"}}]}
DOCUMENTS = [
    CONVERSE,
    ANTHROPIC,
    TITAN,
    LLAMA,
    OPENAI_STYLE,
    COHERE,
    AI21,
    *CONVERSE_EVENTS,
    *ANTHROPIC_CHUNKS,
]
HEADERS = {
    "x-amzn-bedrock-input-token-count": "21",
    "x-amzn-bedrock-output-token-count": "3",
    "x-amzn-bedrock-cache-read-input-token-count": "9",
    "x-amzn-bedrock-cache-write-input-token-count": "4",
}


def assert_sane(result: CallResult | None) -> None:
    """What any reader may return, whatever it read (an observer that saw nothing: None)."""
    if result is not None:
        assert_readable(result)
        assert result.output_messages is not None


def read(*docs: Any) -> CallResult:
    reader = OutputReader()
    for doc in docs:
        reader.add(doc)
    return reader.result(reader.billed())


def counts_of(result: CallResult) -> tuple[int | None, ...]:
    usage = result.usage
    assert usage is not None
    return (
        usage.input_tokens,
        usage.output_tokens,
        usage.cache_read_input_tokens,
        usage.cache_creation_input_tokens,
    )


# -- never raise, counts bounded ----------------------------------------------------------------


@PROPERTY
@given(st.sampled_from(DOCUMENTS).flatmap(mangled))
def test_any_document_with_garbage_anywhere_reads_sanely(doc):
    assert_sane(read(doc))
    assert_sane(BedrockEndpoint("Converse").read_result(doc, None))


@PROPERTY
@given(GARBAGE)
def test_pure_garbage_reads_sanely(doc):
    assert_sane(read(doc))


@PROPERTY
@given(st.data())
def test_streams_with_one_mangled_event_read_sanely(data):
    events = data.draw(st.sampled_from([CONVERSE_EVENTS, ANTHROPIC_CHUNKS]))
    position = data.draw(st.integers(0, len(events) - 1))
    events = [*events[:position], data.draw(mangled(events[position])), *events[position + 1 :]]
    assert_sane(streamed(EventObserver(False), events))
    chunked = EventObserver(True)
    for event in events:
        chunked.on_item({"chunk": {"bytes": json.dumps(event, default=str).encode()}})
    assert_sane(chunked.result())


@PROPERTY
@given(GARBAGE)
def test_garbage_stream_items_never_raise(item):
    for chunks in (False, True):
        observer = EventObserver(chunks)
        observer.on_item(item)
        observer.on_item({"chunk": item})
        observer.on_item({"chunk": {"bytes": item}})
        assert_sane(observer.result())


@PROPERTY
@given(st.sampled_from(list(HEADERS)), GARBAGE)
def test_headers_with_garbage_read_sanely(name, value):
    counts = header_counts({**HEADERS, name: value})
    assert counts is not None
    assert_counts_valid(counts.usage())


# -- one bad field loses that field only --------------------------------------------------------

# (usage key, what survives: input total, output, cache read, cache write) for CONVERSE.
_CONVERSE_SURVIVORS = {
    "inputTokens": (None, 40, 2048, 512),
    "outputTokens": (120 + 2048 + 512, None, 2048, 512),
    "cacheReadInputTokens": (120 + 512, 40, None, 512),
    "cacheWriteInputTokens": (120 + 2048, 40, 2048, None),
    "totalTokens": (120 + 2048 + 512, 40, 2048, 512),  # not read: nothing lost
}


@PROPERTY
@given(st.sampled_from(list(_CONVERSE_SURVIVORS)), INVALID_COUNTS)
def test_converse_bad_count_loses_that_count_only(key, bad):
    doc = replaced(CONVERSE, ("usage", key), bad)
    result = BedrockEndpoint("Converse").read_result(doc, None)
    assert counts_of(result) == _CONVERSE_SURVIVORS[key]
    assert result.finish_reasons == ("end_turn",)
    assert result.service_tier == "priority"


@PROPERTY
@given(st.sampled_from(["stopReason", "output", "serviceTier", "metrics"]), GARBAGE)
def test_converse_bad_non_count_field_keeps_every_count(key, bad):
    result = read(replaced(CONVERSE, (key,), bad))
    assert counts_of(result) == (120 + 2048 + 512, 40, 2048, 512)


@PROPERTY
@given(st.sampled_from(["model", "id", "stop_reason", "content", "type"]), NOT_TEXT)
def test_anthropic_bad_field_keeps_the_others(key, bad):
    result = read(replaced(ANTHROPIC, (key,), bad))
    if key != "type":  # a message whose type is garbage is not recognised as Anthropic's
        assert counts_of(result) == (21 + 5 + 7, 3, 5, 7)
        assert result.usage is not None and result.usage.cache_creation_1h_input_tokens == 2
        assert result.response_model == (None if key == "model" else "claude-3-haiku-20240307")
        assert result.response_id == (None if key == "id" else "msg_bdrk_01")
        assert result.finish_reasons == (None if key == "stop_reason" else ("end_turn",))


@PROPERTY
@given(st.sampled_from(["choices", "model", "id"]), NOT_TEXT)
def test_openai_style_bad_field_keeps_the_others(key, bad):
    result = read(replaced(OPENAI_STYLE, (key,), bad))
    assert counts_of(result) == (5, 2, None, None)
    assert result.response_model == (None if key == "model" else "mistral-large")
    assert result.response_id == (None if key == "id" else "chatcmpl-1")
    if key != "choices":
        assert result.finish_reasons == ("stop",)


@PROPERTY
@given(st.sampled_from(list(HEADERS)), INVALID_COUNTS)
def test_bad_header_loses_that_count_only(name, bad):
    counts = header_counts({**HEADERS, name: bad})
    assert counts is not None
    expected = {
        "x-amzn-bedrock-input-token-count": (None, 3, 9, 4),
        "x-amzn-bedrock-output-token-count": (21, None, 9, 4),
        "x-amzn-bedrock-cache-read-input-token-count": (21, 3, None, 4),
        "x-amzn-bedrock-cache-write-input-token-count": (21, 3, 9, None),
    }[name]
    assert (counts.input, counts.output, counts.cache_read, counts.cache_write) == expected


@PROPERTY
@given(st.sampled_from(["inputTokenCount", "outputTokenCount"]), INVALID_COUNTS)
def test_bad_stream_metric_keeps_the_stream_counts(key, bad):
    # The invocation metrics win over the family's counts, but a bad one does not erase them.
    chunks = copy.deepcopy(ANTHROPIC_CHUNKS)
    chunks[-1]["amazon-bedrock-invocationMetrics"][key] = bad
    observer = EventObserver(True)
    for chunk in chunks:
        observer.on_item({"chunk": {"bytes": json.dumps(chunk, default=str).encode()}})
    result = observer.result()
    assert counts_of(result)[:2] == (21, 3)
    assert result.finish_reasons == ("end_turn",)
    assert result.response_model == "claude-3-haiku-20240307"


@PROPERTY
@given(st.integers(0, len(CONVERSE_EVENTS) - 2), GARBAGE)
def test_converse_stream_garbage_event_keeps_the_usage(position, bad):
    # Any event but the metadata one replaced by garbage (an unknown event name, a broken one).
    events = [*CONVERSE_EVENTS[:position], bad, *CONVERSE_EVENTS[position + 1 :]]
    observer = EventObserver(False)
    for event in events:
        observer.on_item(event)
    result = observer.result()
    assert counts_of(result) == (130, 4, 100, None)
    if position != 4:
        assert result.finish_reasons == ("end_turn",)


@PROPERTY
@given(st.sampled_from(["inputTextTokenCount", "results"]), INVALID_COUNTS)
def test_titan_bad_field_keeps_the_other(key, bad):
    result = read(replaced(TITAN, (key,), bad))
    assert counts_of(result) == (
        (None, 3, None, None) if key == "inputTextTokenCount" else (6, None, None, None)
    )
