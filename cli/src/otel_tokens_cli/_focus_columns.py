"""FOCUS 1.3's columns as written, and the fixed vocabulary of their values.

Who is who: the company that sells the tokens is the service provider, the host and the invoice
issuer, as FOCUS's own AI examples have it for a cloud serving a model as its own service (Azure
OpenAI: Microsoft; Bedrock: AWS; Vertex AI: Google). The model's developer is ``PublisherName``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from otel_tokens_cli._records import TokenClass

__all__ = [
    "CUSTOM_COLUMNS",
    "FOCUS_COLUMNS",
    "FOCUS_VERSION",
    "METERS",
    "PER_MILLION_TOKENS",
    "SEARCH_UNITS",
    "TOKENS",
    "publisher",
    "seller_and_service",
]

FOCUS_VERSION = "1.3"

FOCUS_COLUMNS = (
    "BilledCost",
    "BillingAccountId",
    "BillingAccountName",
    "BillingCurrency",
    "BillingPeriodEnd",
    "BillingPeriodStart",
    "ChargeCategory",
    "ChargeClass",
    "ChargeDescription",
    "ChargeFrequency",
    "ChargePeriodEnd",
    "ChargePeriodStart",
    "ConsumedQuantity",
    "ConsumedUnit",
    "ContractedCost",
    "ContractedUnitPrice",
    "EffectiveCost",
    "HostProviderName",
    "InvoiceId",
    "InvoiceIssuerName",
    "ListCost",
    "ListUnitPrice",
    "PricingQuantity",
    "PricingUnit",
    "ProviderName",
    "PublisherName",
    "ServiceCategory",
    "ServiceName",
    "ServiceProviderName",
    "ServiceSubcategory",
    "SkuId",
    "SkuMeter",
    "SkuPriceDetails",
    "SkuPriceId",
    "Tags",
)
"""The FOCUS columns written: the 1.3 mandatory ones (ProviderName and PublisherName are
deprecated in 1.3 but still mandatory), those that apply to per-token usage with a public price
list, negotiated prices and tags, and the recommended ChargeFrequency, ServiceSubcategory and
InvoiceId (null: telemetry is no invoice)."""

CUSTOM_COLUMNS = ("x_CostSource", "x_PricingVersion", "x_EstimatedUsage", "x_Requests", "x_ServerAddress")
"""Ours, after FOCUS's: how the row's cost was split (``recorded``, ``apportioned``,
``repriced``), the price source recorded (``genai-prices 0.2.3``, ``override``,
``...+discount``), the share of the row's calls whose counts were estimated locally, the priced
calls in the row, the API host the calls went to."""

# ConsumedUnit and PricingUnit: tokens are priced per million, rerank search units one by one.
SEARCH_UNITS = "Search Units"
TOKENS = "Tokens"
PER_MILLION_TOKENS = "1000000 Tokens"

# SkuMeter: each token class is a SKU of its own, the way providers price them.
METERS = {
    TokenClass.INPUT: "Input Tokens",
    TokenClass.CACHE_READ: "Cache Read Input Tokens",
    TokenClass.CACHE_WRITE_5M: "Cache Write Input Tokens",
    TokenClass.CACHE_WRITE_1H: "Cache Write Input Tokens (1-hour TTL)",
    TokenClass.OUTPUT: "Output Tokens",
    TokenClass.SEARCH_UNITS: "Search Units",
}

# gen_ai.provider.name -> (the company that sells the tokens, its service's name).
_SELLERS: Mapping[str, tuple[str, str]] = {
    "openai": ("OpenAI", "OpenAI API"),
    "azure.ai.openai": ("Microsoft", "Azure OpenAI"),
    "anthropic": ("Anthropic", "Claude API"),
    "aws.bedrock": ("AWS", "Amazon Bedrock"),
    "gcp.gemini": ("Google", "Gemini API"),
    "gcp.vertex_ai": ("Google", "Vertex AI"),
    "cohere": ("Cohere", "Cohere API"),
    "mistral_ai": ("Mistral AI", "Mistral AI API"),
    "deepseek": ("DeepSeek", "DeepSeek API"),
    "groq": ("Groq", "GroqCloud"),
    "x_ai": ("xAI", "xAI API"),
    "perplexity": ("Perplexity", "Perplexity API"),
    "together_ai": ("Together AI", "Together AI API"),
    "openrouter": ("OpenRouter", "OpenRouter"),
    "fireworks_ai": ("Fireworks AI", "Fireworks AI API"),
    "ollama": ("Self-hosted", "Ollama"),
    "vllm": ("Self-hosted", "vLLM"),
}
# Providers that serve other companies' models: the developer is read off the model name.
_RESELLERS = frozenset(
    {"azure.ai.openai", "aws.bedrock", "gcp.vertex_ai", "groq", "together_ai", "openrouter", "fireworks_ai"}
    | {"ollama", "vllm"}
)
_DEVELOPERS = {
    "anthropic": "Anthropic",
    "claude": "Anthropic",
    "openai": "OpenAI",
    "gpt": "OpenAI",
    "meta": "Meta",
    "llama": "Meta",
    "amazon": "Amazon",
    "nova": "Amazon",
    "mistral": "Mistral AI",
    "mixtral": "Mistral AI",
    "cohere": "Cohere",
    "command": "Cohere",
    "ai21": "AI21 Labs",
    "deepseek": "DeepSeek",
    "qwen": "Qwen",
    "google": "Google",
    "gemini": "Google",
    "gemma": "Google",
    "grok": "xAI",
}


def seller_and_service(provider: str) -> tuple[str, str]:
    """The company that sells ``provider``'s (a ``gen_ai.provider.name``) tokens and its
    service's name; an unknown provider is both."""
    return _SELLERS.get(provider, (provider or "unknown", provider or "unknown"))


def publisher(provider: str, model: str, seller: str) -> str:
    """Who made the model: the seller, unless it serves other companies' models and the model's
    name says whose (``us.anthropic.claude-...`` on Bedrock, ``meta-llama/...`` on Together)."""
    if provider == "azure.ai.openai":
        return "OpenAI"
    if provider in _RESELLERS:
        # A Bedrock ARN ends in the model or inference profile id.
        name = model.rsplit("/", 1)[-1] if provider == "aws.bedrock" else model
        for word in re.split(r"[^a-z0-9]+", name.lower()):
            for prefix, developer in _DEVELOPERS.items():
                if word.startswith(prefix):
                    return developer
    return seller
