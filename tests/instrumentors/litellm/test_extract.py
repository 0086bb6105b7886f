"""The pure parts: provider names, model names, usage shapes, and the no-op without litellm."""

from __future__ import annotations

import pytest
from otel_tokens_litellm import LiteLLMInstrumentor, _endpoints, _extract

from otel_tokens.usage import Usage


@pytest.mark.parametrize(
    ("model", "kwargs", "provider", "request_model"),
    [
        ("gpt-4o-mini", {}, "openai", "gpt-4o-mini"),
        ("anthropic/claude-3-5-haiku-latest", {}, "anthropic", "claude-3-5-haiku-latest"),
        (
            "bedrock/us.anthropic.claude-3-5-haiku-20241022-v1:0",
            {},
            "aws.bedrock",
            "us.anthropic.claude-3-5-haiku-20241022-v1:0",
        ),
        ("bedrock/converse/amazon.nova-lite-v1:0", {}, "aws.bedrock", "amazon.nova-lite-v1:0"),
        ("vertex_ai/gemini-2.5-flash", {}, "gcp.vertex_ai", "gemini-2.5-flash"),
        ("gemini/gemini-2.5-flash", {}, "gcp.gemini", "gemini-2.5-flash"),
        ("ollama_chat/llama3", {}, "ollama", "llama3"),
        ("mistral/mistral-small-latest", {}, "mistral_ai", "mistral-small-latest"),
        ("cohere/command-r", {}, "cohere", "command-r"),
        ("azure/my-deployment", {}, "azure.ai.openai", "my-deployment"),
        ("xai/grok-2", {}, "x_ai", "grok-2"),
        ("my-model", {"custom_llm_provider": "hosted_vllm"}, "vllm", "my-model"),
        ("sagemaker/my-endpoint", {}, "sagemaker", "my-endpoint"),
    ],
)
def test_provider_and_model_follow_litellm(model, kwargs, provider, request_model):
    target = _endpoints.resolve(model, kwargs.get("custom_llm_provider"), None)
    assert (_extract.provider_name(target.litellm_provider), target.model) == (provider, request_model)


def test_unresolvable_model_keeps_the_name_and_an_unknown_provider():
    target = _endpoints.resolve("no-such-model-anywhere", None, None)
    assert (_extract.provider_name(target.litellm_provider), target.model) == (
        "litellm",
        "no-such-model-anywhere",
    )


def test_usage_defaults_of_zero_mean_not_reported():
    import litellm

    assert _extract.usage_of(litellm.Usage()) is None
    assert _extract.usage_of(None) is None


def test_anthropic_shaped_usage_is_taken_as_the_total_input():
    import litellm

    usage = litellm.Usage(
        prompt_tokens=1187,
        completion_tokens=10,
        total_tokens=1197,
        cache_creation_input_tokens=1163,
        cache_read_input_tokens=20,
    )
    assert _extract.usage_of(usage) == Usage(
        input_tokens=1187,
        output_tokens=10,
        cache_read_input_tokens=20,
        cache_creation_input_tokens=1163,
        reasoning_output_tokens=usage.completion_tokens_details
        and usage.completion_tokens_details.reasoning_tokens,
    )


def test_float_counts_are_read_as_integers():
    assert _extract.usage_of({"prompt_tokens": 28.0, "completion_tokens": 3.0}) == Usage(
        input_tokens=28, output_tokens=3
    )


def test_no_op_when_litellm_is_not_installed(monkeypatch):
    from otel_tokens import _dependencies

    real = _dependencies.installed_version
    monkeypatch.setattr(
        _dependencies, "installed_version", lambda package: None if package == "litellm" else real(package)
    )
    instrumentor = LiteLLMInstrumentor()
    instrumentor.instrument()
    try:
        assert not instrumentor.patches_applied
    finally:
        instrumentor.uninstrument()


@pytest.mark.parametrize(
    ("litellm_provider", "api_base", "overrides", "asks"),
    [
        ("openai", None, {}, True),  # LiteLLM's default: api.openai.com
        ("openai", "https://api.openai.com/v1", {}, True),
        ("text-completion-openai", None, {}, True),
        ("groq", "https://api.groq.com/openai/v1", {}, True),
        ("deepseek", "https://api.deepseek.com/beta", {}, True),
        ("openai", "http://127.0.0.1:8000/v1", {}, False),  # a gateway or vLLM nobody declared
        ("openai", "http://127.0.0.1:8000/v1", {"127.0.0.1": "openai"}, True),
        ("openai", "http://127.0.0.1:8000/v1", {"127.0.0.1:8000": "ollama"}, False),
        ("groq", "https://groq-proxy.internal/v1", {}, False),
        ("azure", None, {}, False),
        ("azure", "https://acme.openai.azure.com", {"acme.openai.azure.com": "openai"}, False),
        ("anthropic", None, {}, False),
        ("bedrock", None, {}, False),
        ("hosted_vllm", "http://127.0.0.1:8000/v1", {}, False),
        (None, None, {}, False),
    ],
)
def test_stream_usage_is_asked_only_where_it_is_accepted(litellm_provider, api_base, overrides, asks):
    assert _extract.asks_for_usage(litellm_provider, api_base, overrides) is asks


def test_a_global_or_environment_api_base_is_not_taken_for_openai(monkeypatch):
    import litellm

    target = _endpoints.Target("openai", "gpt-4o-mini", None)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.delenv("OPENAI_API_BASE", raising=False)
    assert _endpoints._configured_api_base(target) is None
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:4000/v1")
    assert _endpoints._configured_api_base(target) == "http://127.0.0.1:4000/v1"
    monkeypatch.delenv("OPENAI_BASE_URL")
    monkeypatch.setattr(litellm, "api_base", "https://gateway.internal/v1")
    assert _endpoints._configured_api_base(target) == "https://gateway.internal/v1"


def test_with_stream_usage_keeps_the_users_options():
    kwargs = {"stream": True, "stream_options": {"include_obfuscation": False}}
    assert _extract.with_stream_usage(kwargs) == {
        "stream": True,
        "stream_options": {"include_obfuscation": False, "include_usage": True},
    }
    assert kwargs["stream_options"] == {"include_obfuscation": False}  # the user's dict is not changed
    asked = {"stream": True, "stream_options": {"include_usage": True}}
    assert _extract.with_stream_usage(asked) is asked


def _chunk(**fields):
    from litellm.types.utils import ModelResponseStream

    return ModelResponseStream(
        choices=[{"index": 0, "delta": {"content": "Hi"}, "finish_reason": "stop"}],
        model="gpt-4o-mini",
        **fields,
    )


def test_injected_usage_on_a_chunk_with_content_is_hidden_in_a_copy():
    usage = {"prompt_tokens": 20, "completion_tokens": 7, "total_tokens": 27}
    chunk = _chunk(usage=usage)
    observer = _endpoints.LiteLLMStreamObserver(stream=None, injected_usage=True)
    shown = observer.on_item(chunk)
    plain = _chunk()
    assert shown is not chunk and not hasattr(shown, "usage")
    assert shown.model_dump(exclude={"id", "created"}) == plain.model_dump(exclude={"id", "created"})
    assert shown.id == chunk.id
    assert chunk.usage.prompt_tokens == 20  # the SDK's own object is left as it was
    result = observer.result()
    assert result.usage == Usage(input_tokens=20, output_tokens=7)
    assert result.finish_reasons == ("stop",)


def test_usage_the_user_asked_for_is_left_on_the_chunk():
    chunk = _chunk(usage={"prompt_tokens": 20, "completion_tokens": 7, "total_tokens": 27})
    observer = _endpoints.LiteLLMStreamObserver(stream=None, injected_usage=False)
    assert observer.on_item(chunk) is None


def test_without_usage_of_a_dict_chunk():
    assert _extract.without_usage({"choices": [], "usage": {"prompt_tokens": 1}}) == {"choices": []}
