"""Every recorded exchange made with the mistralai client, replayed through the fake server and the real SDK.

Checks that the server serves recorded bytes faithfully, that the SDK sends the recorded request to the
recorded path, and that the usage the SDK exposes equals the recording's `expected_usage`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from otel_tokens_fake_providers import FakeProviderServer

from tests._recorded import exchange_params, expected_path, raw_response
from tests.instrumentors.mistralai.sdk import Mistral


@pytest.fixture(scope="module")
def server() -> Iterator[FakeProviderServer]:
    with FakeProviderServer() as fake:
        yield fake


def send(client: Mistral, exchange: dict[str, Any]) -> Any:
    """Call the SDK method that made the recorded request, with the recorded body's arguments."""
    body = dict(exchange["request"]["body"])
    if exchange["operation"] == "embeddings":
        return client.embeddings.create(model=body.pop("model"), inputs=body.pop("input"), **body)
    stream = body.pop("stream", False)
    return client.chat.stream(**body) if stream else client.chat.complete(**body)


def flat_usage(usage: Any) -> dict[str, Any] | None:
    """The SDK's usage object in the recordings' `expected_usage` form (numeric fields only)."""
    if usage is None:
        return None
    data = usage.model_dump()
    flat = {k: v for k, v in data.items() if isinstance(v, int | float) and not isinstance(v, bool)}
    cached = (data.get("prompt_tokens_details") or {}).get("cached_tokens")
    if cached is not None:
        flat["cached_tokens"] = cached
    return flat


def exposed_usage(result: Any, exchange: dict[str, Any]) -> dict[str, Any] | None:
    if not exchange["stream"]:
        return flat_usage(result.usage)
    usage = None
    for event in result:
        if event.data.usage is not None:
            usage = event.data.usage  # the last chunk that carries usage wins
    return flat_usage(usage)


@pytest.mark.parametrize("exchange", exchange_params(clients=["mistralai"]))
def test_replay_exposes_recorded_usage(server: FakeProviderServer, exchange: dict[str, Any]) -> None:
    server.reset()
    server.enqueue(raw_response(exchange))

    client = Mistral(api_key="x", server_url=server.url)  # kept alive: 1.x streams do not hold it
    result = send(client, exchange)
    usage = exposed_usage(result, exchange)

    assert usage == exchange["expected_usage"]
    [request] = server.requests
    assert request.target == expected_path(exchange)
    assert request.body == exchange["request"]["body"]
