"""Streamed chat and generate (NDJSON): transparent proxies whose telemetry ends exactly once."""

from __future__ import annotations

import contextlib
import gc
import inspect

import ollama
import pytest
from opentelemetry.trace import StatusCode
from otel_tokens_fake_providers import Scenario

from otel_tokens.tokenize import Tokenizer

from .helpers import MESSAGES, only_span, token_points


def test_chat_stream_consumed_fully(server, client, telemetry):
    server.enqueue(Scenario(text="Hello there!", chunks=4, prompt_tokens=20, completion_tokens=7))
    stream = client.chat(model="llama3", messages=MESSAGES, stream=True)
    assert inspect.isgenerator(stream)  # still looks like the SDK's generator
    assert telemetry.spans() == ()
    parts = list(stream)
    assert "".join(p.message.content for p in parts) == "Hello there!"
    assert all(isinstance(p, ollama.ChatResponse) for p in parts)
    assert parts[-1].done is True and parts[-1].eval_count == 7
    span = only_span(telemetry)
    attributes = dict(span.attributes)
    ttfc = attributes.pop("gen_ai.response.time_to_first_chunk")
    assert 0 < ttfc < 5
    assert attributes == {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "ollama",
        "gen_ai.request.model": "llama3",
        "server.address": "127.0.0.1",
        "server.port": server.port,
        "gen_ai.request.stream": True,
        "gen_ai.response.model": "llama3",
        "gen_ai.response.finish_reasons": ("stop",),
        "gen_ai.usage.input_tokens": 20,
        "gen_ai.usage.output_tokens": 7,
        "gen_ai.usage.cost.amount": 0.0,
        "gen_ai.usage.cost.currency": "USD",
        "gen_ai.usage.cost.source": "local",
        "otel_tokens.cost.input": 0.0,
        "otel_tokens.cost.output": 0.0,
        "otel_tokens.price.source": "local-model",
    }
    [first_chunk] = telemetry.points("gen_ai.client.operation.time_to_first_chunk")
    assert first_chunk.count == 1 and first_chunk.sum == pytest.approx(ttfc)
    tokens = token_points(telemetry)
    assert (tokens["input"].sum, tokens["output"].sum) == (20, 7)


def test_stream_parts_reach_the_user_one_by_one(server, client, telemetry):
    server.enqueue(Scenario(text="abcdef", chunks=3))
    stream = client.generate(model="llama3", prompt="Count.", stream=True)
    assert next(stream).response == "ab"  # __next__ on the proxy itself
    assert [p.response for p in stream] == ["cd", "ef", ""]
    assert len(telemetry.spans()) == 1


def test_stream_abandoned_early_ends_on_garbage_collection(server, client, telemetry):
    server.enqueue(Scenario(text="one two three four", chunks=4))
    stream = client.chat(model="llama3", messages=MESSAGES, stream=True)
    first = next(iter(stream))
    assert telemetry.spans() == ()
    del stream
    gc.collect()
    span = only_span(telemetry)
    assert span.status.status_code is StatusCode.UNSET
    # No "done" part arrived: the usage is counted locally from what was seen, and flagged.
    reference = Tokenizer()
    assert span.attributes["otel_tokens.usage.estimated"] is True
    assert (
        span.attributes["gen_ai.usage.input_tokens"] == reference.count_chat_input("llama3", MESSAGES).tokens
    )
    assert (
        span.attributes["gen_ai.usage.output_tokens"]
        == reference.count_text("llama3", first.message.content).tokens
    )


def test_stream_never_iterated_sends_nothing_and_records_no_usage(server, client, telemetry):
    stream = client.chat(model="llama3", messages=MESSAGES, stream=True)
    stream.close()  # the SDK's generator sends the request on the first next(): none was sent
    assert server.requests == []
    span = only_span(telemetry)
    assert "gen_ai.usage.input_tokens" not in span.attributes
    assert telemetry.points("gen_ai.client.token.usage") == []


def test_stream_closed_early_ends_once(server, client, telemetry):
    server.enqueue(Scenario(chunks=6))
    stream = client.chat(model="llama3", messages=MESSAGES, stream=True)
    next(stream)
    stream.close()
    stream.close()
    assert len(telemetry.spans()) == 1
    assert len(telemetry.points("gen_ai.client.operation.duration")) == 1


def test_stream_in_a_closing_context_manager(server, client, telemetry):
    # The SDK's stream is a plain generator: contextlib.closing is how it is used in a `with`.
    server.enqueue(Scenario(chunks=3, prompt_tokens=5, completion_tokens=3))
    with contextlib.closing(client.chat(model="llama3", messages=MESSAGES, stream=True)) as stream:
        for _ in stream:
            pass
    assert only_span(telemetry).attributes["gen_ai.usage.input_tokens"] == 5


def test_stream_dropped_midway_records_error_and_reraises(server, client, telemetry):
    server.enqueue(Scenario(chunks=6, fail_after_chunks=2))
    received = []
    with pytest.raises(Exception) as raised:
        for part in client.chat(model="llama3", messages=MESSAGES, stream=True):
            received.append(part)
    assert len(received) == 2  # what arrived before the failure reached the user
    span = only_span(telemetry)
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes["error.type"] == type(raised.value).__qualname__
    assert span.attributes["otel_tokens.usage.estimated"] is True


@pytest.mark.parametrize("capture", [False, True])
def test_error_line_midway_raises_the_sdks_response_error(server, client, telemetry, capture, reinstrument):
    from otel_tokens import _runtime
    from otel_tokens._settings import Settings

    _runtime.set_settings(Settings(capture_content=capture))
    reinstrument()
    server.enqueue(
        Scenario(chunks=6, fail_after_chunks=3, error_message="model runner has unexpectedly stopped")
    )
    received = []
    with pytest.raises(ollama.ResponseError) as raised:
        for part in client.generate(model="llama3", prompt="Tell me a joke.", stream=True):
            received.append(part)
    assert raised.value.error == "model runner has unexpectedly stopped"
    assert len(received) == 3
    span = only_span(telemetry)
    assert span.attributes["error.type"] == "ResponseError"
    # The server's message is content: on the span only when content capture is on.
    if capture:
        assert "model runner has unexpectedly stopped" in span.status.description
    else:
        assert span.status.description == "ResponseError"


def test_stream_http_error_surfaces_on_first_iteration(server, client, telemetry):
    server.enqueue(Scenario(error_status=404))
    stream = client.chat(model="llama9", messages=MESSAGES, stream=True)
    with pytest.raises(ollama.ResponseError) as raised:
        next(stream)
    assert raised.value.status_code == 404
    span = only_span(telemetry)
    assert span.attributes["error.type"] == "ResponseError"
    assert "gen_ai.usage.input_tokens" not in span.attributes


def test_malformed_stream(server, client, telemetry):
    server.enqueue(Scenario(malformed=True))
    with pytest.raises(Exception) as raised:
        list(client.chat(model="llama3", messages=MESSAGES, stream=True))
    assert only_span(telemetry).attributes["error.type"] == type(raised.value).__qualname__


def test_stream_tool_call(server, client, telemetry):
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]
    server.enqueue(Scenario(tool_call=True, tool_arguments='{"city": "Oslo"}', include_usage=False))
    parts = list(client.chat(model="llama3.1", messages=MESSAGES, tools=tools, stream=True))
    assert parts[0].message.tool_calls[0].function.name == "get_weather"
    span = only_span(telemetry)
    # No counts: the call's name and arguments are what was generated.
    expected = Tokenizer().count_text("llama3.1", 'get_weather{"city": "Oslo"}').tokens
    assert span.attributes["gen_ai.usage.output_tokens"] == expected


async def test_async_chat_stream(server, async_client, telemetry):
    server.enqueue(Scenario(chunks=4, prompt_tokens=9, completion_tokens=4))
    stream = await async_client.chat(model="llama3", messages=MESSAGES, stream=True)
    assert inspect.isasyncgen(stream)
    parts = [part async for part in stream]
    assert parts[-1].eval_count == 4
    span = only_span(telemetry)
    assert (span.attributes["gen_ai.usage.input_tokens"], span.attributes["gen_ai.usage.output_tokens"]) == (
        9,
        4,
    )
    assert span.attributes["gen_ai.response.time_to_first_chunk"] > 0


async def test_async_generate_stream(server, async_client, telemetry):
    server.enqueue(Scenario(text="A joke.", chunks=2, prompt_tokens=17, completion_tokens=3))
    stream = await async_client.generate(model="llama3", prompt="Tell me a joke.", stream=True)
    assert "".join([p.response async for p in stream]) == "A joke."
    span = only_span(telemetry)
    assert span.attributes["gen_ai.operation.name"] == "text_completion"
    assert span.attributes["gen_ai.usage.input_tokens"] == 17


async def test_async_stream_abandoned_early_ends_once(server, async_client, telemetry):
    server.enqueue(Scenario(chunks=6, prompt_tokens=11, completion_tokens=6))
    stream = await async_client.chat(model="llama3", messages=MESSAGES, stream=True)
    async for _ in stream:
        break
    await stream.aclose()
    await stream.aclose()
    span = only_span(telemetry)
    assert span.status.status_code is StatusCode.UNSET
    assert span.attributes["otel_tokens.usage.estimated"] is True  # no "done" part before the break


async def test_async_stream_failing_midway(server, async_client, telemetry):
    server.enqueue(Scenario(chunks=5, fail_after_chunks=1))
    stream = await async_client.chat(model="llama3", messages=MESSAGES, stream=True)
    with pytest.raises(Exception) as raised:
        async for _ in stream:
            pass
    span = only_span(telemetry)
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes["error.type"] == type(raised.value).__qualname__


async def test_async_stream_kv_cache_hit(server, async_client, telemetry):
    server.enqueue(Scenario(prompt_tokens=0, completion_tokens=6))
    stream = await async_client.generate(
        model="llama3", prompt="Tell me a joke.", system="Be funny.", stream=True
    )
    async for _ in stream:
        pass
    span = only_span(telemetry)
    prompt = Tokenizer().count_chat_input(
        None, [{"role": "system", "content": "Be funny."}, {"role": "user", "content": "Tell me a joke."}]
    )
    assert span.attributes["gen_ai.usage.input_tokens"] == prompt.tokens
    assert span.attributes["gen_ai.usage.cache_read.input_tokens"] == prompt.tokens
    assert span.attributes["gen_ai.usage.output_tokens"] == 6
    assert span.attributes["otel_tokens.usage.estimated"] is True
