"""The pure parts: provider names, model names, usage shapes, and the no-op without litellm."""

from __future__ import annotations

import pytest
from otel_tokens_litellm import LiteLLMInstrumentor, _extract, _wrappers

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
    target = _wrappers.resolve(model, kwargs.get("custom_llm_provider"), None)
    assert (_extract.provider_name(target.litellm_provider), target.model) == (provider, request_model)


def test_unresolvable_model_keeps_the_name_and_an_unknown_provider():
    target = _wrappers.resolve("no-such-model-anywhere", None, None)
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
