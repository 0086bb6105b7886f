"""The spend dashboard's guardrail rows: budgets, runaway breakers and the approved-model catalogue.

Budgets and breakers are read from the gauges the SDK exports per budget (or breaker) and group; every
process sharing a budget store exports the same series, so `fleet` keeps the highest report of each.
The counters (decisions, threshold crossings, transitions, store errors, provider caps) count events
per process and are summed.
"""

from __future__ import annotations

from _panels import LIMIT_STEPS, RATIO, USD, Board, target, thresholds
from _promql import (
    APPROVED,
    BREAKER_ID,
    BREAKER_STATE,
    BREAKER_STATUS,
    BREAKER_TRANSITIONS,
    BUDGET_ID,
    BUDGET_LIMIT,
    BUDGET_RESERVED,
    BUDGET_SPEND,
    BUDGET_UNIT,
    COST,
    COST_CENTER,
    CROSSINGS,
    DECISION,
    DECISIONS,
    FEATURE,
    JOB_FILTER,
    LIMIT_CODE,
    MODEL,
    PROJECT,
    PROVIDER,
    PROVIDER_LIMITS,
    SPEND,
    STORE_ERROR,
    STORE_ERRORS,
    TEAM,
    THRESHOLD,
    by,
    calls,
    fleet,
    over_range,
    ratio,
    utilisation,
)
from grafana_foundation_sdk.builders import common as common_builders
from grafana_foundation_sdk.builders import statetimeline
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as model

GROUP_COLUMNS = {TEAM: "Team", PROJECT: "Project", FEATURE: "Feature", COST_CENTER: "Cost center"}
# otel_tokens.breaker.status: 0 closed, 1 half-open, 2 open.
BREAKER_STATES = ((0, "closed", "green"), (1, "half-open", "orange"), (2, "open", "red"))


def budget_row(board: Board) -> None:
    job = f"{{{JOB_FILTER}}}"
    board.row("Budgets")
    board.bars(
        "Budget utilisation",
        "How much of its limit has each budget used in its current window, per group "
        "(settled spend / limit)?",
        [(f"sort_desc({utilisation(BUDGET_UNIT)})", "")],
        RATIO,
        (10, 9),
        steps=LIMIT_STEPS,
        maximum=1.0,
    )
    board.table(
        "Budget spend, limit and calls in flight",
        "For each budget and group: what is spent, what is the limit, what do calls in flight hold, "
        "and what share is used (USD or tokens, as the Unit column says)?",
        [fleet(BUDGET_SPEND), fleet(BUDGET_LIMIT), fleet(BUDGET_RESERVED), utilisation()],
        "short",
        {
            BUDGET_ID: "Budget",
            BUDGET_UNIT: "Unit",
            **GROUP_COLUMNS,
            "Value #A": "Spent",
            "Value #B": "Limit",
            "Value #C": "Held by calls in flight",
            "Value #D": "Used",
        },
        "Used",
        (14, 9),
        ratio_columns=("Used",),
    )
    board.graph(
        "Guardrail decisions",
        "Which budgets, breakers and catalogues are warning about, blocking or downgrading calls, "
        "and how often?",
        [
            (
                f"sum by ({by((BUDGET_ID, DECISION))}) (rate({DECISIONS}{job}[$__rate_interval])) * 60",
                f"{{{{{BUDGET_ID}}}}} {{{{{DECISION}}}}}",
            )
        ],
        "reqpm",
        axis="calls per minute",
    )
    board.graph(
        "Held by calls in flight",
        "How much of each budget do calls that have not finished yet hold (their worst-case cost)?",
        [
            (
                f"sum by ({by((BUDGET_ID, BUDGET_UNIT))}) ({fleet(BUDGET_RESERVED)})",
                f"{{{{{BUDGET_ID}}}}} ({{{{{BUDGET_UNIT}}}}})",
            )
        ],
        "short",
    )
    board.table(
        "Budget thresholds crossed",
        "Which budgets reached 50%, 80% or 100% of their limit over the range (once per group and window)?",
        [f"sum by ({by((BUDGET_ID, THRESHOLD))}) ({over_range(CROSSINGS + job)})"],
        "short",
        {BUDGET_ID: "Budget", THRESHOLD: "Threshold", "Value": "Crossings"},
        "Crossings",
        (8, 7),
    )
    provider_caps = calls(PROVIDER_LIMITS)  # a failed call's points: every call label
    blocked = DECISIONS + f'{{{JOB_FILTER}, {DECISION}="blocked"}}'
    board.bars(
        "Calls refused: our caps vs the provider's",
        "How many calls did our guardrails block, beside those the provider's own spending cap refused "
        "(by provider and error code)?",
        [
            (f"sort_desc(sum by ({BUDGET_ID}) ({over_range(blocked)}))", f"ours: {{{{{BUDGET_ID}}}}}"),
            (
                f"sort_desc(sum by ({by((PROVIDER, LIMIT_CODE))}) ({over_range(provider_caps)}))",
                f"{{{{{PROVIDER}}}}}: {{{{{LIMIT_CODE}}}}}",
            ),
        ],
        "short",
        (10, 7),
    )
    board.graph(
        "Budget store errors",
        "Is the shared budget store failing? Meanwhile each budget's fail mode applies: "
        "open lets calls through unchecked, closed refuses them.",
        [
            (
                f"sum by ({by(('job', STORE_ERROR))}) (rate({STORE_ERRORS}{job}[$__rate_interval])) * 60",
                f"{{{{job}}}} {{{{{STORE_ERROR}}}}}",
            )
        ],
        "cpm",
        (6, 7),
        axis="errors per minute",
    )


def breaker_and_catalogue_row(board: Board) -> None:
    board.row("Runaway breakers and approved models")
    board.add(
        breaker_timeline(),
        "Breaker state",
        "Which runaway breakers opened, for which group, and when did they half-open and close again?",
        (16, 8),
        "none",
        False,
    )
    transitions = BREAKER_TRANSITIONS + f"{{{JOB_FILTER}}}"
    board.table(
        "Breaker transitions",
        "How often did each breaker change state over the range (a short open can fall between two exports)?",
        [f"sum by ({by((BREAKER_ID, BREAKER_STATE))}) ({over_range(transitions)})"],
        "short",
        {BREAKER_ID: "Breaker", BREAKER_STATE: "State entered", "Value": "Transitions"},
        "Transitions",
        (8, 8),
    )
    unapproved = calls(COST + "_sum", f'{APPROVED}="false"')
    board.stat(
        "Spend on unapproved models",
        "What share of spend went to models an approved-model catalogue does not approve?",
        ratio(f"sum({over_range(unapproved)})", SPEND),
        RATIO,
        (6, 7),
        thresholds((None, "green"), (0.01, "orange"), (0.1, "red")),
    )
    spenders = (PROVIDER, MODEL, TEAM, FEATURE)
    board.table(
        "Unapproved models",
        "Which unapproved models did calls use over the range, for which team and feature, at what cost?",
        [f"sum by ({by(spenders)}) ({over_range(unapproved)})"],
        USD,
        {PROVIDER: "Provider", MODEL: "Model", TEAM: "Team", FEATURE: "Feature", "Value": "Spend"},
        "Spend",
        (18, 7),
    )


def breaker_timeline() -> statetimeline.Panel:
    """One lane per breaker and group, coloured by its state."""
    return (
        statetimeline.Panel()
        .targets([target(fleet(BREAKER_STATUS), "", "A", instant=False)])
        .mappings(
            [
                model.ValueMap(
                    options={
                        str(value): model.ValueMappingResult(text=text, color=color, index=value)
                        for value, text, color in BREAKER_STATES
                    }
                )
            ]
        )
        .thresholds(thresholds((None, "green")))
        .min(0)
        .max(2)
        .show_value(common.VisibilityMode.NEVER)
        .merge_values(True)
        # What the SDK's model fills in when decoding: set here, the JSON is a fixed point of the model.
        .line_width(0)
        .fill_opacity(70)
        .legend(
            common_builders.VizLegendOptions()
            .display_mode(common.LegendDisplayMode.LIST)
            .placement(common.LegendPlacement.BOTTOM)
            .show_legend(True)
        )
    )
