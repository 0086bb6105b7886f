"""InvokeModel and InvokeModelWithResponseStream through real boto3, for each model family."""

from __future__ import annotations

import gc
import json

import pytest
from botocore.eventstream import EventStream
from botocore.exceptions import EventStreamError
from botocore.response import StreamingBody
from opentelemetry.trace import StatusCode
from otel_tokens_fake_providers import Scenario

from .helpers import (
    CLAUDE_3_HAIKU,
    CLAUDE_35_HAIKU,
    LLAMA3_70B,
    MISTRAL_7B,
    MISTRAL_LARGE_2402,
    NOVA_LITE,
    TITAN_EMBED_V2,
    TITAN_TEXT_EXPRESS,
    assert_no_secrets,
    cost,
    details,
    needs_service_tier,
    only_span,
    usage_of,
)

ANTHROPIC_BODY = {
    "anthropic_version": "bedrock-2023-05-31",
    "system": "Be brief.",
    "messages": [{"role": "user", "content": [{"type": "text", "text": "Say hello."}]}],
    "max_tokens": 64,
    "temperature": 0.3,
    "top_p": 0.9,
    "stop_sequences": ["END"],
}
NOVA_BODY = {
    "schemaVersion": "messages-v1",
    "system": [{"text": "Be brief."}],
    "messages": [{"role": "user", "content": [{"text": "Say hello."}]}],
    "inferenceConfig": {"max_new_tokens": 64, "temperature": 0.3, "topP": 0.9},
}
TITAN_BODY = {"inputText": "Say hello.", "textGenerationConfig": {"maxTokenCount": 64, "temperature": 0.3}}
LLAMA_BODY = {"prompt": "<s>[INST] Say hello. [/INST]", "max_gen_len": 64, "temperature": 0.3, "top_p": 0.9}
MISTRAL_BODY = {
    "prompt": "<s>[INST] Say hello. [/INST]",
    "max_tokens": 64,
    "temperature": 0.3,
    "stop": ["END"],
}
MISTRAL_CHAT_BODY = {"messages": [{"role": "user", "content": "Say hello."}], "max_tokens": 64}
CLAUDE_V2_BODY = {"prompt": "\n\nHuman: Say hello.\n\nAssistant:", "max_tokens_to_sample": 64}
COHERE_BODY = {"prompt": "Say hello.", "max_tokens": 64, "temperature": 0.3, "p": 0.9}
COHERE_R_BODY = {
    "message": "Say hello.",
    "chat_history": [{"role": "USER", "message": "Hi"}],
    "max_tokens": 64,
}
AI21_BODY = {"prompt": "Say hello.", "maxTokens": 64, "temperature": 0.3, "topP": 0.9}

# (model id, request body, operation, prices or None when unpriced, finish reason, response model)
FAMILIES = [
    ("anthropic.claude-3-haiku-20240307-v1:0", ANTHROPIC_BODY, "chat", CLAUDE_3_HAIKU, "end_turn",
     "claude-3-haiku-20240307"),
    ("us.amazon.nova-lite-v1:0", NOVA_BODY, "chat", NOVA_LITE, "end_turn", None),
    ("amazon.titan-text-express-v1", TITAN_BODY, "text_completion", TITAN_TEXT_EXPRESS, "FINISH", None),
    ("meta.llama3-70b-instruct-v1:0", LLAMA_BODY, "text_completion", LLAMA3_70B, "stop", None),
    ("mistral.mistral-7b-instruct-v0:2", MISTRAL_BODY, "text_completion", MISTRAL_7B, "stop", None),
    ("mistral.mistral-large-2402-v1:0", MISTRAL_CHAT_BODY, "chat", MISTRAL_LARGE_2402, "stop",
     "mistral.mistral-large-2402-v1:0"),
    ("anthropic.claude-v2:1", CLAUDE_V2_BODY, "text_completion", None, "stop_sequence", None),
    ("cohere.command-text-v14", COHERE_BODY, "text_completion", None, "COMPLETE", None),
    ("cohere.command-r-v1:0", COHERE_R_BODY, "chat", None, "COMPLETE", None),
    ("ai21.j2-mid-v1", AI21_BODY, "text_completion", None, "endoftext", None),
]  # fmt: skip
STREAMING = [f for f in FAMILIES if not f[0].startswith("ai21.")]
IDS = [f[0] for f in FAMILIES]


@pytest.mark.parametrize(
    ("model_id", "body", "operation", "prices", "reason", "response_model"), FAMILIES, ids=IDS
)
def test_invoke_model_per_family(
    server, client, telemetry, model_id, body, operation, prices, reason, response_model
):
    server.enqueue(Scenario(text="Hello!", prompt_tokens=21, completion_tokens=3))
    response = client.invoke_model(modelId=model_id, body=json.dumps(body))
    headers = response["ResponseMetadata"]["HTTPHeaders"]
    assert headers["x-amzn-bedrock-input-token-count"] == "21"
    assert telemetry.spans() == ()  # ends once the user has read the body
    payload = json.loads(response["body"].read())
    assert "Hello!" in json.dumps(payload)
    span = only_span(telemetry)
    assert span.name == f"{operation} {model_id}"
    assert span.attributes["gen_ai.operation.name"] == operation
    assert span.attributes["gen_ai.request.max_tokens"] == 64
    assert span.attributes["gen_ai.response.finish_reasons"] == (reason,)
    assert span.attributes.get("gen_ai.response.model") == response_model
    assert usage_of(span)["gen_ai.usage.input_tokens"] == 21
    assert usage_of(span)["gen_ai.usage.output_tokens"] == 3
    if prices is None:
        assert span.attributes["otel_tokens.price.missing"] is True
    else:
        assert span.attributes["gen_ai.usage.cost.amount"] == pytest.approx(
            cost(prices, input=21, output=3), rel=1e-9
        )
    assert_no_secrets(span)


def test_invoke_model_request_attributes(server, client, telemetry):
    client.invoke_model(modelId="anthropic.claude-3-haiku-20240307-v1:0", body=json.dumps(ANTHROPIC_BODY))[
        "body"
    ].read()
    attributes = only_span(telemetry).attributes
    assert {k: v for k, v in attributes.items() if k.startswith("gen_ai.request.")} == {
        "gen_ai.request.model": "anthropic.claude-3-haiku-20240307-v1:0",
        "gen_ai.request.max_tokens": 64,
        "gen_ai.request.temperature": 0.3,
        "gen_ai.request.top_p": 0.9,
        "gen_ai.request.stop_sequences": ("END",),
    }
    assert attributes["gen_ai.response.id"].startswith("msg_bdrk_")


def test_invoke_model_anthropic_cache_from_headers(server, client, telemetry):
    server.enqueue(Scenario(prompt_tokens=4, cached_tokens=18131, completion_tokens=50))
    body = client.invoke_model(
        modelId="anthropic.claude-3-5-haiku-20241022-v1:0", body=json.dumps(ANTHROPIC_BODY)
    )["body"].read()
    assert json.loads(body)["usage"]["cache_read_input_tokens"] == 18131
    span = only_span(telemetry)
    assert usage_of(span) == {
        "gen_ai.usage.input_tokens": 4 + 18131,
        "gen_ai.usage.output_tokens": 50,
        "gen_ai.usage.cache_read.input_tokens": 18131,
        "gen_ai.usage.cache_creation.input_tokens": 0,
    }
    assert span.attributes["gen_ai.usage.cost.amount"] == pytest.approx(
        cost(CLAUDE_35_HAIKU, input=4, cache_read=18131, output=50), rel=1e-9
    )
    assert details(telemetry) == {"cache_read": 18131}


def test_invoke_model_embeddings(server, client, telemetry):
    server.enqueue(Scenario(prompt_tokens=12, embedding_dims=4))
    response = client.invoke_model(
        modelId="amazon.titan-embed-text-v2:0", body=json.dumps({"inputText": "hello"})
    )
    assert json.loads(response["body"].read())["embedding"] == [0.1] * 4
    span = only_span(telemetry)
    assert span.name == "embeddings amazon.titan-embed-text-v2:0"
    assert usage_of(span) == {"gen_ai.usage.input_tokens": 12}
    assert span.attributes["gen_ai.usage.cost.amount"] == pytest.approx(
        cost(TITAN_EMBED_V2, input=12), rel=1e-9
    )


# -- the body stays the user's ----------------------------------------------------------------


def _invoke(client):
    return client.invoke_model(modelId="amazon.titan-text-express-v1", body=json.dumps(TITAN_BODY))


@pytest.mark.parametrize(
    "read",
    [
        lambda body: body.read(),
        lambda body: b"".join(iter(lambda: body.read(7), b"")),
        lambda body: b"".join(body.iter_chunks(16)),
        lambda body: b"\n".join(body.iter_lines()),
        lambda body: b"".join(body),
        lambda body: b"".join(body.readlines()),
    ],
    ids=["read", "read-amt", "iter_chunks", "iter_lines", "iterate", "readlines"],
)
def test_body_reads_are_unchanged_and_end_the_span_once(server, client, telemetry, read):
    server.enqueue(Scenario(text="Bonjour!", prompt_tokens=5, completion_tokens=2))
    response = _invoke(client)
    body = response["body"]
    assert isinstance(body, StreamingBody)
    data = read(body)
    assert json.loads(data)["results"][0]["outputText"] == "Bonjour!"
    del response, body
    gc.collect()
    span = only_span(telemetry)
    assert span.attributes["gen_ai.response.finish_reasons"] == ("FINISH",)
    assert usage_of(span) == {"gen_ai.usage.input_tokens": 5, "gen_ai.usage.output_tokens": 2}


def test_body_read_through_its_context_manager(server, client, telemetry):
    server.enqueue(Scenario(text="Hi", prompt_tokens=5, completion_tokens=1))
    with _invoke(client)["body"] as raw:
        data = raw.read()
    assert json.loads(data)["results"][0]["outputText"] == "Hi"
    assert only_span(telemetry).attributes["gen_ai.response.finish_reasons"] == ("FINISH",)


def test_unread_body_ends_on_garbage_collection_with_header_counts(server, client, telemetry):
    server.enqueue(Scenario(prompt_tokens=8, completion_tokens=2))
    response = _invoke(client)
    assert telemetry.spans() == ()
    del response
    gc.collect()
    span = only_span(telemetry)
    assert usage_of(span) == {"gen_ai.usage.input_tokens": 8, "gen_ai.usage.output_tokens": 2}
    assert "gen_ai.response.finish_reasons" not in span.attributes  # the body was never read


def test_body_closed_unread_ends_once(server, client, telemetry):
    server.enqueue(Scenario(prompt_tokens=8, completion_tokens=2))
    response = _invoke(client)
    response["body"].read(3)
    response["body"].close()
    response["body"].close()
    del response
    gc.collect()
    assert usage_of(only_span(telemetry)) == {"gen_ai.usage.input_tokens": 8, "gen_ai.usage.output_tokens": 2}


def test_body_without_usage_is_estimated_from_what_was_read(server, client, telemetry):
    server.enqueue(Scenario(text="Twelve chars", include_usage=False))
    response = client.invoke_model(modelId="meta.llama3-70b-instruct-v1:0", body=json.dumps(LLAMA_BODY))
    assert "x-amzn-bedrock-input-token-count" not in response["ResponseMetadata"]["HTTPHeaders"]
    response["body"].read()
    span = only_span(telemetry)
    assert span.attributes["otel_tokens.usage.estimated"] is True
    assert span.attributes["gen_ai.usage.output_tokens"] == 3  # ceil(12 bytes / 4)
    assert span.attributes["gen_ai.usage.input_tokens"] == 7  # ceil(28 bytes / 4)


def test_file_like_request_body_is_left_alone(server, client, telemetry):
    import io

    server.enqueue(Scenario(prompt_tokens=6, completion_tokens=2))
    client.invoke_model(
        modelId="amazon.titan-text-express-v1", body=io.BytesIO(json.dumps(TITAN_BODY).encode())
    )["body"].read()
    assert server.requests[-1].body == TITAN_BODY
    span = only_span(telemetry)
    assert span.attributes["gen_ai.operation.name"] == "text_completion"
    assert usage_of(span) == {"gen_ai.usage.input_tokens": 6, "gen_ai.usage.output_tokens": 2}


def test_invoke_model_error(server, client, telemetry):
    server.enqueue(Scenario(error_status=400, error_message="Malformed input request"))
    with pytest.raises(client.exceptions.ValidationException) as raised:
        client.invoke_model(modelId="amazon.titan-text-express-v1", body=json.dumps(TITAN_BODY))
    assert raised.value.response["Error"]["Message"] == "Malformed input request"
    assert only_span(telemetry).attributes["error.type"] == "ValidationException"


# -- InvokeModelWithResponseStream ----------------------------------------------------------


@pytest.mark.parametrize(
    ("model_id", "body", "operation", "prices", "reason", "response_model"),
    STREAMING,
    ids=[f[0] for f in STREAMING],
)
def test_invoke_stream_per_family(
    server, client, telemetry, model_id, body, operation, prices, reason, response_model
):
    server.enqueue(Scenario(text="Hello there, friend!", chunks=4, prompt_tokens=21, completion_tokens=5))
    response = client.invoke_model_with_response_stream(modelId=model_id, body=json.dumps(body))
    stream = response["body"]
    assert isinstance(stream, EventStream)
    chunks = [json.loads(event["chunk"]["bytes"]) for event in stream]
    assert chunks[-1]["amazon-bedrock-invocationMetrics"]["inputTokenCount"] == 21
    span = only_span(telemetry)
    assert span.attributes["gen_ai.request.stream"] is True
    assert span.attributes["gen_ai.response.finish_reasons"] == (reason,)
    assert span.attributes.get("gen_ai.response.model") == response_model
    assert usage_of(span)["gen_ai.usage.input_tokens"] == 21
    assert usage_of(span)["gen_ai.usage.output_tokens"] == 5
    assert "otel_tokens.usage.estimated" not in span.attributes
    if prices is not None:
        assert span.attributes["gen_ai.usage.cost.amount"] == pytest.approx(
            cost(prices, input=21, output=5), rel=1e-9
        )
    assert span.attributes["gen_ai.response.time_to_first_chunk"] > 0


def test_invoke_stream_without_metrics_uses_the_family_counts(server, client, telemetry):
    from otel_tokens_fake_providers import RawResponse
    from otel_tokens_fake_providers._bedrock_wire import EVENTSTREAM_CONTENT_TYPE, chunk_frame

    # A Titan stream whose last chunk carries no invocation metrics (e.g. guardrail-blocked input).
    chunk = {
        "outputText": "Input blocked",
        "index": 0.0,
        "totalOutputTextTokenCount": 3.0,
        "inputTextTokenCount": 6.0,
    }
    server.enqueue(RawResponse(200, chunk_frame(chunk), EVENTSTREAM_CONTENT_TYPE))
    stream = client.invoke_model_with_response_stream(
        modelId="amazon.titan-text-express-v1", body=json.dumps(TITAN_BODY)
    )
    assert len(list(stream["body"])) == 1
    assert usage_of(only_span(telemetry)) == {"gen_ai.usage.input_tokens": 6, "gen_ai.usage.output_tokens": 3}


def test_invoke_stream_anthropic_cache(server, client, telemetry):
    server.enqueue(
        Scenario(prompt_tokens=10, cached_tokens=300, cache_creation_tokens=40, completion_tokens=7)
    )
    body = client.invoke_model_with_response_stream(
        modelId="us.anthropic.claude-3-5-haiku-20241022-v1:0", body=json.dumps(ANTHROPIC_BODY)
    )["body"]
    for _ in body:
        pass
    span = only_span(telemetry)
    assert usage_of(span) == {
        "gen_ai.usage.input_tokens": 350,
        "gen_ai.usage.output_tokens": 7,
        "gen_ai.usage.cache_read.input_tokens": 300,
        "gen_ai.usage.cache_creation.input_tokens": 40,
    }
    assert span.attributes["gen_ai.usage.cost.amount"] == pytest.approx(
        cost(CLAUDE_35_HAIKU, input=10, cache_read=300, cache_write=40, output=7), rel=1e-9
    )


def test_invoke_stream_abandoned_closed_and_failing(server, client, telemetry):
    model, body = "meta.llama3-70b-instruct-v1:0", json.dumps(LLAMA_BODY)
    server.enqueue(Scenario(chunks=5, prompt_tokens=9, completion_tokens=10))
    stream = client.invoke_model_with_response_stream(modelId=model, body=body)["body"]
    next(iter(stream))
    del stream
    gc.collect()
    [abandoned] = telemetry.spans()
    # The first Llama chunk carries the prompt count and the cumulative generation count so far.
    assert usage_of(abandoned) == {"gen_ai.usage.input_tokens": 9, "gen_ai.usage.output_tokens": 2}

    server.enqueue(Scenario(chunks=5))
    stream = client.invoke_model_with_response_stream(modelId=model, body=body)["body"]
    next(iter(stream))
    stream.close()
    stream.close()
    assert len(telemetry.spans()) == 2

    server.enqueue(Scenario(chunks=5, fail_after_chunks=2))
    with pytest.raises(Exception) as raised:
        list(client.invoke_model_with_response_stream(modelId=model, body=body)["body"])
    failed = telemetry.spans()[2]
    assert failed.status.status_code is StatusCode.ERROR
    assert failed.attributes["error.type"] == type(raised.value).__qualname__

    server.enqueue(Scenario(chunks=5, error_type="throttlingException"))
    with pytest.raises(EventStreamError):
        list(client.invoke_model_with_response_stream(modelId=model, body=body)["body"])
    assert telemetry.spans()[3].attributes["error.type"] == "EventStreamError"
    assert len(telemetry.spans()) == 4


def test_invoke_stream_content_capture(server, client, telemetry, reinstrument):
    from otel_tokens import _runtime
    from otel_tokens._settings import Settings

    _runtime.set_settings(Settings(capture_content=True))
    reinstrument()
    server.enqueue(Scenario(text="Streamed reply.", chunks=3))
    body = client.invoke_model_with_response_stream(
        modelId="anthropic.claude-3-haiku-20240307-v1:0", body=json.dumps(ANTHROPIC_BODY)
    )["body"]
    list(body)
    span = only_span(telemetry)
    assert span.attributes["gen_ai.input.messages"] == (
        '[{"role": "system", "parts": [{"type": "text", "content": "Be brief."}]}, '
        '{"role": "user", "parts": [{"type": "text", "content": "Say hello."}]}]'
    )
    assert span.attributes["gen_ai.output.messages"] == (
        '[{"role": "assistant", "parts": [{"type": "text", "content": "Streamed reply."}], '
        '"finish_reason": "end_turn"}]'
    )
    assert_no_secrets(span)


@needs_service_tier
def test_invoke_model_served_service_tier_goes_to_pricing(server, client, telemetry, caplog):
    server.enqueue(Scenario(prompt_tokens=100, completion_tokens=10))
    response = client.invoke_model(
        modelId="us.amazon.nova-lite-v1:0", body=json.dumps(NOVA_BODY), serviceTier="flex"
    )
    assert response["serviceTier"] == "flex"
    response["body"].read()
    assert any("'flex' service-tier price" in r.getMessage() for r in caplog.records)
    assert only_span(telemetry).attributes["gen_ai.usage.input_tokens"] == 100
