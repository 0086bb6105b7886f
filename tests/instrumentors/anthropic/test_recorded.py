"""Every recorded real exchange made with the anthropic client, replayed through the instrumented SDK.

The usage we record must be the provider-reported usage mapped per the conventions: our input is
Anthropic's input_tokens + cache_creation_input_tokens + cache_read_input_tokens; streams take
input and cache counts from message_start and the output count from the last message_delta.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests._recorded import exchange_params, raw_response
from tests.test_recorded_replay_anthropic import client_for, send

from .helpers import only_span

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def expected_attributes(exchange: dict[str, Any]) -> dict[str, Any]:
    usage = exchange["expected_usage"]
    read = usage.get("cache_read_input_tokens")
    write = usage.get("cache_creation_input_tokens")
    expected = {
        "gen_ai.usage.input_tokens": usage["input_tokens"] + (read or 0) + (write or 0),
        "gen_ai.usage.output_tokens": usage["output_tokens"],
    }
    if read is not None:
        expected["gen_ai.usage.cache_read.input_tokens"] = read
    if write is not None:
        expected["gen_ai.usage.cache_creation.input_tokens"] = write
    return expected


@pytest.mark.parametrize("exchange", exchange_params(clients=["anthropic"]))
def test_recorded_usage_is_what_we_record(server, telemetry, exchange):
    server.enqueue(raw_response(exchange))
    result = send(client_for(exchange, server.url), exchange)
    span = only_span(telemetry)
    attributes = dict(span.attributes)
    assert attributes["gen_ai.provider.name"] == exchange["provider"]
    assert attributes["gen_ai.operation.name"] == exchange["operation"].replace("invoke_model", "chat")
    if exchange["expected_usage"] is None:
        # No usage on the wire (legacy completions): counted locally and flagged, never passed off as billed.
        assert attributes["otel_tokens.usage.estimated"] is True
        assert attributes["gen_ai.usage.input_tokens"] > 0
    else:
        expected = expected_attributes(exchange)
        assert {key: attributes.get(key) for key in expected} == expected
        assert "otel_tokens.usage.estimated" not in attributes
        assert attributes["gen_ai.usage.cost.amount"] > 0
    if exchange["stream"]:
        assert result
        assert attributes["gen_ai.response.time_to_first_chunk"] > 0
    if exchange["response_model"]:
        assert attributes["gen_ai.response.model"] == exchange["response_model"]


@pytest.mark.parametrize(
    "exchange",
    [
        p
        for p in exchange_params(clients=["anthropic"])
        if p.values[0] is None or "cache_write" in p.values[0]["file"]
    ],
)
def test_recorded_cache_write_is_priced_as_a_cache_write(server, telemetry, exchange):
    server.enqueue(raw_response(exchange))
    send(client_for(exchange, server.url), exchange)
    attributes = only_span(telemetry).attributes
    usage = exchange["expected_usage"]
    # Claude 3.5 Sonnet: $3 input, $3.75 cache write, $15 output per million tokens.
    assert attributes["otel_tokens.cost.cache_creation"] == pytest.approx(
        usage["cache_creation_input_tokens"] * 3.75 / 1e6
    )
    assert attributes["gen_ai.usage.cost.amount"] == pytest.approx(
        (
            usage["input_tokens"] * 3
            + usage["cache_creation_input_tokens"] * 3.75
            + usage["output_tokens"] * 15
        )
        / 1e6
    )
