"""The Mistral wire format for the fake provider server, as pure functions.

Mistral serves ``/v1/chat/completions`` and ``/v1/embeddings`` like OpenAI (plus
``/v1/fim/completions``), so requests are told apart by the client: the mistralai SDK sends
``user-agent: mistral-client-python/<version>`` (before its user-agent hook runs, the generator's
``speakeasy-sdk/python ... mistralai``). Shapes follow the real API as recorded in
``shared/recorded/mistral_ai``: usage always present (streams carry it on the chunk with the finish
reason, no separate usage chunk, then ``data: [DONE]``), ``completion_tokens: 0`` on embeddings,
and errors as ``{"object": "error", "message", "type", "param", "code"}``.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from ._openai_wire import (
    JSON_CONTENT_TYPE,
    Event,
    Reply,
    data_event,
    dumps,
    embedding_vector,
    malformed_stream,
    new_id,
    prompt_tokens_for,
    response_model,
    split_text,
    stream_reply,
)

if TYPE_CHECKING:
    from ._server import ReceivedRequest, Scenario

JSON = dict[str, Any]
USER_AGENT_PREFIX = "mistral-client-python/"
_GENERATED_AGENT = ("speakeasy-sdk/python ", " mistralai")
_DONE: Event = (b"data: [DONE]\n\n", False)


def handles(request: ReceivedRequest) -> bool:
    """Whether the request comes from the mistralai SDK (by its user-agent), whatever the path."""
    agent = request.headers.get("user-agent", "")
    return agent.startswith(USER_AGENT_PREFIX) or (
        agent.startswith(_GENERATED_AGENT[0]) and agent.endswith(_GENERATED_AGENT[1])
    )


def dispatch(request: ReceivedRequest, scenario: Scenario) -> Reply:
    """Answer `request` the way Mistral would under `scenario`.

    Unknown paths get a 404 and a non-object body a 400, with Mistral error bodies;
    `scenario.error_status` wins over any success; `malformed` and `fail_after_chunks` damage it.
    """
    route = _ROUTES.get(request.path)
    if request.method != "POST" or route is None:
        return error_reply(404, f"Not Found: {request.method} {request.path}", "invalid_request_error")
    body = request.body
    if not isinstance(body, dict):
        return error_reply(400, "Invalid JSON body", "invalid_request_error")
    if scenario.error_status is not None:
        return error_reply(
            scenario.error_status, scenario.error_message, scenario.error_type, scenario.error_code
        )
    model = response_model(scenario, body, None)
    if body.get("stream") is True and route != "embeddings":
        events = chat_stream(body, scenario, model)
        return (
            malformed_stream(events)
            if scenario.malformed
            else stream_reply(events, scenario.fail_after_chunks)
        )
    payload = (
        embeddings(body, scenario, model) if route == "embeddings" else chat_completion(body, scenario, model)
    )
    encoded = dumps(payload)
    if scenario.malformed:
        encoded = encoded[: len(encoded) // 2]
    return Reply(200, JSON_CONTENT_TYPE, encoded)


_ROUTES = {
    "/v1/chat/completions": "chat",
    "/v1/fim/completions": "fim",
    "/v1/embeddings": "embeddings",
}


def error_reply(
    status: int, message: str | None = None, type_: str | None = None, code: str | None = None
) -> Reply:
    """A Mistral error body; a 422 carries FastAPI-style validation ``detail`` in its message."""
    default_type, default_message = _error_defaults(status)
    payload: JSON = {
        "object": "error",
        "message": message if message is not None else default_message,
        "type": type_ if type_ is not None else default_type,
        "param": None,
        "code": code if code is not None else str(status),
    }
    return Reply(status, JSON_CONTENT_TYPE, dumps(payload))


def _error_defaults(status: int) -> tuple[str, Any]:
    if status == 401:
        return "invalid_request_error", "Unauthorized"
    if status == 404:
        return "invalid_request_error", "Not Found"
    if status == 422:
        detail = [{"type": "missing", "loc": ["body", "model"], "msg": "Field required", "input": None}]
        return "invalid_request_message_error", {"detail": detail}
    if status == 429:
        return "rate_limited", "Requests rate limit exceeded"
    if status >= 500:
        return "internal_server_error", "Internal server error"
    return "invalid_request_error", "Invalid request"


# --- usage ------------------------------------------------------------------------------------------


def _usage(body: JSON, scenario: Scenario, output: str, choices: int) -> JSON:
    """``usage`` as Mistral writes it: prompt (cache reads included), total, completion."""
    prompt = scenario.prompt_tokens if scenario.prompt_tokens is not None else prompt_tokens_for(body)
    completion = scenario.completion_tokens
    if completion is None:
        completion = (max(1, len(output) // 4) if output else 0) * choices + scenario.reasoning_tokens
    usage: JSON = {
        "prompt_tokens": prompt,
        "total_tokens": prompt + completion,
        "completion_tokens": completion,
    }
    if scenario.cached_tokens:
        usage["prompt_tokens_details"] = {"cached_tokens": scenario.cached_tokens}
    if scenario.reasoning_tokens:
        usage["completion_tokens_details"] = {"reasoning_tokens": scenario.reasoning_tokens}
    if scenario.service_tier not in (None, "default"):
        usage["service_tier"] = scenario.service_tier
    usage.update(scenario.usage_fields)
    return usage


def _choice_count(body: JSON) -> int:
    n = body.get("n")
    return n if isinstance(n, int) and not isinstance(n, bool) and n > 0 else 1


def _tool_name(body: JSON, scenario: Scenario) -> str | None:
    if not scenario.tool_call:
        return None
    for tool in body.get("tools") or []:
        function = tool.get("function") if isinstance(tool, dict) else None
        if isinstance(function, dict) and isinstance(function.get("name"), str):
            return str(function["name"])
    return None


def _tool_call(name: str, arguments: str) -> JSON:
    # Mistral's tool-call ids are 9 alphanumeric characters.
    return {
        "id": new_id("")[:9],
        "type": "function",
        "function": {"name": name, "arguments": arguments},
        "index": 0,
    }


# --- chat and FIM completions -----------------------------------------------------------------------


def chat_completion(body: JSON, scenario: Scenario, model: str) -> JSON:
    """A ``chat.completion`` object (FIM answers in the same shape): n choices, usage."""
    n, tool = _choice_count(body), _tool_name(body, scenario)
    message: JSON = {"role": "assistant", "tool_calls": None, "content": scenario.text}
    finish, output = scenario.finish_reason, scenario.text
    if tool is not None:
        message = {
            "role": "assistant",
            "tool_calls": [_tool_call(tool, scenario.tool_arguments)],
            "content": "",
        }
        finish, output = "tool_calls", scenario.tool_arguments
    result: JSON = {"id": new_id(""), "created": int(time.time()), "model": model}
    if scenario.include_usage is not False:
        result["usage"] = _usage(body, scenario, output, n)
    result["object"] = "chat.completion"
    result["choices"] = [{"index": i, "finish_reason": finish, "message": message} for i in range(n)]
    return result


def chat_stream(body: JSON, scenario: Scenario, model: str) -> list[Event]:
    """``chat.completion.chunk`` events: role, content pieces, the finish chunk with usage, [DONE]."""
    n, tool = _choice_count(body), _tool_name(body, scenario)
    head: JSON = {
        "id": new_id(""),
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
    }

    def chunk(index: int, delta: JSON, finish: str | None = None, usage: JSON | None = None) -> bytes:
        payload: JSON = {**head, "choices": [{"index": index, "delta": delta, "finish_reason": finish}]}
        if usage is not None:
            payload["usage"] = usage
        return data_event(payload)

    events: list[Event] = [(chunk(i, {"role": "assistant", "content": ""}), False) for i in range(n)]
    if tool is not None:
        output = scenario.tool_arguments
        call = _tool_call(tool, output)
        events.extend((chunk(i, {"tool_calls": [call]}), True) for i in range(n))
        finish = "tool_calls"
    else:
        output = scenario.text
        for piece in split_text(output, scenario.chunks):
            events.extend((chunk(i, {"content": piece}), True) for i in range(n))
        finish = scenario.finish_reason
    usage = _usage(body, scenario, output, n) if scenario.include_usage is not False else None
    for i in range(n):
        events.append((chunk(i, {"content": ""}, finish, usage if i == n - 1 else None), False))
    events.append(_DONE)
    return events


# --- embeddings -------------------------------------------------------------------------------------


def embeddings(body: JSON, scenario: Scenario, model: str) -> JSON:
    """An embeddings ``list``: one vector per input, usage with ``completion_tokens: 0``."""
    value = body.get("input", body.get("inputs"))
    inputs = value if isinstance(value, list) else [value]
    dims = body.get("output_dimension")
    dims = dims if isinstance(dims, int) and dims > 0 else scenario.embedding_dims
    data = [
        {"object": "embedding", "embedding": embedding_vector(item, dims), "index": index}
        for index, item in enumerate(inputs)
    ]
    result: JSON = {"id": new_id(""), "object": "list", "data": data, "model": model}
    if scenario.include_usage is not False:
        prompt = scenario.prompt_tokens if scenario.prompt_tokens is not None else prompt_tokens_for(body)
        result["usage"] = {
            "prompt_audio_seconds": None,
            "prompt_tokens": prompt,
            "total_tokens": prompt,
            "completion_tokens": 0,
            "request_count": None,
            "prompt_token_details": None,
            **scenario.usage_fields,
        }
    return result
