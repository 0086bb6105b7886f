"""Pure functions: Bedrock request parameters and response metadata -> operation, attributes, counts.

Shared by every operation; they never raise on odd shapes (what they cannot read is skipped),
and every value read from a response is validated where it is read (``count`` for token counts,
``text_or_none`` for texts), so one bad field loses that field only.

Bedrock reports input tokens *without* their cached part (the Converse ``usage`` block, the
``x-amzn-bedrock-*-token-count`` headers and a stream's ``amazon-bedrock-invocationMetrics``), so
:meth:`Counts.usage` adds cache reads and writes back to get the conventions' input total.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any
from urllib.parse import urlsplit

from otel_tokens.instrumentation import Estimate, Tokenizer, Usage, count, items, semconv, text_or_none

CONVERSE = "Converse"
CONVERSE_STREAM = "ConverseStream"
INVOKE = "InvokeModel"
INVOKE_STREAM = "InvokeModelWithResponseStream"
OPERATIONS = (CONVERSE, CONVERSE_STREAM, INVOKE, INVOKE_STREAM)

HEADER_INPUT = "x-amzn-bedrock-input-token-count"
HEADER_OUTPUT = "x-amzn-bedrock-output-token-count"
HEADER_CACHE_READ = "x-amzn-bedrock-cache-read-input-token-count"
HEADER_CACHE_WRITE = "x-amzn-bedrock-cache-write-input-token-count"
METRICS_KEY = "amazon-bedrock-invocationMetrics"

# An InvokeModel body larger than this is not parsed (nor buffered when read back): embeddings of
# long inputs run to megabytes, and the counts come from the headers anyway.
MAX_BODY_BYTES = 1 << 20


@dataclass(slots=True)
class Counts:
    """Token counts as Bedrock reports them: ``input`` excludes the cache reads and writes."""

    input: int | None = None
    output: int | None = None
    cache_read: int | None = None
    cache_write: int | None = None
    cache_write_1h: int | None = None

    def update(self, other: Counts | None) -> None:
        """Take every count ``other`` reports (later reports win: stream counts are cumulative)."""
        if other is None:
            return
        for item in fields(self):
            value = getattr(other, item.name)
            if value is not None:
                setattr(self, item.name, value)

    def usage(self) -> Usage | None:
        """The conventions' usage (input total = input + cache reads + cache writes), or None.

        The counts were validated when read; the input total is checked again, since three
        valid counts can add up to more than any real call.
        """
        if self.input is None and self.output is None:
            return None
        usage = Usage.from_uncached_input(
            uncached_input_tokens=self.input,
            output_tokens=self.output,
            cache_read_input_tokens=self.cache_read,
            cache_creation_input_tokens=self.cache_write,
            cache_creation_1h_input_tokens=self.cache_write_1h,
        )
        usage.input_tokens = count(usage.input_tokens)
        return usage


def http_headers(result: Any) -> Mapping[str, Any] | None:
    """The response's HTTP headers from botocore's ``ResponseMetadata`` (names lower-cased)."""
    metadata = result.get("ResponseMetadata") if isinstance(result, Mapping) else None
    headers = metadata.get("HTTPHeaders") if isinstance(metadata, Mapping) else None
    return headers if isinstance(headers, Mapping) else None


def header_counts(headers: Mapping[str, Any] | None) -> Counts | None:
    """The ``x-amzn-bedrock-*-token-count`` response headers, or None when they are absent."""
    if headers is None or HEADER_INPUT not in headers:
        return None
    return Counts(
        input=count(headers.get(HEADER_INPUT)),
        output=count(headers.get(HEADER_OUTPUT)),
        cache_read=count(headers.get(HEADER_CACHE_READ)),
        cache_write=count(headers.get(HEADER_CACHE_WRITE)),
    )


def content_length(headers: Mapping[str, Any] | None) -> int | None:
    """The body's length in bytes from ``content-length``; None when absent or not a length."""
    value = headers.get("content-length") if headers is not None else None
    if isinstance(value, str) and len(value) <= 18 and value.isascii() and value.strip().isdigit():
        return int(value)
    return None


def service_tier(value: Any) -> str | None:
    """A served ``serviceTier``: ``{"type": "priority"}`` (Converse) or the header's string (InvokeModel)."""
    if isinstance(value, Mapping):
        value = value.get("type")
    return text_or_none(value)


def server_of(endpoint_url: str) -> tuple[str | None, int | None]:
    """``(server.address, server.port)`` of a client's endpoint URL (callers cache it per client)."""
    parts = urlsplit(endpoint_url)
    port = parts.port or (443 if parts.scheme == "https" else 80 if parts.scheme == "http" else None)
    return parts.hostname or None, port


# -- requests ------------------------------------------------------------------------------

# Inference parameter -> attribute, by every spelling the model families use (Converse's
# inferenceConfig, Anthropic, Titan's textGenerationConfig, Nova, Llama, Mistral, Cohere, AI21).
_NUMBERS = {
    "maxTokens": semconv.GEN_AI_REQUEST_MAX_TOKENS,
    "max_tokens": semconv.GEN_AI_REQUEST_MAX_TOKENS,
    "max_tokens_to_sample": semconv.GEN_AI_REQUEST_MAX_TOKENS,
    "maxTokenCount": semconv.GEN_AI_REQUEST_MAX_TOKENS,
    "max_new_tokens": semconv.GEN_AI_REQUEST_MAX_TOKENS,
    "max_gen_len": semconv.GEN_AI_REQUEST_MAX_TOKENS,
    "temperature": semconv.GEN_AI_REQUEST_TEMPERATURE,
    "topP": semconv.GEN_AI_REQUEST_TOP_P,
    "top_p": semconv.GEN_AI_REQUEST_TOP_P,
    "p": semconv.GEN_AI_REQUEST_TOP_P,
    "topK": semconv.GEN_AI_REQUEST_TOP_K,
    "top_k": semconv.GEN_AI_REQUEST_TOP_K,
    "k": semconv.GEN_AI_REQUEST_TOP_K,
    "seed": semconv.GEN_AI_REQUEST_SEED,
    "frequency_penalty": semconv.GEN_AI_REQUEST_FREQUENCY_PENALTY,
    "presence_penalty": semconv.GEN_AI_REQUEST_PRESENCE_PENALTY,
}
_STOPS = ("stopSequences", "stop_sequences", "stop")
_NESTED_CONFIGS = ("inferenceConfig", "textGenerationConfig")


def request_attributes(source: Mapping[str, Any], stream: bool) -> dict[str, Any]:
    """``gen_ai.request.*`` attributes of a Converse call's parameters or an InvokeModel body."""
    values: dict[str, Any] = {}
    _read_parameters(source, values)
    for key in _NESTED_CONFIGS:
        nested = source.get(key)
        if isinstance(nested, Mapping):
            _read_parameters(nested, values)
    if stream:
        values[semconv.GEN_AI_REQUEST_STREAM] = True
    return values


def _read_parameters(source: Mapping[str, Any], values: dict[str, Any]) -> None:
    for key, value in source.items():
        attribute = _NUMBERS.get(key)
        if attribute is not None:
            if isinstance(value, int | float) and not isinstance(value, bool):
                values[attribute] = value
        elif key in _STOPS:
            if isinstance(value, str):
                values[semconv.GEN_AI_REQUEST_STOP_SEQUENCES] = [value]
            elif isinstance(value, list | tuple) and all(isinstance(item, str) for item in value):
                values[semconv.GEN_AI_REQUEST_STOP_SEQUENCES] = list(value)


def request_source(
    params: Mapping[str, Any], model_id: str | None, invoke: bool
) -> tuple[Mapping[str, Any], str]:
    """What a call's messages and prompt are read from, and its operation name.

    InvokeModel: the request body, parsed by us (nobody else holds the parsed form). Converse:
    the system prompt and a copy of the messages, since they are read later (for content capture
    or an estimate) and programs often append the reply to the same list right after the call.
    """
    if invoke:
        body = invoke_body(params)
        return (body if body is not None else {}), invoke_operation(model_id, body)
    source = {"system": params.get("system"), "messages": list(items(params.get("messages")))}
    return source, semconv.OPERATION_CHAT


def invoke_body(params: Mapping[str, Any]) -> dict[str, Any] | None:
    """The InvokeModel request body as JSON, when given as (small enough) bytes or text."""
    raw = params.get("body")
    if not isinstance(raw, bytes | bytearray | str) or len(raw) > MAX_BODY_BYTES:
        return None  # a file-like body is the user's to read, not ours
    try:
        body = json.loads(raw)
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def invoke_operation(model_id: str | None, body: Mapping[str, Any] | None) -> str:
    """chat for message-shaped bodies, embeddings for embedding models, else text_completion."""
    if body is not None and "messages" in body:
        return semconv.OPERATION_CHAT
    if model_id is not None and "embed" in model_id.rsplit("/", 1)[-1]:
        return semconv.OPERATION_EMBEDDINGS
    if body is not None and ("message" in body or "chat_history" in body):
        return semconv.OPERATION_CHAT  # Cohere Command R
    return semconv.OPERATION_TEXT_COMPLETION


# -- request content: captured messages and local estimates ---------------------------------


def block_texts(content: Any) -> list[str]:
    """Text of a message's content in any family's shape: a string, or blocks with ``text``,
    tool uses (name and input), tool results and guarded content."""
    if isinstance(content, str):
        return [content]
    texts: list[str] = []
    for block in items(content):
        if isinstance(block, str):
            texts.append(block)
        elif isinstance(block, Mapping):
            _block_text(block, texts)
    return texts


def _block_text(block: Mapping[str, Any], texts: list[str]) -> None:
    text = block.get("text")
    if isinstance(text, str):
        texts.append(text)
        return
    use = block.get("toolUse") if "toolUse" in block else block if block.get("type") == "tool_use" else None
    if isinstance(use, Mapping):
        name = use.get("name")
        texts.append(name if isinstance(name, str) else "")
        texts.append(_json_text(use.get("input")))
        return
    result = block.get("toolResult") if "toolResult" in block else None
    if result is None and block.get("type") == "tool_result":
        result = block
    if isinstance(result, Mapping):
        content = result.get("content")
        for item in items(content):
            if isinstance(item, Mapping) and "json" in item:
                texts.append(_json_text(item["json"]))
            else:
                texts.extend(block_texts([item]))
        if isinstance(content, str):
            texts.append(content)
        return
    guarded = block.get("guardContent")
    if isinstance(guarded, Mapping) and isinstance(guarded.get("text"), Mapping):
        texts.extend(block_texts([guarded["text"]]))


def _json_text(value: Any) -> str:
    """A tool's JSON input or result as text, for an estimate (``str()`` of what JSON cannot write)."""
    try:
        return json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError, RecursionError):
        return ""


def chat_messages(source: Mapping[str, Any]) -> list[dict[str, str]]:
    """A request's messages as ``{"role", "content"}`` texts: the system prompt (a string or blocks),
    ``messages`` (Converse, Anthropic, Nova, OpenAI-style) or Cohere's ``chat_history`` + ``message``."""
    messages: list[dict[str, str]] = []
    system = source.get("system")
    if system is not None:
        messages.append({"role": "system", "content": "\n".join(block_texts(system))})
    for message in items(source.get("messages")) or items(source.get("chat_history")):
        if isinstance(message, Mapping):
            content = message.get("content", message.get("message"))
            role = str(message.get("role") or "user").lower()
            messages.append({"role": role, "content": "\n".join(block_texts(content))})
    if isinstance(source.get("message"), str):
        messages.append({"role": "user", "content": source["message"]})
    return messages


def prompt_texts(body: Mapping[str, Any]) -> list[str]:
    """The prompt of a text-completion or embedding body (``prompt``, ``inputText``, ``texts``)."""
    for key in ("prompt", "inputText", "texts"):
        value = body.get(key)
        if isinstance(value, str):
            return [value]
        if isinstance(value, list):
            return [item for item in value if isinstance(item, str)]
    return []


def input_messages(source: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The request's messages in the conventions' ``gen_ai.input.messages`` shape."""
    messages = chat_messages(source)
    if not messages:
        messages = [{"role": "user", "content": text} for text in prompt_texts(source)]
    return [{"role": m["role"], "parts": [{"type": "text", "content": m["content"]}]} for m in messages]


def estimate_input(model: str | None, source: Mapping[str, Any], tokenizer: Tokenizer) -> Estimate:
    """The request's input tokens counted locally: chat framing for messages, else the prompt."""
    messages = chat_messages(source)
    if messages:
        return tokenizer.count_chat_input(model, messages)
    return tokenizer.count_texts(model, prompt_texts(source))
