"""Tests for otel_tokens.pricing: agreement with genai-prices, known prices, tiers, overrides."""

from __future__ import annotations

import json
import logging
import math
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import genai_prices
import pytest
from genai_prices import data_snapshot
from genai_prices.data import providers as LIBRARY_PROVIDERS
from genai_prices.types import (
    ClauseAnd,
    ClauseContains,
    ClauseEndsWith,
    ClauseEquals,
    ClauseOr,
    ClauseStartsWith,
    MatchLogic,
    ModelInfo,
    ModelPrice,
    Provider,
)

from otel_tokens import _price_data
from otel_tokens._errors import ConfigurationError
from otel_tokens._price_data import Rates
from otel_tokens.pricing import Cost, PriceBook
from otel_tokens.usage import Usage

RECORDED = Path("/work/shared/recorded/openai")
DATA = Path(__file__).parent / "data"
# Every price is taken at this instant, so dated prices and off-peak hours are deterministic.
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
VERSION = f"genai-prices {genai_prices.__version__}"

# gen_ai.provider.name -> genai-prices provider id (the table in pricing.py, stated independently).
OUR_NAME = {
    "openai": "openai",
    "azure": "azure.ai.openai",
    "anthropic": "anthropic",
    "aws": "aws.bedrock",
    "google": "gcp.gemini",
    "cohere": "cohere",
    "mistral": "mistral_ai",
    "deepseek": "deepseek",
    "groq": "groq",
    "x-ai": "x_ai",
    "perplexity": "perplexity",
    "together": "together_ai",
    "openrouter": "openrouter",
    "fireworks": "fireworks_ai",
}

SHAPES = {
    "plain": Usage(input_tokens=1234, output_tokens=567),
    "cache_read": Usage(input_tokens=5000, output_tokens=300, cache_read_input_tokens=4000),
    "cache_write_5m_1h": Usage(
        input_tokens=9000,
        output_tokens=200,
        cache_read_input_tokens=1000,
        cache_creation_input_tokens=6000,
        cache_creation_1h_input_tokens=2500,
    ),
    "cache_write_unsplit": Usage(input_tokens=9000, output_tokens=200, cache_creation_input_tokens=6000),
    "reasoning": Usage(input_tokens=100, output_tokens=900, reasoning_output_tokens=700),
    # Above the largest tier start in the data (524,288).
    "long_context": Usage(input_tokens=3_000_000, output_tokens=1000, cache_read_input_tokens=500_000),
    "zero": Usage(input_tokens=0, output_tokens=0),
}


@pytest.fixture
def book() -> PriceBook:
    book = PriceBook()
    book._clock = NOW.timestamp
    return book


def lib_usage(usage: Usage) -> genai_prices.Usage:
    """Our usage as genai-prices counts it: totals, with the cache-write TTL split explicit."""
    write_1h = usage.cache_creation_1h_input_tokens
    return genai_prices.Usage(
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        cache_read_tokens=usage.cache_read_input_tokens,
        cache_write_tokens=usage.cache_creation_input_tokens,
        cache_write_5m_tokens=None
        if write_1h is None
        else (usage.cache_creation_input_tokens or 0) - write_1h,
        cache_write_1h_tokens=write_1h,
        output_reasoning_tokens=usage.reasoning_output_tokens,
    )


def library_total(
    usage: Usage, model: str, provider_id: str, tier_context: dict[str, str] | None = None
) -> float:
    calc = genai_prices.calc_price(
        lib_usage(usage),
        model,
        provider_id=provider_id,
        genai_request_timestamp=NOW,
        price_context=tier_context,
    )
    return float(calc.total_price)


def candidate_refs(clause: MatchLogic) -> Iterator[str]:
    """Model names that satisfy a match clause (the library then confirms which model they reach)."""
    if isinstance(clause, ClauseEquals):
        yield clause.equals
    elif isinstance(clause, ClauseStartsWith):
        yield clause.starts_with
    elif isinstance(clause, ClauseContains):
        yield clause.contains
    elif isinstance(clause, ClauseEndsWith):
        yield clause.ends_with
    elif isinstance(clause, ClauseOr):
        for inner in clause.or_:
            yield from candidate_refs(inner)
    elif isinstance(clause, ClauseAnd):
        yield "".join(next(candidate_refs(inner), "") for inner in clause.and_)


def ref_for(provider: Provider, model: ModelInfo) -> str:
    snapshot = data_snapshot.get_snapshot()
    for ref in candidate_refs(model.match):
        try:
            if snapshot.find_provider_model(ref, None, provider.id, None)[1] is model:
                return ref
        except LookupError:
            continue
    raise AssertionError(f"no model name reaches {provider.id}/{model.id}")


def tiers_of(model: ModelInfo) -> list[str | None]:
    """None (standard) plus every tier the model's price variants name."""
    tiers: list[str | None] = [None]
    for variant in model.price_variants or ():
        if "service_tier" in variant.when:
            tiers.append(variant.when["service_tier"])
        if variant.when.get("processing") == "batch":
            tiers.append("batch")
    return tiers


def context_for(tier: str | None) -> dict[str, str] | None:
    if tier is None:
        return None
    return {"processing": "batch"} if tier == "batch" else {"service_tier": tier}


# --- 1. agreement with the library, every model of every provider -------------------------


@pytest.mark.parametrize("provider", LIBRARY_PROVIDERS, ids=lambda p: p.id)
def test_agrees_with_genai_prices_for_every_model(book: PriceBook, provider: Provider) -> None:
    # No model needs an exception: every bundled price is reproduced within 1e-9 relative,
    # per-request prices, long-context tiers, variants and off-peak prices included.
    name = OUR_NAME.get(provider.id, provider.id)  # unmapped ids exercise the unknown-provider path
    checked = 0
    for model in provider.models:
        ref = ref_for(provider, model)
        for tier in tiers_of(model):
            for shape, usage in SHAPES.items():
                calc = genai_prices.calc_price(
                    lib_usage(usage),
                    ref,
                    provider_id=provider.id,
                    genai_request_timestamp=NOW,
                    price_context=context_for(tier),
                )
                cost = book.cost(name, ref, usage, tier)
                where = f"{provider.id}/{model.id} ({ref!r}) tier={tier} {shape}"
                assert cost is not None, where
                assert math.isclose(cost.total, float(calc.total_price), rel_tol=1e-9, abs_tol=1e-15), where
                input_side = cost.input + cost.cache_read + cost.cache_creation
                assert math.isclose(input_side, float(calc.input_price), rel_tol=1e-9, abs_tol=1e-15), where
                assert math.isclose(cost.output, float(calc.output_price), rel_tol=1e-9, abs_tol=1e-15), where
        checked += 1
    assert checked == len(provider.models)


# --- 2. known prices, by hand --------------------------------------------------------------


def test_gpt_4o_mini_cached_tokens_at_the_cached_rate_only(book: PriceBook) -> None:
    # $0.15 input, $0.075 cached input, $0.60 output per million.
    usage = Usage(input_tokens=10_000, output_tokens=1_000, cache_read_input_tokens=4_000)
    assert book.cost("openai", "gpt-4o-mini", usage) == Cost(
        total=pytest.approx(0.0018, rel=1e-12),
        input=pytest.approx(6_000 * 0.15e-6, rel=1e-12),
        output=pytest.approx(1_000 * 0.6e-6, rel=1e-12),
        cache_read=pytest.approx(4_000 * 0.075e-6, rel=1e-12),
        cache_creation=0.0,
        source=VERSION,
        service_tier=None,
    )


def test_claude_3_5_sonnet_cache_writes_5m_and_1h_and_reads(book: PriceBook) -> None:
    # $3 input, $15 output, $0.30 cache read, $3.75 5-minute cache write, $6 1-hour cache write.
    usage = Usage.from_uncached_input(
        uncached_input_tokens=100,
        output_tokens=50,
        cache_read_input_tokens=2_000,
        cache_creation_input_tokens=1_000,
        cache_creation_1h_input_tokens=400,
    )
    cost = book.cost("anthropic", "claude-3-5-sonnet-20241022", usage)
    assert cost == Cost(
        total=pytest.approx(0.0063, rel=1e-12),
        input=pytest.approx(100 * 3e-6, rel=1e-12),
        output=pytest.approx(50 * 15e-6, rel=1e-12),
        cache_read=pytest.approx(2_000 * 0.3e-6, rel=1e-12),
        cache_creation=pytest.approx(600 * 3.75e-6 + 400 * 6e-6, rel=1e-12),
        source=VERSION,
        service_tier=None,
    )


def test_gemini_2_5_pro_long_context_tier_is_a_cliff_on_total_input(book: PriceBook) -> None:
    # $1.25 / $10 up to 200,000 input tokens; above that $2.50 / $15 for every token of the call.
    at_threshold = book.cost("gcp.gemini", "gemini-2.5-pro", Usage(input_tokens=200_000, output_tokens=1_000))
    above = book.cost("gcp.gemini", "gemini-2.5-pro", Usage(input_tokens=200_001, output_tokens=1_000))
    assert at_threshold is not None and above is not None
    assert at_threshold.total == pytest.approx(200_000 * 1.25e-6 + 1_000 * 10e-6, rel=1e-12)
    assert above.total == pytest.approx(200_001 * 2.5e-6 + 1_000 * 15e-6, rel=1e-12)


def test_reasoning_tokens_are_output_tokens_not_counted_twice(book: PriceBook) -> None:
    cost = book.cost("openai", "gpt-5", Usage(input_tokens=8, output_tokens=82, reasoning_output_tokens=64))
    assert cost is not None
    assert cost.output == pytest.approx(82 * 10e-6, rel=1e-12)
    assert cost.total == pytest.approx(8 * 1.25e-6 + 82 * 10e-6, rel=1e-12)


def test_model_with_its_own_reasoning_rate(book: PriceBook) -> None:
    # Perplexity's sonar-deep-research bills reasoning at $3, other output at $8 per million.
    cost = book.cost(
        "perplexity",
        "sonar-deep-research",
        Usage(input_tokens=0, output_tokens=1_000, reasoning_output_tokens=400),
    )
    assert cost is not None and cost.output == pytest.approx((600 * 8 + 400 * 3) * 1e-6, rel=1e-12)


def test_per_request_price_is_in_the_total_only(book: PriceBook) -> None:
    # Perplexity sonar: $1 / $1 per million tokens plus $12 per thousand requests.
    cost = book.cost("perplexity", "sonar", Usage(input_tokens=100, output_tokens=100))
    assert cost is not None
    assert (cost.input, cost.output) == (pytest.approx(1e-4, rel=1e-12), pytest.approx(1e-4, rel=1e-12))
    assert cost.total == pytest.approx(0.012 + 2e-4, rel=1e-12)


def test_cache_reads_cost_the_input_rate_when_the_model_has_no_cache_price(book: PriceBook) -> None:
    # mistral-large has only $2 input / $6 output: cache reads cost the input rate, as in the library.
    usage = Usage(input_tokens=1_000, output_tokens=0, cache_read_input_tokens=400)
    cost = book.cost("mistral_ai", "mistral-large-latest", usage)
    assert cost is not None
    assert (cost.input, cost.cache_read) == (pytest.approx(600 * 2e-6), pytest.approx(400 * 2e-6))
    assert cost.total == pytest.approx(library_total(usage, "mistral-large-latest", "mistral"), rel=1e-12)


def test_cache_parts_larger_than_the_total_are_clamped_not_raised(book: PriceBook) -> None:
    cost = book.cost(
        "openai", "gpt-4o-mini", Usage(input_tokens=10, output_tokens=0, cache_read_input_tokens=50)
    )
    assert cost is not None and cost.input == 0.0 and cost.cache_read == pytest.approx(50 * 0.075e-6)


def test_time_of_day_price_changes_when_the_clock_passes_the_boundary(book: PriceBook) -> None:
    # deepseek-chat: $0.27 / $1.10 from 00:30 to 16:30 UTC, half that off-peak.
    usage = Usage(input_tokens=1_000_000, output_tokens=1_000_000)
    peak = book.cost("deepseek", "deepseek-chat", usage)
    book._clock = datetime(2026, 11, 23, 17, 0, tzinfo=UTC).timestamp
    off_peak = book.cost("deepseek", "deepseek-chat", usage)
    assert peak is not None and off_peak is not None
    assert (peak.total, off_peak.total) == (pytest.approx(1.37), pytest.approx(0.685))


# --- 3. service tiers ----------------------------------------------------------------------


def recorded_usage(name: str) -> tuple[str, Usage, str]:
    exchange = json.loads((RECORDED / f"{name}.json").read_text())
    usage = exchange["expected_usage"]
    served = json.loads(exchange["response"]["body_text"])["service_tier"]
    return (
        exchange["response_model"],
        Usage(
            input_tokens=usage.get("prompt_tokens", usage.get("input_tokens")),
            output_tokens=usage.get("completion_tokens", usage.get("output_tokens")),
            cache_read_input_tokens=usage["cached_tokens"],
            reasoning_output_tokens=usage["reasoning_tokens"],
        ),
        served,
    )


@pytest.mark.parametrize(
    ("exchange", "default_total"),
    [
        # gpt-5: $1.25 input / $10 output per million; priority $2.50 / $20; flex $0.625 / $5.
        ("chat_gpt5_service_tier", 8 * 1.25e-6 + 82 * 10e-6),
        ("responses_gpt5_service_tier", 8 * 1.25e-6 + 15 * 10e-6),
    ],
)
def test_gpt5_priced_at_the_tier_that_served_it(book: PriceBook, exchange: str, default_total: float) -> None:
    model, usage, served = recorded_usage(exchange)
    assert (model, served) == ("gpt-5-2025-08-07", "priority")

    priority = book.cost("openai", model, usage, served)
    assert priority is not None
    assert priority.total == pytest.approx(2 * default_total, rel=1e-12)
    assert priority.total == pytest.approx(
        library_total(usage, model, "openai", {"service_tier": "priority"})
    )
    assert priority.service_tier == "priority"

    flex = book.cost("openai", model, usage, "flex")
    assert flex is not None and flex.service_tier == "flex"
    assert flex.total == pytest.approx(default_total / 2, rel=1e-12)

    for standard in (None, "default", "auto"):
        cost = book.cost("openai", model, usage, standard)
        assert cost is not None and cost.service_tier is None
        assert cost.total == pytest.approx(default_total, rel=1e-12)


def test_batch_tier_uses_the_batch_price(book: PriceBook) -> None:
    # gpt-4o-mini batch: $0.075 input, $0.30 output; cached input keeps its standard $0.075.
    cost = book.cost("openai", "gpt-4o-mini", Usage(input_tokens=2_000, output_tokens=1_000), "batch")
    assert cost is not None and cost.service_tier == "batch"
    assert cost.total == pytest.approx(2_000 * 0.075e-6 + 1_000 * 0.3e-6, rel=1e-12)


def test_unpriced_tier_falls_back_to_standard_with_one_warning(
    book: PriceBook, caplog: pytest.LogCaptureFixture
) -> None:
    usage = Usage(input_tokens=1_000, output_tokens=1_000)
    with caplog.at_level(logging.WARNING, logger="otel_tokens.pricing"):
        costs = [book.cost("openai", "gpt-4o-mini", usage, "scale") for _ in range(3)]
    assert costs[0] == book.cost("openai", "gpt-4o-mini", usage)
    assert costs[0] is not None and costs[0].service_tier is None
    assert [r.getMessage() for r in caplog.records] == [
        "otel-tokens: no 'scale' service-tier price for model 'gpt-4o-mini' of provider 'openai'; "
        "priced at the standard rate."
    ]


def test_azure_borrows_openai_prices_without_the_tier_like_the_library(book: PriceBook) -> None:
    usage = Usage(input_tokens=1_000, output_tokens=1_000)
    cost = book.cost("azure.ai.openai", "gpt-5", usage, "priority")
    assert cost is not None and cost.service_tier is None
    assert cost.total == pytest.approx(library_total(usage, "gpt-5", "azure", {"service_tier": "priority"}))
    assert cost.total == pytest.approx(1_000 * 1.25e-6 + 1_000 * 10e-6)


# --- 4. unknown models, local models, provider names ---------------------------------------


def test_unknown_model_has_no_cost_and_warns_once_per_model(
    book: PriceBook, caplog: pytest.LogCaptureFixture
) -> None:
    usage = Usage(input_tokens=10, output_tokens=10)
    with caplog.at_level(logging.WARNING, logger="otel_tokens.pricing"):
        results = [book.cost("openai", "gpt-imaginary", usage) for _ in range(3)]
        results.append(book.cost("openai", "gpt-imaginary", usage, "priority"))
        results.append(book.cost("vllm", "my-llama", usage))
    assert results == [None] * 5
    assert [r.getMessage() for r in caplog.records] == [
        f"otel-tokens: no price for model 'gpt-imaginary' of provider 'openai' ({VERSION}); "
        "its calls get no cost. Add a [[price]] override to price it.",
        f"otel-tokens: no price for model 'my-llama' of provider 'vllm' ({VERSION}); "
        "its calls get no cost. Add a [[price]] override to price it.",
    ]


def test_ollama_models_cost_zero_by_default(book: PriceBook) -> None:
    assert book.cost("ollama", "llama3.1:8b", Usage(input_tokens=500, output_tokens=500)) == Cost(
        0.0, 0.0, 0.0, 0.0, 0.0, "local-model", None
    )


def test_unknown_provider_name_falls_back_to_the_library_lookup(book: PriceBook) -> None:
    usage = Usage(input_tokens=1_000, output_tokens=1_000)
    by_model = book.cost("some.gateway", "gpt-4o-mini", usage)  # provider guessed from the model name
    assert by_model is not None and by_model.total == pytest.approx(1_000 * 0.15e-6 + 1_000 * 0.6e-6)
    by_id = book.cost("cerebras", "llama3.1-8b", usage)  # a genai-prices provider id
    assert by_id is not None and by_id.total == pytest.approx(library_total(usage, "llama3.1-8b", "cerebras"))


@pytest.mark.parametrize(
    ("model", "priced_as"),
    [
        ("us.anthropic.claude-opus-5", "us.anthropic.claude-opus-5"),
        (
            "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-opus-5",
            "us.anthropic.claude-opus-5",
        ),
        ("arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-opus-5", "anthropic.claude-opus-5"),
        # The library matches no apac./ca. id for this model; the geographic profile costs the regional price.
        ("apac.anthropic.claude-opus-5", "anthropic.claude-opus-5"),
        ("global.anthropic.claude-opus-5", "global.anthropic.claude-opus-5"),
        (
            "arn:aws:bedrock:eu-west-1:123456789012:inference-profile/global.anthropic.claude-opus-5",
            "global.anthropic.claude-opus-5",
        ),
    ],
)
def test_bedrock_region_prefixes_and_arns(book: PriceBook, model: str, priced_as: str) -> None:
    usage = Usage(input_tokens=1_000, output_tokens=1_000)
    cost = book.cost("aws.bedrock", model, usage)
    assert cost is not None and cost.total == pytest.approx(library_total(usage, priced_as, "aws"))


def test_bedrock_global_and_regional_prices_differ(book: PriceBook) -> None:
    usage = Usage(input_tokens=1_000_000, output_tokens=0)
    regional = book.cost("aws.bedrock", "us.anthropic.claude-opus-5", usage)
    global_ = book.cost("aws.bedrock", "global.anthropic.claude-opus-5", usage)
    assert regional is not None and global_ is not None
    assert (regional.total, global_.total) == (pytest.approx(5.5), pytest.approx(5.0))


def test_bedrock_application_inference_profile_is_unknown(book: PriceBook) -> None:
    arn = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/a1b2c3d4e5f6"
    assert book.cost("aws.bedrock", arn, Usage(input_tokens=1, output_tokens=1)) is None


# --- 5. the override file ------------------------------------------------------------------


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "prices.toml"
    path.write_text(textwrap.dedent(text))
    return path


def test_documented_example_file() -> None:
    book = PriceBook(DATA / "price_overrides.toml")
    book._clock = NOW.timestamp
    usage = Usage(input_tokens=10_000, output_tokens=1_000, cache_read_input_tokens=4_000)

    fine_tuned = book.cost("openai", "ft:gpt-4o-mini:acme:support-v2:abc123", usage)
    assert fine_tuned == Cost(
        total=pytest.approx(6_000 * 0.3e-6 + 4_000 * 0.15e-6 + 1_000 * 1.2e-6, rel=1e-12),
        input=pytest.approx(6_000 * 0.3e-6, rel=1e-12),
        output=pytest.approx(1_000 * 1.2e-6, rel=1e-12),
        cache_read=pytest.approx(4_000 * 0.15e-6, rel=1e-12),
        cache_creation=0.0,
        source="override",
        service_tier=None,
    )
    gpu = book.cost("ollama", "llama3.1:70b", Usage(input_tokens=1_000_000, output_tokens=1_000_000))
    assert gpu is not None and (gpu.total, gpu.source) == (pytest.approx(0.1), "override")
    assert book.cost("ollama", "llama3.1:8b", usage) == Cost(0.0, 0.0, 0.0, 0.0, 0.0, "local-model", None)

    sonnet = book.cost(
        "anthropic",
        "claude-3-5-sonnet-20241022",
        Usage(
            input_tokens=3_000,
            output_tokens=100,
            cache_read_input_tokens=1_000,
            cache_creation_input_tokens=1_000,
            cache_creation_1h_input_tokens=250,
        ),
    )
    assert sonnet == Cost(
        total=pytest.approx(
            1_000 * 2.4e-6 + 1_000 * 0.24e-6 + 750 * 3e-6 + 250 * 4.8e-6 + 100 * 12e-6 + 0.001
        ),
        input=pytest.approx(1_000 * 2.4e-6),
        output=pytest.approx(100 * 12e-6),
        cache_read=pytest.approx(1_000 * 0.24e-6),
        cache_creation=pytest.approx(750 * 3e-6 + 250 * 4.8e-6),
        source="override",
        service_tier=None,
    )

    azure = book.cost("azure.ai.openai", "gpt-4o-mini", usage)
    plain = PriceBook().cost("azure.ai.openai", "gpt-4o-mini", usage)
    assert azure is not None and plain is not None
    assert azure.total == pytest.approx(plain.total * 0.8, rel=1e-12)
    assert azure.source == f"{VERSION}+discount"


def test_override_beats_the_library_first_match_wins_and_filters_apply(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        [[price]]
        provider = "azure.ai.openai"
        model = "gpt-4o-mini"
        input_per_mtok = 9
        output_per_mtok = 9

        [[price]]
        model = "gpt-4o-mini"
        service_tier = "priority"
        input_per_mtok = 2
        output_per_mtok = 2

        [[price]]
        model = "gpt-4o-mini*"
        input_per_mtok = 1
        output_per_mtok = 1

        [[price]]
        model = "gpt-4o-mini"
        input_per_mtok = 100
        output_per_mtok = 100

        [[price]]
        model = "o3"
        service_tier = "default"
        input_per_mtok = 3
        output_per_mtok = 3
        """,
    )
    book = PriceBook(path)
    usage = Usage(input_tokens=1_000_000, output_tokens=0, cache_read_input_tokens=500_000)
    standard = book.cost("openai", "gpt-4o-mini", usage)
    priority = book.cost("openai", "gpt-4o-mini", usage, "priority")
    azure = book.cost("azure.ai.openai", "gpt-4o-mini", usage)
    assert standard == Cost(
        1.0, 0.5, 0.0, 0.5, 0.0, "override", None
    )  # cache reads default to the input rate
    assert priority == Cost(2.0, 1.0, 0.0, 1.0, 0.0, "override", "priority")
    assert azure == Cost(9.0, 4.5, 0.0, 4.5, 0.0, "override", None)
    assert book.cost("openai", "o3", usage, "auto") == Cost(3.0, 1.5, 0.0, 1.5, 0.0, "override", None)
    flex = book.cost("openai", "o3", usage, "flex")  # not the override's tier: the library's flex price
    assert flex is not None and (flex.source, flex.service_tier) == (VERSION, "flex")


def test_discount_applies_to_overrides_and_first_discount_wins(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        [[price]]
        model = "acme-private"
        input_per_mtok = 1
        output_per_mtok = 2
        per_request = 0.5

        [[discount]]
        provider = "vllm"
        model = "acme-*"
        multiplier = 0.5

        [[discount]]
        model = "*"
        multiplier = 0.1
        """,
    )
    book = PriceBook(path)
    book._clock = NOW.timestamp
    usage = Usage(input_tokens=1_000_000, output_tokens=1_000_000)
    assert book.cost("vllm", "acme-private", usage) == Cost(
        1.75, 0.5, 1.0, 0.0, 0.0, "override+discount", None
    )
    library = book.cost("openai", "gpt-4o-mini", usage)
    assert library is not None and library.source == f"{VERSION}+discount"
    assert library.total == pytest.approx(0.1 * (0.15 + 0.6), rel=1e-12)


def test_unknown_provider_in_the_file_is_accepted_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = write(tmp_path, '[[discount]]\nprovider = "azure"\nmodel = "*"\nmultiplier = 0.9\n')
    with caplog.at_level(logging.WARNING, logger="otel_tokens.pricing"):
        PriceBook(path)
    assert len(caplog.records) == 1
    assert (
        caplog.records[0]
        .getMessage()
        .startswith(
            f"price overrides {path}: discount[0] (model '*'): provider 'azure' is not a gen_ai.provider.name"
        )
    )


PRICE = 'model = "m"\ninput_per_mtok = 1\noutput_per_mtok = 1\n'


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "[[price]\n",
            "not valid TOML: ",
        ),
        (
            "[[prices]]\nmodel = 'm'\n",
            "unknown top-level key 'prices'; accepted: [[price]] and [[discount]] tables",
        ),
        ("price = 1\n", "'price' must be written as [[price]] tables"),
        (
            f"[[price]]\n{PRICE}[[price]]\n{PRICE}input_per_token = 1\n",
            "price[1]: unknown field 'input_per_token'; accepted: cache_read_per_mtok, "
            "cache_write_1h_per_mtok, cache_write_per_mtok, input_per_mtok, model, output_per_mtok, "
            "per_request, per_search_unit, provider, service_tier",
        ),
        (
            "[[price]]\ninput_per_mtok = 1\noutput_per_mtok = 1\n",
            "price[0]: missing field 'model' (an exact model name or a glob such as 'gpt-4o*')",
        ),
        ("[[price]]\nmodel = 3\n", "price[0]: field 'model' must be a non-empty string, got 3"),
        ('[[price]]\nmodel = ""\n', "price[0]: field 'model' must be a non-empty string, got ''"),
        (
            "[[price]]\nmodel = 'm'\noutput_per_mtok = 1\n",
            "price[0] (model 'm'): missing field 'input_per_mtok': a number >= 0 (USD per million tokens)",
        ),
        (
            "[[price]]\nmodel = 'm'\ninput_per_mtok = 1\n",
            "price[0] (model 'm'): missing field 'output_per_mtok': a number >= 0 (USD per million tokens)",
        ),
        (
            f"[[price]]\n{PRICE}cache_read_per_mtok = -0.1\n",
            "price[0] (model 'm'): field 'cache_read_per_mtok' must be a number >= 0 "
            "(USD per million tokens), got -0.1",
        ),
        (
            "[[price]]\nmodel = 'm'\ninput_per_mtok = '0.3'\noutput_per_mtok = 1\n",
            "price[0] (model 'm'): field 'input_per_mtok' must be a number >= 0 (USD per million tokens), "
            "got '0.3'",
        ),
        (
            "[[price]]\nmodel = 'm'\ninput_per_mtok = true\noutput_per_mtok = 1\n",
            "price[0] (model 'm'): field 'input_per_mtok' must be a number >= 0 "
            "(USD per million tokens), got True",
        ),
        (
            "[[price]]\nmodel = 'm'\ninput_per_mtok = inf\noutput_per_mtok = 1\n",
            "price[0] (model 'm'): field 'input_per_mtok' must be a number >= 0 "
            "(USD per million tokens), got inf",
        ),
        (
            f"[[price]]\n{PRICE}per_request = -1\n",
            "price[0] (model 'm'): field 'per_request' must be a number >= 0 (USD per call), got -1",
        ),
        (
            f"[[price]]\n{PRICE}provider = ''\n",
            "price[0] (model 'm'): field 'provider' must be a non-empty string, got ''",
        ),
        (
            f"[[price]]\n{PRICE}service_tier = 1\n",
            "price[0] (model 'm'): field 'service_tier' must be a non-empty string, got 1",
        ),
        (
            "[[discount]]\nmodel = '*'\n",
            "discount[0] (model '*'): missing field 'multiplier': "
            "a number >= 0 (1 = list price, 0.8 = 20% off)",
        ),
        (
            "[[discount]]\nmodel = '*'\nmultiplier = -0.2\n",
            "discount[0] (model '*'): field 'multiplier' must be "
            "a number >= 0 (1 = list price, 0.8 = 20% off), got -0.2",
        ),
        (
            "[[discount]]\nmultiplier = 0.5\n",
            "discount[0]: missing field 'model' (an exact model name or a glob such as 'gpt-4o*')",
        ),
        (
            "[[discount]]\nmodel = '*'\nmultiplier = 0.5\nservice_tier = 'flex'\n",
            "discount[0]: unknown field 'service_tier'; accepted: model, multiplier, provider",
        ),
    ],
)
def test_invalid_override_file(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigurationError) as raised:
        PriceBook(path)
    if message.endswith(": "):  # the TOML parser's own description follows
        assert str(raised.value).startswith(f"price overrides {path}: {message}")
    else:
        assert str(raised.value) == f"price overrides {path}: {message}"


def test_missing_override_file(tmp_path: Path) -> None:
    path = tmp_path / "absent.toml"
    with pytest.raises(ConfigurationError) as raised:
        PriceBook(path)
    assert str(raised.value) == f"price overrides {path}: cannot read the file: No such file or directory"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        # A Latin-1 "é" in a model name (an editor's legacy encoding).
        (
            '[[price]]\nmodel = "café"\ninput_per_mtok = 1\noutput_per_mtok = 1\n'.encode("latin-1"),
            "not UTF-8 text (byte 0xe9 on line 2); TOML files must be saved as UTF-8",
        ),
        # PowerShell's `>` writes UTF-16 with a byte-order mark.
        (
            '[[price]]\nmodel = "m"\n'.encode("utf-16"),
            "not UTF-8 text (byte 0xff on line 1); TOML files must be saved as UTF-8",
        ),
    ],
    ids=["latin-1", "utf-16"],
)
def test_override_file_that_is_not_utf8_names_the_file(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "prices.toml"
    path.write_bytes(content)
    with pytest.raises(ConfigurationError) as raised:  # was a bare UnicodeDecodeError
        PriceBook(path)
    assert str(raised.value) == f"price overrides {path}: {message}"


def test_override_path_that_is_a_directory(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError) as raised:
        PriceBook(tmp_path)
    assert str(raised.value) == f"price overrides {tmp_path}: cannot read the file: Is a directory"


def test_pricing_library_that_cannot_load_leaves_overrides_and_warns_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken() -> None:
        raise ModuleNotFoundError("No module named 'genai_prices'", name="genai_prices")

    monkeypatch.setattr(_price_data, "load", broken)
    path = write(tmp_path, '[[price]]\nmodel = "acme-*"\ninput_per_mtok = 1\noutput_per_mtok = 2\n')
    book = PriceBook(path)
    usage = Usage(input_tokens=1_000_000, output_tokens=1_000_000)
    with caplog.at_level(logging.WARNING, logger="otel_tokens"):
        book.preload()  # what the background thread runs: it must not raise
        assert book.cost("openai", "gpt-4o-mini", usage) is None
        assert book.cost("anthropic", "claude-sonnet-4-5", usage) is None
        assert book.cost("openai", "acme-large", usage) == Cost(3.0, 1.0, 2.0, 0.0, 0.0, "override", None)
        assert book.cost("ollama", "llama3", usage) == Cost(0.0, 0.0, 0.0, 0.0, 0.0, "local-model", None)
    [record] = caplog.records  # one warning, not one per model or per call
    assert record.getMessage() == (
        "otel-tokens: the pricing library genai-prices cannot be loaded (ModuleNotFoundError: No module "
        "named 'genai_prices'); calls get no cost except where a [[price]] override or a local model "
        "prices them. Reinstall genai-prices to price them again."
    )
    assert book.data_version == "genai-prices (not loadable)"


# --- loading, fallback, auto-update, no network --------------------------------------------


def test_import_loads_no_price_data_and_preload_needs_no_network() -> None:
    script = textwrap.dedent(
        """
        import socket, sys, threading

        def refuse(*args, **kwargs):
            raise OSError("network access attempted")

        socket.socket.connect = refuse
        socket.socket.connect_ex = refuse
        socket.create_connection = refuse
        socket.getaddrinfo = refuse

        import otel_tokens.pricing as pricing
        from otel_tokens.usage import Usage
        assert "genai_prices" not in sys.modules, "price data imported at import time"

        book = pricing.PriceBook()
        loader = threading.Thread(target=book.preload)
        loader.start()
        cost = book.cost("openai", "gpt-4o-mini", Usage(input_tokens=1000, output_tokens=1000))
        loader.join()
        assert "genai_prices.data" in sys.modules
        assert not [t for t in threading.enumerate() if t.name == "genai_prices:update"]
        print(round(cost.total, 9))
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "0.00075"


def test_library_fallback_for_prices_the_fast_path_cannot_represent(
    book: PriceBook, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_price_data, "compile_rates", lambda price, registry: None)
    usage = SHAPES["cache_write_5m_1h"]
    cost = book.cost("anthropic", "claude-3-5-sonnet-20241022", usage)
    assert cost is not None and cost.source == VERSION
    assert cost.total == pytest.approx(
        library_total(usage, "claude-3-5-sonnet-20241022", "anthropic"), rel=1e-12
    )


def test_invalid_price_data_gives_no_cost(book: PriceBook, monkeypatch: pytest.MonkeyPatch) -> None:
    # A cache-read price without an input price breaks the library's rule that ancestors are priced.
    bad = ModelInfo(
        id="broken", match=ClauseEquals(equals="broken"), prices=ModelPrice(cache_read_mtok=Decimal(1))
    )
    provider = Provider(id="openai", name="OpenAI", api_pattern="", models=[bad])
    monkeypatch.setattr(data_snapshot, "_custom_snapshot", data_snapshot.DataSnapshot([provider], False))
    assert book.cost("openai", "broken", Usage(input_tokens=1, output_tokens=1)) is None


def test_auto_update_is_opt_in_and_new_data_is_picked_up(monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[str] = []

    class FakeUpdatePrices:
        def start(self) -> None:
            started.append("start")

        def stop(self) -> None:
            started.append("stop")

    monkeypatch.setattr(genai_prices.update_prices, "UpdatePrices", FakeUpdatePrices)
    usage = Usage(input_tokens=1_000_000, output_tokens=0)
    PriceBook().preload()
    assert started == []

    book = PriceBook(auto_update=True)
    assert book.cost("openai", "gpt-4o-mini", usage) == Cost(0.15, 0.15, 0.0, 0.0, 0.0, VERSION, None)
    assert started == ["start"]

    cheaper = ModelInfo(
        id="gpt-4o-mini", match=ClauseEquals(equals="gpt-4o-mini"), prices=ModelPrice(input_mtok=Decimal(1))
    )
    provider = Provider(id="openai", name="OpenAI", api_pattern="", models=[cheaper])
    monkeypatch.setattr(data_snapshot, "_custom_snapshot", data_snapshot.DataSnapshot([provider], True))
    updated = book.cost("openai", "gpt-4o-mini", usage)
    assert updated == Cost(1.0, 1.0, 0.0, 0.0, 0.0, f"{VERSION}+auto-update", None)
    assert book.data_version == f"{VERSION}+auto-update"
    book.close()
    assert started == ["start", "stop"]


def test_rerank_search_units_are_priced_only_by_an_override(tmp_path: Path, caplog) -> None:
    rerank = Usage(search_units=3)
    # The price data has token prices for Cohere models but no search-unit prices: no cost, never 0.
    assert PriceBook().cost("cohere", "command-r", rerank) is None
    assert PriceBook().cost("cohere", "rerank-v3.5", rerank) is None
    assert "per_search_unit" in caplog.text
    path = write(
        tmp_path,
        """
        [[price]]
        provider = "cohere"
        model = "rerank-*"
        input_per_mtok = 0
        output_per_mtok = 0
        per_search_unit = 0.002

        [[discount]]
        model = "rerank-english-*"
        multiplier = 0.5
        """,
    )
    book = PriceBook(path)
    assert book.cost("cohere", "rerank-v3.5", rerank) == Cost(
        pytest.approx(0.006), 0.0, 0.0, 0.0, 0.0, "override", None
    )
    discounted = book.cost("cohere", "rerank-english-v3.0", rerank)
    assert discounted is not None and discounted.total == pytest.approx(0.003)
    assert discounted.source == "override+discount"
    # A token-priced call is unaffected by a search-unit price.
    tokens = book.cost("cohere", "rerank-v3.5", Usage(input_tokens=10, output_tokens=0))
    assert tokens is not None and tokens.total == 0.0


def test_invalid_search_unit_price(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        [[price]]
        model = "rerank-v3.5"
        input_per_mtok = 0
        output_per_mtok = 0
        per_search_unit = -1
        """,
    )
    with pytest.raises(ConfigurationError, match=r"price\[0\].*'per_search_unit' must be a number >= 0"):
        PriceBook(path)


# --- 8. quote: the rates a model is priced at, for people and the otel-tokens command -------


def library_price(provider_id: str, model: str) -> ModelPrice:
    info = data_snapshot.get_snapshot().find_provider_model(model, None, provider_id, None)[1]
    price = info.get_prices(NOW)
    assert isinstance(price, ModelPrice)
    return price


def per_mtok(rate: float) -> Decimal:
    """A per-token float rate back as the library's USD per million tokens."""
    return Decimal(repr(round(rate * 1e6, 12)))


def test_quote_gives_the_library_rates_cost_applies(book: PriceBook) -> None:
    quote = book.quote("gpt-4o-mini", "openai")
    price = library_price("openai", "gpt-4o-mini")
    assert quote is not None and quote.rates is not None
    assert (per_mtok(quote.rates.input), per_mtok(quote.rates.cache_read), per_mtok(quote.rates.output)) == (
        price.input_mtok,
        price.cache_read_mtok,
        price.output_mtok,
    )
    assert quote[1:] == ((), VERSION, None, None, None, "gpt-4o-mini", None, None, None)
    usage = Usage(input_tokens=10_000, output_tokens=1_000, cache_read_input_tokens=4_000)
    cost = book.cost("openai", "gpt-4o-mini", usage)
    rates = quote.rates
    assert cost is not None
    assert cost.total == 6_000 * rates.input + 4_000 * rates.cache_read + 1_000 * rates.output


def test_quote_lists_long_context_tiers_lowest_first_with_cache_rates(book: PriceBook) -> None:
    quote = book.quote("claude-sonnet-4-5-20250929", "anthropic")
    price = library_price("anthropic", "claude-sonnet-4-5")
    assert quote is not None and quote.rates is not None
    assert quote.price_model == "claude-sonnet-4-5"
    [(threshold, above)] = quote.tiers
    for rates, band in ((quote.rates, 0), (above, 1)):
        for rate, key in (
            (rates.input, "input_mtok"),
            (rates.cache_read, "cache_read_mtok"),
            (rates.cache_write_5m, "cache_write_mtok"),
            (rates.cache_write_1h, "cache_write_1h_mtok"),
            (rates.output, "output_mtok"),
        ):
            tiered = getattr(price, key)
            assert per_mtok(rate) == (tiered.base if band == 0 else tiered.tiers[0].price), key
    assert threshold == price.input_mtok.tiers[0].start == 200_000
    # Above the threshold every token of the call costs the tier's rates, as cost() bills it.
    cost = book.cost("anthropic", "claude-sonnet-4-5", Usage(input_tokens=200_001, output_tokens=10))
    assert cost is not None and cost.total == pytest.approx(200_001 * above.input + 10 * above.output)


def test_quote_without_a_provider_infers_it_as_for_a_gateway_call(book: PriceBook) -> None:
    by_name = book.quote("claude-sonnet-4-5")
    by_prefix = book.quote("anthropic/claude-sonnet-4-5")
    assert by_name is not None and by_prefix is not None
    assert (by_name.match, by_name.price_provider, by_name.price_model) == (
        "model_name",
        "anthropic",
        "claude-sonnet-4-5",
    )
    assert (by_prefix.match, by_prefix.price_provider) == ("model_prefix", "anthropic")
    direct = book.quote("claude-sonnet-4-5", "anthropic")
    assert direct is not None and direct.rates == by_name.rates == by_prefix.rates


def test_quote_of_an_unknown_model_is_none_and_logs_nothing(
    book: PriceBook, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="otel_tokens"):
        assert book.quote("no-such-model-xyz", "openai") is None
        assert book.quote("no-such-model-xyz") is None
    assert caplog.records == []


def test_quote_at_a_service_tier(book: PriceBook) -> None:
    priority = book.quote("gpt-5", "openai", "priority")
    standard = book.quote("gpt-5", "openai", "default")
    assert priority is not None and standard is not None and priority.rates and standard.rates
    assert (priority.service_tier, standard.service_tier) == ("priority", None)
    assert priority.rates.input == pytest.approx(2 * standard.rates.input)


def test_quote_names_the_override_and_the_discount(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        [[price]]
        provider = "openai"
        model = "gpt-4o*"
        input_per_mtok = 9
        output_per_mtok = 9

        [[price]]
        model = "acme-*"
        input_per_mtok = 1
        output_per_mtok = 2
        per_search_unit = 0.002

        [[discount]]
        model = "acme-*"
        multiplier = 0.5
        """,
    )
    book = PriceBook(path)
    quote = book.quote("acme-private", "vllm")
    assert quote == (
        Rates.with_defaults(0.5e-6, 1e-6, search_unit=0.001),
        (),
        "override+discount",
        None,
        None,
        None,
        None,
        1,
        0.5,
        None,
    )
    library = book.quote("gpt-4o-mini", "azure.ai.openai")  # the provider-bound override does not match
    assert library is not None
    assert (library.source, library.override, library.discount) == (VERSION, None, None)


def test_quote_of_a_time_of_day_price_says_when_it_changes(book: PriceBook) -> None:
    # deepseek-chat: the peak price from 00:30 to 16:30 UTC.
    quote = book.quote("deepseek-chat", "deepseek")
    assert quote is not None
    assert quote.changes_at == datetime(2026, 11, 23, 16, 30, tzinfo=UTC).timestamp()
    steady = book.quote("gpt-4o-mini", "openai")
    assert steady is not None and steady.changes_at is None
