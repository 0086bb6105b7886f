"""A usage record's recorded cost split over its token classes, at today's relative rates.

Records do not always split their cost by class (metric series; 1-hour and 5-minute cache writes
share one span attribute; search units): :func:`apportion` gives each class with tokens a part, the
recorded parts kept and the rest of the recorded total spread over the classes that lack one in
proportion to their tokens times their rates (:class:`ClassRates`, asked of a price book). Each
part says where it comes from (:class:`CostBasis`). Costs are never priced again here: the parts
add up to the recorded cost.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import NamedTuple

from otel_tokens.pricing import PriceBook
from otel_tokens.usage import Usage
from otel_tokens_cli._records import CostBasis, TokenClass, UsageRecord

__all__ = ["ClassCost", "ClassRates", "apportion"]

_NOISE = 1e-9  # relative: a recorded total and the sum of its parts differing by less are equal
_PROBE = 1000  # tokens per class when asking the price book for a rate: far below any long-context tier


class ClassCost(NamedTuple):
    """The cost of one token class of a record and where it comes from."""

    cost: float
    source: CostBasis


class ClassRates:
    """USD per token (per search unit) of token classes of a model, from a price book.

    Each (provider, model, tier, class) is asked of the book once, and only when a caller needs
    it (asking for a search-unit price the book lacks logs a warning). A class the book cannot
    price is left out of the answer; a model the book does not know gives ``None`` (the book logs
    its usual one warning per model).
    """

    def __init__(self, price_book: PriceBook) -> None:
        self._book = price_book
        self._known: dict[tuple[str, str, str], float | None] = {}  # the per-call price; None: unknown
        self._rates: dict[tuple[str, str, str, TokenClass], float | None] = {}

    def __call__(
        self, provider: str, model: str, tier: str, kinds: Iterable[TokenClass]
    ) -> dict[TokenClass, float] | None:
        key = (provider, model, tier)
        if key not in self._known:
            base = self._book.cost(provider, model, Usage(input_tokens=0, output_tokens=0), tier or None)
            self._known[key] = None if base is None else base.total
        per_call = self._known[key]
        if per_call is None:
            return None
        rates = {}
        for kind in kinds:
            if (*key, kind) not in self._rates:
                self._rates[(*key, kind)] = self._probe(key, kind, per_call)
            rate = self._rates[(*key, kind)]
            if rate is not None:
                rates[kind] = rate
        return rates

    def _probe(self, key: tuple[str, str, str], kind: TokenClass, per_call: float) -> float | None:
        n = _PROBE
        usage = {
            TokenClass.INPUT: Usage(input_tokens=n),
            TokenClass.CACHE_READ: Usage(input_tokens=n, cache_read_input_tokens=n),
            TokenClass.CACHE_WRITE_5M: Usage(
                input_tokens=n, cache_creation_input_tokens=n, cache_creation_1h_input_tokens=0
            ),
            TokenClass.CACHE_WRITE_1H: Usage(
                input_tokens=n, cache_creation_input_tokens=n, cache_creation_1h_input_tokens=n
            ),
            TokenClass.OUTPUT: Usage(output_tokens=n),
            TokenClass.SEARCH_UNITS: Usage(search_units=n),
        }[kind]
        provider, model, tier = key
        found = self._book.cost(provider, model, usage, tier or None)
        if found is None:
            return None
        part = {
            TokenClass.INPUT: found.input,
            TokenClass.CACHE_READ: found.cache_read,
            TokenClass.CACHE_WRITE_5M: found.cache_creation,
            TokenClass.CACHE_WRITE_1H: found.cache_creation,
            TokenClass.OUTPUT: found.output,
            # Search units are priced in the total only, beside any per-call price.
            TokenClass.SEARCH_UNITS: found.total - per_call,
        }[kind]
        return part / n


def apportion(record: UsageRecord, rates: ClassRates | None = None) -> dict[TokenClass, ClassCost]:
    """The record's recorded cost split over its token classes that have tokens.

    A class the record has a recorded cost for keeps it (source ``recorded``, or ``repriced``
    for a repriced record). The rest of the recorded total goes to the classes without one (all
    classes if none lacks one: a per-request price), in proportion to each class's tokens times
    its rate from ``rates``, or to the token counts where ``rates`` is ``None``, does not know the
    model or lacks a rate for one of them; those classes' source is ``apportioned`` (``repriced``
    for a repriced record). Recorded parts above the total are scaled down to it. The parts add
    up to the record's cost, except when it has no tokens at all: the result is then empty and
    the cost has no class to go to.
    """
    counts = {kind: record.tokens.get(kind, 0) for kind in TokenClass if record.tokens.get(kind, 0) > 0}
    if not counts:
        return {}
    repriced = record.cost_basis is CostBasis.REPRICED
    kept = CostBasis.REPRICED if repriced else CostBasis.RECORDED
    split = CostBasis.REPRICED if repriced else CostBasis.APPORTIONED
    parts = {kind: ClassCost(cost, kept) for kind, cost in record.class_costs.items() if kind in counts}
    rest = record.cost - sum(part.cost for part in parts.values())
    missing = [kind for kind in counts if kind not in parts]
    if abs(rest) > _NOISE * abs(record.cost):
        if rest > 0:
            targets = missing or list(counts)
            weights = _weights(record, targets, counts, rates)
        else:
            # Parts above the total (inconsistent input): scaled down so that the total holds.
            targets = [kind for kind, part in parts.items() if part.cost > 0]
            weights = {kind: parts[kind].cost for kind in targets}
        total = sum(weights.values())
        for kind in targets:
            earlier = parts[kind].cost if kind in parts else 0.0
            parts[kind] = ClassCost(earlier + rest * weights[kind] / total, split)
    return {**{kind: ClassCost(0.0, split) for kind in missing}, **parts}


def _weights(
    record: UsageRecord, targets: list[TokenClass], counts: Mapping[TokenClass, int], rates: ClassRates | None
) -> dict[TokenClass, float]:
    known = rates(record.provider, record.model, record.service_tier, targets) if rates is not None else None
    if known is not None and len(known) == len(targets):
        weights = {kind: counts[kind] * known[kind] for kind in targets}
        if sum(weights.values()) > 0:
            return weights
    return {kind: float(counts[kind]) for kind in targets}
