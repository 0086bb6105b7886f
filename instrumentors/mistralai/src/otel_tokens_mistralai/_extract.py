"""Pure functions: mistralai requests, responses and stream chunks -> usage, results, attributes.

They accept the SDK's pydantic models or plain dicts alike, treat the SDK's ``UNSET`` sentinel
as absent, never raise on odd shapes (missing fields read as ``None``), and are shared by the
sync and async paths.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

from otel_tokens import semconv
from otel_tokens._fields import get
from otel_tokens.record import CallResult
from otel_tokens.usage import Usage

DEFAULT_SERVER_URL = "https://api.mistral.ai"


def given(value: Any) -> bool:
    """False for None and the SDK's ``UNSET`` sentinel (an instance of its ``Unset`` model)."""
    return value is not None and type(value).__name__ != "Unset"


def server_of(url: str) -> tuple[str | None, int | None]:
    """``(server.address, server.port)`` of a server URL; the scheme's port when none is given."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80 if parts.scheme == "http" else None)
    return (parts.hostname or "").lower() or None, port


# -- requests ------------------------------------------------------------------------------

# Keyword argument -> attribute, recorded as given.
_PLAIN_PARAMETERS = {
    "temperature": semconv.GEN_AI_REQUEST_TEMPERATURE,
    "top_p": semconv.GEN_AI_REQUEST_TOP_P,
    "max_tokens": semconv.GEN_AI_REQUEST_MAX_TOKENS,
    "frequency_penalty": semconv.GEN_AI_REQUEST_FREQUENCY_PENALTY,
    "presence_penalty": semconv.GEN_AI_REQUEST_PRESENCE_PENALTY,
    "random_seed": semconv.GEN_AI_REQUEST_SEED,
    "output_dimension": semconv.GEN_AI_EMBEDDINGS_DIMENSION_COUNT,
}


def request_attributes(kwargs: Mapping[str, Any], stream: bool) -> dict[str, Any]:
    """``gen_ai.request.*`` attributes of a call's keyword arguments (the SDK takes no positionals)."""
    values: dict[str, Any] = {}
    for name, value in kwargs.items():
        attribute = _PLAIN_PARAMETERS.get(name)
        if attribute is not None and given(value):
            values[attribute] = value
    stop: Any = kwargs.get("stop")
    if given(stop):
        values[semconv.GEN_AI_REQUEST_STOP_SEQUENCES] = [stop] if isinstance(stop, str) else list(stop)
    n = kwargs.get("n")
    if given(n) and n != 1:
        values[semconv.GEN_AI_REQUEST_CHOICE_COUNT] = n
    if stream:
        values[semconv.GEN_AI_REQUEST_STREAM] = True
    kind = get(kwargs.get("response_format"), "type")
    if kind in ("json_object", "json_schema"):
        values[semconv.GEN_AI_OUTPUT_TYPE] = "json"
    elif kind == "text":
        values[semconv.GEN_AI_OUTPUT_TYPE] = "text"
    encoding = kwargs.get("encoding_format")
    if given(encoding):
        values[semconv.GEN_AI_REQUEST_ENCODING_FORMATS] = [str(encoding)]
    return values


def input_texts(value: Any) -> list[str]:
    """Texts of an embeddings ``inputs`` (a string or a list of strings)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, Iterable) and not isinstance(value, Mapping):
        return [item for item in value if isinstance(item, str)]
    return []


# -- usage ---------------------------------------------------------------------------------


def usage_of(usage: Any) -> Usage | None:
    """Mistral's ``UsageInfo``: ``prompt_tokens`` already includes the cached prompt tokens.

    Cache reads come from ``prompt_tokens_details.cached_tokens`` (the API's documented field;
    ``prompt_token_details`` is the spelling some endpoints use), reasoning tokens from
    ``completion_tokens_details.reasoning_tokens`` when present.
    """
    if usage is None:
        return None
    details = get(usage, "prompt_tokens_details") or get(usage, "prompt_token_details")
    return Usage(
        input_tokens=get(usage, "prompt_tokens"),
        output_tokens=get(usage, "completion_tokens"),
        cache_read_input_tokens=get(details, "cached_tokens"),
        reasoning_output_tokens=get(get(usage, "completion_tokens_details"), "reasoning_tokens"),
    )


def service_tier(usage: Any) -> str | None:
    """The tier that served the call (``standard``/``priority``), reported inside ``usage``."""
    tier = get(usage, "service_tier")
    return tier if isinstance(tier, str) and tier else None


# -- responses -----------------------------------------------------------------------------


def chat_result(response: Any) -> CallResult:
    """A ``ChatCompletionResponse`` or ``FIMCompletionResponse`` (or the same shape as a dict)."""
    choices = get(response, "choices") or ()
    messages = [get(choice, "message") for choice in choices]
    raw_usage = get(response, "usage")
    usage = usage_of(raw_usage)
    return CallResult(
        response_model=get(response, "model") or None,
        response_id=get(response, "id"),
        finish_reasons=finish_reasons(choices),
        usage=usage,
        service_tier=service_tier(raw_usage),
        output_texts=None if usage is not None else [t for m in messages for t in message_texts(m)],
        output_messages=lambda: [
            output_message(parts_of(m), get(c, "finish_reason"))
            for m, c in zip(messages, choices, strict=False)
        ],
    )


def embeddings_result(response: Any) -> CallResult:
    """An ``EmbeddingResponse``: input tokens only (the API reports ``completion_tokens`` as 0)."""
    raw_usage = get(response, "usage")
    usage = usage_of(raw_usage)
    if usage is not None:
        usage.output_tokens = None
    data = get(response, "data") or ()
    attributes = None
    if data:
        vector = get(data[0], "embedding")
        if isinstance(vector, list):
            attributes = {semconv.GEN_AI_EMBEDDINGS_DIMENSION_COUNT: len(vector)}
    return CallResult(
        response_model=get(response, "model") or None,
        response_id=get(response, "id"),
        usage=usage,
        service_tier=service_tier(raw_usage),
        attributes=attributes,
    )


def finish_reasons(choices: Iterable[Any]) -> tuple[str, ...] | None:
    return tuple(str(get(c, "finish_reason")) for c in choices if get(c, "finish_reason")) or None


# -- message content -----------------------------------------------------------------------


def _arguments(value: Any) -> str:
    # Mistral accepts tool-call arguments as a JSON string or as an object.
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, default=str) if value is not None else ""


def content_parts(content: Any) -> list[dict[str, Any]]:
    """A message ``content`` (a string or a list of chunks) as the conventions' parts.

    Text chunks become ``text`` parts and thinking chunks (Magistral) ``reasoning`` parts;
    images, audio, documents and references are left out: their size is not text.
    """
    if isinstance(content, str):
        return [{"type": "text", "content": content}] if content else []
    parts: list[dict[str, Any]] = []
    if not isinstance(content, Iterable) or isinstance(content, Mapping):
        return parts
    for chunk in content:
        if isinstance(chunk, str):
            parts.append({"type": "text", "content": chunk})
            continue
        kind = get(chunk, "type")
        if kind == "text":
            text = get(chunk, "text")
            if isinstance(text, str) and text:
                parts.append({"type": "text", "content": text})
        elif kind == "thinking":
            thought = "".join(p["content"] for p in content_parts(get(chunk, "thinking")))
            if thought:
                parts.append({"type": "reasoning", "content": thought})
    return parts


def tool_call_parts(calls: Any) -> list[dict[str, Any]]:
    parts = []
    for call in calls or ():
        function = get(call, "function")
        parts.append(
            {
                "type": "tool_call",
                "id": get(call, "id"),
                "name": get(function, "name") or "",
                "arguments": _arguments(get(function, "arguments")),
            }
        )
    return parts


def parts_of(message: Any) -> list[dict[str, Any]]:
    """The parts of one chat message: its content, then its tool calls."""
    if message is None:
        return []
    if isinstance(message, str):
        return [{"type": "text", "content": message}]
    return content_parts(get(message, "content")) + tool_call_parts(get(message, "tool_calls"))


def part_texts(parts: Iterable[Mapping[str, Any]]) -> list[str]:
    """The text a local estimate counts: contents, tool names and tool arguments."""
    texts: list[str] = []
    for part in parts:
        if part["type"] == "tool_call":
            texts.extend((part["name"], part["arguments"]))
        else:
            texts.append(part["content"])
    return [text for text in texts if text]


def message_texts(message: Any) -> list[str]:
    return part_texts(parts_of(message))


# -- content capture (only when the user opted in) ------------------------------------------


def output_message(parts: list[dict[str, Any]], finish_reason: Any) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "parts": parts}
    if finish_reason:
        message["finish_reason"] = str(finish_reason)
    return message


def input_messages(messages: Any) -> list[dict[str, Any]]:
    """Chat ``messages`` (dicts or the SDK's message models) as ``gen_ai.input.messages``."""
    return [{"role": get(m, "role") or "user", "parts": parts_of(m)} for m in messages or ()]


def prompt_messages(prompt: Any, suffix: Any) -> list[dict[str, Any]]:
    """A FIM request's prompt and suffix as one user message."""
    texts = [text for text in (prompt, suffix) if isinstance(text, str) and text]
    return [{"role": "user", "parts": [{"type": "text", "content": text} for text in texts]}]
