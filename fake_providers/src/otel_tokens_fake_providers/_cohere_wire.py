"""The Cohere (v1 and v2) wire format for the fake provider server, as pure functions.

Answers `/v1/chat`, `/v2/chat`, `/v1/generate`, `/v1/embed`, `/v2/embed`, `/v1/rerank` and `/v2/rerank`
with bodies shaped like the recordings in `shared/recorded/cohere`: v1 streams are newline-delimited JSON
(`stream-start`, `text-generation`..., `stream-end` carrying the whole response), v2 streams are SSE
(`message-start`, `content-delta`..., `message-end` carrying the usage, then `data: [DONE]`).

Usage, v1 in `meta`, v2 chat in `usage`: `billed_units` has the scenario's `prompt_tokens` and
`completion_tokens` (derived from the text when unset, as for OpenAI); `tokens` (the raw counts) adds
`PREAMBLE_TOKENS` to the input and `END_TOKENS` to the output, as the recorded responses show
(69 raw against 7 billed input tokens for one short message). `usage_fields` replace keys of that block
verbatim (e.g. `{"tokens": {...}}`); `cached_tokens` adds Cohere's `cached_tokens` count. A rerank bills
`search_units` only (one per 100 documents, unless `usage_fields` says otherwise); an embed bills input
tokens only; `/v1/generate` reports no raw tokens, and a generate stream no usage at all (the SDK's
`GenerateStreamEndResponse` has no `meta`). Errors are `{"message": ...}` bodies with the scenario's status.
`malformed` cuts the JSON body, or a stream's first event, in half.
"""

from __future__ import annotations

import json
import math
import uuid
from typing import TYPE_CHECKING, Any

from ._openai_wire import (
    JSON_CONTENT_TYPE,
    SSE_CONTENT_TYPE,
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
NDJSON_CONTENT_TYPE = "application/stream+json"
#: Raw input tokens Cohere counts beyond the billed ones (its preamble): 69 - 7 in the recordings.
PREAMBLE_TOKENS = 62
#: Raw output tokens beyond the billed ones (the end-of-turn token): 110 - 109 in the recordings.
END_TOKENS = 1
_DEFAULT_MODEL = "command-r"
_PATHS = frozenset(
    {"/v1/chat", "/v2/chat", "/v1/generate", "/v1/embed", "/v2/embed", "/v1/rerank", "/v2/rerank"}
)
_ERROR_MESSAGES = {
    400: "invalid request: message must be a non-empty string",
    401: "invalid api token",
    404: "model not found, make sure the correct model ID was used and that you have access to the model.",
    422: "unprocessable entity",
    429: "You are using a Trial key, which is limited to 10 API calls / minute.",
    500: "internal server error, this has been reported to our developers.",
}


def handles(request: ReceivedRequest) -> bool:
    """Whether this wire format answers `request`."""
    return request.path in _PATHS


def dispatch(request: ReceivedRequest, scenario: Scenario) -> Reply:
    """Answer `request` the way Cohere (v1 and v2) would under `scenario`."""
    body = request.body
    if request.method != "POST":
        return error_reply(404, f"Cannot {request.method} {request.path}")
    if not isinstance(body, dict):
        return error_reply(400, "invalid request: could not parse the JSON body")
    if scenario.error_status is not None:
        return error_reply(scenario.error_status, scenario.error_message)
    version, op = request.path.split("/")[1:3]
    stream = body.get("stream") is True and op in ("chat", "generate")
    if stream:
        events = _STREAMERS[(version, op)](body, scenario)
        v2 = version == "v2"
        content_type = SSE_CONTENT_TYPE if v2 else NDJSON_CONTENT_TYPE
        if scenario.malformed:
            first = events[0][0].rstrip(b"\n")
            return Reply(200, content_type, events=(first[: len(first) // 2] + b"\n",))
        return stream_reply(events, scenario.fail_after_chunks, content_type)
    encoded = dumps(_RESPONDERS[(version, op)](body, scenario))
    if scenario.malformed:
        encoded = encoded[: len(encoded) // 2]
    return Reply(200, JSON_CONTENT_TYPE, encoded)


def error_reply(status: int, message: str | None = None) -> Reply:
    """A Cohere error body `{"message": ...}`."""
    text = message if message is not None else _ERROR_MESSAGES.get(status, "error")
    return Reply(status, JSON_CONTENT_TYPE, dumps({"message": text}))


def new_id() -> str:
    return str(uuid.uuid4())


# --- usage ------------------------------------------------------------------------------------------


def _billed(scenario: Scenario, body: JSON, output: str) -> tuple[int, int]:
    prompt = scenario.prompt_tokens if scenario.prompt_tokens is not None else _prompt_tokens(body)
    completion = scenario.completion_tokens
    if completion is None:
        completion = completion_tokens_for(output)
    return prompt, completion


def _prompt_tokens(body: JSON) -> int:
    if "messages" in body or "prompt" in body:  # v2 chat (OpenAI-like messages), generate
        return prompt_tokens_for(body)
    history = [turn.get("message") for turn in body.get("chat_history") or () if isinstance(turn, dict)]
    texts = [body.get("message"), body.get("preamble"), *history]  # v1 chat
    return max(1, sum(len(text) for text in texts if isinstance(text, str)) // 4)


def usage_block(scenario: Scenario, body: JSON, output: str, raw: bool = True) -> JSON | None:
    """The `{billed_units, tokens}` block of a chat or generate reply, or None without usage."""
    if scenario.include_usage is False:
        return None
    prompt, completion = _billed(scenario, body, output)
    block: JSON = {"billed_units": {"input_tokens": prompt, "output_tokens": completion}}
    if raw:
        block["tokens"] = {"input_tokens": prompt + PREAMBLE_TOKENS, "output_tokens": completion + END_TOKENS}
    if scenario.cached_tokens:
        block["cached_tokens"] = scenario.cached_tokens
    block.update(scenario.usage_fields)
    return block


def _meta(version: str, usage: JSON | None) -> JSON:
    meta: JSON = {"api_version": {"version": version[1:]}}
    if usage is not None:
        meta.update(usage)
    return meta


# --- chat -------------------------------------------------------------------------------------------


def _tool(body: JSON, scenario: Scenario) -> str | None:
    """The name of the first tool the request offers, when the scenario asks for a tool call."""
    if not scenario.tool_call:
        return None
    for tool in body.get("tools") or ():
        if isinstance(tool, dict):
            nested = tool.get("function")
            function: JSON = nested if isinstance(nested, dict) else tool  # v2 nests it, v1 does not
            if isinstance(function.get("name"), str):
                return str(function["name"])
    return None


def v1_chat(body: JSON, scenario: Scenario, generation_id: str | None = None) -> JSON:
    """A v1 `NonStreamedChatResponse`: text (or tool calls), chat history and `meta` usage."""
    tool = _tool(body, scenario)
    text = "" if tool is not None else scenario.text
    output = scenario.tool_arguments if tool is not None else text
    result: JSON = {"response_id": new_id(), "text": text, "generation_id": generation_id or new_id()}
    if tool is not None:
        result["tool_calls"] = [{"name": tool, "parameters": json.loads(scenario.tool_arguments)}]
    history = [*(body.get("chat_history") or ()), {"role": "USER", "message": body.get("message", "")}]
    result["chat_history"] = [*history, {"role": "CHATBOT", "message": text}]
    result["finish_reason"] = _finish(scenario, tool)
    result["meta"] = _meta("v1", usage_block(scenario, body, output))
    return result


def _finish(scenario: Scenario, tool: str | None) -> str:
    if tool is not None:
        return "TOOL_CALL" if scenario.finish_reason == "stop" else scenario.finish_reason
    return "COMPLETE" if scenario.finish_reason == "stop" else scenario.finish_reason


def v1_chat_stream(body: JSON, scenario: Scenario) -> list[Event]:
    """v1 NDJSON events: `stream-start`, one `text-generation` per piece, `stream-end` with the response."""
    generation_id = new_id()
    final = v1_chat(body, scenario, generation_id)
    events: list[Event] = [
        _line({"is_finished": False, "event_type": "stream-start", "generation_id": generation_id})
    ]
    events += [
        _line({"is_finished": False, "event_type": "text-generation", "text": piece}, True)
        for piece in split_text(final["text"], scenario.chunks)
    ]
    end = {
        "is_finished": True,
        "event_type": "stream-end",
        "response": final,
        "finish_reason": final["finish_reason"],
    }
    events.append(_line(end))
    return events


def _line(payload: JSON, content: bool = False) -> Event:
    """One NDJSON event; `content` marks generated text (what `fail_after_chunks` counts)."""
    return dumps(payload) + b"\n", content


def v2_chat(body: JSON, scenario: Scenario) -> JSON:
    """A v2 `ChatResponse`: an assistant message (text, or a tool plan and a tool call) and `usage`."""
    tool = _tool(body, scenario)
    if tool is not None:
        message: JSON = {
            "role": "assistant",
            "tool_plan": scenario.text,
            "tool_calls": [_tool_call(tool, scenario.tool_arguments)],
        }
        output = scenario.text + scenario.tool_arguments
    else:
        message = {"role": "assistant", "content": [{"type": "text", "text": scenario.text}]}
        output = scenario.text
    result: JSON = {"id": new_id(), "message": message, "finish_reason": _finish(scenario, tool)}
    usage = usage_block(scenario, body, output)
    if usage is not None:
        result["usage"] = usage
    return result


def _tool_call(name: str, arguments: str) -> JSON:
    return {
        "id": f"{name}_{uuid.uuid4().hex[:12]}",
        "type": "function",
        "function": {"name": name, "arguments": arguments},
    }


def v2_chat_stream(body: JSON, scenario: Scenario) -> list[Event]:
    """v2 SSE events with `event:` lines, as recorded; usage in `message-end`, then `data: [DONE]`."""
    tool = _tool(body, scenario)
    events: list[Event] = []

    def emit(kind: str, content: bool = False, /, **fields: Any) -> None:
        payload = {"type": kind, **fields}
        events.append((f"event: {kind}\n".encode() + b"data: " + dumps(payload) + b"\n\n", content))

    start = {"role": "assistant", "content": [], "tool_plan": "", "tool_calls": [], "citations": []}
    emit("message-start", id=new_id(), delta={"message": start})
    if tool is not None:
        for piece in split_text(scenario.text, scenario.chunks):
            emit("tool-plan-delta", True, delta={"message": {"tool_plan": piece}})
        call = _tool_call(tool, "")
        emit("tool-call-start", index=0, delta={"message": {"tool_calls": call}})
        for piece in split_text(scenario.tool_arguments, scenario.chunks):
            emit(
                "tool-call-delta",
                True,
                index=0,
                delta={"message": {"tool_calls": {"function": {"arguments": piece}}}},
            )
        emit("tool-call-end", index=0)
        output = scenario.text + scenario.tool_arguments
    else:
        emit("content-start", index=0, delta={"message": {"content": {"type": "text", "text": ""}}})
        for piece in split_text(scenario.text, scenario.chunks):
            emit("content-delta", True, index=0, delta={"message": {"content": {"text": piece}}})
        emit("content-end", index=0)
        output = scenario.text
    end: JSON = {"finish_reason": _finish(scenario, tool)}
    usage = usage_block(scenario, body, output)
    if usage is not None:
        end["usage"] = usage
    emit("message-end", delta=end)
    events.append((b"data: [DONE]\n\n", False))
    return events


# --- generate ---------------------------------------------------------------------------------------


def _generation_count(body: JSON) -> int:
    n = body.get("num_generations")
    return n if isinstance(n, int) and not isinstance(n, bool) and n > 0 else 1


def generate(body: JSON, scenario: Scenario) -> JSON:
    """A v1 `Generation`: one generation per `num_generations`, `meta` with billed units only."""
    n = _generation_count(body)
    finish = _finish(scenario, None)
    generations = [{"id": new_id(), "text": scenario.text, "finish_reason": finish} for _ in range(n)]
    scenario_usage = usage_block(scenario, body, scenario.text * n, raw=False)
    return {
        "id": new_id(),
        "generations": generations,
        "prompt": body.get("prompt"),
        "meta": _meta("v1", scenario_usage),
    }


def generate_stream(body: JSON, scenario: Scenario) -> list[Event]:
    """v1 NDJSON `text-generation` events, then `stream-end` with the generations (no usage: the
    SDK's `GenerateStreamEndResponse` has no `meta`)."""
    final = generate(body, scenario)
    final.pop("meta")
    events: list[Event] = [
        _line({"text": piece, "is_finished": False, "event_type": "text-generation"}, True)
        for piece in split_text(scenario.text, scenario.chunks)
    ]
    finish = final["generations"][0]["finish_reason"]
    events.append(
        _line({"is_finished": True, "event_type": "stream-end", "finish_reason": finish, "response": final})
    )
    return events


# --- embed and rerank -------------------------------------------------------------------------------


def embed(body: JSON, scenario: Scenario, version: str) -> JSON:
    """Embeddings as floats (v1 without `embedding_types`) or by type, billed in input tokens."""
    texts = [t for t in body.get("texts") or () if isinstance(t, str)]
    dims = body.get("output_dimension")
    dims = dims if isinstance(dims, int) and dims > 0 else scenario.embedding_dims
    vectors = [embedding_vector(text, dims) for text in texts]
    types = body.get("embedding_types")
    result: JSON = {"id": new_id(), "texts": [text.lower() for text in texts]}
    if version == "v1" and not types:
        result["embeddings"] = vectors
        response_type = "embeddings_floats"
    else:
        by_type: JSON = {}
        for kind in types or ["float"]:
            by_type[kind] = (
                vectors if kind == "float" else [[round(v * 127) for v in vector] for vector in vectors]
            )
        result["embeddings"] = by_type
        response_type = "embeddings_by_type"
    usage = None
    if scenario.include_usage is not False:
        prompt = scenario.prompt_tokens
        if prompt is None:
            prompt = max(1, sum(len(text) for text in texts) // 4)
        usage = {"billed_units": {"input_tokens": prompt}, **scenario.usage_fields}
    result["meta"] = _meta(version, usage)
    result["response_type"] = response_type
    return result


def rerank(body: JSON, scenario: Scenario, version: str) -> JSON:
    """Results by a deterministic score, best first, `top_n` of them; billed in search units."""
    documents = list(body.get("documents") or ())
    scores = [(1.0 / (1 + index), index) for index in range(len(documents))]
    top_n = body.get("top_n")
    if isinstance(top_n, int) and top_n > 0:
        scores = scores[:top_n]
    results = [{"index": index, "relevance_score": score} for score, index in scores]
    usage = None
    if scenario.include_usage is not False:
        units = max(1, math.ceil(len(documents) / 100))
        usage = {"billed_units": {"search_units": units}, **scenario.usage_fields}
    return {"id": new_id(), "results": results, "meta": _meta(version, usage)}


_RESPONDERS = {
    ("v1", "chat"): v1_chat,
    ("v2", "chat"): v2_chat,
    ("v1", "generate"): generate,
    ("v1", "embed"): lambda body, scenario: embed(body, scenario, "v1"),
    ("v2", "embed"): lambda body, scenario: embed(body, scenario, "v2"),
    ("v1", "rerank"): lambda body, scenario: rerank(body, scenario, "v1"),
    ("v2", "rerank"): lambda body, scenario: rerank(body, scenario, "v2"),
}
_STREAMERS = {
    ("v1", "chat"): v1_chat_stream,
    ("v2", "chat"): v2_chat_stream,
    ("v1", "generate"): generate_stream,
}
