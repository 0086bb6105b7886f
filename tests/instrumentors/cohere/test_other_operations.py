"""v1 generate, v1/v2 embed and rerank through the real cohere SDK, and the stacked embed layers."""

from __future__ import annotations

import inspect

import cohere
import pytest
from otel_tokens_fake_providers import Scenario

from otel_tokens import tags

from .helpers import COMMAND, EMBED_V4, cost, only_span, token_points

DOCUMENTS = ["Carson City is the capital of Nevada.", "Washington, D.C. is the capital of the United States."]
# Cohere's public list price of Rerank 3.5: $2.00 per 1,000 searches.
RERANK_PER_SEARCH_UNIT = 0.002


# -- generate (v1) -------------------------------------------------------------------------------


def test_generate(server, v1, telemetry):
    server.enqueue(Scenario(text=" Arr!", prompt_tokens=7, completion_tokens=129))
    response = v1.generate(model="command", prompt="Tell me a joke", max_tokens=200, num_generations=2)
    assert [g.text for g in response.generations] == [" Arr!", " Arr!"]
    span = only_span(telemetry)
    assert span.name == "text_completion command"
    attributes = dict(span.attributes)
    assert {
        k: attributes.get(k)
        for k in attributes
        if not k.startswith(("otel_tokens.cost", "gen_ai.usage.cost"))
    } == {
        "gen_ai.operation.name": "text_completion",
        "gen_ai.provider.name": "cohere",
        "gen_ai.request.model": "command",
        "server.address": "127.0.0.1",
        "server.port": server.port,
        "gen_ai.request.max_tokens": 200,
        "gen_ai.request.choice.count": 2,
        "gen_ai.response.id": response.id,
        "gen_ai.response.finish_reasons": ("COMPLETE", "COMPLETE"),
        # /v1/generate reports billed units only: no raw counts.
        "gen_ai.usage.input_tokens": 7,
        "gen_ai.usage.output_tokens": 129,
        "otel_tokens.price.source": attributes["otel_tokens.price.source"],
    }
    assert attributes["gen_ai.usage.cost.amount"] == pytest.approx(
        cost(COMMAND, input=7, output=129), rel=1e-12
    )


def test_generate_stream_is_estimated_when_the_end_event_has_no_usage(server, v1, telemetry):
    from otel_tokens.tokenize import Tokenizer

    server.enqueue(Scenario(text="Why did the pirate cross the sea?", chunks=4))
    events = list(v1.generate_stream(model="command", prompt="Tell me a joke"))
    assert events[-1].event_type == "stream-end"
    span = only_span(telemetry)
    reference = Tokenizer()
    attributes = dict(span.attributes)
    assert attributes["gen_ai.request.stream"] is True
    assert attributes["gen_ai.response.id"] == events[-1].response.id
    assert attributes["gen_ai.response.finish_reasons"] == ("COMPLETE",)
    assert attributes["otel_tokens.usage.estimated"] is True
    assert (
        attributes["gen_ai.usage.input_tokens"] == reference.count_texts("command", ["Tell me a joke"]).tokens
    )
    assert (
        attributes["gen_ai.usage.output_tokens"]
        == reference.count_text("command", "Why did the pirate cross the sea?").tokens
    )
    assert attributes["gen_ai.response.time_to_first_chunk"] > 0


async def test_async_generate_and_stream(server, async_v1, telemetry):
    server.enqueue(Scenario(prompt_tokens=3, completion_tokens=2))
    await async_v1.generate(model="command", prompt="hi")
    server.enqueue(Scenario(chunks=2))
    events = [event async for event in async_v1.generate_stream(model="command", prompt="hi")]
    assert events[-1].event_type == "stream-end"
    first, second = telemetry.spans()
    assert first.attributes["gen_ai.usage.input_tokens"] == 3
    assert second.attributes["otel_tokens.usage.estimated"] is True


# -- embed ---------------------------------------------------------------------------------------


def test_v2_embed(server, v2, telemetry):
    server.enqueue(Scenario(prompt_tokens=208, embedding_dims=16))
    response = v2.embed(
        model="embed-v4.0",
        texts=["first text", "second text"],
        input_type="search_document",
        embedding_types=["float", "int8"],
    )
    assert len(response.embeddings.float_[0]) == 16
    span = only_span(telemetry)
    expected_cost = cost(EMBED_V4, input=208)
    attributes = dict(span.attributes)
    assert attributes == {
        "gen_ai.operation.name": "embeddings",
        "gen_ai.provider.name": "cohere",
        "gen_ai.request.model": "embed-v4.0",
        "server.address": "127.0.0.1",
        "server.port": server.port,
        "gen_ai.request.encoding_formats": ("float", "int8"),
        "gen_ai.response.id": response.id,
        "gen_ai.embeddings.dimension.count": 16,
        "gen_ai.usage.input_tokens": 208,
        "gen_ai.usage.cost.amount": pytest.approx(expected_cost, rel=1e-12),
        "gen_ai.usage.cost.currency": "USD",
        "gen_ai.usage.cost.source": "local",
        "otel_tokens.cost.input": pytest.approx(expected_cost, rel=1e-12),
        "otel_tokens.cost.output": 0.0,
        "otel_tokens.price.source": attributes["otel_tokens.price.source"],
    }
    assert set(token_points(telemetry)) == {"input"}  # an embedding has no output tokens


def test_v2_embed_output_dimension(server, v2, telemetry):
    if "output_dimension" not in inspect.signature(cohere.ClientV2.embed).parameters:
        pytest.skip("this cohere release has no output_dimension")
    server.enqueue(Scenario(prompt_tokens=4))
    v2.embed(
        model="embed-v4.0",
        texts=["a"],
        input_type="search_query",
        embedding_types=["float"],
        output_dimension=256,
    )
    assert only_span(telemetry).attributes["gen_ai.embeddings.dimension.count"] == 256


def test_v1_embed_floats_unpriced_model(server, v1, telemetry):
    server.enqueue(Scenario(prompt_tokens=12, embedding_dims=4))
    response = v1.embed(model="embed-english-v3.0", texts=["a", "b"], input_type="search_document")
    assert len(response.embeddings) == 2
    span = only_span(telemetry)
    assert span.attributes["gen_ai.usage.input_tokens"] == 12
    assert span.attributes["gen_ai.embeddings.dimension.count"] == 4
    # No public price in the price data for this model: no cost, and the call is counted as unpriced.
    assert span.attributes["otel_tokens.price.missing"] is True
    assert "gen_ai.usage.cost.amount" not in span.attributes
    [unpriced] = telemetry.points("otel_tokens.client.unpriced_calls")
    assert unpriced.value == 1


def test_v1_embed_batches_are_one_call_with_summed_usage(server, v1, telemetry):
    # Stacked layers: Client.embed splits 100 texts into batches of 96 and 4, each a BaseCohere.embed
    # call (both patched) run on the client's thread pool. One logical call: one span, one set of points.
    server.enqueue(Scenario(prompt_tokens=96), times=2)
    with tags(team="search"):
        response = v1.embed(
            model="embed-v4.0", texts=[f"text {i}" for i in range(100)], input_type="search_document"
        )
    assert len(server.requests) == 2
    assert len(response.embeddings) == 100
    span = only_span(telemetry)
    assert span.attributes["gen_ai.usage.input_tokens"] == 192  # the SDK's merged meta sums the batches
    assert span.attributes["otel_tokens.tag.team"] == "search"  # the caller's context, not the pool's
    tokens = token_points(telemetry)
    assert (tokens["input"].sum, tokens["input"].count) == (192, 1)
    [duration] = telemetry.points("gen_ai.client.operation.duration")
    assert duration.count == 1
    [cost_point] = telemetry.points("otel_tokens.client.cost")
    assert (cost_point.count, cost_point.sum) == (1, pytest.approx(cost(EMBED_V4, input=192)))


def test_v1_embed_without_batching_is_counted_once(server, v1, telemetry):
    # Client.embed calls BaseCohere.embed in the same thread: the inner layer sees the outer one.
    server.enqueue(Scenario(prompt_tokens=5))
    v1.embed(model="embed-v4.0", texts=["a"], batching=False)
    span = only_span(telemetry)
    assert span.attributes["gen_ai.usage.input_tokens"] == 5
    assert token_points(telemetry)["input"].count == 1


async def test_async_v1_embed_batches_are_one_call(server, async_v1, telemetry):
    server.enqueue(Scenario(prompt_tokens=10), times=2)
    await async_v1.embed(model="embed-v4.0", texts=["x"] * 100)
    assert len(server.requests) == 2
    assert only_span(telemetry).attributes["gen_ai.usage.input_tokens"] == 20


async def test_async_v2_embed(server, async_v2, telemetry):
    server.enqueue(Scenario(prompt_tokens=6))
    await async_v2.embed(
        model="embed-v4.0", texts=["a"], input_type="search_query", embedding_types=["float"]
    )
    assert only_span(telemetry).attributes["gen_ai.usage.input_tokens"] == 6


def test_embed_stream_counts_each_batch(server, v1, telemetry):
    if not hasattr(cohere.Client, "embed_stream"):
        pytest.skip("this cohere release has no embed_stream")
    server.enqueue(Scenario(prompt_tokens=3), times=2)
    items = list(v1.embed_stream(model="embed-v4.0", texts=["a", "b", "c"], batch_size=2))
    assert len(items) == 3
    assert [s.attributes["gen_ai.usage.input_tokens"] for s in telemetry.spans()] == [3, 3]


def test_embed_without_usage_is_estimated(server, v2, telemetry):
    from otel_tokens.tokenize import Tokenizer

    server.enqueue(Scenario(include_usage=False))
    v2.embed(
        model="embed-v4.0",
        texts=["hello world", "again"],
        input_type="search_query",
        embedding_types=["float"],
    )
    span = only_span(telemetry)
    assert span.attributes["otel_tokens.usage.estimated"] is True
    assert (
        span.attributes["gen_ai.usage.input_tokens"]
        == Tokenizer().count_texts("embed-v4.0", ["hello world", "again"]).tokens
    )


# -- rerank --------------------------------------------------------------------------------------


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_rerank_records_search_units_and_is_unpriced(server, v1, v2, telemetry, version):
    client = v1 if version == "v1" else v2
    server.enqueue(Scenario())
    response = client.rerank(model="rerank-v3.5", query="capital of the US?", documents=DOCUMENTS, top_n=1)
    assert response.results[0].index == 0
    span = only_span(telemetry)
    assert span.name == "rerank rerank-v3.5"
    assert dict(span.attributes) == {
        "gen_ai.operation.name": "rerank",
        "gen_ai.provider.name": "cohere",
        "gen_ai.request.model": "rerank-v3.5",
        "server.address": "127.0.0.1",
        "server.port": server.port,
        "gen_ai.response.id": response.id,
        "otel_tokens.usage.search_units": 1,
        # genai-prices has no search-unit prices: without an override a rerank has no cost.
        "otel_tokens.price.missing": True,
    }
    assert telemetry.points("gen_ai.client.token.usage") == []  # no tokens are billed
    [unpriced] = telemetry.points("otel_tokens.client.unpriced_calls")
    assert unpriced.value == 1
    assert telemetry.points("otel_tokens.client.cost") == []


def test_rerank_priced_by_a_search_unit_override(server, telemetry, tmp_path):
    from otel_tokens_cohere import CohereInstrumentor

    from otel_tokens import _runtime
    from otel_tokens._settings import Settings

    from .conftest import make_client

    overrides = tmp_path / "prices.toml"
    overrides.write_text(
        f'[[price]]\nprovider = "cohere"\nmodel = "rerank-*"\ninput_per_mtok = 0\noutput_per_mtok = 0\n'
        f"per_search_unit = {RERANK_PER_SEARCH_UNIT}\n"
    )
    _runtime.set_settings(Settings(price_overrides=str(overrides)))
    CohereInstrumentor().uninstrument()
    CohereInstrumentor().instrument(
        tracer_provider=telemetry.tracer_provider, meter_provider=telemetry.meter_provider
    )
    client = make_client(cohere.ClientV2, server.url)
    server.enqueue(Scenario(usage_fields={"billed_units": {"search_units": 3}}))
    client.rerank(model="rerank-v3.5", query="q", documents=DOCUMENTS)
    span = only_span(telemetry)
    assert span.attributes["otel_tokens.usage.search_units"] == 3
    assert span.attributes["gen_ai.usage.cost.amount"] == pytest.approx(3 * RERANK_PER_SEARCH_UNIT)
    assert span.attributes["otel_tokens.price.source"] == "override"
    [cost_point] = telemetry.points("otel_tokens.client.cost")
    assert cost_point.sum == pytest.approx(3 * RERANK_PER_SEARCH_UNIT)


async def test_async_rerank(server, async_v1, async_v2, telemetry):
    server.enqueue(Scenario(), times=2)
    await async_v1.rerank(model="rerank-v3.5", query="q", documents=DOCUMENTS)
    await async_v2.rerank(model="rerank-v3.5", query="q", documents=DOCUMENTS)
    assert [s.attributes["otel_tokens.usage.search_units"] for s in telemetry.spans()] == [1, 1]


def test_rerank_error_passes_through(server, v2, telemetry):
    server.enqueue(Scenario(error_status=500))
    with pytest.raises(cohere.errors.InternalServerError):
        v2.rerank(model="rerank-v3.5", query="q", documents=DOCUMENTS)
    assert only_span(telemetry).attributes["error.type"] == "InternalServerError"
