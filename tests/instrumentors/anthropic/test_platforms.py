"""AnthropicBedrock (aws.bedrock), AnthropicVertex (gcp.vertex_ai) and legacy Text Completions."""

from __future__ import annotations

import json

import anthropic
import pytest
import wrapt
from otel_tokens_fake_providers import RawResponse, Scenario

from .helpers import HAIKU_3, HAIKU_4_5, MESSAGES, MODEL, cost, event_stream_frame, only_span, subset

BEDROCK_MODEL = "us.anthropic.claude-3-haiku-20240307-v1:0"
VERTEX_MODEL = "claude-haiku-4-5@20251001"


def bedrock(cls, server):
    return cls(
        aws_region="us-east-1",
        aws_access_key="AKIDEXAMPLE",
        aws_secret_key="not-a-secret",
        base_url=server.url,
        max_retries=0,
    )


def vertex(cls, server):
    return cls(
        region="us-east5", project_id="demo-project", access_token="ya29.test", base_url=server.url + "/v1"
    )


def bedrock_message(input_tokens: int, output_tokens: int, **usage: int) -> str:
    return json.dumps(
        {
            "id": "msg_bdrk_01",
            "type": "message",
            "role": "assistant",
            "model": "claude-3-haiku-20240307",
            "content": [{"type": "text", "text": "Hi!"}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": {"input_tokens": input_tokens, "output_tokens": output_tokens, **usage},
        }
    )


def bedrock_stream(input_tokens: int, output_tokens: int) -> bytes:
    start = json.loads(bedrock_message(input_tokens, 1))
    start.update(content=[], stop_reason=None)
    events = [
        {"type": "message_start", "message": start},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hi!"}},
        {"type": "content_block_stop", "index": 0},
        {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn"},
            "usage": {"output_tokens": output_tokens},
        },
        {
            "type": "message_stop",
            "amazon-bedrock-invocationMetrics": {
                "inputTokenCount": input_tokens,
                "outputTokenCount": output_tokens,
            },
        },
    ]
    return b"".join(event_stream_frame(event) for event in events)


BEDROCK_PATH = "/model/us.anthropic.claude-3-haiku-20240307-v1:0"


def test_bedrock_create(server, telemetry):
    server.enqueue(
        RawResponse(
            200,
            bedrock_message(17, 50, cache_read_input_tokens=8, cache_creation_input_tokens=0),
            expect_path=BEDROCK_PATH + "/invoke",
        )
    )
    client = bedrock(anthropic.AnthropicBedrock, server)
    client.messages.create(model=BEDROCK_MODEL, max_tokens=100, messages=MESSAGES)
    span = only_span(telemetry)
    expected = {
        "gen_ai.provider.name": "aws.bedrock",
        "gen_ai.request.model": BEDROCK_MODEL,
        "gen_ai.response.model": "claude-3-haiku-20240307",
        "server.address": "127.0.0.1",
        "server.port": server.port,
        "gen_ai.usage.input_tokens": 25,
        "gen_ai.usage.output_tokens": 50,
        "gen_ai.usage.cache_read.input_tokens": 8,
    }
    assert subset(span.attributes, expected) == expected
    # Claude 3 Haiku's cache-read price is not in the data, so reads cost the input rate.
    assert span.attributes["gen_ai.usage.cost.amount"] == pytest.approx(cost(HAIKU_3, input=25, output=50))


async def test_bedrock_async_stream(server, telemetry):
    server.enqueue(
        RawResponse(
            200,
            bedrock_stream(17, 50),
            content_type="application/vnd.amazon.eventstream",
            expect_path=BEDROCK_PATH + "/invoke-with-response-stream",
        )
    )
    client = bedrock(anthropic.AsyncAnthropicBedrock, server)
    stream = await client.messages.create(model=BEDROCK_MODEL, max_tokens=100, messages=MESSAGES, stream=True)
    texts = [event.delta.text async for event in stream if event.type == "content_block_delta"]
    assert texts == ["Hi!"]
    span = only_span(telemetry)
    expected = {
        "gen_ai.provider.name": "aws.bedrock",
        "gen_ai.usage.input_tokens": 17,
        "gen_ai.usage.output_tokens": 50,
        "gen_ai.request.stream": True,
    }
    assert subset(span.attributes, expected) == expected
    assert span.attributes["gen_ai.usage.cost.amount"] == pytest.approx(cost(HAIKU_3, input=17, output=50))


def test_bedrock_stream_helper(server, telemetry):
    server.enqueue(
        RawResponse(
            200,
            bedrock_stream(17, 50),
            content_type="application/vnd.amazon.eventstream",
            expect_path=BEDROCK_PATH + "/invoke-with-response-stream",
        )
    )
    client = bedrock(anthropic.AnthropicBedrock, server)
    with client.messages.stream(model=BEDROCK_MODEL, max_tokens=100, messages=MESSAGES) as stream:
        assert stream.get_final_text() == "Hi!"
    span = only_span(telemetry)
    assert (span.attributes["gen_ai.usage.input_tokens"], span.attributes["gen_ai.usage.output_tokens"]) == (
        17,
        50,
    )


def test_bedrock_beta_messages(server, telemetry):
    server.enqueue(RawResponse(200, bedrock_message(5, 6), expect_path=BEDROCK_PATH + "/invoke"))
    client = bedrock(anthropic.AnthropicBedrock, server)
    client.beta.messages.create(model=BEDROCK_MODEL, max_tokens=100, messages=MESSAGES)
    span = only_span(telemetry)
    assert span.attributes["gen_ai.provider.name"] == "aws.bedrock"
    assert span.attributes["gen_ai.usage.input_tokens"] == 5


def test_vertex_create_and_stream(server, telemetry):
    client = vertex(anthropic.AnthropicVertex, server)
    server.enqueue(Scenario(prompt_tokens=20, cached_tokens=10, completion_tokens=4))
    client.messages.create(model=VERTEX_MODEL, max_tokens=100, messages=MESSAGES)
    server.enqueue(Scenario(prompt_tokens=21, completion_tokens=5))
    with client.messages.stream(model=VERTEX_MODEL, max_tokens=100, messages=MESSAGES) as stream:
        stream.until_done()
    plain, streamed = telemetry.spans()
    path = (
        "/v1/projects/demo-project/locations/us-east5/publishers/anthropic/models/claude-haiku-4-5@20251001"
    )
    assert [r.path for r in server.requests] == [path + ":rawPredict", path + ":streamRawPredict"]
    expected = {
        "gen_ai.provider.name": "gcp.vertex_ai",
        "gen_ai.request.model": VERTEX_MODEL,
        "gen_ai.response.model": VERTEX_MODEL,
        "gen_ai.usage.input_tokens": 30,
        "gen_ai.usage.cache_read.input_tokens": 10,
        "gen_ai.usage.output_tokens": 4,
    }
    assert subset(plain.attributes, expected) == expected
    assert plain.attributes["gen_ai.usage.cost.amount"] == pytest.approx(
        cost(HAIKU_4_5, input=20, cache_read=10, output=4)
    )
    assert (
        streamed.attributes["gen_ai.usage.input_tokens"],
        streamed.attributes["gen_ai.usage.output_tokens"],
    ) == (
        21,
        5,
    )


async def test_vertex_async_and_count_tokens(server, telemetry):
    client = vertex(anthropic.AsyncAnthropicVertex, server)
    server.enqueue(Scenario(prompt_tokens=7, completion_tokens=3))
    await client.messages.create(model=VERTEX_MODEL, max_tokens=100, messages=MESSAGES)
    server.enqueue(Scenario(prompt_tokens=7))
    counted = await client.messages.count_tokens(model=VERTEX_MODEL, messages=MESSAGES)
    assert counted.input_tokens == 7
    assert server.requests[-1].path.endswith("/count-tokens:rawPredict")
    span = only_span(telemetry)  # count_tokens is not billed: no second span
    assert span.attributes["gen_ai.provider.name"] == "gcp.vertex_ai"


def test_host_override_wins(server, client, telemetry, reinstrument):
    from otel_tokens import _runtime
    from otel_tokens._settings import Settings

    _runtime.set_settings(Settings(provider_hosts={"127.0.0.1": "acme-gateway"}))
    reinstrument()
    client.messages.create(model=MODEL, max_tokens=10, messages=MESSAGES)
    assert only_span(telemetry).attributes["gen_ai.provider.name"] == "acme-gateway"


@pytest.mark.skipif(
    not hasattr(anthropic.Anthropic, "completions"), reason="no legacy completions in this SDK"
)
def test_legacy_completions_plain_and_stream(server, client, telemetry):  # pragma: no cover - anthropic < 1
    from otel_tokens.tokenize import Tokenizer

    prompt = "\n\nHuman: Say hello.\n\nAssistant:"
    server.enqueue(Scenario(text=" Hello!"))
    completion = client.completions.create(model="claude-2.1", max_tokens_to_sample=20, prompt=prompt)
    assert completion.completion == " Hello!"
    server.enqueue(Scenario(text=" Hello again!", chunks=3))
    pieces = [
        event.completion
        for event in client.completions.create(
            model="claude-2.1", max_tokens_to_sample=20, prompt=prompt, stream=True
        )
    ]
    assert "".join(pieces) == " Hello again!"
    plain, streamed = telemetry.spans()
    reference = Tokenizer()
    for span, text in ((plain, " Hello!"), (streamed, " Hello again!")):
        assert span.attributes["gen_ai.operation.name"] == "text_completion"
        assert span.attributes["gen_ai.request.max_tokens"] == 20
        assert span.attributes["gen_ai.response.finish_reasons"] == ("stop_sequence",)
        # The API reports no usage for legacy completions: counted locally, and flagged.
        assert span.attributes["otel_tokens.usage.estimated"] is True
        assert (
            span.attributes["gen_ai.usage.input_tokens"] == reference.count_text("claude-2.1", prompt).tokens
        )
        assert (
            span.attributes["gen_ai.usage.output_tokens"] == reference.count_text("claude-2.1", text).tokens
        )


def test_instrumentor_is_a_no_op_when_anthropic_is_not_installed(monkeypatch):
    from otel_tokens_anthropic import AnthropicInstrumentor

    from otel_tokens import _dependencies
    from otel_tokens.testing import InMemoryTelemetry

    monkeypatch.setattr(_dependencies, "installed_version", lambda package: None)
    memory = InMemoryTelemetry()
    instrumentor = AnthropicInstrumentor()
    instrumentor.instrument(tracer_provider=memory.tracer_provider, meter_provider=memory.meter_provider)
    try:
        assert not instrumentor.patches_applied
        assert not isinstance(anthropic.resources.messages.Messages.__dict__["create"], wrapt.FunctionWrapper)
    finally:
        instrumentor.uninstrument()
