"""Pure functions: LiteLLM call arguments, responses and stream chunks -> model, usage, attributes.

LiteLLM answers every provider in the OpenAI shape (``ModelResponse``, ``EmbeddingResponse``,
``TextCompletionResponse`` and their stream chunks), so one set of readers serves all of them:
the core's ``openai_shape``, given LiteLLM's usage and message readers from here. They accept
LiteLLM's pydantic objects or plain dicts, validate every field where it is read (a bad field
reads as absent, and only that field is lost) and are shared by the sync and async paths.
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

# LiteLLM's provider id (``custom_llm_provider``) -> gen_ai.provider.name. An id not listed here is
# passed through as is: LiteLLM's ids are lower-case, as the conventions ask of custom values.
PROVIDERS: Mapping[str, str] = {
    "openai": semconv.PROVIDER_OPENAI,
    "text-completion-openai": semconv.PROVIDER_OPENAI,
    "custom_openai": semconv.PROVIDER_OPENAI,
    "azure": semconv.PROVIDER_AZURE_OPENAI,
    "azure_text": semconv.PROVIDER_AZURE_OPENAI,
    "anthropic": semconv.PROVIDER_ANTHROPIC,
    "anthropic_text": semconv.PROVIDER_ANTHROPIC,
    "bedrock": semconv.PROVIDER_AWS_BEDROCK,
    "vertex_ai": semconv.PROVIDER_GCP_VERTEX_AI,
    "vertex_ai_beta": semconv.PROVIDER_GCP_VERTEX_AI,
    "gemini": semconv.PROVIDER_GCP_GEMINI,
    "cohere": semconv.PROVIDER_COHERE,
    "cohere_chat": semconv.PROVIDER_COHERE,
    "mistral": semconv.PROVIDER_MISTRAL_AI,
    "codestral": semconv.PROVIDER_MISTRAL_AI,
    "text-completion-codestral": semconv.PROVIDER_MISTRAL_AI,
    "deepseek": semconv.PROVIDER_DEEPSEEK,
    "groq": semconv.PROVIDER_GROQ,
    "xai": semconv.PROVIDER_X_AI,
    "perplexity": semconv.PROVIDER_PERPLEXITY,
    "together_ai": semconv.PROVIDER_TOGETHER_AI,
    "openrouter": semconv.PROVIDER_OPENROUTER,
    "fireworks_ai": semconv.PROVIDER_FIREWORKS_AI,
    "ollama": semconv.PROVIDER_OLLAMA,
    "ollama_chat": semconv.PROVIDER_OLLAMA,
    "vllm": semconv.PROVIDER_VLLM,
    "hosted_vllm": semconv.PROVIDER_VLLM,
}
UNKNOWN_PROVIDER = "litellm"
"""gen_ai.provider.name when LiteLLM cannot resolve the model's provider (the call then fails too)."""

# Bedrock model names may carry LiteLLM's route ("bedrock/converse/<model id>"); the provider
# bills the model id after it.
_BEDROCK_ROUTES = ("converse/", "invoke/", "converse_like/")


def provider_name(litellm_provider: str | None) -> str:
    """The conventions' ``gen_ai.provider.name`` for LiteLLM's provider id."""
    if not litellm_provider:
        return UNKNOWN_PROVIDER
    return PROVIDERS.get(litellm_provider, litellm_provider)


def provider_model(litellm_provider: str | None, model: str) -> str:
    """The model name the provider itself sees (LiteLLM already removed its ``provider/`` prefix)."""
    if litellm_provider == "bedrock":
        for route in _BEDROCK_ROUTES:
            if model.startswith(route):
                return model[len(route) :]
    return model


def server(api_base: str | None) -> tuple[str | None, int | None]:
    """``(server.address, server.port)`` of an API base URL; ``(None, None)`` when unknown."""
    if not api_base:
        return None, None
    try:
        parts = urlsplit(api_base)
        port = parts.port or (443 if parts.scheme == "https" else 80 if parts.scheme == "http" else None)
    except ValueError:
        return None, None
    return (parts.hostname or None), port


def argument(args: tuple[Any, ...], kwargs: Mapping[str, Any], name: str, position: int) -> Any:
    """A call argument given by keyword or at ``position``."""
    if name in kwargs:
        return kwargs[name]
    return args[position] if len(args) > position else None


def host_provider(overrides: Mapping[str, str], host: str | None, port: int | None) -> str | None:
    """The provider a user mapped this API host to (``OTEL_TOKENS_PROVIDER_HOSTS``), if any."""
    if not host or not overrides:
        return None
    return overrides.get(f"{host}:{port}") or overrides.get(host)


_OPENAI_ROUTES = frozenset({"openai", "text-completion-openai", "custom_openai"})


def is_gateway(litellm_provider: str | None, host: str | None, declared: str | None) -> bool:
    """Whether a call goes to a gateway, whose calls are priced from the model name (see
    ``otel_tokens.pricing``): a LiteLLM proxy (``litellm_proxy/...``), or LiteLLM's OpenAI route
    sent to an API base that is not OpenAI's; never a host ``OTEL_TOKENS_PROVIDER_HOSTS`` declares.
    """
    if declared is not None:
        return False
    if litellm_provider == "litellm_proxy":
        return True
    return litellm_provider in _OPENAI_ROUTES and host is not None and host != "api.openai.com"


# -- requests ------------------------------------------------------------------------------

_PLAIN_PARAMETERS = {
    "temperature": semconv.GEN_AI_REQUEST_TEMPERATURE,
    "top_p": semconv.GEN_AI_REQUEST_TOP_P,
    "top_k": semconv.GEN_AI_REQUEST_TOP_K,
    "frequency_penalty": semconv.GEN_AI_REQUEST_FREQUENCY_PENALTY,
    "presence_penalty": semconv.GEN_AI_REQUEST_PRESENCE_PENALTY,
    "seed": semconv.GEN_AI_REQUEST_SEED,
    "dimensions": semconv.GEN_AI_EMBEDDINGS_DIMENSION_COUNT,
}


def request_attributes(operation: str, kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """``gen_ai.request.*`` attributes of the parameters the caller gave (``None`` means not given)."""
    values: dict[str, Any] = {}
    for name, attribute in _PLAIN_PARAMETERS.items():
        value = kwargs.get(name)
        if isinstance(value, int | float) and not isinstance(value, bool):
            values[attribute] = value
    max_tokens = kwargs.get("max_completion_tokens")
    if max_tokens is None:
        max_tokens = kwargs.get("max_tokens")
    if isinstance(max_tokens, int):
        values[semconv.GEN_AI_REQUEST_MAX_TOKENS] = max_tokens
    stop = kwargs.get("stop")
    if isinstance(stop, str):
        values[semconv.GEN_AI_REQUEST_STOP_SEQUENCES] = [stop]
    elif isinstance(stop, list | tuple) and stop:
        values[semconv.GEN_AI_REQUEST_STOP_SEQUENCES] = [str(s) for s in stop]
    n = kwargs.get("n")
    if isinstance(n, int) and n != 1:
        values[semconv.GEN_AI_REQUEST_CHOICE_COUNT] = n
    if kwargs.get("stream") is True:
        values[semconv.GEN_AI_REQUEST_STREAM] = True
    output_type = _output_type(kwargs.get("response_format"))
    if output_type:
        values[semconv.GEN_AI_OUTPUT_TYPE] = output_type
    encoding = kwargs.get("encoding_format")
    if operation == semconv.OPERATION_EMBEDDINGS and isinstance(encoding, str):
        values[semconv.GEN_AI_REQUEST_ENCODING_FORMATS] = [encoding]
    return values


def _output_type(response_format: Any) -> str | None:
    if response_format is None:
        return None
    if isinstance(response_format, type):  # a pydantic model
        return "json"
    kind = get(response_format, "type")
    if kind in ("json_schema", "json_object"):
        return "json"
    return "text" if kind == "text" else None


# -- usage ---------------------------------------------------------------------------------


def usage_of(usage: Any) -> Usage | None:
    """LiteLLM's OpenAI-shaped ``Usage`` on the conventions' model; ``None`` when nothing was reported.

    LiteLLM's ``prompt_tokens`` already is the total input: for Anthropic and Bedrock it adds the
    cache reads and writes to the provider's ``input_tokens`` (since 1.78.0; see the README), and
    names them ``cache_read_input_tokens``/``cache_creation_input_tokens``. A response without
    usage gets LiteLLM's default ``Usage`` of zeros, which is read as "not reported".
    """
    if usage is None:
        return None
    # count() also takes the JSON floats some providers (Titan through Bedrock) report counts as.
    prompt = count(get(usage, "prompt_tokens"))
    completion = count(get(usage, "completion_tokens"))
    if not prompt and not completion:
        return None
    details = get(usage, "prompt_tokens_details")
    cache_read = count(get(details, "cached_tokens"))
    if cache_read is None:
        cache_read = count(get(usage, "cache_read_input_tokens"))
    # Only the top-level field: some 1.77 releases put the cache reads in details.cache_creation_tokens.
    cache_write = count(get(usage, "cache_creation_input_tokens")) or None
    one_hour = count(get(get(details, "cache_creation_token_details"), "ephemeral_1h_input_tokens"))
    return Usage(
        input_tokens=prompt,
        output_tokens=completion,
        cache_read_input_tokens=cache_read,
        cache_creation_input_tokens=cache_write,
        cache_creation_1h_input_tokens=one_hour or None,
        reasoning_output_tokens=count(get(get(usage, "completion_tokens_details"), "reasoning_tokens")),
    )


# -- responses -----------------------------------------------------------------------------


def chat_result(response: Any) -> CallResult:
    """A ``ModelResponse`` (or its dict form)."""
    return shape.chat_result(response, usage_of, message_texts)


def text_completion_result(response: Any) -> CallResult:
    """A ``TextCompletionResponse``."""
    return shape.text_completion_result(response, usage_of)


def embeddings_result(response: Any) -> CallResult:
    """An ``EmbeddingResponse``: input tokens only, and the vectors' dimension."""
    return shape.embeddings_result(response, usage_of)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def message_texts(message: Any) -> list[str]:
    """Text a chat message carries: content (string or text parts) and tool-call names and arguments."""
    if message is None:
        return []
    texts: list[str] = []
    content = get(message, "content")
    if isinstance(content, str):
        texts.append(content)
    else:
        texts.extend(_text(get(part, "text")) for part in items(content) if get(part, "type") == "text")
    for call in items(get(message, "tool_calls")):
        function = get(call, "function")
        texts.append(_text(get(function, "name")))
        texts.append(_text(get(function, "arguments")))
    function_call = get(message, "function_call")
    if function_call is not None:
        texts.append(_text(get(function_call, "name")))
        texts.append(_text(get(function_call, "arguments")))
    return [text for text in texts if text]


# -- streams -------------------------------------------------------------------------------


def chunk_texts(choice: Any) -> list[str]:
    """Generated text in one streamed choice: a chat ``delta`` or a text completion's ``text``."""
    delta = get(choice, "delta")
    if delta is None:
        text = get(choice, "text")
        return [text] if isinstance(text, str) and text else []
    return message_texts(delta)


def read_chunk(chunk: Any, reasons: dict[int, str], texts: list[str]) -> bool:
    """Read a stream chunk's choices: finish reasons by choice index into ``reasons``, generated
    text into ``texts``. True when it carried either (content the user would see in any case)."""
    content = False
    for position, choice in enumerate(items(get(chunk, "choices"))):
        reason = text_or_none(get(choice, "finish_reason"))
        if reason:
            index = get(choice, "index")
            reasons[index if type(index) is int else position] = reason
            content = True
        found = chunk_texts(choice)
        if found:
            texts.extend(found)
            content = True
    return content


def provider_sent_usage(stream: Any) -> bool:
    """Whether any chunk the provider sent carried usage (else LiteLLM counted the tokens itself).

    ``CustomStreamWrapper.chunks`` keeps every chunk parsed from the provider, usage-only ones
    included; the usage chunk LiteLLM builds at the end is not among them. A text-completion
    stream wraps a chat one. Without that list (another LiteLLM version) the usage is trusted.
    """
    chunks = getattr(stream, "chunks", None)
    if not isinstance(chunks, list):
        chunks = getattr(getattr(stream, "completion_stream", None), "chunks", None)
    if not isinstance(chunks, list):
        return True
    return any(get(chunk, "usage") is not None for chunk in chunks)


# -- OTEL_TOKENS_STREAM_INCLUDE_USAGE ------------------------------------------------------

STREAM_OPTIONS_HOSTS: Mapping[str, frozenset[str]] = {
    "openai": frozenset({"api.openai.com"}),
    "text-completion-openai": frozenset({"api.openai.com"}),
    "groq": frozenset({"api.groq.com"}),
    "deepseek": frozenset({"api.deepseek.com"}),
    "xai": frozenset({"api.x.ai"}),
    "together_ai": frozenset({"api.together.xyz", "api.together.ai"}),
    "fireworks_ai": frozenset({"api.fireworks.ai"}),
    "openrouter": frozenset({"openrouter.ai"}),
}
"""LiteLLM provider ids whose route passes ``stream_options`` on to a server known to accept it,
with that provider's own API hosts: the only targets the opt-in asks for usage.

Azure is left out (API versions before 2024-09-01-preview answer 400 to it), and so is every
provider LiteLLM talks to in another wire format (Anthropic, Bedrock, Vertex...: LiteLLM may
refuse the parameter there), and any other host (a gateway or self-hosted server behind the
``openai`` route) unless ``OTEL_TOKENS_PROVIDER_HOSTS`` declares it.
"""
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
"""The same providers by ``gen_ai.provider.name``, for a host declared in ``OTEL_TOKENS_PROVIDER_HOSTS``."""


def asks_for_usage(
    litellm_provider: str | None, api_base: str | None, host_overrides: Mapping[str, str]
) -> bool:
    """Whether the opt-in may add ``stream_options`` to a call LiteLLM sends to ``api_base``
    (``None``: LiteLLM's default for the provider, its own API) through ``litellm_provider``."""
    hosts = STREAM_OPTIONS_HOSTS.get(litellm_provider or "")
    if hosts is None:
        return False
    if api_base is None:
        return True
    host, port = server(api_base)
    declared = host_provider(host_overrides, host, port)
    if declared is not None:
        return declared in STREAM_OPTIONS_PROVIDERS
    return host in hosts


def with_stream_usage(kwargs: dict[str, Any]) -> dict[str, Any]:
    """``kwargs`` asking the server for the stream's usage; the same dict if the user already did."""
    options = kwargs.get("stream_options")
    options = options if isinstance(options, dict) else {}
    if options.get("include_usage"):
        return kwargs
    return {**kwargs, "stream_options": {**options, "include_usage": True}}


def without_usage(chunk: Any) -> Any:
    """A copy of ``chunk`` without its usage: what the user would have got without the opt-in
    (a chunk that carries content as well as the usage the user did not ask for)."""
    if isinstance(chunk, dict):
        return {key: value for key, value in chunk.items() if key != "usage"}
    copy = getattr(chunk, "model_copy", None)
    if copy is None:
        return chunk
    duplicate = copy()
    try:
        # LiteLLM's chunks have no usage attribute at all unless usage was sent: remove it, as
        # LiteLLM itself does, rather than set it to None.
        del duplicate.usage
    except AttributeError:
        return copy(update={"usage": None})
    fields_set = getattr(duplicate, "model_fields_set", None)
    if isinstance(fields_set, set):
        fields_set.discard("usage")
    return duplicate


# -- content capture (only when the user opted in) ------------------------------------------


def input_messages(messages: Any) -> list[dict[str, Any]]:
    """Chat ``messages`` (or prompt texts) in the conventions' ``gen_ai.input.messages`` shape."""
    return shape.input_messages(messages, message_texts)


def prompt_texts(value: Any) -> list[str]:
    """Texts of a text-completion ``prompt`` or an embeddings ``input`` (token arrays are counted)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, Iterable) and not isinstance(value, bytes | Mapping):
        return [item for item in value if isinstance(item, str)]
    return []


def input_estimator(kind: str, model: str | None, content: Any) -> Callable[[Tokenizer], Estimate]:
    """Counts the input locally (``kind`` is ``"chat"`` or another), for when no usage comes back."""
    # Copy now: programs often append the reply to the same message list right after the call.
    if kind == "chat":
        messages = list(content) if isinstance(content, list | tuple) else []
        return lambda tokenizer: tokenizer.count_chat_input(model, messages)
    return shape.prompt_estimator(model, prompt_texts(content), content)
