"""messages.create through the real anthropic SDK against the fake server: spans, metrics, cost."""

from __future__ import annotations

import gc
import json

import anthropic
import pytest
from opentelemetry.trace import SpanKind, StatusCode
from otel_tokens_fake_providers import RawResponse, Scenario

from otel_tokens import tags

from .helpers import DATED_MODEL, HAIKU_4_5, MESSAGES, MODEL, cost, details, only_span, subset, token_points


def test_create_span_attributes_usage_and_cost(server, client, telemetry):
    # input_tokens excludes the cache: our input is 40 + 1000 read + 300 written = 1340.
    server.enqueue(
        Scenario(
            model=DATED_MODEL,
            prompt_tokens=40,
            cached_tokens=1000,
            cache_creation_tokens=300,
            completion_tokens=25,
        )
    )
    with tags(team="search", feature="autocomplete", user="u-1"):
        message = client.messages.create(
            model=MODEL,
            max_tokens=100,
            messages=MESSAGES,
            system="Be brief.",
            stop_sequences=["END"],
            extra_body={
                "temperature": 0.2,
                "top_p": 0.9,
                "top_k": 40,
            },  # anthropic 2.x has no such parameters
        )
    assert message.usage.input_tokens == 40  # the user gets the SDK's own object, unchanged
    span = only_span(telemetry)
    assert span.name == f"chat {MODEL}"
    assert span.kind is SpanKind.CLIENT
    expected_cost = cost(HAIKU_4_5, input=40, cache_read=1000, cache_write_5m=300, output=25)
    assert dict(span.attributes) == {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "anthropic",
        "gen_ai.request.model": MODEL,
        "server.address": "127.0.0.1",
        "server.port": server.port,
        "gen_ai.request.max_tokens": 100,
        "gen_ai.request.temperature": 0.2,
        "gen_ai.request.top_p": 0.9,
        "gen_ai.request.top_k": 40,
        "gen_ai.request.stop_sequences": ("END",),
        "otel_tokens.tag.team": "search",
        "otel_tokens.tag.feature": "autocomplete",
        "otel_tokens.tag.user": "u-1",
        "gen_ai.response.model": DATED_MODEL,
        "gen_ai.response.id": message.id,
        "gen_ai.response.finish_reasons": ("end_turn",),
        "gen_ai.usage.input_tokens": 1340,
        "gen_ai.usage.output_tokens": 25,
        "gen_ai.usage.cache_read.input_tokens": 1000,
        "gen_ai.usage.cache_creation.input_tokens": 300,
        "gen_ai.usage.cost.amount": pytest.approx(expected_cost, rel=1e-12),
        "gen_ai.usage.cost.currency": "USD",
        "gen_ai.usage.cost.source": "local",
        "otel_tokens.cost.input": pytest.approx(40 * 1.00 / 1e6, rel=1e-12),
        "otel_tokens.cost.cache_read": pytest.approx(1000 * 0.10 / 1e6, rel=1e-12),
        "otel_tokens.cost.cache_creation": pytest.approx(300 * 1.25 / 1e6, rel=1e-12),
        "otel_tokens.cost.output": pytest.approx(25 * 5.00 / 1e6, rel=1e-12),
        "otel_tokens.price.source": span.attributes["otel_tokens.price.source"],
    }
    assert span.attributes["otel_tokens.price.source"].startswith("genai-prices ")
    assert span.status.status_code is StatusCode.UNSET

    metric_attributes = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "anthropic",
        "gen_ai.request.model": MODEL,
        "gen_ai.response.model": DATED_MODEL,
        "server.address": "127.0.0.1",
        "otel_tokens.tag.team": "search",
        "otel_tokens.tag.feature": "autocomplete",
    }
    tokens = token_points(telemetry)
    assert tokens["input"].attributes == {**metric_attributes, "gen_ai.token.type": "input"}
    assert (tokens["input"].sum, tokens["input"].count) == (1340, 1)
    assert (tokens["output"].sum, tokens["output"].count) == (25, 1)
    assert details(telemetry) == {"cache_read": 1000, "cache_creation": 300}
    [cost_point] = telemetry.points("otel_tokens.client.cost")
    assert cost_point.attributes == metric_attributes
    assert cost_point.sum == pytest.approx(expected_cost, rel=1e-12)
    [duration] = telemetry.points("gen_ai.client.operation.duration")
    assert duration.attributes == metric_attributes
    assert duration.count == 1 and 0 < duration.sum < 5
    assert telemetry.points("otel_tokens.client.unpriced_calls") == []
    assert telemetry.points("gen_ai.client.operation.time_to_first_chunk") == []


def test_one_hour_cache_writes_are_priced_at_the_one_hour_rate(server, client, telemetry):
    server.enqueue(
        Scenario(
            prompt_tokens=10, cache_creation_tokens=5000, cache_creation_1h_tokens=2000, completion_tokens=4
        )
    )
    client.messages.create(model=MODEL, max_tokens=10, messages=MESSAGES)
    span = only_span(telemetry)
    assert subset(
        span.attributes,
        {
            "gen_ai.usage.input_tokens": 5010,
            "gen_ai.usage.cache_creation.input_tokens": 5000,
            "otel_tokens.usage.cache_creation_1h.input_tokens": 2000,
        },
    ) == {
        "gen_ai.usage.input_tokens": 5010,
        "gen_ai.usage.cache_creation.input_tokens": 5000,
        "otel_tokens.usage.cache_creation_1h.input_tokens": 2000,
    }
    # Haiku 4.5: $1.25 per million 5-minute cache writes, $2.00 per million 1-hour ones.
    assert span.attributes["otel_tokens.cost.cache_creation"] == pytest.approx(
        (3000 * 1.25 + 2000 * 2.00) / 1e6
    )
    assert span.attributes["gen_ai.usage.cost.amount"] == pytest.approx(
        cost(HAIKU_4_5, input=10, cache_write_5m=3000, cache_write_1h=2000, output=4)
    )


@pytest.mark.parametrize("stream", [False, True])
def test_an_absurd_count_is_dropped_alone_and_counted(server, client, telemetry, stream):
    # The SDK passes 2**70 cached tokens through unchecked; that count alone is lost.
    server.enqueue(
        Scenario(
            prompt_tokens=40,
            cache_creation_tokens=300,
            completion_tokens=25,
            chunks=3,
            usage_fields={"cache_read_input_tokens": 2**70},
        )
    )
    if stream:
        events = list(client.messages.create(model=MODEL, max_tokens=50, messages=MESSAGES, stream=True))
        assert events[0].message.usage.cache_read_input_tokens == 2**70  # the user's events are unchanged
    else:
        message = client.messages.create(model=MODEL, max_tokens=50, messages=MESSAGES)
        assert message.usage.cache_read_input_tokens == 2**70  # the user's object is unchanged
    span = only_span(telemetry)
    expected = {
        "gen_ai.usage.input_tokens": 340,  # 40 uncached + 300 written; the absurd read is not added
        "gen_ai.usage.output_tokens": 25,
        "gen_ai.usage.cache_creation.input_tokens": 300,
        "gen_ai.usage.cache_read.input_tokens": None,
        "gen_ai.response.model": MODEL,
        "gen_ai.response.finish_reasons": ("end_turn",),
        "gen_ai.usage.cost.amount": pytest.approx(cost(HAIKU_4_5, input=40, cache_write_5m=300, output=25)),
    }
    assert subset(span.attributes, expected) == expected
    assert span.status.status_code is StatusCode.UNSET
    tokens = token_points(telemetry)
    assert (tokens["input"].sum, tokens["output"].sum) == (340, 25)
    assert details(telemetry) == {"cache_creation": 300}
    [dropped] = telemetry.points("otel_tokens.telemetry.dropped")
    assert dropped.value == 1
    assert dropped.attributes == {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "anthropic",
        "gen_ai.request.model": MODEL,
        "gen_ai.response.model": MODEL,
        "server.address": "127.0.0.1",
        "otel_tokens.drop.reason": "invalid_usage",
    }


def test_older_usage_shape_without_cache_fields(server, client, telemetry):
    server.enqueue(Scenario(prompt_tokens=17, completion_tokens=9, usage_details=False))
    client.messages.create(model=MODEL, max_tokens=10, messages=MESSAGES)
    attributes = only_span(telemetry).attributes
    assert attributes["gen_ai.usage.input_tokens"] == 17
    assert "gen_ai.usage.cache_read.input_tokens" not in attributes
    assert "gen_ai.usage.cache_creation.input_tokens" not in attributes


def test_thinking_tokens_are_output_and_reasoning(server, client, telemetry):
    server.enqueue(Scenario(prompt_tokens=30, completion_tokens=120, reasoning_tokens=100))
    message = client.messages.create(
        model=MODEL, max_tokens=2000, messages=MESSAGES, thinking={"type": "enabled", "budget_tokens": 1024}
    )
    assert [block.type for block in message.content] == ["thinking", "text"]
    span = only_span(telemetry)
    assert span.attributes["gen_ai.usage.output_tokens"] == 120
    assert span.attributes["gen_ai.usage.reasoning.output_tokens"] == 100
    # Thinking is billed inside output_tokens, once, at the output rate.
    assert span.attributes["gen_ai.usage.cost.amount"] == pytest.approx(cost(HAIKU_4_5, input=30, output=120))
    assert details(telemetry) == {"reasoning": 100}


async def test_async_create(server, async_client, telemetry):
    server.enqueue(Scenario(prompt_tokens=30, completion_tokens=12, cached_tokens=5))
    message = await async_client.messages.create(model=MODEL, max_tokens=50, messages=MESSAGES)
    span = only_span(telemetry)
    assert span.attributes["gen_ai.usage.input_tokens"] == 35
    assert span.attributes["gen_ai.usage.output_tokens"] == message.usage.output_tokens == 12
    assert span.attributes["gen_ai.usage.cost.amount"] == pytest.approx(
        cost(HAIKU_4_5, input=30, cache_read=5, output=12)
    )


def test_tool_use_response(server, client, telemetry):
    server.enqueue(Scenario(tool_call=True, tool_arguments='{"city": "Paris"}', prompt_tokens=300))
    tools = [{"name": "get_weather", "description": "Weather", "input_schema": {"type": "object"}}]
    message = client.messages.create(model=MODEL, max_tokens=50, messages=MESSAGES, tools=tools)
    assert message.content[0].input == {"city": "Paris"}
    span = only_span(telemetry)
    assert span.attributes["gen_ai.response.finish_reasons"] == ("tool_use",)
    assert span.attributes["gen_ai.usage.input_tokens"] == 300


def test_beta_messages_create(server, client, telemetry):
    server.enqueue(Scenario(prompt_tokens=12, completion_tokens=3))
    client.beta.messages.create(model=MODEL, max_tokens=10, messages=MESSAGES, betas=["some-beta-2025-01-01"])
    assert server.requests[-1].headers["anthropic-beta"] == "some-beta-2025-01-01"
    span = only_span(telemetry)
    assert (span.attributes["gen_ai.usage.input_tokens"], span.attributes["gen_ai.usage.output_tokens"]) == (
        12,
        3,
    )


def test_parse_structured_output(server, client, telemetry):
    from pydantic import BaseModel

    class Answer(BaseModel):
        greeting: str

    server.enqueue(Scenario(text='{"greeting": "hello"}', prompt_tokens=40, completion_tokens=9))
    parsed = client.messages.parse(model=MODEL, max_tokens=50, messages=MESSAGES, output_format=Answer)
    assert parsed.parsed_output == Answer(greeting="hello")
    span = only_span(telemetry)
    assert span.attributes["gen_ai.output.type"] == "json"
    assert span.attributes["gen_ai.usage.input_tokens"] == 40


def test_count_tokens_is_not_recorded(server, client, telemetry):
    server.enqueue(Scenario(prompt_tokens=99))
    counted = client.messages.count_tokens(model=MODEL, messages=MESSAGES)
    assert counted.input_tokens == 99
    assert server.requests[-1].path == "/v1/messages/count_tokens"
    assert telemetry.spans() == ()
    assert telemetry.points() == []


def test_with_raw_response(server, client, telemetry):
    server.enqueue(Scenario(prompt_tokens=10, completion_tokens=3))
    raw = client.messages.with_raw_response.create(model=MODEL, max_tokens=10, messages=MESSAGES)
    assert raw.headers.get("content-type", "").startswith("application/json")
    assert raw.parse().usage.output_tokens == 3
    span = only_span(telemetry)
    assert span.attributes["gen_ai.usage.input_tokens"] == 10


def test_with_streaming_response_plain_and_stream(server, client, telemetry):
    server.enqueue(Scenario(prompt_tokens=10, completion_tokens=3))
    with client.messages.with_streaming_response.create(
        model=MODEL, max_tokens=10, messages=MESSAGES
    ) as response:
        assert response.parse().usage.output_tokens == 3
    server.enqueue(Scenario(prompt_tokens=6, completion_tokens=2, chunks=2))
    with client.messages.with_streaming_response.create(
        model=MODEL, max_tokens=10, messages=MESSAGES, stream=True
    ) as response:
        events = list(response.parse())
    assert events[-1].type == "message_stop"
    spans = telemetry.spans()
    assert [s.attributes["gen_ai.usage.input_tokens"] for s in spans] == [10, 6]
    assert [s.attributes["gen_ai.usage.output_tokens"] for s in spans] == [3, 2]


@pytest.mark.parametrize(
    ("status", "exception", "error_type"),
    [
        (400, anthropic.BadRequestError, "BadRequestError"),
        (401, anthropic.AuthenticationError, "AuthenticationError"),
        (429, anthropic.RateLimitError, "RateLimitError"),
        (500, anthropic.InternalServerError, "InternalServerError"),
        (529, anthropic.APIStatusError, None),
    ],
)
def test_api_errors_pass_through_and_are_recorded(server, client, telemetry, status, exception, error_type):
    server.enqueue(Scenario(error_status=status))
    with pytest.raises(exception) as raised:
        client.messages.create(model=MODEL, max_tokens=10, messages=MESSAGES)
    assert raised.value.status_code == status
    assert (
        raised.value.body["error"]["type"]
        == {
            400: "invalid_request_error",
            401: "authentication_error",
            429: "rate_limit_error",
            500: "api_error",
            529: "overloaded_error",
        }[status]
    )
    error_type = error_type or type(raised.value).__qualname__  # the SDK's class for 529 varies by version
    span = only_span(telemetry)
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes["error.type"] == error_type
    assert "gen_ai.usage.input_tokens" not in span.attributes
    [duration] = telemetry.points("gen_ai.client.operation.duration")
    assert duration.attributes["error.type"] == error_type
    assert telemetry.points("gen_ai.client.token.usage") == []


def test_timeout_passes_through(server, client, telemetry):
    server.enqueue(Scenario(delay=1.0))
    with pytest.raises(anthropic.APITimeoutError):
        client.with_options(timeout=0.2).messages.create(model=MODEL, max_tokens=10, messages=MESSAGES)
    assert only_span(telemetry).attributes["error.type"] == "APITimeoutError"


def test_missing_usage_is_estimated_and_flagged(server, client, telemetry):
    from otel_tokens.tokenize import Tokenizer

    text = "Hello there, this answer came without any usage block."
    server.enqueue(Scenario(text=text, include_usage=False))
    client.messages.create(model=MODEL, max_tokens=50, messages=MESSAGES, system="Be brief.")
    span = only_span(telemetry)
    reference = Tokenizer()
    plain = [{"role": "system", "content": ["Be brief."]}, {"role": "user", "content": ["Say hello."]}]
    assert span.attributes["otel_tokens.usage.estimated"] is True
    assert span.attributes["otel_tokens.usage.estimate_method"] == "heuristic"
    assert span.attributes["gen_ai.usage.input_tokens"] == reference.count_chat_input(MODEL, plain).tokens
    assert span.attributes["gen_ai.usage.output_tokens"] == reference.count_text(MODEL, text).tokens
    tokens = token_points(telemetry)
    assert tokens["output"].attributes["otel_tokens.usage.estimated"] is True


def test_missing_usage_estimate_counts_tools_and_the_tool_use_system_prompt(server, client, telemetry):
    from otel_tokens_anthropic._extract import TOOL_USE_SYSTEM_PROMPT_TOKENS

    from otel_tokens.tokenize import Tokenizer

    server.enqueue(Scenario(include_usage=False))
    tools = [{"name": "get_weather", "description": "Weather now", "input_schema": {"type": "object"}}]
    client.messages.create(model=MODEL, max_tokens=50, messages=MESSAGES, tools=tools)
    reference = Tokenizer()
    plain = [{"role": "user", "content": ["Say hello."]}]
    tool_texts = ["get_weather", "Weather now", '{"type": "object"}']
    assert TOOL_USE_SYSTEM_PROMPT_TOKENS == 300
    assert only_span(telemetry).attributes["gen_ai.usage.input_tokens"] == (
        reference.count_chat_input(MODEL, plain).tokens
        + reference.count_texts(MODEL, tool_texts).tokens
        + 300
    )


@pytest.mark.parametrize("capture", [False, True])
def test_content_capture_is_opt_in(server, client, telemetry, capture, reinstrument):
    from otel_tokens import _runtime
    from otel_tokens._settings import Settings

    _runtime.set_settings(Settings(capture_content=capture))
    reinstrument()
    server.enqueue(Scenario(text="Hello, human."))
    client.messages.create(model=MODEL, max_tokens=10, messages=MESSAGES, system="Be brief.")
    span = only_span(telemetry)
    text = str(dict(span.attributes))
    assert "sk-ant-test-secret" not in text and "x-api-key" not in text
    if capture:
        assert span.attributes["gen_ai.input.messages"] == (
            '[{"role": "system", "parts": [{"type": "text", "content": "Be brief."}]}, '
            '{"role": "user", "parts": [{"type": "text", "content": "Say hello."}]}]'
        )
        assert span.attributes["gen_ai.output.messages"] == (
            '[{"role": "assistant", "parts": [{"type": "text", "content": "Hello, human."}], '
            '"finish_reason": "end_turn"}]'
        )
    else:
        assert "gen_ai.input.messages" not in span.attributes
        assert "gen_ai.output.messages" not in span.attributes
        assert "Say hello." not in text and "Hello, human." not in text


def test_unsampled_calls_still_record_metrics(server, client):
    from opentelemetry.sdk.trace.sampling import ALWAYS_OFF
    from otel_tokens_anthropic import AnthropicInstrumentor

    from otel_tokens.testing import InMemoryTelemetry

    memory = InMemoryTelemetry(sampler=ALWAYS_OFF)
    AnthropicInstrumentor().instrument(
        tracer_provider=memory.tracer_provider, meter_provider=memory.meter_provider
    )
    try:
        server.enqueue(Scenario(prompt_tokens=10, cached_tokens=20, completion_tokens=5))
        client.messages.create(model=MODEL, max_tokens=10, messages=MESSAGES)
    finally:
        AnthropicInstrumentor().uninstrument()
    assert memory.spans() == ()
    assert {p.attributes["gen_ai.token.type"]: p.sum for p in memory.points("gen_ai.client.token.usage")} == {
        "input": 30,
        "output": 5,
    }
    [point] = memory.points("otel_tokens.client.cost")
    assert point.sum == pytest.approx(cost(HAIKU_4_5, input=10, cache_read=20, output=5))


def test_unknown_model_gets_no_cost_and_is_counted(server, client, telemetry):
    server.enqueue(Scenario(prompt_tokens=10, completion_tokens=5))
    client.messages.create(model="claude-private-tune-1", max_tokens=10, messages=MESSAGES)
    span = only_span(telemetry)
    assert "gen_ai.usage.cost.amount" not in span.attributes
    assert span.attributes["otel_tokens.price.missing"] is True
    [unpriced] = telemetry.points("otel_tokens.client.unpriced_calls")
    assert unpriced.value == 1


def test_nested_instrumented_call_is_counted_once(server, client, telemetry):
    from otel_tokens.record import enter_call, exit_call

    token = enter_call()  # an outer instrumented layer (e.g. litellm calling anthropic) is active
    try:
        client.messages.create(model=MODEL, max_tokens=10, messages=MESSAGES)
        with client.messages.stream(model=MODEL, max_tokens=10, messages=MESSAGES) as stream:
            stream.until_done()
    finally:
        exit_call(token)
    assert telemetry.spans() == ()
    assert telemetry.points("gen_ai.client.token.usage") == []


async def test_suppress_instrumentation_records_nothing(server, client, async_client, telemetry):
    from opentelemetry.instrumentation.utils import suppress_instrumentation

    with suppress_instrumentation():
        client.messages.create(model=MODEL, max_tokens=10, messages=MESSAGES)
        list(client.messages.create(model=MODEL, max_tokens=10, messages=MESSAGES, stream=True))
        with client.messages.stream(model=MODEL, max_tokens=10, messages=MESSAGES) as stream:
            stream.until_done()
        async with async_client.messages.stream(model=MODEL, max_tokens=10, messages=MESSAGES) as helper:
            await helper.until_done()
    manager = client.messages.stream(model=MODEL, max_tokens=10, messages=MESSAGES)
    with suppress_instrumentation(), manager as stream:  # suppressed where the request is sent
        stream.until_done()
    assert len(server.requests) == 5
    assert telemetry.spans() == ()
    assert telemetry.points("gen_ai.client.token.usage") == []


def test_internal_failure_never_reaches_the_user(
    server, client, telemetry, monkeypatch, caplog, reinstrument
):
    from otel_tokens_anthropic import _endpoints

    from otel_tokens import _safety

    _safety.set_strict(False)
    monkeypatch.setitem(_endpoints._RESULTS, "messages", lambda message: 1 / 0)
    reinstrument()
    server.enqueue(Scenario(prompt_tokens=3, completion_tokens=2))
    message = client.messages.create(model=MODEL, max_tokens=10, messages=MESSAGES)
    assert message.usage.input_tokens == 3
    assert len(telemetry.spans()) == 1  # the span still ends
    assert any("internal error" in r.getMessage() for r in caplog.records)


def test_uninstrument_stops_recording(server, client, telemetry, reinstrument):
    from otel_tokens_anthropic import AnthropicInstrumentor

    AnthropicInstrumentor().uninstrument()
    client.messages.create(model=MODEL, max_tokens=10, messages=MESSAGES)
    assert telemetry.spans() == ()
    reinstrument()
    client.messages.create(model=MODEL, max_tokens=10, messages=MESSAGES)
    assert len(telemetry.spans()) == 1


# -- messages.create(stream=True) -----------------------------------------------------------------


def test_stream_usage_from_message_start_and_last_message_delta(server, client, telemetry):
    server.enqueue(
        Scenario(prompt_tokens=20, cached_tokens=100, cache_creation_tokens=50, completion_tokens=7, chunks=4)
    )
    stream = client.messages.create(model=MODEL, max_tokens=10, messages=MESSAGES, stream=True)
    assert isinstance(stream, anthropic.Stream)
    events = list(stream)
    start = events[0].message.usage
    assert (start.input_tokens, start.output_tokens) == (20, 1)  # output 1 is the API's placeholder
    span = only_span(telemetry)
    assert subset(
        span.attributes,
        {
            "gen_ai.request.stream": True,
            "gen_ai.usage.input_tokens": 170,
            "gen_ai.usage.output_tokens": 7,  # the last message_delta's, not 1 + 7
            "gen_ai.usage.cache_read.input_tokens": 100,
            "gen_ai.usage.cache_creation.input_tokens": 50,
            "gen_ai.response.finish_reasons": ("end_turn",),
            "gen_ai.response.model": MODEL,
        },
    ) == {
        "gen_ai.request.stream": True,
        "gen_ai.usage.input_tokens": 170,
        "gen_ai.usage.output_tokens": 7,
        "gen_ai.usage.cache_read.input_tokens": 100,
        "gen_ai.usage.cache_creation.input_tokens": 50,
        "gen_ai.response.finish_reasons": ("end_turn",),
        "gen_ai.response.model": MODEL,
    }
    assert span.attributes["gen_ai.response.id"] == events[0].message.id
    assert "otel_tokens.usage.estimated" not in span.attributes
    assert 0 < span.attributes["gen_ai.response.time_to_first_chunk"] < 5
    [ttfc] = telemetry.points("gen_ai.client.operation.time_to_first_chunk")
    assert ttfc.count == 1
    assert span.attributes["gen_ai.usage.cost.amount"] == pytest.approx(
        cost(HAIKU_4_5, input=20, cache_read=100, cache_write_5m=50, output=7)
    )


def test_stream_message_delta_counts_replace_message_start_counts(server, client, telemetry):
    # Server tools can raise the input count after message_start; the final message_delta's wins.
    start = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": MODEL,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {"input_tokens": 20, "cache_read_input_tokens": 4, "output_tokens": 1},
    }
    events = [
        ("message_start", {"type": "message_start", "message": start}),
        (
            "message_delta",
            {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 3}},
        ),
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn"},
                "usage": {"input_tokens": 25, "cache_read_input_tokens": 6, "output_tokens": 7},
            },
        ),
        ("message_stop", {"type": "message_stop"}),
    ]
    body = "".join(f"event: {name}\ndata: {json.dumps(data)}\n\n" for name, data in events)
    server.enqueue(RawResponse(200, body, content_type="text/event-stream"))
    list(client.messages.create(model=MODEL, max_tokens=10, messages=MESSAGES, stream=True))
    attributes = only_span(telemetry).attributes
    assert attributes["gen_ai.usage.input_tokens"] == 31
    assert attributes["gen_ai.usage.cache_read.input_tokens"] == 6
    assert attributes["gen_ai.usage.output_tokens"] == 7


def test_stream_without_usage_is_estimated(server, client, telemetry):
    from otel_tokens.tokenize import Tokenizer

    text = "Streamed without usage."
    server.enqueue(Scenario(text=text, include_usage=False, chunks=3))
    list(client.messages.create(model=MODEL, max_tokens=10, messages=MESSAGES, stream=True))
    span = only_span(telemetry)
    assert span.attributes["otel_tokens.usage.estimated"] is True
    assert span.attributes["gen_ai.usage.output_tokens"] == Tokenizer().count_text(MODEL, text).tokens


def test_stream_tool_use(server, client, telemetry):
    server.enqueue(
        Scenario(tool_call=True, tool_arguments='{"city": "Paris"}', chunks=3, completion_tokens=9)
    )
    tools = [{"name": "get_weather", "input_schema": {"type": "object"}}]
    events = list(
        client.messages.create(model=MODEL, max_tokens=50, messages=MESSAGES, tools=tools, stream=True)
    )
    assert any(e.type == "content_block_delta" and e.delta.type == "input_json_delta" for e in events)
    span = only_span(telemetry)
    assert span.attributes["gen_ai.response.finish_reasons"] == ("tool_use",)
    assert span.attributes["gen_ai.usage.output_tokens"] == 9


def test_stream_abandoned_early_ends_on_garbage_collection(server, client, telemetry):
    server.enqueue(Scenario(chunks=6, prompt_tokens=11, completion_tokens=6))
    stream = client.messages.create(model=MODEL, max_tokens=10, messages=MESSAGES, stream=True)
    next(iter(stream))
    assert telemetry.spans() == ()
    del stream
    gc.collect()
    span = only_span(telemetry)
    assert span.status.status_code is StatusCode.UNSET
    assert span.attributes["gen_ai.usage.input_tokens"] == 11  # message_start had arrived


def test_stream_closed_early_ends_once(server, client, telemetry):
    server.enqueue(Scenario(chunks=6))
    stream = client.messages.create(model=MODEL, max_tokens=10, messages=MESSAGES, stream=True)
    next(iter(stream))
    stream.close()
    stream.close()
    assert len(telemetry.spans()) == 1


def test_stream_context_manager(server, client, telemetry):
    server.enqueue(Scenario(chunks=3, prompt_tokens=5, completion_tokens=3))
    with client.messages.create(model=MODEL, max_tokens=10, messages=MESSAGES, stream=True) as stream:
        for _ in stream:
            pass
    span = only_span(telemetry)
    assert span.attributes["gen_ai.usage.input_tokens"] == 5


def test_stream_failing_midway_records_error_and_reraises(server, client, telemetry):
    server.enqueue(Scenario(chunks=6, fail_after_chunks=2, prompt_tokens=8))
    received = []
    with pytest.raises(Exception) as raised:
        for event in client.messages.create(model=MODEL, max_tokens=10, messages=MESSAGES, stream=True):
            received.append(event)
    span = only_span(telemetry)
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes["error.type"] == type(raised.value).__qualname__
    assert span.attributes["gen_ai.usage.input_tokens"] == 8  # what message_start said is kept
    assert received  # what arrived before the failure reached the user


def test_stream_error_event_raises_the_sdk_error(server, client, telemetry):
    server.enqueue(
        Scenario(chunks=6, fail_after_chunks=2, error_type="overloaded_error", error_message="Overloaded")
    )
    with pytest.raises(anthropic.APIStatusError) as raised:
        list(client.messages.create(model=MODEL, max_tokens=10, messages=MESSAGES, stream=True))
    assert "Overloaded" in str(raised.value)
    span = only_span(telemetry)
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes["error.type"] == type(raised.value).__qualname__


async def test_async_stream(server, async_client, telemetry):
    server.enqueue(Scenario(chunks=4, prompt_tokens=9, completion_tokens=4))
    stream = await async_client.messages.create(model=MODEL, max_tokens=10, messages=MESSAGES, stream=True)
    assert isinstance(stream, anthropic.AsyncStream)
    async with stream:
        events = [event async for event in stream]
    assert events[-1].type == "message_stop"
    span = only_span(telemetry)
    assert (span.attributes["gen_ai.usage.input_tokens"], span.attributes["gen_ai.usage.output_tokens"]) == (
        9,
        4,
    )


async def test_async_stream_abandoned_early_ends_once(server, async_client, telemetry):
    server.enqueue(Scenario(chunks=6, prompt_tokens=11, completion_tokens=6))
    stream = await async_client.messages.create(model=MODEL, max_tokens=10, messages=MESSAGES, stream=True)
    async for _ in stream:
        break
    await stream.close()
    span = only_span(telemetry)
    assert span.status.status_code is StatusCode.UNSET
    assert span.attributes["gen_ai.usage.input_tokens"] == 11
