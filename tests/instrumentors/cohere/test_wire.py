"""The fake server's Cohere wire format against the recorded real responses, and its own rules."""

from __future__ import annotations

import json
from itertools import groupby
from typing import Any

import pytest
from otel_tokens_fake_providers import ReceivedRequest, Scenario
from otel_tokens_fake_providers import _cohere_wire as wire

from tests._recorded import exchange_params


def request(path: str, body: Any) -> ReceivedRequest:
    raw = json.dumps(body).encode()
    return ReceivedRequest("POST", path, {}, {"content-type": "application/json"}, body, raw, path)


def shape(value: Any) -> Any:
    """Keys and value types, lists by their first item; `warnings` and `citations` are optional."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items() if k not in ("warnings", "citations")}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    return type(value).__name__


def sse_kinds(text: str) -> list[str]:
    """Event kinds in order, repeats collapsed, one tool call's events kept (the fake makes one)."""
    kinds = [block.split("\n")[0] for block in text.split("\n\n") if block.strip()]
    collapsed = [kind for kind, _ in groupby(kinds)]
    end = collapsed.index("event: tool-call-end") + 1 if "event: tool-call-end" in collapsed else 0
    return collapsed[:end] + collapsed[collapsed.index("event: message-end") :] if end else collapsed


def last_sse_payload(text: str) -> Any:
    blocks = [block for block in text.split("\n\n") if "event: message-end" in block]
    return json.loads(blocks[-1].split("data: ", 1)[1])


@pytest.mark.parametrize("exchange", exchange_params(clients=["cohere"]))
def test_fake_reply_has_the_recorded_shape(exchange):
    recorded = exchange["response"]["body_text"]
    calls_tools = '"tool_calls":[{' in recorded or "tool-call-start" in recorded
    reply = wire.dispatch(
        request(exchange["request"]["path"], exchange["request"]["body"]), Scenario(tool_call=calls_tools)
    )
    assert reply.status == 200
    assert reply.content_type.split(";")[0] == exchange["response"]["content_type"].split(";")[0]
    if not exchange["stream"]:
        fake, real = json.loads(reply.body), json.loads(recorded)
        assert shape(fake) == shape(real)
    elif exchange["request"]["path"].startswith("/v2/"):
        text = b"".join(reply.events or ()).decode()
        assert sse_kinds(text) == sse_kinds(recorded)
        assert shape(last_sse_payload(text)) == shape(last_sse_payload(recorded))
    else:
        fake_lines = [json.loads(line) for line in b"".join(reply.events or ()).decode().splitlines()]
        real_lines = [json.loads(line) for line in recorded.splitlines() if line]
        assert [line["event_type"] for line in fake_lines][:2] == [line["event_type"] for line in real_lines][
            :2
        ]
        assert shape(fake_lines[-1]) == shape(real_lines[-1])


def test_usage_billed_and_raw_counts():
    reply = wire.dispatch(
        request("/v2/chat", {"model": "command-r", "messages": [{"role": "user", "content": "hi"}]}),
        Scenario(prompt_tokens=7, completion_tokens=109),
    )
    assert json.loads(reply.body)["usage"] == {
        "billed_units": {"input_tokens": 7, "output_tokens": 109},
        "tokens": {"input_tokens": 7 + wire.PREAMBLE_TOKENS, "output_tokens": 109 + wire.END_TOKENS},
    }


def test_usage_fields_replace_blocks_verbatim():
    reply = wire.dispatch(
        request("/v1/chat", {"message": "hi"}),
        Scenario(prompt_tokens=62, usage_fields={"tokens": {"input_tokens": 968, "output_tokens": 83}}),
    )
    meta = json.loads(reply.body)["meta"]
    assert meta["tokens"] == {"input_tokens": 968, "output_tokens": 83}
    assert meta["billed_units"]["input_tokens"] == 62


def test_rerank_bills_a_search_unit_per_hundred_documents():
    reply = wire.dispatch(request("/v2/rerank", {"query": "q", "documents": ["d"] * 250}), Scenario())
    assert json.loads(reply.body)["meta"]["billed_units"] == {"search_units": 3}


def test_no_usage():
    reply = wire.dispatch(request("/v1/generate", {"prompt": "hi"}), Scenario(include_usage=False))
    assert json.loads(reply.body)["meta"] == {"api_version": {"version": "1"}}


def test_error_body():
    reply = wire.dispatch(request("/v2/chat", {"messages": []}), Scenario(error_status=429))
    assert (reply.status, json.loads(reply.body)) == (429, {"message": wire._ERROR_MESSAGES[429]})


def test_handles_only_cohere_paths():
    assert wire.handles(request("/v2/embed", {}))
    assert not wire.handles(request("/v1/chat/completions", {}))
    assert not wire.handles(request("/v1/embeddings", {}))
