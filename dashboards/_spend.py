"""The spend dashboard: month to date and forecast, budgets and guardrails, allocation by tag, price
coverage, unit costs."""

from __future__ import annotations

from _guardrails import breaker_and_catalogue_row, budget_row
from _panels import (
    GREEN,
    RATIO,
    USD,
    Board,
    group_by_variable,
    organize,
    target,
    thresholds,
)
from _promql import (
    COST,
    COST_CENTER,
    FEATURE,
    FOLDED,
    FORECAST,
    MODEL,
    PROJECT,
    PROVIDER,
    SPEND,
    TEAM,
    TOKENS,
    UNPRICED,
    by,
    calls,
    none_label,
    over_range,
    quantile_over_range,
    quantile_rate,
    ratio,
)
from grafana_foundation_sdk.builders import barchart
from grafana_foundation_sdk.builders import dashboard as dashboard_builders
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as model


def spend_dashboard() -> dashboard_builders.Dashboard:
    board = Board(
        "otel-tokens: LLM spend",
        "otel-tokens-spend",
        "LLM spend in USD: month to date and forecast, budgets and guardrails, allocation by business tag, "
        "price coverage, unit costs.",
    )
    board.builder = board.builder.with_variable(group_by_variable())
    cost = calls(COST + "_sum")
    group = "$group_by"

    board.row("This month (UTC)")
    board.stat(
        "Spend this month",
        "How much have the selected calls cost since the 1st of the month (UTC)?",
        f"{SPEND} or vector(0)",
        USD,
        (12, 5),
        month=True,
    )
    board.stat(
        "Month-end forecast",
        "Where will this month's spend land if the last 24 hours' burn rate holds?",
        FORECAST,
        USD,
        (12, 5),
        month=True,
    )

    budget_row(board)
    breaker_and_catalogue_row(board)

    board.row("Spend over time")
    board.graph(
        f"Spend rate by {group}",
        "Which team, project, feature, cost center, model or provider is spending, and how fast?",
        [
            (
                none_label(f"sum by ({group}) (rate({cost}[$__rate_interval])) * 3600", group),
                f"{{{{{group}}}}}",
            )
        ],
        USD,
        (16, 9),
        axis="USD per hour",
    )
    board.bars(
        f"Spend this month by {group}",
        "How is this month's spend split across the chosen dimension?",
        [(f"sort_desc({none_label(f'sum by ({group}) ({over_range(cost)})', group)})", f"{{{{{group}}}}}")],
        USD,
        (8, 9),
        month=True,
    )
    spender = (TEAM, PROJECT, FEATURE, COST_CENTER, PROVIDER, MODEL)
    board.table(
        "Top spenders",
        "Which ten team, project, feature, cost center, provider and model combinations cost the most?",
        [f"topk(10, sum by ({by(spender)}) ({over_range(cost)}))"],
        USD,
        {**dict(zip(spender, SPENDER_COLUMNS, strict=True)), "Value": "Spend"},
        "Spend",
    )

    board.row("Allocation and price coverage")
    untagged = calls(COST + "_sum", f'{TEAM}=""')
    board.stat(
        "Spend with no team tag",
        "What share of spend cannot be charged back to a team (0 is perfect allocation)?",
        ratio(f"sum({over_range(untagged)})", SPEND),
        RATIO,
        (4, 7),
        thresholds((None, "green"), (0.05, "orange"), (0.2, "red")),
    )
    board.graph(
        "Spend with no team tag over time",
        "Is allocation getting better or worse (untagged share of spend per rate window)?",
        [
            (
                ratio(f"sum(rate({untagged}[$__rate_interval]))", f"sum(rate({cost}[$__rate_interval]))"),
                "untagged share",
            )
        ],
        RATIO,
        (8, 7),
    )
    unpriced = calls(UNPRICED)
    board.stat(
        "Calls on unpriced models",
        "How many calls used a model with no known price, so their cost is missing from every USD panel?",
        f"sum({over_range(unpriced)}) or vector(0)",
        "short",
        (4, 7),
        thresholds((None, "green"), (1, "red")),
    )
    board.table(
        "Unpriced models",
        "Which provider and model had calls without a price (give them a price override)?",
        [f"sum by ({PROVIDER}, {MODEL}) ({over_range(unpriced)})"],
        "short",
        {PROVIDER: "Provider", MODEL: "Model", "Value": "Calls"},
        "Calls",
        (8, 7),
    )
    folded = FOLDED + '{job=~"$job"}'  # counted per tag key, without the call's attributes
    board.stat(
        "Tag values folded into __overflow__",
        "Did a tag key exceed its cardinality limit, so its extra values were merged on metrics?",
        f"sum by (otel_tokens_tag_key) ({over_range(folded)}) or vector(0)",
        "short",
        (24, 4),
        thresholds((None, "green"), (1, "orange")),
        legend="{{otel_tokens_tag_key}}",
    )

    board.row("Unit costs")
    feature = (FEATURE,)
    board.graph(
        "Cost per response by feature (p50, p95)",
        "What does one call cost for each feature, typically (p50) and at the expensive end (p95)?",
        [
            (none_label(quantile_rate(0.5, COST, feature), FEATURE), f"p50 {{{{{FEATURE}}}}}"),
            (none_label(quantile_rate(0.95, COST, feature), FEATURE), f"p95 {{{{{FEATURE}}}}}"),
        ],
        USD,
    )
    board.table(
        "Cost per response by feature over the range",
        "Which features have the most expensive calls over the whole range (p50 and p95 per call)?",
        [quantile_over_range(0.5, COST, feature), quantile_over_range(0.95, COST, feature)],
        USD,
        {FEATURE: "Feature", "Value #A": "p50 per call", "Value #B": "p95 per call"},
        "p95 per call",
        (12, 8),
    )
    board.add(
        unit_price_chart(cost),
        "Cost per million tokens by provider and model: average and peak",
        "Which provider and model give the cheapest tokens, on one USD scale (average, worst rate window)?",
        (24, 10),
        USD,
        False,
    )
    return board.builder


SPENDER_COLUMNS = ("Team", "Project", "Feature", "Cost center", "Provider", "Model")


def unit_price_chart(cost: str) -> barchart.Panel:
    """USD per million tokens (input and output) for each provider and model: the average over the range
    and the peak of any rate window, as two bars on one axis."""
    pair = by((PROVIDER, MODEL))
    tokens = calls(TOKENS + "_sum")
    average = f"sum by ({pair}) ({over_range(cost)}) / (sum by ({pair}) ({over_range(tokens)}) > 0) * 1e6"
    peak = (
        f"max_over_time((sum by ({pair}) (rate({cost}[$__rate_interval]))"
        f" / (sum by ({pair}) (rate({tokens}[$__rate_interval])) > 0) * 1e6)[$__range:$__interval])"
    )
    joined = f'"provider_model", " / ", "{PROVIDER}", "{MODEL}"'
    return (
        barchart.Panel()
        .targets(
            [
                target(f"label_join({average}, {joined})", "", "A", instant=True, table_format=True),
                target(f"label_join({peak}, {joined})", "", "B", instant=True, table_format=True),
            ]
        )
        .with_transformation(model.DataTransformerConfig(id_val="merge", options={}))
        .with_transformation(
            organize(
                {"Time": True, PROVIDER: True, MODEL: True},
                {"provider_model": "Provider / model", "Value #A": "Average", "Value #B": "Peak"},
            )
        )
        .x_field("Provider / model")
        .orientation(common.VizOrientation.HORIZONTAL)
        .show_value(common.VisibilityMode.AUTO)
        .thresholds(GREEN)
        .min(0)
        # What the SDK's model fills in when decoding: set here, the JSON is a fixed point of the model.
        .line_width(1)
        .fill_opacity(80)
        .gradient_mode(common.GraphGradientMode.NONE)
    )
