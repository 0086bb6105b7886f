"""Pure functions: Anthropic requests, messages and stream events -> model, usage, attributes.

They accept the SDK's pydantic objects or plain dicts alike and are shared by the sync and async
paths. Every value read from a response is validated where it is read (token counts with
``count``, model names, ids, stop reasons and tiers with ``text_or_none``, lists with ``items``),
so a field of the wrong type or size loses that field only, never the rest of the call.

Usage: Anthropic's ``input_tokens`` excludes the cached part, while the conventions'
``gen_ai.usage.input_tokens`` is the whole input, so our input is ``input_tokens`` +
``cache_creation_input_tokens`` + ``cache_read_input_tokens``. The 1-hour part of the cache
writes comes from ``cache_creation.ephemeral_1h_input_tokens`` when the API reports it.
``output_tokens`` already includes thinking; ``output_tokens_details.thinking_tokens``, when
reported, is the reasoning part of it. Server-tool request counts are not tokens and are ignored.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

from otel_tokens.instrumentation import (
    CallResult,
    Estimate,
    EstimateFn,
    Tokenizer,
    Usage,
    count,
    get,
    items,
    semconv,
    text_or_none,
)

MESSAGES = "messages"
COMPLETION = "completion"


def given(value: Any) -> bool:
    """False for None and the SDK's NOT_GIVEN / omit sentinels."""
    return value is not None and type(value).__name__ not in ("NotGiven", "Omit")


# -- provider ------------------------------------------------------------------------------


def provider_for(
    client_type: str, base_url: str, host_overrides: Mapping[str, str]
) -> tuple[str, str | None, int | None]:
    """``(gen_ai.provider.name, server.address, server.port)`` for a client and its base URL.

    ``AnthropicBedrock*`` clients are ``aws.bedrock``, ``AnthropicVertex*`` ``gcp.vertex_ai``,
    others ``anthropic``; a configured host override wins over all of them. Pure; callers cache
    the result per client (see ``_endpoints._client_provider``).
    """
    parts = urlsplit(base_url)
    host = (parts.hostname or "").lower()
    port = parts.port or (443 if parts.scheme == "https" else 80 if parts.scheme == "http" else None)
    provider = host_overrides.get(f"{host}:{port}") or host_overrides.get(host)
    if not provider:
        if "Bedrock" in client_type:
            provider = semconv.PROVIDER_AWS_BEDROCK
        elif "Vertex" in client_type:
            provider = semconv.PROVIDER_GCP_VERTEX_AI
        else:
            provider = semconv.PROVIDER_ANTHROPIC
    return provider, host or None, port


# -- requests ------------------------------------------------------------------------------

_PLAIN_PARAMETERS = {
    "max_tokens": semconv.GEN_AI_REQUEST_MAX_TOKENS,
    "max_tokens_to_sample": semconv.GEN_AI_REQUEST_MAX_TOKENS,  # legacy completions
    "temperature": semconv.GEN_AI_REQUEST_TEMPERATURE,
    "top_p": semconv.GEN_AI_REQUEST_TOP_P,
    "top_k": semconv.GEN_AI_REQUEST_TOP_K,
}


def request_attributes(kwargs: Mapping[str, Any], stream: bool) -> dict[str, Any]:
    """``gen_ai.request.*`` attributes of a call's keyword arguments.

    anthropic 2.x dropped ``temperature``/``top_p`` from the method signatures; callers then
    send them in ``extra_body``, which is read too (a keyword argument wins).
    """
    values: dict[str, Any] = {}
    extra = kwargs.get("extra_body")
    for source in (extra if isinstance(extra, Mapping) else {}, kwargs):
        for name, value in source.items():
            attribute = _PLAIN_PARAMETERS.get(name)
            if attribute is not None and given(value):
                values[attribute] = value
    stop = kwargs.get("stop_sequences")
    if given(stop):
        values[semconv.GEN_AI_REQUEST_STOP_SEQUENCES] = [stop] if isinstance(stop, str) else list(stop or ())
    if stream:
        values[semconv.GEN_AI_REQUEST_STREAM] = True
    if _asks_for_json(kwargs):
        values[semconv.GEN_AI_OUTPUT_TYPE] = "json"
    return values


def _output_format(kwargs: Mapping[str, Any]) -> Any:
    output_format = kwargs.get("output_format")  # beta structured outputs, and parse()/stream()
    if not given(output_format):
        output_format = get(kwargs.get("output_config"), "format")
    return output_format if given(output_format) else None


def _asks_for_json(kwargs: Mapping[str, Any]) -> bool:
    output_format = _output_format(kwargs)
    if output_format is None:
        return False
    return isinstance(output_format, type) or get(output_format, "type") == "json_schema"


def output_schema_text(kwargs: Mapping[str, Any]) -> str:
    """The JSON schema of a structured-output request (``output_format``/``output_config.format``)."""
    output_format = _output_format(kwargs)
    schema = get(output_format, "schema") if not isinstance(output_format, type) else None
    return _json(schema) if schema is not None else ""


def chat_messages(kwargs: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The request's ``system`` and ``messages`` as plain ``{"role", "content": [texts]}`` dicts.

    A copy, made when the call starts (programs often append the reply to the same list).
    Image and document blocks carry no countable text and are left out.
    """
    result: list[dict[str, Any]] = []
    system = kwargs.get("system")
    if given(system):
        texts = content_texts(system)
        if texts:
            result.append({"role": "system", "content": texts})
    messages = kwargs.get("messages")
    if isinstance(messages, Iterable) and not isinstance(messages, str | bytes | Mapping):
        for message in messages:
            role = get(message, "role")
            result.append(
                {
                    "role": role if isinstance(role, str) else "user",
                    "content": content_texts(get(message, "content")),
                }
            )
    return result


def tool_texts(tools: Any) -> list[str]:
    """Names, descriptions and schemas of the request's tools: the API counts them as input."""
    if not given(tools) or isinstance(tools, str | bytes | Mapping):
        return []
    texts: list[str] = []
    for tool in tools:
        texts.append(_text(get(tool, "name")))
        texts.append(_text(get(tool, "description")))
        schema = get(tool, "input_schema")
        if schema is not None:
            texts.append(_json(schema))
    return [text for text in texts if text]


def input_messages(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Plain messages in the conventions' ``gen_ai.input.messages`` shape."""
    return [
        {"role": m["role"], "parts": [{"type": "text", "content": text} for text in m["content"]]}
        for m in messages
    ]


# The API adds a system prompt of its own when tools are given; Anthropic documents 264 to 346
# input tokens depending on the model and tool_choice (the recorded requests show about 300).
TOOL_USE_SYSTEM_PROMPT_TOKENS = 300


_INPUT_KEYS = ("system", "messages", "tools", "output_format", "output_config")
"""The keyword arguments the input builders read."""


def request_inputs(
    kind: str, model: str | None, kwargs: Mapping[str, Any]
) -> tuple[Callable[[], Any], EstimateFn]:
    """The builder of ``gen_ai.input.messages`` (called only when content capture is on) and the
    local input count (used only when no usage comes back) of a call's keyword arguments.

    Both read the request only when called, from a shallow copy taken now (programs often append
    the reply to the same message list right after the call): a call whose response reports its
    usage, nearly every call, never walks its messages and tools.
    """
    if kind == MESSAGES:
        request = {key: kwargs[key] for key in _INPUT_KEYS if key in kwargs}
        for key in ("messages", "tools"):
            value = request.get(key)
            if type(value) is list or type(value) is tuple:
                request[key] = list(value)
        return (lambda: input_messages(chat_messages(request))), _chat_estimator(model, request)
    prompt = kwargs.get("prompt")
    texts = [prompt] if isinstance(prompt, str) else []
    return (
        lambda: input_messages([{"role": "user", "content": texts}]),
        lambda tokenizer: tokenizer.count_texts(model, texts),
    )


def _chat_estimator(model: str | None, request: Mapping[str, Any]) -> EstimateFn:
    def estimate(tokenizer: Tokenizer) -> Estimate:
        tools = tool_texts(request.get("tools"))
        schema = output_schema_text(request)
        extra = [*tools, schema] if schema else tools
        counted = tokenizer.count_chat_input(model, chat_messages(request))
        if not extra:
            return counted
        tokens = counted.tokens + tokenizer.count_texts(model, extra).tokens
        return Estimate(tokens + (TOOL_USE_SYSTEM_PROMPT_TOKENS if tools else 0), counted.method)

    return estimate


# -- usage ---------------------------------------------------------------------------------


def message_usage(usage: Any) -> Usage | None:
    """Our usage from a message's ``usage`` block."""
    if usage is None:
        return None
    return _usage(
        get(usage, "input_tokens"),
        get(usage, "output_tokens"),
        get(usage, "cache_read_input_tokens"),
        get(usage, "cache_creation_input_tokens"),
        get(get(usage, "cache_creation"), "ephemeral_1h_input_tokens"),
        get(get(usage, "output_tokens_details"), "thinking_tokens"),
    )


def _usage(uncached: Any, output: Any, read: Any, write: Any, write_1h: Any, thinking: Any) -> Usage | None:
    """Usage from raw counts, each validated here (an invalid one is lost alone, and counted)."""
    uncached_count, output_count = count(uncached), count(output)
    read_count, write_count = count(read), count(write)
    write_1h_count, thinking_count = count(write_1h), count(thinking)
    if uncached_count is None and output_count is None:
        return None
    usage = Usage.from_uncached_input(
        uncached_input_tokens=uncached_count,
        output_tokens=output_count,
        cache_read_input_tokens=read_count,
        cache_creation_input_tokens=write_count,
        cache_creation_1h_input_tokens=write_1h_count or None,
        reasoning_output_tokens=thinking_count,
    )
    # The sum of three valid counts can still exceed any real input: then the input is lost
    # (and counted as invalid), not the output or the cache counts.
    usage.input_tokens = count(usage.input_tokens)
    return usage


class StreamUsage:
    """Usage of a stream, merged as the API sends it.

    ``message_start`` carries the input and cache counts and a placeholder ``output_tokens``;
    each ``message_delta`` carries the cumulative ``output_tokens`` (replacing, not adding to,
    the earlier value) and, in the current API, the input and cache counts again, which then
    replace the earlier ones (as the SDK's own accumulator does: server tools can raise them).
    The raw values are kept and validated by :meth:`usage`, once, when the stream ends: a value
    later replaced is never counted as invalid, and an invalid last one is counted on this call.
    """

    __slots__ = ("input", "output", "read", "write", "write_1h", "thinking")

    def __init__(self) -> None:
        self.input: Any = None
        self.output: Any = None
        self.read: Any = None
        self.write: Any = None
        self.write_1h: Any = None
        self.thinking: Any = None

    def merge(self, usage: Any) -> None:
        if usage is None:
            return
        for field, name in (
            ("input", "input_tokens"),
            ("output", "output_tokens"),
            ("read", "cache_read_input_tokens"),
            ("write", "cache_creation_input_tokens"),
        ):
            value = get(usage, name)
            if value is not None:
                setattr(self, field, value)
        write_1h = get(get(usage, "cache_creation"), "ephemeral_1h_input_tokens")
        if write_1h is not None:
            self.write_1h = write_1h
        thinking = get(get(usage, "output_tokens_details"), "thinking_tokens")
        if thinking is not None:
            self.thinking = thinking

    def usage(self) -> Usage | None:
        return _usage(self.input, self.output, self.read, self.write, self.write_1h, self.thinking)


# -- responses -----------------------------------------------------------------------------


def message_result(message: Any) -> CallResult:
    """A ``Message`` / ``BetaMessage`` / ``ParsedMessage`` (or its dict)."""
    usage_object = get(message, "usage")
    usage = message_usage(usage_object)
    content = items(get(message, "content"))
    stop = text_or_none(get(message, "stop_reason"))
    return CallResult(
        response_model=text_or_none(get(message, "model")),
        response_id=text_or_none(get(message, "id")),
        finish_reasons=(stop,) if stop else None,
        usage=usage,
        service_tier=text_or_none(get(usage_object, "service_tier")),
        output_texts=None if usage is not None else content_texts(content),
        output_messages=lambda: [output_message(content_texts(content), stop)],
    )


def completion_result(response: Any) -> CallResult:
    """A legacy text ``Completion``; the API reports no usage for it, so it is estimated."""
    text = _text(get(response, "completion"))
    stop = text_or_none(get(response, "stop_reason"))
    return CallResult(
        response_model=text_or_none(get(response, "model")),
        response_id=text_or_none(get(response, "id")),
        finish_reasons=(stop,) if stop else None,
        output_texts=[text],
        output_messages=lambda: [output_message([text], stop)],
    )


def content_texts(content: Any) -> list[str]:
    """Text of content blocks: text, thinking, tool-use names and inputs, tool results."""
    if isinstance(content, str):
        return [content] if content else []
    texts: list[str] = []
    for block in items(content):
        if isinstance(block, str):
            texts.append(block)
            continue
        kind = get(block, "type")
        if kind == "text":
            texts.append(_text(get(block, "text")))
        elif kind == "thinking":
            texts.append(_text(get(block, "thinking")))
        elif kind in ("tool_use", "server_tool_use"):
            texts.append(_text(get(block, "name")))
            texts.append(_json(get(block, "input")))
        elif kind == "tool_result":
            texts.extend(content_texts(get(block, "content")))
    return [text for text in texts if text]


def _text(value: Any) -> str:
    """A text field that may be long (content, not a name): the string, else empty."""
    return value if isinstance(value, str) else ""


def _json(value: Any) -> str:
    if value is None:
        return ""
    try:
        if hasattr(value, "model_dump"):
            value = value.model_dump()
        return json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        return str(value)
    except RecursionError:
        return ""


def output_message(texts: list[str], stop_reason: str | None) -> dict[str, Any]:
    """One assistant message in the conventions' ``gen_ai.output.messages`` shape."""
    message: dict[str, Any] = {
        "role": "assistant",
        "parts": [{"type": "text", "content": text} for text in texts],
    }
    if stop_reason:
        message["finish_reason"] = stop_reason
    return message
