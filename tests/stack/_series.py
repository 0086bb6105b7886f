"""The Prometheus series and labels the SDK's metrics arrive as, the names README.md documents.

The collector's prometheus_remote_write exporter translates each instrument's name (dots to
underscores, unit and ``_total`` suffixes); the dashboards, the rules and the end-to-end test all
use these names, and the end-to-end test proves they are what really arrives. The guardrail series
(`GUARDRAIL_SERIES`) arrive only where budgets, breakers or catalogues are configured; their names
follow the same translation (README.md, "Names as they arrive in Prometheus").
"""

from __future__ import annotations

DOCUMENTED_SERIES = frozenset(
    {
        *(f"gen_ai_client_token_usage_{part}" for part in ("bucket", "sum", "count")),
        *(f"gen_ai_client_operation_duration_seconds_{part}" for part in ("bucket", "sum", "count")),
        *(
            f"gen_ai_client_operation_time_to_first_chunk_seconds_{part}"
            for part in ("bucket", "sum", "count")
        ),
        *(f"otel_tokens_client_cost_{part}" for part in ("bucket", "sum", "count")),
        "otel_tokens_client_token_detail_total",
        "otel_tokens_client_unpriced_calls_total",
        "otel_tokens_tags_folded_total",
    }
)
"""Series every instrumented call produces: the end-to-end workload makes them all arrive."""
GUARDRAIL_SERIES = frozenset(
    {
        # Gauges without a unit (a budget is USD or tokens): no suffix.
        "otel_tokens_budget_spend",
        "otel_tokens_budget_limit",
        "otel_tokens_budget_reserved",
        "otel_tokens_breaker_status",
        "otel_tokens_budget_decisions_total",
        "otel_tokens_budget_threshold_crossings_total",
        "otel_tokens_breaker_transitions_total",
        "otel_tokens_budget_store_errors_total",
        "otel_tokens_client_provider_limits_total",
    }
)
"""Series of the guardrails (budgets, breakers, catalogues): only with guardrails configured, and the
counters only once what they count has happened (a block, a store error, a provider's cap)."""
DOCUMENTED_LABELS = frozenset(
    {
        "job",
        "instance",
        "otel_scope_name",
        "otel_scope_version",
        "le",
        "gen_ai_token_type",
        "gen_ai_operation_name",
        "gen_ai_provider_name",
        "gen_ai_request_model",
        "gen_ai_response_model",
        "server_address",
        "error_type",
        "otel_tokens_usage_estimated",
        "otel_tokens_tag_team",
        "otel_tokens_tag_project",
        "otel_tokens_tag_feature",
        "otel_tokens_tag_cost_center",
        "otel_tokens_token_type",
        "otel_tokens_tag_key",
        "otel_tokens_budget_id",
        "otel_tokens_budget_unit",
        "otel_tokens_budget_decision",
        "otel_tokens_budget_threshold",
        "otel_tokens_breaker_id",
        "otel_tokens_breaker_state",
        "otel_tokens_budget_store_error",
        "otel_tokens_limit_provider",
        "otel_tokens_model_approved",
    }
)
