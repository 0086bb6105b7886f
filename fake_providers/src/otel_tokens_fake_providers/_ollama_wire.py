"""The Ollama wire format for the fake provider server, as pure functions.

Answers Ollama's native API under ``/api/``: ``/api/chat`` and ``/api/generate`` (one JSON object,
or an NDJSON stream, ``application/x-ndjson``, ending with a ``"done": true`` line that carries
the counts and durations), ``/api/embed`` and the legacy ``/api/embeddings`` (which reports no
counts). Shapes follow the recordings in ``shared/recorded/ollama``. Like the real server, a
request streams unless its body says ``"stream": false``, and the counts follow Go's
``omitempty``: a count of 0 is left out, which is what a KV-cache hit looks like
(``Scenario(prompt_tokens=0)``).

`Scenario` fields, in Ollama's terms: `prompt_tokens` -> ``prompt_eval_count`` (default: derived
from the request text), `completion_tokens` -> ``eval_count`` (default: from `text`),
`cached_tokens` -> ``prompt_eval_cached_count`` (newer servers), `include_usage=False` leaves both
counts out, `usage_fields` are merged verbatim into the final object, `finish_reason` is the
``done_reason``, `tool_call` answers with a call of the request's first tool (arguments parsed from
`tool_arguments`: Ollama sends them as a JSON object). `error_status` answers ``{"error": ...}``
with that status. `fail_after_chunks` cuts the stream after that many content lines; with
`error_message` set as well, the server instead sends ``{"error": message}`` as the next line and
ends the stream cleanly, as Ollama does for an error during generation. `malformed` cuts the JSON
(the body's, or a stream's first line) in half.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ._openai_wire import (
    Event,
    Reply,
    completion_tokens_for,
    dumps,
    embedding_vector,
    prompt_tokens_for,
    split_text,
    stream_reply,
)

if TYPE_CHECKING:
    from ._server import ReceivedRequest, Scenario

JSON = dict[str, Any]
JSON_CONTENT_TYPE = "application/json; charset=utf-8"
NDJSON_CONTENT_TYPE = "application/x-ndjson"
PREFIX = "/api/"

_OPERATIONS = {
    "/api/chat": "chat",
    "/api/generate": "generate",
    "/api/embed": "embed",
    "/api/embeddings": "embeddings",
}
_DEFAULT_ERRORS = {
    400: "invalid request",
    401: "unauthorized",
    404: 'model "{model}" not found, try pulling it first',
    429: "too many requests",
    500: "an error was encountered while running the model",
    503: "server busy, please try again.  maximum pending requests exceeded",
}


def handles(request: ReceivedRequest) -> bool:
    """Whether this wire format answers `request`: anything under ``/api/`` (no other provider uses it)."""
    return request.path.startswith(PREFIX)


def dispatch(request: ReceivedRequest, scenario: Scenario) -> Reply:
    """Answer `request` the way an Ollama server would under `scenario`."""
    operation = _OPERATIONS.get(request.path)
    if operation is None or request.method != "POST":
        # Go's default mux answer, in plain text.
        return Reply(404, "text/plain; charset=utf-8", b"404 page not found")
    body = request.body
    if not isinstance(body, dict):
        return error_reply(400, "invalid character in request body")
    model = body.get("model")
    if scenario.error_status is not None:
        return error_reply(scenario.error_status, scenario.error_message, model)
    if not isinstance(model, str) or not model:
        return error_reply(400, "model is required")
    response_model = scenario.model or model
    if operation == "embed":
        return _json_reply(embed(body, scenario, response_model), scenario)
    if operation == "embeddings":
        return _json_reply(embeddings(body, scenario), scenario)
    if body.get("stream") is False:
        return _json_reply(generation(operation, body, scenario, response_model), scenario)
    events = generation_stream(operation, body, scenario, response_model)
    if scenario.malformed:
        first = events[0][0].rstrip(b"\n")
        return Reply(200, NDJSON_CONTENT_TYPE, events=(first[: len(first) // 2] + b"\n",))
    if scenario.fail_after_chunks is not None and scenario.error_message is not None:
        return _failing_stream(events, scenario.fail_after_chunks, scenario.error_message)
    return stream_reply(events, scenario.fail_after_chunks, NDJSON_CONTENT_TYPE)


def error_reply(status: int, message: str | None = None, model: Any = None) -> Reply:
    """Ollama's error body, ``{"error": "..."}``, with a default message per status."""
    if message is None:
        message = _DEFAULT_ERRORS.get(status, "an error occurred").format(model=model)
    return Reply(status, JSON_CONTENT_TYPE, dumps({"error": message}))


def _json_reply(payload: JSON, scenario: Scenario) -> Reply:
    encoded = dumps(payload)
    if scenario.malformed:
        encoded = encoded[: len(encoded) // 2]
    return Reply(200, JSON_CONTENT_TYPE, encoded)


def _failing_stream(events: list[Event], after: int, message: str) -> Reply:
    kept: list[bytes] = []
    content = 0
    for line, is_content in events:
        if is_content and content == after:
            break
        content += is_content
        kept.append(line)
    return Reply(200, NDJSON_CONTENT_TYPE, events=(*kept, _line({"error": message})))


# --- shapes -----------------------------------------------------------------------------------------


def created_at() -> str:
    """The current UTC time as Go's RFC 3339 with fractional seconds."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def metrics(prompt: int, completion: int, scenario: Scenario) -> JSON:
    """A generation's final durations (nanoseconds) and counts; zero counts are omitted, as Go does."""
    values: JSON = {"total_duration": 0, "load_duration": 1_250_000}
    if scenario.include_usage is not False and prompt:
        values["prompt_eval_count"] = prompt
    if scenario.include_usage is not False and scenario.cached_tokens:
        values["prompt_eval_cached_count"] = scenario.cached_tokens
    values["prompt_eval_duration"] = 2_000_000 + 150_000 * prompt
    if scenario.include_usage is not False and completion:
        values["eval_count"] = completion
    values["eval_duration"] = 20_000_000 * max(completion, 1)
    values["total_duration"] = sum(v for k, v in values.items() if k.endswith("_duration"))
    values.update(scenario.usage_fields)
    return values


def _counts(body: JSON, scenario: Scenario, output: str) -> tuple[int, int]:
    prompt = scenario.prompt_tokens if scenario.prompt_tokens is not None else prompt_tokens_for(body)
    completion = scenario.completion_tokens
    if completion is None:
        completion = completion_tokens_for(output)
    return prompt, completion


def _context(prompt: int, completion: int) -> list[int]:
    """A generate response's ``context``: the token ids of the exchange, for the next call."""
    return [128000 + (i * 7919) % 100000 for i in range(prompt + completion)]


def _tool_call(body: JSON, scenario: Scenario) -> JSON | None:
    if not scenario.tool_call:
        return None
    for tool in body.get("tools") or ():
        function = tool.get("function") if isinstance(tool, dict) else None
        if isinstance(function, dict) and isinstance(function.get("name"), str):
            return {"function": {"name": function["name"], "arguments": json.loads(scenario.tool_arguments)}}
    return None


def generation(operation: str, body: JSON, scenario: Scenario, model: str) -> JSON:
    """A whole ``/api/chat`` or ``/api/generate`` response."""
    call = _tool_call(body, scenario) if operation == "chat" else None
    output = scenario.text if call is None else scenario.tool_arguments
    prompt, completion = _counts(body, scenario, output)
    if operation == "chat":
        message: JSON = {"role": "assistant", "content": scenario.text if call is None else ""}
        if call is not None:
            message["tool_calls"] = [call]
        return {
            "model": model,
            "created_at": created_at(),
            "message": message,
            "done_reason": scenario.finish_reason,
            "done": True,
            **metrics(prompt, completion, scenario),
        }
    result: JSON = {
        "model": model,
        "created_at": created_at(),
        "response": scenario.text,
        "done": True,
        "done_reason": scenario.finish_reason,
    }
    if body.get("raw") is not True:
        result["context"] = _context(prompt, completion)
    return {**result, **metrics(prompt, completion, scenario)}


def generation_stream(operation: str, body: JSON, scenario: Scenario, model: str) -> list[Event]:
    """NDJSON lines of a streamed chat or generate: one per text piece, then the ``done`` line."""
    call = _tool_call(body, scenario) if operation == "chat" else None
    prompt, completion = _counts(body, scenario, scenario.text if call is None else scenario.tool_arguments)
    events: list[Event] = []

    def part(piece: str, tool_calls: list[JSON] | None = None) -> JSON:
        if operation == "generate":
            return {"model": model, "created_at": created_at(), "response": piece, "done": False}
        message: JSON = {"role": "assistant", "content": piece}
        if tool_calls:
            message["tool_calls"] = tool_calls
        return {"model": model, "created_at": created_at(), "message": message, "done": False}

    if call is not None:
        events.append((_line(part("", [call])), True))  # Ollama sends a tool call whole, in one line
    else:
        events.extend((_line(part(piece)), True) for piece in split_text(scenario.text, scenario.chunks))
    final: JSON
    if operation == "chat":
        final = {
            "model": model,
            "created_at": created_at(),
            "message": {"role": "assistant", "content": ""},
            "done_reason": scenario.finish_reason,
            "done": True,
        }
    else:
        final = {"model": model, "created_at": created_at(), "response": "", "done": True}
        final["done_reason"] = scenario.finish_reason
        if body.get("raw") is not True:
            final["context"] = _context(prompt, completion)
    events.append((_line({**final, **metrics(prompt, completion, scenario)}), False))
    return events


def embed(body: JSON, scenario: Scenario, model: str) -> JSON:
    """An ``/api/embed`` response: one vector per input, and the input's token count."""
    value = body.get("input")
    inputs = value if isinstance(value, list) else [value]
    dims = body.get("dimensions")
    dims = dims if isinstance(dims, int) and dims > 0 else scenario.embedding_dims
    prompt = scenario.prompt_tokens if scenario.prompt_tokens is not None else prompt_tokens_for(body)
    result: JSON = {
        "model": model,
        "embeddings": [embedding_vector(item, dims) for item in inputs],
        "total_duration": 14_000_000 + 100_000 * prompt,
        "load_duration": 1_250_000,
    }
    if scenario.include_usage is not False and prompt:
        result["prompt_eval_count"] = prompt
    result.update(scenario.usage_fields)
    return result


def embeddings(body: JSON, scenario: Scenario) -> JSON:
    """A legacy ``/api/embeddings`` response: the vector alone, no model and no counts."""
    return {"embedding": embedding_vector(body.get("prompt"), scenario.embedding_dims)}


def _line(payload: JSON) -> bytes:
    return dumps(payload) + b"\n"
