"""Pure functions: OpenAI request, response and stream items -> model, usage, attributes.

Chat completions, legacy completions and embeddings are read by ``otel_tokens._openai_shape``
(LiteLLM answers in the same shape), given OpenAI's usage and message readers from here.
They accept the SDK's pydantic objects or plain dicts alike, never raise on odd shapes
(missing fields read as ``None``), and are shared by the sync and async paths.
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
from otel_tokens.instrumentation import openai_shape as shape

# Hosts of OpenAI and the OpenAI-compatible APIs we know, with their gen_ai.provider.name.
KNOWN_HOSTS: dict[str, str] = {
    "api.openai.com": semconv.PROVIDER_OPENAI,
    "api.groq.com": semconv.PROVIDER_GROQ,
    "api.deepseek.com": semconv.PROVIDER_DEEPSEEK,
    "api.together.xyz": semconv.PROVIDER_TOGETHER_AI,
    "api.together.ai": semconv.PROVIDER_TOGETHER_AI,
    "openrouter.ai": semconv.PROVIDER_OPENROUTER,
    "api.mistral.ai": semconv.PROVIDER_MISTRAL_AI,
    "api.x.ai": semconv.PROVIDER_X_AI,
    "api.perplexity.ai": semconv.PROVIDER_PERPLEXITY,
    "api.fireworks.ai": semconv.PROVIDER_FIREWORKS_AI,
    "generativelanguage.googleapis.com": semconv.PROVIDER_GCP_GEMINI,
    "api.anthropic.com": semconv.PROVIDER_ANTHROPIC,
}
AZURE_HOST_SUFFIXES = (".openai.azure.com", ".cognitiveservices.azure.com", ".services.ai.azure.com")
OLLAMA_PORT = 11434


def provider_for(
    base_url: str, is_azure_client: bool, host_overrides: Mapping[str, str]
) -> tuple[str, str | None, int | None]:
    """``(gen_ai.provider.name, server.address, server.port)`` for a client's base URL.

    Pure; callers cache the result per client (see ``_endpoints._client_provider``).
    """
    return route_for(base_url, is_azure_client, host_overrides)[:3]


def route_for(
    base_url: str, is_azure_client: bool, host_overrides: Mapping[str, str]
) -> tuple[str, str | None, int | None, bool]:
    """:func:`provider_for` plus whether the host is a gateway: known as no provider's.

    Any host that is neither a known API host, Azure, Ollama's port nor named in
    ``OTEL_TOKENS_PROVIDER_HOSTS`` is an OpenAI-compatible gateway or proxy. Its provider stays
    ``openai`` (the conventions name the provider as the client knows it, and the same gateway
    serves many providers), and its calls are priced from the model name instead (see
    ``otel_tokens.pricing``). Pure; callers cache the result per client.
    """
    parts = urlsplit(base_url)
    host = (parts.hostname or "").lower()
    port = parts.port or (443 if parts.scheme == "https" else 80 if parts.scheme == "http" else None)
    provider = (
        host_overrides.get(f"{host}:{port}")
        or host_overrides.get(host)
        or (semconv.PROVIDER_AZURE_OPENAI if is_azure_client or host.endswith(AZURE_HOST_SUFFIXES) else None)
        or KNOWN_HOSTS.get(host)
        or (semconv.PROVIDER_OLLAMA if port == OLLAMA_PORT else None)
    )
    if provider is None:
        return semconv.PROVIDER_OPENAI, host or None, port, True
    return provider, host or None, port, False


def given(value: Any) -> bool:
    """False for None and the SDK's NOT_GIVEN / omit sentinels."""
    return value is not None and type(value).__name__ not in ("NotGiven", "Omit")


# -- requests ------------------------------------------------------------------------------

# Keyword argument -> attribute, for parameters recorded as given.
_PLAIN_PARAMETERS = {
    "temperature": semconv.GEN_AI_REQUEST_TEMPERATURE,
    "top_p": semconv.GEN_AI_REQUEST_TOP_P,
    "frequency_penalty": semconv.GEN_AI_REQUEST_FREQUENCY_PENALTY,
    "presence_penalty": semconv.GEN_AI_REQUEST_PRESENCE_PENALTY,
    "seed": semconv.GEN_AI_REQUEST_SEED,
    "service_tier": semconv.OPENAI_REQUEST_SERVICE_TIER,
    "dimensions": semconv.GEN_AI_EMBEDDINGS_DIMENSION_COUNT,
}
_MAX_TOKENS = ("max_completion_tokens", "max_tokens", "max_output_tokens")  # in order of precedence
_SPECIAL = frozenset(
    {*_MAX_TOKENS, "stop", "n", "stream", "encoding_format", "response_format", "text", "text_format"}
)


_OUTPUT_FORMATS = frozenset({"response_format", "text", "text_format"})


def request_attributes(operation: str, kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """``gen_ai.request.*`` attributes of a call's keyword arguments."""
    values: dict[str, Any] = {}
    special: set[str] | None = None
    # One pass over what the caller gave (a handful of keys), not over every known parameter;
    # the special ones are then looked at only if given.
    for name, value in kwargs.items():
        attribute = _PLAIN_PARAMETERS.get(name)
        if attribute is not None:
            if given(value):
                values[attribute] = value
        elif name in _SPECIAL:
            if special is None:
                special = {name}
            else:
                special.add(name)
    if special is None:
        return values
    for name in _MAX_TOKENS:
        if name in special:
            value = kwargs[name]
            if given(value):
                values[semconv.GEN_AI_REQUEST_MAX_TOKENS] = value
                break
    if "stop" in special:
        stop = kwargs["stop"]
        if given(stop):
            values[semconv.GEN_AI_REQUEST_STOP_SEQUENCES] = (
                [stop] if isinstance(stop, str) else list(stop or ())
            )
    if "n" in special:
        n = kwargs["n"]
        if given(n) and n != 1:
            values[semconv.GEN_AI_REQUEST_CHOICE_COUNT] = n
    if "stream" in special and kwargs["stream"] is True:
        values[semconv.GEN_AI_REQUEST_STREAM] = True
    if not special.isdisjoint(_OUTPUT_FORMATS):
        output_type = _output_type(kwargs)
        if output_type:
            values[semconv.GEN_AI_OUTPUT_TYPE] = output_type
    if "encoding_format" in special:
        encoding = kwargs["encoding_format"]
        if operation == semconv.OPERATION_EMBEDDINGS and given(encoding):
            # When absent the SDK sends base64 but hands the user floats: record only what was asked.
            values[semconv.GEN_AI_REQUEST_ENCODING_FORMATS] = [encoding]
    return values


def _output_type(kwargs: Mapping[str, Any]) -> str | None:
    response_format = kwargs.get("response_format")
    if not given(response_format):
        response_format = get(kwargs.get("text"), "format")  # Responses API
    if not given(response_format):
        response_format = kwargs.get("text_format")  # responses.parse
    if not given(response_format):
        return None
    if isinstance(response_format, type):  # a pydantic model given to parse()
        return "json"
    kind = get(response_format, "type")
    if kind in ("json_schema", "json_object"):
        return "json"
    if kind == "text":
        return "text"
    return None


# -- usage ---------------------------------------------------------------------------------


def chat_usage(usage: Any) -> Usage | None:
    """Usage of chat completions, legacy completions and embeddings (``prompt_tokens`` shape)."""
    if usage is None:
        return None
    cached = get(get(usage, "prompt_tokens_details"), "cached_tokens")
    if cached is None:
        cached = get(usage, "prompt_cache_hit_tokens")  # DeepSeek reports it at top level
    return Usage(
        input_tokens=count(get(usage, "prompt_tokens")),
        output_tokens=count(get(usage, "completion_tokens")),
        cache_read_input_tokens=count(cached),
        reasoning_output_tokens=count(get(get(usage, "completion_tokens_details"), "reasoning_tokens")),
    )


def responses_usage(usage: Any) -> Usage | None:
    """Usage of the Responses API (``input_tokens`` shape)."""
    if usage is None:
        return None
    return Usage(
        input_tokens=count(get(usage, "input_tokens")),
        output_tokens=count(get(usage, "output_tokens")),
        cache_read_input_tokens=count(get(get(usage, "input_tokens_details"), "cached_tokens")),
        reasoning_output_tokens=count(get(get(usage, "output_tokens_details"), "reasoning_tokens")),
    )


# -- responses -----------------------------------------------------------------------------


def response_attributes(response: Any, tier: str | None = None) -> dict[str, Any] | None:
    """The ``openai.response.*`` attributes; ``tier`` is the response's service tier when the
    caller has read it already (it is read here otherwise)."""
    if tier is None:
        tier = text_or_none(get(response, "service_tier"))
    fingerprint = text_or_none(get(response, "system_fingerprint"))
    if not tier and not fingerprint:
        return None
    values: dict[str, Any] = {}
    if tier:
        values[semconv.OPENAI_RESPONSE_SERVICE_TIER] = tier
    if fingerprint:
        values[semconv.OPENAI_RESPONSE_SYSTEM_FINGERPRINT] = fingerprint
    return values


def chat_result(response: Any) -> CallResult:
    """A chat completion (``ChatCompletion``, ``ParsedChatCompletion`` or a dict)."""
    result = shape.chat_result(response, chat_usage, message_texts)
    result.service_tier = tier = text_or_none(get(response, "service_tier"))
    result.attributes = response_attributes(response, tier)
    return result


def completion_result(response: Any) -> CallResult:
    """A legacy text completion."""
    result = shape.text_completion_result(response, chat_usage)
    result.attributes = response_attributes(response)
    return result


def embeddings_result(response: Any) -> CallResult:
    return shape.embeddings_result(response, chat_usage)


def responses_result(response: Any) -> CallResult:
    """A Responses API ``Response`` (also the one inside ``response.completed`` events)."""
    output = items(get(response, "output"))
    usage = responses_usage(get(response, "usage"))
    texts = [text for item in output for text in _response_item_texts(item)]
    status = text_or_none(get(response, "status"))
    reasons = None
    if status:
        detail = text_or_none(get(get(response, "incomplete_details"), "reason"))
        reasons = (detail or status,)
    return CallResult(
        response_model=text_or_none(get(response, "model")),
        response_id=text_or_none(get(response, "id")),
        finish_reasons=reasons,
        usage=usage,
        service_tier=text_or_none(get(response, "service_tier")),
        attributes=response_attributes(response),
        output_texts=None if usage is not None else texts,
        output_messages=lambda: [shape.output_message("assistant", texts, status)],
    )


def _response_item_texts(item: Any) -> list[str]:
    kind = get(item, "type")
    if kind == "message":
        return [
            _text(get(part, "text")) or _text(get(part, "refusal")) for part in items(get(item, "content"))
        ]
    if kind == "function_call":
        return [_text(get(item, "name")), _text(get(item, "arguments"))]
    return []


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def message_texts(message: Any) -> list[str]:
    """Text a chat message carries: content, refusal and tool-call names and arguments."""
    if message is None:
        return []
    texts: list[str] = []
    content = get(message, "content")
    if isinstance(content, str):
        texts.append(content)
    elif isinstance(content, list | tuple):
        texts.extend(
            _text(get(part, "text")) for part in content if get(part, "type") in ("text", "input_text")
        )
    refusal = get(message, "refusal")
    if isinstance(refusal, str):
        texts.append(refusal)
    for call in items(get(message, "tool_calls")):
        function = get(call, "function")
        texts.append(_text(get(function, "name")))
        texts.append(_text(get(function, "arguments")))
    function_call = get(message, "function_call")
    if function_call is not None:
        texts.append(_text(get(function_call, "name")))
        texts.append(_text(get(function_call, "arguments")))
    return [text for text in texts if text]


# -- content capture (only when the user opted in) ------------------------------------------


def input_messages(messages: Any) -> list[dict[str, Any]]:
    """Chat ``messages`` (or a legacy prompt list) in the conventions' ``gen_ai.input.messages`` shape."""
    return shape.input_messages(messages, message_texts)


def responses_input_messages(kwargs: Mapping[str, Any]) -> list[dict[str, Any]]:
    messages = []
    instructions = kwargs.get("instructions")
    if given(instructions) and isinstance(instructions, str):
        messages.append({"role": "system", "parts": [{"type": "text", "content": instructions}]})
    value = kwargs.get("input")
    if given(value):
        messages.extend(input_messages(value))
    return messages


def prompt_texts(value: Any) -> list[str]:
    """Texts of a legacy ``prompt`` or an embeddings ``input`` (token arrays are counted, not read)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, Iterable):
        return [item for item in value if isinstance(item, str)]
    return []


# -- request-side helpers for the endpoints ------------------------------------------------


def input_messages_builder(kind: str, kwargs: Mapping[str, Any]) -> Callable[[], Any] | None:
    """Builds ``gen_ai.input.messages`` (called only when content capture is on)."""
    if kind == "chat":
        return lambda: input_messages(kwargs.get("messages"))
    if kind == "responses":
        return lambda: responses_input_messages(kwargs)
    if kind == "completion":
        return lambda: input_messages(prompt_texts(kwargs.get("prompt")))
    return None


def input_estimator(
    kind: str, model: str | None, kwargs: Mapping[str, Any]
) -> Callable[[Tokenizer], Estimate]:
    """Counts the input locally, for when no usage comes back."""
    # Copy now: programs often append the reply to the same message list right after the call.
    if kind == "chat":
        messages = list(items(kwargs.get("messages")))
        return lambda tokenizer: tokenizer.count_chat_input(model, messages)
    if kind == "responses":
        value = kwargs.get("input")
        instructions = kwargs.get("instructions")
        messages = [{"role": "user", "content": value}] if isinstance(value, str) else list(items(value))
        if isinstance(instructions, str):
            messages.insert(0, {"role": "system", "content": instructions})
        return lambda tokenizer: tokenizer.count_chat_input(model, messages)
    value = kwargs.get("prompt" if kind == "completion" else "input")
    return shape.prompt_estimator(model, prompt_texts(value), value)


# -- OTEL_TOKENS_STREAM_INCLUDE_USAGE ------------------------------------------------------

STREAM_OPTIONS_PROVIDERS = frozenset(
    {
        semconv.PROVIDER_OPENAI,
        semconv.PROVIDER_GROQ,
        semconv.PROVIDER_DEEPSEEK,
        semconv.PROVIDER_TOGETHER_AI,
        semconv.PROVIDER_OPENROUTER,
        semconv.PROVIDER_X_AI,
        semconv.PROVIDER_FIREWORKS_AI,
    }
)
"""Providers whose servers accept ``stream_options``: the only ones the opt-in asks for usage.

Azure OpenAI is left out (API versions before 2024-09-01-preview answer 400 to it), and so is
any host we do not recognise (the provider is then ``openai`` by default, but only
``api.openai.com`` is known to accept it) unless ``OTEL_TOKENS_PROVIDER_HOSTS`` declares it.
"""


def asks_for_usage(provider: str, host: str | None, host_overrides: Mapping[str, str]) -> bool:
    """Whether the opt-in may add ``stream_options`` to a call to this provider and host: a
    provider that accepts it, recognised by its host or declared in ``OTEL_TOKENS_PROVIDER_HOSTS``."""
    if provider not in STREAM_OPTIONS_PROVIDERS:
        return False
    if provider == semconv.PROVIDER_OPENAI:
        return host == "api.openai.com" or (host is not None and host in host_overrides)
    return True


def with_stream_usage(kwargs: dict[str, Any]) -> dict[str, Any]:
    """``kwargs`` asking the server for a final usage chunk; the same dict if the user already did."""
    options = kwargs.get("stream_options")
    options = options if given(options) and isinstance(options, dict) else {}
    if options.get("include_usage"):
        return kwargs
    return {**kwargs, "stream_options": {**options, "include_usage": True}}


def without_usage(chunk: Any) -> Any:
    """A copy of ``chunk`` without its usage: what the user would have got without the opt-in
    (servers that put the usage on the finish chunk instead of a chunk of its own)."""
    copy = getattr(chunk, "model_copy", None)
    if copy is not None:
        return copy(update={"usage": None})
    if isinstance(chunk, dict):
        return {key: value for key, value in chunk.items() if key != "usage"}
    return chunk


def read_odd_chunk(
    chunk: Any, kind: str, reasons: dict[int, str], texts: list[str]
) -> list[Any] | tuple[Any, ...]:
    """Read a chunk that is not the SDK's usual type (a compatible server's oddity), field by
    field; returns its choices (empty when there are none)."""
    choices = items(get(chunk, "choices"))
    for position, choice in enumerate(choices):
        reason = text_or_none(get(choice, "finish_reason"))
        if reason:
            index = get(choice, "index")
            reasons[index if type(index) is int else position] = reason
        if kind == "chat":
            delta = get(choice, "delta")
            content = get(delta, "content")
            if isinstance(content, str) and content:
                texts.append(content)
            for call in items(get(delta, "tool_calls")):
                function = get(call, "function")
                texts.append(_text(get(function, "name")) + _text(get(function, "arguments")))
        else:
            text = get(choice, "text")
            if isinstance(text, str) and text:
                texts.append(text)
    return choices
