"""Pure functions: Ollama requests, responses and stream parts -> attributes, usage, results.

They accept the SDK's pydantic objects (``ChatResponse``, ``Message``, ``Options``...) or plain
mappings alike, validate every field of a response where it is read (a bad field reads as
absent, and only that field is lost), and are shared by the sync, async, plain and streaming
paths.

Usage: ``prompt_eval_count`` is the input, ``eval_count`` the output (thinking included: Ollama
counts every generated token there). ``prompt_eval_cached_count``, which newer Ollama servers
report for the part of the prompt read from the KV cache, becomes the cache read when the SDK
passes it through (the SDK up to 0.6 drops fields it does not declare).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from otel_tokens.instrumentation import (
    CallResult,
    Estimate,
    EstimateFn,
    Tokenizer,
    Usage,
    count,
    default_tokenizer,
    get,
    items,
    semconv,
    text_or_none,
)

CHAT = "chat"
GENERATE = "generate"
EMBED = "embed"
EMBEDDINGS = "embeddings"
"""The legacy ``/api/embeddings`` (``Client.embeddings``), whose response carries no counts."""

OPERATIONS = {
    CHAT: semconv.OPERATION_CHAT,
    GENERATE: semconv.OPERATION_TEXT_COMPLETION,
    EMBED: semconv.OPERATION_EMBEDDINGS,
    EMBEDDINGS: semconv.OPERATION_EMBEDDINGS,
}

# The parameters each method takes by position, the same from ollama 0.4.0 on.
POSITIONAL = {
    CHAT: ("model", "messages"),
    GENERATE: ("model", "prompt", "suffix"),
    EMBED: ("model", "input", "truncate", "options", "keep_alive", "dimensions"),
    EMBEDDINGS: ("model", "prompt", "options", "keep_alive"),
}


def call_arguments(kind: str, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> Mapping[str, Any]:
    """The call's arguments by name (positional ones named as the SDK names them); never mutated."""
    if not args:
        return kwargs
    return {**dict(zip(POSITIONAL[kind], args, strict=False)), **kwargs}


# -- requests ------------------------------------------------------------------------------

# Ollama option -> attribute, for options recorded as given.
_OPTIONS = {
    "temperature": semconv.GEN_AI_REQUEST_TEMPERATURE,
    "top_p": semconv.GEN_AI_REQUEST_TOP_P,
    "top_k": semconv.GEN_AI_REQUEST_TOP_K,
    "seed": semconv.GEN_AI_REQUEST_SEED,
    "num_predict": semconv.GEN_AI_REQUEST_MAX_TOKENS,
    "frequency_penalty": semconv.GEN_AI_REQUEST_FREQUENCY_PENALTY,
    "presence_penalty": semconv.GEN_AI_REQUEST_PRESENCE_PENALTY,
}


def request_attributes(kind: str, arguments: Mapping[str, Any]) -> dict[str, Any]:
    """``gen_ai.request.*`` attributes of a call: sampling options, stream, output type."""
    values: dict[str, Any] = {}
    options = arguments.get("options")
    if options is not None:
        for name, attribute in _OPTIONS.items():
            value = get(options, name)
            if value is not None:
                values[attribute] = value
        stop = get(options, "stop")
        if stop:
            values[semconv.GEN_AI_REQUEST_STOP_SEQUENCES] = [stop] if isinstance(stop, str) else list(stop)
    if arguments.get("stream") is True:
        values[semconv.GEN_AI_REQUEST_STREAM] = True
    output_format = arguments.get("format")
    if output_format == "json" or isinstance(output_format, Mapping):  # "json" or a JSON schema
        values[semconv.GEN_AI_OUTPUT_TYPE] = "json"
    dimensions = arguments.get("dimensions")
    if kind == EMBED and isinstance(dimensions, int):
        values[semconv.GEN_AI_EMBEDDINGS_DIMENSION_COUNT] = dimensions
    return values


def generate_messages(arguments: Mapping[str, Any]) -> list[dict[str, Any]]:
    """A generate call's ``system`` and ``prompt`` as chat messages (Ollama's template frames them so)."""
    messages = []
    system = arguments.get("system")
    if isinstance(system, str) and system:
        messages.append({"role": "system", "content": system})
    prompt = arguments.get("prompt")
    if isinstance(prompt, str) and prompt:
        messages.append({"role": "user", "content": prompt})
    return messages


def countable_messages(messages: Iterable[Any]) -> list[dict[str, Any]]:
    """Chat messages as the tokenizer reads them: tool-call arguments (a JSON object here) as text."""
    result = []
    for message in messages:
        calls = [
            {"function": {"name": get(fn, "name"), "arguments": _json_text(get(fn, "arguments"))}}
            for fn in (get(call, "function") for call in get(message, "tool_calls") or ())
        ]
        result.append({"role": get(message, "role"), "content": get(message, "content"), "tool_calls": calls})
    return result


def count_prompt(
    tokenizer: Tokenizer, model: str | None, kind: str, arguments: Mapping[str, Any], messages: list[Any]
) -> Estimate:
    """Estimated input tokens of a call (``messages`` is the copy taken when the call started).

    Chat and generate are framed as chat messages, as Ollama's templates frame them; a generate
    ``context`` (token ids of an earlier exchange) counts one token per id, and ``raw`` prompts
    are counted without framing. Embeddings count their input texts.
    """
    if kind == CHAT:
        return tokenizer.count_chat_input(model, countable_messages(messages))
    if kind == GENERATE:
        context = arguments.get("context")
        ids = len(context) if isinstance(context, list | tuple) else 0
        if arguments.get("raw") is True:
            estimate = tokenizer.count_texts(model, [m["content"] for m in messages])
        else:
            estimate = tokenizer.count_chat_input(model, messages)
        return Estimate(estimate.tokens + ids, estimate.method)
    value = arguments.get("input" if kind == EMBED else "prompt")
    return tokenizer.count_texts(model, [value] if isinstance(value, str) else value or ())


def call_messages(kind: str, arguments: Mapping[str, Any]) -> list[Any]:
    """The messages a chat or generate call sends, copied: programs often append the reply to
    the same list right after the call."""
    if kind == CHAT:
        return list(items(arguments.get("messages")))
    return generate_messages(arguments)


def input_estimator(
    kind: str, model: str | None, arguments: Mapping[str, Any], messages: list[Any]
) -> EstimateFn:
    """Counts the call's input locally, for when the response reports no usage."""
    return lambda tokenizer: count_prompt(tokenizer, model, kind, arguments, messages)


def cached_prompt_estimator(
    kind: str, arguments: Mapping[str, Any], messages: list[Any]
) -> Callable[[], Estimate]:
    """Counts the prompt of a KV-cache hit (see :func:`is_cached_prompt`). Runs on the call path,
    so always the heuristic: it never loads an encoding."""
    return lambda: count_prompt(default_tokenizer(), None, kind, arguments, messages)


# -- usage ---------------------------------------------------------------------------------


def usage(response: Any, kind: str) -> Usage | None:
    """Usage of a response or a stream's final part; ``None`` when it reports no counts at all."""
    prompt = get(response, "prompt_eval_count")
    output = get(response, "eval_count") if kind in (CHAT, GENERATE) else None
    if prompt is None and output is None:
        return None
    return Usage(
        input_tokens=count(prompt),
        output_tokens=count(output),
        cache_read_input_tokens=count(get(response, "prompt_eval_cached_count")),
    )


def is_cached_prompt(response: Any, found: Usage | None) -> bool:
    """True for a finished generation whose ``prompt_eval_count`` is absent (not merely invalid).

    Ollama leaves a count of 0 out (Go's ``omitempty``); servers of 2024 report 0 prompt tokens
    evaluated when the whole prompt is already in the model's KV cache: read, not evaluated.
    """
    return found is not None and get(response, "prompt_eval_count") is None and get(response, "done") is True


def with_cached_prompt(
    result: CallResult, final: Any, cached_prompt: Callable[[], Estimate] | None
) -> CallResult:
    """``result``, with the prompt estimated as a full cache read when the server left its count
    out (``cached_prompt`` is ``None`` when estimates are off)."""
    if cached_prompt is not None and result.usage is not None and is_cached_prompt(final, result.usage):
        result.usage = cached_prompt_usage(result.usage, cached_prompt())
    return result


def cached_prompt_usage(found: Usage, prompt: Estimate) -> Usage:
    """The KV-cache hit's usage: the estimated prompt as input, all of it a cache read."""
    return Usage(
        input_tokens=prompt.tokens,
        output_tokens=found.output_tokens,
        cache_read_input_tokens=prompt.tokens,
        estimated=True,
        estimate_method=prompt.method,
    )


# -- responses -----------------------------------------------------------------------------


@dataclass(slots=True)
class Generated:
    """What a chat or generate call generated, gathered from a response or a stream's parts."""

    content: list[str] = field(default_factory=list)
    thinking: list[str] = field(default_factory=list)
    tool_calls: list[Any] = field(default_factory=list)

    def add(self, kind: str, part: Any) -> None:
        """Take the generated pieces of a response or of one stream part."""
        source = get(part, "message") if kind == CHAT else part
        content = get(source, "content" if kind == CHAT else "response")
        if isinstance(content, str) and content:
            self.content.append(content)
        thinking = get(source, "thinking")
        if isinstance(thinking, str) and thinking:
            self.thinking.append(thinking)
        if kind == CHAT:
            self.tool_calls.extend(items(get(source, "tool_calls")))

    def texts(self) -> list[str]:
        """Everything generated as text, for an output estimate (thinking is billed output too)."""
        texts = [*self.thinking, *self.content]
        for call in self.tool_calls:
            function = get(call, "function")
            texts.append(_text(get(function, "name")))
            texts.append(_json_text(get(function, "arguments")))
        return texts


def finish_reasons(response: Any) -> tuple[str, ...] | None:
    reason = text_or_none(get(response, "done_reason"))
    return (reason,) if reason else None


def generation_result(kind: str, final: Any, generated: Generated) -> CallResult:
    """A chat or generate result: ``final`` is the response, or the stream's ``done`` part (else
    its last part), and ``generated`` what the whole call generated."""
    found = usage(final, kind)
    reasons = finish_reasons(final)
    return CallResult(
        response_model=text_or_none(get(final, "model")),
        finish_reasons=reasons,
        usage=found,
        output_texts=generated.texts() if found is None else None,
        output_messages=lambda: [output_message(generated, reasons)],
    )


def response_result(kind: str, response: Any) -> CallResult:
    """The result of a plain (not streamed) call of any kind."""
    if kind in (CHAT, GENERATE):
        generated = Generated()
        generated.add(kind, response)
        return generation_result(kind, response, generated)
    vectors = items(get(response, "embeddings")) if kind == EMBED else [get(response, "embedding")]
    first = items(vectors[0]) if vectors else ()
    attributes = {semconv.GEN_AI_EMBEDDINGS_DIMENSION_COUNT: len(first)} if first else None
    return CallResult(
        response_model=text_or_none(get(response, "model")),
        usage=usage(response, kind),
        attributes=attributes,
    )


# -- content capture (only when the user opted in) ------------------------------------------


def input_messages(messages: Iterable[Any]) -> list[dict[str, Any]]:
    """Chat messages in the conventions' ``gen_ai.input.messages`` shape."""
    result = []
    for message in messages:
        role = get(message, "role") or "user"
        parts = _parts(get(message, "content"), get(message, "tool_calls"))
        if role == "tool":
            parts = [{"type": "tool_call_response", "response": get(message, "content") or ""}]
        result.append({"role": role, "parts": parts})
    return result


def output_message(generated: Generated, reasons: tuple[str, ...] | None) -> dict[str, Any]:
    """The generated reply in the conventions' ``gen_ai.output.messages`` shape."""
    parts = _parts("".join(generated.content), generated.tool_calls)
    if generated.thinking:
        parts.insert(0, {"type": "reasoning", "content": "".join(generated.thinking)})
    message: dict[str, Any] = {"role": "assistant", "parts": parts}
    if reasons:
        message["finish_reason"] = reasons[0]
    return message


def _parts(content: Any, tool_calls: Any) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    if isinstance(content, str) and content:
        parts.append({"type": "text", "content": content})
    for call in items(tool_calls):
        function = get(call, "function")
        arguments = get(function, "arguments")
        parts.append(
            {
                "type": "tool_call",
                "name": text_or_none(get(function, "name")),
                "arguments": dict(arguments) if isinstance(arguments, Mapping) else arguments,
            }
        )
    return parts


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _json_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value if not isinstance(value, Mapping) else dict(value), ensure_ascii=False)
    except (TypeError, ValueError):
        return str(value)
