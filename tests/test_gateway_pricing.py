"""Pricing calls made through a gateway (a host that is no known provider) from their model name.

Every expected price is genai-prices' own ``calc_price`` for the provider and model the rule in
``otel_tokens.pricing`` says the name resolves to, taken at a fixed instant.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

import genai_prices
import pytest
from genai_prices.data import providers as LIBRARY_PROVIDERS

from otel_tokens import record, semconv
from otel_tokens.pricing import PriceBook
from otel_tokens.usage import Usage

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
VERSION = f"genai-prices {genai_prices.__version__}"
USAGE = Usage(input_tokens=12_000, output_tokens=800, cache_read_input_tokens=2_000)
PREFIX, NAME = semconv.PRICE_MATCH_MODEL_PREFIX, semconv.PRICE_MATCH_MODEL_NAME
# A bare name several providers list and none of them makes (by its naming pattern).
AMBIGUOUS = "sonar-reasoning"


@pytest.fixture
def book() -> PriceBook:
    book = PriceBook()
    book._clock = NOW.timestamp
    return book


def library_total(model_ref: str, provider_id: str, usage: Usage = USAGE) -> float:
    calc = genai_prices.calc_price(
        genai_prices.Usage(
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
            cache_read_tokens=usage.cache_read_input_tokens,
        ),
        model_ref,
        provider_id=provider_id,
        genai_request_timestamp=NOW,
    )
    return float(calc.total_price)


# (gateway model name, how it must match, genai-prices provider id, the model ref priced there)
GATEWAY_NAMES = [
    # The name as given, under the call's own provider (openai), only because OpenAI sells it.
    ("gpt-4o-mini", None, "openai", "gpt-4o-mini"),
    ("openai/gpt-4o-mini", PREFIX, "openai", "gpt-4o-mini"),
    # Anthropic
    ("claude-sonnet-4-5", NAME, "anthropic", "claude-sonnet-4-5"),
    ("anthropic/claude-sonnet-4-5", PREFIX, "anthropic", "claude-sonnet-4-5"),
    ("claude-sonnet-4-5-20250929", NAME, "anthropic", "claude-sonnet-4-5-20250929"),
    # Outermost prefix first: OpenRouter has no "anthropic/claude-sonnet-4-5", so Anthropic prices it...
    ("openrouter/anthropic/claude-sonnet-4-5", PREFIX, "anthropic", "claude-sonnet-4-5"),
    # ... but OpenRouter's own name for it is OpenRouter's price.
    ("openrouter/anthropic/claude-sonnet-4.5", PREFIX, "openrouter", "anthropic/claude-sonnet-4.5"),
    # A prefix that names no provider (a team, a route) is skipped.
    ("team-search/claude-sonnet-4-5", NAME, "anthropic", "claude-sonnet-4-5"),
    # Google / Gemini, and Vertex AI's Claude
    ("gemini-2.5-flash", NAME, "google", "gemini-2.5-flash"),
    ("gemini/gemini-2.5-flash", PREFIX, "google", "gemini-2.5-flash"),
    ("google/gemini-2.5-flash", PREFIX, "google", "gemini-2.5-flash"),
    ("vertex_ai/claude-sonnet-4-5", PREFIX, "google", "claude-sonnet-4-5"),
    # DeepSeek
    ("deepseek-chat", NAME, "deepseek", "deepseek-chat"),
    ("deepseek/deepseek-chat", PREFIX, "deepseek", "deepseek-chat"),
    # Mistral
    ("mistral-large-latest", NAME, "mistral", "mistral-large-latest"),
    ("mistral/mistral-large-latest", PREFIX, "mistral", "mistral-large-latest"),
    # xAI
    ("grok-3", NAME, "x-ai", "grok-3"),
    ("xai/grok-3", PREFIX, "x-ai", "grok-3"),
    ("x-ai/grok-3", PREFIX, "x-ai", "grok-3"),
    # Cohere
    ("command-r", NAME, "cohere", "command-r"),
    ("cohere/command-r", PREFIX, "cohere", "command-r"),
    # Meta's Llama, through the hosts that list it
    ("llama-3.3-70b-versatile", NAME, "groq", "llama-3.3-70b-versatile"),
    ("groq/llama-3.3-70b-versatile", PREFIX, "groq", "llama-3.3-70b-versatile"),
    ("meta-llama/Llama-3.3-70B-Instruct-Turbo", NAME, "together", "meta-llama/Llama-3.3-70B-Instruct-Turbo"),
    (
        "together_ai/meta-llama/Llama-3.3-70B-Instruct-Turbo",
        PREFIX,
        "together",
        "meta-llama/Llama-3.3-70B-Instruct-Turbo",
    ),
    # Perplexity, Bedrock, Fireworks (LiteLLM-style prefixes)
    ("perplexity/sonar", PREFIX, "perplexity", "sonar"),
    ("sonar", NAME, "perplexity", "sonar"),
    (
        "bedrock/anthropic.claude-3-5-sonnet-20240620-v1:0",
        PREFIX,
        "aws",
        "anthropic.claude-3-5-sonnet-20240620-v1:0",
    ),
    (
        "fireworks_ai/accounts/fireworks/models/llama-v3p1-8b-instruct",
        PREFIX,
        "fireworks",
        "accounts/fireworks/models/llama-v3p1-8b-instruct",
    ),
]


@pytest.mark.parametrize(
    ("model", "match", "provider_id", "ref"), GATEWAY_NAMES, ids=[c[0] for c in GATEWAY_NAMES]
)
def test_gateway_model_names_are_priced_at_their_providers_price(
    book: PriceBook, model: str, match: str | None, provider_id: str, ref: str
) -> None:
    cost = book.cost("openai", model, USAGE, gateway=True)

    assert cost is not None
    assert cost.total == pytest.approx(library_total(ref, provider_id), rel=1e-9)
    assert (cost.match, cost.price_provider, cost.source) == (
        match,
        None if match is None else provider_id,
        VERSION,
    )


def test_the_span_says_how_an_inferred_price_was_matched(book: PriceBook) -> None:
    inferred = book.cost("openai", "anthropic/claude-sonnet-4-5", USAGE, gateway=True)
    direct = book.cost("openai", "gpt-4o-mini", USAGE, gateway=True)
    assert inferred is not None and direct is not None

    attributes = record.cost_attributes(inferred)
    assert attributes["otel_tokens.price.match"] == "model_prefix"
    assert attributes["otel_tokens.price.provider"] == "anthropic"
    # A price of the call's own provider carries neither: absent means "priced directly".
    assert not {"otel_tokens.price.match", "otel_tokens.price.provider"} & set(record.cost_attributes(direct))


def test_direct_calls_are_not_priced_by_name(book: PriceBook) -> None:
    # To api.openai.com, "deepseek-chat" is no OpenAI model: no price, whatever a gateway would do.
    assert book.cost("openai", "deepseek-chat", USAGE) is None
    assert book.cost("openai", "deepseek-chat", USAGE, gateway=True) is not None
    # The two are cached apart: the gateway's price does not leak into direct calls, nor back.
    assert book.cost("openai", "deepseek-chat", USAGE) is None
    direct = book.cost("deepseek", "deepseek-chat", USAGE)
    assert direct is not None and (direct.match, direct.price_provider) == (None, None)


def test_ambiguous_name_gets_no_price_and_one_warning_naming_the_candidates(
    book: PriceBook, caplog: pytest.LogCaptureFixture
) -> None:
    listing = sorted(p.id for p in LIBRARY_PROVIDERS if p.find_model(AMBIGUOUS) is not None)
    makers = [
        p.id for p in LIBRARY_PROVIDERS if p.model_match is not None and p.model_match.is_match(AMBIGUOUS)
    ]
    assert len(listing) >= 2 and not makers, "the price data changed: pick another ambiguous name"

    with caplog.at_level(logging.WARNING, logger="otel_tokens.pricing"):
        assert book.cost("openai", AMBIGUOUS, USAGE, gateway=True) is None
        assert book.cost("openai", AMBIGUOUS, USAGE, gateway=True) is None

    [warning] = [r.getMessage() for r in caplog.records if AMBIGUOUS in r.getMessage()]
    assert ", ".join(listing) in warning
    assert "OTEL_TOKENS_PROVIDER_HOSTS" in warning and "[[price]]" in warning


def test_a_prefix_settles_an_ambiguous_name(book: PriceBook) -> None:
    cost = book.cost("openai", f"perplexity/{AMBIGUOUS}", USAGE, gateway=True)
    assert cost is not None
    assert cost.total == pytest.approx(library_total(AMBIGUOUS, "perplexity"), rel=1e-9)
    assert (cost.match, cost.price_provider) == (PREFIX, "perplexity")


def test_an_ambiguous_response_model_does_not_warn_when_the_requested_one_is_priced(
    book: PriceBook, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="otel_tokens.pricing"):
        cost = book.cost("openai", AMBIGUOUS, USAGE, fallback_model=f"perplexity/{AMBIGUOUS}", gateway=True)
    assert cost is not None and cost.price_provider == "perplexity"
    assert not caplog.records


def test_unknown_gateway_model_stays_unpriced_with_the_usual_warning(
    book: PriceBook, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="otel_tokens.pricing"):
        assert book.cost("openai", "acme/internal-llm-7", USAGE, gateway=True) is None
    [warning] = [r.getMessage() for r in caplog.records]
    assert "no price for model 'acme/internal-llm-7'" in warning


def test_overrides_win_over_inference_and_discounts_apply_to_it(tmp_path: Path) -> None:
    overrides = tmp_path / "prices.toml"
    overrides.write_text(
        '[[price]]\nprovider = "openai"\nmodel = "claude-*"\ninput_per_mtok = 1.0\noutput_per_mtok = 2.0\n\n'
        f'[[price]]\nmodel = "{AMBIGUOUS}"\ninput_per_mtok = 3.0\noutput_per_mtok = 4.0\n\n'
        '[[discount]]\nmodel = "gemini-*"\nmultiplier = 0.5\n'
    )
    book = PriceBook(overrides)
    book._clock = NOW.timestamp
    usage = Usage(input_tokens=1_000_000, output_tokens=1_000_000)

    claude = book.cost("openai", "claude-sonnet-4-5", usage, gateway=True)
    assert claude is not None
    assert (claude.total, claude.source, claude.match) == (pytest.approx(3.0), "override", None)
    settled = book.cost("openai", AMBIGUOUS, usage, gateway=True)
    assert settled is not None and (settled.total, settled.source) == (pytest.approx(7.0), "override")
    gemini = book.cost("openai", "gemini-2.5-flash", usage, gateway=True)
    assert gemini is not None
    assert gemini.total == pytest.approx(library_total("gemini-2.5-flash", "google", usage) * 0.5, rel=1e-9)
    assert (gemini.source, gemini.match, gemini.price_provider) == (VERSION + "+discount", NAME, "google")


def test_a_gateway_under_a_provider_name_we_do_not_map_is_priced_by_the_rule_not_guessed(
    book: PriceBook,
) -> None:
    # LiteLLM's "litellm_proxy/<model>": the proxy's name is no provider, the model name decides.
    cost = book.cost("litellm_proxy", "claude-sonnet-4-5", USAGE, gateway=True)
    assert cost is not None and (cost.match, cost.price_provider) == (NAME, "anthropic")
    assert book.cost("litellm_proxy", AMBIGUOUS, USAGE, gateway=True) is None


@pytest.mark.parametrize(
    ("litellm_provider", "host", "declared", "gateway"),
    [
        ("openai", "gw.corp", None, True),
        ("custom_openai", "127.0.0.1", None, True),
        ("litellm_proxy", "gw.corp", None, True),
        ("litellm_proxy", None, None, True),
        ("openai", "api.openai.com", None, False),
        ("openai", None, None, False),  # LiteLLM's default: OpenAI itself
        ("openai", "gw.corp", "anthropic", False),  # OTEL_TOKENS_PROVIDER_HOSTS wins
        ("anthropic", "gw.corp", None, False),  # LiteLLM knows the provider
    ],
)
def test_litellm_routes_to_gateways(litellm_provider, host, declared, gateway) -> None:
    extract = pytest.importorskip("otel_tokens_litellm._extract")
    assert extract.is_gateway(litellm_provider, host, declared) is gateway
