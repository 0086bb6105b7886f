"""Embeddings, text completions and a non-OpenAI provider (Anthropic) through litellm."""

from __future__ import annotations

import json

import litellm
import pytest
from otel_tokens_fake_providers import RawResponse, Scenario

from .helpers import (
    CLAUDE_35_SONNET,
    EMBEDDING_3_SMALL,
    GPT_35_TURBO_INSTRUCT,
    MESSAGES,
    cost,
    details,
    only_span,
)


def test_embedding(server, openai_api, telemetry):
    server.enqueue(Scenario(prompt_tokens=12, embedding_dims=16))
    response = litellm.embedding(model="text-embedding-3-small", input=["alpha", "beta"], **openai_api)
    assert len(response.data) == 2
    span = only_span(telemetry)
    attributes = dict(span.attributes)
    assert span.name == "embeddings text-embedding-3-small"
    assert attributes["gen_ai.operation.name"] == "embeddings"
    assert attributes["gen_ai.provider.name"] == "openai"
    assert attributes["gen_ai.usage.input_tokens"] == 12
    assert "gen_ai.usage.output_tokens" not in attributes
    assert attributes["gen_ai.embeddings.dimension.count"] == 16
    assert attributes["gen_ai.usage.cost.amount"] == pytest.approx(cost(EMBEDDING_3_SMALL, input=12))
    assert [p.attributes["gen_ai.token.type"] for p in telemetry.points("gen_ai.client.token.usage")] == [
        "input"
    ]


async def test_aembedding_with_dimensions(server, openai_api, telemetry):
    server.enqueue(Scenario(prompt_tokens=3))
    await litellm.aembedding(model="openai/text-embedding-3-small", input="hello", dimensions=4, **openai_api)
    attributes = only_span(telemetry).attributes
    assert attributes["gen_ai.embeddings.dimension.count"] == 4
    assert attributes["gen_ai.usage.input_tokens"] == 3


def test_text_completion(server, openai_api, telemetry):
    server.enqueue(Scenario(prompt_tokens=8, completion_tokens=5, text="Once upon a time"))
    response = litellm.text_completion(
        model="text-completion-openai/gpt-3.5-turbo-instruct",
        prompt="Tell a story",
        max_tokens=5,
        **openai_api,
    )
    assert response.choices[0].text == "Once upon a time"
    span = only_span(telemetry)
    assert span.attributes["gen_ai.operation.name"] == "text_completion"
    assert span.attributes["gen_ai.request.model"] == "gpt-3.5-turbo-instruct"
    assert span.attributes["gen_ai.request.max_tokens"] == 5
    assert (span.attributes["gen_ai.usage.input_tokens"], span.attributes["gen_ai.usage.output_tokens"]) == (
        8,
        5,
    )
    assert span.attributes["gen_ai.usage.cost.amount"] == pytest.approx(
        cost(GPT_35_TURBO_INSTRUCT, input=8, output=5)
    )


async def test_atext_completion_stream(server, openai_api, telemetry):
    server.enqueue(Scenario(prompt_tokens=8, completion_tokens=5, chunks=3))
    stream = await litellm.atext_completion(
        model="text-completion-openai/gpt-3.5-turbo-instruct",
        prompt="Tell a story",
        stream=True,
        stream_options={"include_usage": True},
        **openai_api,
    )
    texts = [chunk.choices[0].text or "" async for chunk in stream if chunk.choices]
    assert "".join(texts) == Scenario().text
    span = only_span(telemetry)
    assert (span.attributes["gen_ai.usage.input_tokens"], span.attributes["gen_ai.usage.output_tokens"]) == (
        8,
        5,
    )
    assert "otel_tokens.usage.estimated" not in span.attributes


def anthropic_message(usage: dict[str, int]) -> RawResponse:
    body = {
        "id": "msg_01",
        "type": "message",
        "role": "assistant",
        "model": "claude-3-5-sonnet-20240620",
        "content": [{"type": "text", "text": "Hello!"}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": usage,
    }
    return RawResponse(200, json.dumps(body), expect_path="/v1/messages")


def test_anthropic_cache_write_and_read_are_input_not_counted_twice(server, telemetry):
    # Anthropic's input_tokens exclude the cache; litellm's prompt_tokens add both back in.
    server.enqueue(
        anthropic_message(
            {
                "input_tokens": 4,
                "cache_creation_input_tokens": 1163,
                "cache_read_input_tokens": 20,
                "output_tokens": 187,
            }
        )
    )
    response = litellm.completion(
        model="anthropic/claude-3-5-sonnet-20240620",
        messages=MESSAGES,
        api_base=server.url,
        api_key="sk-ant-secret",
    )
    assert response.choices[0].message.content == "Hello!"
    span = only_span(telemetry)
    attributes = dict(span.attributes)
    assert attributes["gen_ai.provider.name"] == "anthropic"
    assert attributes["gen_ai.request.model"] == "claude-3-5-sonnet-20240620"
    assert attributes["gen_ai.response.finish_reasons"] == ("stop",)
    assert attributes["gen_ai.usage.input_tokens"] == 4 + 1163 + 20
    assert attributes["gen_ai.usage.cache_creation.input_tokens"] == 1163
    assert attributes["gen_ai.usage.cache_read.input_tokens"] == 20
    assert attributes["gen_ai.usage.output_tokens"] == 187
    assert attributes["gen_ai.usage.cost.amount"] == pytest.approx(
        cost(CLAUDE_35_SONNET, input=1187, cached=20, cache_write=1163, output=187)
    )
    assert "sk-ant-secret" not in str(attributes)
    assert details(telemetry) == {"cache_read": 20, "cache_creation": 1163}


def test_anthropic_error_passes_through(server, telemetry):
    error = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    server.enqueue(RawResponse(529, json.dumps(error)))
    with pytest.raises(litellm.InternalServerError) as raised:
        litellm.completion(
            model="anthropic/claude-3-5-sonnet-20240620",
            messages=MESSAGES,
            api_base=server.url,
            api_key="x",
            max_retries=0,
        )
    assert only_span(telemetry).attributes["error.type"] == type(raised.value).__qualname__
