"""Pure functions: google-genai requests, responses and stream chunks -> model, usage, attributes.

They accept the SDK's pydantic objects or plain dicts alike (snake_case, and the API's camelCase
for bodies read raw), never raise on odd shapes (a missing field reads as ``None``), and are
shared by the sync and async paths.

Usage (``usage_metadata``) maps onto the conventions as follows:

* input = ``prompt_token_count`` + ``tool_use_prompt_token_count``. The prompt count already
  includes ``cached_content_token_count``; tool-use prompt tokens (results of built-in tools such
  as Google Search or code execution, fed back to the model) are counted beside it, are billed
  at the input rate, and ``total_token_count`` includes them;
* cache read = ``cached_content_token_count`` (a part of input; Gemini reports no cache writes:
  explicit caches are billed for storage, not per call);
* output = ``candidates_token_count`` + ``thoughts_token_count``: thinking is billed as output
  but reported outside the candidates count; reasoning = ``thoughts_token_count``.
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


def field(obj: Any, name: str, camel: str) -> Any:
    """A field by its SDK (snake_case) name, else by its wire (camelCase) name."""
    value = get(obj, name)
    return get(obj, camel) if value is None else value


def _count(value: Any) -> int | None:
    # Vertex's embedding statistics report token counts as floats (``4.0``).
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return int(value)


# -- provider and model --------------------------------------------------------------------


def provider_for(
    base_url: str | None, vertex: bool, host_overrides: Mapping[str, str]
) -> tuple[str, str | None, int | None]:
    """``(gen_ai.provider.name, server.address, server.port)``: Vertex AI when the client is in
    Vertex mode, else the Gemini Developer API; a ``provider_hosts`` setting for the host wins."""
    parts = urlsplit(base_url or "")
    host = (parts.hostname or "").lower() or None
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80 if parts.scheme == "http" else None)
    except ValueError:  # a malformed port in a user-given URL
        port = None
    default = semconv.PROVIDER_GCP_VERTEX_AI if vertex else semconv.PROVIDER_GCP_GEMINI
    if host is None:
        return default, None, None
    provider = host_overrides.get(f"{host}:{port}") or host_overrides.get(host) or default
    return provider, host, port


def model_name(model: Any) -> str | None:
    """The model id in any of the SDK's spellings: ``models/gemini-2.5-flash``,
    ``publishers/google/models/...``, ``projects/p/locations/l/publishers/google/models/...`` and
    ``google/gemini-2.5-flash`` all name ``gemini-2.5-flash``; tuned models keep their resource name."""
    if not isinstance(model, str) or not model:
        return None
    if "models/" in model and not model.startswith("tunedModels/"):
        return model.rsplit("models/", 1)[1] or None
    if model.startswith("google/"):
        return model[len("google/") :] or None
    return model


# -- requests ------------------------------------------------------------------------------

_PLAIN_CONFIG = {
    "temperature": semconv.GEN_AI_REQUEST_TEMPERATURE,
    "top_p": semconv.GEN_AI_REQUEST_TOP_P,
    "top_k": semconv.GEN_AI_REQUEST_TOP_K,
    "max_output_tokens": semconv.GEN_AI_REQUEST_MAX_TOKENS,
    "seed": semconv.GEN_AI_REQUEST_SEED,
    "presence_penalty": semconv.GEN_AI_REQUEST_PRESENCE_PENALTY,
    "frequency_penalty": semconv.GEN_AI_REQUEST_FREQUENCY_PENALTY,
}


def generate_request_attributes(config: Any, stream: bool) -> dict[str, Any]:
    """``gen_ai.request.*`` attributes of a ``GenerateContentConfig`` (object or dict)."""
    values: dict[str, Any] = {}
    if config is not None:
        for name, attribute in _PLAIN_CONFIG.items():
            value = get(config, name)
            if value is not None:
                values[attribute] = value
        stop = get(config, "stop_sequences")
        if stop:
            values[semconv.GEN_AI_REQUEST_STOP_SEQUENCES] = [stop] if isinstance(stop, str) else list(stop)
        count = get(config, "candidate_count")
        if isinstance(count, int) and count != 1:
            values[semconv.GEN_AI_REQUEST_CHOICE_COUNT] = count
        output_type = _output_type(config)
        if output_type:
            values[semconv.GEN_AI_OUTPUT_TYPE] = output_type
    if stream:
        values[semconv.GEN_AI_REQUEST_STREAM] = True
    return values


def _output_type(config: Any) -> str | None:
    if get(config, "response_schema") is not None or get(config, "response_json_schema") is not None:
        return "json"
    mime = get(config, "response_mime_type")
    if mime == "application/json":
        return "json"
    if mime == "text/plain":
        return "text"
    return None


def embed_request_attributes(config: Any) -> dict[str, Any]:
    dimensions = get(config, "output_dimensionality")
    return {semconv.GEN_AI_EMBEDDINGS_DIMENSION_COUNT: dimensions} if isinstance(dimensions, int) else {}


# -- usage ---------------------------------------------------------------------------------


def usage_from_metadata(metadata: Any) -> Usage | None:
    """Usage of one request from its ``usage_metadata`` (see the module docstring for the rules)."""
    if metadata is None:
        return None
    prompt = _count(field(metadata, "prompt_token_count", "promptTokenCount"))
    tool_use = _count(field(metadata, "tool_use_prompt_token_count", "toolUsePromptTokenCount"))
    candidates = _count(field(metadata, "candidates_token_count", "candidatesTokenCount"))
    thoughts = _count(field(metadata, "thoughts_token_count", "thoughtsTokenCount"))
    cached = _count(field(metadata, "cached_content_token_count", "cachedContentTokenCount"))
    if prompt is None and tool_use is None and candidates is None and thoughts is None:
        return None
    return Usage(
        input_tokens=None if prompt is None and tool_use is None else (prompt or 0) + (tool_use or 0),
        output_tokens=None
        if candidates is None and thoughts is None
        else (candidates or 0) + (thoughts or 0),
        cache_read_input_tokens=cached,
        reasoning_output_tokens=thoughts,
    )


# -- responses -----------------------------------------------------------------------------


def raw_body(response: Any) -> Any:
    """The JSON body kept on ``sdk_http_response`` when the caller asked for the raw HTTP
    response (``should_return_http_response``): the SDK then parses nothing, so we read it."""
    body = get(get(response, "sdk_http_response"), "body")
    if not isinstance(body, str) or not body:
        return None
    try:
        return json.loads(body)
    except ValueError:
        return None


def finish_reason(candidate: Any) -> str | None:
    """A candidate's finish reason, lower-cased (``STOP`` -> ``stop``, ``MAX_TOKENS`` -> ``max_tokens``)."""
    reason = field(candidate, "finish_reason", "finishReason")
    if reason is None:
        return None
    value = getattr(reason, "value", reason)
    return str(value).lower() or None


def generate_result(response: Any) -> CallResult:
    """A ``GenerateContentResponse`` (or its raw JSON body) of one generateContent request."""
    metadata = get(response, "usage_metadata")
    if metadata is None:
        raw = raw_body(response)
        if raw is not None:
            response, metadata = raw, get(raw, "usageMetadata")
    candidates = field(response, "candidates", "candidates") or ()
    usage = usage_from_metadata(metadata)
    reasons = tuple(reason for reason in map(finish_reason, candidates) if reason)
    return CallResult(
        response_model=field(response, "model_version", "modelVersion") or None,
        response_id=field(response, "response_id", "responseId"),
        finish_reasons=reasons or None,
        usage=usage,
        output_texts=None if usage is not None else [t for c in candidates for t in candidate_texts(c)],
        output_messages=lambda: [output_message(get(c, "content"), finish_reason(c)) for c in candidates],
    )


def embed_result(response: Any) -> CallResult:
    """An ``EmbedContentResponse``. Token counts come from ``usage_metadata`` where the API sends it
    (Vertex ``embedContent``, newer models), else from Vertex's per-embedding ``statistics``; the
    Gemini API's ``batchEmbedContents`` reports none, so the call is then estimated locally."""
    embeddings = get(response, "embeddings") or ()
    usage = usage_from_metadata(get(response, "usage_metadata"))
    if usage is None and embeddings:
        counts = [_count(get(get(item, "statistics"), "token_count")) for item in embeddings]
        if all(count is not None for count in counts):
            usage = Usage(input_tokens=sum(count or 0 for count in counts))
    if usage is not None:
        usage.output_tokens = None  # embeddings have no output tokens; don't report a 0
        usage.reasoning_output_tokens = None
    attributes = None
    if embeddings:
        values = get(embeddings[0], "values")
        if isinstance(values, list):
            attributes = {semconv.GEN_AI_EMBEDDINGS_DIMENSION_COUNT: len(values)}
    return CallResult(usage=usage, attributes=attributes)


# -- content: texts for estimates, messages for capture (only when the user opted in) ------


def _is_content(item: Any) -> bool:
    return get(item, "parts") is not None or get(item, "role") is not None


def _function_text(value: Any) -> str:
    name = get(value, "name") or ""
    args = get(value, "args")
    if args is None:
        args = get(value, "response")
    try:
        return name + json.dumps(args, default=str) if args is not None else name
    except (TypeError, ValueError):
        return name


def part_texts(part: Any) -> list[str]:
    """Text a part carries: text (thoughts included), function-call and function-response names and JSON."""
    if isinstance(part, str):
        return [part]
    texts = []
    text = get(part, "text")
    if isinstance(text, str) and text:
        texts.append(text)
    for key, camel in (("function_call", "functionCall"), ("function_response", "functionResponse")):
        value = field(part, key, camel)
        if value is not None:
            texts.append(_function_text(value))
    return texts


def content_list(contents: Any) -> list[tuple[str, list[Any]]]:
    """``contents`` in any accepted spelling (a string, parts, ``Content`` objects or dicts, or a
    list of them) as ``(role, parts)`` pairs; loose parts in a row form one user turn, as the SDK
    makes them."""
    if contents is None:
        return []
    # Only lists are sequences of turns or parts: a pydantic Content or Part is iterable too.
    items = contents if isinstance(contents, list | tuple) else [contents]
    turns: list[tuple[str, list[Any]]] = []
    loose: list[Any] = []
    for item in items:
        if _is_content(item) and not isinstance(item, str):
            if loose:
                turns.append(("user", loose))
                loose = []
            turns.append((str(get(item, "role") or "user"), list(get(item, "parts") or ())))
        else:
            loose.append(item)
    if loose:
        turns.append(("user", loose))
    return turns


def input_texts(contents: Any, config: Any) -> list[str]:
    """Every text of a request (system instruction and contents), for a local input estimate."""
    texts = []
    for _, parts in content_list(get(config, "system_instruction")) + content_list(contents):
        for part in parts:
            texts.extend(part_texts(part))
    return texts


def candidate_texts(candidate: Any) -> list[str]:
    """Generated text of one candidate (thoughts included: they are billed as output)."""
    content = get(candidate, "content")
    return [text for part in field(content, "parts", "parts") or () for text in part_texts(part)]


def _message_parts(parts: Iterable[Any]) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = []
    for part in parts:
        if isinstance(part, str):
            result.append({"type": "text", "content": part})
            continue
        call = field(part, "function_call", "functionCall")
        answer = field(part, "function_response", "functionResponse")
        text = get(part, "text")
        if call is not None:
            result.append(
                {
                    "type": "tool_call",
                    "id": get(call, "id"),
                    "name": get(call, "name"),
                    "arguments": get(call, "args"),
                }
            )
        elif answer is not None:
            result.append(
                {"type": "tool_call_response", "id": get(answer, "id"), "response": get(answer, "response")}
            )
        elif isinstance(text, str):
            result.append({"type": "reasoning" if get(part, "thought") else "text", "content": text})
    return result


def _role(role: str) -> str:
    return "assistant" if role == "model" else role


def input_messages(contents: Any, config: Any) -> list[dict[str, Any]]:
    """The request in the conventions' ``gen_ai.input.messages`` shape (text and tool parts only)."""
    messages = [
        {"role": "system", "parts": _message_parts(parts)}
        for _, parts in content_list(get(config, "system_instruction"))
    ]
    messages.extend(
        {"role": _role(role), "parts": _message_parts(parts)} for role, parts in content_list(contents)
    )
    return messages


def output_message(content: Any, reason: str | None) -> dict[str, Any]:
    """One candidate in the conventions' ``gen_ai.output.messages`` shape."""
    message: dict[str, Any] = {
        "role": "assistant",
        "parts": _message_parts(field(content, "parts", "parts") or ()),
    }
    if reason:
        message["finish_reason"] = reason
    return message


def embed_texts(contents: Any) -> list[str]:
    """Texts given to ``embed_content`` (a string, a list of strings, or contents)."""
    return [text for _, parts in content_list(contents) for part in parts for text in part_texts(part)]
