"""Counting each billed request exactly once: automatic function calling, stacked instrumented layers,
double instrumentation, and streams consumed away from where they were started."""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import Any

import pytest
import wrapt
from google.genai import types
from otel_tokens_fake_providers import Scenario

import otel_tokens
from otel_tokens import tags
from otel_tokens.instrumentation import (
    CallRequest,
    CallResult,
    Endpoint,
    Prepared,
    Recorder,
    Settings,
    async_wrapper,
    sync_wrapper,
)
from otel_tokens.metrics import create_instruments
from otel_tokens.testing import InMemoryTelemetry

from .conftest import gemini_client
from .helpers import GEMINI_25_FLASH, cost, only_span, token_points

MODEL = "gemini-2.5-flash"
calls: list[str] = []


def get_weather(city: str) -> str:
    """Returns the weather in a city."""
    calls.append(city)
    return "sunny"


# Real types, not the strings `from __future__ import annotations` leaves: google-genai before
# 3.x cannot resolve string annotations and answers the model with an error instead of calling.
get_weather.__annotations__ = {"city": str, "return": str}


@pytest.fixture(autouse=True)
def _clear_calls():
    calls.clear()


def afc_round_trip(server) -> None:
    """The model asks for get_weather (request 1), then answers with its result (request 2)."""
    server.enqueue(
        Scenario(tool_call=True, tool_arguments='{"city": "Paris"}', prompt_tokens=50, completion_tokens=10)
    )
    server.enqueue(
        Scenario(text="It is sunny in Paris.", prompt_tokens=80, completion_tokens=6, reasoning_tokens=4)
    )


def assert_one_span_per_request(server, telemetry) -> None:
    assert calls == ["Paris"]
    assert len(server.requests) == 2
    assert "functionResponse" in str(server.requests[1].body["contents"])
    first, second = telemetry.spans()
    assert (
        first.attributes["gen_ai.usage.input_tokens"],
        first.attributes["gen_ai.usage.output_tokens"],
    ) == (50, 10)
    assert (
        second.attributes["gen_ai.usage.input_tokens"],
        second.attributes["gen_ai.usage.output_tokens"],
    ) == (80, 10)
    tokens = token_points(telemetry)
    assert (tokens["input"].sum, tokens["input"].count) == (130, 2)
    assert (tokens["output"].sum, tokens["output"].count) == (20, 2)
    [spend] = telemetry.points("otel_tokens.client.cost")
    assert spend.sum == pytest.approx(
        cost(GEMINI_25_FLASH, input=50, output=10) + cost(GEMINI_25_FLASH, input=80, output=10)
    )


def test_automatic_function_calling_counts_every_request_once(server, client, telemetry):
    afc_round_trip(server)
    response = client.models.generate_content(
        model=MODEL, contents="Weather in Paris?", config=types.GenerateContentConfig(tools=[get_weather])
    )
    assert response.text == "It is sunny in Paris."
    # The SDK hands back only the last request's usage: reading it would miss the first request.
    assert response.usage_metadata.prompt_token_count == 80
    assert_one_span_per_request(server, telemetry)


async def test_automatic_function_calling_async(server, client, telemetry):
    afc_round_trip(server)
    await client.aio.models.generate_content(
        model=MODEL, contents="Weather in Paris?", config=types.GenerateContentConfig(tools=[get_weather])
    )
    assert_one_span_per_request(server, telemetry)


def test_automatic_function_calling_in_a_stream(server, client, telemetry):
    afc_round_trip(server)
    chunks = list(
        client.models.generate_content_stream(
            model=MODEL, contents="Weather in Paris?", config=types.GenerateContentConfig(tools=[get_weather])
        )
    )
    assert "".join(c.text or "" for c in chunks).endswith("sunny in Paris.")
    assert_one_span_per_request(server, telemetry)
    assert all(s.attributes["gen_ai.request.stream"] is True for s in telemetry.spans())


# -- an outer instrumented layer (a framework recording the whole call itself) ---------------


class FrameworkEndpoint(Endpoint):
    """An outer layer that records one span per call from what the SDK hands back."""

    def prepare(self, settings: Settings, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]):
        request = CallRequest(operation="generate_content", provider="gcp.gemini", request_model=MODEL)
        return Prepared(request, kwargs)

    def read_result(self, result: Any, plan: Any) -> CallResult:
        from otel_tokens_google_genai._extract import generate_result

        return generate_result(result)


def framework_layer(telemetry: InMemoryTelemetry, function: Any, is_async: bool = False) -> Any:
    recorder = Recorder(
        telemetry.tracer_provider.get_tracer("framework"),
        create_instruments(telemetry.meter_provider.get_meter("framework")),
    )
    shell = (async_wrapper if is_async else sync_wrapper)(recorder, FrameworkEndpoint())
    return wrapt.FunctionWrapper(function, shell)


def test_call_inside_an_outer_instrumented_layer_is_counted_once(server, client, telemetry):
    afc_round_trip(server)
    generate = framework_layer(telemetry, lambda **kwargs: client.models.generate_content(**kwargs))
    generate(
        model=MODEL, contents="Weather in Paris?", config=types.GenerateContentConfig(tools=[get_weather])
    )
    assert len(server.requests) == 2  # both AFC requests were sent...
    span = only_span(telemetry)  # ...and the outer layer alone recorded the call
    assert span.instrumentation_scope.name == "framework"
    tokens = token_points(telemetry)
    assert (tokens["input"].count, tokens["output"].count) == (1, 1)
    assert len(telemetry.points("gen_ai.client.operation.duration")) == 1


def test_stream_started_inside_an_outer_layer_and_consumed_later_is_counted_once(server, client, telemetry):
    server.enqueue(Scenario(chunks=3, prompt_tokens=9, completion_tokens=3))
    start = framework_layer(telemetry, lambda **kwargs: client.models.generate_content_stream(**kwargs))
    stream = start(model=MODEL, contents="hi")
    chunks = list(stream)  # the request is sent only now, after the outer call returned
    assert len(chunks) == 3 and len(server.requests) == 1
    # The outer layer finished with what it saw (a generator, no usage); no second span exists.
    assert only_span(telemetry).instrumentation_scope.name == "framework"
    assert [p.count for p in telemetry.points("gen_ai.client.operation.duration")] == [1]


async def test_async_stream_started_inside_an_outer_layer_is_counted_once(server, client, telemetry):
    server.enqueue(Scenario(chunks=3, prompt_tokens=9, completion_tokens=3))

    async def start_stream(**kwargs: Any) -> Any:
        return await client.aio.models.generate_content_stream(**kwargs)

    stream = await framework_layer(telemetry, start_stream, is_async=True)(model=MODEL, contents="hi")
    assert len([chunk async for chunk in stream]) == 3
    assert only_span(telemetry).instrumentation_scope.name == "framework"


def test_stream_span_keeps_the_call_sites_parent_and_tags(server, client, telemetry):
    server.enqueue(Scenario(chunks=2, prompt_tokens=3, completion_tokens=2))
    tracer = telemetry.tracer_provider.get_tracer("app")
    with tracer.start_as_current_span("handle-request") as parent, tags(team="checkout"):
        stream = client.models.generate_content_stream(model=MODEL, contents="hi")
    list(stream)  # consumed outside both: the span still belongs to the call
    [request_span] = [s for s in telemetry.spans() if s.name.startswith("generate_content")]
    assert request_span.parent.span_id == parent.get_span_context().span_id
    assert request_span.attributes["otel_tokens.tag.team"] == "checkout"
    for point in telemetry.points("gen_ai.client.token.usage"):
        assert point.attributes["otel_tokens.tag.team"] == "checkout"


async def test_async_stream_span_keeps_the_call_sites_tags(server, client, telemetry):
    server.enqueue(Scenario(chunks=2, prompt_tokens=3, completion_tokens=2))
    with tags(team="search"):
        stream = await client.aio.models.generate_content_stream(model=MODEL, contents="hi")
    async for _ in stream:
        pass
    assert only_span(telemetry).attributes["otel_tokens.tag.team"] == "search"


# -- the same client instrumented twice -------------------------------------------------------


def test_init_twice_plus_a_second_instrumentation_records_each_request_once(server):
    from otel_tokens_google_genai import GoogleGenAIInstrumentor

    from otel_tokens._patching import PatchSet

    others = [
        e.name.removeprefix("otel_tokens_")
        for e in entry_points(group="opentelemetry_instrumentor")
        if e.name.startswith("otel_tokens_") and e.name != "otel_tokens_google_genai"
    ]
    memory, second = InMemoryTelemetry(), InMemoryTelemetry()
    try:
        for _ in range(2):
            otel_tokens.init(
                tracer_provider=memory.tracer_provider,
                meter_provider=memory.meter_provider,
                disabled_instrumentors=others,
            )
        assert otel_tokens.instrumented_clients() == ["google_genai"]
        # What a second loader (opentelemetry-instrument next to init()) would apply on top.
        recorder = Recorder(
            second.tracer_provider.get_tracer("second"),
            create_instruments(second.meter_provider.get_meter("second")),
        )
        extra = PatchSet(GoogleGenAIInstrumentor().patch_specs(), recorder)
        assert extra.applied == []  # every target was already wrapped
        client = gemini_client(server)
        server.enqueue(Scenario(prompt_tokens=7, completion_tokens=3))
        client.models.generate_content(model=MODEL, contents="hi")
        server.enqueue(Scenario(prompt_tokens=5, completion_tokens=2, chunks=2))
        list(client.models.generate_content_stream(model=MODEL, contents="hi"))
        assert [s.attributes["gen_ai.usage.input_tokens"] for s in memory.spans()] == [7, 5]
        assert token_points(memory)["input"].sum == 12
        assert second.spans() == () and second.points() == []
    finally:
        otel_tokens.shutdown()
        memory.shutdown()
        second.shutdown()
