"""The Anthropic wire format for the fake provider server, as pure functions.

Answers the Messages API (`/v1/messages`, JSON and server-sent events), legacy Text Completions
(`/v1/complete`), token counting (`/v1/messages/count_tokens`) and the same requests as Google Vertex AI
routes them (`.../publishers/anthropic/models/<model>:rawPredict` and `:streamRawPredict`, the model in the
path). Bedrock's `/model/<id>/invoke` paths belong to the Bedrock wire module. Shapes follow the recorded
API (`shared/recorded/anthropic`): errors are `{"type": "error", "error": {"type", "message"}}`.

How a `Scenario` reads here:

- `prompt_tokens` is written verbatim as `usage.input_tokens`, which on this API EXCLUDES the cached part;
  `cached_tokens` is `cache_read_input_tokens`, `cache_creation_tokens` is `cache_creation_input_tokens`
  (of which `cache_creation_1h_tokens` go to `cache_creation.ephemeral_1h_input_tokens`, the rest to the
  5-minute bucket). `usage_details=False` gives the older usage shape with only input and output tokens.
- `reasoning_tokens` adds a thinking block before the text; they are part of `output_tokens` (as billed)
  and reported in `output_tokens_details.thinking_tokens`.
- Streams: input and cache counts in `message_start` (whose `output_tokens` is a placeholder 1), the
  cumulative `output_tokens` in the one `message_delta`, which repeats the input and cache counts as the
  current API does. `include_usage=False` leaves usage out of every body and event.
- `finish_reason` "stop" is sent as "end_turn" and "length" as "max_tokens"; other values verbatim.
- `fail_after_chunks` with `error_type` set (and no `error_status`) sends an `error` event after that many
  content events and ends the stream cleanly, as the API reports overload mid-stream; without
  `error_type` the connection is dropped.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from ._openai_wire import (
    JSON_CONTENT_TYPE,
    SSE_CONTENT_TYPE,
    Event,
    Reply,
    completion_tokens_for,
    dumps,
    new_id,
    split_text,
    stream_reply,
)

if TYPE_CHECKING:
    from ._server import ReceivedRequest, Scenario

JSON = dict[str, Any]

_FIRST_PARTY = {
    "/v1/messages": "messages",
    "/v1/messages/count_tokens": "count_tokens",
    "/v1/complete": "complete",
}
_VERTEX = re.compile(r"/publishers/anthropic/models/(?P<model>[^/:]+):(?P<op>rawPredict|streamRawPredict)$")
_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}
_STOP_REASONS = {"stop": "end_turn", "length": "max_tokens"}
THINKING_TEXT = "Let me think about that."
THINKING_SIGNATURE = "c2lnbmF0dXJl"


def handles(request: ReceivedRequest) -> bool:
    """Whether this wire format answers `request`: Anthropic's own paths and Vertex's Anthropic paths."""
    return request.path in _FIRST_PARTY or _VERTEX.search(request.path) is not None


def dispatch(request: ReceivedRequest, scenario: Scenario) -> Reply:
    """Answer `request` the way Anthropic (or Vertex AI's Anthropic endpoint) would under `scenario`."""
    op, path_model = _route(request.path)
    if request.method != "POST":
        return error_reply(404, f"Not found: {request.method} {request.path}", "not_found_error")
    body = request.body
    if not isinstance(body, dict):
        return error_reply(400, "The request body is not valid JSON.", "invalid_request_error")
    if scenario.error_status is not None:
        return error_reply(scenario.error_status, scenario.error_message, scenario.error_type)
    model = scenario.model or path_model or str(body.get("model") or "claude-sonnet-4-5-20250929")
    if op == "count_tokens":
        return _json_reply({"input_tokens": _prompt_tokens(scenario, body)}, scenario)
    streaming = body.get("stream") is True
    if op == "complete":
        if streaming:
            return _stream(completion_events(body, scenario, model), scenario)
        return _json_reply(completion(body, scenario, model), scenario)
    if streaming:
        return _stream(message_events(body, scenario, model), scenario)
    return _json_reply(message(body, scenario, model), scenario)


def _route(path: str) -> tuple[str, str | None]:
    op = _FIRST_PARTY.get(path)
    if op is not None:
        return op, None
    match = _VERTEX.search(path)
    assert match is not None  # handles() said so
    model = unquote(match["model"])
    return ("count_tokens", None) if model == "count-tokens" else ("messages", model)


def error_reply(status: int, message: str | None = None, type_: str | None = None) -> Reply:
    """An Anthropic error body with the error type the API uses for `status`."""
    kind = type_ or _ERROR_TYPES.get(status) or ("api_error" if status >= 500 else "invalid_request_error")
    error = {"type": kind, "message": message if message is not None else f"fake {kind}"}
    return Reply(status, JSON_CONTENT_TYPE, dumps({"type": "error", "error": error}))


def _json_reply(payload: JSON, scenario: Scenario) -> Reply:
    encoded = dumps(payload)
    if scenario.malformed:
        encoded = encoded[: len(encoded) // 2]
    return Reply(200, JSON_CONTENT_TYPE, encoded)


def _stream(events: list[Event], scenario: Scenario) -> Reply:
    if scenario.malformed:
        first = events[0][0]
        head, _, data = first.partition(b"data: ")
        return Reply(200, SSE_CONTENT_TYPE, events=(head + b"data: " + data[: len(data) // 2] + b"\n\n",))
    if scenario.fail_after_chunks is not None and scenario.error_type is not None:
        kept: list[bytes] = []
        content = 0
        for event, is_content in events:
            if is_content:
                if content == scenario.fail_after_chunks:
                    break
                content += 1
            kept.append(event)
        error = {"type": scenario.error_type, "message": scenario.error_message or "Overloaded"}
        kept.append(sse("error", {"type": "error", "error": error}))
        return Reply(200, SSE_CONTENT_TYPE, events=tuple(kept))
    return stream_reply(events, scenario.fail_after_chunks)


def sse(kind: str, payload: JSON) -> bytes:
    return f"event: {kind}\n".encode() + b"data: " + dumps(payload) + b"\n\n"


# --- token counts -------------------------------------------------------------------------------------


def _prompt_tokens(scenario: Scenario, body: JSON) -> int:
    if scenario.prompt_tokens is not None:
        return scenario.prompt_tokens
    return max(
        1, (_chars(body.get("system")) + _chars(body.get("messages")) + _chars(body.get("prompt"))) // 4
    )


def _chars(value: Any) -> int:
    if isinstance(value, str):
        return len(value)
    if isinstance(value, list):
        return sum(_chars(item) for item in value)
    if isinstance(value, dict):
        return _chars(value.get("content")) + _chars(value.get("text"))
    return 0


def usage_block(scenario: Scenario, body: JSON, output_tokens: int) -> JSON:
    """`usage` as the current API writes it (or the older two-field shape with `usage_details=False`)."""
    usage: JSON = {"input_tokens": _prompt_tokens(scenario, body)}
    if scenario.usage_details:
        write, write_1h = scenario.cache_creation_tokens, scenario.cache_creation_1h_tokens
        usage["cache_creation_input_tokens"] = write
        usage["cache_read_input_tokens"] = scenario.cached_tokens
        usage["cache_creation"] = {
            "ephemeral_5m_input_tokens": write - write_1h,
            "ephemeral_1h_input_tokens": write_1h,
        }
    usage["output_tokens"] = output_tokens
    if scenario.usage_details:
        if scenario.reasoning_tokens:
            usage["output_tokens_details"] = {"thinking_tokens": scenario.reasoning_tokens}
        usage["service_tier"] = scenario.service_tier if scenario.service_tier != "default" else "standard"
    usage.update(scenario.usage_fields)
    return usage


def _output_tokens(scenario: Scenario, output: str) -> int:
    if scenario.completion_tokens is not None:
        return scenario.completion_tokens
    return completion_tokens_for(output) + scenario.reasoning_tokens


def _tool_name(body: JSON, scenario: Scenario) -> str | None:
    if not scenario.tool_call:
        return None
    for tool in body.get("tools") or []:
        if isinstance(tool, dict) and isinstance(tool.get("name"), str):
            return str(tool["name"])
    return None


# --- messages -----------------------------------------------------------------------------------------


def message(body: JSON, scenario: Scenario, model: str) -> JSON:
    """A `message` object: optional thinking block, then text or one tool_use block, and usage."""
    tool = _tool_name(body, scenario)
    content: list[JSON] = []
    if scenario.reasoning_tokens:
        content.append({"type": "thinking", "thinking": THINKING_TEXT, "signature": THINKING_SIGNATURE})
    if tool is not None:
        arguments = json.loads(scenario.tool_arguments)
        content.append({"type": "tool_use", "id": new_id("toolu_"), "name": tool, "input": arguments})
        stop, output = "tool_use", scenario.tool_arguments
    else:
        content.append({"type": "text", "text": scenario.text})
        stop, output = _STOP_REASONS.get(scenario.finish_reason, scenario.finish_reason), scenario.text
    result: JSON = {
        "id": new_id("msg_"),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop,
        "stop_sequence": None,
    }
    if scenario.include_usage is not False:
        result["usage"] = usage_block(scenario, body, _output_tokens(scenario, output))
    return result


def message_events(body: JSON, scenario: Scenario, model: str) -> list[Event]:
    """The Messages API event stream: message_start, content blocks, ping, message_delta, message_stop."""
    tool = _tool_name(body, scenario)
    output = scenario.tool_arguments if tool is not None else scenario.text
    usage = usage_block(scenario, body, _output_tokens(scenario, output))
    head: JSON = {
        "id": new_id("msg_"),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
    }
    if scenario.include_usage is not False:
        head["usage"] = {**usage, "output_tokens": 1}  # the API's placeholder before any output
    events: list[Event] = [(sse("message_start", {"type": "message_start", "message": head}), False)]
    index = 0

    def block(start: JSON, deltas: list[JSON], content: bool) -> None:
        events.append(
            (
                sse(
                    "content_block_start",
                    {"type": "content_block_start", "index": index, "content_block": start},
                ),
                False,
            )
        )
        for delta in deltas:
            payload = {"type": "content_block_delta", "index": index, "delta": delta}
            events.append((sse("content_block_delta", payload), content))
        events.append((sse("content_block_stop", {"type": "content_block_stop", "index": index}), False))

    if scenario.reasoning_tokens:
        block(
            {"type": "thinking", "thinking": "", "signature": ""},
            [
                {"type": "thinking_delta", "thinking": THINKING_TEXT},
                {"type": "signature_delta", "signature": THINKING_SIGNATURE},
            ],
            False,
        )
        index += 1
    pieces = split_text(output, scenario.chunks)
    if tool is not None:
        start: JSON = {"type": "tool_use", "id": new_id("toolu_"), "name": tool, "input": {}}
        block(start, [{"type": "input_json_delta", "partial_json": p} for p in pieces], True)
        stop = "tool_use"
    else:
        events.append((sse("ping", {"type": "ping"}), False))
        block({"type": "text", "text": ""}, [{"type": "text_delta", "text": p} for p in pieces], True)
        stop = _STOP_REASONS.get(scenario.finish_reason, scenario.finish_reason)
    delta: JSON = {"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": None}}
    if scenario.include_usage is not False:
        repeated = ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens", "output_tokens")
        delta["usage"] = {key: usage[key] for key in repeated if key in usage}
    events.append((sse("message_delta", delta), False))
    events.append((sse("message_stop", {"type": "message_stop"}), False))
    return events


# --- legacy text completions --------------------------------------------------------------------------


def completion(body: JSON, scenario: Scenario, model: str) -> JSON:
    """A legacy `completion` object; like the real API, it carries no usage."""
    cid = new_id("compl_")
    return {
        "type": "completion",
        "id": cid,
        "completion": scenario.text,
        "stop_reason": "stop_sequence",
        "model": model,
        "stop": "\n\nHuman:",
        "log_id": cid,
    }


def completion_events(body: JSON, scenario: Scenario, model: str) -> list[Event]:
    """Legacy `completion` events: one per text piece, then a final one with the stop reason."""
    cid = new_id("compl_")

    def event(text: str, stop: str | None) -> bytes:
        payload = {"type": "completion", "id": cid, "completion": text, "stop_reason": stop, "model": model}
        return sse("completion", payload)

    events: list[Event] = [(event(piece, None), True) for piece in split_text(scenario.text, scenario.chunks)]
    events.append((sse("ping", {"type": "ping"}), False))
    events.append((event("", "stop_sequence"), False))
    return events
