"""PromQL for the otel-tokens dashboards: series and label names, selectors and query builders.

Series names are those the collector's ``prometheusremotewrite`` exporter produces from the SDK's
instruments (dots to underscores, unit and ``_total`` suffixes): see ``dashboards/README.md``.
"""

from __future__ import annotations

from collections.abc import Sequence

COST = "otel_tokens_client_cost"
TOKENS = "gen_ai_client_token_usage"
DURATION = "gen_ai_client_operation_duration_seconds"
FIRST_CHUNK = "gen_ai_client_operation_time_to_first_chunk_seconds"
TOKEN_DETAIL = "otel_tokens_client_token_detail_total"
UNPRICED = "otel_tokens_client_unpriced_calls_total"
FOLDED = "otel_tokens_tags_folded_total"
# Guardrails. The gauges have no unit (a budget's limit is USD or tokens), so no suffix.
BUDGET_SPEND = "otel_tokens_budget_spend"
BUDGET_LIMIT = "otel_tokens_budget_limit"
BUDGET_RESERVED = "otel_tokens_budget_reserved"
DECISIONS = "otel_tokens_budget_decisions_total"
CROSSINGS = "otel_tokens_budget_threshold_crossings_total"
BREAKER_STATUS = "otel_tokens_breaker_status"
BREAKER_TRANSITIONS = "otel_tokens_breaker_transitions_total"
STORE_ERRORS = "otel_tokens_budget_store_errors_total"
PROVIDER_LIMITS = "otel_tokens_client_provider_limits_total"

PROVIDER = "gen_ai_provider_name"
MODEL = "gen_ai_request_model"
TEAM = "otel_tokens_tag_team"
PROJECT = "otel_tokens_tag_project"
FEATURE = "otel_tokens_tag_feature"
COST_CENTER = "otel_tokens_tag_cost_center"
BUDGET_ID = "otel_tokens_budget_id"
"""A budget's id; on the decisions counter also a breaker's or catalogue's."""
BUDGET_UNIT = "otel_tokens_budget_unit"
DECISION = "otel_tokens_budget_decision"
THRESHOLD = "otel_tokens_budget_threshold"
BREAKER_ID = "otel_tokens_breaker_id"
BREAKER_STATE = "otel_tokens_breaker_state"
STORE_ERROR = "otel_tokens_budget_store_error"
LIMIT_CODE = "otel_tokens_limit_provider"
APPROVED = "otel_tokens_model_approved"
PER_PROCESS = ("job", "instance", "otel_scope_name", "otel_scope_version")
"""The labels that tell apart processes exporting the same budget or breaker series."""

# Every call selector carries every filter. A series without a tag has no tag label, and the All value
# `.*` matches the empty value, so untagged calls stay in the totals until a tag value is picked.
JOB_FILTER = 'job=~"$job"'
TAG_FILTERS = (
    f'{TEAM}=~"$team"',
    f'{PROJECT}=~"$project"',
    f'{FEATURE}=~"$feature"',
    f'{COST_CENTER}=~"$cost_center"',
)
CALL_FILTERS = (JOB_FILTER, f'{PROVIDER}=~"$provider"', f'{MODEL}=~"$model"', *TAG_FILTERS)
# The budget and breaker gauges carry job and their group's tags, never a provider or model: the
# Provider and Model filters would hide a budget that covers them.
GROUP_FILTERS = (JOB_FILTER, *TAG_FILTERS)


NONE_TEXT = "(none)"

# Seconds left in the current month (UTC, as Prometheus's calendar functions are).
SECONDS_LEFT_IN_MONTH = "((days_in_month() - day_of_month() + 1) * 86400 - time() % 86400)"


def calls(metric: str, *matchers: str) -> str:
    """Selector of ``metric`` under every dashboard filter plus ``matchers``."""
    return f"{metric}{{{', '.join((*CALL_FILTERS, *matchers))}}}"


def over_range(selector: str) -> str:
    """Increase of a counter over the dashboard range, counting series that start inside it.

    ``increase()`` takes a series' first sample in the range as its baseline, so a process or label set
    that first reports inside the range loses everything counted before that sample (all of it, for a
    counter that ticked once). Series already reporting at the range start use ``increase()``; the others
    count from zero, so their last value is their increase.
    """
    return (
        f"((increase({selector}[$__range]) and {selector} offset $__range)"
        f" or last_over_time({selector}[$__range]))"
    )


def by(labels: Sequence[str]) -> str:
    return ", ".join(labels)


def none_label(expr: str, label: str) -> str:
    """Show an absent ``label`` (an untagged call) as ``(none)`` rather than a blank legend."""
    return f'label_replace({expr}, "{label}", "{NONE_TEXT}", "{label}", "")'


def ratio(numerator: str, denominator: str) -> str:
    """``numerator / denominator``: 0 when nothing matches the numerator, no value when the base is 0."""
    return f"(({numerator}) or vector(0)) / (({denominator}) > 0)"


def ratio_by(labels: Sequence[str], numerator: str, denominator: str) -> str:
    """Per-group ratio; a group with a base but no numerator reads 0, not a missing series."""
    group = by(labels)
    num = f"sum by ({group}) ({numerator})"
    den = f"sum by ({group}) ({denominator})"
    return f"({num} or {den} * 0) / ({den} > 0)"


def quantile_over_range(q: float, metric: str, labels: Sequence[str]) -> str:
    return f"histogram_quantile({q}, sum by (le, {by(labels)}) ({over_range(calls(metric + '_bucket'))}))"


def quantile_rate(q: float, metric: str, labels: Sequence[str]) -> str:
    return (
        f"histogram_quantile({q}, sum by (le, {by(labels)}) "
        f"(rate({calls(metric + '_bucket')}[$__rate_interval])))"
    )


def fleet(metric: str, *dropped: str) -> str:
    """A budget or breaker gauge once per budget (or breaker) and group, however many processes report it.

    Every process sharing a budget store exports the same counter, each as it last read it: the
    highest is the freshest, and a sum would count it once per process. ``without`` rather than
    ``by``: a group is any tag keys the budget names, not only the four the dashboards know.
    """
    return f"max without ({by((*PER_PROCESS, *dropped))}) ({metric}{{{', '.join(GROUP_FILTERS)}}})"


def utilisation(*dropped: str) -> str:
    """Settled spend / limit per budget and group; no value for an unlimited budget or a limit of 0."""
    return f"{fleet(BUDGET_SPEND, *dropped)} / ({fleet(BUDGET_LIMIT, *dropped)} > 0)"


SPEND = f"sum({over_range(calls(COST + '_sum'))})"
BURN_PER_SECOND = f"sum(rate({calls(COST + '_sum')}[1d]))"
FORECAST = f"({SPEND} or vector(0)) + ({BURN_PER_SECOND} or vector(0)) * {SECONDS_LEFT_IN_MONTH}"
