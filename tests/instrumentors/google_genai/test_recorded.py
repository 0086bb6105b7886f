"""Every recorded real Gemini exchange, replayed through the instrumented google-genai SDK.

The usage we record must equal the usage the provider reported in the recording, mapped by our rules
(input = prompt + tool-use prompt; output = candidates + thoughts; reasoning = thoughts; cache read =
cached content); this catches our fake server drifting from the real wire format.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests._recorded import exchange_params, raw_response
from tests.test_recorded_replay_google_genai import send

from .conftest import gemini_client
from .helpers import GEMINI_25_FLASH, cost, only_span, usage_of


def expected_attributes(usage: dict[str, Any]) -> dict[str, Any]:
    expected = {
        "gen_ai.usage.input_tokens": usage["promptTokenCount"] + usage.get("toolUsePromptTokenCount", 0),
        "gen_ai.usage.output_tokens": usage["candidatesTokenCount"] + usage.get("thoughtsTokenCount", 0),
    }
    if "cachedContentTokenCount" in usage:
        expected["gen_ai.usage.cache_read.input_tokens"] = usage["cachedContentTokenCount"]
    if "thoughtsTokenCount" in usage:
        expected["gen_ai.usage.reasoning.output_tokens"] = usage["thoughtsTokenCount"]
    return expected


@pytest.mark.parametrize("exchange", exchange_params(clients=["google-genai"]))
def test_recorded_usage_is_what_we_record(server, telemetry, exchange):
    server.enqueue(raw_response(exchange))
    result = send(gemini_client(server), exchange)
    span = only_span(telemetry)
    attributes = dict(span.attributes)
    expected = expected_attributes(exchange["expected_usage"])
    assert usage_of(span) == expected
    assert "otel_tokens.usage.estimated" not in attributes
    assert attributes["gen_ai.provider.name"] == "gcp.gemini"
    assert attributes["gen_ai.response.model"] == exchange["response_model"]
    assert attributes["gen_ai.response.finish_reasons"] == ("stop",)
    response = result[-1] if isinstance(result, list) else result
    assert attributes["gen_ai.response.id"] == response.response_id
    # Recorded totals: prompt + candidates + thoughts, i.e. exactly our input + output.
    total = exchange["expected_usage"]["totalTokenCount"]
    assert expected["gen_ai.usage.input_tokens"] + expected["gen_ai.usage.output_tokens"] == total
    assert attributes["gen_ai.usage.cost.amount"] == pytest.approx(
        cost(
            GEMINI_25_FLASH,
            input=expected["gen_ai.usage.input_tokens"],
            output=expected["gen_ai.usage.output_tokens"],
        )
    )
