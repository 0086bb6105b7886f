"""Pure functions: Cohere requests, responses and stream events -> model, usage, attributes.

They accept the SDK's pydantic objects or plain dicts alike, never raise on odd shapes (a missing
field reads as ``None``), and are shared by the sync and async paths and by v1 and v2. Every value
read from a response is validated where it is read (``count`` for token and unit counts, which
the SDK types as floats, ``text_or_none`` for ids and finish reasons, ``items`` for lists), so
one bad field loses that field only.

Usage: Cohere reports two sets of counts. ``billed_units`` is what is priced and becomes
``gen_ai.usage.input_tokens``/``output_tokens``; ``tokens`` also counts the preamble Cohere adds
(968 raw against 62 billed input tokens in a recorded tool call) and goes to
``otel_tokens.usage.raw.*``. A rerank bills ``search_units`` and no tokens.
"""

from __future__ import annotations

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

# API method families (the endpoint kinds).
CHAT_V1 = "chat_v1"
CHAT_V2 = "chat_v2"
GENERATE = "generate"
EMBED = "embed"
RERANK = "rerank"


def given(value: Any) -> bool:
    """False for None and the SDK's ``OMIT`` sentinel (``...``)."""
    return value is not None and value is not Ellipsis


def text_or_empty(value: Any) -> str:
    """``value`` if it is a string, else "" (a text read from a response, for estimates and content)."""
    return value if isinstance(value, str) else ""


# -- provider ----------------------------------------------------------------------------------


def provider_for(base_url: str | None, client_type: str) -> tuple[str, str | None, int | None]:
    """``(gen_ai.provider.name, server.address, server.port)`` of a client.

    Cohere's own Bedrock clients send to Bedrock whatever base URL they hold, so they are named
    ``aws.bedrock`` (Bedrock prices the models) with no address.
    """
    if client_type.startswith("Bedrock"):
        return semconv.PROVIDER_AWS_BEDROCK, None, None
    parts = urlsplit(base_url or "")
    host = (parts.hostname or "").lower() or None
    port = parts.port or (443 if parts.scheme == "https" else 80 if parts.scheme == "http" else None)
    return semconv.PROVIDER_COHERE, host, port if host else None


# -- requests ----------------------------------------------------------------------------------

_PLAIN_PARAMETERS = {
    "temperature": semconv.GEN_AI_REQUEST_TEMPERATURE,
    "p": semconv.GEN_AI_REQUEST_TOP_P,
    "k": semconv.GEN_AI_REQUEST_TOP_K,
    "seed": semconv.GEN_AI_REQUEST_SEED,
    "frequency_penalty": semconv.GEN_AI_REQUEST_FREQUENCY_PENALTY,
    "presence_penalty": semconv.GEN_AI_REQUEST_PRESENCE_PENALTY,
    "max_tokens": semconv.GEN_AI_REQUEST_MAX_TOKENS,
    "output_dimension": semconv.GEN_AI_EMBEDDINGS_DIMENSION_COUNT,
}


def request_attributes(operation: str, kwargs: Mapping[str, Any], stream: bool) -> dict[str, Any]:
    """``gen_ai.request.*`` attributes of a call's keyword arguments."""
    values: dict[str, Any] = {}
    for name, value in kwargs.items():
        attribute = _PLAIN_PARAMETERS.get(name)
        if attribute is not None and given(value):
            values[attribute] = value
    if operation == semconv.OPERATION_EMBEDDINGS:
        # v2 embed's max_tokens truncates each input: not a generation limit.
        values.pop(semconv.GEN_AI_REQUEST_MAX_TOKENS, None)
    stop = kwargs.get("stop_sequences")
    if given(stop):
        values[semconv.GEN_AI_REQUEST_STOP_SEQUENCES] = text_list(stop)
    generations = kwargs.get("num_generations")
    if given(generations) and generations != 1:
        values[semconv.GEN_AI_REQUEST_CHOICE_COUNT] = generations
    if stream:
        values[semconv.GEN_AI_REQUEST_STREAM] = True
    if get(kwargs.get("response_format"), "type") in ("json_object", "json_schema"):
        values[semconv.GEN_AI_OUTPUT_TYPE] = "json"
    types = kwargs.get("embedding_types")
    if operation == semconv.OPERATION_EMBEDDINGS and given(types):
        values[semconv.GEN_AI_REQUEST_ENCODING_FORMATS] = text_list(types)
    return values


def v1_chat_messages(kwargs: Mapping[str, Any]) -> list[dict[str, Any]]:
    """A v1 chat request (``preamble``, ``chat_history``, ``message``) as chat messages."""
    messages: list[dict[str, Any]] = []
    preamble = kwargs.get("preamble")
    if isinstance(preamble, str):
        messages.append({"role": "system", "content": preamble})
    for turn in items(kwargs.get("chat_history")):
        role = str(get(turn, "role") or "user").lower()
        messages.append({"role": "assistant" if role == "chatbot" else role, "content": get(turn, "message")})
    message = kwargs.get("message")
    if isinstance(message, str):
        messages.append({"role": "user", "content": message})
    return messages


def input_messages(messages: Iterable[Any]) -> list[dict[str, Any]]:
    """Chat messages in the conventions' ``gen_ai.input.messages`` shape."""
    return [
        {
            "role": get(message, "role") or "user",
            "parts": [{"type": "text", "content": text} for text in message_texts(message)],
        }
        for message in messages
    ]


def text_list(value: Any) -> list[str]:
    """The strings of a ``texts``/``prompt`` argument."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, Iterable):
        return [item for item in value if isinstance(item, str)]
    return []


def input_messages_builder(kind: str, kwargs: Mapping[str, Any]) -> Callable[[], Any] | None:
    """Builds ``gen_ai.input.messages`` (called only when content capture is on)."""
    if kind == CHAT_V1:
        return lambda: input_messages(v1_chat_messages(kwargs))
    if kind == CHAT_V2:
        return lambda: input_messages(items(kwargs.get("messages")))
    if kind == GENERATE:
        return lambda: input_messages({"role": "user", "content": t} for t in text_list(kwargs.get("prompt")))
    return None


def input_estimator(
    kind: str, model: str | None, kwargs: Mapping[str, Any]
) -> Callable[[Tokenizer], Estimate] | None:
    """Counts the input locally, for when no usage comes back."""
    # Copy now: programs often append the reply to the same message list right after the call.
    if kind in (CHAT_V1, CHAT_V2):
        messages = v1_chat_messages(kwargs) if kind == CHAT_V1 else list(items(kwargs.get("messages")))
        # Cohere bills the text of the messages, without OpenAI's per-message framing tokens.
        return lambda tokenizer: tokenizer.count_texts(model, chat_texts(messages))
    if kind in (GENERATE, EMBED):
        texts = text_list(kwargs.get("prompt" if kind == GENERATE else "texts"))
        return lambda tokenizer: tokenizer.count_texts(model, texts)
    return None  # a rerank is billed in search units, which no tokenizer counts


# -- usage -------------------------------------------------------------------------------------


def usage(container: Any) -> tuple[Usage | None, dict[str, Any] | None]:
    """Usage and raw-count attributes of a v1 ``meta`` or a v2 ``usage`` object.

    Input and output are the billed units; without ``billed_units`` the raw ``tokens`` are the
    best count there is. A rerank's search units are its only usage.
    """
    if container is None:
        return None, None
    billed, raw = get(container, "billed_units"), get(container, "tokens")
    raw_input, raw_output = count(get(raw, "input_tokens")), count(get(raw, "output_tokens"))
    attributes: dict[str, Any] = {}
    if raw_input is not None:
        attributes[semconv.OTEL_TOKENS_USAGE_RAW_INPUT_TOKENS] = raw_input
    if raw_output is not None:
        attributes[semconv.OTEL_TOKENS_USAGE_RAW_OUTPUT_TOKENS] = raw_output
    if billed is None:
        found = Usage(input_tokens=raw_input, output_tokens=raw_output)
    else:
        found = Usage(
            input_tokens=count(get(billed, "input_tokens")),
            output_tokens=count(get(billed, "output_tokens")),
            search_units=count(get(billed, "search_units")),
        )
    return (None if found.is_empty else found), attributes or None


# -- responses ---------------------------------------------------------------------------------


def _merge(*parts: dict[str, Any] | None) -> dict[str, Any] | None:
    merged = {k: v for part in parts if part for k, v in part.items()}
    return merged or None


def message_texts(message: Any) -> list[str]:
    """The text of a v1 or v2 message: content (string or text parts), tool plan and tool calls."""
    if message is None:
        return []
    texts: list[str] = []
    for key in ("content", "message", "text"):  # v2 messages, v1 history turns, v1 responses
        value = get(message, key)
        if isinstance(value, str):
            texts.append(value)
        else:
            texts.extend(text_or_empty(get(part, "text")) for part in items(value))
    plan = get(message, "tool_plan")
    if isinstance(plan, str):
        texts.append(plan)
    for call in items(get(message, "tool_calls")):
        function = get(call, "function")
        if function is not None:  # v2
            texts.extend((text_or_empty(get(function, "name")), text_or_empty(get(function, "arguments"))))
        else:  # v1: name and a parameters object
            parameters = get(call, "parameters")
            texts.extend((text_or_empty(get(call, "name")), str(parameters) if parameters else ""))
    return [text for text in texts if text]


def chat_texts(messages: Iterable[Any]) -> list[str]:
    """Every text of a list of chat messages (what an input estimate counts)."""
    return [text for message in messages for text in message_texts(message)]


def output_message(texts: list[str], finish_reason: str | None) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "parts": [{"type": "text", "content": t} for t in texts]}
    if finish_reason:
        message["finish_reason"] = finish_reason
    return message


def _reasons(*reasons: str | None) -> tuple[str, ...] | None:
    return tuple(reason for reason in reasons if reason) or None


def chat_result(response: Any, v2: bool) -> CallResult:
    """A v1 ``NonStreamedChatResponse`` or a v2 ``ChatResponse``."""
    found, raw = usage(get(response, "usage") if v2 else get(response, "meta"))
    texts = message_texts(get(response, "message") if v2 else response)
    reason = text_or_none(get(response, "finish_reason"))
    if v2:
        response_id = text_or_none(get(response, "id"))
    else:
        response_id = text_or_none(get(response, "response_id")) or text_or_none(
            get(response, "generation_id")
        )
    return CallResult(
        response_id=response_id,
        finish_reasons=_reasons(reason),
        usage=found,
        attributes=raw,
        output_texts=None if found is not None else texts,
        output_messages=lambda: [output_message(texts, reason)],
    )


def generate_result(response: Any) -> CallResult:
    """A v1 ``Generation`` (also the ``response`` of a generate stream's ``stream-end``)."""
    found, raw = usage(get(response, "meta"))
    generations = items(get(response, "generations"))
    texts = [text_or_empty(get(generation, "text")) for generation in generations]
    reasons = [text_or_none(get(generation, "finish_reason")) for generation in generations]
    return CallResult(
        response_id=text_or_none(get(response, "id")),
        finish_reasons=_reasons(*reasons),
        usage=found,
        attributes=raw,
        output_texts=None if found is not None else texts,
        output_messages=lambda: [output_message([t], r) for t, r in zip(texts, reasons, strict=False)],
    )


def embed_result(response: Any) -> CallResult:
    """A v1 or v2 embed response: billed input tokens, and the vectors' size."""
    found, raw = usage(get(response, "meta"))
    return CallResult(
        response_id=text_or_none(get(response, "id")),
        usage=found,
        attributes=_merge(raw, _dimensions(get(response, "embeddings"))),
    )


def _dimensions(embeddings: Any) -> dict[str, Any] | None:
    # embeddings_floats: a list of vectors; embeddings_by_type: {"float": [...], "int8": [...]}.
    vectors = items(embeddings)
    if not vectors and embeddings is not None:
        for name in ("float_", "float", "int8", "uint8", "binary", "ubinary"):
            vectors = items(get(embeddings, name))
            if vectors:
                break
    if vectors and isinstance(vectors[0], list):
        return {semconv.GEN_AI_EMBEDDINGS_DIMENSION_COUNT: len(vectors[0])}
    return None


def rerank_result(response: Any) -> CallResult:
    """A v1 or v2 rerank response: billed in search units."""
    found, raw = usage(get(response, "meta"))
    return CallResult(response_id=text_or_none(get(response, "id")), usage=found, attributes=raw)
