"""v1 and v2 chat, plain and streaming, through the real cohere SDK against the fake server."""

from __future__ import annotations

import contextlib
import gc

import cohere
import pytest
from opentelemetry.trace import SpanKind, StatusCode
from otel_tokens_fake_providers import Scenario

from otel_tokens import tags

from .conftest import make_client
from .helpers import (
    COMMAND,
    COMMAND_R,
    MESSAGES,
    SDK_CLOSE_BUG,
    cost,
    only_span,
    token_points,
    tolerate_sdk_close_bug,
)


def test_v2_chat_span_metrics_and_cost(server, v2, telemetry):
    # Cohere bills 62 input tokens but counts 968 with its own preamble (a recorded tool call).
    server.enqueue(
        Scenario(
            text="Hello!",
            prompt_tokens=62,
            completion_tokens=28,
            usage_fields={"tokens": {"input_tokens": 968, "output_tokens": 83}},
        )
    )
    with tags(team="search", feature="autocomplete", user="u-1"):
        response = v2.chat(
            model="command-r",
            messages=MESSAGES,
            temperature=0.2,
            max_tokens=100,
            p=0.9,
            seed=7,
            stop_sequences=["END"],
        )
    assert response.usage.billed_units.input_tokens == 62  # the user gets the SDK's own object
    span = only_span(telemetry)
    assert span.name == "chat command-r"
    assert span.kind is SpanKind.CLIENT
    expected_cost = cost(COMMAND_R, input=62, output=28)
    assert dict(span.attributes) == {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "cohere",
        "gen_ai.request.model": "command-r",
        "server.address": "127.0.0.1",
        "server.port": server.port,
        "gen_ai.request.temperature": 0.2,
        "gen_ai.request.max_tokens": 100,
        "gen_ai.request.top_p": 0.9,
        "gen_ai.request.seed": 7,
        "gen_ai.request.stop_sequences": ("END",),
        "otel_tokens.tag.team": "search",
        "otel_tokens.tag.feature": "autocomplete",
        "otel_tokens.tag.user": "u-1",
        "gen_ai.response.id": response.id,
        "gen_ai.response.finish_reasons": ("COMPLETE",),
        "gen_ai.usage.input_tokens": 62,
        "gen_ai.usage.output_tokens": 28,
        "otel_tokens.usage.raw.input_tokens": 968,
        "otel_tokens.usage.raw.output_tokens": 83,
        "gen_ai.usage.cost.amount": pytest.approx(expected_cost, rel=1e-12),
        "gen_ai.usage.cost.currency": "USD",
        "gen_ai.usage.cost.source": "local",
        "otel_tokens.cost.input": pytest.approx(62 * 0.15 / 1e6, rel=1e-12),
        "otel_tokens.cost.output": pytest.approx(28 * 0.60 / 1e6, rel=1e-12),
        "otel_tokens.price.source": span.attributes["otel_tokens.price.source"],
    }
    assert span.attributes["otel_tokens.price.source"].startswith("genai-prices ")
    assert span.status.status_code is StatusCode.UNSET

    # Cohere names no model in its responses: metrics carry the requested one only.
    metric_attributes = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "cohere",
        "gen_ai.request.model": "command-r",
        "server.address": "127.0.0.1",
        "otel_tokens.tag.team": "search",
        "otel_tokens.tag.feature": "autocomplete",
    }
    tokens = token_points(telemetry)
    assert tokens["input"].attributes == {**metric_attributes, "gen_ai.token.type": "input"}
    assert (tokens["input"].sum, tokens["input"].count) == (62, 1)  # billed, not raw
    assert (tokens["output"].sum, tokens["output"].count) == (28, 1)
    [cost_point] = telemetry.points("otel_tokens.client.cost")
    assert cost_point.attributes == metric_attributes
    assert cost_point.sum == pytest.approx(expected_cost, rel=1e-12)
    [duration] = telemetry.points("gen_ai.client.operation.duration")
    assert duration.attributes == metric_attributes
    assert duration.count == 1 and 0 < duration.sum < 5
    assert telemetry.points("otel_tokens.client.token.detail") == []
    assert telemetry.points("otel_tokens.client.unpriced_calls") == []
    assert telemetry.points("gen_ai.client.operation.time_to_first_chunk") == []


def test_v1_chat(server, v1, telemetry):
    server.enqueue(Scenario(text="Arr!", prompt_tokens=58, completion_tokens=119))
    response = v1.chat(
        model="command",
        message="Tell me a joke",
        preamble="You are a pirate.",
        chat_history=[{"role": "USER", "message": "Hi"}, {"role": "CHATBOT", "message": "Ahoy"}],
        max_tokens=200,
        k=5,
    )
    assert response.text == "Arr!"
    span = only_span(telemetry)
    assert span.name == "chat command"
    attributes = dict(span.attributes)
    assert {k: v for k, v in attributes.items() if k.startswith(("gen_ai.usage", "otel_tokens.usage"))} == {
        "gen_ai.usage.input_tokens": 58,
        "gen_ai.usage.output_tokens": 119,
        "gen_ai.usage.cost.amount": pytest.approx(cost(COMMAND, input=58, output=119), rel=1e-12),
        "gen_ai.usage.cost.currency": "USD",
        "gen_ai.usage.cost.source": "local",
        # The fake server counts Cohere's preamble (62) and end token (1) into the raw counts.
        "otel_tokens.usage.raw.input_tokens": 58 + 62,
        "otel_tokens.usage.raw.output_tokens": 119 + 1,
    }
    assert attributes["gen_ai.response.id"] == response.response_id
    assert attributes["gen_ai.request.max_tokens"] == 200
    assert attributes["gen_ai.response.finish_reasons"] == ("COMPLETE",)


async def test_async_v2_chat(server, async_v2, telemetry):
    server.enqueue(Scenario(prompt_tokens=30, completion_tokens=12))
    response = await async_v2.chat(model="command-r", messages=MESSAGES)
    span = only_span(telemetry)
    assert span.attributes["gen_ai.response.id"] == response.id
    assert (span.attributes["gen_ai.usage.input_tokens"], span.attributes["gen_ai.usage.output_tokens"]) == (
        30,
        12,
    )
    assert span.attributes["gen_ai.usage.cost.amount"] == pytest.approx(cost(COMMAND_R, input=30, output=12))


async def test_async_v1_chat(server, async_v1, telemetry):
    server.enqueue(Scenario(prompt_tokens=9, completion_tokens=4))
    await async_v1.chat(model="command-r", message="hi")
    span = only_span(telemetry)
    assert span.attributes["gen_ai.usage.input_tokens"] == 9
    assert span.attributes["otel_tokens.usage.raw.input_tokens"] == 71


def test_v2_tool_call(server, v2, telemetry):
    tools = [
        {
            "type": "function",
            "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {}}},
        }
    ]
    server.enqueue(
        Scenario(
            text="I will look it up.",
            tool_call=True,
            tool_arguments='{"location": "Tokyo"}',
            prompt_tokens=62,
            completion_tokens=28,
        )
    )
    response = v2.chat(model="command-r", messages=MESSAGES, tools=tools)
    assert response.message.tool_calls[0].function.name == "get_weather"
    span = only_span(telemetry)
    assert span.attributes["gen_ai.response.finish_reasons"] == ("TOOL_CALL",)
    assert span.attributes["gen_ai.usage.output_tokens"] == 28


# -- streams -------------------------------------------------------------------------------------


def test_v2_stream(server, v2, telemetry):
    server.enqueue(Scenario(text="Hello there", chunks=4, prompt_tokens=7, completion_tokens=109))
    stream = v2.chat_stream(model="command-r", messages=MESSAGES, temperature=0.3)
    events = list(stream)
    assert [e.type for e in events[:2]] == ["message-start", "content-start"]
    assert events[-1].type == "message-end"
    assert "".join(e.delta.message.content.text for e in events if e.type == "content-delta") == "Hello there"
    span = only_span(telemetry)
    assert span.name == "chat command-r"
    attributes = dict(span.attributes)
    assert attributes["gen_ai.request.stream"] is True
    assert attributes["gen_ai.response.id"] == events[0].id
    assert attributes["gen_ai.response.finish_reasons"] == ("COMPLETE",)
    assert (attributes["gen_ai.usage.input_tokens"], attributes["gen_ai.usage.output_tokens"]) == (7, 109)
    assert (
        attributes["otel_tokens.usage.raw.input_tokens"],
        attributes["otel_tokens.usage.raw.output_tokens"],
    ) == (
        69,
        110,
    )
    assert "otel_tokens.usage.estimated" not in attributes
    assert 0 < attributes["gen_ai.response.time_to_first_chunk"] < 5
    [ttfc] = telemetry.points("gen_ai.client.operation.time_to_first_chunk")
    assert ttfc.count == 1
    [cost_point] = telemetry.points("otel_tokens.client.cost")
    assert cost_point.sum == pytest.approx(cost(COMMAND_R, input=7, output=109))


def test_v1_stream(server, v1, telemetry):
    server.enqueue(Scenario(text="Arrr, matey", chunks=5, prompt_tokens=7, completion_tokens=115))
    events = list(v1.chat_stream(model="command", message="Tell me a joke"))
    assert [events[0].event_type, events[-1].event_type] == ["stream-start", "stream-end"]
    span = only_span(telemetry)
    attributes = dict(span.attributes)
    assert attributes["gen_ai.response.id"] == events[-1].response.response_id
    assert attributes["gen_ai.response.finish_reasons"] == ("COMPLETE",)
    assert (attributes["gen_ai.usage.input_tokens"], attributes["gen_ai.usage.output_tokens"]) == (7, 115)
    assert attributes["gen_ai.usage.cost.amount"] == pytest.approx(cost(COMMAND, input=7, output=115))


def test_v2_stream_tool_call(server, v2, telemetry):
    tools = [{"type": "function", "function": {"name": "get_time", "parameters": {"type": "object"}}}]
    server.enqueue(Scenario(text="I will check.", tool_call=True, prompt_tokens=62, completion_tokens=28))
    kinds = [event.type for event in v2.chat_stream(model="command-r", messages=MESSAGES, tools=tools)]
    assert "tool-call-start" in kinds and "tool-plan-delta" in kinds
    span = only_span(telemetry)
    assert span.attributes["gen_ai.response.finish_reasons"] == ("TOOL_CALL",)
    assert span.attributes["gen_ai.usage.input_tokens"] == 62


async def test_async_v2_stream(server, async_v2, telemetry):
    server.enqueue(Scenario(chunks=4, prompt_tokens=9, completion_tokens=4))
    stream = async_v2.chat_stream(model="command-r", messages=MESSAGES)
    events = [event async for event in stream]
    assert events[-1].delta.usage.billed_units.output_tokens == 4
    span = only_span(telemetry)
    assert span.attributes["gen_ai.usage.output_tokens"] == 4
    assert span.attributes["gen_ai.response.time_to_first_chunk"] > 0


async def test_async_v1_stream(server, async_v1, telemetry):
    server.enqueue(Scenario(chunks=3, prompt_tokens=5, completion_tokens=3))
    events = [event async for event in async_v1.chat_stream(model="command-r", message="hi")]
    assert events[-1].event_type == "stream-end"
    span = only_span(telemetry)
    assert (span.attributes["gen_ai.usage.input_tokens"], span.attributes["gen_ai.usage.output_tokens"]) == (
        5,
        3,
    )


def test_stream_without_usage_is_estimated_locally(server, v2, telemetry):
    from otel_tokens.tokenize import Tokenizer

    text = "Hello there, this answer was streamed in pieces."
    server.enqueue(Scenario(text=text, chunks=5, include_usage=False))
    streamed = "".join(
        event.delta.message.content.text
        for event in v2.chat_stream(model="command-r", messages=MESSAGES)
        if event.type == "content-delta"
    )
    assert streamed == text
    span = only_span(telemetry)
    reference = Tokenizer()
    assert span.attributes["otel_tokens.usage.estimated"] is True
    # Cohere publishes no tokenizer we can load offline: the heuristic counts.
    assert span.attributes["otel_tokens.usage.estimate_method"] == "heuristic"
    # Cohere bills message text without per-message framing: the estimate counts the texts alone.
    expected_input = reference.count_texts("command-r", ["Be brief.", "Say hello."]).tokens
    assert span.attributes["gen_ai.usage.input_tokens"] == expected_input == 6
    assert span.attributes["gen_ai.usage.output_tokens"] == reference.count_text("command-r", text).tokens
    assert "otel_tokens.usage.raw.input_tokens" not in span.attributes
    tokens = token_points(telemetry)
    assert tokens["output"].attributes["otel_tokens.usage.estimated"] is True


def test_v1_chat_without_usage_is_estimated_from_preamble_history_and_message(server, v1, telemetry):
    from otel_tokens.tokenize import Tokenizer

    server.enqueue(Scenario(text="Arr", include_usage=False))
    v1.chat(model="command", message="Tell me a joke", preamble="Be a pirate.")
    span = only_span(telemetry)
    expected = Tokenizer().count_texts("command", ["Be a pirate.", "Tell me a joke"])
    assert span.attributes["gen_ai.usage.input_tokens"] == expected.tokens
    assert span.attributes["otel_tokens.usage.estimated"] is True


@tolerate_sdk_close_bug
def test_stream_abandoned_early_ends_on_garbage_collection(server, v2, telemetry):
    server.enqueue(Scenario(chunks=6, prompt_tokens=11, completion_tokens=6))
    stream = v2.chat_stream(model="command-r", messages=MESSAGES)
    next(iter(stream))
    assert telemetry.spans() == ()
    del stream
    gc.collect()
    span = only_span(telemetry)
    assert span.status.status_code is StatusCode.UNSET
    assert span.attributes["otel_tokens.usage.estimated"] is True  # usage had not arrived yet


@tolerate_sdk_close_bug
def test_stream_closed_early_ends_once(server, v1, telemetry):
    server.enqueue(Scenario(chunks=6))
    stream = v1.chat_stream(model="command-r", message="hi")
    next(stream)
    for _ in range(2):
        with contextlib.suppress(RuntimeError) if SDK_CLOSE_BUG else contextlib.nullcontext():
            stream.close()
    assert len(telemetry.spans()) == 1


def test_stream_in_a_closing_context_manager(server, v2, telemetry):
    # The SDK's streams are generators: `contextlib.closing` is how they are used in a `with`.
    server.enqueue(Scenario(chunks=3, prompt_tokens=5, completion_tokens=3))
    with contextlib.closing(v2.chat_stream(model="command-r", messages=MESSAGES)) as stream:
        for _ in stream:
            pass
    span = only_span(telemetry)
    assert span.attributes["gen_ai.usage.input_tokens"] == 5


def test_stream_proxy_is_transparent(server, v2, telemetry):
    import types

    server.enqueue(Scenario(chunks=2))
    stream = v2.chat_stream(model="command-r", messages=MESSAGES)
    assert isinstance(stream, types.GeneratorType)
    list(stream)
    assert len(telemetry.spans()) == 1


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_stream_failing_midway_records_error_and_reraises(server, v1, v2, telemetry, version):
    server.enqueue(Scenario(chunks=6, fail_after_chunks=2))
    received = []
    with pytest.raises(Exception) as raised:
        if version == "v1":
            for event in v1.chat_stream(model="command-r", message="hi"):
                received.append(event)
        else:
            for event in v2.chat_stream(model="command-r", messages=MESSAGES):
                received.append(event)
    span = only_span(telemetry)
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes["error.type"] == type(raised.value).__qualname__
    assert received  # what arrived before the failure reached the user


# -- errors --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "error_name"),
    [(400, "BadRequestError"), (429, "TooManyRequestsError"), (500, "InternalServerError")],
)
@pytest.mark.parametrize("version", ["v1", "v2"])
def test_api_errors_pass_through_and_are_recorded(server, v1, v2, telemetry, status, error_name, version):
    exception = getattr(cohere.errors, error_name)
    server.enqueue(Scenario(error_status=status))
    with pytest.raises(exception) as raised:
        if version == "v1":
            v1.chat(model="command-r", message="hi")
        else:
            v2.chat(model="command-r", messages=MESSAGES)
    assert type(raised.value) is exception
    assert raised.value.status_code == status
    span = only_span(telemetry)
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes["error.type"] == error_name
    assert "gen_ai.usage.input_tokens" not in span.attributes
    [duration] = telemetry.points("gen_ai.client.operation.duration")
    assert duration.attributes["error.type"] == error_name
    assert telemetry.points("gen_ai.client.token.usage") == []


def test_stream_error_status_surfaces_on_iteration(server, v2, telemetry):
    server.enqueue(Scenario(error_status=429))
    stream = v2.chat_stream(model="command-r", messages=MESSAGES)
    with pytest.raises(cohere.errors.TooManyRequestsError):
        next(stream)
    span = only_span(telemetry)
    assert span.attributes["error.type"] == "TooManyRequestsError"


async def test_async_error_passes_through(server, async_v2, telemetry):
    server.enqueue(Scenario(error_status=429))
    with pytest.raises(cohere.errors.TooManyRequestsError):
        await async_v2.chat(model="command-r", messages=MESSAGES)
    assert only_span(telemetry).attributes["error.type"] == "TooManyRequestsError"


def test_malformed_body(server, v2, telemetry):
    server.enqueue(Scenario(malformed=True))
    with pytest.raises(Exception) as raised:
        v2.chat(model="command-r", messages=MESSAGES)
    assert only_span(telemetry).attributes["error.type"] == type(raised.value).__qualname__


# -- content, sampling, layering -----------------------------------------------------------------


@pytest.mark.parametrize("capture", [False, True])
def test_content_capture_is_opt_in(server, telemetry, capture, reinstrument):
    from otel_tokens import _runtime
    from otel_tokens._settings import Settings

    _runtime.set_settings(Settings(capture_content=capture))
    reinstrument()
    # A client made after: Client.__init__ binds chat and chat_stream, an older one keeps the old patches.
    v2 = make_client(cohere.ClientV2, server.url)
    server.enqueue(Scenario(text="Hello, human."))
    v2.chat(model="command-r", messages=MESSAGES)
    span = only_span(telemetry)
    text = str(dict(span.attributes))
    assert "co-test-secret" not in text and "Bearer" not in text
    if capture:
        assert span.attributes["gen_ai.input.messages"] == (
            '[{"role": "system", "parts": [{"type": "text", "content": "Be brief."}]}, '
            '{"role": "user", "parts": [{"type": "text", "content": "Say hello."}]}]'
        )
        assert span.attributes["gen_ai.output.messages"] == (
            '[{"role": "assistant", "parts": [{"type": "text", "content": "Hello, human."}], '
            '"finish_reason": "COMPLETE"}]'
        )
    else:
        assert "gen_ai.input.messages" not in span.attributes
        assert "gen_ai.output.messages" not in span.attributes
        assert "Say hello." not in text and "Hello, human." not in text


def test_content_capture_of_v1_chat_and_streams(server, telemetry, reinstrument):
    from otel_tokens import _runtime
    from otel_tokens._settings import Settings

    _runtime.set_settings(Settings(capture_content=True))
    reinstrument()
    # A client made after: Client.__init__ binds chat and chat_stream, an older one keeps the old patches.
    v1 = make_client(cohere.Client, server.url)
    server.enqueue(Scenario(text="Arr", chunks=2))
    list(v1.chat_stream(model="command-r", message="Joke?", preamble="Be a pirate."))
    span = only_span(telemetry)
    assert span.attributes["gen_ai.input.messages"] == (
        '[{"role": "system", "parts": [{"type": "text", "content": "Be a pirate."}]}, '
        '{"role": "user", "parts": [{"type": "text", "content": "Joke?"}]}]'
    )
    assert '"content": "Arr"' in span.attributes["gen_ai.output.messages"]


def test_unsampled_calls_still_record_metrics(server):
    from opentelemetry.sdk.trace.sampling import ALWAYS_OFF
    from otel_tokens_cohere import CohereInstrumentor

    from otel_tokens.testing import InMemoryTelemetry

    memory = InMemoryTelemetry(sampler=ALWAYS_OFF)
    CohereInstrumentor().instrument(
        tracer_provider=memory.tracer_provider, meter_provider=memory.meter_provider
    )
    try:
        client = make_client(cohere.ClientV2, server.url)
        server.enqueue(Scenario(prompt_tokens=10, completion_tokens=5))
        client.chat(model="command-r", messages=MESSAGES)
    finally:
        CohereInstrumentor().uninstrument()
    assert memory.spans() == ()
    assert {p.attributes["gen_ai.token.type"]: p.sum for p in memory.points("gen_ai.client.token.usage")} == {
        "input": 10,
        "output": 5,
    }
    [point] = memory.points("otel_tokens.client.cost")
    assert point.sum == pytest.approx(cost(COMMAND_R, input=10, output=5))


def test_client_v2_inherits_both_generations_and_each_call_is_counted_once(server, v2, telemetry):
    # ClientV2 derives from V2Client and from the v1 Client: v2 chat and v1 generate are both
    # reachable from it, and every patched method on the way is one layer, never two.
    server.enqueue(Scenario(prompt_tokens=3, completion_tokens=2))
    v2.chat(model="command-r", messages=MESSAGES)
    server.enqueue(Scenario(prompt_tokens=4, completion_tokens=2))
    v2.generate(model="command", prompt="hi")
    spans = telemetry.spans()
    assert [s.name for s in spans] == ["chat command-r", "text_completion command"]
    assert [p.count for p in telemetry.points("gen_ai.client.operation.duration")] == [1, 1]
    assert sorted(p.sum for p in telemetry.points("gen_ai.client.token.usage")) == [2, 2, 3, 4]


def test_nested_instrumented_call_is_counted_once(server, v2, telemetry):
    from otel_tokens.record import enter_call, exit_call

    token = enter_call()  # an outer instrumented layer (a framework calling cohere underneath)
    try:
        v2.chat(model="command-r", messages=MESSAGES)
    finally:
        exit_call(token)
    assert telemetry.spans() == ()
    assert telemetry.points("gen_ai.client.token.usage") == []


def test_internal_failure_never_reaches_the_user(server, v2, telemetry, monkeypatch, caplog):
    from otel_tokens_cohere import _endpoints

    from otel_tokens import _safety

    _safety.set_strict(False)
    monkeypatch.setitem(_endpoints._RESULTS, _endpoints.CHAT_V2, lambda response: 1 / 0)
    server.enqueue(Scenario(prompt_tokens=3, completion_tokens=2))
    response = v2.chat(model="command-r", messages=MESSAGES)
    assert response.usage.billed_units.input_tokens == 3
    assert len(telemetry.spans()) == 1  # the span still ends
    assert any("internal error" in r.getMessage() for r in caplog.records)


def test_uninstrument_stops_recording(server, v2, telemetry):
    from otel_tokens_cohere import CohereInstrumentor

    CohereInstrumentor().uninstrument()
    v2.embed(model="embed-v4.0", texts=["a"], input_type="search_document", embedding_types=["float"])
    # v2.chat was bound to the instance by Client.__init__, so it still holds our wrapper: inert now.
    v2.chat(model="command-r", messages=MESSAGES)
    assert telemetry.spans() == ()
    assert telemetry.points("gen_ai.client.operation.duration") == []
    CohereInstrumentor().instrument(
        tracer_provider=telemetry.tracer_provider, meter_provider=telemetry.meter_provider
    )
    v2.embed(model="embed-v4.0", texts=["a"], input_type="search_document", embedding_types=["float"])
    assert len(telemetry.spans()) == 1


def test_client_made_before_instrumentation_has_uninstrumented_chat(server):
    """Documented limit: Client.__init__ binds chat and chat_stream onto the instance."""
    from otel_tokens_cohere import CohereInstrumentor

    from otel_tokens.testing import InMemoryTelemetry

    early = make_client(cohere.ClientV2, server.url)
    memory = InMemoryTelemetry()
    CohereInstrumentor().instrument(
        tracer_provider=memory.tracer_provider, meter_provider=memory.meter_provider
    )
    try:
        early.chat(model="command-r", messages=MESSAGES)
        early.rerank(model="rerank-v3.5", query="q", documents=["a"])
    finally:
        CohereInstrumentor().uninstrument()
    assert [s.name for s in memory.spans()] == ["rerank rerank-v3.5"]


def test_client_made_while_instrumented_follows_reinstrumentation(server, v2, telemetry):
    # Client.__init__ bound chat onto this instance while instrumented: after uninstrument() the
    # bound wrapper passes calls through, after a new instrument() it records them again, once.
    from otel_tokens_cohere import CohereInstrumentor

    CohereInstrumentor().uninstrument()
    v2.chat(model="command-r", messages=MESSAGES)
    assert telemetry.spans() == ()
    CohereInstrumentor().instrument(
        tracer_provider=telemetry.tracer_provider, meter_provider=telemetry.meter_provider
    )
    server.enqueue(Scenario(prompt_tokens=3, completion_tokens=2))
    v2.chat(model="command-r", messages=MESSAGES)
    assert only_span(telemetry).attributes["gen_ai.usage.input_tokens"] == 3
    assert [p.count for p in telemetry.points("gen_ai.client.operation.duration")] == [1]


def test_absurd_count_loses_that_count_only(server, v2, telemetry):
    absurd = {
        "billed_units": {"input_tokens": 12, "output_tokens": 2**70},
        "tokens": {"input_tokens": 70, "output_tokens": 9},
    }
    server.enqueue(Scenario(prompt_tokens=12, completion_tokens=5, usage_fields=absurd))
    response = v2.chat(model="command-r", messages=MESSAGES)
    assert response.usage.billed_units.output_tokens == 2**70  # the SDK's own object, unchanged
    span = only_span(telemetry)
    assert {
        k: v for k, v in span.attributes.items() if k.startswith(("gen_ai.usage", "otel_tokens.usage"))
    } == {
        "gen_ai.usage.input_tokens": 12,
        "otel_tokens.usage.raw.input_tokens": 70,
        "otel_tokens.usage.raw.output_tokens": 9,
        "gen_ai.usage.cost.amount": pytest.approx(cost(COMMAND_R, input=12)),
        "gen_ai.usage.cost.currency": "USD",
        "gen_ai.usage.cost.source": "local",
    }
    assert span.attributes["gen_ai.response.finish_reasons"] == ("COMPLETE",)
    assert token_points(telemetry)["input"].sum == 12
    [dropped] = telemetry.points("otel_tokens.telemetry.dropped")
    assert dropped.attributes["otel_tokens.drop.reason"] == "invalid_usage"
    assert dropped.value == 1
