"""Every recorded Bedrock exchange made with boto3, replayed uninstrumented through the fake server.

Checks that the server serves the recorded bytes (JSON and AWS event-stream) faithfully, that boto3
sends the recorded request to the recorded path, and that the token counts boto3 exposes (body,
response headers, stream events and chunks) equal the recording's `expected_usage`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from otel_tokens_fake_providers import FakeProviderServer

from tests._recorded import exchange_params, expected_path, raw_response
from tests.instrumentors.bedrock.helpers import converse_reports_cache
from tests.instrumentors.bedrock.test_recorded import model_id

_METRICS = "amazon-bedrock-invocationMetrics"
# boto3 drops these unmodeled duplicates of cacheRead/WriteInputTokens from a Converse result
# (and, before botocore 1.37.24, cacheRead/WriteInputTokens themselves).
_UNMODELED = {"cacheReadInputTokenCount", "cacheWriteInputTokenCount"}


@pytest.fixture(scope="module")
def server() -> Iterator[FakeProviderServer]:
    with FakeProviderServer() as fake:
        yield fake


def _find(value: Any, key: str) -> Any:
    """The last scalar value of ``key`` anywhere in a JSON document, or None."""
    found = None
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for name, item in items:
        inner = item if name == key and not isinstance(item, dict | list) else _find(item, key)
        if inner is not None:
            found = inner
    return found


def _exposed(client: Any, exchange: dict[str, Any]) -> dict[str, Any]:
    """What boto3 hands the user, in the recording's `expected_usage` form."""
    body, operation, model = exchange["request"]["body"], exchange["operation"], model_id(exchange)
    if operation == "converse":
        usage = client.converse(modelId=model, **body)["usage"]
        return {k: v for k, v in usage.items() if isinstance(v, int)}
    if operation == "converse_stream":
        events = list(client.converse_stream(modelId=model, **body)["stream"])
        usage = [e["metadata"]["usage"] for e in events if "metadata" in e][-1]
        return {k: v for k, v in usage.items() if isinstance(v, int)}
    expected = exchange["expected_usage"]
    if operation == "invoke_model":
        response = client.invoke_model(modelId=model, body=json.dumps(body))
        headers = response["ResponseMetadata"]["HTTPHeaders"]
        docs: list[Any] = [json.loads(response["body"].read())]
    else:
        response = client.invoke_model_with_response_stream(modelId=model, body=json.dumps(body))
        headers = {}
        docs = [json.loads(event["chunk"]["bytes"]) for event in response["body"]]
    exposed: dict[str, Any] = {}
    for key in expected:
        if key.startswith("x-amzn-bedrock-"):
            exposed[key] = int(headers[key])
        elif key.startswith(_METRICS + "."):
            exposed[key] = _find([d.get(_METRICS) for d in docs], key.split(".", 1)[1])
        else:
            exposed[key] = _find(docs, key)
    return exposed


@pytest.mark.parametrize("exchange", exchange_params(providers=["aws.bedrock"], clients=["boto3"]))
def test_replay_exposes_recorded_usage(server: FakeProviderServer, exchange: dict[str, Any]) -> None:
    server.reset()
    server.enqueue(raw_response(exchange))
    client = boto3.client(
        "bedrock-runtime",
        endpoint_url=server.url,
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
        config=Config(retries={"total_max_attempts": 1}),
    )

    exposed = _exposed(client, exchange)

    expected = dict(exchange["expected_usage"])
    if exchange["operation"] == "converse":
        expected = {k: v for k, v in expected.items() if k not in _UNMODELED}
    if exchange["operation"].startswith("converse") and not converse_reports_cache():
        expected = {k: v for k, v in expected.items() if not k.startswith("cache")}
    assert exposed == expected
    [request] = server.requests
    assert request.target == expected_path(exchange)
    assert request.body == exchange["request"]["body"]
