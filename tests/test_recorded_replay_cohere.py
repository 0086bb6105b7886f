"""Every recorded exchange made with the cohere client, replayed through the fake server and the real SDK.

Checks that the SDK sends the recorded request to the recorded path and that the usage it exposes equals
the recording's `expected_usage` (`billed_units.*` and `tokens.*`, dotted).
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from typing import Any

import cohere
import pytest
from otel_tokens_fake_providers import FakeProviderServer

from tests._recorded import exchange_params, expected_path, raw_response


@pytest.fixture(scope="module")
def server() -> Iterator[FakeProviderServer]:
    with FakeProviderServer() as fake:
        yield fake


def client_for(exchange: dict[str, Any], url: str) -> Any:
    """The client that made the recorded request: v1 `Client` for /v1 paths, `ClientV2` for /v2."""
    cls = cohere.ClientV2 if exchange["request"]["path"].startswith("/v2/") else cohere.Client
    kwargs: dict[str, Any] = {"api_key": "x", "base_url": url}
    if "max_retries" in inspect.signature(cls.__init__).parameters:
        kwargs["max_retries"] = 0
    return cls(**kwargs)


def send(client: Any, exchange: dict[str, Any]) -> Any:
    """Call the SDK method that sends the recorded body (streams: the `*_stream` method)."""
    body = dict(exchange["request"]["body"])
    stream = body.pop("stream", False)
    name = exchange["request"]["path"].rsplit("/", 1)[-1] + ("_stream" if stream else "")
    method = getattr(client, name)
    parameter = inspect.signature(method).parameters.get("embedding_types")
    if (
        parameter is not None
        and parameter.default is inspect.Parameter.empty
        and "embedding_types" not in body
    ):
        body["embedding_types"] = ["float"]  # required by older releases; the API's default
    return method(**body)


def _dotted(container: Any) -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for group in ("billed_units", "tokens"):
        values = getattr(container, group, None)
        for key, value in (values.dict(exclude_none=True) if values is not None else {}).items():
            if key not in ("classifications", "images", "pages"):
                flat[f"{group}.{key}"] = value
    return flat


def exposed_usage(result: Any, exchange: dict[str, Any]) -> dict[str, Any]:
    """The usage the SDK gives the user, in the recordings' dotted form."""
    if not exchange["stream"]:
        return _dotted(getattr(result, "usage", None) or result.meta)
    usage: dict[str, Any] = {}
    for event in result:
        kind = getattr(event, "type", None) or getattr(event, "event_type", None)
        if kind == "message-end":
            usage = _dotted(event.delta.usage)
        elif kind == "stream-end":
            usage = _dotted(event.response.meta)
    return usage


@pytest.mark.parametrize("exchange", exchange_params(clients=["cohere"]))
def test_replay_exposes_recorded_usage(server: FakeProviderServer, exchange: dict[str, Any]) -> None:
    server.reset()
    server.enqueue(raw_response(exchange))

    usage = exposed_usage(send(client_for(exchange, server.url), exchange), exchange)

    assert usage == exchange["expected_usage"]
    [request] = server.requests
    assert request.target == expected_path(exchange)
    recorded = exchange["request"]["body"]
    # Releases differ on whether they send `"stream": false`, and older ones must send embedding_types;
    # everything else is the recorded body.
    optional = {"stream", "embedding_types"}
    assert {k: v for k, v in request.body.items() if k not in optional} == {
        k: v for k, v in recorded.items() if k not in optional
    }
