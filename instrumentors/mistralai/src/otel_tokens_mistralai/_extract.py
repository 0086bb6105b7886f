"""Pure functions: mistralai requests, responses and stream chunks -> usage, results, attributes.

They accept the SDK's pydantic models or plain dicts alike, treat the SDK's ``UNSET`` sentinel
as absent, are shared by the sync and async paths, and read every response field on its own: a
field of the wrong type or out of range is lost alone (a token count through ``count``, a model,
id, finish reason or tier through ``text_or_none``, a list through ``items``), never the rest of
the call's telemetry, and nothing here raises on an odd shape.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

from otel_tokens.instrumentation import (
    CallResult,
    Estimate,
    Tokenizer,
    Usage,
    count,
    get,
    items,
    semconv,
    text_or_none,
)

CHAT = "chat"
FIM = "fim"
EMBEDDINGS = "embeddings"

DEFAULT_SERVER_URL = "https://api.mistral.ai"


def given(value: Any) -> bool:
    """False for None and the SDK's ``UNSET`` sentinel (an instance of its ``Unset`` model)."""
    return value is not None and type(value).__name__ != "Unset"


def field(obj: Any, name: str) -> Any:
    """``obj.name`` (or ``obj[name]``), with the SDK's ``UNSET`` read as ``None``."""
    value = get(obj, name)
    return value if given(value) else None


def server_of(url: str) -> tuple[str | None, int | None]:
    """``(server.address, server.port)`` of a server URL; the scheme's port when none is given."""
    parts = urlsplit(url)
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80 if parts.scheme == "http" else None)
    except ValueError:  # a malformed port in a user-given URL
        port = None
    return (parts.hostname or "").lower() or None, port


def provider_for(url: str, host_overrides: Mapping[str, str]) -> tuple[str, str | None, int | None]:
    """``(gen_ai.provider.name, server.address, server.port)`` of a server URL: Mistral AI, unless
    a ``provider_hosts`` setting names the host. Pure; callers cache it (see ``_endpoints``)."""
    host, port = server_of(url)
    provider = (
        host_overrides.get(f"{host}:{port}") or host_overrides.get(host or "") or semconv.PROVIDER_MISTRAL_AI
    )
    return provider, host, port


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
        values[semconv.GEN_AI_REQUEST_STOP_SEQUENCES] = [stop] if isinstance(stop, str) else list(items(stop))
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
    return [item for item in items(value) if isinstance(item, str)]


def input_messages_builder(kind: str, kwargs: Mapping[str, Any]) -> Callable[[], Any]:
    """Builds ``gen_ai.input.messages`` (called only when content capture is on)."""
    if kind == CHAT:
        return lambda: input_messages(kwargs.get("messages"))
    if kind == FIM:
        return lambda: prompt_messages(kwargs.get("prompt"), kwargs.get("suffix"))
    return lambda: [
        {"role": "user", "parts": [{"type": "text", "content": text}]}
        for text in input_texts(kwargs.get("inputs"))
    ]


def input_estimator(
    kind: str, model: str | None, kwargs: Mapping[str, Any]
) -> Callable[[Tokenizer], Estimate]:
    """Counts the input locally, for when no usage comes back."""
    # Copy now: programs often append the reply to the same message list right after the call.
    if kind == CHAT:
        messages = list(items(kwargs.get("messages")))
        return lambda tokenizer: tokenizer.count_chat_input(model, messages)
    if kind == FIM:
        texts = [t for t in (kwargs.get("prompt"), kwargs.get("suffix")) if isinstance(t, str)]
    else:
        texts = input_texts(kwargs.get("inputs"))
    return lambda tokenizer: tokenizer.count_texts(model, texts)


# -- usage ---------------------------------------------------------------------------------


def usage_of(usage: Any) -> Usage | None:
    """Mistral's ``UsageInfo``: ``prompt_tokens`` already includes the cached prompt tokens.

    Cache reads come from ``prompt_tokens_details.cached_tokens`` (the API's documented field;
    ``prompt_token_details`` is the spelling some endpoints use), reasoning tokens from
    ``completion_tokens_details.reasoning_tokens`` when present. ``None`` when neither the
    prompt nor the completion count is valid: the call is then estimated from its texts.
    """
    if not given(usage):
        return None
    prompt = count(field(usage, "prompt_tokens"))
    completion = count(field(usage, "completion_tokens"))
    if prompt is None and completion is None:
        return None
    details = field(usage, "prompt_tokens_details") or field(usage, "prompt_token_details")
    return Usage(
        input_tokens=prompt,
        output_tokens=completion,
        cache_read_input_tokens=count(field(details, "cached_tokens")),
        reasoning_output_tokens=count(field(field(usage, "completion_tokens_details"), "reasoning_tokens")),
    )


def service_tier(usage: Any) -> str | None:
    """The tier that served the call (``standard``/``priority``), reported inside ``usage``."""
    return text_or_none(get(usage, "service_tier"))


# -- responses -----------------------------------------------------------------------------


def finish_reason(choice: Any) -> str | None:
    """A choice's finish reason (a plain string in the SDK; an enum's value if one is given)."""
    reason = field(choice, "finish_reason")
    return text_or_none(getattr(reason, "value", reason))


def choice_index(choice: Any) -> int:
    """A choice's index (0 when absent or not an index)."""
    index = get(choice, "index")
    return index if type(index) is int else 0


def chat_result(response: Any) -> CallResult:
    """A ``ChatCompletionResponse`` or ``FIMCompletionResponse`` (or the same shape as a dict)."""
    choices = items(field(response, "choices"))
    messages = [field(choice, "message") for choice in choices]
    raw_usage = field(response, "usage")
    usage = usage_of(raw_usage)
    return CallResult(
        response_model=text_or_none(field(response, "model")),
        response_id=text_or_none(field(response, "id")),
        finish_reasons=finish_reasons(choices),
        usage=usage,
        service_tier=service_tier(raw_usage),
        output_texts=None if usage is not None else [t for m in messages for t in message_texts(m)],
        output_messages=lambda: [
            output_message(parts_of(m), finish_reason(c)) for m, c in zip(messages, choices, strict=False)
        ],
    )


def embeddings_result(response: Any) -> CallResult:
    """An ``EmbeddingResponse``: input tokens only (the API reports ``completion_tokens`` as 0)."""
    raw_usage = field(response, "usage")
    usage = usage_of(raw_usage)
    if usage is not None:
        usage.output_tokens = None
        if usage.input_tokens is None:
            usage = None  # no valid input count: estimated locally
    data = items(field(response, "data"))
    attributes = None
    if data:
        vector = get(data[0], "embedding")
        if isinstance(vector, list):
            attributes = {semconv.GEN_AI_EMBEDDINGS_DIMENSION_COUNT: len(vector)}
    return CallResult(
        response_model=text_or_none(field(response, "model")),
        response_id=text_or_none(field(response, "id")),
        usage=usage,
        service_tier=service_tier(raw_usage),
        attributes=attributes,
    )


def finish_reasons(choices: Iterable[Any]) -> tuple[str, ...] | None:
    return tuple(reason for reason in map(finish_reason, choices) if reason) or None


# -- message content -----------------------------------------------------------------------


def _arguments(value: Any) -> str:
    # Mistral accepts tool-call arguments as a JSON string or as an object.
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    try:
        return json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError, RecursionError):
        return ""


def content_parts(content: Any) -> list[dict[str, Any]]:
    """A message ``content`` (a string or a list of chunks) as the conventions' parts.

    Text chunks become ``text`` parts and thinking chunks (Magistral) ``reasoning`` parts;
    images, audio, documents and references are left out: their size is not text.
    """
    if isinstance(content, str):
        return [{"type": "text", "content": content}] if content else []
    parts: list[dict[str, Any]] = []
    for chunk in items(content):
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
    for call in items(calls):
        function = get(call, "function")
        name = get(function, "name")
        parts.append(
            {
                "type": "tool_call",
                "id": text_or_none(field(call, "id")),
                "name": name if isinstance(name, str) else "",
                "arguments": _arguments(field(function, "arguments")),
            }
        )
    return parts


def parts_of(message: Any) -> list[dict[str, Any]]:
    """The parts of one chat message: its content, then its tool calls."""
    if message is None:
        return []
    if isinstance(message, str):
        return [{"type": "text", "content": message}]
    return content_parts(field(message, "content")) + tool_call_parts(field(message, "tool_calls"))


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


def merged_parts(parts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Streamed deltas joined: consecutive text (or reasoning) pieces become one part."""
    merged: list[dict[str, Any]] = []
    for part in parts:
        last = merged[-1] if merged else None
        if last is not None and part["type"] == last["type"] and part["type"] != "tool_call":
            merged[-1] = {**last, "content": last["content"] + part["content"]}
        else:
            merged.append(part)
    return merged


# -- content capture (only when the user opted in) ------------------------------------------


def output_message(parts: list[dict[str, Any]], reason: str | None) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "parts": parts}
    if reason:
        message["finish_reason"] = reason
    return message


def input_messages(messages: Any) -> list[dict[str, Any]]:
    """Chat ``messages`` (dicts or the SDK's message models) as ``gen_ai.input.messages``."""
    return [{"role": text_or_none(get(m, "role")) or "user", "parts": parts_of(m)} for m in items(messages)]


def prompt_messages(prompt: Any, suffix: Any) -> list[dict[str, Any]]:
    """A FIM request's prompt and suffix as one user message."""
    texts = [text for text in (prompt, suffix) if isinstance(text, str) and text]
    return [{"role": "user", "parts": [{"type": "text", "content": text} for text in texts]}]
