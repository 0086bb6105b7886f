"""Putting a policy in force: the store it counts in, the process's guardrails, and reloads.

``init()`` (or the first use under ``opentelemetry-instrument``) builds the guardrails from the
settings; :func:`reload_budgets` re-reads the policy file without a restart. A new policy keeps
the store (and so every counter and hold) when the store settings did not change, and keeps the
breakers' state when the breakers did not change.
"""

from __future__ import annotations

import logging

from otel_tokens import _runtime
from otel_tokens._budget_store import MemoryStore, Store
from otel_tokens._errors import ConfigurationError
from otel_tokens._guardrails import Guardrails
from otel_tokens._settings import Settings
from otel_tokens.budgets import Policy
from otel_tokens.pricing import PriceBook

logger = logging.getLogger("otel_tokens")


def store_config(settings: Settings) -> tuple[str, int, str]:
    return (settings.budget_store, settings.budget_store_timeout_ms, settings.budget_key_prefix)


def make_store(settings: Settings) -> Store:
    """The store the settings name: in this process's memory, or a Redis shared by the fleet."""
    if settings.budget_store == "memory":
        return MemoryStore()
    from otel_tokens._redis_store import RedisStore

    return RedisStore(
        settings.budget_store,
        prefix=settings.budget_key_prefix,
        timeout=settings.budget_store_timeout_ms / 1000,
    )


def build_guardrails(
    settings: Settings, prices: PriceBook, policy: Policy | None = None
) -> Guardrails | None:
    """The guardrails for ``settings`` (or ``policy``), reusing what the current ones may keep."""
    policy = settings.budgets if policy is None else policy
    if policy is None or policy.empty:
        return None
    current = _runtime.STATE.guardrails
    config = store_config(settings)
    reuse = current is not None and current.store_config == config
    store = current.store if current is not None and reuse else make_store(settings)
    breakers = (
        current.breakers if current is not None and current.policy.breakers == policy.breakers else None
    )
    guardrails = Guardrails(policy, store, prices, max_tag_values=settings.max_tag_values, breakers=breakers)
    guardrails.store_config = config
    return guardrails


def install_guardrails(guardrails: Guardrails | None) -> None:
    """Put ``guardrails`` in force (the next call uses them); close a store no longer used."""
    previous = _runtime.STATE.guardrails
    _runtime.STATE.guardrails = guardrails
    if previous is not None and (guardrails is None or guardrails.store is not previous.store):
        previous.store.close()


def reload_budgets() -> bool:
    """Re-read the budget policy file (``OTEL_TOKENS_BUDGETS`` or ``init(budgets=path)``) now.

    The new policy applies to the next call; counters, holds and breaker states carry over. An
    invalid file keeps the policy in force and logs an ERROR saying why; returns False then
    (and when no policy was read from a file). Returns True when the file's policy is in force.
    """
    settings = _runtime.settings()
    policy = settings.budgets
    if policy is None or policy.source is None:
        logger.error(
            "otel-tokens: reload_budgets(): the budget policy was not read from a file; nothing to reload"
        )
        return False
    from otel_tokens._policy_file import load_policy

    with _runtime.STATE.lock:
        try:
            fresh = load_policy(policy.source)
            guardrails = build_guardrails(settings, _runtime.price_book(), fresh)
        except ConfigurationError as error:
            logger.error("otel-tokens: reload_budgets(): the policy in force is kept: %s", error)
            return False
        install_guardrails(guardrails)
    logger.info(
        "otel-tokens: budget policy reloaded from %s: %d budget(s), %d breaker(s), %d catalogue(s)",
        policy.source, len(fresh.budgets), len(fresh.breakers), len(fresh.catalogues),
    )  # fmt: skip
    return True
