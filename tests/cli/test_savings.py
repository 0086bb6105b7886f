"""Savings recommendations over synthetic usage records with answers computed independently: from
genai-prices' published rates (USD per million tokens) and its own Decimal calculation, never from
the code under test."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import genai_prices
import pytest
from otel_tokens_cli._model_catalog import ModelCatalog
from otel_tokens_cli._prompt_caching import anthropic_minimum
from otel_tokens_cli._records import TokenClass, UsageRecord
from otel_tokens_cli._savings import MONTH_DAYS, Options, recommend
from otel_tokens_cli._traffic import group_label

from otel_tokens.pricing import PriceBook

START = datetime(2026, 11, 1, tzinfo=UTC)
END = datetime(2026, 12, 1, tzinfo=UTC)
NOW = datetime(2026, 12, 7, tzinfo=UTC)
DAYS = 30.0


def call(
    model: str,
    *,
    provider: str = "openai",
    feature: str | None = "search",
    team: str | None = "growth",
    input_tokens: int = 1000,
    cache_read: int = 0,
    output_tokens: int = 100,
    when: datetime = START,
    cost: float | None = 0.01,
    calls: int = 1,
    sizes: tuple[tuple[int, int], ...] | None = None,
) -> UsageRecord:
    """A record as the ledger reads a span (``calls`` 1, exact size) or, with ``calls`` and
    ``sizes``, as a metric series with bucket bounds."""
    tags = tuple(sorted((k, v) for k, v in (("feature", feature), ("team", team)) if v is not None))
    return UsageRecord(
        start=when,
        end=when + timedelta(seconds=2),
        service="shop",
        provider=provider,
        host="api.example.com",
        model=model,
        operation="chat",
        tags=tags,
        requests=calls,
        tokens={
            TokenClass.INPUT: input_tokens - cache_read,
            TokenClass.CACHE_READ: cache_read,
            TokenClass.OUTPUT: output_tokens,
        },
        cost=cost or 0.0,
        unpriced_requests=0 if cost is not None else calls,
        input_sizes=sizes if sizes is not None else ((input_tokens, 1),),
    )


def library_cost(
    model: str, provider: str, input_tokens: int, cache_read: int, output_tokens: int
) -> Decimal:
    """genai-prices' own Decimal price of one call."""
    usage = genai_prices.Usage(
        input_tokens=input_tokens, cache_read_tokens=cache_read, output_tokens=output_tokens
    )
    return genai_prices.calc_price(usage, model_ref=model, provider_id=provider).total_price


def run(records, previous=(), **options):
    return recommend(
        records,
        list(previous),
        start=START,
        end=END,
        book=PriceBook(),
        catalog=ModelCatalog(),
        options=Options(**options),
        now=NOW,
    )


# (input, cached, output) of three calls of one feature.
CALLS = ((12_000, 4_000, 700), (3_500, 0, 1_250), (40_000, 32_000, 90))


def search_records(model: str = "gpt-4o") -> list[UsageRecord]:
    return [
        call(model, input_tokens=i, cache_read=c, output_tokens=o, when=START + timedelta(days=n))
        for n, (i, c, o) in enumerate(CALLS)
    ]


# -- cheaper models -------------------------------------------------------------------------------


def test_gpt_4o_to_gpt_4o_mini_saves_what_the_published_rates_say():
    # Published rates, USD per million tokens: gpt-4o input 2.50, cached 1.25, output 10;
    # gpt-4o-mini 0.15, 0.075, 0.60.
    def priced(rates: tuple[str, str, str]) -> Decimal:
        rate_in, rate_cached, rate_out = map(Decimal, rates)
        return sum(
            ((i - c) * rate_in + c * rate_cached + o * rate_out) / 1_000_000 for i, c, o in CALLS
        ) or Decimal(0)

    current, mini = priced(("2.50", "1.25", "10")), priced(("0.15", "0.075", "0.60"))
    # The same answer from genai-prices' own calculation: the rates above are the library's.
    assert current == sum(library_cost("gpt-4o", "openai", *c) for c in CALLS)
    assert mini == sum(library_cost("gpt-4o-mini", "openai", *c) for c in CALLS)
    saving = current - mini

    found = run(search_records(), candidates=("gpt-4o-mini",))

    (switch,) = found.switches
    assert (switch.label, switch.provider, switch.model) == (("feature", "search"), "openai", "gpt-4o")
    assert switch.current_basis == "repriced"
    assert switch.current_cost == pytest.approx(float(current), rel=1e-12)
    (candidate,) = switch.candidates
    assert candidate.model == "gpt-4o-mini"
    assert candidate.cost == pytest.approx(float(mini), rel=1e-12)
    assert candidate.saving == pytest.approx(float(saving), rel=1e-12)
    assert candidate.saving_per_month == pytest.approx(float(saving) * MONTH_DAYS / DAYS, rel=1e-12)
    assert candidate.saving_share == pytest.approx(float(saving / current), rel=1e-12)
    assert switch.evidence.calls == 3
    assert switch.evidence.input_tokens == sum(i for i, _, _ in CALLS)
    assert switch.evidence.output_tokens == sum(o for _, _, o in CALLS)
    assert switch.evidence.cost == pytest.approx(0.03)  # as recorded


def test_a_metric_series_of_several_calls_is_priced_per_mean_call():
    # Three calls pooled in one record (a metric series): priced as three calls of a third each
    # (here exact thirds), the same as three spans.
    pooled = call(
        "gpt-4o", input_tokens=30_000, cache_read=3_000, output_tokens=1_500, calls=3, sizes=((16384, 3),)
    )
    spans = [call("gpt-4o", input_tokens=10_000, cache_read=1_000, output_tokens=500) for _ in range(3)]
    (by_series,) = run([pooled], candidates=("gpt-4o-mini",)).switches
    (by_spans,) = run(spans, candidates=("gpt-4o-mini",)).switches
    assert by_series.candidates[0].saving == pytest.approx(by_spans.candidates[0].saving, rel=1e-12)
    assert by_series.current_cost == pytest.approx(by_spans.current_cost, rel=1e-12)


def test_candidates_are_ordered_by_saving_then_name():
    # Published input/cached/output rates: gpt-4.1-nano 0.10/0.025/0.40, gpt-4o-mini 0.15/0.075/0.60,
    # gpt-4.1-mini 0.40/0.10/1.60, gpt-4.1 2.00/0.50/8.00: the saving falls in that order.
    found = run(search_records(), candidates=("gpt-4.1", "gpt-4o-mini", "gpt-4.1-nano", "gpt-4.1-mini"))
    (switch,) = found.switches
    assert [c.model for c in switch.candidates] == ["gpt-4.1-nano", "gpt-4o-mini", "gpt-4.1-mini", "gpt-4.1"]
    savings = [c.saving for c in switch.candidates]
    assert savings == sorted(savings, reverse=True)
    for candidate in switch.candidates:
        expected = sum(
            library_cost("gpt-4o", "openai", *c) - library_cost(candidate.model, "openai", *c) for c in CALLS
        )
        assert candidate.saving == pytest.approx(float(expected), rel=1e-12)


def test_family_candidates_are_cheaper_text_models_of_the_same_provider():
    found = run(search_records(), max_candidates=5)
    (switch,) = found.switches
    names = [c.model for c in switch.candidates]
    assert len(names) == 5 and "gpt-4o" not in names
    assert all(c.saving > 0 for c in switch.candidates)
    assert [c.saving for c in switch.candidates] == sorted(
        (c.saving for c in switch.candidates), reverse=True
    )
    family = ModelCatalog().family("openai", "gpt-4o")
    assert "gpt-4o-mini" in family and "gpt-4.1-nano" in family
    for left_out in ("gpt-4o", "text-embedding-3-small", "gpt-4o-mini-audio-preview", "gpt-4o-mini-tts",
                     "babbage-002", "ft:gpt-4o-mini", "gpt-image-1"):  # fmt: skip
        assert left_out not in family
    # Embeddings are compared with embeddings only.
    assert ModelCatalog().family("openai", "text-embedding-3-large") == [
        "text-embedding-3-small",
        "text-embedding-ada-002",
    ]


def test_an_explicit_dearer_candidate_is_shown_with_a_negative_saving():
    (switch,) = run(search_records("gpt-4o-mini"), candidates=("gpt-4o", "no-such-model")).switches
    (candidate,) = switch.candidates
    assert candidate.model == "gpt-4o" and candidate.saving < 0
    assert switch.unpriced_candidates == ("no-such-model",)


def test_context_fit_is_exact_from_spans():
    sizes = (100_000, 150_000, 120_000, 128_000)
    records = [call("gpt-4.1", input_tokens=size, output_tokens=10) for size in sizes]
    (switch,) = run(records, candidates=("gpt-4o-mini",)).switches
    fit = switch.candidates[0].context
    # gpt-4o-mini's context window in genai-prices is 128,000 tokens: three of the four fit.
    assert (fit.window, fit.fitting, fit.known, fit.exact, fit.share) == (128_000, 3, 4, True, 0.75)


def test_context_fit_is_a_lower_bound_from_histogram_buckets():
    # A metric series: 3 calls, one in the bucket up to 65,536 tokens, two up to 262,144.
    series = call("gpt-4.1", input_tokens=400_000, calls=3, sizes=((65_536, 1), (262_144, 2)))
    (switch,) = run([series], candidates=("gpt-4o-mini",)).switches
    fit = switch.candidates[0].context
    assert (fit.fitting, fit.known, fit.exact) == (1, 3, False)
    assert fit.share == pytest.approx(1 / 3)


def test_a_model_without_a_context_window_in_the_data_says_unknown():
    (switch,) = run(search_records(), candidates=("gpt-4.5-preview",)).switches
    assert switch.candidates[0].context.window is None and switch.candidates[0].context.share is None


def test_groups_are_by_feature_else_team_else_untagged():
    assert group_label(call("m"), ("feature", "team")) == ("feature", "search")
    assert group_label(call("m", feature=None), ("feature", "team")) == ("team", "growth")
    assert group_label(call("m", feature=None, team=None), ("feature", "team")) == ("", "")
    assert group_label(call("m"), ("team",)) == ("team", "growth")


# -- prompt caching -------------------------------------------------------------------------------


def sonnet_calls(calls: int = 10, size: int = 8_000, cache_read: int = 0) -> list[UsageRecord]:
    return [
        call(
            "claude-sonnet-4-0",
            provider="anthropic",
            feature="agent",
            input_tokens=size,
            cache_read=cache_read,
            output_tokens=200,
            when=START + timedelta(hours=n),
        )
        for n in range(calls)
    ]


def test_anthropic_caching_break_even_and_saving():
    # claude-sonnet-4-0, USD per million: input 3, cache read 0.30 (0.1x), 5-minute write 3.75
    # (1.25x), 1-hour write 6 (2x), as Anthropic documents and genai-prices lists them.
    prices = genai_prices.data_snapshot.get_snapshot().find_provider_model(
        "claude-sonnet-4-0", None, "anthropic", None
    )
    rates = prices[1].get_prices(NOW)
    assert [rates.input_mtok, rates.cache_read_mtok, rates.cache_write_mtok, rates.cache_write_1h_mtok] == [
        Decimal(text) for text in ("3", "0.3", "3.75", "6")
    ]
    found = run(sonnet_calls(), prefix_share=0.5, reads_per_write=10)
    (item,) = found.caching
    assert (item.rule, item.minimum, item.minimum_documented) == ("anthropic", 1024, True)
    assert (item.eligible_calls, item.known_calls, item.exact, item.read_ratio) == (10, 10, True, 0.0)
    prefix = 0.5 * 10 * 8_000
    assert item.prefix_tokens == prefix
    five, hour = item.scenarios
    assert five.ttl == "5m" and hour.ttl == "1h"
    # Break-even reads per write N: (N + 1) x input = write + N x read.
    assert five.break_even_reads == pytest.approx((3.75 - 3) / (3 - 0.3))  # 0.28: one read pays
    assert hour.break_even_reads == pytest.approx((6 - 3) / (3 - 0.3))  # 1.11: two reads pay
    assert (five.reads_needed, hour.reads_needed) == (1, 2)
    assert five.saving == pytest.approx(prefix * (3 - (3.75 + 10 * 0.3) / 11) / 1e6)
    assert hour.saving == pytest.approx(prefix * (3 - (6 + 10 * 0.3) / 11) / 1e6)
    assert five.saving_per_month == pytest.approx(five.saving * MONTH_DAYS / DAYS)


def test_openai_caching_is_automatic_with_free_writes():
    records = [call("gpt-4o", input_tokens=5_000, output_tokens=100) for _ in range(4)]
    (item,) = run(records, prefix_share=0.5, reads_per_write=3).caching
    (automatic,) = item.scenarios
    assert (item.rule, item.minimum, automatic.ttl) == ("openai", 1024, "automatic")
    assert (automatic.break_even_reads, automatic.reads_needed) == (0.0, 1)
    # gpt-4o: input 2.50, cached 1.25 per million; 3 of every 4 prefix tokens read.
    assert automatic.saving == pytest.approx(0.5 * 20_000 * 3 / 4 * (2.5 - 1.25) / 1e6)


def test_a_prefix_under_the_minimum_is_not_eligible():
    # claude-3-haiku caches from 2,048 tokens: a 3,000-token prompt's half is too short.
    short = [call("claude-3-haiku", provider="anthropic", input_tokens=3_000) for _ in range(5)]
    assert run(short, prefix_share=0.5).caching == []
    long = [call("claude-3-haiku", provider="anthropic", input_tokens=5_000) for _ in range(5)]
    (item,) = run(long, prefix_share=0.5).caching
    assert (item.minimum, item.eligible_calls) == (2048, 5)


def test_a_group_already_reading_from_the_cache_is_not_flagged():
    assert run(sonnet_calls(cache_read=4_000)).caching == []


def test_anthropic_minimums_by_model_name():
    assert anthropic_minimum("claude-sonnet-4-5-20250929") == (1024, True)
    assert anthropic_minimum("claude-haiku-4-5") == (4096, True)
    assert anthropic_minimum("claude-3-5-haiku-latest") == (2048, True)
    assert anthropic_minimum("us.anthropic.claude-3-haiku-20240307-v1:0") == (2048, True)
    assert anthropic_minimum("claude-3-5-sonnet@20240620") == (1024, True)
    assert anthropic_minimum("claude-opus-4-20250514") == (1024, True)
    assert anthropic_minimum("claude-opus-4-6") == (4096, True)
    assert anthropic_minimum("claude-sonnet-9") == (4096, False)  # not documented: the largest


# -- unpriced models and jumps -------------------------------------------------------------------


def test_an_unpriced_model_is_recommended_an_override_with_the_command_to_check_it():
    records = [*search_records(), call("acme-llm-7", cost=None, input_tokens=900, output_tokens=50, calls=2,
                                        sizes=((900, 2),))]  # fmt: skip
    found = run(records)
    (item,) = found.unpriced
    assert (item.provider, item.model, item.calls, item.input_tokens, item.output_tokens) == (
        "openai", "acme-llm-7", 2, 900, 50,
    )  # fmt: skip
    assert item.groups == ("feature=search",)
    assert item.command == "otel-tokens prices acme-llm-7 --provider openai"
    assert item.priced_now is None
    assert all(switch.model != "acme-llm-7" for switch in found.switches)


def steady(feature: str, calls: int, day0: datetime, output_tokens: int = 100) -> list[UsageRecord]:
    return [
        call("gpt-4o-mini", feature=feature, input_tokens=1000, output_tokens=output_tokens,
             when=day0 + timedelta(hours=n))
        for n in range(calls)
    ]  # fmt: skip


def test_ratio_and_call_rate_jumps_are_flagged_and_a_steady_feature_is_not():
    before = START - timedelta(days=30)
    previous = steady("chat", 30, before) + steady("summarise", 30, before) + steady("agent", 30, before)
    current = (
        steady("chat", 30, START)  # steady
        + steady("summarise", 30, START, output_tokens=300)  # output/input 0.1 -> 0.3
        + steady("agent", 90, START)  # calls x3
    )
    found = run(current, previous, ratio_jump=1.5, rate_jump=2.0, min_calls=20)
    jumps = {(jump.label[1], jump.kind): jump for jump in found.jumps}
    assert set(jumps) == {("summarise", "output/input ratio"), ("agent", "call rate")}
    ratio = jumps["summarise", "output/input ratio"]
    assert (ratio.before, ratio.now, ratio.factor) == pytest.approx((0.1, 0.3, 3.0))
    rate = jumps["agent", "call rate"]
    assert (rate.before, rate.now, rate.factor) == pytest.approx((30 / DAYS, 90 / DAYS, 3.0))
    assert (rate.previous.calls, rate.evidence.calls) == (30, 90)


def test_jumps_need_enough_calls_and_count_the_period_before_from_its_first_call():
    before = START - timedelta(days=30)
    # Only 10 calls before: below --min-calls 20, not compared.
    found = run(steady("agent", 90, START), steady("agent", 10, before), min_calls=20)
    assert found.jumps == []
    # The source reaches back 10 days only: 30 calls in 10 days is the same rate as 90 in 30.
    found = run(steady("agent", 90, START), steady("agent", 30, START - timedelta(days=10)), min_calls=20)
    assert found.jumps == [] and found.previous_days == pytest.approx(10)
