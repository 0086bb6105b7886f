"""Every recorded exchange made with the anthropic client, replayed through the fake server and the real SDK.

Checks that the server serves recorded bytes faithfully, that the SDK sends the recorded request to the
recorded path, and that the usage the SDK exposes equals the recording's `expected_usage`.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Iterator
from typing import Any

import anthropic
import pytest
from otel_tokens_fake_providers import FakeProviderServer

from tests._recorded import exchange_params, expected_path, raw_response

# The recordings name models that this SDK warns are deprecated; that is expected here.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

_BEDROCK_PATH = re.compile(r"^/model/(?P<model>[^/]+)/invoke(?:-with-response-stream)?$")


@pytest.fixture(scope="module")
def server() -> Iterator[FakeProviderServer]:
    with FakeProviderServer() as fake:
        yield fake


def client_for(exchange: dict[str, Any], url: str) -> Any:
    """The client that made the recording, pointed at `url`."""
    if exchange["provider"] == "aws.bedrock":
        return anthropic.AnthropicBedrock(
            aws_region="us-east-1",
            aws_access_key="AKIDEXAMPLE",
            aws_secret_key="not-a-secret",
            base_url=url,
            max_retries=0,
        )
    return anthropic.Anthropic(base_url=url, api_key="x", max_retries=0)


def send(client: Any, exchange: dict[str, Any]) -> Any:
    """Call the SDK method that made the recording; body keys it has no parameter for go in extra_body.

    Returns the message, the completion, or for streams the list of raw events (the recording made
    with the `messages.stream()` helper is replayed through it, the others through `create`).
    """
    body = dict(exchange["request"]["body"])
    if exchange["operation"] == "text_completion":
        if not hasattr(client, "completions"):
            pytest.skip(f"anthropic {anthropic.__version__} has no legacy completions")
        resource = client.completions
    elif exchange["request"]["query"] == "beta=true":
        # Recorded through client.beta.messages; anthropic 2.x no longer adds ?beta=true itself.
        resource = client.beta.messages
        body["extra_query"] = {"beta": "true"}
    else:
        resource = client.messages
    if exchange["provider"] == "aws.bedrock":
        body.pop("anthropic_version", None)  # the Bedrock client adds it
        match = _BEDROCK_PATH.match(exchange["request"]["path"])
        assert match, exchange["request"]["path"]
        body["model"] = match["model"]
    helper = exchange["stream"] and "messages.stream()" in exchange["notes"]
    method = resource.stream if helper else resource.create
    if helper:
        body.pop("stream", None)
    accepted = inspect.signature(method).parameters
    # Some SDK versions rewrite output_format into output_config: send the recorded field as it was.
    kwargs = {k: v for k, v in body.items() if k in accepted and k != "output_format"}
    extra = {k: v for k, v in body.items() if k not in kwargs and k != "extra_query"}
    if extra:
        kwargs["extra_body"] = extra
    if helper:
        with method(**kwargs) as stream:
            return [event for event in stream if not hasattr(event, "snapshot")]
    result = method(**kwargs)
    return list(result) if exchange["stream"] else result


def exposed_usage(result: Any, exchange: dict[str, Any]) -> dict[str, Any] | None:
    """The usage the SDK exposes, in the recordings' `expected_usage` form (stream: message_start's
    input and cache counts, the last message_delta's output count)."""
    if exchange["operation"] == "text_completion":
        return None
    if not exchange["stream"]:
        return _numbers(result.usage)
    usage = None
    for event in result:
        if event.type == "message_start":
            usage = _numbers(event.message.usage)
        elif event.type == "message_delta" and usage is not None:
            usage["output_tokens"] = event.usage.output_tokens
    return usage


def _numbers(usage: Any) -> dict[str, Any]:
    data = usage.model_dump(exclude_none=True)
    return {k: v for k, v in data.items() if isinstance(v, int) and not isinstance(v, bool)}


@pytest.mark.parametrize("exchange", exchange_params(clients=["anthropic"]))
def test_replay_exposes_recorded_usage(server: FakeProviderServer, exchange: dict[str, Any]) -> None:
    server.reset()
    server.enqueue(raw_response(exchange))

    result = send(client_for(exchange, server.url), exchange)

    expected = exchange["expected_usage"]
    if expected is not None:
        expected = {
            k: v for k, v in expected.items() if not k.startswith("x-amzn-")
        }  # headers, checked below
    assert exposed_usage(result, exchange) == expected
    [request] = server.requests
    assert request.target == expected_path(exchange)
    if exchange["provider"] == "aws.bedrock":
        assert request.headers["authorization"].startswith("AWS4-HMAC-SHA256 ")
    else:
        assert request.body == exchange["request"]["body"]
