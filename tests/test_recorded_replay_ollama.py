"""Every recorded exchange made with the ollama client, replayed through the fake server and the real SDK.

Checks that the server serves the recorded bytes faithfully, that the SDK sends the recorded request
to the recorded path, and that the counts the SDK exposes equal the recording's `expected_usage`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import ollama
import pytest
from otel_tokens_fake_providers import FakeProviderServer

from tests._recorded import exchange_params, raw_response

_COUNTS = ("prompt_eval_count", "eval_count")


@pytest.fixture(scope="module")
def server() -> Iterator[FakeProviderServer]:
    with FakeProviderServer() as fake:
        yield fake


def send(client: ollama.Client, exchange: dict[str, Any]) -> Any:
    """Make the recorded request with the SDK method that makes it (the SDK's own defaults aside)."""
    body = exchange["request"]["body"]
    given = {k: v for k, v in body.items() if k in ("model", "stream", "options", "system") and v}
    path = exchange["request"]["path"]
    if path == "/api/chat":
        return client.chat(messages=body["messages"], tools=body.get("tools") or None, **given)
    if path == "/api/generate":
        return client.generate(prompt=body["prompt"], **given)
    if path == "/api/embed":
        return client.embed(input=body["input"], **given)
    return client.embeddings(prompt=body["prompt"], **given)


def final_object(result: Any, exchange: dict[str, Any]) -> Any:
    """The response, or a stream's final ``done`` part (every part is consumed)."""
    if not exchange["stream"]:
        return result
    parts = list(result)
    assert parts and parts[-1].done is True
    return parts[-1]


@pytest.mark.parametrize("exchange", exchange_params(clients=["ollama"]))
def test_replay_exposes_recorded_usage(server: FakeProviderServer, exchange: dict[str, Any]) -> None:
    server.reset()
    server.enqueue(raw_response(exchange))

    final = final_object(send(ollama.Client(host=server.url), exchange), exchange)

    exposed = {key: getattr(final, key, None) for key in _COUNTS}
    expected = exchange["expected_usage"] or {}
    assert {k: v for k, v in exposed.items() if v is not None} == expected
    [request] = server.requests
    assert request.path == exchange["request"]["path"]
    if exchange["response_model"]:
        assert final.model == exchange["response_model"]
