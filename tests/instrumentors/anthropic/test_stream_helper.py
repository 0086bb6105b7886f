"""The messages.stream() helper: every way of reading it keeps working and ends our call once."""

from __future__ import annotations

import gc

import anthropic
import pytest
from anthropic.lib.streaming import AsyncMessageStream, MessageStream
from opentelemetry.trace import StatusCode
from otel_tokens_fake_providers import Scenario

from .helpers import HAIKU_4_5, MESSAGES, MODEL, cost, only_span, subset

TEXT = "Hello from the stream helper."
USAGE = {
    "gen_ai.usage.input_tokens": 130,
    "gen_ai.usage.output_tokens": 8,
    "gen_ai.usage.cache_read.input_tokens": 100,
}


def enqueue(server, **changes):
    server.enqueue(
        Scenario(text=TEXT, chunks=4, prompt_tokens=30, cached_tokens=100, completion_tokens=8, **changes)
    )


def assert_one_complete_span(telemetry):
    span = only_span(telemetry)
    assert subset(span.attributes, USAGE) == USAGE
    assert span.attributes["gen_ai.request.stream"] is True
    assert span.attributes["gen_ai.response.finish_reasons"] == ("end_turn",)
    assert span.attributes["gen_ai.usage.cost.amount"] == pytest.approx(
        cost(HAIKU_4_5, input=30, cache_read=100, output=8)
    )
    assert 0 < span.attributes["gen_ai.response.time_to_first_chunk"] < 5
    assert span.status.status_code is StatusCode.UNSET
    return span


def test_events(server, client, telemetry):
    enqueue(server)
    with client.messages.stream(model=MODEL, max_tokens=50, messages=MESSAGES) as stream:
        assert isinstance(stream, MessageStream)
        kinds = [event.type for event in stream]
    assert "text" in kinds and kinds[-1] == "message_stop"  # the helper's own derived events still come
    assert_one_complete_span(telemetry)


def test_text_stream_and_final_message(server, client, telemetry):
    enqueue(server)
    with client.messages.stream(model=MODEL, max_tokens=50, messages=MESSAGES) as stream:
        assert "".join(stream.text_stream) == TEXT
        final = stream.get_final_message()
        assert stream.get_final_text() == TEXT
    assert final.usage.output_tokens == 8 and final.usage.input_tokens == 30
    span = assert_one_complete_span(telemetry)
    assert span.attributes["gen_ai.response.id"] == final.id


def test_get_final_message_alone(server, client, telemetry):
    enqueue(server)
    with client.messages.stream(model=MODEL, max_tokens=50, messages=MESSAGES) as stream:
        final = stream.get_final_message()
    assert final.content[0].text == TEXT
    assert_one_complete_span(telemetry)


def test_until_done_then_current_snapshot(server, client, telemetry):
    enqueue(server)
    with client.messages.stream(model=MODEL, max_tokens=50, messages=MESSAGES) as stream:
        stream.until_done()
        assert stream.current_message_snapshot.usage.output_tokens == 8
        assert stream.response.status_code == 200
    assert_one_complete_span(telemetry)


def test_leaving_the_with_block_early_ends_once(server, client, telemetry):
    enqueue(server)
    with client.messages.stream(model=MODEL, max_tokens=50, messages=MESSAGES) as stream:
        for event in stream:
            if event.type == "text":
                break
    span = only_span(telemetry)
    assert span.status.status_code is StatusCode.UNSET
    assert span.attributes["gen_ai.usage.input_tokens"] == 130  # message_start had arrived
    assert "gen_ai.usage.output_tokens" in span.attributes


def test_close_then_exit_ends_once(server, client, telemetry):
    enqueue(server)
    with client.messages.stream(model=MODEL, max_tokens=50, messages=MESSAGES) as stream:
        next(iter(stream))
        stream.close()
        assert len(telemetry.spans()) == 1
    assert len(telemetry.spans()) == 1


def test_entered_without_with_and_dropped_ends_on_garbage_collection(server, client, telemetry):
    enqueue(server)
    stream = client.messages.stream(model=MODEL, max_tokens=50, messages=MESSAGES).__enter__()
    next(iter(stream))
    assert telemetry.spans() == ()
    del stream
    gc.collect()
    assert len(telemetry.spans()) == 1


def test_a_manager_never_entered_sends_nothing_and_records_nothing(server, client, telemetry):
    manager = client.messages.stream(model=MODEL, max_tokens=50, messages=MESSAGES)
    del manager
    gc.collect()
    assert server.requests == []
    assert telemetry.spans() == ()


def test_http_error_on_enter_passes_through(server, client, telemetry):
    server.enqueue(Scenario(error_status=429))
    with (
        pytest.raises(anthropic.RateLimitError),
        client.messages.stream(model=MODEL, max_tokens=50, messages=MESSAGES),
    ):
        pass
    span = only_span(telemetry)
    assert span.attributes["error.type"] == "RateLimitError"
    assert span.attributes["gen_ai.request.stream"] is True


def test_failing_midway(server, client, telemetry):
    enqueue(server, fail_after_chunks=2)
    with (
        pytest.raises(Exception) as raised,
        client.messages.stream(model=MODEL, max_tokens=50, messages=MESSAGES) as stream,
    ):
        stream.get_final_message()
    span = only_span(telemetry)
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes["error.type"] == type(raised.value).__qualname__


def test_beta_stream_helper(server, client, telemetry):
    enqueue(server)
    with client.beta.messages.stream(model=MODEL, max_tokens=50, messages=MESSAGES) as stream:
        assert stream.get_final_text() == TEXT
    assert_one_complete_span(telemetry)


async def test_async_text_stream_and_final_message(server, async_client, telemetry):
    enqueue(server)
    async with async_client.messages.stream(model=MODEL, max_tokens=50, messages=MESSAGES) as stream:
        assert isinstance(stream, AsyncMessageStream)
        assert "".join([text async for text in stream.text_stream]) == TEXT
        final = await stream.get_final_message()
    assert final.usage.output_tokens == 8
    assert_one_complete_span(telemetry)


async def test_async_until_done(server, async_client, telemetry):
    enqueue(server)
    async with async_client.messages.stream(model=MODEL, max_tokens=50, messages=MESSAGES) as stream:
        await stream.until_done()
    assert_one_complete_span(telemetry)


async def test_async_leaving_early_ends_once(server, async_client, telemetry):
    enqueue(server)
    async with async_client.messages.stream(model=MODEL, max_tokens=50, messages=MESSAGES) as stream:
        async for _ in stream:
            break
    assert len(telemetry.spans()) == 1


async def test_async_beta_stream_helper(server, async_client, telemetry):
    enqueue(server)
    async with async_client.beta.messages.stream(model=MODEL, max_tokens=50, messages=MESSAGES) as stream:
        await stream.get_final_message()
    assert_one_complete_span(telemetry)
