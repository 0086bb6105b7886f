"""Every recorded real Cohere exchange, replayed through the instrumented SDK.

The usage we record must be the recording's, mapped as the instrumentor documents: billed units are
the input and output tokens, the raw `tokens` go to `otel_tokens.usage.raw.*`, search units to
`otel_tokens.usage.search_units`.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests._recorded import exchange_params, raw_response
from tests.test_recorded_replay_cohere import client_for, send

from .helpers import only_span

_ATTRIBUTES = {
    "billed_units.input_tokens": "gen_ai.usage.input_tokens",
    "billed_units.output_tokens": "gen_ai.usage.output_tokens",
    "tokens.input_tokens": "otel_tokens.usage.raw.input_tokens",
    "tokens.output_tokens": "otel_tokens.usage.raw.output_tokens",
    "billed_units.search_units": "otel_tokens.usage.search_units",
}
_OPERATIONS = {"chat": "chat", "generate": "text_completion", "embeddings": "embeddings", "rerank": "rerank"}


def expected_attributes(exchange: dict[str, Any]) -> dict[str, Any]:
    return {_ATTRIBUTES[key]: value for key, value in exchange["expected_usage"].items()}


@pytest.mark.parametrize("exchange", exchange_params(clients=["cohere"]))
def test_recorded_usage_is_what_we_record(server, telemetry, exchange):
    server.enqueue(raw_response(exchange))
    result = send(client_for(exchange, server.url), exchange)
    items = sum(1 for _ in result) if exchange["stream"] else 0
    span = only_span(telemetry)
    attributes = dict(span.attributes)
    usage_keys = set(_ATTRIBUTES.values()) | {"gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens"}
    assert {k: v for k, v in attributes.items() if k in usage_keys} == expected_attributes(exchange)
    assert "otel_tokens.usage.estimated" not in attributes
    assert attributes["gen_ai.operation.name"] == _OPERATIONS[exchange["operation"]]
    assert attributes["gen_ai.provider.name"] == "cohere"
    assert attributes["gen_ai.request.model"] == exchange["request"]["body"]["model"]
    if exchange["stream"]:
        assert items > 0
        assert attributes["gen_ai.response.time_to_first_chunk"] > 0
        assert attributes["gen_ai.response.finish_reasons"] in (("COMPLETE",), ("TOOL_CALL",))
