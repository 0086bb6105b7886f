"""The whole stack, real programs on loopback: application -> agent -> gateway -> Prometheus and
an OTLP backend, then every dashboard query and rule against what arrived.

    workload.py (real SDKs, fake provider server, otel_tokens.init())
        --OTLP/HTTP--> agent (collector-config/agent.yaml)
        --OTLP/gRPC--> gateway (collector-config/gateway.yaml)
            --remote write--> Prometheus 2.42 (prometheus/prometheus.yml, rules)
            --OTLP/HTTP-----> a recording OTLP backend (tests/_otlp_receiver.py)

The stack (tests/stack/_e2e.py) runs once per session; each test reads what it left behind.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from typing import Any

import pytest

from ._e2e import BACKEND_TOKEN, Stack, _get_json
from ._processes import wait_for
from ._series import DOCUMENTED_SERIES, GUARDRAIL_SERIES
from .workload import LEAKED_AUTHORIZATION, LEAKED_NOTE

CONTENT_KEYS = ("gen_ai.input.messages", "gen_ai.output.messages")
MASK = "****"

# The documented names, plus the resource attributes' own series.
EXPECTED_SERIES = DOCUMENTED_SERIES | GUARDRAIL_SERIES | {"target_info"}


def test_metric_names_arrive_as_documented(stack):
    names = set(_get_json(f"{stack.prometheus}/api/v1/label/__name__/values")["data"])
    assert names >= EXPECTED_SERIES, sorted(EXPECTED_SERIES - names)
    # Nothing under a name the dashboards do not use (a unit suffix we did not expect, say).
    ours = {
        n for n in names if n.startswith(("gen_ai_", "otel_tokens_")) and ":" not in n
    }  # ":" = a recording rule
    assert ours == {n for n in EXPECTED_SERIES if n.startswith(("gen_ai_", "otel_tokens_"))}


def test_labels_arrive_as_documented(stack):
    series = [s["metric"] for s in stack.query("otel_tokens_client_cost_count")]
    assert series
    for labels in series:
        assert labels["job"] in ("bookshop", "bookshop-batch")  # the batch service: its budget store is down
        assert labels["instance"]  # init() gives each process its own service.instance.id
        assert labels["otel_scope_name"].startswith("otel_tokens_"), labels
        for label in (
            "gen_ai_operation_name",
            "gen_ai_provider_name",
            "gen_ai_request_model",
            "server_address",
        ):
            assert labels.get(label), (label, labels)
    teams = {labels.get("otel_tokens_tag_team", "") for labels in series}
    assert teams == {"search", "support", "research", "platform", "finance", ""}
    finance = [labels for labels in series if labels.get("otel_tokens_tag_team") == "finance"]
    assert {(s["otel_tokens_tag_project"], s["otel_tokens_tag_cost_center"]) for s in finance} == {
        ("forecasting", "cc-4100")
    }
    features = {labels.get("otel_tokens_tag_feature", "") for labels in series}
    assert "month-end" not in features and {"__overflow__", "autocomplete", ""} <= features
    folded = stack.query('otel_tokens_tags_folded_total{otel_tokens_tag_key="feature"}')
    assert folded and float(folded[0]["value"][1]) > 0
    # A per-user tag is a span attribute only: unbounded values stay out of metric labels.
    assert not any("otel_tokens_tag_user" in labels for labels in series)
    providers = {labels["gen_ai_provider_name"] for labels in series}
    assert {"openai", "anthropic", "gcp.gemini", "aws.bedrock", "ollama"} <= providers
    token_types = {s["metric"]["gen_ai_token_type"] for s in stack.query("gen_ai_client_token_usage_count")}
    assert token_types == {"input", "output"}
    detail_types = {
        s["metric"]["otel_tokens_token_type"] for s in stack.query("otel_tokens_client_token_detail_total")
    }
    assert detail_types == {"cache_read", "cache_creation", "reasoning"}
    errors = {
        s["metric"].get("error_type") for s in stack.query("gen_ai_client_operation_duration_seconds_count")
    }
    # The rate-limited calls (one of them the provider's spending cap), and the calls a guardrail
    # stopped before they were sent.
    assert errors - {None} == {"RateLimitError", "BudgetExceededError", "BreakerOpenError"}


def test_cost_and_tokens_in_prometheus_match_the_spans_that_reached_the_backend(stack):
    """Two independent paths (span attributes, metric points) through two collectors agree."""
    cost_by_team: dict[str, float] = defaultdict(float)
    input_by_model: dict[str, float] = defaultdict(float)
    for span in stack.backend.spans:
        attributes = span["attributes"]
        if "gen_ai.usage.cost.amount" in attributes:
            cost_by_team[attributes.get("otel_tokens.tag.team", "")] += attributes["gen_ai.usage.cost.amount"]
        if "gen_ai.usage.input_tokens" in attributes and "error.type" not in attributes:
            input_by_model[attributes["gen_ai.request.model"]] += attributes["gen_ai.usage.input_tokens"]
    prometheus_cost = stack.scalar_by(
        "sum by (otel_tokens_tag_team) (otel_tokens_client_cost_sum)", "otel_tokens_tag_team"
    )
    assert prometheus_cost.keys() == cost_by_team.keys()
    for team, amount in cost_by_team.items():
        assert math.isclose(prometheus_cost[team], amount, rel_tol=1e-9), team
    prometheus_input = stack.scalar_by(
        'sum by (gen_ai_request_model) (gen_ai_client_token_usage_sum{gen_ai_token_type="input"})',
        "gen_ai_request_model",
    )
    assert prometheus_input == pytest.approx(dict(input_by_model))


def test_guardrail_series_reach_prometheus_with_the_workloads_values(stack):
    """The budget gauges equal what the calls cost; every decision kind and the provider's cap arrive."""
    cost_by_team: dict[str, float] = defaultdict(float)
    for span in stack.backend.spans:
        attributes = span["attributes"]
        mine = span["resource"].get("service.name") == "bookshop"  # not the store-down service
        if mine and "gen_ai.usage.cost.amount" in attributes and attributes.get("otel_tokens.tag.team"):
            cost_by_team[attributes["otel_tokens.tag.team"]] += attributes["gen_ai.usage.cost.amount"]
    spend = stack.scalar_by(
        'max by (otel_tokens_tag_team) (otel_tokens_budget_spend{otel_tokens_budget_id="team-monthly"})',
        "otel_tokens_tag_team",
    )
    for team, amount in cost_by_team.items():
        assert math.isclose(spend[team], amount, rel_tol=1e-9), team
    limits = stack.query('otel_tokens_budget_limit{otel_tokens_budget_id="team-monthly"}')
    assert limits and {float(s["value"][1]) for s in limits} == {50.0}
    decisions = stack.scalar_by(
        "sum by (otel_tokens_budget_decision) (otel_tokens_budget_decisions_total)",
        "otel_tokens_budget_decision",
    )
    assert set(decisions) == {"warned", "blocked", "downgraded"}
    crossed = stack.scalar_by(
        "sum by (otel_tokens_budget_threshold) "
        '(otel_tokens_budget_threshold_crossings_total{otel_tokens_budget_id="finance-daily"})',
        "otel_tokens_budget_threshold",
    )
    assert crossed == {"0.5": 1.0, "0.8": 1.0, "1": 1.0}  # once per window each, over three rounds
    breaker = stack.query('otel_tokens_breaker_status{otel_tokens_breaker_id="finance-runaway"}')
    assert breaker and float(breaker[0]["value"][1]) == 2.0  # open
    caps = stack.scalar_by(
        "sum by (otel_tokens_limit_provider) (otel_tokens_client_provider_limits_total)",
        "otel_tokens_limit_provider",
    )
    assert caps == {"organization_spend_limit_exceeded": 3.0}
    unapproved = stack.query('otel_tokens_client_cost_count{otel_tokens_model_approved="false"}')
    assert unapproved
    store_errors = stack.scalar_by(
        "sum by (otel_tokens_budget_store_error) (otel_tokens_budget_store_errors_total)",
        "otel_tokens_budget_store_error",
    )
    assert store_errors and sum(store_errors.values()) >= 1


def test_every_dashboard_panel_query_returns_data(stack):
    from . import _dashboards

    window = max(60, math.ceil(time.time() - stack.evaluated_at) + 120)
    checked = 0
    empty = []
    for dashboard in _dashboards.load_dashboards():
        for query in _dashboards.panel_queries(
            dashboard, overrides={"__range": f"{window}s", "__range_s": str(window)}
        ):
            result = stack.query(query.expr)
            checked += 1
            if not result or all(math.isnan(float(s["value"][1])) for s in result):
                empty.append(f"{query.dashboard} / {query.panel} [{query.ref_id}]: {query.expr}")
    assert checked >= 20
    assert not empty, "\n".join(empty)


def test_gateway_removed_content_and_changed_nothing_else(stack):
    received = {span["span_id"]: span for span in stack.backend.spans}
    with_content = [s for s in stack.sent_spans if any(k in s["attributes"] for k in CONTENT_KEYS)]
    assert len(with_content) >= 20  # the workload really sent prompts and completions
    for sent in stack.sent_spans:
        got = received[sent["span_id"]]["attributes"]
        assert not any(k in got for k in CONTENT_KEYS)
        kept = {k: v for k, v in sent["attributes"].items() if k not in CONTENT_KEYS}
        if sent["name"] != "POST /checkout":
            assert {k: list(v) if isinstance(v, tuple) else v for k, v in got.items()} == kept


def test_gateway_masked_credentials_wherever_they_were(stack):
    checkout = next(s for s in stack.backend.spans if s["name"] == "POST /checkout")
    assert checkout["attributes"]["http.request.header.authorization"] == MASK
    assert MASK in checkout["attributes"]["app.note"]
    assert MASK in checkout["events"][0]["attributes"]["app.note"]
    wire = b"".join(body for _, _, body in stack.backend.requests)
    for secret in (
        LEAKED_AUTHORIZATION,
        LEAKED_NOTE.split()[-1],
        "sk-stack-test-key",
        "sk-demo-not-a-real-key",
    ):
        assert secret.encode() not in wire


def test_backend_got_the_headers_from_the_environment(stack):
    assert stack.backend.requests
    assert {headers.get("Authorization") for _, headers, _ in stack.backend.requests} == {BACKEND_TOKEN}


def test_rules_load_and_evaluate_on_the_arrived_data(stack):
    groups = _get_json(f"{stack.prometheus}/api/v1/rules")["data"]["groups"]
    rules = [rule for group in groups for rule in group["rules"]]
    assert rules
    wait_for(
        lambda: all(r.get("lastEvaluation", "").startswith("20") for r in _rules(stack)),
        "a rule evaluation",
        40,
    )
    for rule in _rules(stack):
        assert rule["health"] == "ok", rule
    # The short-window rules have data minutes after traffic starts; the day-long baselines need a
    # day of history and are proven by the promtool unit tests instead.
    short = [
        r["name"]
        for r in _rules(stack)
        if r["type"] == "recording" and r["name"].endswith(("rate5m", "rate15m"))
    ]
    assert len(short) >= 5
    wait_for(lambda: all(stack.query(name, at=time.time()) for name in short), f"data in {short}", 60)
    unpriced = next(r for r in _rules(stack) if r.get("name") == "OtelTokensUnpricedModelCalls")
    assert unpriced["state"] in ("pending", "firing")


def _rules(stack: Stack) -> list[dict[str, Any]]:
    groups = _get_json(f"{stack.prometheus}/api/v1/rules")["data"]["groups"]
    return [rule for group in groups for rule in group["rules"]]


def test_prometheus_scrapes_the_gateways_own_telemetry(stack):
    """The otelcol job feeds OtelTokensTelemetryExportFailing; its counters are named as the rule expects."""
    sent = 'otelcol_exporter_sent_metric_points{job="otelcol", exporter="prometheus_remote_write"}'
    wait_for(lambda: bool(stack.query(sent, at=time.time())), sent, 45)
    failed = stack.query('otelcol_exporter_send_failed_metric_points{job="otelcol"}', at=time.time())
    assert all(float(s["value"][1]) == 0 for s in failed)
