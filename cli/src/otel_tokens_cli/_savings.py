"""Usage records -> savings recommendations: cheaper models, prompt caching, unpriced models, jumps.

Pure but for the price book and the price data it is given: it reads :class:`UsageRecord`
values only, groups them by the first of the ``--by`` keys a record has (``feature``, else
``team``) and its provider and model, and answers four questions, each with its evidence:

* **Cheaper models** (:mod:`otel_tokens_cli._model_switch`). The same token counts, call by
  call, priced on each candidate with the SDK's own :class:`~otel_tokens.pricing.PriceBook` (the
  rates the services apply, overrides included); the current model is priced the same way, so
  both sides use the same rates. By default the candidates are the other models of the
  genai-prices provider that prices the current one, of the same kind (see
  :meth:`~otel_tokens_cli._model_catalog.ModelCatalog.family`). The saving per month is the
  range's saving scaled to a 30.44-day month. The share of calls whose prompt fits a candidate's
  context window is exact from spans and a lower bound from metrics (a histogram bucket's upper
  bound stands for the prompt).
* **Prompt caching** (:mod:`otel_tokens_cli._prompt_caching`). For groups on Anthropic or OpenAI
  models that read little from the cache: the saving if a share of each eligible prompt were a
  cached prefix with N reads per write, and the break-even reads per write, from the price book's
  input, cache-read and cache-write rates.
* **Unpriced models**, which need a ``[[price]]`` override.
* **Jumps** of a group's output/input token ratio or call rate against the period of the same
  length before.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from otel_tokens.pricing import PriceBook
from otel_tokens.usage import Usage
from otel_tokens_cli._model_catalog import ModelCatalog
from otel_tokens_cli._model_switch import Switch, cheaper_models
from otel_tokens_cli._prompt_caching import CacheOpportunity, caching_opportunity
from otel_tokens_cli._records import UsageRecord
from otel_tokens_cli._traffic import Evidence, Traffic, group_label

__all__ = [
    "MONTH_DAYS",
    "Jump",
    "Options",
    "Recommendations",
    "Unpriced",
    "recommend",
]

MONTH_DAYS = 30.44
"""The mean month (365.25 / 12 days) that per-month figures are scaled to."""


@dataclass(frozen=True, slots=True)
class Options:
    """The knobs of :func:`recommend`; every default is stated in the output's assumptions."""

    by: tuple[str, ...] = ("feature", "team")
    candidates: tuple[str, ...] = ()
    """Explicit candidate models (priced under each group's provider); empty: the family."""
    max_candidates: int = 3
    prefix_share: float = 0.5
    """The share of each eligible prompt's uncached input taken as a stable, cacheable prefix."""
    reads_per_write: int = 10
    max_cache_read: float = 0.1
    """Groups reading at least this share of their input from the cache are not flagged."""
    ratio_jump: float = 1.5
    rate_jump: float = 2.0
    min_calls: int = 20
    """Calls a group needs in both periods before a jump is flagged."""


@dataclass(frozen=True, slots=True)
class Unpriced:
    """A model whose calls had no price: they need a ``[[price]]`` override. ``priced_now`` is the
    price source that prices it today, if one does (the calls were recorded before it did)."""

    provider: str
    model: str
    calls: int
    input_tokens: int
    output_tokens: int
    groups: tuple[str, ...]
    priced_now: str | None

    @property
    def command(self) -> str:
        """The command line that shows what price, if any, otel-tokens finds for the model."""
        provider = f" --provider {_shell_word(self.provider)}" if self.provider else ""
        return f"otel-tokens prices {_shell_word(self.model)}{provider}"


@dataclass(frozen=True, slots=True)
class Jump:
    """A group whose ``kind`` (``output/input ratio`` or ``call rate``, calls per day) went from
    ``before`` to ``now``, ``factor`` times, against the period of the same length before."""

    label: tuple[str, str]
    kind: str
    before: float
    now: float
    factor: float
    evidence: Evidence
    previous: Evidence


@dataclass(slots=True)
class Recommendations:
    """Everything :func:`recommend` found for the records of ``[start, end)``.

    ``covered_end`` is the end of the range or now, whichever is first (a range may reach into
    the future); ``previous_start`` where the period before starts, or where the source's calls
    in it start when that is later (a source that does not reach back a whole period)."""

    start: datetime
    end: datetime
    covered_end: datetime
    previous_start: datetime
    options: Options
    price_data: str
    switches: list[Switch] = field(default_factory=list)
    caching: list[CacheOpportunity] = field(default_factory=list)
    unpriced: list[Unpriced] = field(default_factory=list)
    jumps: list[Jump] = field(default_factory=list)

    @property
    def days(self) -> float:
        """Days of the range up to now."""
        return (self.covered_end - self.start).total_seconds() / 86400

    @property
    def previous_days(self) -> float:
        """Days of the period before that the source covers."""
        return (self.start - self.previous_start).total_seconds() / 86400

    def per_month(self, amount: float) -> float:
        """``amount`` over the range (up to now), scaled to a 30.44-day month."""
        return amount * MONTH_DAYS / self.days


def _shell_word(text: str) -> str:
    return text if re.fullmatch(r"[\w.:/@+-]+", text) else "'" + text.replace("'", "'\\''") + "'"


def _unpriced(records: Iterable[UsageRecord], by: Sequence[str], book: PriceBook) -> list[Unpriced]:
    found: dict[tuple[str, str], tuple[Evidence, set[str]]] = {}
    for record in records:
        if not record.unpriced_requests:
            continue
        evidence, groups = found.setdefault((record.provider, record.model), (Evidence(), set()))
        share = record.unpriced_requests / record.requests
        evidence.calls += record.unpriced_requests
        evidence.input_tokens += round(record.input_tokens * share)
        evidence.output_tokens += round(record.output_tokens * share)
        groups.add(_label_text(group_label(record, by)))
    result = []
    for (provider, model), (evidence, groups) in found.items():
        now = book.cost(provider, model, Usage(input_tokens=1, output_tokens=1))
        result.append(
            Unpriced(provider, model, evidence.calls, evidence.input_tokens, evidence.output_tokens,
                     tuple(sorted(groups)), None if now is None else now.source)
        )  # fmt: skip
    result.sort(key=lambda item: (-item.calls, item.provider, item.model))
    return result


def _label_text(label: tuple[str, str]) -> str:
    return f"{label[0]}={label[1]}" if label[0] else "(untagged)"


def _jumps(
    current: Iterable[UsageRecord], previous: Iterable[UsageRecord], found: Recommendations
) -> list[Jump]:
    options = found.options
    now: dict[tuple[str, str], Evidence] = {}
    before: dict[tuple[str, str], Evidence] = {}
    for records, groups in ((current, now), (previous, before)):
        for record in records:
            groups.setdefault(group_label(record, options.by), Evidence()).add(record)
    jumps = []
    for label, evidence in sorted(now.items()):
        old = before.get(label)
        if old is None or min(old.calls, evidence.calls) < options.min_calls:
            continue
        if min(old.input_tokens, old.output_tokens, evidence.input_tokens) > 0:
            was, is_now = old.output_tokens / old.input_tokens, evidence.output_tokens / evidence.input_tokens
            if is_now >= was * options.ratio_jump:
                jumps.append(Jump(label, "output/input ratio", was, is_now, is_now / was, evidence, old))
        # Calls per day, each period over the days it covers.
        was, is_now = old.calls / found.previous_days, evidence.calls / found.days
        if is_now >= was * options.rate_jump:
            jumps.append(Jump(label, "call rate", was, is_now, is_now / was, evidence, old))
    jumps.sort(key=lambda jump: (-jump.factor, jump.label, jump.kind))
    return jumps


def recommend(
    current: Sequence[UsageRecord],
    previous: Sequence[UsageRecord],
    *,
    start: datetime,
    end: datetime,
    book: PriceBook,
    catalog: ModelCatalog,
    options: Options | None = None,
    now: datetime | None = None,
) -> Recommendations:
    """Every recommendation for the records starting in ``[start, end)`` (others in ``current``
    are ignored); ``previous`` holds those of the period of the same length before, for the
    jumps. Prices with ``book``; finds candidates and context windows in ``catalog``. Rates and
    per-month figures count the range up to ``now`` (default: the present)."""
    covered_end = min(end, now or datetime.now(UTC))
    if covered_end <= start:
        raise ValueError(f"the range starting {start:%Y-%m-%dT%H:%M:%SZ} has not started yet")
    before = start - (end - start)
    earlier = [record for record in previous if before <= record.start < start]
    previous_start = min((record.start for record in earlier), default=before)
    found = Recommendations(start, end, covered_end, previous_start, options or Options(), book.data_version)
    options = found.options
    in_range = [record for record in current if start <= record.start < end]
    traffic: dict[tuple[tuple[str, str], str, str], Traffic] = {}
    for record in in_range:
        if record.requests > record.unpriced_requests:
            key = (group_label(record, options.by), record.provider, record.model)
            traffic.setdefault(key, Traffic(*key)).add(record)
    for key in sorted(traffic):
        group = traffic[key]
        switch = cheaper_models(
            group,
            book,
            catalog,
            candidate_models=options.candidates,
            max_candidates=options.max_candidates,
            per_month=found.per_month,
        )
        if switch is not None:
            found.switches.append(switch)
        opportunity = caching_opportunity(
            group,
            book,
            prefix_share=options.prefix_share,
            reads_per_write=options.reads_per_write,
            max_cache_read=options.max_cache_read,
            per_month=found.per_month,
        )
        if opportunity is not None:
            found.caching.append(opportunity)
    found.switches.sort(key=lambda s: (-max((c.saving for c in s.candidates), default=0.0), s.label, s.model))
    found.caching.sort(key=lambda c: (-max(s.saving for s in c.scenarios), c.label, c.model))
    found.unpriced = _unpriced(in_range, options.by, book)
    found.jumps = _jumps(in_range, earlier, found)
    return found
