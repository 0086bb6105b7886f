"""Every recorded real OpenAI / Azure / DeepSeek exchange, replayed through the instrumented SDK.

The usage we record must equal the usage the provider reported in the recording; this catches
our fake server drifting from the real wire format.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests._recorded import exchange_params, raw_response
from tests.test_recorded_replay_openai import _client, _send

from .helpers import only_span

_RESPONSES_KEYS = {"input_tokens": "gen_ai.usage.input_tokens", "output_tokens": "gen_ai.usage.output_tokens"}
_CHAT_KEYS = {"prompt_tokens": "gen_ai.usage.input_tokens", "completion_tokens": "gen_ai.usage.output_tokens"}


def expected_attributes(exchange: dict[str, Any]) -> dict[str, Any]:
    usage = exchange["expected_usage"]
    keys = _RESPONSES_KEYS if exchange["operation"] == "responses" else _CHAT_KEYS
    expected = {attribute: usage[key] for key, attribute in keys.items() if key in usage}
    cached = usage.get("cached_tokens", usage.get("prompt_cache_hit_tokens"))
    if cached is not None:
        expected["gen_ai.usage.cache_read.input_tokens"] = cached
    if "reasoning_tokens" in usage:
        expected["gen_ai.usage.reasoning.output_tokens"] = usage["reasoning_tokens"]
    return expected


def _consume(result: Any, exchange: dict[str, Any]) -> int:
    return sum(1 for _ in result) if exchange["stream"] else 0


@pytest.mark.parametrize("exchange", exchange_params(clients=["openai"]))
def test_recorded_usage_is_what_we_record(server, telemetry, exchange):
    server.enqueue(raw_response(exchange))
    result = _send(_client(exchange, server.url), exchange)
    items = _consume(result, exchange)
    span = only_span(telemetry)
    attributes = dict(span.attributes)
    if exchange["expected_usage"] is None:
        # No usage on the wire: counted locally and flagged, never passed off as billed.
        assert attributes["otel_tokens.usage.estimated"] is True
        assert attributes["gen_ai.usage.input_tokens"] > 0
    else:
        expected = expected_attributes(exchange)
        assert {key: attributes.get(key) for key in expected} == expected
        assert "otel_tokens.usage.estimated" not in attributes
    if exchange["stream"]:
        assert items > 0
        assert attributes["gen_ai.response.time_to_first_chunk"] > 0
    if exchange["response_model"]:
        assert attributes["gen_ai.response.model"] == exchange["response_model"]


@pytest.mark.parametrize(
    "exchange",
    [
        p
        for p in exchange_params(clients=["openai"])
        if p.values[0] is None or "service_tier" in p.values[0]["file"]
    ],
)
def test_recorded_priority_tier_is_priced_at_priority(server, telemetry, exchange):
    server.enqueue(raw_response(exchange))
    _send(_client(exchange, server.url), exchange)
    attributes = only_span(telemetry).attributes
    assert attributes["openai.response.service_tier"] == "priority"
    assert attributes["otel_tokens.price.service_tier"] == "priority"
    usage = exchange["expected_usage"]
    inputs = usage.get("prompt_tokens", usage.get("input_tokens"))
    outputs = usage.get("completion_tokens", usage.get("output_tokens"))
    cached = usage.get("cached_tokens", 0)
    # gpt-5 at priority: $2.50 input, $0.25 cached input, $20 output per million tokens.
    assert attributes["gen_ai.usage.cost.amount"] == pytest.approx(
        ((inputs - cached) * 2.5 + cached * 0.25 + outputs * 20) / 1e6
    )
