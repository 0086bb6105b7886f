"""The shipped Prometheus config, recording and alerting rules (prometheus/), checked by promtool.

promtool checks the config and both rule files and runs the rule unit tests in prometheus/tests/.
Its output is parsed as well as its exit code, and the unit-test files are read, so a test file
that tests nothing, or tests a copy of the rules, fails here. Mutating one threshold or branch of
the shipped rules in a temporary copy must make the unit tests fail: they pin the behaviour down.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS = ROOT / "prometheus"
CONFIG = PROMETHEUS / "prometheus.yml"
RECORDING = PROMETHEUS / "rules" / "otel-tokens-recording.yml"
ALERTS = PROMETHEUS / "rules" / "otel-tokens-alerts.yml"
RULE_FILES = (RECORDING, ALERTS)
UNIT_TESTS = sorted((PROMETHEUS / "tests").glob("*.yml"))
README = PROMETHEUS / "README.md"

ANNOTATIONS = {"summary", "description", "runbook"}
SEVERITIES = {"critical", "warning", "info"}


def _promtool(promtool: str, *args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [promtool, *map(str, args)], capture_output=True, text=True, timeout=600, check=False
    )


def _load(path: Path) -> dict[str, Any]:
    document = yaml.safe_load(path.read_text())
    assert isinstance(document, dict), f"{path} is not a YAML mapping"
    return document


def _groups(path: Path) -> list[dict[str, Any]]:
    return list(_load(path)["groups"])


def _rules(path: Path) -> list[dict[str, Any]]:
    return [rule for group in _groups(path) for rule in group["rules"]]


def _alert_names() -> set[str]:
    return {rule["alert"] for rule in _rules(ALERTS)}


def _unit_test_groups() -> list[dict[str, Any]]:
    return [group for path in UNIT_TESTS for group in _load(path)["tests"]]


def _rules_found(output: str) -> dict[Path, int]:
    """promtool's "Checking <file>" / "SUCCESS: <n> rules found" pairs, by resolved file."""
    pairs = re.findall(r"^Checking (\S+)\n\s+SUCCESS: (\d+) rules found", output, re.MULTILINE)
    return {Path(name).resolve(): int(count) for name, count in pairs}


def _passed_unit_tests(output: str) -> set[Path]:
    passed = re.findall(r"^Unit Testing:\s+(\S+)\n\s+SUCCESS$", output, re.MULTILINE)
    return {Path(name).resolve() for name in passed}


# --- promtool over the shipped files -------------------------------------------------------


def test_config_is_valid_and_loads_both_rule_files(promtool):
    completed = _promtool(promtool, "check", "config", CONFIG)
    output = completed.stdout + completed.stderr
    assert completed.returncode == 0, output
    assert "SUCCESS: 2 rule files found" in output
    assert _rules_found(completed.stdout) == {path: len(_rules(path)) for path in RULE_FILES}


def test_rule_files_are_valid(promtool):
    completed = _promtool(promtool, "check", "rules", *RULE_FILES)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    found = _rules_found(completed.stdout)
    assert found == {path: len(_rules(path)) for path in RULE_FILES}
    assert all(count > 0 for count in found.values())


def test_rule_unit_tests_pass(promtool):
    assert len(UNIT_TESTS) >= 2
    completed = _promtool(promtool, "test", "rules", *UNIT_TESTS)
    output = completed.stdout + completed.stderr
    assert completed.returncode == 0, output
    assert "FAILED" not in output
    assert _passed_unit_tests(completed.stdout) == {path.resolve() for path in UNIT_TESTS}


# --- the unit tests test the shipped rules, and all of them ------------------------------------


def test_config_points_at_the_shipped_rules_and_the_collector():
    config = _load(CONFIG)
    assert [(CONFIG.parent / name).resolve() for name in config["rule_files"]] == list(RULE_FILES)
    assert config["global"]["evaluation_interval"] == "15s"
    targets = {
        job["job_name"]: [target for static in job["static_configs"] for target in static["targets"]]
        for job in config["scrape_configs"]
    }
    assert targets["otelcol"] == ["127.0.0.1:8888"]
    assert "prometheus" in targets


@pytest.mark.parametrize("path", UNIT_TESTS, ids=lambda path: path.name)
def test_unit_test_file_loads_the_shipped_rules(path):
    document = _load(path)
    loaded = {(path.parent / name).resolve() for name in document["rule_files"]}
    assert loaded <= set(RULE_FILES) and loaded, f"{path.name} must test the shipped rule files"
    assert document["tests"], f"{path.name} has no tests"


def test_every_alert_rule_fires_in_a_test_and_every_alert_stays_quiet_in_one():
    """Each alerting rule (told apart by its static labels) fires with all its annotations
    asserted, and each alert name has a case where it stays quiet."""
    cases = [case for group in _unit_test_groups() for case in group.get("alert_rule_test", [])]
    assert {case["alertname"] for case in cases} <= _alert_names()
    for rule in _rules(ALERTS):
        name, labels = rule["alert"], rule["labels"]
        fired = [
            alert
            for case in cases
            if case["alertname"] == name
            for alert in case.get("exp_alerts") or []
            if labels.items() <= alert["exp_labels"].items()
        ]
        assert fired, f"no test shows {name} {labels} firing"
        for alert in fired:
            assert set(alert.get("exp_annotations", {})) == set(rule["annotations"]), alert
    for name in _alert_names():
        assert any(case["alertname"] == name and not case.get("exp_alerts") for case in cases), (
            f"no test shows {name} staying quiet"
        )


def test_every_recording_rule_has_an_exact_value_test():
    exprs = [
        case["expr"]
        for group in _unit_test_groups()
        for case in group.get("promql_expr_test", [])
        if case.get("exp_samples")
    ]
    for group in _groups(RECORDING):
        for rule in group["rules"]:
            record = rule["record"]
            pattern = re.compile(rf"(?<![\w:]){re.escape(record)}(?![\w:])")
            assert any(pattern.search(expr) for expr in exprs), f"{group['name']}: {record} untested"


def test_alert_rules_carry_for_severity_and_annotations():
    for rule in _rules(ALERTS):
        assert rule.get("for"), rule["alert"]
        assert rule["labels"]["severity"] in SEVERITIES, rule["alert"]
        assert set(rule["annotations"]) == ANNOTATIONS, rule["alert"]


def test_readme_documents_every_rule():
    readme = README.read_text()
    names = [rule.get("record") or rule["alert"] for path in RULE_FILES for rule in _rules(path)]
    missing = [name for name in names if f"`{name}`" not in readme]
    assert not missing, f"prometheus/README.md does not describe {missing}"


# --- the unit tests have teeth -----------------------------------------------------------------


@dataclass(frozen=True)
class Mutation:
    """Replace ``old`` by ``new`` in one rule file; ``unit_test`` must then fail naming ``failure``."""

    id: str
    rule_file: Path
    old: str
    new: str
    unit_test: str
    failure: str


MUTATIONS = (
    Mutation(
        "spike-factor",
        ALERTS,
        "3 * otel_tokens:cost_usd:baseline1d",
        "300 * otel_tokens:cost_usd:baseline1d",
        "spend-spike.test.yml",
        "alertname: OtelTokensSpendSpike",
    ),
    Mutation(
        "spike-floor",
        ALERTS,
        "otel_tokens:cost_usd:baseline1d) * 3600 > 10",
        "otel_tokens:cost_usd:baseline1d) * 3600 > 0",
        "spend-spike.test.yml",
        "alertname: OtelTokensSpendSpike",
    ),
    Mutation(
        "baseline-is-the-busiest-hour",
        RECORDING,
        "max_over_time(otel_tokens:cost_usd:rate1h[1d] offset 1h)",
        "avg_over_time(otel_tokens:cost_usd:rate1h[1d] offset 1h)",
        "spend-spike.test.yml",
        "alertname: OtelTokensSpendSpike",
    ),
    Mutation(
        "runaway-factor",
        ALERTS,
        "3 * otel_tokens_team:cost_usd:baseline1d",
        "300 * otel_tokens_team:cost_usd:baseline1d",
        "runaway-caller.test.yml",
        "alertname: OtelTokensRunawayCaller",
    ),
    Mutation(
        "runaway-floor",
        ALERTS,
        ") * 3600 > 5",
        ") * 3600 > 0",
        "runaway-caller.test.yml",
        "alertname: OtelTokensRunawayCaller",
    ),
    Mutation(
        "runaway-new-value",
        ALERTS,
        "unless otel_tokens_team:cost_usd:baseline1d",
        "unless otel_tokens_team:cost_usd:rate15m",
        "runaway-caller.test.yml",
        "alertname: OtelTokensRunawayCaller",
    ),
    Mutation(
        "baseline-excludes-the-last-hour",
        RECORDING,
        "max_over_time(otel_tokens_team:cost_usd:rate1h[1d] offset 1h)",
        "max_over_time(otel_tokens_team:cost_usd:rate1h[1d])",
        "runaway-caller.test.yml",
        "alertname: OtelTokensRunawayCaller",
    ),
    Mutation(
        "untagged-share",
        ALERTS,
        "> 0.10",
        "> 0.5",
        "untagged-spend.test.yml",
        "alertname: OtelTokensUntaggedSpend",
    ),
    Mutation(
        "untagged-floor",
        ALERTS,
        "otel_tokens:cost_usd:rate1h * 3600 > 1",
        "otel_tokens:cost_usd:rate1h * 3600 > 0",
        "untagged-spend.test.yml",
        "alertname: OtelTokensUntaggedSpend",
    ),
    Mutation(
        "unpriced-new-series",
        ALERTS,
        "unless otel_tokens_client_unpriced_calls_total offset 15m",
        "unless otel_tokens_client_unpriced_calls_total",
        "unpriced-calls.test.yml",
        "alertname: OtelTokensUnpricedModelCalls",
    ),
    Mutation(
        "export-suffix",
        ALERTS,
        "(_total)?",
        "",
        "export-failing.test.yml",
        "alertname: OtelTokensTelemetryExportFailing",
    ),
    Mutation(
        "near-limit-exactly-80-percent",
        ALERTS,
        "> 0.8 < 1",
        ">= 0.8 < 1",
        "budget-limits.test.yml",
        "alertname: OtelTokensBudgetNearLimit",
    ),
    Mutation(
        "exhausted-at-exactly-the-limit",
        ALERTS,
        "            >= 1\n        for: 2m",
        "            > 1\n        for: 2m",
        "budget-limits.test.yml",
        "alertname: OtelTokensBudgetExhausted",
    ),
    Mutation(
        "limit-zero-guard",
        ALERTS,
        "(otel_tokens_budget_limit) > 0)",
        "(otel_tokens_budget_limit) >= 0)",
        "budget-limits.test.yml",
        "alertname: OtelTokensBudgetExhausted",
    ),
    Mutation(
        "budget-processes-not-summed",
        ALERTS,
        "max without (job, instance, otel_scope_name, otel_scope_version) (otel_tokens_budget_spend)",
        "sum without (job, instance, otel_scope_name, otel_scope_version) (otel_tokens_budget_spend)",
        "budget-limits.test.yml",
        "alertname: OtelTokensBudgetExhausted",
    ),
    Mutation(
        "breaker-open-not-half-open",
        ALERTS,
        "(otel_tokens_breaker_status) == 2",
        "(otel_tokens_breaker_status) >= 1",
        "breaker-open.test.yml",
        "alertname: OtelTokensBreakerOpen",
    ),
    Mutation(
        "breaker-any-process-open",
        ALERTS,
        "max without (job, instance, otel_scope_name, otel_scope_version) (otel_tokens_breaker_status)",
        "min without (job, instance, otel_scope_name, otel_scope_version) (otel_tokens_breaker_status)",
        "breaker-open.test.yml",
        "alertname: OtelTokensBreakerOpen",
    ),
    Mutation(
        "store-errors-any-rate",
        ALERTS,
        "(rate(otel_tokens_budget_store_errors_total[5m])) * 60 > 0",
        "(rate(otel_tokens_budget_store_errors_total[5m])) * 60 > 0.5",
        "budget-store-errors.test.yml",
        "alertname: OtelTokensBudgetStoreErrors",
    ),
    Mutation(
        "cost-per-million-tokens",
        RECORDING,
        "1e6 * otel_tokens_provider_model:cost_usd:rate5m",
        "1e3 * otel_tokens_provider_model:cost_usd:rate5m",
        "otel-tokens-recording.test.yml",
        'expr: "otel_tokens_provider_model:cost_usd_per_million_tokens:rate5m"',
    ),
)


@pytest.mark.parametrize("mutation", MUTATIONS, ids=lambda mutation: mutation.id)
def test_unit_tests_fail_when_a_rule_is_mutated(promtool, tmp_path, mutation):
    copy = tmp_path / "prometheus"
    shutil.copytree(PROMETHEUS, copy)
    target = copy / mutation.rule_file.relative_to(PROMETHEUS)
    text = target.read_text()
    assert mutation.old in text, f"{mutation.id}: {mutation.old!r} is no longer in {target.name}"
    target.write_text(text.replace(mutation.old, mutation.new))
    assert _promtool(promtool, "check", "rules", target).returncode == 0, "the mutant must still load"

    completed = _promtool(promtool, "test", "rules", copy / "tests" / mutation.unit_test)
    output = completed.stdout + completed.stderr
    assert completed.returncode != 0, f"{mutation.unit_test} passed with {mutation.id} mutated:\n{output}"
    assert "FAILED" in output and mutation.failure in output, output
