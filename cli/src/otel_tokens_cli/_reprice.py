"""``--reprice``: usage records priced again with today's price book, on purpose only.

Reports price each call as recorded (the price in force when it was made). Repricing answers
another question, "what would this usage cost at today's prices (and overrides)?", so every
repriced record says so (:attr:`CostBasis.REPRICED`, the price book's data version as its source).
A record that aggregates several calls (a metric series) is priced as one call of the summed
counts: a long-context tier, which depends on each call's own input, is then approximate.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

from otel_tokens.pricing import PriceBook
from otel_tokens.usage import Usage
from otel_tokens_cli._records import CostBasis, TokenClass, UsageRecord

__all__ = ["reprice"]


def _usage(record: UsageRecord) -> Usage:
    tokens = record.tokens
    writes_1h = tokens.get(TokenClass.CACHE_WRITE_1H, 0)
    return Usage(
        input_tokens=record.input_tokens,
        output_tokens=record.output_tokens,
        cache_read_input_tokens=tokens.get(TokenClass.CACHE_READ, 0),
        cache_creation_input_tokens=tokens.get(TokenClass.CACHE_WRITE_5M, 0) + writes_1h,
        cache_creation_1h_input_tokens=writes_1h or None,
        reasoning_output_tokens=record.reasoning_tokens,
        search_units=tokens.get(TokenClass.SEARCH_UNITS) or None,
    )


def reprice(records: Iterable[UsageRecord], price_book: PriceBook) -> list[UsageRecord]:
    """Each record priced with ``price_book``; one with no price there becomes unpriced."""
    repriced = []
    source = price_book.data_version
    for record in records:
        cost = price_book.cost(record.provider, record.model, _usage(record), record.service_tier or None)
        if cost is None:
            repriced.append(
                dataclasses.replace(
                    record,
                    cost=0.0,
                    class_costs={},
                    cost_basis=CostBasis.REPRICED,
                    unpriced_requests=record.requests,
                )
            )
            continue
        parts = {
            TokenClass.INPUT: cost.input,
            TokenClass.CACHE_READ: cost.cache_read,
            TokenClass.OUTPUT: cost.output,
        }
        if not record.tokens.get(TokenClass.CACHE_WRITE_1H):
            parts[TokenClass.CACHE_WRITE_5M] = cost.cache_creation
        repriced.append(
            dataclasses.replace(
                record,
                cost=cost.total,
                class_costs=parts,
                cost_basis=CostBasis.REPRICED,
                price_source=cost.source if cost.source.startswith("override") else source,
                unpriced_requests=0,
            )
        )
    return repriced
