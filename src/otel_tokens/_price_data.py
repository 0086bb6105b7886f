"""The genai-prices side of pricing: load the data once, find a model, turn its price into floats.

Everything that touches ``genai_prices`` lives here and imports it lazily: importing the
library pulls in pydantic and its 2,000-model data module, so that happens on first use or in
:meth:`otel_tokens.pricing.PriceBook.preload`, never when otel-tokens is imported.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from otel_tokens import _runtime, semconv
from otel_tokens.usage import Usage

if TYPE_CHECKING:
    from genai_prices.data_snapshot import DataSnapshot
    from genai_prices.types import ModelInfo, ModelPrice, Provider
    from genai_prices.units import UnitRegistry

# gen_ai.provider.name -> genai-prices provider id. Explicit, because the library's fuzzy
# provider matching sends "azure.ai.openai" to OpenAI and knows neither "x_ai" nor "fireworks_ai".
PROVIDER_IDS: Mapping[str, str] = {
    "openai": "openai",
    "azure.ai.openai": "azure",
    "anthropic": "anthropic",
    "aws.bedrock": "aws",
    "gcp.gemini": "google",
    "gcp.vertex_ai": "google",
    "cohere": "cohere",
    "mistral_ai": "mistral",
    "deepseek": "deepseek",
    "groq": "groq",
    "x_ai": "x-ai",
    "perplexity": "perplexity",
    "together_ai": "together",
    "openrouter": "openrouter",
    "fireworks_ai": "fireworks",
}

# Prefixes that gateways put before a model name (LiteLLM's provider names, OpenRouter's and
# Hugging Face's organisations) -> genai-prices provider id, where the library's own ids and
# aliases (``find_provider_by_id``) do not already find the right provider.
GATEWAY_PREFIXES: Mapping[str, str] = {
    **PROVIDER_IDS,
    "bedrock": "aws",
    "bedrock_converse": "aws",
    "vertex_ai": "google",
    "vertex_ai_beta": "google",
    "gemini": "google",
    "xai": "x-ai",
    "mistralai": "mistral",
    "together": "together",
    "fireworks": "fireworks",
    "azure": "azure",
}

# Bedrock: an ARN wraps the model id; a geographic cross-region profile (us., eu., apac....)
# costs the in-region price. "global." is left alone: global profiles have prices of their own.
BEDROCK_ARN = re.compile(r"^arn:aws[\w-]*:bedrock:[^:]*:[^:]*:[\w-]+/(.+)$")
_BEDROCK_GEO_PREFIX = re.compile(r"^(?:us|us-gov|eu|apac|au|jp|ca|in)\.")

# The usage keys we give the library, and the price keys that price them. Any other price key
# (audio, image, searches...) prices a count that is 0 for token usage, unless its unit is an
# ancestor of one of ours in the library's unit lattice, which would make it absorb our tokens.
_REPORTED_USAGE_KEYS = (
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "cache_write_5m_tokens",
    "cache_write_1h_tokens",
    "output_reasoning_tokens",
)
_MODELLED_PRICE_KEYS = frozenset(
    {
        "input_mtok",
        "output_mtok",
        "cache_read_mtok",
        "cache_write_mtok",
        "cache_write_5m_mtok",
        "cache_write_1h_mtok",
        "output_reasoning_mtok",
        "requests_kcount",
    }
)


@dataclass(frozen=True, slots=True)
class Rates:
    """USD per token of each kind (``request``: USD per call), every default already filled in.

    ``search_unit`` (USD per rerank search unit) is ``None`` unless an override gives it: the
    price data has no search-unit prices, and a rerank call must then have no cost, not 0.
    """

    input: float
    output: float
    cache_read: float
    cache_write: float
    cache_write_5m: float
    cache_write_1h: float
    reasoning: float
    request: float
    search_unit: float | None = None

    @classmethod
    def with_defaults(
        cls,
        input: float,
        output: float,
        *,
        cache_read: float | None = None,
        cache_write: float | None = None,
        cache_write_5m: float | None = None,
        cache_write_1h: float | None = None,
        reasoning: float | None = None,
        request: float = 0.0,
        search_unit: float | None = None,
    ) -> Rates:
        """Missing rates as the library bills them: cache reads and writes at the input rate,
        the 5m/1h parts at the cache-write rate, reasoning at the output rate."""
        write = input if cache_write is None else cache_write
        return cls(
            input=input,
            output=output,
            cache_read=input if cache_read is None else cache_read,
            cache_write=write,
            cache_write_5m=write if cache_write_5m is None else cache_write_5m,
            cache_write_1h=write if cache_write_1h is None else cache_write_1h,
            reasoning=output if reasoning is None else reasoning,
            request=request,
            search_unit=search_unit,
        )

    def scaled(self, factor: float) -> Rates:
        if factor == 1.0:
            return self
        search_unit = None if self.search_unit is None else self.search_unit * factor
        return replace(
            self,
            **{name: getattr(self, name) * factor for name in _TOKEN_RATES},
            search_unit=search_unit,
        )


_TOKEN_RATES = tuple(f.name for f in fields(Rates) if f.name != "search_unit")
ZERO_RATES = Rates(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
Bands = tuple[Rates, tuple[tuple[float, Rates], ...]]
"""Rates up to the first long-context tier, then (total-input threshold, rates), highest first."""


@dataclass(frozen=True, slots=True)
class Library:
    data_snapshot: Any
    types: Any
    update_prices: Any
    registry: UnitRegistry
    version: str


def load() -> Library:
    """Import genai-prices and its data once per process (~70 ms); kept in the process state.

    No lock of ours: Python's import system already makes concurrent first loads wait for one
    import, and a race at worst builds the same small :class:`Library` twice. A lock here would
    be one more thing a ``fork()`` could leave held in the child; the import itself runs on the
    caller's thread of ``init()`` (see ``otel_tokens._runtime.load_prices``).
    """
    loaded = _runtime.STATE.price_library
    if loaded is not None:
        return loaded
    import genai_prices
    from genai_prices import data_snapshot, types, units, update_prices

    data_snapshot.get_snapshot()
    # The registry instance the library itself prices with, so units cannot disagree.
    registry = units._get_registry()  # pyright: ignore[reportPrivateUsage]
    loaded = Library(data_snapshot, types, update_prices, registry, genai_prices.__version__)
    _runtime.STATE.price_library = loaded
    return loaded


def version() -> str:
    """The installed genai-prices version (read from its metadata until the library is loaded)."""
    loaded = _runtime.STATE.price_library
    if loaded is not None:
        return loaded.version
    from importlib.metadata import version as distribution_version

    return distribution_version("genai-prices")


def find_model(snapshot: DataSnapshot, provider: str, model: str) -> tuple[Provider, ModelInfo] | None:
    """The library's provider and model for a call, or None when it has no price for it."""
    lib_id = PROVIDER_IDS.get(provider)
    attempts: list[tuple[str, str | None]]
    if lib_id is not None:
        attempts = [(ref, lib_id) for ref in _refs(lib_id, model)]
    else:
        # A name we do not map: maybe a library provider id ("cerebras"), else guess from the model.
        attempts = [(model, provider), (model, None)]
    for ref, provider_id in attempts:
        try:
            return snapshot.find_provider_model(ref, None, provider_id, None)
        except LookupError:
            continue
    return None


def _refs(lib_id: str, model: str) -> list[str]:
    """The names to look ``model`` up by under a provider: Bedrock's ARN and geo-profile forms."""
    if lib_id != "aws":
        return [model]
    arn = BEDROCK_ARN.match(model)
    ref = arn.group(1) if arn else model
    if _BEDROCK_GEO_PREFIX.match(ref):
        return [ref, _BEDROCK_GEO_PREFIX.sub("", ref, count=1)]
    return [ref]


class AmbiguousModel(LookupError):
    """A gateway's model name that models of several providers match, none of them its maker."""

    def __init__(self, model: str, candidates: tuple[str, ...]) -> None:
        super().__init__(f"model {model!r} matches models of {', '.join(candidates)}")
        self.candidates = candidates


def find_gateway_model(snapshot: DataSnapshot, model: str) -> tuple[Provider, ModelInfo, str] | None:
    """The provider and model a gateway's ``model`` is priced as, and how it was matched
    (``model_prefix`` or ``model_name``); None when nothing matches. Steps 2 and 3 of the rule in
    :mod:`otel_tokens.pricing` (step 1, the call's own provider, is :func:`find_model`).

    Raises :class:`AmbiguousModel` when the bare name is listed by several providers and
    claimed by none of their naming patterns.
    """
    from genai_prices.data_snapshot import find_provider_by_id

    parts = model.split("/")
    # Step 2, outermost prefix first: "openrouter/anthropic/x" is OpenRouter's "anthropic/x",
    # else Anthropic's "x". A segment that names no provider (a team or route name) is skipped.
    for at in range(len(parts) - 1):
        prefix = parts[at].lower()
        rest = "/".join(parts[at + 1 :])
        if not prefix or not rest:
            continue
        lib_id = GATEWAY_PREFIXES.get(prefix)
        provider = (
            find_provider_by_id(snapshot.providers, lib_id)
            if lib_id is not None
            else find_provider_by_id(snapshot.providers, prefix)
        )
        if provider is None:
            continue
        for ref in _refs(provider.id, rest):
            try:
                found_provider, info = snapshot.find_provider_model(ref, provider, None, None)
            except LookupError:
                continue
            return found_provider, info, semconv.PRICE_MATCH_MODEL_PREFIX
    # Step 3: the whole name and the bare one (after the last "/"): a maker of either, else
    # the one provider listing either.
    names = tuple(dict.fromkeys((model.lower(), parts[-1].lower())))
    found = _by_name(snapshot.providers, names)
    return None if found is None else (found[0], found[1], semconv.PRICE_MATCH_MODEL_NAME)


def _by_name(providers: list[Provider], names: tuple[str, ...]) -> tuple[Provider, ModelInfo] | None:
    """The provider that prices one of ``names`` as its maker (its ``model_match`` claims the
    name), trying each name in turn; else the one provider that lists a name at all. Several
    makers, or several providers listing a name and none making it, raise :class:`AmbiguousModel`.

    Only each provider's own models count, not those it borrows from another provider."""
    listed = {
        name: [(p, info) for p in providers if (info := p.find_model(name)) is not None] for name in names
    }
    for name in names:
        makers = [
            (p, i) for p, i in listed[name] if p.model_match is not None and p.model_match.is_match(name)
        ]
        if len(makers) > 1:
            raise AmbiguousModel(name, tuple(p.id for p, _ in makers))
        if makers:
            return makers[0]
    for name in names:
        if len(listed[name]) > 1:
            raise AmbiguousModel(name, tuple(p.id for p, _ in listed[name]))
        if listed[name]:
            return listed[name][0]
    return None


def price_context(tier: str | None) -> dict[str, str] | None:
    """The library's price context for a served tier (None: the standard price)."""
    if tier is None:
        return None
    # Batch results report service_tier "batch" (Anthropic); the data keys batch prices on "processing".
    if tier == "batch":
        return {"processing": "batch"}
    return {"service_tier": tier}


def compile_rates(price: ModelPrice, registry: UnitRegistry) -> Bands | None:
    """Float rates per band of total input tokens; None when a price key would absorb our tokens."""
    from genai_prices.types import TieredPrices

    prices: dict[str, Any] = {}
    for key, value in price.__dict__.items():
        if key.startswith("_") or value is None:
            continue
        if key in _MODELLED_PRICE_KEYS:
            prices[key] = value
            continue
        try:
            unit = registry.unit_for_price_key(key)
        except KeyError:
            continue  # the library ignores keys it has no unit for (with a warning)
        if any(unit.dimensions.items() <= registry.units[k].dimensions.items() for k in _REPORTED_USAGE_KEYS):
            return None

    def rate(key: str, threshold: float) -> float | None:
        value = prices.get(key)
        if value is None:
            return None
        if isinstance(value, TieredPrices):
            # The library's cliff rule: a tier applies once the total input exceeds its start.
            chosen = value.base
            for tier in value.tiers:  # sorted by start
                if tier.start <= threshold:
                    chosen = tier.price
            value = chosen
        return float(value) / registry.unit_for_price_key(key).per

    def rates_above(threshold: float) -> Rates:
        return Rates.with_defaults(
            rate("input_mtok", threshold) or 0.0,
            rate("output_mtok", threshold) or 0.0,
            cache_read=rate("cache_read_mtok", threshold),
            cache_write=rate("cache_write_mtok", threshold),
            cache_write_5m=rate("cache_write_5m_mtok", threshold),
            cache_write_1h=rate("cache_write_1h_mtok", threshold),
            reasoning=rate("output_reasoning_mtok", threshold),
            request=rate("requests_kcount", threshold) or 0.0,
        )

    starts = {t.start for value in prices.values() if isinstance(value, TieredPrices) for t in value.tiers}
    return rates_above(-math.inf), tuple(
        (start, rates_above(start)) for start in sorted(starts, reverse=True)
    )


def library_usage(usage: Usage) -> Any:
    """Our usage as the library counts it: same totals, the 5m/1h cache-write split explicit."""
    from genai_prices.types import Usage as LibraryUsage

    write_1h = usage.cache_creation_1h_input_tokens
    write_5m = None if write_1h is None else (usage.cache_creation_input_tokens or 0) - write_1h
    return LibraryUsage(
        input_tokens=usage.input_tokens or 0,
        output_tokens=usage.output_tokens,
        cache_read_tokens=usage.cache_read_input_tokens,
        cache_write_tokens=usage.cache_creation_input_tokens,
        cache_write_5m_tokens=write_5m,
        cache_write_1h_tokens=write_1h,
        output_reasoning_tokens=usage.reasoning_output_tokens,
    )


def next_price_change(info: ModelInfo, moment: datetime) -> float:
    """When a dated or time-of-day constraint on this model's prices next flips (inf: never)."""
    from genai_prices.types import StartDateConstraint, TimeOfDateConstraint

    constraints = [c.constraint for c in info.prices] if isinstance(info.prices, list) else []
    constraints += [variant.constraint for variant in info.price_variants or ()]
    changes: list[datetime] = []
    for constraint in constraints:
        if isinstance(constraint, StartDateConstraint):
            changes.append(datetime.combine(constraint.start_date, datetime.min.time(), UTC))
        elif isinstance(constraint, TimeOfDateConstraint):
            for of_day in (constraint.start_time, constraint.end_time):
                for days in (-1, 0, 1):
                    at = datetime.combine(moment.date() + timedelta(days=days), of_day)
                    changes.append(at if at.tzinfo is not None else at.replace(tzinfo=UTC))
    return min((change.timestamp() for change in changes if change > moment), default=math.inf)
