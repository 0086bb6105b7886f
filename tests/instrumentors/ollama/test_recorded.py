"""Every recorded real Ollama exchange, replayed through the instrumented SDK.

The usage we record must equal the counts the server reported in the recording: input =
``prompt_eval_count``, output = ``eval_count``. Where the server left ``prompt_eval_count`` out
(the prompt was in its KV cache), the input is the locally counted prompt, all of it a cache
read, flagged as an estimate; where it reported nothing (legacy ``/api/embeddings``), the input
is estimated and flagged.
"""

from __future__ import annotations

from typing import Any

import pytest

from otel_tokens.tokenize import Tokenizer
from tests._recorded import exchange_params, raw_response
from tests.test_recorded_replay_ollama import final_object, send

from .helpers import only_span


def expected_attributes(exchange: dict[str, Any]) -> dict[str, Any]:
    usage = exchange["expected_usage"]
    expected: dict[str, Any] = {}
    if "eval_count" in usage:
        expected["gen_ai.usage.output_tokens"] = usage["eval_count"]
    if "prompt_eval_count" in usage:
        expected["gen_ai.usage.input_tokens"] = usage["prompt_eval_count"]
        return expected
    body = exchange["request"]["body"]
    if exchange["operation"] == "chat":
        prompt = Tokenizer().count_chat_input(None, body["messages"]).tokens
    else:
        prompt = Tokenizer().count_chat_input(None, [{"role": "user", "content": body["prompt"]}]).tokens
    expected["gen_ai.usage.input_tokens"] = prompt
    expected["gen_ai.usage.cache_read.input_tokens"] = prompt
    expected["otel_tokens.usage.estimated"] = True
    return expected


@pytest.mark.parametrize("exchange", exchange_params(clients=["ollama"]))
def test_recorded_usage_is_what_we_record(server, client, telemetry, exchange):
    server.enqueue(raw_response(exchange))
    final_object(send(client, exchange), exchange)
    attributes = dict(only_span(telemetry).attributes)
    assert attributes["gen_ai.provider.name"] == "ollama"
    if exchange["expected_usage"] is None:
        # No counts on the wire: counted locally and flagged, never passed off as reported.
        assert attributes["otel_tokens.usage.estimated"] is True
        assert attributes["gen_ai.usage.input_tokens"] > 0
    else:
        expected = expected_attributes(exchange)
        assert {key: attributes.get(key) for key in expected} == expected
        if "otel_tokens.usage.estimated" not in expected:
            assert "otel_tokens.usage.estimated" not in attributes
    if exchange["stream"]:
        assert attributes["gen_ai.response.time_to_first_chunk"] > 0
    if exchange["response_model"]:
        assert attributes["gen_ai.response.model"] == exchange["response_model"]
    assert attributes["gen_ai.usage.cost.amount"] == 0.0
    assert attributes["otel_tokens.price.source"] == "local-model"
