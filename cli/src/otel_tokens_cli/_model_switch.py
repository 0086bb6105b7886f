"""Cheaper models for one group's traffic on one model: the same token counts, call by call,
priced on each candidate with the SDK's :class:`~otel_tokens.pricing.PriceBook` (the current
model priced the same way, so both sides use the same rates), and the share of the calls whose
prompt fits each candidate's context window (exact from spans, a lower bound from metrics)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from otel_tokens.pricing import PriceBook
from otel_tokens.usage import Usage
from otel_tokens_cli._model_catalog import ModelCatalog
from otel_tokens_cli._records import TokenClass
from otel_tokens_cli._traffic import Evidence, Part, Traffic

__all__ = ["Candidate", "ContextFit", "Switch", "cheaper_models"]


@dataclass(frozen=True, slots=True)
class ContextFit:
    """Calls whose prompt fits ``window`` tokens: ``fitting`` of the ``known`` calls with a known
    size; a lower bound unless ``exact``. ``window`` None: the price data has no context window."""

    window: int | None
    fitting: int
    known: int
    exact: bool

    @property
    def share(self) -> float | None:
        return None if self.window is None or self.known == 0 else self.fitting / self.known


@dataclass(frozen=True, slots=True)
class Candidate:
    """The group's token counts priced on ``model``: its cost, the saving over the range (negative:
    dearer) and per month, and the saving's share of the current cost."""

    model: str
    cost: float
    saving: float
    saving_per_month: float
    saving_share: float
    context: ContextFit


@dataclass(frozen=True, slots=True)
class Switch:
    """Cheaper models for one group's traffic on one model. ``current_cost`` is that traffic
    priced now with the same price book (``current_basis`` ``repriced``), or as recorded when the
    book has no price for the model (``recorded``)."""

    label: tuple[str, str]
    provider: str
    model: str
    evidence: Evidence
    current_cost: float
    current_basis: str
    candidates: tuple[Candidate, ...]
    unpriced_candidates: tuple[str, ...] = ()


def _usage(tokens: Mapping[TokenClass, int], reasoning: int) -> Usage:
    write_1h = tokens.get(TokenClass.CACHE_WRITE_1H, 0)
    writes = tokens.get(TokenClass.CACHE_WRITE_5M, 0) + write_1h
    reads = tokens.get(TokenClass.CACHE_READ, 0)
    return Usage(
        input_tokens=tokens.get(TokenClass.INPUT, 0) + reads + writes,
        output_tokens=tokens.get(TokenClass.OUTPUT, 0),
        cache_read_input_tokens=reads,
        cache_creation_input_tokens=writes,
        cache_creation_1h_input_tokens=write_1h,
        reasoning_output_tokens=reasoning,
        search_units=tokens.get(TokenClass.SEARCH_UNITS) or None,
    )


def _part_cost(book: PriceBook, provider: str, model: str, part: Part) -> float | None:
    """The cost of ``calls`` calls sharing the part's tokens evenly: one mean call times the calls
    (so a long-context tier applies per call, as billed), plus the remainder tokens priced at the
    margin of that call. Exact for one call; ``None`` when the book has no price."""
    tier, tokens, reasoning, calls = part
    if calls <= 1:
        cost = book.cost(provider, model, _usage(tokens, reasoning), tier)
        return None if cost is None else cost.total
    base = {kind: count // calls for kind, count in tokens.items()}
    one = book.cost(provider, model, _usage(base, reasoning // calls), tier)
    if one is None:
        return None
    total = one.total * calls
    if any(count % calls for count in tokens.values()) or reasoning % calls:
        whole = {kind: base[kind] + count % calls for kind, count in tokens.items()}
        more = book.cost(provider, model, _usage(whole, reasoning // calls + reasoning % calls), tier)
        if more is None:
            return None
        total += more.total - one.total
    return total


def _cost(book: PriceBook, provider: str, model: str, parts: Iterable[Part]) -> float | None:
    total = 0.0
    for part in parts:
        cost = _part_cost(book, provider, model, part)
        if cost is None:
            return None
        total += cost
    return total


def _context_fit(traffic: Traffic, window: int | None) -> ContextFit:
    sizes = traffic.sizes
    fitting = 0 if window is None else sum(calls for size, calls in sizes.items() if size <= window)
    return ContextFit(window, fitting, sum(sizes.values()), traffic.exact)


def cheaper_models(
    traffic: Traffic,
    book: PriceBook,
    catalog: ModelCatalog,
    *,
    candidate_models: Sequence[str],
    max_candidates: int,
    per_month: Callable[[float], float],
) -> Switch | None:
    """The candidates cheaper than the traffic's model, cheapest first: ``candidate_models`` when
    given (each shown, dearer or without a price too), else the :meth:`ModelCatalog.family`'s
    ``max_candidates`` greatest savings. ``per_month`` scales a saving over the range to a month.
    ``None`` when the traffic costs nothing or nothing is to be shown."""
    provider, model = traffic.provider, traffic.model
    explicit = bool(candidate_models)
    names = [name for name in candidate_models or catalog.family(provider, model) if name != model]
    exact = traffic.exact_parts()
    repriced = _cost(book, provider, model, exact)
    current = traffic.evidence.cost if repriced is None else repriced
    if current <= 0 or not names:
        return None
    pooled = traffic.pooled_parts()
    pooled_current = _cost(book, provider, model, pooled)
    ranked: list[tuple[float, str]] = []
    unpriced: list[str] = []
    for name in names:
        estimate = _cost(book, provider, name, pooled)
        if estimate is None:
            unpriced.append(name)
        else:
            ranked.append(((current if pooled_current is None else pooled_current) - estimate, name))
    if not explicit:
        ranked = sorted((item for item in ranked if item[0] > 0), key=lambda item: (-item[0], item[1]))
        ranked = ranked[:max_candidates]
    candidates = []
    for _, name in ranked:
        cost = _cost(book, provider, name, exact)
        if cost is None:  # the pooled calls had a price: so do these
            continue
        saving = current - cost
        if explicit or saving > 0:
            fit = _context_fit(traffic, catalog.context_window(provider, name))
            candidates.append(Candidate(name, cost, saving, per_month(saving), saving / current, fit))
    if not candidates and not (explicit and unpriced):
        return None
    candidates.sort(key=lambda candidate: (-candidate.saving, candidate.model))
    basis = "recorded" if repriced is None else "repriced"
    return Switch(
        traffic.label, provider, model, traffic.evidence, current, basis, tuple(candidates), tuple(unpriced)
    )
