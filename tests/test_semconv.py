"""Conformance: every standard name we emit equals the opentelemetry-semantic-conventions constant."""

from __future__ import annotations

import pytest
from opentelemetry.semconv._incubating.attributes import (
    error_attributes,
    gen_ai_attributes,
    openai_attributes,
)
from opentelemetry.semconv._incubating.metrics import gen_ai_metrics
from opentelemetry.semconv.attributes import http_attributes, server_attributes

from otel_tokens import semconv

UPSTREAM = {
    **{
        name: getattr(gen_ai_attributes, name)
        for name in dir(gen_ai_attributes)
        if name.startswith("GEN_AI_")
    },
    **{name: getattr(gen_ai_metrics, name) for name in dir(gen_ai_metrics) if name.startswith("GEN_AI_")},
    **{
        name: getattr(openai_attributes, name)
        for name in dir(openai_attributes)
        if name.startswith("OPENAI_")
    },
    "SERVER_ADDRESS": server_attributes.SERVER_ADDRESS,
    "SERVER_PORT": server_attributes.SERVER_PORT,
    "ERROR_TYPE": error_attributes.ERROR_TYPE,
    "HTTP_RESPONSE_STATUS_CODE": http_attributes.HTTP_RESPONSE_STATUS_CODE,
}
# Proposed in semantic-conventions-genai PR #443, not in any released package yet.
UNRELEASED = {"GEN_AI_USAGE_COST_AMOUNT", "GEN_AI_USAGE_COST_CURRENCY", "GEN_AI_USAGE_COST_SOURCE"}
STANDARD = [
    n
    for n in dir(semconv)
    if n.isupper() and (n.startswith(("GEN_AI_", "OPENAI_", "SERVER_", "ERROR_TYPE", "HTTP_")))
]


@pytest.mark.parametrize("name", [n for n in STANDARD if n not in UNRELEASED and n != "ERROR_TYPE_OTHER"])
def test_standard_name_matches_upstream(name):
    assert name in UPSTREAM, f"{name} is not defined by opentelemetry-semantic-conventions"
    assert getattr(semconv, name) == UPSTREAM[name]


def test_standard_values_match_upstream():
    providers = {v.value for v in gen_ai_attributes.GenAiProviderNameValues}
    for name in (
        "OPENAI",
        "AZURE_OPENAI",
        "ANTHROPIC",
        "AWS_BEDROCK",
        "GCP_GEMINI",
        "GCP_VERTEX_AI",
        "COHERE",
        "MISTRAL_AI",
        "DEEPSEEK",
        "GROQ",
        "X_AI",
        "PERPLEXITY",
    ):
        assert getattr(semconv, f"PROVIDER_{name}") in providers
    operations = {v.value for v in gen_ai_attributes.GenAiOperationNameValues}
    assert {
        semconv.OPERATION_CHAT,
        semconv.OPERATION_TEXT_COMPLETION,
        semconv.OPERATION_EMBEDDINGS,
    } <= operations
    assert {v.value for v in gen_ai_attributes.GenAiTokenTypeValues} >= {"input", "output"}


def test_own_names_are_namespaced_and_listed():
    own = [
        getattr(semconv, n)
        for n in dir(semconv)
        if n.startswith("OTEL_TOKENS_") and n != "OTEL_TOKENS_TAG_PREFIX"
    ]
    assert all(value.startswith("otel_tokens.") for value in own)
    assert set(own) == set(semconv.OWN_ATTRIBUTES) | set(semconv.OWN_METRICS)


def test_readme_lists_every_name_we_emit():
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    names = [getattr(semconv, n) for n in STANDARD if n != "ERROR_TYPE_OTHER"]
    names += list(semconv.OWN_ATTRIBUTES) + list(semconv.OWN_METRICS)
    missing = [name for name in names if f"`{name}`" not in readme]
    assert not missing, f"README does not document: {missing}"
