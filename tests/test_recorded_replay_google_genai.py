"""Every recorded google-genai exchange, replayed through the fake server and the real SDK.

Checks that the server serves recorded bytes faithfully, that the SDK sends the recorded request to the
recorded path, and that the usage the SDK exposes equals the recording's `expected_usage`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from google import genai
from google.genai import types
from otel_tokens_fake_providers import FakeProviderServer

from tests._recorded import exchange_params, expected_path, raw_response

_MODEL_IN_PATH = re.compile(r"/models/([^/:]+):")


@pytest.fixture(scope="module")
def server() -> Iterator[FakeProviderServer]:
    with FakeProviderServer() as fake:
        yield fake


def send(client: genai.Client, exchange: dict[str, Any]) -> Any:
    """The recorded request through the SDK: model from the path, contents from the body.

    Returns the response (a stream is consumed and its chunks returned as a list).
    """
    match = _MODEL_IN_PATH.search(exchange["request"]["path"])
    assert match, exchange["request"]["path"]
    body = exchange["request"]["body"]
    if exchange["stream"]:
        return list(client.models.generate_content_stream(model=match[1], contents=body["contents"]))
    return client.models.generate_content(model=match[1], contents=body["contents"])


def gemini_client(url: str) -> genai.Client:
    return genai.Client(api_key="x", http_options=types.HttpOptions(base_url=url, api_version="v1beta"))


def exposed_usage(result: Any) -> dict[str, Any] | None:
    """The SDK's usage_metadata (of the last chunk for a stream), in the recordings' camelCase form."""
    response = result[-1] if isinstance(result, list) else result
    if response.usage_metadata is None:
        return None
    data = response.usage_metadata.model_dump(exclude_none=True)
    return {
        re.sub(r"_(\w)", lambda m: m[1].upper(), key): value
        for key, value in data.items()
        if isinstance(value, int) and not isinstance(value, bool)
    }


@pytest.mark.parametrize("exchange", exchange_params(clients=["google-genai"]))
def test_replay_exposes_recorded_usage(server: FakeProviderServer, exchange: dict[str, Any]) -> None:
    server.reset()
    server.enqueue(raw_response(exchange))

    result = send(gemini_client(server.url), exchange)

    assert exposed_usage(result) == exchange["expected_usage"]
    [request] = server.requests
    assert request.target == expected_path(exchange)
    assert request.body == exchange["request"]["body"]
