"""embed_content on the Gemini API and Vertex AI, and generate_content on a Vertex-mode client."""

from __future__ import annotations

import pytest
from google.genai import types
from otel_tokens_fake_providers import Scenario

from otel_tokens.tokenize import Tokenizer

from .conftest import VERTEX_TOKEN
from .helpers import GEMINI_25_FLASH, GEMINI_EMBEDDING_001, cost, only_span, token_points, usage_of

TEXTS = ["What is the meaning of life?", "How much wood would a woodchuck chuck?"]


def test_embed_on_the_gemini_api_is_estimated_and_flagged(server, client, telemetry):
    # batchEmbedContents answers with vectors only: no usage to read, so we count locally.
    result = client.models.embed_content(model="gemini-embedding-001", contents=TEXTS)
    assert len(result.embeddings) == 2 and len(result.embeddings[0].values) == 8
    assert server.requests[-1].path == "/v1beta/models/gemini-embedding-001:batchEmbedContents"
    span = only_span(telemetry)
    estimate = Tokenizer().count_texts("gemini-embedding-001", TEXTS).tokens
    assert span.name == "embeddings gemini-embedding-001"
    assert {k: v for k, v in span.attributes.items() if k.startswith(("gen_ai.", "otel_tokens.usage"))} == {
        "gen_ai.operation.name": "embeddings",
        "gen_ai.provider.name": "gcp.gemini",
        "gen_ai.request.model": "gemini-embedding-001",
        "gen_ai.embeddings.dimension.count": 8,
        "gen_ai.usage.input_tokens": estimate,
        "otel_tokens.usage.estimated": True,
        "otel_tokens.usage.estimate_method": "heuristic",
        "gen_ai.usage.cost.amount": pytest.approx(cost(GEMINI_EMBEDDING_001, input=estimate)),
        "gen_ai.usage.cost.currency": "USD",
        "gen_ai.usage.cost.source": "local",
    }
    assert set(token_points(telemetry)) == {"input"}
    assert token_points(telemetry)["input"].attributes["otel_tokens.usage.estimated"] is True


async def test_async_embed_with_requested_dimensions(server, client, telemetry):
    result = await client.aio.models.embed_content(
        model="gemini-embedding-001",
        contents="one text",
        config=types.EmbedContentConfig(output_dimensionality=4),
    )
    assert len(result.embeddings[0].values) == 4
    span = only_span(telemetry)
    assert span.attributes["gen_ai.embeddings.dimension.count"] == 4
    assert span.attributes["gen_ai.usage.input_tokens"] == Tokenizer().count_text(None, "one text").tokens


@pytest.mark.skipif(
    "usage_metadata" not in types.EmbedContentResponse.model_fields,
    reason="this google-genai version does not read usage from embedding responses",
)
def test_embed_usage_is_used_when_the_api_sends_it(server, client, telemetry):
    server.enqueue(Scenario(include_usage=True, prompt_tokens=17))
    client.models.embed_content(model="gemini-embedding-001", contents=TEXTS)
    span = only_span(telemetry)
    assert usage_of(span) == {"gen_ai.usage.input_tokens": 17}
    assert "otel_tokens.usage.estimated" not in span.attributes


def test_vertex_generate_content(server, vertex, telemetry):
    server.enqueue(Scenario(prompt_tokens=400, cached_tokens=100, completion_tokens=60, reasoning_tokens=40))
    response = vertex.models.generate_content(model="gemini-2.5-flash", contents="Hello Vertex")
    assert response.usage_metadata.traffic_type is not None
    assert server.requests[-1].path == (
        "/v1beta1/projects/test-project/locations/us-central1/publishers/google/models/gemini-2.5-flash:generateContent"
    )
    span = only_span(telemetry)
    assert span.attributes["gen_ai.provider.name"] == "gcp.vertex_ai"
    assert usage_of(span) == {
        "gen_ai.usage.input_tokens": 400,
        "gen_ai.usage.output_tokens": 100,
        "gen_ai.usage.cache_read.input_tokens": 100,
        "gen_ai.usage.reasoning.output_tokens": 40,
    }
    assert span.attributes["gen_ai.usage.cost.amount"] == pytest.approx(
        cost(GEMINI_25_FLASH, input=400, cached=100, output=100)
    )
    assert VERTEX_TOKEN not in str(dict(span.attributes))
    assert server.requests[-1].headers["authorization"] == f"Bearer {VERTEX_TOKEN}"
    [point] = telemetry.points("otel_tokens.client.cost")
    assert point.attributes["gen_ai.provider.name"] == "gcp.vertex_ai"


async def test_vertex_async_stream(server, vertex, telemetry):
    server.enqueue(Scenario(chunks=3, prompt_tokens=12, completion_tokens=5))
    stream = await vertex.aio.models.generate_content_stream(
        model="publishers/google/models/gemini-2.5-flash", contents="Hello Vertex"
    )
    assert len([chunk async for chunk in stream]) == 3
    span = only_span(telemetry)
    assert span.attributes["gen_ai.request.model"] == "gemini-2.5-flash"
    assert span.attributes["gen_ai.provider.name"] == "gcp.vertex_ai"
    assert usage_of(span) == {"gen_ai.usage.input_tokens": 12, "gen_ai.usage.output_tokens": 5}


def test_vertex_text_embedding_reads_token_statistics(server, vertex, telemetry):
    # Vertex's :predict reports each input's token count (and billable characters): no estimate needed.
    server.enqueue(Scenario(prompt_tokens=19))
    result = vertex.models.embed_content(model="text-embedding-005", contents=TEXTS)
    assert server.requests[-1].path.endswith("/publishers/google/models/text-embedding-005:predict")
    assert result.metadata.billable_character_count == sum(len("".join(t.split())) for t in TEXTS)
    assert sum(e.statistics.token_count for e in result.embeddings) == 19
    span = only_span(telemetry)
    assert usage_of(span) == {"gen_ai.usage.input_tokens": 19}
    assert "otel_tokens.usage.estimated" not in span.attributes
    # Vertex prices its text-embedding models per character; the price data has no entry for them.
    assert span.attributes["otel_tokens.price.missing"] is True
    [unpriced] = telemetry.points("otel_tokens.client.unpriced_calls")
    assert unpriced.attributes["gen_ai.provider.name"] == "gcp.vertex_ai"


def test_vertex_gemini_embedding_has_exact_counts(server, vertex, telemetry):
    server.enqueue(Scenario(prompt_tokens=6))
    vertex.models.embed_content(model="gemini-embedding-001", contents="one text to embed")
    span = only_span(telemetry)
    assert usage_of(span) == {"gen_ai.usage.input_tokens": 6}
    assert span.attributes["gen_ai.usage.cost.amount"] == pytest.approx(cost(GEMINI_EMBEDDING_001, input=6))
