"""FOCUS rows from hand-built usage records: exact costs, the unit-price identity, who is who,
billing periods and what is left out. The FOCUS project's validator runs in
tests/stack/test_focus_validator.py."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from otel_tokens_cli._apportion import apportion
from otel_tokens_cli._focus import FocusResult, LeftOut, billing_period, write_focus
from otel_tokens_cli._focus_columns import CUSTOM_COLUMNS, FOCUS_COLUMNS
from otel_tokens_cli._records import CostBasis, TokenClass, UsageRecord

from otel_tokens.pricing import PriceBook

from ._run import otel_tokens

T0 = datetime(2026, 11, 3, 9, 15, tzinfo=UTC)
IN, READ, W5M, W1H, OUT, UNITS = TokenClass  # uncached input, cache reads, writes, output, search units

# FOCUS 1.3's mandatory Cost and Usage columns: the requirement model's presence rules without
# applicability criteria (CAU-CostAndUsage-D-0xx-M). ProviderName and PublisherName are deprecated
# in 1.3 and still mandatory; ServiceProviderName and HostProviderName are new in 1.3.
MANDATORY_1_3 = {
    "BilledCost",
    "BillingAccountId",
    "BillingAccountName",
    "BillingCurrency",
    "BillingPeriodEnd",
    "BillingPeriodStart",
    "ChargeCategory",
    "ChargeClass",
    "ChargeDescription",
    "ChargePeriodEnd",
    "ChargePeriodStart",
    "ContractedCost",
    "EffectiveCost",
    "HostProviderName",
    "InvoiceIssuerName",
    "ListCost",
    "PricingQuantity",
    "PricingUnit",
    "ProviderName",
    "PublisherName",
    "ServiceCategory",
    "ServiceName",
    "ServiceProviderName",
}
# Conditional columns whose condition holds for per-token usage: usage is measured
# (ConsumedQuantity/Unit), prices are public (ListUnitPrice) and negotiable (ContractedUnitPrice),
# unit-priced (the Sku columns) and tagged (Tags). Recommended: ChargeFrequency, InvoiceId,
# ServiceSubcategory.
CONDITIONAL_AND_RECOMMENDED = {
    "ConsumedQuantity",
    "ConsumedUnit",
    "ListUnitPrice",
    "ContractedUnitPrice",
    "SkuId",
    "SkuPriceId",
    "SkuMeter",
    "SkuPriceDetails",
    "Tags",
    "ChargeFrequency",
    "InvoiceId",
    "ServiceSubcategory",
}
OURS = ["x_CostSource", "x_PricingVersion", "x_EstimatedUsage", "x_Requests", "x_ServerAddress"]


def record(
    tokens: dict[TokenClass, int],
    cost: float,
    class_costs: dict[TokenClass, float] | None = None,
    *,
    start: datetime = T0,
    provider: str = "openai",
    model: str = "gpt-4o-mini",
    **fields: Any,
) -> UsageRecord:
    values: dict[str, Any] = {
        "start": start,
        "end": start + timedelta(seconds=2),
        "service": "shop",
        "provider": provider,
        "host": "api.openai.com",
        "model": model,
        "operation": "chat",
        "tags": (("team", "search"),),
        "requests": 1,
        "tokens": tokens,
        "cost": cost,
        "class_costs": class_costs if class_costs is not None else {},
        "price_source": "genai-prices 0.2.3",
    }
    values.update(fields)
    return UsageRecord(**values)


def focus(records: Iterable[UsageRecord], **options: Any) -> tuple[list[dict[str, str]], FocusResult]:
    out = io.StringIO()
    result = write_focus(records, out, **options)
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert result.rows == len(rows)
    for row in rows:
        assert_identities(row)
    return rows, result


def assert_identities(row: dict[str, str]) -> None:
    """FOCUS's unit-price identities, in decimal arithmetic, and the costs that are one here."""
    quantity = Decimal(row["PricingQuantity"])
    assert Decimal(row["ListUnitPrice"]) * quantity == Decimal(row["ListCost"]), row
    assert Decimal(row["ContractedUnitPrice"]) * quantity == Decimal(row["ContractedCost"]), row
    assert row["BilledCost"] == row["EffectiveCost"] == row["ContractedCost"], row


def by_meter(rows: list[dict[str, str]]) -> dict[str, dict[str, str]]:
    found = {row["SkuMeter"]: row for row in rows}
    assert len(found) == len(rows)
    return found


def costs(rows: list[dict[str, str]]) -> dict[str, tuple[str, str, str]]:
    """SkuMeter -> (BilledCost, ContractedUnitPrice, x_CostSource)."""
    return {
        m: (r["BilledCost"], r["ContractedUnitPrice"], r["x_CostSource"]) for m, r in by_meter(rows).items()
    }


@pytest.fixture
def overrides(tmp_path: Path) -> Path:
    path = tmp_path / "prices.toml"
    path.write_text(
        '[[price]]\nprovider = "openai"\nmodel = "gpt-4o"\ninput_per_mtok = 2.0\noutput_per_mtok = 8.0\n\n'
        '[[price]]\nprovider = "cohere"\nmodel = "rerank-*"\ninput_per_mtok = 0\noutput_per_mtok = 0\n'
        "per_search_unit = 0.002\n\n"
        '[[price]]\nprovider = "openai"\nmodel = "house-model"\ninput_per_mtok = 1.0\noutput_per_mtok = 4.0\n'
        "cache_read_per_mtok = 0.1\n\n"
        '[[discount]]\nprovider = "azure.ai.openai"\nmodel = "*"\nmultiplier = 0.8\n'
    )
    return path


def test_the_columns_are_focus_1_3_s_mandatory_ones_the_applicable_ones_and_ours() -> None:
    rows, _ = focus([record({IN: 1000}, 0.00015, {IN: 0.00015})])
    assert list(rows[0]) == [*FOCUS_COLUMNS, *CUSTOM_COLUMNS]
    assert set(FOCUS_COLUMNS) == MANDATORY_1_3 | CONDITIONAL_AND_RECOMMENDED
    assert list(CUSTOM_COLUMNS) == OURS
    # Nulls where FOCUS allows them: no correction, no billing account name, no invoice.
    assert (rows[0]["ChargeClass"], rows[0]["BillingAccountName"], rows[0]["InvoiceId"]) == ("", "", "")


def test_each_class_is_a_row_with_its_recorded_cost_and_exact_unit_price() -> None:
    rows, result = focus(
        [
            record(
                {IN: 1200, READ: 800, OUT: 300},
                1200 * 0.15e-6 + 800 * 0.075e-6 + 300 * 0.6e-6,
                {IN: 1200 * 0.15e-6, READ: 800 * 0.075e-6, OUT: 300 * 0.6e-6},
                reasoning_tokens=120,
            )
        ]
    )
    assert costs(rows) == {
        "Input Tokens": ("0.00018", "0.15", "recorded"),
        "Cache Read Input Tokens": ("0.00006", "0.075", "recorded"),
        "Output Tokens": ("0.00018", "0.6", "recorded"),
    }
    output = by_meter(rows)["Output Tokens"]
    assert output["ConsumedQuantity"] == "300.0"  # reasoning is part of the output, billed once
    assert (output["ConsumedUnit"], output["PricingUnit"], output["PricingQuantity"]) == (
        "Tokens",
        "1000000 Tokens",
        "0.0003",
    )
    assert output["ListUnitPrice"] == output["ContractedUnitPrice"] == "0.6"
    assert result.billed_cost == Decimal("0.00042")
    assert result.notes == ()
    assert output["ChargeDescription"] == "Output Tokens of gpt-4o-mini"
    assert (output["SkuId"], output["SkuPriceId"]) == (
        "openai/gpt-4o-mini/output",
        "openai/gpt-4o-mini/output:standard",
    )
    assert json.loads(output["SkuPriceDetails"]) == {"x_ModelId": "gpt-4o-mini", "x_ServiceTier": "standard"}
    assert (output["ChargeCategory"], output["ChargeFrequency"], output["BillingCurrency"]) == (
        "Usage",
        "Usage-Based",
        "USD",
    )
    assert (output["ServiceCategory"], output["ServiceSubcategory"]) == (
        "AI and Machine Learning",
        "Generative AI",
    )
    assert (output["x_PricingVersion"], output["x_Requests"], output["x_EstimatedUsage"]) == (
        "genai-prices 0.2.3",
        "1",
        "0",
    )


def test_many_calls_add_up_to_the_recorded_total_to_12_significant_digits() -> None:
    # Float costs summed over many calls carry noise in their last digits; the unit price keeps
    # 12 significant digits and every row's cost is that price times its quantity exactly.
    records = [
        record({IN: 7 * n + 3, OUT: 13 * n + 1}, (7 * n + 3) * 0.15e-6 + (13 * n + 1) * 0.6e-6,
               {IN: (7 * n + 3) * 0.15e-6, OUT: (13 * n + 1) * 0.6e-6})
        for n in range(500)
    ]  # fmt: skip
    rows, result = focus(records)
    assert costs(rows) == {
        "Input Tokens": ("0.1312125", "0.15", "recorded"),  # 874,750 tokens
        "Output Tokens": ("0.97335", "0.6", "recorded"),  # 1,622,250 tokens
    }
    recorded = sum(Decimal(repr(r.cost)) for r in records)
    assert abs(result.billed_cost - recorded) <= recorded * Decimal("1e-12")
    assert by_meter(rows)["Input Tokens"]["x_Requests"] == "500"


def test_cache_writes_split_into_5_minute_and_1_hour_rows_at_their_rates(overrides: Path) -> None:
    # A span records one cost for all cache writes: 1,000 at 5 minutes ($3.75/M) and 2,000 at
    # 1 hour ($6/M) share $0.01575 in proportion to today's rates.
    rows, _ = focus(
        [
            record(
                {IN: 100, W5M: 1000, W1H: 2000, OUT: 50},
                100 * 3e-6 + 1000 * 3.75e-6 + 2000 * 6e-6 + 50 * 15e-6,
                {IN: 100 * 3e-6, OUT: 50 * 15e-6},
                provider="anthropic",
                model="claude-sonnet-4-5",
            )
        ],
        price_book=PriceBook(overrides),
    )
    assert costs(rows) == {
        "Input Tokens": ("0.0003", "3.0", "recorded"),
        "Cache Write Input Tokens": ("0.00375", "3.75", "apportioned"),
        "Cache Write Input Tokens (1-hour TTL)": ("0.012", "6.0", "apportioned"),
        "Output Tokens": ("0.00075", "15.0", "recorded"),
    }


def test_search_units_are_priced_per_unit(overrides: Path) -> None:
    rows, _ = focus(
        [record({UNITS: 3}, 0.006, provider="cohere", model="rerank-v3.5", price_source="override")],
        price_book=PriceBook(overrides),
    )
    [row] = rows
    assert (row["SkuMeter"], row["PricingUnit"], row["ConsumedUnit"]) == ("Search Units",) * 3
    assert (
        row["PricingQuantity"],
        row["ConsumedQuantity"],
        row["ContractedUnitPrice"],
        row["BilledCost"],
    ) == ("3.0", "3.0", "0.002", "0.006")
    # genai-prices has no public search-unit price: the list price is the contracted one.
    assert (row["ListUnitPrice"], row["ListCost"]) == ("0.002", "0.006")


def test_an_override_is_the_contracted_price_and_genai_prices_the_list_price(overrides: Path) -> None:
    # gpt-4o at $2/$8 per million by override; its public price is $2.50/$10 (genai-prices data).
    rows, _ = focus(
        [
            record(
                {IN: 10_000, OUT: 2000},
                10_000 * 2e-6 + 2000 * 8e-6,
                {IN: 10_000 * 2e-6, OUT: 2000 * 8e-6},
                model="gpt-4o",
                price_source="override",
            )
        ],
        price_book=PriceBook(overrides),
    )
    prices = {
        meter: (
            row["ContractedUnitPrice"],
            row["ContractedCost"],
            row["BilledCost"],
            row["ListUnitPrice"],
            row["ListCost"],
        )
        for meter, row in by_meter(rows).items()
    }
    assert prices == {
        "Input Tokens": ("2.0", "0.02", "0.02", "2.5", "0.025"),
        "Output Tokens": ("8.0", "0.016", "0.016", "10.0", "0.02"),
    }
    assert {row["x_PricingVersion"] for row in rows} == {"override"}


def test_a_discount_keeps_the_public_list_price(overrides: Path) -> None:
    rows, _ = focus(
        [
            record(
                {IN: 5000},
                0.8 * 5000 * 2.5e-6,
                {IN: 0.8 * 5000 * 2.5e-6},
                provider="azure.ai.openai",
                host="acme.openai.azure.com",
                model="gpt-4o",
                price_source="genai-prices 0.2.3+discount",
            )
        ],
        price_book=PriceBook(overrides),
    )
    [row] = rows
    assert (row["ContractedUnitPrice"], row["BilledCost"], row["ListUnitPrice"], row["ListCost"]) == (
        "2.0",
        "0.01",
        "2.5",
        "0.0125",
    )
    assert (row["ServiceProviderName"], row["HostProviderName"], row["InvoiceIssuerName"]) == (
        "Microsoft",
    ) * 3
    assert (row["ServiceName"], row["PublisherName"], row["ProviderName"]) == (
        "Azure OpenAI",
        "OpenAI",
        "Microsoft",
    )
    assert (row["BillingAccountId"], row["x_ServerAddress"]) == ("azure.ai.openai", "acme.openai.azure.com")


def test_a_private_model_s_list_price_is_its_contracted_one(overrides: Path) -> None:
    rows, _ = focus(
        [record({IN: 1000}, 0.001, {IN: 0.001}, model="house-model", price_source="override")],
        price_book=PriceBook(overrides),
    )
    [row] = rows
    assert (row["ContractedUnitPrice"], row["ListUnitPrice"], row["ListCost"]) == ("1.0", "1.0", "0.001")


def test_unpriced_calls_get_no_row_and_are_reported() -> None:
    rows, result = focus(
        [
            record({IN: 10, OUT: 5}, 0.0, model="gpt-9", price_source="", unpriced_requests=1),
            record({IN: 20}, 0.0, model="gpt-9", price_source="", unpriced_requests=1),
            record({UNITS: 1}, 0.0, provider="cohere", model="rerank-v3.5", unpriced_requests=1),
            record({IN: 1000}, 0.00015, {IN: 0.00015}),
        ]
    )
    assert [row["SkuMeter"] for row in rows] == ["Input Tokens"]
    assert result.unpriced == (LeftOut("openai", "gpt-9", 2), LeftOut("cohere", "rerank-v3.5", 1))
    assert result.unpriced_calls == 3
    assert result.notes == (
        "3 unpriced calls left out of the FOCUS rows (no recorded cost): "
        "openai/gpt-9 (2), cohere/rerank-v3.5 (1)",
    )


def test_a_metric_series_mixing_priced_and_unpriced_calls_keeps_the_priced_cost() -> None:
    rows, result = focus(
        [record({IN: 1000}, 0.00015, requests=3, unpriced_requests=1, cost_basis=CostBasis.APPORTIONED)]
    )
    [row] = rows
    assert (row["BilledCost"], row["x_Requests"], row["x_CostSource"]) == ("0.00015", "2", "apportioned")
    assert result.unpriced == (LeftOut("openai", "gpt-4o-mini", 1),)


def test_a_metric_series_is_split_at_today_s_rates(overrides: Path) -> None:
    rows, _ = focus(
        [
            record(
                {IN: 3000, READ: 1000, OUT: 400},
                3000 * 1e-6 + 1000 * 0.1e-6 + 400 * 4e-6,
                model="house-model",
                cost_basis=CostBasis.APPORTIONED,
                price_source="",
                requests=4,
                estimated_requests=1,
            )
        ],
        price_book=PriceBook(overrides),
    )
    assert costs(rows) == {
        "Input Tokens": ("0.003", "1.0", "apportioned"),
        "Cache Read Input Tokens": ("0.0001", "0.1", "apportioned"),
        "Output Tokens": ("0.0016", "4.0", "apportioned"),
    }
    assert {(row["x_PricingVersion"], row["x_Requests"], row["x_EstimatedUsage"]) for row in rows} == {
        ("", "4", "0.25")
    }


def test_a_model_the_price_book_does_not_know_is_split_by_token_counts() -> None:
    [row_in, row_out] = focus(
        [record({IN: 300, OUT: 100}, 0.004, model="in-house", price_source="override")]
    )[0]
    assert (row_in["BilledCost"], row_out["BilledCost"]) == ("0.003", "0.001")
    assert (row_in["ContractedUnitPrice"], row_out["ContractedUnitPrice"]) == ("10.0", "10.0")


def test_apportion_keeps_recorded_parts_and_adds_up_to_the_recorded_total() -> None:
    parts = apportion(
        record(
            {IN: 100, OUT: 100},
            0.003,
            {IN: 0.001},
            model="in-house",
        )
    )
    assert parts == {
        IN: (0.001, CostBasis.RECORDED),
        OUT: (pytest.approx(0.002), CostBasis.APPORTIONED),
    }
    # A per-call price beyond every class's cost is spread over all of them.
    parts = apportion(record({IN: 100, OUT: 300}, 0.005, {IN: 0.001, OUT: 0.003}))
    assert sum(part.cost for part in parts.values()) == pytest.approx(0.005)
    assert {part.source for part in parts.values()} == {CostBasis.APPORTIONED}
    # Parts above the total are scaled down to it.
    parts = apportion(record({IN: 100}, 0.001, {IN: 0.002}))
    assert parts == {IN: (pytest.approx(0.001), CostBasis.APPORTIONED)}
    assert apportion(record({}, 0.001)) == {}


def test_a_repriced_record_says_so() -> None:
    rows, _ = focus([record({IN: 1000}, 0.00015, {IN: 0.00015}, cost_basis=CostBasis.REPRICED)])
    assert rows[0]["x_CostSource"] == "repriced"


def test_cost_without_token_counts_is_reported_as_left_out() -> None:
    rows, result = focus([record({}, 0.25)])
    assert rows == []
    assert result.uncarried_cost == Decimal("0.25")
    assert result.notes == (
        "0.25 USD of recorded cost left out of the FOCUS rows: its records have no token counts",
    )


def test_calls_sharing_every_dimension_share_a_row() -> None:
    one = record({IN: 1000}, 0.00015, {IN: 0.00015})
    rows, _ = focus(
        [
            one,
            record({IN: 3000}, 0.00045, {IN: 0.00045}, start=T0 + timedelta(hours=5)),
            record({IN: 1000}, 0.0003, {IN: 0.0003}, service_tier="priority"),
            record({IN: 1000}, 0.00015, {IN: 0.00015}, tags=(("team", "ads"),)),
            record({IN: 1000}, 0.00015, {IN: 0.00015}, start=T0 + timedelta(days=1)),
        ]
    )
    summary = [
        (
            row["ChargePeriodStart"],
            row["SkuPriceId"],
            json.loads(row["Tags"])["team"],
            row["BilledCost"],
            row["x_Requests"],
        )
        for row in rows
    ]
    assert summary == [
        ("2026-11-03T00:00:00Z", "openai/gpt-4o-mini/input:standard", "ads", "0.00015", "1"),
        ("2026-11-03T00:00:00Z", "openai/gpt-4o-mini/input:standard", "search", "0.0006", "2"),
        ("2026-11-03T00:00:00Z", "openai/gpt-4o-mini/input:priority", "search", "0.0003", "1"),
        ("2026-11-04T00:00:00Z", "openai/gpt-4o-mini/input:standard", "search", "0.00015", "1"),
    ]
    priority = rows[2]
    assert (priority["ContractedUnitPrice"], priority["ChargeDescription"]) == (
        "0.3",
        "Input Tokens of gpt-4o-mini (priority tier)",
    )


def test_hourly_charge_periods() -> None:
    rows, _ = focus([record({IN: 1000}, 0.00015)], charge_period=timedelta(hours=1))
    assert (rows[0]["ChargePeriodStart"], rows[0]["ChargePeriodEnd"]) == (
        "2026-11-03T09:00:00Z",
        "2026-11-03T10:00:00Z",
    )
    with pytest.raises(ValueError, match="must divide a day"):
        write_focus([], io.StringIO(), charge_period=timedelta(hours=7))


def test_billing_periods_across_the_new_year() -> None:
    december = datetime(2026, 12, 31, 23, 30, tzinfo=UTC)
    january = datetime(2027, 1, 1, 0, 30, tzinfo=UTC)
    rows, _ = focus([record({IN: 1000}, 0.00015, start=moment) for moment in (december, january)])
    assert [
        (r["ChargePeriodStart"], r["ChargePeriodEnd"], r["BillingPeriodStart"], r["BillingPeriodEnd"])
        for r in rows
    ] == [
        ("2026-12-31T00:00:00Z", "2027-01-01T00:00:00Z", "2026-12-01T00:00:00Z", "2027-01-01T00:00:00Z"),
        ("2027-01-01T00:00:00Z", "2027-01-02T00:00:00Z", "2027-01-01T00:00:00Z", "2027-02-01T00:00:00Z"),
    ]
    rows, _ = focus([record({IN: 1000}, 0.00015, start=january)], billing_period_start_day=15)
    assert (rows[0]["BillingPeriodStart"], rows[0]["BillingPeriodEnd"]) == (
        "2026-12-15T00:00:00Z",
        "2027-01-15T00:00:00Z",
    )
    assert billing_period(datetime(2027, 1, 15, tzinfo=UTC), 15) == (
        datetime(2027, 1, 15, tzinfo=UTC),
        datetime(2027, 2, 15, tzinfo=UTC),
    )
    assert billing_period(datetime(2026, 12, 20, tzinfo=UTC), 15)[1] == datetime(2027, 1, 15, tzinfo=UTC)
    with pytest.raises(ValueError, match="day 1 to 28"):
        write_focus([], io.StringIO(), billing_period_start_day=29)


def test_tags_are_a_json_object_of_the_business_tags_and_the_service() -> None:
    rows, _ = focus([record({IN: 1000}, 0.00015, tags=(("team", "search"), ("feature", "résumé chat")))])
    assert json.loads(rows[0]["Tags"]) == {"feature": "résumé chat", "service.name": "shop", "team": "search"}
    rows, _ = focus([record({IN: 1000}, 0.00015, tags=(), service="")])
    assert rows[0]["Tags"] == "{}"


@pytest.mark.parametrize(
    ("provider", "model", "expected"),
    [
        ("openai", "gpt-4o", ("OpenAI", "OpenAI API", "OpenAI")),
        ("anthropic", "claude-sonnet-4-5", ("Anthropic", "Claude API", "Anthropic")),
        (
            "aws.bedrock",
            "us.anthropic.claude-3-5-haiku-20241022-v1:0",
            ("AWS", "Amazon Bedrock", "Anthropic"),
        ),
        (
            "aws.bedrock",
            "arn:aws:bedrock:us-east-1:123:inference-profile/eu.meta.llama3-70b",
            ("AWS", "Amazon Bedrock", "Meta"),
        ),
        ("gcp.vertex_ai", "gemini-2.5-pro", ("Google", "Vertex AI", "Google")),
        ("groq", "llama-3.3-70b-versatile", ("Groq", "GroqCloud", "Meta")),
        ("openrouter", "mistralai/mistral-large", ("OpenRouter", "OpenRouter", "Mistral AI")),
        ("ollama", "qwen2.5:7b", ("Self-hosted", "Ollama", "Qwen")),
    ],
)
def test_who_sells_serves_and_made_the_model(
    provider: str, model: str, expected: tuple[str, str, str]
) -> None:
    rows, _ = focus([record({IN: 1000}, 0.001, {IN: 0.001}, provider=provider, model=model)])
    row = rows[0]
    assert (row["ServiceProviderName"], row["ServiceName"], row["PublisherName"]) == expected
    seller = expected[0]
    assert (row["HostProviderName"], row["InvoiceIssuerName"], row["ProviderName"]) == (
        seller,
        seller,
        seller,
    )


def test_the_report_command_writes_the_demo_s_spans_as_focus_rows(demo_ledger: Path) -> None:
    result = otel_tokens("report", "--ledger", str(demo_ledger), "--last", "2d", "--format", "focus")
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert rows and list(rows[0]) == [*FOCUS_COLUMNS, *CUSTOM_COLUMNS]
    for row in rows:
        assert_identities(row)
    assert {row["ServiceProviderName"] for row in rows} >= {"OpenAI", "Anthropic", "AWS"}
    # The demo's unpriced calls (a rerank without a search-unit price, a fine-tuned model): no row.
    assert "unpriced calls left out of the FOCUS rows" in result.stderr
