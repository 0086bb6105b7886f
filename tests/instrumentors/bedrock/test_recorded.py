"""Every recorded real Bedrock exchange made with boto3, replayed through the instrumented SDK.

The usage we record must equal the usage Bedrock reported in the recording, mapped per the issue:
Bedrock's input count excludes the cache, so our input = input + cache reads + cache writes.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote

import pytest

from tests._recorded import exchange_params, raw_response

from .helpers import converse_reports_cache, only_span

_HEADER = "x-amzn-bedrock-"
_METRICS = "amazon-bedrock-invocationMetrics."


def model_id(exchange: dict[str, Any]) -> str:
    """The model id as the user passed it: the URL-decoded path segment after /model/."""
    return unquote(exchange["request"]["path"].split("/")[2])


def send(client: Any, exchange: dict[str, Any]) -> Any:
    """Call the boto3 method of the recorded operation; read what the user would read."""
    body, operation, model = exchange["request"]["body"], exchange["operation"], model_id(exchange)
    if operation == "converse":
        return client.converse(modelId=model, **body)
    if operation == "converse_stream":
        return list(client.converse_stream(modelId=model, **body)["stream"])
    if operation == "invoke_model":
        return client.invoke_model(modelId=model, body=json.dumps(body))["body"].read()
    return list(client.invoke_model_with_response_stream(modelId=model, body=json.dumps(body))["body"])


def reported_counts(exchange: dict[str, Any]) -> tuple[int, int, int | None, int | None]:
    """(input without cache, output, cache read, cache write) as the recording reports them."""
    usage = exchange["expected_usage"]
    operation = exchange["operation"]
    if operation.startswith("converse"):
        keys = ("inputTokens", "outputTokens", "cacheReadInputTokens", "cacheWriteInputTokens")
    elif operation == "invoke_model":
        keys = tuple(
            f"{_HEADER}{name}-token-count"
            for name in ("input", "output", "cache-read-input", "cache-write-input")
        )
    elif f"{_METRICS}inputTokenCount" in usage:
        keys = tuple(
            f"{_METRICS}{name}"
            for name in (
                "inputTokenCount",
                "outputTokenCount",
                "cacheReadInputTokenCount",
                "cacheWriteInputTokenCount",
            )
        )
    else:  # a stream without invocation metrics: the family's own counts (Titan)
        keys = ("inputTextTokenCount", "totalOutputTextTokenCount", "-", "-")
    if operation.startswith("converse") and not converse_reports_cache():
        keys = (*keys[:2], "-", "-")  # botocore < 1.37.24 drops them (see helpers)
    values = [usage.get(key) for key in keys]
    return int(values[0]), int(values[1]), values[2], values[3]


def expected_attributes(exchange: dict[str, Any]) -> dict[str, Any]:
    uncached, output, cache_read, cache_write = reported_counts(exchange)
    expected = {
        "gen_ai.usage.input_tokens": uncached + (cache_read or 0) + (cache_write or 0),
        "gen_ai.usage.output_tokens": output,
    }
    if cache_read is not None:
        expected["gen_ai.usage.cache_read.input_tokens"] = cache_read
    if cache_write is not None:
        expected["gen_ai.usage.cache_creation.input_tokens"] = cache_write
    return expected


@pytest.mark.parametrize("exchange", exchange_params(providers=["aws.bedrock"], clients=["boto3"]))
def test_recorded_usage_is_what_we_record(server, client, telemetry, exchange):
    server.enqueue(raw_response(exchange))
    received = send(client, exchange)
    span = only_span(telemetry)
    attributes = dict(span.attributes)
    expected = expected_attributes(exchange)
    assert {key: attributes.get(key) for key in expected} == expected
    assert "otel_tokens.usage.estimated" not in attributes
    assert attributes["gen_ai.provider.name"] == "aws.bedrock"
    assert attributes["gen_ai.request.model"] == model_id(exchange)
    if exchange["operation"] == "invoke_model":
        # The body reached the user byte for byte.
        assert received == exchange["response"]["body_text"].encode()
    if exchange["stream"]:
        assert received
        assert attributes["gen_ai.response.time_to_first_chunk"] > 0
    if exchange["response_model"]:
        assert attributes["gen_ai.response.model"] == exchange["response_model"]
    assert attributes.get("gen_ai.response.finish_reasons") or "guardrail" in exchange["file"]


@pytest.mark.parametrize(
    ("name", "input_total", "prices"),
    [
        # Claude 3.5 Haiku on Bedrock: $0.80 input, $0.08 cache read, $1.00 cache write, $4 output.
        ("invoke_claude35_haiku_cache_read.json", 4 + 18131, (4 * 0.80 + 18131 * 0.08 + 50 * 4.00)),
        ("invoke_claude35_haiku_cache_write.json", 4 + 18131, (4 * 0.80 + 18131 * 1.00 + 50 * 4.00)),
        # Claude 3.7 Sonnet through an inference-profile ARN: $3 input, $15 output.
        ("converse_claude37_cross_region_profile.json", 20, (20 * 3.00 + 72 * 15.00)),
        # Nova Lite through the us. cross-region profile: $0.06 input, $0.24 output.
        ("invoke_nova_lite_cross_region.json", 7, (7 * 0.06 + 53 * 0.24)),
    ],
)
def test_recorded_cache_and_profiles_are_priced(server, client, telemetry, name, input_total, prices):
    [exchange] = [
        p.values[0]
        for p in exchange_params(providers=["aws.bedrock"], clients=["boto3"])
        if p.values[0] is not None and p.values[0]["file"].endswith(name)
    ] or [pytest.skip("recording not found")]
    server.enqueue(raw_response(exchange))
    send(client, exchange)
    attributes = only_span(telemetry).attributes
    assert attributes["gen_ai.usage.input_tokens"] == input_total
    assert attributes["gen_ai.usage.cost.amount"] == pytest.approx(prices / 1e6, rel=1e-9)
