"""Pure functions: LiteLLM call arguments, responses and stream chunks -> model, usage, attributes.

LiteLLM answers every provider in the OpenAI shape (``ModelResponse``, ``EmbeddingResponse``,
``TextCompletionResponse`` and their stream chunks), so one set of readers serves all of them:
those of ``otel_tokens._openai_shape``, given LiteLLM's usage and message readers from here.
They accept LiteLLM's pydantic objects or plain dicts, never raise on odd shapes (a missing field
reads as ``None``) and are shared by the sync and async paths.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

from otel_tokens import _openai_shape as shape
from otel_tokens import semconv
from otel_tokens._fields import get
from otel_tokens.record import CallResult
from otel_tokens.usage import Usage

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
    prompt = _count(get(usage, "prompt_tokens"))
    completion = _count(get(usage, "completion_tokens"))
    if not prompt and not completion:
        return None
    details = get(usage, "prompt_tokens_details")
    cache_read = _count(get(details, "cached_tokens"))
    if cache_read is None:
        cache_read = _count(get(usage, "cache_read_input_tokens"))
    # Only the top-level field: some 1.77 releases put the cache reads in details.cache_creation_tokens.
    cache_write = _count(get(usage, "cache_creation_input_tokens")) or None
    one_hour = _count(get(get(details, "cache_creation_token_details"), "ephemeral_1h_input_tokens"))
    return Usage(
        input_tokens=prompt,
        output_tokens=completion,
        cache_read_input_tokens=cache_read,
        cache_creation_input_tokens=cache_write,
        cache_creation_1h_input_tokens=one_hour if cache_write else None,
        reasoning_output_tokens=_count(get(get(usage, "completion_tokens_details"), "reasoning_tokens")),
    )


def _count(value: Any) -> int | None:
    # Some providers (Titan through Bedrock) report counts as JSON floats.
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return int(value)


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


def message_texts(message: Any) -> list[str]:
    """Text a chat message carries: content (string or text parts) and tool-call names and arguments."""
    if message is None:
        return []
    texts: list[str] = []
    content = get(message, "content")
    if isinstance(content, str):
        texts.append(content)
    elif isinstance(content, Iterable):
        texts.extend(get(part, "text") or "" for part in content if get(part, "type") == "text")
    for call in get(message, "tool_calls") or ():
        function = get(call, "function")
        texts.append(get(function, "name") or "")
        texts.append(get(function, "arguments") or "")
    function_call = get(message, "function_call")
    if function_call is not None:
        texts.append(get(function_call, "name") or "")
        texts.append(get(function_call, "arguments") or "")
    return [text for text in texts if text]


def chunk_texts(choice: Any) -> list[str]:
    """Generated text in one streamed choice: a chat ``delta`` or a text completion's ``text``."""
    delta = get(choice, "delta")
    if delta is None:
        text = get(choice, "text")
        return [text] if isinstance(text, str) and text else []
    return message_texts(delta)


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
