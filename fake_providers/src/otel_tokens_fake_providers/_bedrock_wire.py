"""The Amazon Bedrock runtime wire format for the fake provider server, as pure functions.

Routes: ``POST /model/{modelId}/converse``, ``/converse-stream``, ``/invoke`` and
``/invoke-with-response-stream`` (the model id URL-encoded, as botocore sends it; the Anthropic SDK's
Bedrock client leaves ``:`` as is). Plain operations answer JSON; streaming ones answer the AWS
event-stream binary framing (``application/vnd.amazon.eventstream``), encoded here by hand.

Token counts are written the way Bedrock reports them: ``Scenario.prompt_tokens`` is the input
*without* its cached part (``inputTokens``, ``x-amzn-bedrock-input-token-count``), ``cached_tokens``
the cache read and ``cache_creation_tokens`` the cache write, each reported beside it; when
``prompt_tokens`` is None it is max(1, characters // 4) of the request's text. ``include_usage=False``
drops every count (body, headers, stream metadata and ``amazon-bedrock-invocationMetrics``).
``usage_fields`` are merged into the Converse ``usage`` block.

InvokeModel bodies follow the model family named by the model id (inference-profile prefixes
``us.``/``eu.``... and ARNs are looked through): Anthropic Messages and legacy text completions,
Amazon Nova, Titan text and embeddings, Meta Llama, Mistral (text and chat), Cohere Command
(text and R) and embeddings, AI21 Jurassic; any other id gets OpenAI-style bodies (imported models).

Errors: `error_status` answers an AWS JSON error with its ``x-amzn-ErrorType`` header
(``error_type`` or a default per status, e.g. 429 ThrottlingException), so botocore raises the
matching ``ClientError``. For streams, ``error_type`` *without* ``error_status`` ends the stream with
that in-stream exception event (e.g. ``modelStreamErrorException``) after ``fail_after_chunks``
content events (all of them when None); `fail_after_chunks` alone drops the connection instead.
`malformed` cuts a JSON body in half, or corrupts a stream's first frame checksum.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import struct
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from ._openai_wire import JSON_CONTENT_TYPE, Reply, completion_tokens_for, dumps, split_text, stream_reply

if TYPE_CHECKING:
    from ._server import ReceivedRequest, Scenario

JSON = dict[str, Any]
EVENTSTREAM_CONTENT_TYPE = "application/vnd.amazon.eventstream"
INPUT_HEADER = "x-amzn-bedrock-input-token-count"
OUTPUT_HEADER = "x-amzn-bedrock-output-token-count"
CACHE_READ_HEADER = "x-amzn-bedrock-cache-read-input-token-count"
CACHE_WRITE_HEADER = "x-amzn-bedrock-cache-write-input-token-count"
TIER_HEADER = "x-amzn-bedrock-service-tier"
METRICS_KEY = "amazon-bedrock-invocationMetrics"

_ROUTE = re.compile(
    r"^/model/(?P<model>[^/]+)/(?P<op>converse|converse-stream|invoke|invoke-with-response-stream)$"
)
_GEO_PREFIX = re.compile(r"^(?:us|us-gov|eu|apac|au|jp|ca|in|global)\.")
_TEXT_KEYS = frozenset({"messages", "system", "prompt", "inputText", "texts", "message", "chat_history"})
_NOT_TEXT = frozenset({"role", "type", "cache_control", "anthropic_version"})
_STRING = 7  # event-stream header value type: UTF-8 string
_ERROR_CODES = {
    400: "ValidationException",
    401: "UnrecognizedClientException",
    403: "AccessDeniedException",
    404: "ResourceNotFoundException",
    408: "ModelTimeoutException",
    424: "ModelErrorException",
    429: "ThrottlingException",
    500: "InternalServerException",
    503: "ServiceUnavailableException",
}
# One stream event: its frame and whether it carries generated content (what fail_after_chunks counts).
Event = tuple[bytes, bool]


def handles(request: ReceivedRequest) -> bool:
    """Whether this wire format answers `request`: a Bedrock runtime model path."""
    return request.path.startswith("/model/") and _ROUTE.match(request.path) is not None


def dispatch(request: ReceivedRequest, scenario: Scenario) -> Reply:
    """Answer `request` the way Amazon Bedrock (bedrock-runtime) would under `scenario`."""
    match = _ROUTE.match(request.path)
    if request.method != "POST" or match is None:
        return error_reply(
            404, "UnknownOperationException", f"Unknown operation {request.method} {request.path}"
        )
    body = request.body
    if not isinstance(body, dict):
        return error_reply(400, "ValidationException", "Malformed input request, please reformat your input.")
    if scenario.error_status is not None:
        code = (
            scenario.error_type
            or _ERROR_CODES.get(scenario.error_status)
            or ("InternalServerException" if scenario.error_status >= 500 else "ValidationException")
        )
        return error_reply(scenario.error_status, code, scenario.error_message or f"{code} (fake server)")
    model_id = unquote(match["model"])
    op = match["op"]
    call = _Call(body, scenario, model_id)
    if op == "converse":
        return _json_reply(converse_response(call), scenario)
    if op == "invoke":
        family = family_of(model_id, body)
        reply = _json_reply(_INVOKE_BODIES[family](call), scenario)
        token_headers = _token_headers(call, family)
        if TIER_HEADER in request.headers:
            token_headers[TIER_HEADER] = request.headers[TIER_HEADER]  # echoed: the tier that served the call
        return Reply(reply.status, reply.content_type, reply.body, headers=token_headers)
    if op == "converse-stream":
        events = converse_stream_events(call)
        headers: dict[str, str] = {}
    else:
        family = family_of(model_id, body)
        if family not in _INVOKE_CHUNKS:
            return error_reply(400, "ValidationException", "The model is unsupported for streaming.")
        events = [(chunk_frame(payload), content) for payload, content in _INVOKE_CHUNKS[family](call)]
        headers = {"x-amzn-bedrock-content-type": JSON_CONTENT_TYPE}
    reply = _stream(events, scenario)
    return Reply(reply.status, reply.content_type, reply.body, reply.events, reply.abort, headers)


def error_reply(status: int, code: str, message: str) -> Reply:
    """An AWS JSON error: ``{"message"}`` with the code in ``x-amzn-ErrorType`` as Bedrock sends it."""
    headers = {
        "x-amzn-ErrorType": f"{code}:http://internal.amazon.com/coral/com.amazon.bedrock/",
        "x-amzn-RequestId": str(uuid.uuid4()),
    }
    return Reply(status, JSON_CONTENT_TYPE, dumps({"message": message}), headers=headers)


# --- event-stream framing --------------------------------------------------------------------------


def frame(headers: dict[str, str], payload: bytes) -> bytes:
    """One event-stream message: prelude (total length, headers length, CRC32), string headers,
    payload, and the CRC32 of everything before it."""
    encoded = b"".join(
        struct.pack(">B", len(n)) + n + struct.pack(">BH", _STRING, len(v)) + v
        for n, v in ((name.encode(), value.encode()) for name, value in headers.items())
    )
    prelude = struct.pack(">II", 12 + len(encoded) + len(payload) + 4, len(encoded))
    message = prelude + struct.pack(">I", binascii.crc32(prelude)) + encoded + payload
    return message + struct.pack(">I", binascii.crc32(message))


def event_frame(event_type: str, payload: JSON) -> bytes:
    """A Converse stream event (``messageStart``, ``contentBlockDelta``, ``metadata``...)."""
    headers = {":event-type": event_type, ":content-type": JSON_CONTENT_TYPE, ":message-type": "event"}
    return frame(headers, dumps(payload))


def chunk_frame(chunk: JSON) -> bytes:
    """An InvokeModelWithResponseStream ``chunk`` event: the model's JSON, base64 in ``bytes``."""
    return event_frame("chunk", {"bytes": base64.b64encode(dumps(chunk)).decode()})


def exception_frame(exception_type: str, message: str) -> bytes:
    """An in-stream exception (``modelStreamErrorException``, ``throttlingException``...)."""
    headers = {
        ":exception-type": exception_type,
        ":content-type": JSON_CONTENT_TYPE,
        ":message-type": "exception",
    }
    return frame(headers, dumps({"message": message}))


def _stream(events: list[Event], scenario: Scenario) -> Reply:
    if scenario.malformed:
        first = bytearray(events[0][0])
        first[-1] ^= 0xFF  # a bad message checksum: botocore refuses the frame
        return Reply(200, EVENTSTREAM_CONTENT_TYPE, events=(bytes(first),))
    if scenario.error_type is not None:
        positions = [i for i, (_, content) in enumerate(events) if content]
        limit = scenario.fail_after_chunks if scenario.fail_after_chunks is not None else len(positions)
        cut = positions[limit] if limit < len(positions) else (positions[-1] + 1 if positions else 1)
        frames = [e for e, _ in events[:cut]]
        frames.append(exception_frame(scenario.error_type, scenario.error_message or "The stream failed."))
        return Reply(200, EVENTSTREAM_CONTENT_TYPE, events=tuple(frames))
    return stream_reply(events, scenario.fail_after_chunks, EVENTSTREAM_CONTENT_TYPE)


def _json_reply(payload: JSON, scenario: Scenario) -> Reply:
    encoded = dumps(payload)
    if scenario.malformed:
        encoded = encoded[: len(encoded) // 2]
    return Reply(200, JSON_CONTENT_TYPE, encoded)


# --- what a call produces --------------------------------------------------------------------------


class _Call:
    """The request, the scenario and the numbers every shape reports."""

    def __init__(self, body: JSON, scenario: Scenario, model_id: str) -> None:
        self.body = body
        self.scenario = scenario
        self.model_id = model_id
        self.tool = _tool_name(body) if scenario.tool_call else None
        self.output = scenario.tool_arguments if self.tool else scenario.text
        self.pieces = split_text(self.output, scenario.chunks)
        self.usage = scenario.include_usage is not False
        prompt = scenario.prompt_tokens
        self.input = prompt if prompt is not None else max(1, _text_chars(body) // 4)
        completion = scenario.completion_tokens
        self.output_tokens = completion if completion is not None else completion_tokens_for(self.output)
        self.cache_read = scenario.cached_tokens
        self.cache_write = scenario.cache_creation_tokens

    def stop(self, mapping: dict[str, str], default: str) -> str:
        """The scenario's finish reason in a family's words ("stop" means a natural end)."""
        reason = self.scenario.finish_reason
        if self.tool is not None:
            return mapping.get("tool_calls", default)
        return mapping.get(reason, default if reason == "stop" else reason)

    def metrics(self, cache: bool) -> JSON:
        """``amazon-bedrock-invocationMetrics`` for the last chunk of an invoke stream."""
        values: JSON = {"inputTokenCount": self.input, "outputTokenCount": self.output_tokens}
        values.update({"invocationLatency": 512, "firstByteLatency": 128})
        if cache or self.cache_read or self.cache_write:
            values["cacheReadInputTokenCount"] = self.cache_read
            values["cacheWriteInputTokenCount"] = self.cache_write
        return {METRICS_KEY: values} if self.usage else {}


def _text_chars(value: Any, counted: bool = False) -> int:
    if isinstance(value, str):
        return len(value) if counted else 0
    if isinstance(value, list):
        return sum(_text_chars(item, counted) for item in value)
    if isinstance(value, dict):
        return sum(_text_chars(v, counted or k in _TEXT_KEYS) for k, v in value.items() if k not in _NOT_TEXT)
    return 0


def _tool_name(body: JSON) -> str | None:
    """The first tool the request offers: Converse ``toolConfig.tools[].toolSpec`` or Anthropic ``tools``."""
    config = body.get("toolConfig")
    tools = (config.get("tools") if isinstance(config, dict) else None) or body.get("tools") or []
    for tool in tools:
        if isinstance(tool, dict):
            spec = tool.get("toolSpec", tool)
            if isinstance(spec, dict) and isinstance(spec.get("name"), str):
                return str(spec["name"])
    return None


def _token_headers(call: _Call, family: str) -> dict[str, str]:
    if not call.usage:
        return {}
    headers = {INPUT_HEADER: str(call.input)}
    if not family.endswith("embed"):
        headers[OUTPUT_HEADER] = str(call.output_tokens)
    if family in _CACHING_FAMILIES or call.cache_read or call.cache_write:
        headers[CACHE_READ_HEADER] = str(call.cache_read)
        headers[CACHE_WRITE_HEADER] = str(call.cache_write)
    return headers


def _new_id(prefix: str) -> str:
    return prefix + uuid.uuid4().hex[:24]


# --- Converse -------------------------------------------------------------------------------------

_CONVERSE_STOP = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use"}


def _converse_usage(call: _Call) -> JSON:
    usage: JSON = {
        "inputTokens": call.input,
        "outputTokens": call.output_tokens,
        "totalTokens": call.input + call.output_tokens + call.cache_read + call.cache_write,
    }
    if call.cache_read or call.cache_write or "anthropic." in call.model_id:
        usage["cacheReadInputTokens"] = call.cache_read
        usage["cacheWriteInputTokens"] = call.cache_write
    usage.update(call.scenario.usage_fields)
    return usage


def converse_response(call: _Call) -> JSON:
    """A Converse response: the message, ``stopReason``, ``usage`` and ``metrics``."""
    if call.tool is not None:
        use = {"toolUseId": _new_id("tooluse_"), "name": call.tool, "input": json.loads(call.output or "{}")}
        content: list[JSON] = [{"toolUse": use}]
    else:
        content = [{"text": call.output}]
    result: JSON = {
        "metrics": {"latencyMs": 512},
        "output": {"message": {"content": content, "role": "assistant"}},
        "stopReason": call.stop(_CONVERSE_STOP, "end_turn"),
    }
    if call.usage:
        result["usage"] = _converse_usage(call)
    if isinstance(call.body.get("serviceTier"), dict):
        result["serviceTier"] = call.body["serviceTier"]  # echoed: the tier that served the call
    return result


def converse_stream_events(call: _Call) -> list[Event]:
    """ConverseStream events: messageStart, content block deltas, messageStop, then metadata."""
    events: list[Event] = [(event_frame("messageStart", {"p": "abcdef", "role": "assistant"}), False)]
    if call.tool is not None:
        start = {"toolUse": {"name": call.tool, "toolUseId": _new_id("tooluse_")}}
        events.append((event_frame("contentBlockStart", {"contentBlockIndex": 0, "start": start}), False))
    for piece in call.pieces:
        delta = {"toolUse": {"input": piece}} if call.tool is not None else {"text": piece}
        events.append((event_frame("contentBlockDelta", {"contentBlockIndex": 0, "delta": delta}), True))
    events.append((event_frame("contentBlockStop", {"contentBlockIndex": 0}), False))
    events.append((event_frame("messageStop", {"stopReason": call.stop(_CONVERSE_STOP, "end_turn")}), False))
    metadata: JSON = {"metrics": {"latencyMs": 512}}
    if call.usage:
        metadata["usage"] = _converse_usage(call)
    events.append((event_frame("metadata", metadata), False))
    return events


# --- InvokeModel: model families ------------------------------------------------------------------


def family_of(model_id: str, body: JSON) -> str:
    """The body format of a model id (ARN and cross-region prefixes looked through)."""
    base = _GEO_PREFIX.sub("", model_id.rsplit("/", 1)[-1], count=1)
    chat = "messages" in body
    if base.startswith("anthropic."):
        return "anthropic" if chat else "claude_text"
    if base.startswith("amazon.nova"):
        return "nova"
    if base.startswith("amazon.titan-embed"):
        return "titan_embed"
    if base.startswith("amazon.titan"):
        return "titan"
    if base.startswith("meta."):
        return "llama"
    if base.startswith("mistral."):
        return "openai_chat" if chat else "mistral"
    if base.startswith("cohere.embed"):
        return "cohere_embed"
    if base.startswith("cohere.command-r"):
        return "cohere_chat"
    if base.startswith("cohere."):
        return "cohere"
    if base.startswith("ai21.j2"):
        return "ai21"
    return "openai_chat" if chat else "openai_text"


_CACHING_FAMILIES = frozenset({"anthropic", "nova"})
_ANTHROPIC_STOP = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use"}
_NOVA_STOP = _ANTHROPIC_STOP
_TITAN_STOP = {"stop": "FINISH", "length": "LENGTH"}
_LLAMA_STOP = {"stop": "stop", "length": "length"}
_COHERE_STOP = {"stop": "COMPLETE", "length": "MAX_TOKENS"}
_OPENAI_STOP = {"stop": "stop", "length": "length", "tool_calls": "tool_calls"}


def _anthropic_model(call: _Call) -> str:
    if call.scenario.model is not None:
        return call.scenario.model
    base = _GEO_PREFIX.sub("", call.model_id.rsplit("/", 1)[-1], count=1).removeprefix("anthropic.")
    return re.sub(r"-v\d+(?::\d+)?$", "", base)


def _anthropic_usage(call: _Call, output: int) -> JSON:
    usage: JSON = {"input_tokens": call.input}
    if call.cache_read or call.cache_write:
        usage["cache_creation_input_tokens"] = call.cache_write
        usage["cache_read_input_tokens"] = call.cache_read
    usage["output_tokens"] = output
    return usage


def _anthropic_body(call: _Call) -> JSON:
    if call.tool is not None:
        content = [
            {
                "type": "tool_use",
                "id": _new_id("toolu_bdrk_"),
                "name": call.tool,
                "input": json.loads(call.output or "{}"),
            }
        ]
    else:
        content = [{"type": "text", "text": call.output}]
    result: JSON = {
        "id": _new_id("msg_bdrk_"),
        "type": "message",
        "role": "assistant",
        "model": _anthropic_model(call),
        "content": content,
        "stop_reason": call.stop(_ANTHROPIC_STOP, "end_turn"),
        "stop_sequence": None,
    }
    if call.usage:
        result["usage"] = _anthropic_usage(call, call.output_tokens)
    return result


def _anthropic_chunks(call: _Call) -> list[tuple[JSON, bool]]:
    message = {**_anthropic_body(call), "content": [], "stop_reason": None}
    message.pop("usage", None)
    if call.usage:
        message["usage"] = _anthropic_usage(call, 1)
    block: JSON = {"type": "text", "text": ""}
    if call.tool is not None:
        block = {"type": "tool_use", "id": _new_id("toolu_bdrk_"), "name": call.tool, "input": {}}

    def delta_of(piece: str) -> JSON:
        if call.tool is not None:
            return {"type": "input_json_delta", "partial_json": piece}
        return {"type": "text_delta", "text": piece}

    chunks: list[tuple[JSON, bool]] = [
        ({"type": "message_start", "message": message}, False),
        ({"type": "content_block_start", "index": 0, "content_block": block}, False),
    ]
    chunks += [({"type": "content_block_delta", "index": 0, "delta": delta_of(p)}, True) for p in call.pieces]
    chunks.append(({"type": "content_block_stop", "index": 0}, False))
    delta: JSON = {
        "type": "message_delta",
        "delta": {"stop_reason": call.stop(_ANTHROPIC_STOP, "end_turn"), "stop_sequence": None},
    }
    if call.usage:
        delta["usage"] = {"output_tokens": call.output_tokens}
    chunks.append((delta, False))
    chunks.append(({"type": "message_stop", **call.metrics(True)}, False))
    return chunks


def _claude_text_body(call: _Call) -> JSON:
    stop = call.stop({"stop": "stop_sequence", "length": "max_tokens"}, "stop_sequence")
    return {"type": "completion", "completion": call.output, "stop_reason": stop, "stop": "\n\nHuman:"}


def _claude_text_chunks(call: _Call) -> list[tuple[JSON, bool]]:
    chunks: list[tuple[JSON, bool]] = [
        ({"type": "completion", "completion": p, "stop_reason": None, "stop": None}, True)
        for p in call.pieces
    ]
    last = {**_claude_text_body(call), "completion": "", **call.metrics(False)}
    return [*chunks, (last, False)]


def _nova_usage(call: _Call) -> JSON:
    return {
        "inputTokens": call.input,
        "outputTokens": call.output_tokens,
        "totalTokens": call.input + call.output_tokens + call.cache_read + call.cache_write,
        "cacheReadInputTokenCount": call.cache_read,
        "cacheWriteInputTokenCount": call.cache_write,
    }


def _nova_body(call: _Call) -> JSON:
    result: JSON = {
        "output": {"message": {"content": [{"text": call.output}], "role": "assistant"}},
        "stopReason": call.stop(_NOVA_STOP, "end_turn"),
    }
    if call.usage:
        result["usage"] = _nova_usage(call)
    return result


def _nova_chunks(call: _Call) -> list[tuple[JSON, bool]]:
    chunks: list[tuple[JSON, bool]] = [({"messageStart": {"role": "assistant"}}, False)]
    chunks += [
        ({"contentBlockDelta": {"delta": {"text": p}, "contentBlockIndex": 0}}, True) for p in call.pieces
    ]
    chunks.append(({"contentBlockStop": {"contentBlockIndex": 0}}, False))
    chunks.append(({"messageStop": {"stopReason": call.stop(_NOVA_STOP, "end_turn")}}, False))
    metadata: JSON = {"metrics": {}, "trace": {}}
    if call.usage:
        metadata["usage"] = {k: v for k, v in _nova_usage(call).items() if k != "totalTokens"}
    chunks.append(({"metadata": metadata, **call.metrics(True)}, False))
    return chunks


def _titan_body(call: _Call) -> JSON:
    result: JSON = {"outputText": call.output, "completionReason": call.stop(_TITAN_STOP, "FINISH")}
    if not call.usage:
        return {"results": [result]}
    return {"inputTextTokenCount": call.input, "results": [{"tokenCount": call.output_tokens, **result}]}


def _titan_chunks(call: _Call) -> list[tuple[JSON, bool]]:
    chunks: list[tuple[JSON, bool]] = []
    for i, piece in enumerate(call.pieces):
        chunk: JSON = {"outputText": piece, "index": 0}
        if i == 0 and call.usage:
            chunk["inputTextTokenCount"] = call.input
        chunks.append((chunk, True))
    last: JSON = {"outputText": "", "index": 0, "completionReason": call.stop(_TITAN_STOP, "FINISH")}
    if call.usage:
        last["totalOutputTextTokenCount"] = call.output_tokens
    return [*chunks, ({**last, **call.metrics(False)}, False)]


def _titan_embed_body(call: _Call) -> JSON:
    vector = [0.1] * call.scenario.embedding_dims
    return {"embedding": vector, "inputTextTokenCount": call.input} if call.usage else {"embedding": vector}


def _llama_body(call: _Call) -> JSON:
    result: JSON = {"generation": call.output}
    if call.usage:
        result.update(prompt_token_count=call.input, generation_token_count=call.output_tokens)
    result["stop_reason"] = call.stop(_LLAMA_STOP, "stop")
    return result


def _llama_chunks(call: _Call) -> list[tuple[JSON, bool]]:
    chunks: list[tuple[JSON, bool]] = []
    for i, piece in enumerate(call.pieces):
        chunk: JSON = {"generation": piece}
        if call.usage:
            # Cumulative generation count; the prompt count only on the first chunk.
            generated = call.output_tokens * (i + 1) // len(call.pieces)
            chunk.update(prompt_token_count=call.input if i == 0 else None, generation_token_count=generated)
        chunks.append(({**chunk, "stop_reason": None}, True))
    last: JSON = {"generation": "", "stop_reason": call.stop(_LLAMA_STOP, "stop")}
    return [*chunks, ({**last, **call.metrics(False)}, False)]


def _mistral_body(call: _Call) -> JSON:
    return {"outputs": [{"text": call.output, "stop_reason": call.stop(_LLAMA_STOP, "stop")}]}


def _mistral_chunks(call: _Call) -> list[tuple[JSON, bool]]:
    chunks: list[tuple[JSON, bool]] = [
        ({"outputs": [{"text": p, "stop_reason": None}]}, True) for p in call.pieces
    ]
    last = {"outputs": [{"text": "", "stop_reason": call.stop(_LLAMA_STOP, "stop")}], **call.metrics(False)}
    return [*chunks, (last, False)]


def _cohere_body(call: _Call) -> JSON:
    generation = {
        "id": str(uuid.uuid4()),
        "text": call.output,
        "finish_reason": call.stop(_COHERE_STOP, "COMPLETE"),
    }
    return {"id": str(uuid.uuid4()), "generations": [generation], "prompt": call.body.get("prompt")}


def _cohere_chunks(call: _Call) -> list[tuple[JSON, bool]]:
    chunks: list[tuple[JSON, bool]] = [({"text": p, "is_finished": False}, True) for p in call.pieces]
    last = {"is_finished": True, "finish_reason": call.stop(_COHERE_STOP, "COMPLETE"), **call.metrics(False)}
    return [*chunks, (last, False)]


def _cohere_chat_body(call: _Call) -> JSON:
    return {
        "response_id": str(uuid.uuid4()),
        "text": call.output,
        "generation_id": str(uuid.uuid4()),
        "chat_history": [],
        "finish_reason": call.stop(_COHERE_STOP, "COMPLETE"),
    }


def _cohere_chat_chunks(call: _Call) -> list[tuple[JSON, bool]]:
    chunks: list[tuple[JSON, bool]] = [({"event_type": "stream-start", "is_finished": False}, False)]
    chunks += [
        ({"event_type": "text-generation", "text": p, "is_finished": False}, True) for p in call.pieces
    ]
    last = {
        "event_type": "stream-end",
        "is_finished": True,
        "finish_reason": call.stop(_COHERE_STOP, "COMPLETE"),
        **call.metrics(False),
    }
    return [*chunks, (last, False)]


def _cohere_embed_body(call: _Call) -> JSON:
    texts = call.body.get("texts") or []
    return {
        "id": str(uuid.uuid4()),
        "embeddings": [[0.1] * call.scenario.embedding_dims for _ in texts],
        "response_type": "embeddings_floats",
        "texts": texts,
    }


def _ai21_body(call: _Call) -> JSON:
    completion = {"data": {"text": call.output, "tokens": []}, "finishReason": {"reason": "endoftext"}}
    return {
        "id": 1234,
        "prompt": {"text": call.body.get("prompt"), "tokens": []},
        "completions": [completion],
    }


def _openai_usage(call: _Call) -> JSON:
    total = call.input + call.output_tokens
    return {"prompt_tokens": call.input, "completion_tokens": call.output_tokens, "total_tokens": total}


def _openai_chat_body(call: _Call) -> JSON:
    choice = {
        "index": 0,
        "message": {"role": "assistant", "content": call.output},
        "finish_reason": call.stop(_OPENAI_STOP, "stop"),
    }
    result: JSON = {
        "id": _new_id("chatcmpl-"),
        "object": "chat.completion",
        "created": 1700000000,
        "model": call.scenario.model or call.model_id,
        "choices": [choice],
    }
    if call.usage:
        result["usage"] = _openai_usage(call)
    return result


def _openai_text_body(call: _Call) -> JSON:
    choice = {
        "index": 0,
        "text": call.output,
        "logprobs": None,
        "finish_reason": call.stop(_OPENAI_STOP, "stop"),
    }
    result: JSON = {
        "object": "text_completion",
        "id": _new_id("cmpl-"),
        "created": 1700000000,
        "model": call.scenario.model or call.model_id,
        "choices": [choice],
    }
    if call.usage:
        result["usage"] = _openai_usage(call)
    return result


def _openai_chunks(call: _Call) -> list[tuple[JSON, bool]]:
    chat = "messages" in call.body
    head: JSON = {
        "id": _new_id("chatcmpl-"),
        "object": "chat.completion.chunk" if chat else "text_completion",
        "created": 1700000000,
        "model": call.scenario.model or call.model_id,
    }

    def choice(piece: str, finish: str | None) -> JSON:
        text: JSON = {"delta": {"content": piece}} if chat else {"text": piece}
        return {"index": 0, **text, "finish_reason": finish}

    chunks: list[tuple[JSON, bool]] = [({**head, "choices": [choice(p, None)]}, True) for p in call.pieces]
    last: JSON = {**head, "choices": [choice("", call.stop(_OPENAI_STOP, "stop"))]}
    if call.usage:
        last["usage"] = _openai_usage(call)
    return [*chunks, ({**last, **call.metrics(False)}, False)]


_INVOKE_BODIES: dict[str, Callable[[_Call], JSON]] = {
    "anthropic": _anthropic_body,
    "claude_text": _claude_text_body,
    "nova": _nova_body,
    "titan": _titan_body,
    "titan_embed": _titan_embed_body,
    "llama": _llama_body,
    "mistral": _mistral_body,
    "cohere": _cohere_body,
    "cohere_chat": _cohere_chat_body,
    "cohere_embed": _cohere_embed_body,
    "ai21": _ai21_body,
    "openai_chat": _openai_chat_body,
    "openai_text": _openai_text_body,
}
_INVOKE_CHUNKS: dict[str, Callable[[_Call], list[tuple[JSON, bool]]]] = {
    "anthropic": _anthropic_chunks,
    "claude_text": _claude_text_chunks,
    "nova": _nova_chunks,
    "titan": _titan_chunks,
    "llama": _llama_chunks,
    "mistral": _mistral_chunks,
    "cohere": _cohere_chunks,
    "cohere_chat": _cohere_chat_chunks,
    "openai_chat": _openai_chunks,
    "openai_text": _openai_chunks,
}
