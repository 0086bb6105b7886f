"""No double counting when instrumented layers stack: one logical call is one span, one set of points.

Three stacks: a Mistral SDK call made inside an outer instrumented call (an OpenAI-compatible
gateway that forwards to Mistral through the mistralai SDK), the instrumentation applied twice,
and the GenAI span the mistralai SDK opens by itself when its own telemetry is on.
"""

from __future__ import annotations

import json

import httpx
import openai
import pytest
from opentelemetry import trace
from otel_tokens_fake_providers import Scenario
from otel_tokens_mistralai import MistralAIInstrumentor
from otel_tokens_openai import OpenAIInstrumentor

from otel_tokens._patching import PatchSet
from otel_tokens.record import Recorder
from otel_tokens.testing import InMemoryTelemetry

from .helpers import MESSAGES, MISTRAL_SMALL, cost, only_span, token_points
from .sdk import Mistral

MODEL = "mistral-small-latest"


class MistralGateway(httpx.BaseTransport):
    """An OpenAI-compatible endpoint served by calling Mistral through the mistralai SDK."""

    def __init__(self, mistral: Mistral) -> None:
        self.mistral = mistral

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.read())
        reply = self.mistral.chat.complete(model=body["model"], messages=body["messages"])
        usage = reply.usage
        payload = {
            "id": reply.id,
            "object": "chat.completion",
            "created": reply.created,
            "model": reply.model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": reply.choices[0].message.content},
                    "finish_reason": reply.choices[0].finish_reason,
                }
            ],
            "usage": {
                "prompt_tokens": usage.prompt_tokens,
                "completion_tokens": usage.completion_tokens,
                "total_tokens": usage.total_tokens,
            },
        }
        return httpx.Response(200, json=payload)


@pytest.fixture
def both(telemetry):
    """The openai instrumentor too, into the same telemetry as the mistralai one."""
    OpenAIInstrumentor().instrument(
        tracer_provider=telemetry.tracer_provider, meter_provider=telemetry.meter_provider
    )
    yield telemetry
    OpenAIInstrumentor().uninstrument()


def test_mistral_call_inside_an_outer_instrumented_call_records_nothing_extra(server, client, both):
    server.enqueue(Scenario(prompt_tokens=25, completion_tokens=9))
    gateway = openai.OpenAI(
        base_url="https://api.mistral.ai/v1",
        api_key="x",
        max_retries=0,
        http_client=httpx.Client(transport=MistralGateway(client)),
    )
    response = gateway.chat.completions.create(model=MODEL, messages=MESSAGES)
    assert response.usage.prompt_tokens == 25
    assert server.requests[-1].headers["user-agent"].startswith("mistral-client-python/")
    span = only_span(both)  # the outer layer's; the mistralai call inside it added nothing
    assert span.instrumentation_scope.name == "otel_tokens_openai"
    assert span.attributes["gen_ai.provider.name"] == "mistral_ai"
    assert span.attributes["server.address"] == "api.mistral.ai"
    assert (span.attributes["gen_ai.usage.input_tokens"], span.attributes["gen_ai.usage.output_tokens"]) == (
        25,
        9,
    )
    expected = cost(MISTRAL_SMALL, input=25, output=9)
    assert span.attributes["gen_ai.usage.cost.amount"] == pytest.approx(expected)
    assert {k: (p.sum, p.count) for k, p in token_points(both).items()} == {
        "input": (25, 1),
        "output": (9, 1),
    }
    [cost_point] = both.points("otel_tokens.client.cost")
    assert (cost_point.sum, cost_point.count) == (pytest.approx(expected), 1)
    [duration] = both.points("gen_ai.client.operation.duration")
    assert duration.count == 1


def test_instrumenting_twice_does_not_double_wrap(server, client, telemetry):
    MistralAIInstrumentor().instrument(
        tracer_provider=telemetry.tracer_provider, meter_provider=telemetry.meter_provider
    )
    # A second, independent set of the same patches (another copy of the instrumentation).
    other = InMemoryTelemetry()
    recorder = Recorder(other.tracer_provider.get_tracer("other"), _instruments(other))
    second = PatchSet(MistralAIInstrumentor().patch_specs(), recorder)
    try:
        assert second.applied == []
        server.enqueue(Scenario(prompt_tokens=6, completion_tokens=2))
        client.chat.complete(model=MODEL, messages=MESSAGES)
        server.enqueue(Scenario(prompt_tokens=6, completion_tokens=2))
        list(client.chat.stream(model=MODEL, messages=MESSAGES))
    finally:
        second.remove()
    assert len(telemetry.spans()) == 2
    assert {k: (p.sum, p.count) for k, p in token_points(telemetry).items()} == {
        "input": (12, 2),
        "output": (4, 2),
    }
    assert other.spans() == () and other.points() == []


def _instruments(memory: InMemoryTelemetry):
    from otel_tokens.metrics import create_instruments

    return create_instruments(memory.meter_provider.get_meter("other"))


@pytest.fixture
def sdk_telemetry_on(monkeypatch, telemetry):
    """A global tracer provider (ours) and the mistralai SDK's own tracing switched to it.

    mistralai 2.0-2.4 traces whenever a global provider is set; later versions once
    MISTRAL_SDK_TELEMETRY says so.
    """
    monkeypatch.setattr(trace, "_TRACER_PROVIDER", telemetry.tracer_provider)
    monkeypatch.setenv("MISTRAL_SDK_TELEMETRY", "global")
    return telemetry


def _sdk_has_tracing() -> bool:
    import importlib.util

    for name in ("mistralai.client._hooks.tracing", "mistralai._hooks.tracing"):
        try:
            if importlib.util.find_spec(name) is not None:
                return True
        except ModuleNotFoundError:  # mistralai 1.x: ``mistralai.client`` is a module, not a package
            pass
    return False


@pytest.mark.skipif(not _sdk_has_tracing(), reason="this mistralai has no tracing of its own (before 1.10)")
def test_the_sdk_own_span_is_not_a_second_span(server, sdk_telemetry_on):
    memory = sdk_telemetry_on
    MistralAIInstrumentor().uninstrument()
    Mistral(api_key="x", server_url=server.url).chat.complete(model=MODEL, messages=MESSAGES)
    [sdk_span] = memory.spans()  # uninstrumented, the SDK traces the call itself...
    assert sdk_span.instrumentation_scope.name != "otel_tokens_mistralai"
    assert "gen_ai.usage.output_tokens" in sdk_span.attributes
    memory.clear()

    MistralAIInstrumentor().instrument(
        tracer_provider=memory.tracer_provider, meter_provider=memory.meter_provider
    )
    client = Mistral(api_key="x", server_url=server.url)
    server.enqueue(Scenario(prompt_tokens=8, completion_tokens=3))
    client.chat.complete(model=MODEL, messages=MESSAGES)
    server.enqueue(Scenario(prompt_tokens=8, completion_tokens=3))
    list(client.chat.stream(model=MODEL, messages=MESSAGES))
    # ...instrumented, each call is one span: ours, with the same counts plus cost.
    spans = memory.spans()
    assert [s.instrumentation_scope.name for s in spans] == ["otel_tokens_mistralai"] * 2
    assert [s.attributes["gen_ai.usage.input_tokens"] for s in spans] == [8, 8]
    assert {k: p.sum for k, p in token_points(memory).items()} == {"input": 16, "output": 6}
