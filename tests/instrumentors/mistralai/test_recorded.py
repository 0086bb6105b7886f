"""Every recorded real Mistral exchange, replayed through the instrumented SDK.

The usage we record must equal the usage Mistral reported in the recording (``prompt_tokens`` is
the conventions' input total, cache reads included; ``completion_tokens`` the output, none for
embeddings); this catches our fake server drifting from the real wire format.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests._recorded import exchange_params, raw_response
from tests.test_recorded_replay_mistralai import send

from .helpers import MISTRAL_EMBED, MISTRAL_TINY, cost, only_span
from .sdk import Mistral

_PRICES = {"mistral-tiny": MISTRAL_TINY, "mistral-embed": MISTRAL_EMBED}


def expected_attributes(exchange: dict[str, Any]) -> dict[str, Any]:
    usage = exchange["expected_usage"]
    expected = {"gen_ai.usage.input_tokens": usage["prompt_tokens"]}
    if exchange["operation"] != "embeddings":
        expected["gen_ai.usage.output_tokens"] = usage["completion_tokens"]
    if "cached_tokens" in usage:
        expected["gen_ai.usage.cache_read.input_tokens"] = usage["cached_tokens"]
    return expected


@pytest.mark.parametrize("exchange", exchange_params(clients=["mistralai"]))
def test_recorded_usage_is_what_we_record(server, telemetry, exchange):
    server.enqueue(raw_response(exchange))
    client = Mistral(api_key="x", server_url=server.url)  # kept alive: 1.x streams do not hold it
    result = send(client, exchange)
    items = sum(1 for _ in result) if exchange["stream"] else 0
    span = only_span(telemetry)
    attributes = dict(span.attributes)
    expected = expected_attributes(exchange)
    assert {key: attributes.get(key) for key in expected} == expected
    if exchange["operation"] == "embeddings":
        assert "gen_ai.usage.output_tokens" not in attributes
    assert "otel_tokens.usage.estimated" not in attributes
    assert attributes["gen_ai.provider.name"] == "mistral_ai"
    assert attributes["gen_ai.response.model"] == exchange["response_model"]
    usage = exchange["expected_usage"]
    prices = _PRICES[exchange["response_model"]]
    output = usage["completion_tokens"] if exchange["operation"] != "embeddings" else 0
    assert attributes["gen_ai.usage.cost.amount"] == pytest.approx(
        cost(prices, input=usage["prompt_tokens"], output=output)
    )
    if exchange["stream"]:
        assert items > 0
        assert attributes["gen_ai.response.time_to_first_chunk"] > 0
