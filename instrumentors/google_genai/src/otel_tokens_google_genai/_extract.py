"""Pure functions: google-genai requests, responses and stream chunks -> model, usage, attributes.

They accept the SDK's pydantic objects or plain dicts alike (snake_case, and the API's camelCase
for bodies read raw), are shared by the sync and async paths, and read every response field on
its own: a field of the wrong type or out of range is lost alone (a token count through
``count``, a model, id or finish reason through ``text_or_none``, a list through ``items``),
never the rest of the call's telemetry, and nothing here raises on an odd shape.

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


def field(obj: Any, name: str, camel: str) -> Any:
    """A field by its SDK (snake_case) name, else by its wire (camelCase) name."""
    value = get(obj, name)
    return get(obj, camel) if value is None else value


def _total(*counts: int | None) -> int | None:
    """The sum of the validated counts given (``None`` if none was); a sum out of range is invalid."""
    given = [value for value in counts if value is not None]
    return count(sum(given)) if given else None


# -- provider and model --------------------------------------------------------------------


def provider_for(
    base_url: str | None, vertex: bool, host_overrides: Mapping[str, str]
) -> tuple[str, str | None, int | None]:
    """``(gen_ai.provider.name, server.address, server.port)``: Vertex AI when the client is in
    Vertex mode, else the Gemini Developer API; a ``provider_hosts`` setting for the host wins.

    Pure; callers cache the result per base URL (see ``_endpoints._client_provider``).
    """
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


def base_url(client: Any, config: Any) -> str | None:
    """The base URL a request goes to: the call's ``http_options``, else the client's."""
    options = get(config, "http_options")
    url = get(options, "base_url") or get(getattr(client, "_http_options", None), "base_url")
    return url if isinstance(url, str) else None


def model_name(model: Any) -> str | None:
    """The model id in any of the SDK's spellings: ``models/gemini-2.5-flash``,
    ``publishers/google/models/...``, ``projects/p/locations/l/publishers/google/models/...`` and
    ``google/gemini-2.5-flash`` all name ``gemini-2.5-flash``; tuned models keep their resource name."""
    model = text_or_none(model)
    if model is None:
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
        if isinstance(stop, str):
            values[semconv.GEN_AI_REQUEST_STOP_SEQUENCES] = [stop]
        elif stop:
            values[semconv.GEN_AI_REQUEST_STOP_SEQUENCES] = list(items(stop))
        choices = get(config, "candidate_count")
        if isinstance(choices, int) and choices != 1:
            values[semconv.GEN_AI_REQUEST_CHOICE_COUNT] = choices
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


def request_contents(kwargs: Mapping[str, Any]) -> Any:
    """The request's ``contents``, copied: the SDK appends AFC turns to the same list right after
    the request, and the estimate and captured messages must show what this request sent."""
    contents = kwargs.get("contents")
    return list(contents) if isinstance(contents, list) else contents


def input_estimator(
    embed: bool, model: str | None, contents: Any, config: Any
) -> Callable[[Tokenizer], Estimate]:
    """Counts the input locally, for when no usage comes back."""
    if embed:
        return lambda tokenizer: tokenizer.count_texts(model, embed_texts(contents))
    return lambda tokenizer: tokenizer.count_texts(model, input_texts(contents, config))


def input_messages_builder(embed: bool, contents: Any, config: Any) -> Callable[[], Any] | None:
    """Builds ``gen_ai.input.messages`` (called only when content capture is on); none for embeddings."""
    if embed:
        return None
    return lambda: input_messages(contents, config)


# -- usage ---------------------------------------------------------------------------------


def usage_from_metadata(metadata: Any) -> Usage | None:
    """Usage of one request from its ``usage_metadata`` (see the module docstring for the rules)."""
    if metadata is None:
        return None
    prompt = count(field(metadata, "prompt_token_count", "promptTokenCount"))
    tool_use = count(field(metadata, "tool_use_prompt_token_count", "toolUsePromptTokenCount"))
    candidates = count(field(metadata, "candidates_token_count", "candidatesTokenCount"))
    thoughts = count(field(metadata, "thoughts_token_count", "thoughtsTokenCount"))
    cached = count(field(metadata, "cached_content_token_count", "cachedContentTokenCount"))
    if prompt is None and tool_use is None and candidates is None and thoughts is None:
        return None
    return Usage(
        input_tokens=_total(prompt, tool_use),
        output_tokens=_total(candidates, thoughts),
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
    except (ValueError, RecursionError):
        return None


def finish_reason(candidate: Any) -> str | None:
    """A candidate's finish reason, lower-cased (``STOP`` -> ``stop``, ``MAX_TOKENS`` -> ``max_tokens``)."""
    reason = field(candidate, "finish_reason", "finishReason")
    # The SDK's FinishReason is a str enum: its value is the wire name.
    text = text_or_none(getattr(reason, "value", reason))
    return text.lower() if text is not None else None


def candidate_index(candidate: Any) -> int:
    """A candidate's index (0 when absent or not an index)."""
    index = get(candidate, "index")
    return index if type(index) is int else 0


def generate_result(response: Any) -> CallResult:
    """A ``GenerateContentResponse`` (or its raw JSON body) of one generateContent request."""
    metadata = field(response, "usage_metadata", "usageMetadata")
    if metadata is None:
        raw = raw_body(response)
        if raw is not None:
            response, metadata = raw, get(raw, "usageMetadata")
    candidates = items(field(response, "candidates", "candidates"))
    usage = usage_from_metadata(metadata)
    reasons = tuple(reason for reason in map(finish_reason, candidates) if reason)
    return CallResult(
        response_model=text_or_none(field(response, "model_version", "modelVersion")),
        response_id=text_or_none(field(response, "response_id", "responseId")),
        finish_reasons=reasons or None,
        usage=usage,
        output_texts=None if usage is not None else [t for c in candidates for t in candidate_texts(c)],
        output_messages=lambda: [output_message(get(c, "content"), finish_reason(c)) for c in candidates],
    )


def embed_result(response: Any) -> CallResult:
    """An ``EmbedContentResponse``. Token counts come from ``usage_metadata`` where the API sends it
    (Vertex ``embedContent``, newer models), else from Vertex's per-embedding ``statistics``; the
    Gemini API's ``batchEmbedContents`` reports none, so the call is then estimated locally."""
    embeddings = items(get(response, "embeddings"))
    usage = usage_from_metadata(get(response, "usage_metadata"))
    if usage is not None:
        usage.output_tokens = None  # embeddings have no output tokens; don't report a 0
        usage.reasoning_output_tokens = None
        if usage.input_tokens is None:
            usage = None  # no valid input count: read the statistics, else estimate locally
    if usage is None and embeddings:
        # Vertex reports each input's count as a float (``4.0``); count() takes whole floats.
        counts = [count(get(get(item, "statistics"), "token_count")) for item in embeddings]
        if all(value is not None for value in counts):
            usage = Usage(input_tokens=_total(*counts))
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
    name = get(value, "name")
    name = name if isinstance(name, str) else ""
    args = get(value, "args")
    if args is None:
        args = get(value, "response")
    try:
        return name + json.dumps(args, default=str) if args is not None else name
    except (TypeError, ValueError, RecursionError):
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
    turns_or_parts = contents if isinstance(contents, list | tuple) else [contents]
    turns: list[tuple[str, list[Any]]] = []
    loose: list[Any] = []
    for item in turns_or_parts:
        if _is_content(item) and not isinstance(item, str):
            if loose:
                turns.append(("user", loose))
                loose = []
            turns.append((text_or_none(get(item, "role")) or "user", list(items(get(item, "parts")))))
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
    return [text for part in items(field(content, "parts", "parts")) for text in part_texts(part)]


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
        "parts": _message_parts(items(field(content, "parts", "parts"))),
    }
    if reason:
        message["finish_reason"] = reason
    return message


def embed_texts(contents: Any) -> list[str]:
    """Texts given to ``embed_content`` (a string, a list of strings, or contents)."""
    return [text for _, parts in content_list(contents) for part in parts for text in part_texts(part)]
