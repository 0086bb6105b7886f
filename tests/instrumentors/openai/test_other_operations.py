"""Responses API, embeddings, legacy completions and Azure through the real SDK."""

from __future__ import annotations

import openai
import pytest
from otel_tokens_fake_providers import Scenario

from .helpers import EMBEDDING_3_SMALL, GPT_4O_MINI, cost, only_span, token_points


def test_responses_create(server, client, telemetry):
    server.enqueue(
        Scenario(
            text="Hi.",
            prompt_tokens=2000,
            cached_tokens=1536,
            completion_tokens=40,
            reasoning_tokens=16,
            model="gpt-4o-mini-2024-07-18",
        )
    )
    response = client.responses.create(model="gpt-4o-mini", input="Say hi", max_output_tokens=64)
    assert response.output_text == "Hi."
    span = only_span(telemetry)
    assert span.name == "chat gpt-4o-mini"
    assert {
        k: span.attributes.get(k)
        for k in (
            "gen_ai.operation.name",
            "gen_ai.request.max_tokens",
            "gen_ai.response.model",
            "gen_ai.response.id",
            "gen_ai.usage.input_tokens",
            "gen_ai.usage.output_tokens",
            "gen_ai.usage.cache_read.input_tokens",
            "gen_ai.usage.reasoning.output_tokens",
            "gen_ai.response.finish_reasons",
        )
    } == {
        "gen_ai.operation.name": "chat",
        "gen_ai.request.max_tokens": 64,
        "gen_ai.response.model": "gpt-4o-mini-2024-07-18",
        "gen_ai.response.id": response.id,
        "gen_ai.usage.input_tokens": 2000,
        "gen_ai.usage.output_tokens": 40,
        "gen_ai.usage.cache_read.input_tokens": 1536,
        "gen_ai.usage.reasoning.output_tokens": 16,
        "gen_ai.response.finish_reasons": ("completed",),
    }
    assert span.attributes["gen_ai.usage.cost.amount"] == pytest.approx(
        cost(GPT_4O_MINI, input=2000, cached=1536, output=40)
    )


async def test_responses_stream_async(server, async_client, telemetry):
    server.enqueue(Scenario(text="streamed reply", chunks=3, prompt_tokens=12, completion_tokens=4))
    stream = await async_client.responses.create(model="gpt-4o-mini", input="hi", stream=True)
    events = [event async for event in stream]
    assert events[-1].type == "response.completed"
    span = only_span(telemetry)
    assert (span.attributes["gen_ai.usage.input_tokens"], span.attributes["gen_ai.usage.output_tokens"]) == (
        12,
        4,
    )
    assert span.attributes["gen_ai.response.time_to_first_chunk"] > 0


def test_responses_stream_helper(server, client, telemetry):
    server.enqueue(Scenario(text="helper reply", chunks=2, prompt_tokens=7, completion_tokens=3))
    with client.responses.stream(model="gpt-4o-mini", input="hi") as stream:
        for _ in stream:
            pass
        final = stream.get_final_response()
    assert final.output_text == "helper reply"
    span = only_span(telemetry)
    assert span.attributes["gen_ai.usage.output_tokens"] == 3


def test_responses_parse(server, client, telemetry):
    from pydantic import BaseModel

    class Reply(BaseModel):
        word: str

    server.enqueue(Scenario(text='{"word": "yes"}', prompt_tokens=30, completion_tokens=6))
    parsed = client.responses.parse(model="gpt-4o-mini", input="say yes", text_format=Reply)
    assert parsed.output_parsed == Reply(word="yes")
    span = only_span(telemetry)
    assert span.attributes["gen_ai.output.type"] == "json"
    assert span.attributes["gen_ai.usage.input_tokens"] == 30


@pytest.mark.parametrize("encoding_format", [None, "float"])
def test_embeddings(server, client, telemetry, encoding_format):
    server.enqueue(Scenario(prompt_tokens=8, embedding_dims=16))
    kwargs = {"encoding_format": encoding_format} if encoding_format else {}
    result = client.embeddings.create(model="text-embedding-3-small", input=["a", "b"], **kwargs)
    assert len(result.data) == 2 and len(result.data[0].embedding) == 16
    span = only_span(telemetry)
    assert span.name == "embeddings text-embedding-3-small"
    assert span.attributes["gen_ai.operation.name"] == "embeddings"
    assert span.attributes["gen_ai.usage.input_tokens"] == 8
    assert "gen_ai.usage.output_tokens" not in span.attributes
    assert span.attributes.get("gen_ai.request.encoding_formats") == (
        (encoding_format,) if encoding_format else None
    )
    assert span.attributes["gen_ai.usage.cost.amount"] == pytest.approx(cost(EMBEDDING_3_SMALL, input=8))
    assert set(token_points(telemetry)) == {"input"}


def test_legacy_completions_plain_and_stream(server, client, telemetry):
    server.enqueue(Scenario(text="done", prompt_tokens=5, completion_tokens=2))
    client.completions.create(model="gpt-3.5-turbo-instruct", prompt="Say done", max_tokens=5)
    server.enqueue(Scenario(text="streamed done", chunks=2))
    pieces = [
        c.choices[0].text
        for c in client.completions.create(model="gpt-3.5-turbo-instruct", prompt="Say done", stream=True)
    ]
    assert "".join(pieces) == "streamed done"
    plain, streamed = telemetry.spans()
    assert plain.name == "text_completion gpt-3.5-turbo-instruct"
    assert (
        plain.attributes["gen_ai.usage.input_tokens"],
        plain.attributes["gen_ai.usage.output_tokens"],
    ) == (5, 2)
    assert plain.attributes["gen_ai.usage.cost.amount"] == pytest.approx((5 * 1.5 + 2 * 2.0) / 1e6)
    assert streamed.attributes["otel_tokens.usage.estimated"] is True
    assert streamed.attributes["otel_tokens.usage.estimate_method"] == "tiktoken:cl100k_base"


def test_azure_client(server, telemetry):
    client = openai.AzureOpenAI(
        azure_endpoint=server.url,
        api_version="2024-10-21",
        api_key="x",
        azure_deployment="prod-gpt4o-mini",
        max_retries=0,
    )
    server.enqueue(Scenario(model="gpt-4o-mini-2024-07-18", prompt_tokens=100, completion_tokens=10))
    client.chat.completions.create(model="prod-gpt4o-mini", messages=[{"role": "user", "content": "hi"}])
    span = only_span(telemetry)
    assert span.attributes["gen_ai.provider.name"] == "azure.ai.openai"
    assert span.attributes["gen_ai.request.model"] == "prod-gpt4o-mini"
    # Priced by the model the response names, not the deployment name.
    assert span.attributes["gen_ai.usage.cost.amount"] == pytest.approx(
        cost(GPT_4O_MINI, input=100, output=10)
    )
    assert server.requests[-1].path == "/openai/deployments/prod-gpt4o-mini/chat/completions"


@pytest.mark.parametrize(
    ("base_url", "azure", "overrides", "expected"),
    [
        ("https://api.openai.com/v1/", False, {}, ("openai", "api.openai.com", 443)),
        (
            "https://acme.openai.azure.com/openai/",
            True,
            {},
            ("azure.ai.openai", "acme.openai.azure.com", 443),
        ),
        (
            "https://acme.openai.azure.com/openai/v1/",
            False,
            {},
            ("azure.ai.openai", "acme.openai.azure.com", 443),
        ),
        ("https://api.groq.com/openai/v1", False, {}, ("groq", "api.groq.com", 443)),
        ("https://api.deepseek.com/beta", False, {}, ("deepseek", "api.deepseek.com", 443)),
        ("https://api.together.xyz/v1", False, {}, ("together_ai", "api.together.xyz", 443)),
        ("https://openrouter.ai/api/v1", False, {}, ("openrouter", "openrouter.ai", 443)),
        ("https://api.mistral.ai/v1", False, {}, ("mistral_ai", "api.mistral.ai", 443)),
        ("https://api.x.ai/v1", False, {}, ("x_ai", "api.x.ai", 443)),
        ("http://localhost:11434/v1", False, {}, ("ollama", "localhost", 11434)),
        ("http://vllm.internal:8000/v1", False, {"vllm.internal": "vllm"}, ("vllm", "vllm.internal", 8000)),
        (
            "http://gw.corp:8080/v1",
            False,
            {"gw.corp:8080": "azure.ai.openai"},
            ("azure.ai.openai", "gw.corp", 8080),
        ),
        ("http://gw.corp:8080/v1", False, {}, ("openai", "gw.corp", 8080)),
    ],
)
def test_provider_from_base_url(base_url, azure, overrides, expected):
    from otel_tokens_openai._extract import provider_for

    assert provider_for(base_url, azure, overrides) == expected


def test_unknown_response_model_falls_back_to_the_requested_one_without_warning(
    server, client, telemetry, caplog
):
    server.enqueue(Scenario(model="acme-gateway-alias-7", prompt_tokens=100, completion_tokens=10))
    client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
    span = only_span(telemetry)
    assert span.attributes["gen_ai.usage.cost.amount"] == pytest.approx(
        cost(GPT_4O_MINI, input=100, output=10)
    )
    assert not [r for r in caplog.records if "acme-gateway-alias-7" in r.getMessage()]


def test_provider_follows_a_changed_base_url(server, client, telemetry):
    client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
    client.base_url = server.url.replace("127.0.0.1", "localhost") + "/v1"
    client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
    assert [s.attributes["server.address"] for s in telemetry.spans()] == ["127.0.0.1", "localhost"]
