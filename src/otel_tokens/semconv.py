"""Every attribute, metric and value name that otel-tokens emits.

Standard names come from the OpenTelemetry GenAI semantic conventions (v1.41) and are
checked against the ``opentelemetry-semantic-conventions`` package by a conformance test.
Names of our own all live under the ``otel_tokens.`` namespace and are listed in the README.
The cost attributes follow the proposal in semantic-conventions-genai PR #443, which is not
released yet; if it changes before release, only this module changes.
"""

from __future__ import annotations

from typing import Final

# --- standard span and metric attributes -------------------------------------------------
GEN_AI_OPERATION_NAME: Final = "gen_ai.operation.name"
GEN_AI_PROVIDER_NAME: Final = "gen_ai.provider.name"
GEN_AI_REQUEST_MODEL: Final = "gen_ai.request.model"
GEN_AI_REQUEST_MAX_TOKENS: Final = "gen_ai.request.max_tokens"
GEN_AI_REQUEST_TEMPERATURE: Final = "gen_ai.request.temperature"
GEN_AI_REQUEST_TOP_P: Final = "gen_ai.request.top_p"
GEN_AI_REQUEST_TOP_K: Final = "gen_ai.request.top_k"
GEN_AI_REQUEST_FREQUENCY_PENALTY: Final = "gen_ai.request.frequency_penalty"
GEN_AI_REQUEST_PRESENCE_PENALTY: Final = "gen_ai.request.presence_penalty"
GEN_AI_REQUEST_STOP_SEQUENCES: Final = "gen_ai.request.stop_sequences"
GEN_AI_REQUEST_SEED: Final = "gen_ai.request.seed"
GEN_AI_REQUEST_CHOICE_COUNT: Final = "gen_ai.request.choice.count"
GEN_AI_REQUEST_STREAM: Final = "gen_ai.request.stream"
GEN_AI_REQUEST_ENCODING_FORMATS: Final = "gen_ai.request.encoding_formats"
GEN_AI_OUTPUT_TYPE: Final = "gen_ai.output.type"
GEN_AI_RESPONSE_MODEL: Final = "gen_ai.response.model"
GEN_AI_RESPONSE_ID: Final = "gen_ai.response.id"
GEN_AI_RESPONSE_FINISH_REASONS: Final = "gen_ai.response.finish_reasons"
GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK: Final = "gen_ai.response.time_to_first_chunk"
GEN_AI_USAGE_INPUT_TOKENS: Final = "gen_ai.usage.input_tokens"
GEN_AI_USAGE_OUTPUT_TOKENS: Final = "gen_ai.usage.output_tokens"
GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: Final = "gen_ai.usage.cache_read.input_tokens"
GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS: Final = "gen_ai.usage.cache_creation.input_tokens"
GEN_AI_USAGE_REASONING_OUTPUT_TOKENS: Final = "gen_ai.usage.reasoning.output_tokens"
GEN_AI_TOKEN_TYPE: Final = "gen_ai.token.type"
GEN_AI_INPUT_MESSAGES: Final = "gen_ai.input.messages"
GEN_AI_OUTPUT_MESSAGES: Final = "gen_ai.output.messages"
GEN_AI_EMBEDDINGS_DIMENSION_COUNT: Final = "gen_ai.embeddings.dimension.count"
OPENAI_REQUEST_SERVICE_TIER: Final = "openai.request.service_tier"
OPENAI_RESPONSE_SERVICE_TIER: Final = "openai.response.service_tier"
OPENAI_RESPONSE_SYSTEM_FINGERPRINT: Final = "openai.response.system_fingerprint"
SERVER_ADDRESS: Final = "server.address"
SERVER_PORT: Final = "server.port"
ERROR_TYPE: Final = "error.type"
HTTP_RESPONSE_STATUS_CODE: Final = "http.response.status_code"
"""On a failed call's span: the provider's HTTP status, when the error carries one."""

# Proposed in semantic-conventions-genai PR #443 (not yet released).
GEN_AI_USAGE_COST_AMOUNT: Final = "gen_ai.usage.cost.amount"
GEN_AI_USAGE_COST_CURRENCY: Final = "gen_ai.usage.cost.currency"
GEN_AI_USAGE_COST_SOURCE: Final = "gen_ai.usage.cost.source"

# --- standard metric names ---------------------------------------------------------------
GEN_AI_CLIENT_TOKEN_USAGE: Final = "gen_ai.client.token.usage"
GEN_AI_CLIENT_OPERATION_DURATION: Final = "gen_ai.client.operation.duration"
GEN_AI_CLIENT_OPERATION_TIME_TO_FIRST_CHUNK: Final = "gen_ai.client.operation.time_to_first_chunk"

# --- standard values ---------------------------------------------------------------------
OPERATION_CHAT: Final = "chat"
OPERATION_TEXT_COMPLETION: Final = "text_completion"
OPERATION_EMBEDDINGS: Final = "embeddings"
OPERATION_GENERATE_CONTENT: Final = "generate_content"
OPERATION_RERANK: Final = "rerank"
"""Not in the conventions yet (custom values are allowed): Cohere's and Bedrock's rerank."""
TOKEN_TYPE_INPUT: Final = "input"
TOKEN_TYPE_OUTPUT: Final = "output"
COST_SOURCE_LOCAL: Final = "local"
COST_SOURCE_PROVIDER: Final = "provider"
CURRENCY_USD: Final = "USD"
ERROR_TYPE_OTHER: Final = "_OTHER"

# gen_ai.provider.name values defined by the conventions.
PROVIDER_OPENAI: Final = "openai"
PROVIDER_AZURE_OPENAI: Final = "azure.ai.openai"
PROVIDER_ANTHROPIC: Final = "anthropic"
PROVIDER_AWS_BEDROCK: Final = "aws.bedrock"
PROVIDER_GCP_GEMINI: Final = "gcp.gemini"
PROVIDER_GCP_VERTEX_AI: Final = "gcp.vertex_ai"
PROVIDER_COHERE: Final = "cohere"
PROVIDER_MISTRAL_AI: Final = "mistral_ai"
PROVIDER_DEEPSEEK: Final = "deepseek"
PROVIDER_GROQ: Final = "groq"
PROVIDER_X_AI: Final = "x_ai"
PROVIDER_PERPLEXITY: Final = "perplexity"
# Providers the conventions do not name yet: lower-case, as the conventions ask for custom values.
PROVIDER_TOGETHER_AI: Final = "together_ai"
PROVIDER_OPENROUTER: Final = "openrouter"
PROVIDER_FIREWORKS_AI: Final = "fireworks_ai"
PROVIDER_OLLAMA: Final = "ollama"
PROVIDER_VLLM: Final = "vllm"

# --- our own names: all under "otel_tokens." ---------------------------------------------
NAMESPACE: Final = "otel_tokens"

# Span attributes
OTEL_TOKENS_COST_INPUT: Final = "otel_tokens.cost.input"
"""USD for uncached input tokens."""
OTEL_TOKENS_COST_OUTPUT: Final = "otel_tokens.cost.output"
"""USD for output tokens (reasoning included)."""
OTEL_TOKENS_COST_CACHE_READ: Final = "otel_tokens.cost.cache_read"
"""USD for input tokens read from the provider's prompt cache."""
OTEL_TOKENS_COST_CACHE_CREATION: Final = "otel_tokens.cost.cache_creation"
"""USD for input tokens written to the provider's prompt cache."""
OTEL_TOKENS_PRICE_SOURCE: Final = "otel_tokens.price.source"
"""Where the price came from and its data version, e.g. ``genai-prices 0.2.3`` or ``override``."""
OTEL_TOKENS_PRICE_TIER: Final = "otel_tokens.price.service_tier"
"""Service tier the price was taken for (``priority``, ``flex``...), when not the default."""
OTEL_TOKENS_PRICE_MISSING: Final = "otel_tokens.price.missing"
"""True when no price is known for the model; no cost attribute is set then."""
OTEL_TOKENS_PRICE_MATCH: Final = "otel_tokens.price.match"
"""How the price of a call through an unknown host (a gateway) was inferred from its model name:
``model_prefix`` or ``model_name``. Absent when the call's own provider priced it."""
PRICE_MATCH_MODEL_PREFIX: Final = "model_prefix"
"""Priced under the provider a ``provider/model`` prefix names (``anthropic/claude-sonnet-4-5``)."""
PRICE_MATCH_MODEL_NAME: Final = "model_name"
"""Priced under the provider the bare model name points to (its maker, or the only one listing it)."""
OTEL_TOKENS_PRICE_PROVIDER: Final = "otel_tokens.price.provider"
"""The genai-prices provider id whose price list gave an inferred price (``otel_tokens.price.match``)."""
OTEL_TOKENS_USAGE_ESTIMATED: Final = "otel_tokens.usage.estimated"
"""True when token counts were counted locally because the response carried no usage."""
OTEL_TOKENS_USAGE_ESTIMATE_METHOD: Final = "otel_tokens.usage.estimate_method"
"""How an estimate was made: ``tiktoken:o200k_base``, ``tiktoken:cl100k_base`` or ``heuristic``."""
OTEL_TOKENS_USAGE_CACHE_CREATION_1H: Final = "otel_tokens.usage.cache_creation_1h.input_tokens"
"""The part of ``gen_ai.usage.cache_creation.input_tokens`` written with a 1-hour TTL (Anthropic)."""
OTEL_TOKENS_USAGE_SEARCH_UNITS: Final = "otel_tokens.usage.search_units"
"""Search units billed for a rerank call (Cohere), which has no token counts."""
OTEL_TOKENS_USAGE_RAW_INPUT_TOKENS: Final = "otel_tokens.usage.raw.input_tokens"
"""Input tokens the provider counted but did not bill (Cohere's ``tokens``, which include the preamble)."""
OTEL_TOKENS_USAGE_RAW_OUTPUT_TOKENS: Final = "otel_tokens.usage.raw.output_tokens"
"""Output tokens as the provider counted them, beside the billed ones (Cohere's ``tokens``)."""
OTEL_TOKENS_TAG_PREFIX: Final = "otel_tokens.tag."
"""Business tags: ``otel_tokens.tag.team``, ``otel_tokens.tag.feature``..."""

# Guardrails (span attributes; the ids and decision also label the guardrail metrics)
OTEL_TOKENS_BUDGET_ID: Final = "otel_tokens.budget.id"
"""The budget that decided the call (the most used one when several matched and all admitted)."""
OTEL_TOKENS_BUDGET_DECISION: Final = "otel_tokens.budget.decision"
"""What the guardrails did: ``admitted``, ``warned``, ``blocked`` or ``downgraded``."""
DECISION_ADMITTED: Final = "admitted"
DECISION_WARNED: Final = "warned"
DECISION_BLOCKED: Final = "blocked"
DECISION_DOWNGRADED: Final = "downgraded"
OTEL_TOKENS_BUDGET_UTILISATION: Final = "otel_tokens.budget.utilisation"
"""Used share of the deciding budget's limit, this call's reservation included (1.0 = the limit)."""
OTEL_TOKENS_BUDGET_RESERVATION: Final = "otel_tokens.budget.reservation"
"""What the call held before it was sent: worst-case USD (or tokens, for a token budget)."""
OTEL_TOKENS_BUDGET_UNIT: Final = "otel_tokens.budget.unit"
"""Unit of a budget's limit and spend: ``USD`` or ``token``."""
BUDGET_UNIT_USD: Final = "USD"
BUDGET_UNIT_TOKEN: Final = "token"
OTEL_TOKENS_BUDGET_THRESHOLD: Final = "otel_tokens.budget.threshold"
"""A threshold reached, as a fraction of the limit (``0.8``)."""
OTEL_TOKENS_BUDGET_ORIGINAL_MODEL: Final = "otel_tokens.budget.original_model"
"""The model the code asked for, when a guardrail sent the call to a cheaper one (the span's
``gen_ai.request.model`` is the one sent)."""
OTEL_TOKENS_BREAKER_ID: Final = "otel_tokens.breaker.id"
"""The runaway breaker that matched the call."""
OTEL_TOKENS_BREAKER_STATE: Final = "otel_tokens.breaker.state"
"""A breaker's state: ``closed``, ``open`` or ``half_open``."""
BREAKER_CLOSED: Final = "closed"
BREAKER_OPEN: Final = "open"
BREAKER_HALF_OPEN: Final = "half_open"
OTEL_TOKENS_BREAKER_REASON: Final = "otel_tokens.breaker.reason"
"""Why a breaker opened: ``usd_per_minute``, ``calls_per_minute``, ``anomaly`` or ``probe``."""
OTEL_TOKENS_CATALOGUE_ID: Final = "otel_tokens.catalogue.id"
"""The approved-model catalogue that matched the call."""
OTEL_TOKENS_MODEL_APPROVED: Final = "otel_tokens.model.approved"
"""Whether a matching catalogue approves the model (absent when no catalogue matched)."""
OTEL_TOKENS_LIMIT_PROVIDER: Final = "otel_tokens.limit.provider"
"""The provider's own spending cap refused the call: its error code, such as
``organization_spend_limit_exceeded``."""
OTEL_TOKENS_STORE_ERROR: Final = "otel_tokens.budget.store.error"
"""On ``otel_tokens.budget.store.errors``: ``timeout``, ``unreachable`` or ``error``."""

# Guardrail span events
EVENT_BUDGET_THRESHOLD: Final = "otel_tokens.budget.threshold"
EVENT_BREAKER_TRANSITION: Final = "otel_tokens.breaker.transition"
EVENT_BUDGET_DECISION: Final = "otel_tokens.budget.decision"

# Metric-only attributes
OTEL_TOKENS_TOKEN_TYPE: Final = "otel_tokens.token.type"
"""Kind of token counted by ``otel_tokens.client.token.detail``."""
TOKEN_DETAIL_CACHE_READ: Final = "cache_read"
TOKEN_DETAIL_CACHE_CREATION: Final = "cache_creation"
TOKEN_DETAIL_REASONING: Final = "reasoning"
OTEL_TOKENS_TAG_KEY: Final = "otel_tokens.tag.key"
"""On ``otel_tokens.tags.folded``: the tag key whose value was folded."""
OTEL_TOKENS_DROP_REASON: Final = "otel_tokens.drop.reason"
"""On ``otel_tokens.telemetry.dropped``: why a piece of a call's telemetry was left out."""
DROP_INVALID_USAGE: Final = "invalid_usage"
"""A token count in the response was not a sane non-negative integer; that count alone is left out."""
DROP_ESTIMATE_QUEUE_FULL: Final = "estimate_queue_full"
"""The local-estimate queue was full; the call was recorded at once, without estimated counts."""
DROP_SPAN_TAGS_LIMIT: Final = "span_tag_limit"
"""A call carried more business tags than the span limit; the excess tags are not on the span."""
DROP_SPAN_EXPORT_FAILED: Final = "span_export_failed"
"""Spans the exporter ``init()`` created could not send (backend refusing, not answering, erroring)."""
DROP_METRIC_EXPORT_FAILED: Final = "metric_export_failed"
"""Metric points the exporter ``init()`` created could not send."""

# Metrics
OTEL_TOKENS_CLIENT_COST: Final = "otel_tokens.client.cost"
"""Histogram of USD per call: ``_sum`` gives spend totals, buckets give cost per call."""
OTEL_TOKENS_CLIENT_TOKEN_DETAIL: Final = "otel_tokens.client.token.detail"
"""Counter of cached, cache-written and reasoning tokens (subsets of input/output tokens)."""
OTEL_TOKENS_CLIENT_UNPRICED_CALLS: Final = "otel_tokens.client.unpriced_calls"
"""Counter of calls whose model has no known price."""
OTEL_TOKENS_TAGS_FOLDED: Final = "otel_tokens.tags.folded"
"""Counter of tag values folded into the overflow value by the cardinality guard."""
OTEL_TOKENS_TELEMETRY_DROPPED: Final = "otel_tokens.telemetry.dropped"
"""Counter of telemetry pieces deliberately left out (by ``otel_tokens.drop.reason``): never silent."""

OTEL_TOKENS_BUDGET_SPEND: Final = "otel_tokens.budget.spend"
"""Gauge: settled spend of a budget's counter in its current window (per budget and group)."""
OTEL_TOKENS_BUDGET_LIMIT: Final = "otel_tokens.budget.limit"
"""Gauge: a budget's limit (per budget and group), so Prometheus can divide spend by it."""
OTEL_TOKENS_BUDGET_RESERVED: Final = "otel_tokens.budget.reserved"
"""Gauge: held by calls in flight (per budget and group)."""
OTEL_TOKENS_BUDGET_DECISIONS: Final = "otel_tokens.budget.decisions"
"""Counter of calls a guardrail warned about, blocked or downgraded (by budget, breaker or catalogue id)."""
OTEL_TOKENS_BUDGET_THRESHOLD_CROSSINGS: Final = "otel_tokens.budget.threshold.crossings"
"""Counter of thresholds reached (once per threshold and window)."""
OTEL_TOKENS_BREAKER_STATE_METRIC: Final = "otel_tokens.breaker.status"
"""Gauge per breaker and group: 0 closed, 1 half-open, 2 open."""
OTEL_TOKENS_BREAKER_TRANSITIONS: Final = "otel_tokens.breaker.transitions"
"""Counter of breaker state changes, by the state entered."""
OTEL_TOKENS_BUDGET_STORE_ERRORS: Final = "otel_tokens.budget.store.errors"
"""Counter of budget store failures (the call then follows the budget's fail mode)."""
OTEL_TOKENS_CLIENT_PROVIDER_LIMITS: Final = "otel_tokens.client.provider_limits"
"""Counter of calls refused by the provider's own spending cap (``otel_tokens.limit.provider``)."""

TAG_OVERFLOW_VALUE: Final = "__overflow__"
"""The value a tag takes on metrics once its key has too many distinct values."""

OWN_ATTRIBUTES: Final = (
    OTEL_TOKENS_COST_INPUT,
    OTEL_TOKENS_COST_OUTPUT,
    OTEL_TOKENS_COST_CACHE_READ,
    OTEL_TOKENS_COST_CACHE_CREATION,
    OTEL_TOKENS_PRICE_SOURCE,
    OTEL_TOKENS_PRICE_TIER,
    OTEL_TOKENS_PRICE_MISSING,
    OTEL_TOKENS_PRICE_MATCH,
    OTEL_TOKENS_PRICE_PROVIDER,
    OTEL_TOKENS_USAGE_ESTIMATED,
    OTEL_TOKENS_USAGE_ESTIMATE_METHOD,
    OTEL_TOKENS_USAGE_CACHE_CREATION_1H,
    OTEL_TOKENS_USAGE_SEARCH_UNITS,
    OTEL_TOKENS_USAGE_RAW_INPUT_TOKENS,
    OTEL_TOKENS_USAGE_RAW_OUTPUT_TOKENS,
    OTEL_TOKENS_TOKEN_TYPE,
    OTEL_TOKENS_TAG_KEY,
    OTEL_TOKENS_DROP_REASON,
    OTEL_TOKENS_BUDGET_ID,
    OTEL_TOKENS_BUDGET_DECISION,
    OTEL_TOKENS_BUDGET_UTILISATION,
    OTEL_TOKENS_BUDGET_RESERVATION,
    OTEL_TOKENS_BUDGET_UNIT,
    OTEL_TOKENS_BUDGET_THRESHOLD,
    OTEL_TOKENS_BUDGET_ORIGINAL_MODEL,
    OTEL_TOKENS_BREAKER_ID,
    OTEL_TOKENS_BREAKER_STATE,
    OTEL_TOKENS_BREAKER_REASON,
    OTEL_TOKENS_CATALOGUE_ID,
    OTEL_TOKENS_MODEL_APPROVED,
    OTEL_TOKENS_LIMIT_PROVIDER,
    OTEL_TOKENS_STORE_ERROR,
)
OWN_METRICS: Final = (
    OTEL_TOKENS_CLIENT_COST,
    OTEL_TOKENS_CLIENT_TOKEN_DETAIL,
    OTEL_TOKENS_CLIENT_UNPRICED_CALLS,
    OTEL_TOKENS_TAGS_FOLDED,
    OTEL_TOKENS_TELEMETRY_DROPPED,
    OTEL_TOKENS_BUDGET_SPEND,
    OTEL_TOKENS_BUDGET_LIMIT,
    OTEL_TOKENS_BUDGET_RESERVED,
    OTEL_TOKENS_BUDGET_DECISIONS,
    OTEL_TOKENS_BUDGET_THRESHOLD_CROSSINGS,
    OTEL_TOKENS_BREAKER_STATE_METRIC,
    OTEL_TOKENS_BREAKER_TRANSITIONS,
    OTEL_TOKENS_BUDGET_STORE_ERRORS,
    OTEL_TOKENS_CLIENT_PROVIDER_LIMITS,
)


def tag_attribute(key: str) -> str:
    """The attribute name that carries business tag ``key``."""
    return OTEL_TOKENS_TAG_PREFIX + key
