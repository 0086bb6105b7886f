"""Every recorded exchange made with the openai client, replayed through the fake server and the real SDK.

Checks that the server serves recorded bytes faithfully, that the SDK sends the recorded request to the
recorded path, and that the usage the SDK exposes equals the recording's `expected_usage`.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs

import openai
import pytest
from otel_tokens_fake_providers import FakeProviderServer

from tests._recorded import exchange_params, expected_path, raw_response

_RESOURCES = {
    "chat": ("chat", "completions"),
    "text_completion": ("completions",),
    "embeddings": ("embeddings",),
    "responses": ("responses",),
}
_DETAILS = (
    ("prompt_tokens_details", "cached_tokens"),
    ("input_tokens_details", "cached_tokens"),
    ("completion_tokens_details", "reasoning_tokens"),
    ("output_tokens_details", "reasoning_tokens"),
)


@pytest.fixture(scope="module")
def server() -> Iterator[FakeProviderServer]:
    with FakeProviderServer() as fake:
        yield fake


def _client(exchange: dict[str, Any], url: str) -> openai.OpenAI:
    request = exchange["request"]
    if exchange["provider"] == "azure_openai":
        match = re.match(r"^/openai/deployments/([^/]+)/", request["path"])
        assert match, request["path"]
        return openai.AzureOpenAI(
            azure_endpoint=url,
            azure_deployment=match[1],
            api_version=parse_qs(request["query"])["api-version"][0],
            api_key="x",
            max_retries=0,
        )
    prefix = "/beta" if exchange["provider"] == "deepseek" else "/v1"
    return openai.OpenAI(base_url=url + prefix, api_key="x", max_retries=0)


def _send(client: openai.OpenAI, exchange: dict[str, Any]) -> Any:
    """Call the SDK method for the operation; body keys it has no parameter for go in extra_body."""
    resource: Any = client
    for name in _RESOURCES[exchange["operation"]]:
        resource = getattr(resource, name)
    accepted = inspect.signature(resource.create).parameters
    body = exchange["request"]["body"]
    kwargs = {k: v for k, v in body.items() if k in accepted}
    extra = {k: v for k, v in body.items() if k not in accepted}
    if extra:
        kwargs["extra_body"] = extra
    return resource.create(**kwargs)


def _flat_usage(usage: Any) -> dict[str, Any] | None:
    """The SDK's usage object in the recordings' `expected_usage` form."""
    if usage is None:
        return None
    data = usage.model_dump(exclude_none=True)
    flat = {k: v for k, v in data.items() if isinstance(v, int | float) and not isinstance(v, bool)}
    for details, key in _DETAILS:
        if isinstance(data.get(details), dict) and data[details].get(key) is not None:
            flat[key] = data[details][key]
    return flat


def _exposed_usage(result: Any, exchange: dict[str, Any]) -> dict[str, Any] | None:
    if not exchange["stream"]:
        return _flat_usage(result.usage)
    usage = None
    for event in result:
        if exchange["operation"] == "responses":
            if event.type == "response.completed":
                usage = event.response.usage
        elif event.usage is not None:
            usage = event.usage  # the last chunk that carries usage wins
    return _flat_usage(usage)


@pytest.mark.parametrize("exchange", exchange_params(clients=["openai"]))
def test_replay_exposes_recorded_usage(server: FakeProviderServer, exchange: dict[str, Any]) -> None:
    server.reset()
    server.enqueue(raw_response(exchange))

    result = _send(_client(exchange, server.url), exchange)
    usage = _exposed_usage(result, exchange)

    assert usage == exchange["expected_usage"]
    [request] = server.requests
    assert request.target == expected_path(exchange)
    assert request.body == exchange["request"]["body"]
