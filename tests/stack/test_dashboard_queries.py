"""The dashboards' queries without Grafana: each parses, uses only documented names, substitutes
variables and macros as Grafana does, and computes the right numbers on synthetic series
(``promtool test rules``). The end-to-end test runs the same queries against real data.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from ._dashboards import label_names, load_dashboards, metric_names, panel_queries, variables
from ._series import DOCUMENTED_LABELS, DOCUMENTED_SERIES, GUARDRAIL_SERIES

DASHBOARDS = load_dashboards()
BY_UID = {board["uid"]: board for board in DASHBOARDS}

# --- the queries ---------------------------------------------------------------------------------
ALL_QUERIES = [query for board in DASHBOARDS for query in panel_queries(board)]


def _rule_file(exprs: list[str], path: Path) -> Path:
    rules = [{"record": f"dashboard:query_{index}", "expr": expr} for index, expr in enumerate(exprs)]
    path.write_text(json.dumps({"groups": [{"name": "dashboards", "rules": rules}]}), encoding="utf-8")
    return path


def test_every_query_parses(promtool, tmp_path):
    assert ALL_QUERIES and not any("$" in query.expr or "[[" in query.expr for query in ALL_QUERIES)
    rules = _rule_file([query.expr for query in ALL_QUERIES], tmp_path / "dashboards.json")
    completed = subprocess.run([promtool, "check", "rules", str(rules)], capture_output=True, text=True)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert f"{len(ALL_QUERIES)} rules found" in completed.stdout


def test_the_parse_check_rejects_a_broken_query(promtool, tmp_path):
    broken = ALL_QUERIES[0].expr.removesuffix(")")  # unbalanced
    rules = _rule_file([ALL_QUERIES[1].expr, broken], tmp_path / "broken.json")
    completed = subprocess.run([promtool, "check", "rules", str(rules)], capture_output=True, text=True)
    assert completed.returncode != 0


def test_queries_use_only_documented_series_and_labels():
    used_series = set().union(*(metric_names(query.expr) for query in ALL_QUERIES))
    used_labels = set().union(*(label_names(query.expr) for query in ALL_QUERIES))
    known = DOCUMENTED_SERIES | GUARDRAIL_SERIES
    assert used_series <= known, sorted(used_series - known)
    assert used_labels <= DOCUMENTED_LABELS, sorted(used_labels - DOCUMENTED_LABELS)
    assert {"otel_tokens_client_cost_sum", "gen_ai_client_token_usage_sum"} <= used_series
    assert used_series >= GUARDRAIL_SERIES  # every guardrail series has a panel


def test_metric_and_label_names_are_read_from_promql():
    expr = (
        'histogram_quantile(0.9, sum by (le, a) (rate(first_bucket{b="x", c=~"y|z"}[5m])))'
        " / on() group_left second offset 1h + sum(third) without (d) or vector(0) > bool 1e-9"
        ' + max_over_time(fourth[10m:15s]) + label_replace(fifth, "e", "$1", "f", "(.*)")'
    )
    assert metric_names(expr) == {"first_bucket", "second", "third", "fourth", "fifth"}
    assert label_names(expr) == {"le", "a", "b", "c", "d"}


def test_group_by_yields_one_query_per_option():
    board = BY_UID["otel-tokens-spend"]
    options = [option["text"] for option in variables(board)["group_by"]["options"]]
    rate_panel = [query for query in panel_queries(board) if query.panel == "Spend rate by $group_by"]
    assert [query.variant for query in rate_panel] == [f"group_by={option}" for option in options]
    assert "sum by (otel_tokens_tag_project)" in rate_panel[1].expr


# --- substitution (the helper the end-to-end test relies on) -------------------------------------
def _board(exprs: list[str], *extra_variables: dict[str, Any]) -> dict[str, Any]:
    multi = {"type": "query", "multi": True, "includeAll": True, "current": {"value": ["$__all"]}}
    return {
        "title": "t",
        "templating": {
            "list": [
                {"name": "datasource", "type": "datasource", "query": "prometheus"},
                {**multi, "name": "team", "allValue": ".+"},
                {**multi, "name": "model"},
                {"name": "budget", "type": "textbox", "query": "1000", "current": {"value": "250"}},
                *extra_variables,
            ]
        },
        "panels": [
            {
                "type": "row",
                "title": "collapsed",
                "panels": [{"title": "p", "targets": [{"refId": "A", "expr": expr} for expr in exprs]}],
            }
        ],
    }


def test_substitution_of_variables_macros_and_formats():
    board = _board(
        [
            'rate(x{team=~"$team", model=~"${model}"}[$__rate_interval]) * $budget',
            "increase(x[$__range]) / ${__range_s} / $__range_s * $__range_ms + [[budget]] + $__interval_ms",
            'sum(x{team=~"${team:regex}"}[$__interval])',
        ]
    )
    assert [query.expr for query in panel_queries(board)] == [
        'rate(x{team=~".+", model=~".*"}[1m]) * 250',
        "increase(x[10m]) / 600 / 600 * 600000 + 250 + 15000",
        'sum(x{team=~".+"}[15s])',
    ]
    assert "/ 90 /" in panel_queries(board, {"__range_s": "90"})[1].expr  # a derived macro, given
    overridden = panel_queries(
        board, {"__range": "1h", "__rate_interval": "2m", "team": ["a.b", "c"], "budget": "5"}
    )
    assert [query.expr for query in overridden][:2] == [
        'rate(x{team=~"(a\\\\.b|c)", model=~".*"}[2m]) * 5',
        "increase(x[1h]) / 3600 / 3600 * 3600000 + 5 + 15000",
    ]
    assert panel_queries(board)[0].panel == "p" and not panel_queries(board)[0].instant


def test_an_undefined_variable_is_an_error():
    with pytest.raises(KeyError, match="nope"):
        panel_queries(_board(["x * $nope"]))


def test_custom_variable_options_each_yield_a_query():
    group = {"name": "g", "type": "custom", "query": "team : tag_team, model : request_model"}
    queries = panel_queries(_board(["sum by ($g) (x)", "sum(x)"], group))
    assert [(query.expr, query.variant) for query in queries] == [
        ("sum by (tag_team) (x)", "g=team"),
        ("sum by (request_model) (x)", "g=model"),
        ("sum(x)", ""),
    ]
    fixed = panel_queries(_board(["sum by ($g) (x)"], group), {"g": "tag_team"})
    assert [query.expr for query in fixed] == ["sum by (tag_team) (x)"]


# --- what the key panels compute -----------------------------------------------------------------
SEARCH = (
    'job="svc", gen_ai_provider_name="openai", gen_ai_request_model="gpt-4o", otel_tokens_tag_team="search", '
    'otel_tokens_tag_feature="answer"'
)
UNTAGGED = (
    'job="svc", gen_ai_provider_name="anthropic", gen_ai_request_model="claude", '
    'otel_tokens_tag_feature="chat"'
)
MYSTERY = (
    'job="svc", gen_ai_provider_name="openai", gen_ai_request_model="mystery", otel_tokens_tag_team="search"'
)
# 15 s samples over 10 minutes. The untagged process starts 5 minutes in with 2 USD already spent (calls
# before its first export); the unpriced counter first reports at 3 and never moves. increase() alone
# would miss the 2 USD and all 3 calls. A catalogue does not approve the search team's model; no
# catalogue matched the untagged calls (no approved label).
SERIES = {
    f'otel_tokens_client_cost_sum{{{SEARCH}, otel_tokens_model_approved="false"}}': "0+0.1x40",  # 4 USD
    f"otel_tokens_client_cost_sum{{{UNTAGGED}}}": "_x20 2+0.1x20",  # 4 USD
    f'gen_ai_client_token_usage_sum{{{SEARCH}, gen_ai_token_type="input"}}': "0+1000x40",  # 40000
    f'gen_ai_client_token_usage_sum{{{SEARCH}, gen_ai_token_type="output"}}': "0+500x40",  # 20000
    f'gen_ai_client_token_usage_sum{{{UNTAGGED}, gen_ai_token_type="input"}}': "_x20 10000+1000x20",  # 30000
    f'gen_ai_client_token_usage_sum{{{UNTAGGED}, gen_ai_token_type="output"}}': "_x20 5000x20",  # 5000
    # 10000 of the search team's input tokens were cache reads
    f'otel_tokens_client_token_detail_total{{{SEARCH}, otel_tokens_token_type="cache_read"}}': "0+250x40",
    f"otel_tokens_client_unpriced_calls_total{{{MYSTERY}}}": "_x30 3x10",  # 3 calls
}
# Guardrails. Processes "a" and "b" share a budget store and export the same counters, "b" fresher:
# the panels take the highest report (a sum would put search at 155% of its limit). Team "ads" has a
# limit of 0 (blocks everything: no utilisation, not infinity); budget "tokens" is unlimited.
MONTHLY = 'job="svc", otel_tokens_budget_id="monthly", otel_tokens_budget_unit="USD"'
GUARDRAIL_SERIES_VALUES = {
    f'otel_tokens_budget_spend{{{MONTHLY}, instance="a", otel_tokens_tag_team="search"}}': "70x40",
    f'otel_tokens_budget_spend{{{MONTHLY}, instance="b", otel_tokens_tag_team="search"}}': "85x40",
    f'otel_tokens_budget_limit{{{MONTHLY}, instance="a", otel_tokens_tag_team="search"}}': "100x40",
    f'otel_tokens_budget_limit{{{MONTHLY}, instance="b", otel_tokens_tag_team="search"}}': "100x40",
    f'otel_tokens_budget_reserved{{{MONTHLY}, instance="a", otel_tokens_tag_team="search"}}': "2x40",
    f'otel_tokens_budget_reserved{{{MONTHLY}, instance="b", otel_tokens_tag_team="search"}}': "3x40",
    f'otel_tokens_budget_spend{{{MONTHLY}, instance="a", otel_tokens_tag_team="ads"}}': "10x40",
    f'otel_tokens_budget_limit{{{MONTHLY}, instance="a", otel_tokens_tag_team="ads"}}': "0x40",
    f'otel_tokens_budget_reserved{{{MONTHLY}, instance="a", otel_tokens_tag_team="ads"}}': "1x40",
    'otel_tokens_budget_spend{job="svc", instance="a", otel_tokens_budget_id="tokens", '
    'otel_tokens_budget_unit="token"}': "5000x40",
    # 1 blocked and 2 warned calls every 15 s; the breaker's process starts 5 minutes in with 3 blocks.
    'otel_tokens_budget_decisions_total{job="svc", instance="a", otel_tokens_budget_id="monthly", '
    'otel_tokens_budget_decision="blocked"}': "0+1x40",
    'otel_tokens_budget_decisions_total{job="svc", instance="b", otel_tokens_budget_id="monthly", '
    'otel_tokens_budget_decision="warned"}': "0+2x40",
    'otel_tokens_budget_decisions_total{job="svc", instance="c", otel_tokens_budget_id="runaway", '
    'otel_tokens_budget_decision="blocked"}': "_x20 3x20",
    'otel_tokens_client_provider_limits_total{job="svc", instance="a", gen_ai_provider_name="openai", '
    'otel_tokens_limit_provider="insufficient_quota"}': "_x30 2x10",
    'otel_tokens_budget_threshold_crossings_total{job="svc", instance="a", otel_tokens_budget_id="monthly", '
    'otel_tokens_budget_threshold="0.5"}': "0x5 1x35",
    'otel_tokens_budget_threshold_crossings_total{job="svc", instance="b", otel_tokens_budget_id="monthly", '
    'otel_tokens_budget_threshold="0.8"}': "_x10 1x30",
    # Process "c" saw the breaker open; "a" still reports it half-open.
    'otel_tokens_breaker_status{job="svc", instance="a", otel_tokens_breaker_id="runaway", '
    'otel_tokens_tag_team="search"}': "0x20 1x20",
    'otel_tokens_breaker_status{job="svc", instance="c", otel_tokens_breaker_id="runaway", '
    'otel_tokens_tag_team="search"}': "0x20 2x20",
    'otel_tokens_breaker_transitions_total{job="svc", instance="c", otel_tokens_breaker_id="runaway", '
    'otel_tokens_breaker_state="open"}': "0x20 1x20",
    'otel_tokens_budget_store_errors_total{job="svc", instance="a", '
    'otel_tokens_budget_store_error="timeout"}': "0+2x40",
}
SERIES.update(GUARDRAIL_SERIES_VALUES)
SEARCH_BUDGET = 'otel_tokens_budget_id="monthly", otel_tokens_tag_team="search"'
SECONDS_LEFT = 31 * 86400 - 600  # evaluated at 1970-01-01T00:10:00Z
BURN_PER_SECOND = (4.0 + 2.0 * 307.5 / 300) / 86400  # Prometheus's rate() over 1d, extrapolation included
FORECAST = 8.0 + BURN_PER_SECOND * SECONDS_LEFT
PROVIDER_MODEL = 'gen_ai_provider_name="{}", gen_ai_request_model="{}", provider_model="{} / {}"'

# (dashboard uid, panel title, refId, variant, overrides) -> {labels: value}
EXPECTATIONS: list[tuple[str, str, str, str, dict[str, Any], dict[str, float]]] = [
    ("otel-tokens-spend", "Spend this month", "A", "", {}, {"{}": 8.0}),
    ("otel-tokens-spend", "Spend this month", "A", "", {"team": "nobody"}, {"{}": 0.0}),
    ("otel-tokens-spend", "Month-end forecast", "A", "", {}, {"{}": FORECAST}),
    ("otel-tokens-spend", "Budget utilisation", "A", "", {}, {f"{{{SEARCH_BUDGET}}}": 0.85}),
    (
        "otel-tokens-spend",
        "Budget spend, limit and calls in flight",
        "A",
        "",
        {},
        {
            f'{{{SEARCH_BUDGET}, otel_tokens_budget_unit="USD"}}': 85.0,
            '{otel_tokens_budget_id="monthly", otel_tokens_budget_unit="USD", '
            'otel_tokens_tag_team="ads"}': 10.0,
            '{otel_tokens_budget_id="tokens", otel_tokens_budget_unit="token"}': 5000.0,
        },
    ),
    (
        "otel-tokens-spend",
        "Budget spend, limit and calls in flight",
        "D",
        "",
        {},
        {f'{{{SEARCH_BUDGET}, otel_tokens_budget_unit="USD"}}': 0.85},
    ),
    (
        "otel-tokens-spend",
        "Held by calls in flight",
        "A",
        "",
        {},
        {'{otel_tokens_budget_id="monthly", otel_tokens_budget_unit="USD"}': 4.0},
    ),
    (
        "otel-tokens-spend",
        "Guardrail decisions",
        "A",
        "",
        {},
        {
            '{otel_tokens_budget_id="monthly", otel_tokens_budget_decision="blocked"}': 4.0,
            '{otel_tokens_budget_id="monthly", otel_tokens_budget_decision="warned"}': 8.0,
            '{otel_tokens_budget_id="runaway", otel_tokens_budget_decision="blocked"}': 0.0,
        },
    ),
    (
        "otel-tokens-spend",
        "Budget thresholds crossed",
        "A",
        "",
        {},
        {
            '{otel_tokens_budget_id="monthly", otel_tokens_budget_threshold="0.5"}': 1.0,
            '{otel_tokens_budget_id="monthly", otel_tokens_budget_threshold="0.8"}': 1.0,
        },
    ),
    (
        "otel-tokens-spend",
        "Calls refused: our caps vs the provider's",
        "A",
        "",
        {},
        {'{otel_tokens_budget_id="monthly"}': 40.0, '{otel_tokens_budget_id="runaway"}': 3.0},
    ),
    (
        "otel-tokens-spend",
        "Calls refused: our caps vs the provider's",
        "B",
        "",
        {},
        {'{gen_ai_provider_name="openai", otel_tokens_limit_provider="insufficient_quota"}': 2.0},
    ),
    (
        "otel-tokens-spend",
        "Budget store errors",
        "A",
        "",
        {},
        {'{job="svc", otel_tokens_budget_store_error="timeout"}': 8.0},
    ),
    (
        "otel-tokens-spend",
        "Breaker state",
        "A",
        "",
        {},
        {'{otel_tokens_breaker_id="runaway", otel_tokens_tag_team="search"}': 2.0},
    ),
    (
        "otel-tokens-spend",
        "Breaker transitions",
        "A",
        "",
        {},
        {'{otel_tokens_breaker_id="runaway", otel_tokens_breaker_state="open"}': 1.0},
    ),
    ("otel-tokens-spend", "Spend on unapproved models", "A", "", {}, {"{}": 0.5}),
    ("otel-tokens-spend", "Spend on unapproved models", "A", "", {"team": "search"}, {"{}": 1.0}),
    ("otel-tokens-spend", "Spend on unapproved models", "A", "", {"feature": "chat"}, {"{}": 0.0}),
    (
        "otel-tokens-spend",
        "Unapproved models",
        "A",
        "",
        {},
        {
            '{gen_ai_provider_name="openai", gen_ai_request_model="gpt-4o", '
            'otel_tokens_tag_feature="answer", otel_tokens_tag_team="search"}': 4.0
        },
    ),
    (
        "otel-tokens-spend",
        "Spend this month by $group_by",
        "A",
        "group_by=team",
        {},
        {'{otel_tokens_tag_team="(none)"}': 4.0, '{otel_tokens_tag_team="search"}': 4.0},
    ),
    ("otel-tokens-spend", "Spend with no team tag", "A", "", {}, {"{}": 0.5}),
    ("otel-tokens-spend", "Spend with no team tag", "A", "", {"team": "search"}, {"{}": 0.0}),
    ("otel-tokens-spend", "Calls on unpriced models", "A", "", {}, {"{}": 3.0}),
    ("otel-tokens-spend", "Tag values folded into __overflow__", "A", "", {}, {"{}": 0.0}),
    (
        "otel-tokens-spend",
        "Cost per million tokens by provider and model: average and peak",
        "A",
        "",
        {},
        {
            "{" + PROVIDER_MODEL.format("openai", "gpt-4o", "openai", "gpt-4o") + "}": 4.0 / 60000 * 1e6,
            "{" + PROVIDER_MODEL.format("anthropic", "claude", "anthropic", "claude") + "}": 4.0
            / 35000
            * 1e6,
        },
    ),
    (
        "otel-tokens-spend",
        "Cost per million tokens by provider and model: average and peak",
        "B",
        "",
        {},
        {
            # Highest per-window price: 0.1 USD per 1500 tokens, and per 1000 input tokens once the
            # untagged process is running (its output tokens all came before its first export).
            "{" + PROVIDER_MODEL.format("openai", "gpt-4o", "openai", "gpt-4o") + "}": 0.1 / 1500 * 1e6,
            "{" + PROVIDER_MODEL.format("anthropic", "claude", "anthropic", "claude") + "}": 0.1 / 1000 * 1e6,
        },
    ),
    (
        "otel-tokens-spend",
        "Spend rate by $group_by",
        "A",
        "group_by=team",
        {},
        {
            '{otel_tokens_tag_team="(none)"}': 0.1 / 15 * 3600,
            '{otel_tokens_tag_team="search"}': 0.1 / 15 * 3600,
        },
    ),
    ("otel-tokens-usage", "Cache hit ratio", "A", "", {}, {"{}": 10000 / 70000}),
    ("otel-tokens-usage", "Tokens counted locally", "A", "", {}, {"{}": 0.0}),
]


def test_key_panels_compute_the_right_numbers(promtool, tmp_path):
    tests = []
    for uid, title, ref_id, variant, overrides, samples in EXPECTATIONS:
        matching = [
            query
            for query in panel_queries(BY_UID[uid], overrides)
            if (query.panel, query.ref_id, query.variant) == (title, ref_id, variant)
        ]
        assert len(matching) == 1, (title, ref_id, variant)
        tests.append(
            {
                # Rounded to a millionth: the expected values are computed in Python, not by PromQL.
                "expr": f"round(({matching[0].expr}), 0.000001)",
                "eval_time": "10m",
                "exp_samples": [
                    {"labels": labels, "value": round(value, 6)} for labels, value in samples.items()
                ],
            }
        )
    unit = {
        "rule_files": [],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "15s",
                "input_series": [{"series": series, "values": values} for series, values in SERIES.items()],
                "promql_expr_test": tests,
            }
        ],
    }
    path = tmp_path / "dashboards.test.json"
    path.write_text(json.dumps(unit), encoding="utf-8")
    completed = subprocess.run([promtool, "test", "rules", str(path)], capture_output=True, text=True)
    assert completed.returncode == 0, completed.stdout + completed.stderr


def _workload_series() -> dict[str, str]:
    """Every series kind the SDK writes, for three calls' label sets (one untagged), 15 s apart."""
    series = {}
    for provider, model, tags in (
        ("openai", "gpt-4o", {"team": "search", "project": "web", "feature": "answer", "cost_center": "cc1"}),
        ("anthropic", "claude", {"feature": "chat"}),
        ("gcp.gemini", "gemini", {"team": "ads", "project": "p2", "feature": "gen", "cost_center": "cc2"}),
    ):
        call = f'job="svc", gen_ai_provider_name="{provider}", gen_ai_request_model="{model}"'
        call += "".join(f', otel_tokens_tag_{key}="{value}"' for key, value in tags.items())
        for histogram, bounds in (
            ("otel_tokens_client_cost", ("0.001", "0.01", "+Inf")),
            ("gen_ai_client_operation_duration_seconds", ("0.1", "1", "+Inf")),
            ("gen_ai_client_operation_time_to_first_chunk_seconds", ("0.1", "1", "+Inf")),
        ):
            for index, bound in enumerate(bounds):
                series[f'{histogram}_bucket{{{call}, le="{bound}"}}'] = f"0+{index + 1}x40"
            series[f"{histogram}_sum{{{call}}}"] = "0+0.01x40"
            series[f"{histogram}_count{{{call}}}"] = "0+3x40"
        for kind in ("input", "output"):
            for part in ("sum", "count"):
                series[f'gen_ai_client_token_usage_{part}{{{call}, gen_ai_token_type="{kind}"}}'] = "0+100x40"
        for kind in ("cache_read", "cache_creation", "reasoning"):
            series[f'otel_tokens_client_token_detail_total{{{call}, otel_tokens_token_type="{kind}"}}'] = (
                "0+10x40"
            )
    unpriced = 'job="svc", gen_ai_provider_name="ollama", gen_ai_request_model="llama"'
    series[f"otel_tokens_client_unpriced_calls_total{{{unpriced}}}"] = "_x30 2x10"
    unapproved = 'job="svc", gen_ai_provider_name="openai", gen_ai_request_model="gpt-4.5"'
    series[f'otel_tokens_client_cost_sum{{{unapproved}, otel_tokens_model_approved="false"}}'] = "0+0.01x40"
    series.update(GUARDRAIL_SERIES_VALUES)
    return series


def test_every_query_returns_a_number_on_synthetic_series_of_every_kind(promtool, tmp_path):
    # Not empty and not only NaN (x == x drops NaN): what a panel needs to show something.
    tests = [
        {
            "expr": f"(count(({query.expr}) == ({query.expr})) > bool 0) or vector(0)",
            "eval_time": "10m",
            "exp_samples": [{"labels": "{}", "value": 1}],
        }
        for query in ALL_QUERIES
    ]
    series = [{"series": name, "values": values} for name, values in _workload_series().items()]
    unit = {
        "rule_files": [],
        "evaluation_interval": "1m",
        "tests": [{"interval": "15s", "input_series": series, "promql_expr_test": tests}],
    }
    path = tmp_path / "every-query.test.json"
    path.write_text(json.dumps(unit), encoding="utf-8")
    completed = subprocess.run([promtool, "test", "rules", str(path)], capture_output=True, text=True)
    assert completed.returncode == 0, completed.stdout + completed.stderr
