"""Embeddings and fill-in-the-middle completions, and the instrumentor without its client."""

from __future__ import annotations

import pytest
from otel_tokens_fake_providers import Scenario

from .helpers import CODESTRAL, MISTRAL_EMBED, cost, only_span, token_points

EMBED = "mistral-embed"
CODE = "codestral-latest"


def test_embeddings(server, client, telemetry):
    server.enqueue(Scenario(prompt_tokens=21, embedding_dims=16))
    response = client.embeddings.create(model=EMBED, inputs=["first text", "second text"])
    assert len(response.data) == 2 and response.usage.completion_tokens == 0
    span = only_span(telemetry)
    assert span.name == f"embeddings {EMBED}"
    expected = cost(MISTRAL_EMBED, input=21)
    assert dict(span.attributes) == {
        "gen_ai.operation.name": "embeddings",
        "gen_ai.provider.name": "mistral_ai",
        "gen_ai.request.model": EMBED,
        "server.address": "127.0.0.1",
        "server.port": server.port,
        "gen_ai.response.model": EMBED,
        "gen_ai.response.id": response.id,
        "gen_ai.embeddings.dimension.count": 16,
        "gen_ai.usage.input_tokens": 21,
        "gen_ai.usage.cost.amount": pytest.approx(expected, rel=1e-12),
        "gen_ai.usage.cost.currency": "USD",
        "gen_ai.usage.cost.source": "local",
        "otel_tokens.cost.input": pytest.approx(expected, rel=1e-12),
        "otel_tokens.cost.output": 0.0,
        "otel_tokens.price.source": span.attributes["otel_tokens.price.source"],
    }
    # The API's "completion_tokens": 0 is not an output count: no output point.
    assert {k: (p.sum, p.count) for k, p in token_points(telemetry).items()} == {"input": (21, 1)}
    [point] = telemetry.points("otel_tokens.client.cost")
    assert point.sum == pytest.approx(expected)


async def test_embeddings_async_with_dimension(server, client, telemetry):
    server.enqueue(Scenario(prompt_tokens=4))
    response = await client.embeddings.create_async(model=EMBED, inputs="one text", output_dimension=32)
    assert len(response.data[0].embedding) == 32
    span = only_span(telemetry)
    assert span.attributes["gen_ai.embeddings.dimension.count"] == 32
    assert span.attributes["gen_ai.usage.input_tokens"] == 4


def test_fim_complete(server, client, telemetry):
    server.enqueue(Scenario(text="return a + b", prompt_tokens=14, completion_tokens=5))
    response = client.fim.complete(model=CODE, prompt="def add(a, b):\n    ", suffix="\n", max_tokens=20)
    assert response.choices[0].message.content == "return a + b"
    span = only_span(telemetry)
    assert span.name == f"text_completion {CODE}"
    assert span.attributes["gen_ai.operation.name"] == "text_completion"
    assert span.attributes["gen_ai.request.max_tokens"] == 20
    assert span.attributes["gen_ai.response.finish_reasons"] == ("stop",)
    assert (span.attributes["gen_ai.usage.input_tokens"], span.attributes["gen_ai.usage.output_tokens"]) == (
        14,
        5,
    )
    assert span.attributes["gen_ai.usage.cost.amount"] == pytest.approx(cost(CODESTRAL, input=14, output=5))
    assert server.requests[-1].path == "/v1/fim/completions"


def test_fim_stream(server, client, telemetry):
    server.enqueue(Scenario(text="return a + b", chunks=3, prompt_tokens=14, completion_tokens=5))
    with client.fim.stream(model=CODE, prompt="def add(a, b):\n    ") as stream:
        pieces = [e.data.choices[0].delta.content for e in stream]
    assert "".join(pieces) == "return a + b"
    span = only_span(telemetry)
    assert span.attributes["gen_ai.request.stream"] is True
    assert span.attributes["gen_ai.usage.output_tokens"] == 5
    assert span.attributes["gen_ai.response.time_to_first_chunk"] > 0


async def test_fim_async_plain_and_stream(server, client, telemetry):
    server.enqueue(Scenario(prompt_tokens=3, completion_tokens=2))
    await client.fim.complete_async(model=CODE, prompt="x = ")
    server.enqueue(Scenario(prompt_tokens=3, completion_tokens=2, chunks=2))
    stream = await client.fim.stream_async(model=CODE, prompt="x = ")
    async for _ in stream:
        pass
    plain, streamed = telemetry.spans()
    assert (
        plain.attributes["gen_ai.usage.input_tokens"] == streamed.attributes["gen_ai.usage.input_tokens"] == 3
    )
    assert "gen_ai.request.stream" not in plain.attributes
    assert streamed.attributes["gen_ai.request.stream"] is True


def test_fim_without_usage_estimates_prompt_and_suffix(server, client, telemetry):
    from otel_tokens.tokenize import Tokenizer

    server.enqueue(Scenario(text="pass", chunks=1, include_usage=False))
    list(client.fim.stream(model=CODE, prompt="def f():\n    ", suffix="\nprint(f())"))
    span = only_span(telemetry)
    expected = Tokenizer().count_texts(CODE, ["def f():\n    ", "\nprint(f())"]).tokens
    assert span.attributes["gen_ai.usage.input_tokens"] == expected
    assert span.attributes["otel_tokens.usage.estimated"] is True


def test_instrumentor_is_a_no_op_without_its_client(monkeypatch):
    from otel_tokens_mistralai import MistralAIInstrumentor

    from otel_tokens import _dependencies
    from otel_tokens.testing import InMemoryTelemetry

    real = _dependencies.installed_version
    monkeypatch.setattr(
        _dependencies, "installed_version", lambda package: None if package == "mistralai" else real(package)
    )
    memory = InMemoryTelemetry()
    instrumentor = MistralAIInstrumentor()
    instrumentor.instrument(tracer_provider=memory.tracer_provider, meter_provider=memory.meter_provider)
    try:
        assert instrumentor.patches_applied is False
    finally:
        instrumentor.uninstrument()
