"""Chat completions through the real mistralai SDK against the fake server: spans, metrics, cost."""

from __future__ import annotations

import gc

import pytest
from opentelemetry.trace import SpanKind, StatusCode
from otel_tokens_fake_providers import Scenario

from otel_tokens import tags

from .conftest import API_KEY
from .helpers import MESSAGES, MISTRAL_SMALL, cost, details, only_span, token_points
from .sdk import EventStream, EventStreamAsync, Mistral, errors, models

MODEL = "mistral-small-latest"


def test_chat_span_attributes_usage_and_cost(server, client, telemetry):
    server.enqueue(Scenario(prompt_tokens=1200, cached_tokens=1024, completion_tokens=50))
    with tags(team="search", feature="autocomplete", user="u-1"):
        response = client.chat.complete(
            model=MODEL,
            messages=MESSAGES,
            temperature=0.2,
            top_p=0.9,
            max_tokens=100,
            random_seed=7,
            stop="END",
            presence_penalty=0.1,
            frequency_penalty=0.3,
        )
    assert response.usage.prompt_tokens == 1200  # the user gets the SDK's own object, unchanged
    span = only_span(telemetry)
    assert span.name == f"chat {MODEL}"
    assert span.kind is SpanKind.CLIENT
    assert span.instrumentation_scope.name == "otel_tokens_mistralai"
    expected_cost = cost(MISTRAL_SMALL, input=1200, cached=1024, output=50)
    assert dict(span.attributes) == {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "mistral_ai",
        "gen_ai.request.model": MODEL,
        "server.address": "127.0.0.1",
        "server.port": server.port,
        "gen_ai.request.temperature": 0.2,
        "gen_ai.request.top_p": 0.9,
        "gen_ai.request.max_tokens": 100,
        "gen_ai.request.seed": 7,
        "gen_ai.request.stop_sequences": ("END",),
        "gen_ai.request.presence_penalty": 0.1,
        "gen_ai.request.frequency_penalty": 0.3,
        "otel_tokens.tag.team": "search",
        "otel_tokens.tag.feature": "autocomplete",
        "otel_tokens.tag.user": "u-1",
        "gen_ai.response.model": MODEL,
        "gen_ai.response.id": response.id,
        "gen_ai.response.finish_reasons": ("stop",),
        "gen_ai.usage.input_tokens": 1200,
        "gen_ai.usage.output_tokens": 50,
        "gen_ai.usage.cache_read.input_tokens": 1024,
        "gen_ai.usage.cost.amount": pytest.approx(expected_cost, rel=1e-12),
        "gen_ai.usage.cost.currency": "USD",
        "gen_ai.usage.cost.source": "local",
        "otel_tokens.cost.input": pytest.approx(176 * 0.15 / 1e6, rel=1e-12),
        "otel_tokens.cost.cache_read": pytest.approx(1024 * 0.015 / 1e6, rel=1e-12),
        "otel_tokens.cost.output": pytest.approx(50 * 0.60 / 1e6, rel=1e-12),
        "otel_tokens.price.source": span.attributes["otel_tokens.price.source"],
    }
    assert span.attributes["otel_tokens.price.source"].startswith("genai-prices ")
    assert span.status.status_code is StatusCode.UNSET

    metric_attributes = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "mistral_ai",
        "gen_ai.request.model": MODEL,
        "gen_ai.response.model": MODEL,
        "server.address": "127.0.0.1",
        "otel_tokens.tag.team": "search",
        "otel_tokens.tag.feature": "autocomplete",
    }  # "user" is not an allowed metric tag key by default
    tokens = token_points(telemetry)
    assert tokens["input"].attributes == {**metric_attributes, "gen_ai.token.type": "input"}
    assert tokens["output"].attributes == {**metric_attributes, "gen_ai.token.type": "output"}
    assert (tokens["input"].sum, tokens["input"].count) == (1200, 1)
    assert (tokens["output"].sum, tokens["output"].count) == (50, 1)
    [cost_point] = telemetry.points("otel_tokens.client.cost")
    assert cost_point.attributes == metric_attributes
    assert cost_point.sum == pytest.approx(expected_cost, rel=1e-12)
    [detail] = telemetry.points("otel_tokens.client.token.detail")
    assert detail.attributes == {**metric_attributes, "otel_tokens.token.type": "cache_read"}
    assert detail.value == 1024
    [duration] = telemetry.points("gen_ai.client.operation.duration")
    assert duration.attributes == metric_attributes
    assert duration.count == 1 and 0 < duration.sum < 5
    assert telemetry.points("otel_tokens.client.unpriced_calls") == []
    assert telemetry.points("gen_ai.client.operation.time_to_first_chunk") == []


async def test_async_chat(server, client, telemetry):
    server.enqueue(Scenario(prompt_tokens=30, completion_tokens=12, reasoning_tokens=8))
    response = await client.chat.complete_async(model=MODEL, messages=MESSAGES, n=2)
    span = only_span(telemetry)
    assert span.attributes["gen_ai.request.choice.count"] == 2
    assert span.attributes["gen_ai.response.finish_reasons"] == ("stop", "stop")
    assert span.attributes["gen_ai.usage.input_tokens"] == response.usage.prompt_tokens == 30
    assert span.attributes["gen_ai.usage.output_tokens"] == response.usage.completion_tokens == 12
    # Reasoning tokens are inside the completion tokens: priced once, at the output rate.
    assert span.attributes["gen_ai.usage.reasoning.output_tokens"] == 8
    assert span.attributes["gen_ai.usage.cost.amount"] == pytest.approx(
        cost(MISTRAL_SMALL, input=30, output=12)
    )
    assert details(telemetry) == {"reasoning": 8}


def test_stream_consumed_fully(server, client, telemetry):
    server.enqueue(Scenario(text="Hi there, friend!", prompt_tokens=20, completion_tokens=7, chunks=4))
    stream = client.chat.stream(model=MODEL, messages=MESSAGES)
    assert isinstance(stream, EventStream)
    events = list(stream)
    assert "".join(e.data.choices[0].delta.content for e in events) == "Hi there, friend!"
    assert events[-1].data.usage.prompt_tokens == 20  # the user still sees the usage chunk
    span = only_span(telemetry)
    assert span.attributes["gen_ai.request.stream"] is True
    assert span.attributes["gen_ai.response.id"] == events[0].data.id
    assert span.attributes["gen_ai.response.model"] == MODEL
    assert span.attributes["gen_ai.response.finish_reasons"] == ("stop",)
    assert (span.attributes["gen_ai.usage.input_tokens"], span.attributes["gen_ai.usage.output_tokens"]) == (
        20,
        7,
    )
    assert span.attributes["gen_ai.usage.cost.amount"] == pytest.approx(
        cost(MISTRAL_SMALL, input=20, output=7)
    )
    assert "otel_tokens.usage.estimated" not in span.attributes
    assert 0 < span.attributes["gen_ai.response.time_to_first_chunk"] < 5
    [ttfc] = telemetry.points("gen_ai.client.operation.time_to_first_chunk")
    assert ttfc.count == 1 and ttfc.attributes["gen_ai.provider.name"] == "mistral_ai"
    assert {k: p.sum for k, p in token_points(telemetry).items()} == {"input": 20, "output": 7}


def test_stream_context_manager(server, client, telemetry):
    server.enqueue(Scenario(chunks=3, prompt_tokens=5, completion_tokens=3))
    with client.chat.stream(model=MODEL, messages=MESSAGES) as stream:
        assert isinstance(stream, EventStream)
        for _ in stream:
            pass
    span = only_span(telemetry)
    assert span.attributes["gen_ai.usage.input_tokens"] == 5


def test_stream_context_manager_left_early_ends_once(server, client, telemetry):
    server.enqueue(Scenario(chunks=6, prompt_tokens=5, completion_tokens=3))
    with client.chat.stream(model=MODEL, messages=MESSAGES) as stream:
        next(iter(stream))
    span = only_span(telemetry)
    # Left before the usage chunk: no billed counts arrived, so the counts are local estimates.
    assert span.attributes["otel_tokens.usage.estimated"] is True
    assert span.status.status_code is StatusCode.UNSET


def test_stream_abandoned_early_ends_on_garbage_collection(server, client, telemetry):
    server.enqueue(Scenario(chunks=6, prompt_tokens=11, completion_tokens=6))
    stream = client.chat.stream(model=MODEL, messages=MESSAGES)
    next(iter(stream))
    assert telemetry.spans() == ()
    del stream
    gc.collect()
    span = only_span(telemetry)
    assert span.status.status_code is StatusCode.UNSET


@pytest.mark.skipif(not hasattr(EventStream, "close"), reason="this mistralai's EventStream has no close()")
def test_stream_closed_early_ends_once(server, client, telemetry):
    server.enqueue(Scenario(chunks=6))
    stream = client.chat.stream(model=MODEL, messages=MESSAGES)
    next(iter(stream))
    stream.close()
    stream.close()
    assert list(stream) == []  # the SDK's own behaviour after close() is kept
    assert len(telemetry.spans()) == 1


def test_stream_failing_midway_records_error_and_reraises(server, client, telemetry):
    server.enqueue(Scenario(chunks=6, fail_after_chunks=2))
    received = []
    with pytest.raises(Exception) as raised:
        for event in client.chat.stream(model=MODEL, messages=MESSAGES):
            received.append(event)
    span = only_span(telemetry)
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes["error.type"] == type(raised.value).__qualname__
    assert len(received) == 3  # the role chunk and two pieces reached the user before the failure
    [duration] = telemetry.points("gen_ai.client.operation.duration")
    assert duration.attributes["error.type"] == type(raised.value).__qualname__


async def test_async_stream(server, client, telemetry):
    server.enqueue(Scenario(chunks=4, prompt_tokens=9, completion_tokens=4))
    stream = await client.chat.stream_async(model=MODEL, messages=MESSAGES)
    assert isinstance(stream, EventStreamAsync)
    async with stream:
        events = [event async for event in stream]
    assert events[-1].data.usage.completion_tokens == 4
    span = only_span(telemetry)
    assert span.attributes["gen_ai.request.stream"] is True
    assert span.attributes["gen_ai.usage.output_tokens"] == 4
    assert span.attributes["gen_ai.response.time_to_first_chunk"] > 0


async def test_async_stream_abandoned_ends_once(server, client, telemetry):
    server.enqueue(Scenario(chunks=6))
    stream = await client.chat.stream_async(model=MODEL, messages=MESSAGES)
    async with stream:
        await stream.__anext__()
    assert len(telemetry.spans()) == 1


def test_stream_without_usage_is_estimated_locally(server, client, telemetry):
    from otel_tokens.tokenize import Tokenizer

    text = "Hello there, this answer was streamed in pieces."
    server.enqueue(Scenario(text=text, chunks=5, include_usage=False))
    streamed = "".join(
        e.data.choices[0].delta.content for e in client.chat.stream(model=MODEL, messages=MESSAGES)
    )
    assert streamed == text
    span = only_span(telemetry)
    reference = Tokenizer()
    assert span.attributes["otel_tokens.usage.estimated"] is True
    assert span.attributes["otel_tokens.usage.estimate_method"] == "heuristic"
    assert span.attributes["gen_ai.usage.input_tokens"] == reference.count_chat_input(MODEL, MESSAGES).tokens
    assert span.attributes["gen_ai.usage.output_tokens"] == reference.count_text(MODEL, text).tokens
    tokens = token_points(telemetry)
    # Estimates are never mixed silently with billed counts: their points carry the flag.
    assert tokens["input"].attributes["otel_tokens.usage.estimated"] is True
    assert tokens["output"].attributes["otel_tokens.usage.estimated"] is True


@pytest.mark.parametrize(
    ("status", "exception"),
    [
        (400, errors.SDKError),
        (401, errors.SDKError),
        (422, errors.HTTPValidationError),
        (429, errors.SDKError),
        (500, errors.SDKError),
    ],
)
def test_api_errors_pass_through_and_are_recorded(server, client, telemetry, status, exception):
    server.enqueue(Scenario(error_status=status))
    with pytest.raises(exception) as raised:
        client.chat.complete(model=MODEL, messages=MESSAGES)
    assert type(raised.value) is exception
    assert getattr(raised.value, "status_code", status) == status  # 1.x validation errors have none
    assert len(server.requests) == 1  # no retry hid the error
    span = only_span(telemetry)
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes["error.type"] == exception.__qualname__
    assert "gen_ai.usage.input_tokens" not in span.attributes
    [duration] = telemetry.points("gen_ai.client.operation.duration")
    assert duration.attributes["error.type"] == exception.__qualname__
    assert telemetry.points("gen_ai.client.token.usage") == []


@pytest.mark.parametrize("method", ["stream", "stream_async"])
async def test_stream_errors_pass_through(server, client, telemetry, method):
    server.enqueue(Scenario(error_status=503))
    with pytest.raises(errors.SDKError):
        result = getattr(client.chat, method)(model=MODEL, messages=MESSAGES)
        if method == "stream_async":
            await result
    assert only_span(telemetry).attributes["error.type"] == "SDKError"


def test_malformed_body(server, client, telemetry):
    server.enqueue(Scenario(malformed=True))
    with pytest.raises(Exception) as raised:
        client.chat.complete(model=MODEL, messages=MESSAGES)
    assert only_span(telemetry).attributes["error.type"] == type(raised.value).__qualname__


def test_unknown_model_gets_no_cost_and_is_counted(server, client, telemetry):
    for _ in range(2):
        server.enqueue(Scenario(prompt_tokens=10, completion_tokens=5))
        client.chat.complete(model="acme-private-mistral-ft", messages=MESSAGES)
    for span in telemetry.spans():
        assert "gen_ai.usage.cost.amount" not in span.attributes
        assert span.attributes["otel_tokens.price.missing"] is True
        assert span.attributes["gen_ai.usage.input_tokens"] == 10
    [unpriced] = telemetry.points("otel_tokens.client.unpriced_calls")
    assert unpriced.value == 2
    assert telemetry.points("otel_tokens.client.cost") == []


@pytest.mark.parametrize("stream", [False, True], ids=["complete", "stream"])
def test_an_absurd_count_is_dropped_and_counted_the_rest_recorded(server, client, telemetry, stream):
    # The SDK lets 2**70 cached tokens through; that count alone is lost (and counted as
    # dropped), the other counts, the model and the cost are recorded.
    server.enqueue(
        Scenario(
            prompt_tokens=1200,
            completion_tokens=50,
            chunks=3 if stream else 1,
            usage_fields={"prompt_tokens_details": {"cached_tokens": 2**70}},
        )
    )
    if stream:
        events = list(client.chat.stream(model=MODEL, messages=MESSAGES))
        reported = events[-1].data.usage
    else:
        reported = client.chat.complete(model=MODEL, messages=MESSAGES).usage
    assert reported.prompt_tokens_details["cached_tokens"] == 2**70
    span = only_span(telemetry)
    assert (span.attributes["gen_ai.usage.input_tokens"], span.attributes["gen_ai.usage.output_tokens"]) == (
        1200,
        50,
    )
    assert "gen_ai.usage.cache_read.input_tokens" not in span.attributes
    assert "otel_tokens.usage.estimated" not in span.attributes
    assert span.attributes["gen_ai.response.model"] == MODEL
    expected_cost = cost(MISTRAL_SMALL, input=1200, output=50)
    assert span.attributes["gen_ai.usage.cost.amount"] == pytest.approx(expected_cost, rel=1e-12)
    assert {k: p.sum for k, p in token_points(telemetry).items()} == {"input": 1200, "output": 50}
    [spend] = telemetry.points("otel_tokens.client.cost")
    assert spend.sum == pytest.approx(expected_cost, rel=1e-12)
    [dropped] = telemetry.points("otel_tokens.telemetry.dropped")
    assert dropped.value == 1
    assert dropped.attributes["otel_tokens.drop.reason"] == "invalid_usage"
    assert dropped.attributes["gen_ai.response.model"] == MODEL


@pytest.mark.parametrize("capture", [False, True])
def test_content_capture_is_opt_in(server, client, telemetry, capture, reinstrument):
    from otel_tokens import _runtime
    from otel_tokens._settings import Settings

    _runtime.set_settings(Settings(capture_content=capture))
    reinstrument()
    server.enqueue(Scenario(text="Hello, human."))
    client.chat.complete(model=MODEL, messages=MESSAGES)
    span = only_span(telemetry)
    text = str(dict(span.attributes))
    assert API_KEY not in text and "Bearer" not in text
    assert API_KEY in server.requests[-1].headers["authorization"]  # it was sent, just not recorded
    if capture:
        assert span.attributes["gen_ai.input.messages"] == (
            '[{"role": "system", "parts": [{"type": "text", "content": "Be brief."}]}, '
            '{"role": "user", "parts": [{"type": "text", "content": "Say hello."}]}]'
        )
        assert span.attributes["gen_ai.output.messages"] == (
            '[{"role": "assistant", "parts": [{"type": "text", "content": "Hello, human."}], '
            '"finish_reason": "stop"}]'
        )
    else:
        assert "gen_ai.input.messages" not in span.attributes
        assert "gen_ai.output.messages" not in span.attributes
        assert "Say hello." not in text and "Hello, human." not in text


def test_content_capture_from_environment_covers_streams_and_tool_calls(
    server, client, telemetry, monkeypatch, reinstrument
):
    from otel_tokens import _runtime

    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "true")
    _runtime.reset()
    reinstrument()
    tools = [{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}]
    server.enqueue(Scenario(tool_call=True, tool_arguments='{"q": "x"}'))
    response = client.chat.complete(
        model=MODEL, messages=[models.UserMessage(content="Find x.")], tools=tools
    )
    server.enqueue(Scenario(text="Streamed reply.", chunks=3))
    list(client.chat.stream(model=MODEL, messages=MESSAGES))
    called, streamed = telemetry.spans()
    call_id = response.choices[0].message.tool_calls[0].id
    assert called.attributes["gen_ai.input.messages"] == (
        '[{"role": "user", "parts": [{"type": "text", "content": "Find x."}]}]'
    )
    assert called.attributes["gen_ai.output.messages"] == (
        '[{"role": "assistant", "parts": [{"type": "tool_call", "id": "' + call_id + '", '
        '"name": "lookup", "arguments": "{\\"q\\": \\"x\\"}"}], "finish_reason": "tool_calls"}]'
    )
    assert called.attributes["gen_ai.response.finish_reasons"] == ("tool_calls",)
    assert streamed.attributes["gen_ai.output.messages"] == (
        '[{"role": "assistant", "parts": [{"type": "text", "content": "Streamed reply."}]}]'
    )


def test_unsampled_calls_still_record_metrics(server, client):
    from opentelemetry.sdk.trace.sampling import ALWAYS_OFF
    from otel_tokens_mistralai import MistralAIInstrumentor

    from otel_tokens.testing import InMemoryTelemetry

    memory = InMemoryTelemetry(sampler=ALWAYS_OFF)
    MistralAIInstrumentor().instrument(
        tracer_provider=memory.tracer_provider, meter_provider=memory.meter_provider
    )
    try:
        server.enqueue(Scenario(prompt_tokens=10, completion_tokens=5))
        client.chat.complete(model=MODEL, messages=MESSAGES)
        server.enqueue(Scenario(prompt_tokens=4, completion_tokens=2))
        list(client.chat.stream(model=MODEL, messages=MESSAGES))
    finally:
        MistralAIInstrumentor().uninstrument()
    assert memory.spans() == ()
    assert {p.attributes["gen_ai.token.type"]: p.sum for p in memory.points("gen_ai.client.token.usage")} == {
        "input": 14,
        "output": 7,
    }
    [point] = memory.points("otel_tokens.client.cost")
    assert point.sum == pytest.approx(cost(MISTRAL_SMALL, input=14, output=7))


def test_parse_is_recorded_once_through_complete(server, client, telemetry):
    from pydantic import BaseModel

    class Answer(BaseModel):
        greeting: str

    server.enqueue(Scenario(text='{"greeting": "hello"}', prompt_tokens=40, completion_tokens=9))
    parsed = client.chat.parse(response_format=Answer, model=MODEL, messages=MESSAGES)
    assert parsed.choices[0].message.parsed == Answer(greeting="hello")
    span = only_span(telemetry)
    assert span.attributes["gen_ai.output.type"] == "json"
    assert span.attributes["gen_ai.usage.input_tokens"] == 40


def test_per_call_server_url_is_the_server_address(server, telemetry):
    client = Mistral(api_key=API_KEY)  # the default server would be api.mistral.ai
    client.chat.complete(model=MODEL, messages=MESSAGES, server_url=server.url)
    span = only_span(telemetry)
    assert (span.attributes["server.address"], span.attributes["server.port"]) == ("127.0.0.1", server.port)


def test_internal_failure_never_reaches_the_user(server, client, telemetry, monkeypatch, caplog):
    from otel_tokens_mistralai import _endpoints

    from otel_tokens import _safety

    _safety.set_strict(False)
    monkeypatch.setitem(_endpoints._RESULTS, "chat", lambda response: 1 / 0)
    server.enqueue(Scenario(prompt_tokens=3, completion_tokens=2))
    response = client.chat.complete(model=MODEL, messages=MESSAGES)
    assert response.usage.prompt_tokens == 3
    assert len(telemetry.spans()) == 1  # the span still ends
    assert any("internal error" in r.getMessage() for r in caplog.records)


def test_uninstrument_stops_recording(server, client, telemetry):
    from otel_tokens_mistralai import MistralAIInstrumentor

    MistralAIInstrumentor().uninstrument()
    client.chat.complete(model=MODEL, messages=MESSAGES)
    assert telemetry.spans() == ()
    MistralAIInstrumentor().instrument(
        tracer_provider=telemetry.tracer_provider, meter_provider=telemetry.meter_provider
    )
    client.chat.complete(model=MODEL, messages=MESSAGES)
    assert len(telemetry.spans()) == 1


def test_priority_tier_without_a_known_price_is_priced_as_standard(server, client, telemetry, caplog):
    # Mistral reports the serving tier inside usage; the price data has no priority price for it.
    server.enqueue(Scenario(prompt_tokens=100, completion_tokens=10, service_tier="priority"))
    response = client.chat.complete(model=MODEL, messages=MESSAGES)
    assert response.usage.service_tier == "priority"
    span = only_span(telemetry)
    assert span.attributes["gen_ai.usage.cost.amount"] == pytest.approx(
        cost(MISTRAL_SMALL, input=100, output=10)
    )
    assert "otel_tokens.price.service_tier" not in span.attributes
    assert any("service-tier price" in r.getMessage() for r in caplog.records)
