"""One span and one set of metric points per logical call, whichever instrumented layers are active.

LiteLLM calls the openai SDK underneath for OpenAI models; with both instrumentors active the outer
LiteLLM call records and the openai call inside it does not (also across LiteLLM's executor thread
for ``acompletion`` and in streams); with only the openai instrumentor, the openai layer records.
LiteLLM's own retries, fallbacks and ``Router`` calls are one logical call each.
"""

from __future__ import annotations

import litellm
import pytest
from otel_tokens_fake_providers import Scenario
from otel_tokens_openai import OpenAIInstrumentor

from otel_tokens.testing import InMemoryTelemetry

from .helpers import GPT_4O_MINI, MESSAGES, cost, only_span, token_points


@pytest.fixture
def openai_layer(telemetry):
    """The openai instrumentor too, into the same providers (skipped where the openai SDK is too old)."""
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(
        tracer_provider=telemetry.tracer_provider, meter_provider=telemetry.meter_provider
    )
    if not instrumentor.patches_applied:
        instrumentor.uninstrument()
        pytest.skip("this litellm runs on an openai SDK older than otel-tokens-openai supports")
    yield
    instrumentor.uninstrument()


def assert_counted_once(
    telemetry: InMemoryTelemetry, scope: str, input_tokens: int, output_tokens: int
) -> None:
    span = only_span(telemetry)
    assert span.instrumentation_scope.name == scope
    tokens = token_points(telemetry)
    assert {kind: (p.sum, p.count) for kind, p in tokens.items()} == {
        "input": (input_tokens, 1),
        "output": (output_tokens, 1),
    }
    [cost_point] = telemetry.points("otel_tokens.client.cost")
    assert cost_point.count == 1
    assert cost_point.sum == pytest.approx(cost(GPT_4O_MINI, input=input_tokens, output=output_tokens))
    [duration] = telemetry.points("gen_ai.client.operation.duration")
    assert duration.count == 1


def test_both_layers_plain(server, openai_api, telemetry, openai_layer):
    server.enqueue(Scenario(prompt_tokens=40, completion_tokens=9))
    litellm.completion(model="openai/gpt-4o-mini", messages=MESSAGES, **openai_api)
    assert_counted_once(telemetry, "otel_tokens_litellm", 40, 9)


def test_both_layers_stream(server, openai_api, telemetry, openai_layer):
    server.enqueue(Scenario(prompt_tokens=40, completion_tokens=9, chunks=3))
    stream = litellm.completion(
        model="openai/gpt-4o-mini",
        messages=MESSAGES,
        stream=True,
        stream_options={"include_usage": True},
        **openai_api,
    )
    assert len(list(stream)) >= 3
    assert_counted_once(telemetry, "otel_tokens_litellm", 40, 9)


async def test_both_layers_async(server, openai_api, telemetry, openai_layer):
    server.enqueue(Scenario(prompt_tokens=40, completion_tokens=9))
    await litellm.acompletion(model="openai/gpt-4o-mini", messages=MESSAGES, **openai_api)
    assert_counted_once(telemetry, "otel_tokens_litellm", 40, 9)


async def test_both_layers_async_stream(server, openai_api, telemetry, openai_layer):
    server.enqueue(Scenario(prompt_tokens=40, completion_tokens=9, chunks=3))
    stream = await litellm.acompletion(
        model="openai/gpt-4o-mini",
        messages=MESSAGES,
        stream=True,
        stream_options={"include_usage": True},
        **openai_api,
    )
    assert len([chunk async for chunk in stream]) >= 3
    assert_counted_once(telemetry, "otel_tokens_litellm", 40, 9)


def test_both_layers_embedding(server, openai_api, telemetry, openai_layer):
    server.enqueue(Scenario(prompt_tokens=6))
    litellm.embedding(model="text-embedding-3-small", input=["a", "b"], **openai_api)
    span = only_span(telemetry)
    assert span.instrumentation_scope.name == "otel_tokens_litellm"
    assert span.attributes["gen_ai.usage.input_tokens"] == 6


def test_only_the_openai_layer_records_once(server, openai_api, openai_layer, telemetry):
    from otel_tokens_litellm import LiteLLMInstrumentor

    LiteLLMInstrumentor().uninstrument()
    server.enqueue(Scenario(prompt_tokens=40, completion_tokens=9))
    litellm.completion(model="openai/gpt-4o-mini", messages=MESSAGES, **openai_api)
    assert_counted_once(telemetry, "otel_tokens_openai", 40, 9)


async def test_only_the_openai_layer_async_stream(server, openai_api, openai_layer, telemetry):
    from otel_tokens_litellm import LiteLLMInstrumentor

    LiteLLMInstrumentor().uninstrument()
    server.enqueue(Scenario(prompt_tokens=40, completion_tokens=9, chunks=3))
    stream = await litellm.acompletion(
        model="openai/gpt-4o-mini",
        messages=MESSAGES,
        stream=True,
        stream_options={"include_usage": True},
        **openai_api,
    )
    async for _ in stream:
        pass
    assert_counted_once(telemetry, "otel_tokens_openai", 40, 9)


@pytest.mark.parametrize("is_async", [False, True])
async def test_retries_are_one_logical_call(server, openai_api, telemetry, openai_layer, is_async):
    server.enqueue(Scenario(error_status=500))
    server.enqueue(Scenario(prompt_tokens=40, completion_tokens=9))
    call = litellm.acompletion if is_async else litellm.completion
    result = call(model="openai/gpt-4o-mini", messages=MESSAGES, num_retries=1, **openai_api)
    if is_async:
        await result
    assert len(server.requests) == 2
    assert_counted_once(telemetry, "otel_tokens_litellm", 40, 9)
    assert "error.type" not in only_span(telemetry).attributes


@pytest.mark.parametrize("is_async", [False, True])
async def test_fallbacks_are_one_logical_call(server, openai_api, telemetry, openai_layer, is_async):
    server.enqueue(Scenario(error_status=500))
    server.enqueue(Scenario(prompt_tokens=40, completion_tokens=9))
    call = litellm.acompletion if is_async else litellm.completion
    result = call(
        model="openai/gpt-4o-mini", messages=MESSAGES, fallbacks=["openai/gpt-4o-mini"], **openai_api
    )
    if is_async:
        await result
    assert len(server.requests) == 2
    assert_counted_once(telemetry, "otel_tokens_litellm", 40, 9)


def router(server):
    params = {"model": "openai/gpt-4o-mini", "api_base": server.url + "/v1", "api_key": "sk-test-secret"}
    return litellm.Router(model_list=[{"model_name": "team-gpt", "litellm_params": params}], num_retries=0)


def test_router_completion_is_counted_once(server, telemetry, openai_layer):
    server.enqueue(Scenario(prompt_tokens=40, completion_tokens=9))
    router(server).completion(model="team-gpt", messages=MESSAGES)
    assert_counted_once(telemetry, "otel_tokens_litellm", 40, 9)
    assert only_span(telemetry).attributes["gen_ai.request.model"] == "gpt-4o-mini"


async def test_router_acompletion_stream_is_counted_once(server, telemetry, openai_layer):
    server.enqueue(Scenario(prompt_tokens=40, completion_tokens=9, chunks=3))
    stream = await router(server).acompletion(
        model="team-gpt", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
    )
    async for _ in stream:
        pass
    assert_counted_once(telemetry, "otel_tokens_litellm", 40, 9)


def test_fallbacks_outside_an_event_loop(server, openai_api, telemetry, openai_layer):
    server.enqueue(Scenario(error_status=500))
    server.enqueue(Scenario(prompt_tokens=40, completion_tokens=9))
    litellm.completion(
        model="openai/gpt-4o-mini", messages=MESSAGES, fallbacks=["openai/gpt-4o-mini"], **openai_api
    )
    assert_counted_once(telemetry, "otel_tokens_litellm", 40, 9)
