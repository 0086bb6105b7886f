"""generate, embed and the legacy embeddings, through clients and the module-level functions."""

from __future__ import annotations

import inspect

import ollama
import pytest
from otel_tokens_fake_providers import Scenario

from otel_tokens.tokenize import Tokenizer

from .helpers import MESSAGES, only_span, token_points


def _sdk_accepts(method: object, parameter: str) -> bool:
    return parameter in inspect.signature(method).parameters  # type: ignore[arg-type]


needs_think = pytest.mark.skipif(
    not _sdk_accepts(ollama.Client.generate, "think"), reason="this ollama SDK has no `think`"
)
needs_dimensions = pytest.mark.skipif(
    not _sdk_accepts(ollama.Client.embed, "dimensions"), reason="this ollama SDK has no `dimensions`"
)


def test_generate(server, client, telemetry):
    server.enqueue(Scenario(text="A joke.", prompt_tokens=17, completion_tokens=63))
    response = client.generate(model="llama3", prompt="Tell me a joke", options={"temperature": 1.0})
    assert response.response == "A joke." and response.context
    span = only_span(telemetry)
    assert span.name == "text_completion llama3"
    assert {
        k: v for k, v in span.attributes.items() if not k.startswith(("otel_tokens.", "gen_ai.usage.cost"))
    } == {
        "gen_ai.operation.name": "text_completion",
        "gen_ai.provider.name": "ollama",
        "gen_ai.request.model": "llama3",
        "server.address": "127.0.0.1",
        "server.port": server.port,
        "gen_ai.request.temperature": 1.0,
        "gen_ai.response.model": "llama3",
        "gen_ai.response.finish_reasons": ("stop",),
        "gen_ai.usage.input_tokens": 17,
        "gen_ai.usage.output_tokens": 63,
    }
    assert span.attributes["otel_tokens.price.source"] == "local-model"


async def test_async_generate(server, async_client, telemetry):
    server.enqueue(Scenario(prompt_tokens=4, completion_tokens=2, finish_reason="length"))
    await async_client.generate(model="gemma3:1b", prompt="Hi")
    span = only_span(telemetry)
    assert span.attributes["gen_ai.response.finish_reasons"] == ("length",)
    assert span.attributes["gen_ai.usage.input_tokens"] == 4


def test_generate_estimate_counts_system_prompt_and_context(server, client, telemetry):
    server.enqueue(Scenario(text="Sure.", include_usage=False))
    client.generate(model="llama3", prompt="And another?", system="Be funny.", context=[1, 2, 3, 4, 5])
    span = only_span(telemetry)
    framed = Tokenizer().count_chat_input(
        "llama3", [{"role": "system", "content": "Be funny."}, {"role": "user", "content": "And another?"}]
    )
    assert span.attributes["gen_ai.usage.input_tokens"] == framed.tokens + 5  # one token per context id
    assert span.attributes["gen_ai.usage.output_tokens"] == Tokenizer().count_text("llama3", "Sure.").tokens
    assert span.attributes["otel_tokens.usage.estimated"] is True


def test_raw_generate_estimate_has_no_framing(server, client, telemetry):
    prompt = "<|start|>user: hello<|end|>"
    server.enqueue(Scenario(include_usage=False))
    client.generate(model="llama3", prompt=prompt, raw=True)
    assert (
        only_span(telemetry).attributes["gen_ai.usage.input_tokens"]
        == Tokenizer().count_text(None, prompt).tokens
    )


@needs_think
def test_generate_thinking_is_output(server, client, telemetry):
    server.enqueue(
        Scenario(include_usage=False, text="42.", usage_fields={"thinking": "Six times seven is forty-two."})
    )
    response = client.generate(model="qwen3", prompt="6*7?", think=True)
    assert response.thinking == "Six times seven is forty-two."
    expected = Tokenizer().count_text("qwen3", "Six times seven is forty-two.42.").tokens
    assert only_span(telemetry).attributes["gen_ai.usage.output_tokens"] == expected


@pytest.mark.parametrize("value", ["one text", ["first text", "second text"]])
def test_embed(server, client, telemetry, value):
    server.enqueue(Scenario(prompt_tokens=6, embedding_dims=16))
    response = client.embed(model="all-minilm", input=value)
    assert len(response.embeddings) == (1 if isinstance(value, str) else 2)
    span = only_span(telemetry)
    assert span.name == "embeddings all-minilm"
    assert {k: v for k, v in span.attributes.items() if k.startswith("gen_ai.")} == {
        "gen_ai.operation.name": "embeddings",
        "gen_ai.provider.name": "ollama",
        "gen_ai.request.model": "all-minilm",
        "gen_ai.response.model": "all-minilm",
        "gen_ai.embeddings.dimension.count": 16,
        "gen_ai.usage.input_tokens": 6,  # embeddings have no output tokens: none is reported
        "gen_ai.usage.cost.amount": 0.0,
        "gen_ai.usage.cost.currency": "USD",
        "gen_ai.usage.cost.source": "local",
    }
    assert set(token_points(telemetry)) == {"input"}


@needs_dimensions
async def test_async_embed_with_dimensions(server, async_client, telemetry):
    await async_client.embed(model="nomic-embed-text", input=["a", "b"], dimensions=4)
    span = only_span(telemetry)
    assert span.attributes["gen_ai.embeddings.dimension.count"] == 4


def test_legacy_embeddings_have_no_counts_and_are_estimated(server, client, telemetry):
    response = client.embeddings(model="llama3", prompt="all-minilm")
    assert len(response.embedding) == 8
    span = only_span(telemetry)
    assert span.attributes["gen_ai.operation.name"] == "embeddings"
    assert "gen_ai.response.model" not in span.attributes  # the response names no model
    assert (
        span.attributes["gen_ai.usage.input_tokens"] == Tokenizer().count_text("llama3", "all-minilm").tokens
    )
    assert span.attributes["otel_tokens.usage.estimated"] is True
    assert "gen_ai.usage.output_tokens" not in span.attributes


async def test_async_legacy_embeddings(server, async_client, telemetry):
    await async_client.embeddings(model="llama3", prompt="hello")
    assert only_span(telemetry).attributes["otel_tokens.usage.estimated"] is True


@pytest.mark.parametrize(
    ("call", "operation"),
    [
        (lambda: ollama.chat(model="llama3", messages=MESSAGES), "chat"),
        (lambda: list(ollama.chat(model="llama3", messages=MESSAGES, stream=True)), "chat"),
        (lambda: ollama.generate(model="llama3", prompt="Hi"), "text_completion"),
        (lambda: ollama.embed(model="all-minilm", input="Hi"), "embeddings"),
        (lambda: ollama.embeddings(model="all-minilm", prompt="Hi"), "embeddings"),
    ],
)
def test_module_level_functions_record_one_span(server, telemetry, default_client, call, operation):
    call()
    span = only_span(telemetry)
    assert span.attributes["gen_ai.operation.name"] == operation
    assert span.attributes["server.port"] == server.port
    assert len(telemetry.points("gen_ai.client.operation.duration")) == 1
    assert len(server.requests) == 1
