"""otel-tokens: tokens, cost in USD and business tags on every LLM call, over OpenTelemetry.

Start with one line::

    import otel_tokens
    otel_tokens.init()

or run the program under ``opentelemetry-instrument`` with no code change. Tag spend::

    with otel_tokens.tags(team="search", feature="autocomplete"):
        client.chat.completions.create(...)

Cap it, before the money is spent::

    search_cap = otel_tokens.Budget("search", limit=500, window="month", match={"team": "search"})
    otel_tokens.init(budgets=[search_cap])
"""

from __future__ import annotations

from importlib.metadata import version

from otel_tokens._errors import ConfigurationError
from otel_tokens._guardrail_setup import reload_budgets
from otel_tokens._settings import Settings
from otel_tokens._setup import flush, init, instrument, instrumented_clients, shutdown, uninstrument
from otel_tokens._tags import current_tags, tags
from otel_tokens.budgets import (
    Action,
    Breaker,
    BreakerOpenError,
    Budget,
    BudgetExceededError,
    BudgetStoreUnavailableError,
    Catalogue,
    Decision,
    GuardrailError,
    ModelNotApprovedError,
    Policy,
    UnpricedModelError,
)

__all__ = [
    "Action",
    "Breaker",
    "BreakerOpenError",
    "Budget",
    "BudgetExceededError",
    "BudgetStoreUnavailableError",
    "Catalogue",
    "ConfigurationError",
    "Decision",
    "GuardrailError",
    "ModelNotApprovedError",
    "Policy",
    "Settings",
    "UnpricedModelError",
    "current_tags",
    "flush",
    "init",
    "instrument",
    "instrumented_clients",
    "reload_budgets",
    "shutdown",
    "tags",
    "uninstrument",
]
__version__ = version("otel-tokens")
