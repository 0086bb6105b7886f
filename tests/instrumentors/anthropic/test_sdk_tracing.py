"""Two instrumented layers stacked: anthropic 2.x's own tracing under otel-tokens.

The SDK and otel-tokens get the same tracer provider. For a call otel-tokens records there must
be exactly one span, ours (so nothing deriving metrics from spans counts tokens twice); calls we
do not record keep the SDK's span.
"""

from __future__ import annotations

import anthropic
import pytest
from otel_tokens_anthropic import AnthropicInstrumentor
from otel_tokens_fake_providers import Scenario

from otel_tokens.testing import InMemoryTelemetry

from .conftest import API_KEY
from .helpers import MESSAGES, MODEL

pytest.importorskip("anthropic._tracing", reason="this anthropic version has no tracing of its own")

SDK_SCOPE = "com.anthropic.sdk.python"


def sdk_traced(cls, server, telemetry):
    return cls(
        base_url=server.url,
        api_key=API_KEY,
        max_retries=0,
        open_telemetry={"tracer_provider": telemetry.tracer_provider},
    )


def spans_by_scope(telemetry):
    return [(span.instrumentation_scope.name, span.name) for span in telemetry.spans()]


def usage_spans(telemetry):
    return [s for s in telemetry.spans() if "gen_ai.usage.input_tokens" in (s.attributes or {})]


def test_without_otel_tokens_the_sdk_traces_the_call(server):
    # The baseline that makes the tests below meaningful: the SDK's span, with its own usage.
    memory = InMemoryTelemetry()
    client = sdk_traced(anthropic.Anthropic, server, memory)
    server.enqueue(Scenario(prompt_tokens=10, completion_tokens=5))
    client.messages.create(model=MODEL, max_tokens=10, messages=MESSAGES)
    assert spans_by_scope(memory) == [(SDK_SCOPE, "anthropic.messages.create")]
    memory.shutdown()


def test_one_span_per_create_plain_streamed_and_helper(server, telemetry):
    client = sdk_traced(anthropic.Anthropic, server, telemetry)
    server.enqueue(Scenario(prompt_tokens=10, completion_tokens=5))
    client.messages.create(model=MODEL, max_tokens=10, messages=MESSAGES)
    server.enqueue(Scenario(prompt_tokens=11, completion_tokens=6))
    list(client.messages.create(model=MODEL, max_tokens=10, messages=MESSAGES, stream=True))
    server.enqueue(Scenario(prompt_tokens=12, completion_tokens=7))
    with client.messages.stream(model=MODEL, max_tokens=10, messages=MESSAGES) as stream:
        stream.until_done()
    ours = ("otel_tokens_anthropic", f"chat {MODEL}")
    assert spans_by_scope(telemetry) == [ours, ours, ours]
    assert [s.attributes["gen_ai.usage.input_tokens"] for s in usage_spans(telemetry)] == [10, 11, 12]
    # The requests still went out (and only once each).
    assert len(server.requests) == 3


async def test_one_span_per_async_create_plain_streamed_and_helper(server, telemetry):
    client = sdk_traced(anthropic.AsyncAnthropic, server, telemetry)
    server.enqueue(Scenario(prompt_tokens=10, completion_tokens=5))
    await client.messages.create(model=MODEL, max_tokens=10, messages=MESSAGES)
    server.enqueue(Scenario(prompt_tokens=11, completion_tokens=6))
    stream = await client.messages.create(model=MODEL, max_tokens=10, messages=MESSAGES, stream=True)
    async for _ in stream:
        pass
    server.enqueue(Scenario(prompt_tokens=12, completion_tokens=7))
    async with client.messages.stream(model=MODEL, max_tokens=10, messages=MESSAGES) as helper:
        await helper.until_done()
    ours = ("otel_tokens_anthropic", f"chat {MODEL}")
    assert spans_by_scope(telemetry) == [ours, ours, ours]
    assert [s.attributes["gen_ai.usage.input_tokens"] for s in usage_spans(telemetry)] == [10, 11, 12]


def test_calls_we_do_not_record_keep_the_sdk_span(server, telemetry):
    client = sdk_traced(anthropic.Anthropic, server, telemetry)
    server.enqueue(Scenario(prompt_tokens=42))
    client.messages.count_tokens(model=MODEL, messages=MESSAGES)
    assert spans_by_scope(telemetry) == [(SDK_SCOPE, "anthropic.messages.count_tokens")]
    assert telemetry.points("gen_ai.client.token.usage") == []


def test_errors_have_one_span_too(server, telemetry):
    client = sdk_traced(anthropic.Anthropic, server, telemetry)
    server.enqueue(Scenario(error_status=500))
    with pytest.raises(anthropic.InternalServerError):
        client.messages.create(model=MODEL, max_tokens=10, messages=MESSAGES)
    [span] = telemetry.spans()
    assert span.instrumentation_scope.name == "otel_tokens_anthropic"
    assert span.attributes["error.type"] == "InternalServerError"


def test_uninstrument_gives_the_call_back_to_the_sdk(server, telemetry):
    client = sdk_traced(anthropic.Anthropic, server, telemetry)
    AnthropicInstrumentor().uninstrument()
    client.messages.create(model=MODEL, max_tokens=10, messages=MESSAGES)
    assert spans_by_scope(telemetry) == [(SDK_SCOPE, "anthropic.messages.create")]
