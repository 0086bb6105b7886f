"""The OpenAI wire format for the fake provider server, as pure functions.

`dispatch()` turns a request (method, path, parsed JSON body) and a `Scenario` into a `Reply`: a complete
JSON body, or a list of server-sent events that the server flushes one by one. Nothing here touches
sockets or shared state; ids and `created` timestamps are the only non-deterministic parts.
Shapes follow the real API as recorded in `shared/recorded/openai` (chat, legacy completions, embeddings,
Responses) and Azure's deployment paths.
"""

from __future__ import annotations

import base64
import json
import random
import re
import struct
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._server import Scenario

JSON = dict[str, Any]
#: Appended to the echoed request model when `Scenario.dated_model` is set, as the real API does.
DATED_SUFFIX = "-2024-07-18"
SYSTEM_FINGERPRINT = "fp_fake"
SSE_CONTENT_TYPE = "text/event-stream; charset=utf-8"
JSON_CONTENT_TYPE = "application/json"

_ROUTE = re.compile(
    r"^(?:/v1|/openai/v1|/openai|/openai/deployments/(?P<deployment>[^/]+))"
    r"/(?P<op>chat/completions|completions|embeddings|responses)$"
)
# Keys under which request messages carry text that a real tokenizer would count.
_TEXT_KEYS = ("content", "text", "output", "arguments")


@dataclass(frozen=True)
class Reply:
    """What the server sends: a whole `body`, or `events` written and flushed one at a time.

    `abort` makes the server drop the connection after the events instead of ending the body.
    """

    status: int
    content_type: str = JSON_CONTENT_TYPE
    body: bytes = b""
    events: tuple[bytes, ...] | None = None
    abort: bool = False
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class _Tokens:
    prompt: int
    completion: int
    cached: int
    reasoning: int

    @property
    def total(self) -> int:
        return self.prompt + self.completion


# One stream event: its SSE bytes and whether it carries generated content (what fail_after_chunks counts).
Event = tuple[bytes, bool]


def dispatch(method: str, path: str, body: Any, scenario: Scenario) -> Reply:
    """Answer one request the way the OpenAI (or Azure OpenAI) API would under `scenario`.

    Unknown paths or methods get a 404 and a non-object body a 400, both with OpenAI error bodies;
    `scenario.error_status` wins over any success; `malformed` and `fail_after_chunks` damage the reply.
    """
    match = _ROUTE.match(path)
    if method != "POST" or match is None:
        return error_reply(404, f"Invalid URL ({method} {path})", "invalid_request_error")
    if not isinstance(body, dict):
        return error_reply(400, "We could not parse the JSON body of your request.", "invalid_request_error")
    if scenario.error_status is not None:
        return error_reply(
            scenario.error_status, scenario.error_message, scenario.error_type, scenario.error_code
        )
    op = match["op"]
    model = response_model(scenario, body, match["deployment"])
    if body.get("stream") is True and op != "embeddings":
        events = _STREAMERS[op](body, scenario, model)
        if scenario.malformed:
            return malformed_stream(events)
        return stream_reply(events, scenario.fail_after_chunks)
    payload = _RESPONDERS[op](body, scenario, model)
    encoded = dumps(payload)
    if scenario.malformed:
        # A body cut short: what a proxy that drops the connection after Content-Length looks like.
        encoded = encoded[: len(encoded) // 2]
    return Reply(200, JSON_CONTENT_TYPE, encoded)


def error_reply(
    status: int, message: str | None = None, type_: str | None = None, code: str | None = None
) -> Reply:
    """An OpenAI error body `{"error": {message, type, param, code}}` with defaults per status."""
    default_type, default_code, default_message = _error_defaults(status)
    error = {
        "message": message if message is not None else default_message,
        "type": type_ if type_ is not None else default_type,
        "param": None,
        "code": code if code is not None else default_code,
    }
    return Reply(status, JSON_CONTENT_TYPE, dumps({"error": error}))


def _error_defaults(status: int) -> tuple[str, str | None, str]:
    if status == 401:
        return "invalid_request_error", "invalid_api_key", "Incorrect API key provided."
    if status == 404:
        return "invalid_request_error", None, "Not found."
    if status == 429:
        # The real API reports request-per-minute limits with type "requests".
        return "requests", "rate_limit_exceeded", "Rate limit reached for requests."
    if status >= 500:
        return "server_error", None, "The server had an error while processing your request."
    return "invalid_request_error", None, "Invalid request."


def response_model(scenario: Scenario, body: JSON, deployment: str | None) -> str:
    """The model the response names: `scenario.model`, else the request's (or deployment's) echoed."""
    if scenario.model is not None:
        return scenario.model
    model = body.get("model") or deployment or "gpt-4o-mini"
    return f"{model}{DATED_SUFFIX}" if scenario.dated_model else str(model)


def prompt_tokens_for(body: JSON) -> int:
    """Crude prompt size: max(1, characters // 4 + pre-tokenized ids) over the request's text."""
    chars = ids = 0
    for key in ("messages", "prompt", "input", "instructions"):
        c, i = _measure(body.get(key))
        chars, ids = chars + c, ids + i
    return max(1, chars // 4 + ids)


def _measure(value: Any) -> tuple[int, int]:
    if isinstance(value, str):
        return len(value), 0
    if isinstance(value, bool):
        return 0, 0
    if isinstance(value, int):
        return 0, 1
    if isinstance(value, list):
        parts = [_measure(v) for v in value]
        return sum(p[0] for p in parts), sum(p[1] for p in parts)
    if isinstance(value, dict):
        parts = [_measure(value.get(k)) for k in _TEXT_KEYS]
        return sum(p[0] for p in parts), sum(p[1] for p in parts)
    return 0, 0


def completion_tokens_for(text: str) -> int:
    """Crude output size of one choice: max(1, characters // 4), 0 for empty text."""
    return max(1, len(text) // 4) if text else 0


def split_text(text: str, chunks: int) -> list[str]:
    """`text` cut into `chunks` nearly equal non-empty pieces (fewer when the text is shorter)."""
    count = max(1, min(chunks, len(text)))
    size, extra = divmod(len(text), count)
    pieces, start = [], 0
    for i in range(count):
        end = start + size + (1 if i < extra else 0)
        pieces.append(text[start:end])
        start = end
    return [p for p in pieces if p]


def _tokens(scenario: Scenario, body: JSON, output: str, choices: int = 1) -> _Tokens:
    prompt = scenario.prompt_tokens if scenario.prompt_tokens is not None else prompt_tokens_for(body)
    completion = scenario.completion_tokens
    if completion is None:
        # Like the real API, completion tokens include the hidden reasoning tokens.
        completion = completion_tokens_for(output) * choices + scenario.reasoning_tokens
    return _Tokens(prompt, completion, scenario.cached_tokens, scenario.reasoning_tokens)


def _chat_usage(t: _Tokens, scenario: Scenario) -> JSON:
    usage: JSON = {"prompt_tokens": t.prompt, "completion_tokens": t.completion, "total_tokens": t.total}
    if scenario.usage_details:
        usage["prompt_tokens_details"] = {"cached_tokens": t.cached, "audio_tokens": 0}
        usage["completion_tokens_details"] = {
            "reasoning_tokens": t.reasoning,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        }
    return usage


def _stream_usage_mode(body: JSON, scenario: Scenario) -> str:
    """ "separate": OpenAI's extra chunk with empty choices; "inline": on the finish chunk (DeepSeek)."""
    if scenario.include_usage is False:
        return "none"
    options = body.get("stream_options")
    if isinstance(options, dict) and options.get("include_usage") is True:
        return "inline" if scenario.usage_on_finish else "separate"
    return "inline" if scenario.include_usage else "none"


def _tool_name(body: JSON, scenario: Scenario) -> str | None:
    """The first function tool the request offers, when the scenario asks for a tool call."""
    if not scenario.tool_call:
        return None
    for tool in body.get("tools") or []:
        if isinstance(tool, dict):
            # Chat nests the function ({"function": {"name"}}); the Responses API does not.
            nested = tool.get("function")
            function: JSON = nested if isinstance(nested, dict) else tool
            if isinstance(function.get("name"), str):
                return str(function["name"])
    return None


def _choice_count(body: JSON) -> int:
    n = body.get("n")
    return n if isinstance(n, int) and not isinstance(n, bool) and n > 0 else 1


def new_id(prefix: str) -> str:
    return prefix + uuid.uuid4().hex[:24]


def dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def data_event(payload: Any) -> bytes:
    return b"data: " + dumps(payload) + b"\n\n"


_DONE: Event = (b"data: [DONE]\n\n", False)


# --- chat completions -------------------------------------------------------------------------------


def chat_completion(body: JSON, scenario: Scenario, model: str) -> JSON:
    """A `chat.completion` object: n choices (text or one tool call) and usage per the scenario."""
    n, tool = _choice_count(body), _tool_name(body, scenario)
    message: JSON = {"role": "assistant", "content": scenario.text, "refusal": None, "annotations": []}
    finish, output = scenario.finish_reason, scenario.text
    if tool is not None:
        call = {
            "id": new_id("call_"),
            "type": "function",
            "function": {"name": tool, "arguments": scenario.tool_arguments},
        }
        message = {
            "role": "assistant",
            "content": None,
            "tool_calls": [call],
            "refusal": None,
            "annotations": [],
        }
        finish, output = "tool_calls", scenario.tool_arguments
    choices = [{"index": i, "message": message, "logprobs": None, "finish_reason": finish} for i in range(n)]
    result: JSON = {
        "id": new_id("chatcmpl-"),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": choices,
    }
    if scenario.include_usage is not False:
        result["usage"] = _chat_usage(_tokens(scenario, body, output, n), scenario)
    if scenario.service_tier is not None:
        result["service_tier"] = scenario.service_tier
    result["system_fingerprint"] = SYSTEM_FINGERPRINT
    return result


def chat_stream(body: JSON, scenario: Scenario, model: str) -> list[Event]:
    """`chat.completion.chunk` events: role, content deltas, finish, optional usage, then [DONE]."""
    n, tool = _choice_count(body), _tool_name(body, scenario)
    mode = _stream_usage_mode(body, scenario)
    head: JSON = {
        "id": new_id("chatcmpl-"),
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
    }
    if scenario.service_tier is not None:
        head["service_tier"] = scenario.service_tier
    head["system_fingerprint"] = SYSTEM_FINGERPRINT

    def chunk(choices: list[JSON], usage: JSON | None = None) -> bytes:
        payload = {**head, "choices": choices}
        if mode == "separate" or usage is not None:
            payload["usage"] = usage
        return data_event(payload)

    def choice(index: int, delta: JSON, finish: str | None = None) -> JSON:
        return {"index": index, "delta": delta, "logprobs": None, "finish_reason": finish}

    output = scenario.tool_arguments if tool is not None else scenario.text
    if tool is not None:
        first: JSON = {
            "role": "assistant",
            "content": None,
            "refusal": None,
            "tool_calls": [
                {
                    "index": 0,
                    "id": new_id("call_"),
                    "type": "function",
                    "function": {"name": tool, "arguments": ""},
                }
            ],
        }
    else:
        first = {"role": "assistant", "content": "", "refusal": None}
    events: list[Event] = [(chunk([choice(i, first)]), False) for i in range(n)]
    for piece in split_text(output, scenario.chunks):
        delta: JSON = (
            {"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}
            if tool is not None
            else {"content": piece}
        )
        events.extend((chunk([choice(i, delta)]), True) for i in range(n))
    finish = "tool_calls" if tool is not None else scenario.finish_reason
    usage = _chat_usage(_tokens(scenario, body, output, n), scenario)
    for i in range(n):
        last = i == n - 1
        events.append((chunk([choice(i, {}, finish)], usage if last and mode == "inline" else None), False))
    if mode == "separate":
        events.append((chunk([], usage), False))
    events.append(_DONE)
    return events


# --- legacy completions -----------------------------------------------------------------------------


def _prompt_count(body: JSON) -> int:
    prompt = body.get("prompt")
    if isinstance(prompt, list) and prompt and all(isinstance(p, str | list) for p in prompt):
        return len(prompt)
    return 1


def _legacy_usage(t: _Tokens) -> JSON:
    return {"prompt_tokens": t.prompt, "completion_tokens": t.completion, "total_tokens": t.total}


def text_completion(body: JSON, scenario: Scenario, model: str) -> JSON:
    """A legacy `text_completion` object: one choice per prompt and per `n`."""
    count = _prompt_count(body) * _choice_count(body)
    choices = [
        {"text": scenario.text, "index": i, "logprobs": None, "finish_reason": scenario.finish_reason}
        for i in range(count)
    ]
    result: JSON = {
        "id": new_id("cmpl-"),
        "object": "text_completion",
        "created": int(time.time()),
        "model": model,
        "choices": choices,
    }
    if scenario.include_usage is not False:
        result["usage"] = _legacy_usage(_tokens(scenario, body, scenario.text, count))
    return result


def text_completion_stream(body: JSON, scenario: Scenario, model: str) -> list[Event]:
    """Legacy `text_completion` chunks: text pieces, a finish chunk, optional usage, then [DONE]."""
    count = _prompt_count(body) * _choice_count(body)
    mode = _stream_usage_mode(body, scenario)
    head: JSON = {"id": new_id("cmpl-"), "object": "text_completion", "created": int(time.time())}

    def chunk(choices: list[JSON], usage: JSON | None = None) -> bytes:
        payload = {**head, "choices": choices, "model": model}
        if mode == "separate" or usage is not None:
            payload["usage"] = usage
        return data_event(payload)

    def choice(index: int, text: str, finish: str | None = None) -> JSON:
        return {"text": text, "index": index, "logprobs": None, "finish_reason": finish}

    events: list[Event] = []
    for piece in split_text(scenario.text, scenario.chunks):
        events.extend((chunk([choice(i, piece)]), True) for i in range(count))
    usage = _legacy_usage(_tokens(scenario, body, scenario.text, count))
    for i in range(count):
        inline = usage if i == count - 1 and mode == "inline" else None
        events.append((chunk([choice(i, "", scenario.finish_reason)], inline), False))
    if mode == "separate":
        events.append((chunk([], usage), False))
    events.append(_DONE)
    return events


# --- embeddings -------------------------------------------------------------------------------------


def _embedding_inputs(value: Any) -> list[Any]:
    if isinstance(value, list) and value and all(isinstance(v, int) for v in value):
        return [value]  # one pre-tokenized input
    return list(value) if isinstance(value, list) else [value]


def embedding_vector(item: Any, dimensions: int) -> list[float]:
    """A deterministic unit vector for one input, rounded to float32 so both encodings agree."""
    rng = random.Random(json.dumps(item, sort_keys=True))
    raw = [rng.gauss(0.0, 1.0) for _ in range(dimensions)]
    norm = sum(v * v for v in raw) ** 0.5 or 1.0
    packed = struct.pack(f"<{dimensions}f", *(v / norm for v in raw))
    return list(struct.unpack(f"<{dimensions}f", packed))


def embeddings(body: JSON, scenario: Scenario, model: str) -> JSON:
    """An embeddings `list`: one vector per input, as floats or base64 little-endian float32."""
    dims = body.get("dimensions")
    dims = dims if isinstance(dims, int) and dims > 0 else scenario.embedding_dims
    as_base64 = body.get("encoding_format") == "base64"
    data = []
    for index, item in enumerate(_embedding_inputs(body.get("input"))):
        vector = embedding_vector(item, dims)
        encoded: Any = base64.b64encode(struct.pack(f"<{dims}f", *vector)).decode() if as_base64 else vector
        data.append({"object": "embedding", "index": index, "embedding": encoded})
    result: JSON = {"object": "list", "data": data, "model": model}
    if scenario.include_usage is not False:
        prompt = scenario.prompt_tokens if scenario.prompt_tokens is not None else prompt_tokens_for(body)
        result["usage"] = {"prompt_tokens": prompt, "total_tokens": prompt}
    return result


# --- Responses API ----------------------------------------------------------------------------------


def _responses_usage(t: _Tokens, scenario: Scenario) -> JSON:
    usage: JSON = {"input_tokens": t.prompt}
    if scenario.usage_details:
        usage["input_tokens_details"] = {"cached_tokens": t.cached}
    usage["output_tokens"] = t.completion
    if scenario.usage_details:
        usage["output_tokens_details"] = {"reasoning_tokens": t.reasoning}
    usage["total_tokens"] = t.total
    return usage


def _response_object(
    body: JSON, scenario: Scenario, model: str, rid: str, created: int, output: list[JSON], usage: JSON | None
) -> JSON:
    """The `response` object with the field set of the recorded API, echoing request settings."""
    status = "completed" if output else "in_progress"
    return {
        "id": rid,
        "object": "response",
        "created_at": created,
        "status": status,
        "background": False,
        "error": None,
        "incomplete_details": None,
        "instructions": body.get("instructions"),
        "max_output_tokens": body.get("max_output_tokens"),
        "max_tool_calls": body.get("max_tool_calls"),
        "model": model,
        "output": output,
        "parallel_tool_calls": body.get("parallel_tool_calls", True),
        "previous_response_id": body.get("previous_response_id"),
        "prompt_cache_key": body.get("prompt_cache_key"),
        "prompt_cache_retention": None,
        "reasoning": body.get("reasoning") or {"effort": None, "summary": None},
        "safety_identifier": body.get("safety_identifier"),
        "service_tier": scenario.service_tier,
        "store": body.get("store", True),
        "temperature": body.get("temperature", 1.0),
        "text": body.get("text") or {"format": {"type": "text"}, "verbosity": "medium"},
        "tool_choice": body.get("tool_choice", "auto"),
        "tools": body.get("tools") or [],
        "top_logprobs": body.get("top_logprobs", 0),
        "top_p": body.get("top_p", 1.0),
        "truncation": body.get("truncation", "disabled"),
        "usage": usage,
        "user": body.get("user"),
        "metadata": body.get("metadata") or {},
    }


def _output_item(scenario: Scenario, tool: str | None, item_id: str, call_id: str, done: bool) -> JSON:
    status = "completed" if done else "in_progress"
    if tool is not None:
        arguments = scenario.tool_arguments if done else ""
        return {
            "id": item_id,
            "type": "function_call",
            "status": status,
            "arguments": arguments,
            "call_id": call_id,
            "name": tool,
        }
    content = [_text_part(scenario.text)] if done else []
    return {"id": item_id, "type": "message", "status": status, "content": content, "role": "assistant"}


def _text_part(text: str) -> JSON:
    return {"type": "output_text", "annotations": [], "logprobs": [], "text": text}


def _response_parts(body: JSON, scenario: Scenario) -> tuple[str | None, str, str, str]:
    tool = _tool_name(body, scenario)
    item_id = new_id("fc_" if tool is not None else "msg_")
    output = scenario.tool_arguments if tool is not None else scenario.text
    return tool, item_id, new_id("call_"), output


def response(body: JSON, scenario: Scenario, model: str) -> JSON:
    """A completed Responses API `response` with one message (or function_call) output item."""
    tool, item_id, call_id, output = _response_parts(body, scenario)
    usage = None
    if scenario.include_usage is not False:
        usage = _responses_usage(_tokens(scenario, body, output), scenario)
    item = _output_item(scenario, tool, item_id, call_id, done=True)
    return _response_object(body, scenario, model, new_id("resp_"), int(time.time()), [item], usage)


def response_stream(body: JSON, scenario: Scenario, model: str) -> list[Event]:
    """Responses API events with `event:` lines and sequence numbers, usage in response.completed."""
    tool, item_id, call_id, output = _response_parts(body, scenario)
    rid, created = new_id("resp_"), int(time.time())
    events: list[Event] = []

    def emit(kind: str, content: bool = False, /, **fields: Any) -> None:
        payload = {"type": kind, "sequence_number": len(events), **fields}
        events.append((f"event: {kind}\n".encode() + data_event(payload), content))

    pending = _response_object(body, scenario, model, rid, created, [], None)
    emit("response.created", response=pending)
    emit("response.in_progress", response=pending)
    emit(
        "response.output_item.added",
        output_index=0,
        item=_output_item(scenario, tool, item_id, call_id, done=False),
    )
    pieces = split_text(output, scenario.chunks)
    if tool is not None:
        for piece in pieces:
            emit("response.function_call_arguments.delta", True, item_id=item_id, output_index=0, delta=piece)
        emit("response.function_call_arguments.done", item_id=item_id, output_index=0, arguments=output)
    else:
        where: JSON = {"item_id": item_id, "output_index": 0, "content_index": 0}
        emit("response.content_part.added", **where, part=_text_part(""))
        for piece in pieces:
            emit("response.output_text.delta", True, **where, delta=piece, logprobs=[])
        emit("response.output_text.done", **where, text=output, logprobs=[])
        emit("response.content_part.done", **where, part=_text_part(output))
    item = _output_item(scenario, tool, item_id, call_id, done=True)
    emit("response.output_item.done", output_index=0, item=item)
    usage = None
    if scenario.include_usage is not False:
        usage = _responses_usage(_tokens(scenario, body, output), scenario)
    emit("response.completed", response=_response_object(body, scenario, model, rid, created, [item], usage))
    return events


# --- damage -----------------------------------------------------------------------------------------


def stream_reply(events: list[Event], fail_after: int | None, content_type: str = SSE_CONTENT_TYPE) -> Reply:
    """Events as a reply; with `fail_after`, cut right after that many content events and abort.

    When the stream has fewer content events, it is cut after the last one, so it never ends cleanly.
    Any provider's stream framing works (SSE, NDJSON, AWS event-stream): `content_type` names it.
    """
    if fail_after is None:
        return Reply(200, content_type, events=tuple(e for e, _ in events))
    positions = [i for i, (_, content) in enumerate(events) if content]
    if fail_after < len(positions):
        cut = positions[fail_after]  # just before the first content event that must not arrive
    elif positions:
        cut = positions[-1] + 1
    else:
        cut = 1
    return Reply(200, content_type, events=tuple(e for e, _ in events[:cut]), abort=True)


def malformed_stream(events: list[Event]) -> Reply:
    """A first event whose JSON is cut in half, then [DONE]: the client fails parsing it."""
    first = events[0][0]
    data = first[first.index(b"data: ") + 6 :].rstrip(b"\n")
    return Reply(200, SSE_CONTENT_TYPE, events=(b"data: " + data[: len(data) // 2] + b"\n\n", _DONE[0]))


_RESPONDERS = {
    "chat/completions": chat_completion,
    "completions": text_completion,
    "embeddings": embeddings,
    "responses": response,
}
_STREAMERS = {
    "chat/completions": chat_stream,
    "completions": text_completion_stream,
    "responses": response_stream,
}
