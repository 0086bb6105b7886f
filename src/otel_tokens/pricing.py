"""Usage -> cost in USD, from the ``genai-prices`` data plus the user's own price overrides.

Prices come from the price data bundled with ``genai-prices``. That data is loaded on first
use, or earlier by :meth:`PriceBook.preload`, never at import time: loading it takes about
70 ms and several MB. The rates for each (provider, model, service tier) are resolved through
the library once and cached, misses included. After that a call does float arithmetic only, so
pricing costs about as much as a dict lookup rather than the library's Decimal calculation.
Nothing here reaches the network unless ``PriceBook(auto_update=True)`` is set.

Billing rules, the same as the library's for the usage we pass it:

* uncached input (``input_tokens`` minus cache reads and cache writes) at the input rate;
* cache reads at the cache-read rate, or at the input rate when the model has no cache-read
  price; cache writes likewise at the cache-write rate, and the 1-hour-TTL part at the 1-hour
  rate when the model has one;
* reasoning tokens are part of ``output_tokens`` and cost the output rate, unless the model has
  its own reasoning rate (two Perplexity models do);
* long-context tiers are cliffs: once the total input exceeds a tier's start, every token of
  the call costs that tier's rates (output included);
* a per-request price, where a model has one, is added to ``total`` only (it is not a token).

``ollama`` models cost 0 unless an override prices them (so GPU chargeback is one override
away); ``vllm`` and unknown models have no cost at all (``None``), never a made-up 0.

Override file
-------------
A TOML file for negotiated prices, discounts and private or fine-tuned models::

    [[price]]
    provider = "openai"               # optional: a gen_ai.provider.name value; omitted = any
    model = "ft:gpt-4o-mini:acme:*"   # required: exact model name or fnmatch glob (case-sensitive)
    service_tier = "priority"         # optional: only calls served at this tier; omitted = any
    input_per_mtok = 0.30             # required: USD per million tokens
    output_per_mtok = 1.20            # required
    cache_read_per_mtok = 0.15        # optional; default: the input rate
    cache_write_per_mtok = 0.375      # optional; default: the input rate
    cache_write_1h_per_mtok = 0.60    # optional; default: the cache-write rate
    per_request = 0.0                 # optional: USD added per call

    [[discount]]
    provider = "azure.ai.openai"      # optional; omitted = any
    model = "*"                       # required: exact name or glob
    multiplier = 0.8                  # required, >= 0: applied to the resolved price

Entries are tried in file order and the first match wins; a ``[[price]]`` match beats the
price data. The first matching ``[[discount]]`` multiplies whichever price was found, and the
cost's ``source`` then ends in ``+discount``. Models are matched against the name the response
reports (and, for a Bedrock ARN, also against the model id inside it). The file is read and
validated when the :class:`PriceBook` is made; any error raises :class:`ConfigurationError`
naming the file, the entry (``price[2]``, counted from 0) and the field.
"""

from __future__ import annotations

import fnmatch
import logging
import math
import os
import re
import threading
import time
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import astuple, dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from otel_tokens._errors import ConfigurationError
from otel_tokens.usage import Usage

if TYPE_CHECKING:
    from genai_prices.data_snapshot import DataSnapshot
    from genai_prices.types import ModelInfo, ModelPrice, Provider
    from genai_prices.units import UnitRegistry

__all__ = ["Cost", "PriceBook"]

_log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Cost:
    """The USD cost of one call, split by token kind.

    ``total`` is the sum of the parts plus any per-request price. ``source`` says where the
    price came from (``genai-prices 0.2.3``, ``override``, ``local-model``; ``+discount`` when a
    discount applied). ``service_tier`` is the tier priced when that is not the standard price.
    """

    total: float
    input: float
    output: float
    cache_read: float
    cache_creation: float
    source: str
    service_tier: str | None


# gen_ai.provider.name -> genai-prices provider id. Explicit, because the library's own
# fuzzy matching would send "azure.ai.openai" to OpenAI and knows neither "x_ai" nor "fireworks_ai".
_PROVIDER_IDS: Mapping[str, str] = {
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
_LOCAL_FREE = frozenset({"ollama"})
_NO_PRICE_DATA = frozenset({"ollama", "vllm"})
_STANDARD_TIERS = frozenset({"", "default", "auto", "standard"})
_SOURCE_OVERRIDE = "override"
_SOURCE_LOCAL = "local-model"
_MAX_ENTRIES = 10_000  # model names come from responses; bound the cache against odd ones

# Usage keys we report to the library, and the price keys that price them. Any other price key
# (audio, image, searches...) prices a count that is 0 for token usage, unless it is an ancestor
# of these units in the library's unit lattice, which would make it absorb our tokens.
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
# Bedrock: ARNs wrap the model id; a geographic cross-region prefix costs the in-region price.
_BEDROCK_ARN = re.compile(r"^arn:aws[\w-]*:bedrock:[^:]*:[^:]*:[\w-]+/(.+)$")
_BEDROCK_GEO_PREFIX = re.compile(r"^(?:us|us-gov|eu|apac|au|jp|ca|in)\.")


@dataclass(frozen=True, slots=True)
class _Rates:
    """USD per token for each token kind (``request``: USD per call), already discounted."""

    input: float
    output: float
    cache_read: float
    cache_write: float
    cache_write_5m: float
    cache_write_1h: float
    reasoning: float
    request: float

    def scaled(self, factor: float) -> _Rates:
        return self if factor == 1.0 else _Rates(*(rate * factor for rate in astuple(self)))


_ZERO_RATES = _Rates(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)


@dataclass(frozen=True, slots=True)
class _Entry:
    """A resolved price: rates for the base band and for each long-context tier."""

    base: _Rates
    tiers: tuple[tuple[float, _Rates], ...]  # (total-input threshold, rates), highest first
    source: str
    service_tier: str | None
    expires_at: float = math.inf  # when a dated or time-of-day price may change
    fallback: Callable[[Usage], Cost | None] | None = None


# Found for keys not resolved yet: already expired, so the lookup below resolves it.
_UNRESOLVED = _Entry(_ZERO_RATES, (), "", None, expires_at=-math.inf)


@dataclass(frozen=True, slots=True)
class _PriceRule:
    provider: str | None
    model: str
    service_tier: str | None
    rates: _Rates


@dataclass(frozen=True, slots=True)
class _DiscountRule:
    provider: str | None
    model: str
    multiplier: float


class PriceBook:
    """Prices calls: the user's overrides first, then the ``genai-prices`` data.

    Making one reads and validates ``overrides_path`` at once (raising
    :class:`ConfigurationError`) but does not load the price data. ``auto_update=True`` starts
    the library's background updater on first load, which fetches new prices from GitHub every
    hour: this reaches the network, so it is off by default.
    """

    def __init__(
        self, overrides_path: str | os.PathLike[str] | None = None, *, auto_update: bool = False
    ) -> None:
        self._auto_update = auto_update
        self._prices: tuple[_PriceRule, ...] = ()
        self._discounts: tuple[_DiscountRule, ...] = ()
        if overrides_path is not None:
            self._prices, self._discounts = _load_overrides(os.fspath(overrides_path))
        self._entries: dict[tuple[str, str, str | None], _Entry | None] = {}
        self._lock = threading.RLock()
        self._warned: set[tuple[str, ...]] = set()
        self._snapshot: DataSnapshot | None = None
        self._updater: Any = None
        self._clock: Callable[[], float] = time.time  # replaced in tests to price at a fixed instant

    def preload(self) -> None:
        """Load the price data now (blocking; safe to call from a background thread, and again).

        Starts the background updater when ``auto_update`` was asked for.
        """
        lib = _library()
        with self._lock:
            if self._auto_update and self._updater is None:
                self._updater = lib.update_prices.UpdatePrices()
                self._updater.start()
            if self._snapshot is None:
                self._snapshot = lib.data_snapshot.get_snapshot()

    def close(self) -> None:
        """Stop the background updater, if this book started one."""
        with self._lock:
            if self._updater is not None:
                self._updater.stop()
                self._updater = None

    @property
    def data_version(self) -> str:
        """The price data in use: ``genai-prices <version>``, with ``+auto-update`` once fetched."""
        version = f"genai-prices {_library_version()}"
        snapshot = self._snapshot
        return f"{version}+auto-update" if snapshot is not None and snapshot.from_auto_update else version

    def cost(self, provider: str, model: str, usage: Usage, service_tier: str | None = None) -> Cost | None:
        """The cost of one call, or ``None`` when no price is known for the model.

        ``provider`` is the ``gen_ai.provider.name``; ``model`` the model the response reports;
        ``service_tier`` the tier the response says served it (``default``/``auto`` = standard).
        An unknown model logs one warning per (provider, model). The first call for a model may
        load the price data (waiting for a preload already running).
        """
        tier = None if service_tier is None or service_tier in _STANDARD_TIERS else service_tier
        key = (provider, model, tier)
        entry = self._entries.get(key, _UNRESOLVED)
        if (entry is not None and entry.expires_at != math.inf and entry.expires_at <= self._clock()) or (
            self._auto_update and self._snapshot_changed()
        ):
            entry = self._resolve(key)
        if entry is None:
            return None
        if entry.fallback is not None:
            return entry.fallback(usage)

        total_input = usage.input_tokens or 0
        rates = entry.base
        for threshold, tier_rates in entry.tiers:
            if total_input > threshold:
                rates = tier_rates
                break
        cache_read_tokens = usage.cache_read_input_tokens or 0
        cache_write_tokens = usage.cache_creation_input_tokens or 0
        # Parts larger than the total are a provider quirk; the library would raise, we clamp.
        uncached = max(0, total_input - cache_read_tokens - cache_write_tokens)
        write_1h = usage.cache_creation_1h_input_tokens
        if write_1h is None:
            cache_creation = cache_write_tokens * rates.cache_write
        else:
            write_1h = min(write_1h, cache_write_tokens)
            cache_creation = (
                cache_write_tokens - write_1h
            ) * rates.cache_write_5m + write_1h * rates.cache_write_1h
        output_tokens = usage.output_tokens or 0
        reasoning = min(usage.reasoning_output_tokens or 0, output_tokens)
        input_cost = uncached * rates.input
        cache_read = cache_read_tokens * rates.cache_read
        output = (output_tokens - reasoning) * rates.output + reasoning * rates.reasoning
        return Cost(
            total=input_cost + output + cache_read + cache_creation + rates.request,
            input=input_cost,
            output=output,
            cache_read=cache_read,
            cache_creation=cache_creation,
            source=entry.source,
            service_tier=entry.service_tier,
        )

    # --- resolution: once per (provider, model, tier), under the lock -------------------------

    def _snapshot_changed(self) -> bool:
        return self._snapshot is not None and _library().data_snapshot.get_snapshot() is not self._snapshot

    def _resolve(self, key: tuple[str, str, str | None]) -> _Entry | None:
        with self._lock:
            if self._auto_update and self._snapshot_changed():
                self._snapshot = None  # UpdatePrices installed new data: re-resolve everything
                self._entries.clear()
            provider, model, tier = key
            discount = next(
                (d for d in self._discounts if _matches(d.provider, d.model, provider, model)), None
            )
            factor = 1.0 if discount is None else discount.multiplier
            suffix = "" if discount is None else "+discount"
            entry: _Entry | None
            rule = next((r for r in self._prices if _rule_matches(r, provider, model, tier)), None)
            if rule is not None:
                entry = _Entry(rule.rates.scaled(factor), (), _SOURCE_OVERRIDE + suffix, rule.service_tier)
            elif provider in _LOCAL_FREE:
                entry = _Entry(_ZERO_RATES, (), _SOURCE_LOCAL, None)
            elif provider in _NO_PRICE_DATA:
                entry = None
            else:
                self.preload()
                entry = self._resolve_library(provider, model, tier, factor, suffix)
            if entry is None and (provider, model) not in self._warned and len(self._warned) < _MAX_ENTRIES:
                self._warned.add((provider, model))
                _log.warning(
                    "otel-tokens: no price for model %r of provider %r (%s); its calls get no cost. "
                    "Add a [[price]] override to price it.",
                    model,
                    provider,
                    self.data_version,
                )
            if len(self._entries) >= _MAX_ENTRIES:
                self._entries.clear()
            self._entries[key] = entry
            return entry

    def _resolve_library(
        self, provider: str, model: str, tier: str | None, factor: float, suffix: str
    ) -> _Entry | None:
        lib = _library()
        snapshot = self._snapshot
        assert snapshot is not None
        found = _find_model(snapshot, provider, model)
        if found is None:
            return None
        lib_provider, info = found
        now = self._clock()
        moment = datetime.fromtimestamp(now, UTC)
        standard = info.get_prices(moment)
        context = _price_context(tier)
        # The library ignores the context for a model borrowed from a fallback provider
        # (Azure pricing an OpenAI model): do the same.
        if context is not None and any(info is m for m in lib_provider.models):
            resolved = info.get_prices(moment, context)
        else:
            resolved = standard
        priced_tier = tier if resolved != standard else None
        if tier is not None and priced_tier is None and (provider, model, tier) not in self._warned:
            self._warned.add((provider, model, tier))
            _log.warning(
                "otel-tokens: no %r service-tier price for model %r of provider %r; priced at the standard rate.",
                tier,
                model,
                provider,
            )
        source = self.data_version + suffix
        expires_at = _next_price_change(info, moment)
        try:
            # The library's own validation (each priced unit needs its ancestors priced...).
            resolved.calc_price(lib.types.Usage())
        except ValueError as error:
            _log.warning(
                "otel-tokens: price data for %r is invalid (%s); its calls get no cost.", model, error
            )
            return None
        compiled = _compile(resolved, lib.registry)
        if compiled is None:
            # A price key that would absorb our token counts: slower but exact, via the library.
            return _Entry(
                _ZERO_RATES,
                (),
                source,
                priced_tier,
                expires_at,
                _library_fallback(info, lib_provider, context, factor, source, priced_tier),
            )
        base, tiers = compiled
        return _Entry(
            base.scaled(factor),
            tuple((t, r.scaled(factor)) for t, r in tiers),
            source,
            priced_tier,
            expires_at,
        )


# --- the library, loaded once per process --------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Library:
    data_snapshot: Any
    types: Any
    update_prices: Any
    registry: UnitRegistry


_LOAD_LOCK = threading.Lock()
_loaded: _Library | None = None
_version: str | None = None


def _library() -> _Library:
    """Import genai-prices and its data (~70 ms) on first use; later callers wait for it."""
    global _loaded
    if _loaded is not None:
        return _loaded
    with _LOAD_LOCK:
        if _loaded is None:
            from genai_prices import data_snapshot, types, units, update_prices

            data_snapshot.get_snapshot()
            # The library's own registry instance: prices are checked against the same units.
            registry = units._get_registry()  # pyright: ignore[reportPrivateUsage]
            _loaded = _Library(data_snapshot, types, update_prices, registry)
    return _loaded


def _library_version() -> str:
    global _version
    if _version is None:
        from importlib.metadata import version

        _version = version("genai-prices")
    return _version


def _find_model(snapshot: DataSnapshot, provider: str, model: str) -> tuple[Provider, ModelInfo] | None:
    lib_id = _PROVIDER_IDS.get(provider)
    if lib_id == "aws":
        arn = _BEDROCK_ARN.match(model)
        refs = [arn.group(1) if arn else model]
        if _BEDROCK_GEO_PREFIX.match(refs[0]):
            refs.append(_BEDROCK_GEO_PREFIX.sub("", refs[0], count=1))
        attempts = [(ref, lib_id) for ref in refs]
    elif lib_id is not None:
        attempts = [(model, lib_id)]
    else:
        # Not a name we map: maybe a library provider id ("cerebras"), else guess from the model.
        attempts = [(model, provider), (model, None)]
    for ref, provider_id in attempts:
        try:
            return snapshot.find_provider_model(ref, None, provider_id, None)
        except LookupError:
            continue
    return None


def _price_context(tier: str | None) -> dict[str, str] | None:
    if tier is None:
        return None
    # Batch results report service_tier "batch" (Anthropic); the data keys batch prices on "processing".
    if tier == "batch":
        return {"processing": "batch"}
    return {"service_tier": tier}


def _compile(price: ModelPrice, registry: UnitRegistry) -> tuple[_Rates, list[tuple[float, _Rates]]] | None:
    """Per-token float rates for the base band and each tier band; None if not representable."""
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
            continue  # the library ignores unknown keys too (with a warning)
        if any(unit.dimensions.items() <= registry.units[k].dimensions.items() for k in _REPORTED_USAGE_KEYS):
            return None
    thresholds = sorted({t.start for v in prices.values() if isinstance(v, TieredPrices) for t in v.tiers})

    def rates_above(threshold: float) -> _Rates:
        def rate(key: str) -> float | None:
            value = prices.get(key)
            if value is None:
                return None
            if isinstance(value, TieredPrices):
                chosen = value.base
                for t in value.tiers:  # sorted by start; cliff rule: the last tier below the total
                    if t.start <= threshold:
                        chosen = t.price
                return float(chosen) / registry.unit_for_price_key(key).per
            return float(value) / registry.unit_for_price_key(key).per

        input_rate = rate("input_mtok") or 0.0
        output_rate = rate("output_mtok") or 0.0
        write = rate("cache_write_mtok")
        write = input_rate if write is None else write
        write_5m, write_1h, read, reasoning = (
            rate("cache_write_5m_mtok"),
            rate("cache_write_1h_mtok"),
            rate("cache_read_mtok"),
            rate("output_reasoning_mtok"),
        )
        return _Rates(
            input=input_rate,
            output=output_rate,
            cache_read=input_rate if read is None else read,
            cache_write=write,
            cache_write_5m=write if write_5m is None else write_5m,
            cache_write_1h=write if write_1h is None else write_1h,
            reasoning=output_rate if reasoning is None else reasoning,
            request=rate("requests_kcount") or 0.0,
        )

    base = rates_above(-math.inf)
    return base, [(t, rates_above(t)) for t in reversed(thresholds)]


def _library_usage(usage: Usage) -> Any:
    """Our usage as the library's: same totals, the 5m/1h cache-write split made explicit."""
    from genai_prices.types import Usage as LibUsage

    write_1h = usage.cache_creation_1h_input_tokens
    write_5m = None if write_1h is None else (usage.cache_creation_input_tokens or 0) - write_1h
    return LibUsage(
        input_tokens=usage.input_tokens or 0,
        output_tokens=usage.output_tokens,
        cache_read_tokens=usage.cache_read_input_tokens,
        cache_write_tokens=usage.cache_creation_input_tokens,
        cache_write_5m_tokens=write_5m,
        cache_write_1h_tokens=write_1h,
        output_reasoning_tokens=usage.reasoning_output_tokens,
    )


def _library_fallback(
    info: ModelInfo,
    provider: Provider,
    context: dict[str, str] | None,
    factor: float,
    source: str,
    tier: str | None,
) -> Callable[[Usage], Cost | None]:
    def price(usage: Usage) -> Cost | None:
        try:
            calc = info.calc_price(_library_usage(usage), provider, price_context=context)
        except ValueError as error:
            _log.debug("otel-tokens: genai-prices could not price %r: %s", info.id, error)
            return None
        # The library splits by direction only, so cache parts are not separated here.
        input_cost, output = float(calc.input_price) * factor, float(calc.output_price) * factor
        return Cost(float(calc.total_price) * factor, input_cost, output, 0.0, 0.0, source, tier)

    return price


def _next_price_change(info: ModelInfo, moment: datetime) -> float:
    """When a dated or time-of-day constraint of this model's prices next flips (inf if never)."""
    from genai_prices.types import StartDateConstraint, TimeOfDateConstraint

    constraints = [c.constraint for c in info.prices] if isinstance(info.prices, list) else []
    constraints += [v.constraint for v in info.price_variants or ()]
    changes: list[datetime] = []
    for constraint in constraints:
        if isinstance(constraint, StartDateConstraint):
            changes.append(datetime.combine(constraint.start_date, datetime.min.time(), UTC))
        elif isinstance(constraint, TimeOfDateConstraint):
            for of_day in (constraint.start_time, constraint.end_time):
                for days in (-1, 0, 1):
                    at = datetime.combine(moment.date() + timedelta(days=days), of_day)
                    changes.append(at if at.tzinfo is not None else at.replace(tzinfo=UTC))
    return min((c.timestamp() for c in changes if c > moment), default=math.inf)


# --- overrides -----------------------------------------------------------------------------


def _matches(rule_provider: str | None, rule_model: str, provider: str, model: str) -> bool:
    if rule_provider is not None and rule_provider != provider:
        return False
    if fnmatch.fnmatchcase(model, rule_model):
        return True
    arn = _BEDROCK_ARN.match(model)
    return arn is not None and fnmatch.fnmatchcase(arn.group(1), rule_model)


def _rule_matches(rule: _PriceRule, provider: str, model: str, tier: str | None) -> bool:
    if rule.service_tier is not None and rule.service_tier != (tier or "default"):
        return False
    return _matches(rule.provider, rule.model, provider, model)


_PRICE_FIELDS = {
    "input_per_mtok": True,
    "output_per_mtok": True,
    "cache_read_per_mtok": False,
    "cache_write_per_mtok": False,
    "cache_write_1h_per_mtok": False,
    "per_request": False,
}


def _load_overrides(path: str) -> tuple[tuple[_PriceRule, ...], tuple[_DiscountRule, ...]]:
    """Read and validate the override file; every problem raises ConfigurationError."""
    try:
        with open(path, "rb") as file:
            data = tomllib.load(file)
    except OSError as error:
        raise ConfigurationError(
            f"price overrides {path}: cannot read the file: {error.strerror or error}"
        ) from error
    except tomllib.TOMLDecodeError as error:
        raise ConfigurationError(f"price overrides {path}: not valid TOML: {error}") from error
    unknown = sorted(set(data) - {"price", "discount"})
    if unknown:
        raise ConfigurationError(
            f"price overrides {path}: unknown top-level key {unknown[0]!r}; accepted: [[price]] and [[discount]] tables"
        )
    prices: list[_PriceRule] = []
    for index, table in enumerate(_tables(path, data, "price")):
        where = f"price overrides {path}: price[{index}]"
        provider, model, where = _common_fields(where, table, set(_PRICE_FIELDS) | {"service_tier"})
        values: dict[str, float | None] = {}
        for name, required in _PRICE_FIELDS.items():
            unit = "USD per call" if name == "per_request" else "USD per million tokens"
            values[name] = _number(where, table, name, required, f"a number >= 0 ({unit})")
        tier = _string(where, table, "service_tier")
        per_token = {k: None if v is None else v / 1e6 for k, v in values.items() if k != "per_request"}
        input_rate, output_rate = per_token["input_per_mtok"] or 0.0, per_token["output_per_mtok"] or 0.0
        read, write, write_1h = (
            per_token["cache_read_per_mtok"],
            per_token["cache_write_per_mtok"],
            per_token["cache_write_1h_per_mtok"],
        )
        write = input_rate if write is None else write
        rates = _Rates(
            input=input_rate,
            output=output_rate,
            cache_read=input_rate if read is None else read,
            cache_write=write,
            cache_write_5m=write,
            cache_write_1h=write if write_1h is None else write_1h,
            reasoning=output_rate,
            request=values["per_request"] or 0.0,
        )
        normalised_tier = None if tier is None else ("default" if tier in _STANDARD_TIERS else tier)
        prices.append(_PriceRule(provider, model, normalised_tier, rates))
    discounts: list[_DiscountRule] = []
    for index, table in enumerate(_tables(path, data, "discount")):
        where = f"price overrides {path}: discount[{index}]"
        provider, model, where = _common_fields(where, table, {"multiplier"})
        multiplier = _number(
            where, table, "multiplier", True, "a number >= 0 (1 = list price, 0.8 = 20% off)"
        )
        assert multiplier is not None
        discounts.append(_DiscountRule(provider, model, multiplier))
    return tuple(prices), tuple(discounts)


def _tables(path: str, data: dict[str, Any], name: str) -> list[dict[str, Any]]:
    tables = data.get(name, [])
    if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
        raise ConfigurationError(f"price overrides {path}: {name!r} must be written as [[{name}]] tables")
    return tables


def _common_fields(where: str, table: dict[str, Any], extra: set[str]) -> tuple[str | None, str, str]:
    """Check the field names, model and provider; returns them and ``where`` naming the model."""
    accepted = {"provider", "model"} | extra
    unknown = sorted(set(table) - accepted)
    if unknown:
        raise ConfigurationError(
            f"{where}: unknown field {unknown[0]!r}; accepted: {', '.join(sorted(accepted))}"
        )
    model = _string(where, table, "model")
    if model is None:
        raise ConfigurationError(
            f"{where}: missing field 'model' (an exact model name or a glob such as 'gpt-4o*')"
        )
    where = f"{where} (model {model!r})"
    provider = _string(where, table, "provider")
    if provider is not None and provider not in _PROVIDER_IDS and provider not in _NO_PRICE_DATA:
        _log.warning(
            "%s: provider %r is not a gen_ai.provider.name otel-tokens reports (known: %s); "
            "the entry matches only calls reported under exactly that name.",
            where,
            provider,
            ", ".join(sorted({*_PROVIDER_IDS, *_NO_PRICE_DATA})),
        )
    return provider, model, where


def _string(where: str, table: dict[str, Any], name: str) -> str | None:
    value = table.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise ConfigurationError(f"{where}: field {name!r} must be a non-empty string, got {value!r}")
    return value


def _number(where: str, table: dict[str, Any], name: str, required: bool, accepted: str) -> float | None:
    if name not in table:
        if required:
            raise ConfigurationError(f"{where}: missing field {name!r}: {accepted}")
        return None
    value = table[name]
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        raise ConfigurationError(f"{where}: field {name!r} must be {accepted}, got {value!r}")
    return float(value)
