"""Usage -> cost in USD, from the ``genai-prices`` data plus the user's own price overrides.

Prices come from the price data bundled with ``genai-prices``. That data is loaded on first
use, or earlier by :meth:`PriceBook.preload`, never at import time: loading it takes 40-70 ms
and about 4 MB where pydantic is already imported (as with the openai SDK), about 25 MB
otherwise. The rates for each (provider, model, service tier) are resolved through the library
once and cached, misses included; after that a call costs about 2 µs of float arithmetic
instead of the library's 100+ µs of Decimal arithmetic. Nothing here reaches the network
unless ``PriceBook(auto_update=True)`` is set.

The price is the one for the tier the response says served the call: ``priority``, ``flex``
and the other tiers the data knows, ``batch`` for batch results; ``default``, ``auto`` and
``standard`` are the standard price. A tier the data has no price for is priced as standard
(with one warning). Bedrock inference-profile ARNs are priced as the model id inside them, and
geographic cross-region ids (``eu.``, ``apac.``...) as the in-region model when the data has no
entry of their own.

Billing rules, the same as the library's for the usage we pass it:

* uncached input (``input_tokens`` minus cache reads and cache writes) at the input rate;
* cache reads at the cache-read rate, or at the input rate when the model has no cache-read
  price; cache writes likewise at the cache-write rate, and the 1-hour-TTL part at the 1-hour
  rate when the model has one;
* reasoning tokens are part of ``output_tokens`` and cost the output rate, unless the model has
  its own reasoning rate (two Perplexity models do);
* long-context tiers are cliffs: once the total input exceeds a tier's start, every token of
  the call costs that tier's rates (output included);
* a per-request price, where a model has one, is added to ``total`` only (it is not a token);
* rerank search units (Cohere) cost the override's ``per_search_unit``, added to ``total``; the
  price data has no search-unit prices, so without an override a rerank call has no cost.

``ollama`` models cost 0 unless an override prices them (so GPU chargeback is one override
away); ``vllm`` and unknown models have no cost at all (``None``), never a made-up 0.

Calls through a gateway
-----------------------
A call whose host is not a known provider (no known API host, Azure, Ollama port or
``OTEL_TOKENS_PROVIDER_HOSTS`` entry) goes through a gateway or proxy: LiteLLM proxy, Portkey,
Kong, Cloudflare, OpenRouter-style routers, an in-house proxy. Its ``gen_ai.provider.name`` stays
what the client says (``openai`` for the openai SDK), but it may serve any provider's models, so
after the ``[[price]]`` overrides (matched against the call's own provider, as for any call) its
model name is priced by the first of these that finds a price:

1. the name as given, under the call's own provider, only if that provider sells it
   (``gpt-4o-mini``);
2. a ``provider/model`` prefix, outermost first: ``anthropic/claude-sonnet-4-5`` is Anthropic's
   ``claude-sonnet-4-5``; ``openrouter/anthropic/claude-sonnet-4-5`` is OpenRouter's
   ``anthropic/claude-sonnet-4-5``, else Anthropic's ``claude-sonnet-4-5``. A prefix is a
   genai-prices provider id or alias, or a name gateways use (LiteLLM's ``bedrock``,
   ``vertex_ai``, ``gemini``, ``xai``, ``together_ai``, ``fireworks_ai``...); a prefix naming no
   provider (a team or route name) is skipped;
3. the bare name (the whole name, then the part after the last ``/``): the provider whose own
   naming pattern in the data claims it and that lists the model (its maker:
   ``claude-*`` Anthropic, ``gemini-*`` Google, ``deepseek*`` DeepSeek, ``grok*`` xAI,
   ``command-*`` Cohere...); else the one provider whose price list has the model
   (``llama-3.3-70b-versatile``: Groq). When several providers list it and none claims it, the
   call gets **no** price, and one WARNING per model names the candidates: a ``provider/model``
   prefix, an ``OTEL_TOKENS_PROVIDER_HOSTS`` entry for the gateway host or a ``[[price]]``
   override settles it. There is never a silent guess.

Only each provider's own models count in step 3, not the ones it borrows to price (Google's
Claude models, Azure's OpenAI models). A price found by step 2 or 3 is recorded with
``otel_tokens.price.match`` (``model_prefix``, ``model_name``) and ``otel_tokens.price.provider``
(the genai-prices provider id whose list priced it); a price of the call's own provider or an
override carries neither. Resolved prices are cached per (provider, model, tier) as for direct
calls, in a cache of their own.

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
    per_search_unit = 0.002           # optional: USD per rerank search unit (Cohere rerank)

    [[discount]]
    provider = "azure.ai.openai"      # optional; omitted = any
    model = "*"                       # required: exact name or glob
    multiplier = 0.8                  # required, >= 0: applied to the resolved price

Entries are tried in file order and the first match wins; a ``[[price]]`` match beats the
price data. The first matching ``[[discount]]`` multiplies whichever price was found, and the
cost's ``source`` then ends in ``+discount``. Models are matched against the name the response
reports (and, for a Bedrock ARN, also against the model id inside it). A ``[[price]]`` with
``provider = "ollama"`` gives local models a GPU-time price. The file is read and validated
when the :class:`PriceBook` is made; any error raises :class:`ConfigurationError` naming the
file, the entry (``price[2]``, counted from 0) and the field.
"""

from __future__ import annotations

import fnmatch
import logging
import math
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

from otel_tokens import _price_data, _safety
from otel_tokens._config_file import read_toml
from otel_tokens._errors import ConfigurationError
from otel_tokens._price_data import PROVIDER_IDS, ZERO_RATES, Bands, Rates
from otel_tokens.usage import Usage

if TYPE_CHECKING:
    from genai_prices.data_snapshot import DataSnapshot
    from genai_prices.types import ModelInfo, Provider

__all__ = ["Cost", "PriceBook", "Quote"]

_log = logging.getLogger(__name__)

_LOCAL_FREE = frozenset({"ollama"})
_NO_PRICE_DATA = frozenset({"ollama", "vllm"})
_KNOWN_PROVIDERS = frozenset(PROVIDER_IDS) | _NO_PRICE_DATA
_STANDARD_TIERS = frozenset({"", "default", "auto", "standard"})
_MAX_ENTRIES = 10_000  # model names come from responses: bound the cache against odd ones
_Rule = TypeVar("_Rule")


class Cost(NamedTuple):
    """The USD cost of one call, split by token kind (immutable; a NamedTuple because it is
    built on every call and costs a third of a frozen dataclass to make).

    ``total`` is the sum of the parts plus any per-request price. ``source`` says where the
    price came from (``genai-prices 0.2.3``, ``override``, ``local-model``; ``+discount`` when a
    discount applied). ``service_tier`` is the tier priced when that is not the standard price.
    ``match`` and ``price_provider`` say how a gateway call's price was inferred from its model
    name and whose price list was used (see the module doc); both ``None`` for a direct price.
    """

    total: float
    input: float
    output: float
    cache_read: float
    cache_creation: float
    source: str
    service_tier: str | None
    match: str | None = None
    price_provider: str | None = None


class Quote(NamedTuple):
    """The rates :meth:`PriceBook.cost` applies to calls of one model, as resolved now.

    ``rates`` are USD per token of each kind (``request``: USD per call; ``search_unit``: USD per
    rerank search unit, ``None`` when nothing prices it), discount included, for calls whose total
    input is at most the first long-context threshold; ``tiers`` are ``(threshold, rates)`` for
    calls whose total input exceeds ``threshold``, lowest threshold first (every token of such a
    call costs that tier's rates). ``rates`` is ``None`` (and ``tiers`` empty) for the rare price
    that only genai-prices' own calculation can apply, call by call.

    ``source``, ``service_tier``, ``match`` and ``price_provider`` are what each :class:`Cost` of
    the model carries. ``price_model`` is the genai-prices model id that priced it (``None`` for
    an override or a local model); ``override`` the index of the ``[[price]]`` entry that priced
    it (``price[2]`` is 2); ``discount`` the multiplier of the ``[[discount]]`` applied, already
    in the rates; ``changes_at`` when a dated or time-of-day price next changes (Unix time), else
    ``None``.
    """

    rates: Rates | None
    tiers: tuple[tuple[float, Rates], ...]
    source: str
    service_tier: str | None
    match: str | None
    price_provider: str | None
    price_model: str | None
    override: int | None
    discount: float | None
    changes_at: float | None


@dataclass(frozen=True, slots=True)
class _Entry:
    """A resolved price for one (provider, model, tier)."""

    bands: Bands
    source: str
    service_tier: str | None
    expires_at: float = math.inf  # when a dated or time-of-day price may change
    fallback: Callable[[Usage], Cost | None] | None = None
    match: str | None = None  # how a gateway call's model was matched; None: directly
    price_provider: str | None = None  # the genai-prices provider id, when inferred
    price_model: str | None = None  # the genai-prices model id that priced it


# What the cache holds for keys not resolved yet: already expired, so cost() resolves them.
_UNRESOLVED = _Entry((ZERO_RATES, ()), "", None, expires_at=-math.inf)


@dataclass(frozen=True, slots=True)
class _PriceRule:
    provider: str | None
    model: str
    service_tier: str | None  # "default" for the standard tier
    rates: Rates


@dataclass(frozen=True, slots=True)
class _DiscountRule:
    provider: str | None
    model: str
    multiplier: float


class PriceBook:
    """Prices calls: the user's overrides first, then the ``genai-prices`` data.

    Making one reads and validates ``overrides_path`` at once (raising
    :class:`ConfigurationError`) but does not load the price data. ``auto_update=True`` makes
    the first load start the library's ``UpdatePrices`` background thread, which fetches new
    prices from GitHub every hour: that reaches the network, so it is off by default.
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
        # Calls through a gateway: the same model name may be priced otherwise than directly.
        self._gateway_entries: dict[tuple[str, str, str | None], _Entry | None] = {}
        self._lock = threading.RLock()
        self._warned: set[tuple[str, ...]] = set()
        self._snapshot: DataSnapshot | None = None
        self._updater: Any = None
        self._unavailable = False  # genai-prices failed to load: only overrides and local models
        self._clock: Callable[[], float] = time.time  # tests set it to price at a fixed instant

    def preload(self) -> None:
        """Load the price data now: blocking, safe from a background thread and to call again.

        Calls that need prices meanwhile wait for this load rather than starting another.
        Starts the background updater when ``auto_update`` was asked for. When genai-prices
        cannot be imported, logs one WARNING and never raises: the book then prices only what
        the overrides and local models price, and every other call is recorded as unpriced.
        """
        if self._unavailable:
            return
        try:
            library = _price_data.load()
        except Exception as error:  # noqa: BLE001 - a broken install must not reach the host's stderr
            if _safety.is_strict() and not isinstance(error, ImportError):
                raise
            self._library_failed(error)
            return
        with self._lock:
            if self._auto_update and self._updater is None:
                self._updater = library.update_prices.UpdatePrices()
                self._updater.start()
            if self._snapshot is None:
                self._snapshot = library.data_snapshot.get_snapshot()

    def _library_failed(self, error: Exception) -> None:
        with self._lock:
            if self._unavailable:
                return
            self._unavailable = True
        _log.warning(
            "otel-tokens: the pricing library genai-prices cannot be loaded (%s: %s); calls get no "
            "cost except where a [[price]] override or a local model prices them. Reinstall "
            "genai-prices to price them again.",
            type(error).__name__,
            error,
        )

    def close(self) -> None:
        """Stop the background updater, if this book started one."""
        with self._lock:
            if self._updater is not None:
                self._updater.stop()
                self._updater = None

    def after_fork_in_child(self) -> None:
        """In a forked child: a fresh lock (a parent's thread may have held this one); resolved
        prices are kept. The parent's ``auto_update`` thread does not exist in the child, which
        keeps the prices it inherited (genai-prices' updater state cannot be trusted after a
        fork, so it is not restarted)."""
        self._lock = threading.RLock()
        self._updater = None

    @property
    def data_version(self) -> str:
        """The price data in use: ``genai-prices <version>``, plus ``+auto-update`` once fetched."""
        if self._unavailable:
            return "genai-prices (not loadable)"
        version = f"genai-prices {_price_data.version()}"
        snapshot = self._snapshot
        return f"{version}+auto-update" if snapshot is not None and snapshot.from_auto_update else version

    def cost(
        self,
        provider: str,
        model: str,
        usage: Usage,
        service_tier: str | None = None,
        fallback_model: str | None = None,
        gateway: bool = False,
    ) -> Cost | None:
        """The cost of one call, or ``None`` when no price is known for the model.

        ``provider`` is the ``gen_ai.provider.name``; ``model`` the model the response reports,
        and ``fallback_model`` the one requested, tried when ``model`` has no price (Azure
        deployments and gateways answer with names the price data may not know);
        ``service_tier`` the tier the response says served it (``default``/``auto``: standard).
        ``gateway`` says the call went to a host that is not a known provider: its model is
        then priced by the rule in the module doc. An unknown model logs one warning per
        (provider, model). The first call for a model resolves its price, loading the price
        data if no preload has.
        """
        tier = None if service_tier is None or service_tier in _STANDARD_TIERS else service_tier
        try_fallback = fallback_model is not None and fallback_model != model
        entry = self._entry((provider, model, tier), not try_fallback, gateway)
        if entry is None and try_fallback:
            entry = self._entry((provider, fallback_model, tier), True, gateway)  # type: ignore[arg-type]
        if entry is None:
            return None
        if entry.fallback is not None:
            return entry.fallback(usage)

        total_input = usage.input_tokens or 0
        rates, tiers = entry.bands
        for threshold, tier_rates in tiers:
            if total_input > threshold:
                rates = tier_rates
                break
        read_tokens = usage.cache_read_input_tokens or 0
        write_tokens = usage.cache_creation_input_tokens or 0
        # Parts larger than the total are a provider quirk: the library would raise, we clamp.
        input_cost = max(0, total_input - read_tokens - write_tokens) * rates.input
        cache_read = read_tokens * rates.cache_read
        write_1h = usage.cache_creation_1h_input_tokens
        if write_1h is None:
            cache_creation = write_tokens * rates.cache_write
        else:
            write_1h = min(write_1h, write_tokens)
            write_5m = write_tokens - write_1h
            cache_creation = write_5m * rates.cache_write_5m + write_1h * rates.cache_write_1h
        output_tokens = usage.output_tokens or 0
        reasoning = min(usage.reasoning_output_tokens or 0, output_tokens)
        output = (output_tokens - reasoning) * rates.output + reasoning * rates.reasoning
        total = input_cost + output + cache_read + cache_creation + rates.request
        if usage.search_units:
            if rates.search_unit is None:
                self._warn_once(
                    (provider, model, "search_unit"),
                    "otel-tokens: no search-unit price for model %r of provider %r; its rerank calls "
                    "get no cost. Add a [[price]] override with per_search_unit to price them.",
                    model,
                    provider,
                )
                return None
            total += usage.search_units * rates.search_unit
        # Positional: measurably cheaper than keywords for a frozen dataclass on the hot path.
        return Cost(
            total,
            input_cost,
            output,
            cache_read,
            cache_creation,
            entry.source,
            entry.service_tier,
            entry.match,
            entry.price_provider,
        )

    def quote(self, model: str, provider: str | None = None, service_tier: str | None = None) -> Quote | None:
        """The rates :meth:`cost` applies to calls of ``model`` now, and where they come from; ``None``
        when it has no price for the model (as :meth:`cost` then has none).

        ``provider`` is the calls' ``gen_ai.provider.name``. ``None`` prices the model as a call
        through a gateway with no provider of its own (the module doc's rule, steps 2 and 3): by
        its ``provider/model`` prefix, else the provider that makes or alone lists it; only
        ``[[price]]`` and ``[[discount]]`` entries without a ``provider`` match then.
        ``service_tier`` is the tier served (``None``, ``default``: standard). Resolves and caches
        the price as the first call of the model would, loading the price data if needed, but
        logs no warning for a model it cannot price.
        """
        tier = None if service_tier is None or service_tier in _STANDARD_TIERS else service_tier
        name = provider or ""
        entry = self._entry((name, model, tier), False, provider is None)
        if entry is None:
            return None
        override = _first(self._prices, lambda r: _rule_matches(r, name, model, tier))
        discount = _first(self._discounts, lambda d: _matches(d.provider, d.model, name, model))
        rates, tiers = entry.bands
        return Quote(
            None if entry.fallback is not None else rates,
            tuple(reversed(tiers)),
            entry.source,
            entry.service_tier,
            entry.match,
            entry.price_provider,
            entry.price_model,
            override if entry.source.startswith("override") else None,
            None
            if discount is None or not entry.source.endswith("+discount")
            else self._discounts[discount].multiplier,
            None if entry.expires_at == math.inf else entry.expires_at,
        )

    def _entry(self, key: tuple[str, str, str | None], warn: bool, gateway: bool) -> _Entry | None:
        entry = (self._gateway_entries if gateway else self._entries).get(key, _UNRESOLVED)
        if (entry is not None and entry.expires_at != math.inf and entry.expires_at <= self._clock()) or (
            self._auto_update and self._snapshot_changed()
        ):
            entry = self._resolve(key, warn, gateway)
        return entry

    def _snapshot_changed(self) -> bool:
        snapshot = self._snapshot
        return snapshot is not None and _price_data.load().data_snapshot.get_snapshot() is not snapshot

    def _resolve(
        self, key: tuple[str, str, str | None], warn: bool = True, gateway: bool = False
    ) -> _Entry | None:
        """Find and cache the price for a key: once per key, and again when it expires."""
        with self._lock:
            if self._auto_update and self._snapshot_changed():
                self._snapshot = None  # UpdatePrices installed new data: resolve everything again
                self._entries.clear()
                self._gateway_entries.clear()
            entries = self._gateway_entries if gateway else self._entries
            current = entries.get(key, _UNRESOLVED)
            if current is None or current.expires_at > self._clock():
                return current  # another thread resolved it while this one waited for the lock
            provider, model, tier = key
            found = _first(self._discounts, lambda d: _matches(d.provider, d.model, provider, model))
            discount = None if found is None else self._discounts[found]
            factor, suffix = (1.0, "") if discount is None else (discount.multiplier, "+discount")
            found = _first(self._prices, lambda r: _rule_matches(r, provider, model, tier))
            rule = None if found is None else self._prices[found]
            entry: _Entry | None = None
            candidates: tuple[str, ...] = ()
            if rule is not None:
                tier_priced = None if rule.service_tier == "default" else rule.service_tier
                entry = _Entry((rule.rates.scaled(factor), ()), "override" + suffix, tier_priced)
            elif provider in _LOCAL_FREE:
                entry = _Entry((ZERO_RATES, ()), "local-model", None)
            elif provider not in _NO_PRICE_DATA:
                self.preload()
                if not self._unavailable:
                    try:
                        entry = self._resolve_library(provider, model, tier, factor, suffix, gateway)
                    except _price_data.AmbiguousModel as ambiguous:
                        candidates = ambiguous.candidates
            if entry is None and warn and candidates:
                self._warn_once(
                    (provider, model),
                    "otel-tokens: model %r, called through a gateway (gen_ai.provider.name %r), "
                    "matches models of several providers in the price data (%s) and is made by "
                    "none of them; its calls get no cost rather than a guessed one. Name the "
                    "provider with a 'provider/model' prefix, map the gateway host to it in "
                    "OTEL_TOKENS_PROVIDER_HOSTS, or add a [[price]] override.",
                    model,
                    provider,
                    ", ".join(candidates),
                )
            elif entry is None and warn and not self._unavailable:  # that was warned about once
                self._warn_once(
                    (provider, model),
                    "otel-tokens: no price for model %r of provider %r (%s); its calls get no cost. "
                    "Add a [[price]] override to price it.",
                    model,
                    provider,
                    self.data_version,
                )
            if len(entries) >= _MAX_ENTRIES:
                entries.clear()
            entries[key] = entry
            return entry

    def _resolve_library(
        self, provider: str, model: str, tier: str | None, factor: float, suffix: str, gateway: bool
    ) -> _Entry | None:
        """The price data's price for the key; raises AmbiguousModel for a gateway's ambiguous name."""
        library = _price_data.load()
        assert self._snapshot is not None
        # Through a gateway, step 1 only under a provider we map: for another name (LiteLLM's
        # "litellm_proxy") find_model would guess from the model name without saying so.
        direct = not gateway or provider in PROVIDER_IDS
        found = _price_data.find_model(self._snapshot, provider, model) if direct else None
        match = price_provider = None
        if found is None and gateway:
            inferred = _price_data.find_gateway_model(self._snapshot, model)
            if inferred is not None:
                found, match = inferred[:2], inferred[2]
                price_provider = found[0].id
        if found is None:
            return None
        lib_provider, info = found
        moment = datetime.fromtimestamp(self._clock(), UTC)
        standard = info.get_prices(moment)
        context = _price_data.price_context(tier)
        # The library ignores the tier for a model borrowed from a fallback provider (Azure
        # pricing an OpenAI model), so do we.
        borrowed = not any(info is own for own in lib_provider.models)
        resolved = standard if context is None or borrowed else info.get_prices(moment, context)
        priced_tier = tier if resolved != standard else None
        if tier is not None and priced_tier is None:
            self._warn_once(
                (provider, model, tier),
                "otel-tokens: no %r service-tier price for model %r of provider %r; "
                "priced at the standard rate.",
                tier,
                model,
                provider,
            )
        try:
            resolved.calc_price(library.types.Usage())  # the library's own checks of the price data
        except ValueError as error:
            _log.debug("otel-tokens: invalid genai-prices data for %r: %s", model, error)
            return None
        source = self.data_version + suffix
        expires_at = _price_data.next_price_change(info, moment)
        bands = _price_data.compile_rates(resolved, library.registry)
        if bands is None:
            # A price key our arithmetic does not model: exact but ~100x slower, via the library.
            fallback = _library_fallback(
                info, lib_provider, context, factor, (source, priced_tier, match, price_provider)
            )
            return _Entry(
                (ZERO_RATES, ()), source, priced_tier, expires_at, fallback, match, price_provider, info.id
            )
        base, tiers = bands
        scaled = (base.scaled(factor), tuple((start, rates.scaled(factor)) for start, rates in tiers))
        return _Entry(scaled, source, priced_tier, expires_at, None, match, price_provider, info.id)

    def _warn_once(self, key: tuple[str, ...], message: str, *args: object) -> None:
        if key not in self._warned and len(self._warned) < _MAX_ENTRIES:
            self._warned.add(key)
            _log.warning(message, *args)


def _library_fallback(
    info: ModelInfo,
    provider: Provider,
    context: dict[str, str] | None,
    factor: float,
    labels: tuple[str, str | None, str | None, str | None],
) -> Callable[[Usage], Cost | None]:
    """Prices through the library; ``labels`` are the cost's source, tier, match and provider."""

    def price(usage: Usage) -> Cost | None:
        try:
            calc = info.calc_price(_price_data.library_usage(usage), provider, price_context=context)
        except ValueError as error:  # usage the library finds inconsistent
            _log.debug("otel-tokens: genai-prices could not price %r: %s", info.id, error)
            return None
        # The library splits by direction only, so the cache parts stay inside ``input`` here.
        input_cost, output = float(calc.input_price) * factor, float(calc.output_price) * factor
        return Cost(float(calc.total_price) * factor, input_cost, output, 0.0, 0.0, *labels)

    return price


# --- overrides -----------------------------------------------------------------------------


def _first(rules: tuple[_Rule, ...], matches: Callable[[_Rule], bool]) -> int | None:
    """The index of the first rule that matches (the file's order decides), or None."""
    return next((index for index, rule in enumerate(rules) if matches(rule)), None)


def _matches(rule_provider: str | None, rule_model: str, provider: str, model: str) -> bool:
    if rule_provider is not None and rule_provider != provider:
        return False
    if fnmatch.fnmatchcase(model, rule_model):
        return True
    arn = _price_data.BEDROCK_ARN.match(model)
    return arn is not None and fnmatch.fnmatchcase(arn.group(1), rule_model)


def _rule_matches(rule: _PriceRule, provider: str, model: str, tier: str | None) -> bool:
    if rule.service_tier is not None and rule.service_tier != (tier or "default"):
        return False
    return _matches(rule.provider, rule.model, provider, model)


_RATE_FIELDS = {  # field -> (required, what is accepted)
    "input_per_mtok": (True, "a number >= 0 (USD per million tokens)"),
    "output_per_mtok": (True, "a number >= 0 (USD per million tokens)"),
    "cache_read_per_mtok": (False, "a number >= 0 (USD per million tokens)"),
    "cache_write_per_mtok": (False, "a number >= 0 (USD per million tokens)"),
    "cache_write_1h_per_mtok": (False, "a number >= 0 (USD per million tokens)"),
    "per_request": (False, "a number >= 0 (USD per call)"),
    "per_search_unit": (False, "a number >= 0 (USD per rerank search unit)"),
}
_MULTIPLIER = "a number >= 0 (1 = list price, 0.8 = 20% off)"


def _load_overrides(path: str) -> tuple[tuple[_PriceRule, ...], tuple[_DiscountRule, ...]]:
    """Read and validate the override file; every problem raises ConfigurationError."""
    data = read_toml(path, "price overrides")
    unknown = sorted(set(data) - {"price", "discount"})
    if unknown:
        raise ConfigurationError(
            f"price overrides {path}: unknown top-level key {unknown[0]!r}; "
            "accepted: [[price]] and [[discount]] tables"
        )
    prices: list[_PriceRule] = []
    for index, table in enumerate(_tables(path, data, "price")):
        provider, model, where = _common_fields(f"price overrides {path}: price[{index}]", table, _PRICE_KEYS)
        given = {name: _number(where, table, name, *spec) for name, spec in _RATE_FIELDS.items()}
        per_token = {name: None if value is None else value / 1e6 for name, value in given.items()}
        rates = Rates.with_defaults(
            per_token["input_per_mtok"] or 0.0,
            per_token["output_per_mtok"] or 0.0,
            cache_read=per_token["cache_read_per_mtok"],
            cache_write=per_token["cache_write_per_mtok"],
            cache_write_1h=per_token["cache_write_1h_per_mtok"],
            request=given["per_request"] or 0.0,
            search_unit=given["per_search_unit"],
        )
        tier = _string(where, table, "service_tier")
        tier = "default" if tier in _STANDARD_TIERS else tier
        prices.append(_PriceRule(provider, model, tier, rates))
    discounts: list[_DiscountRule] = []
    for index, table in enumerate(_tables(path, data, "discount")):
        where = f"price overrides {path}: discount[{index}]"
        provider, model, where = _common_fields(where, table, {"provider", "model", "multiplier"})
        multiplier = _number(where, table, "multiplier", True, _MULTIPLIER)
        assert multiplier is not None
        discounts.append(_DiscountRule(provider, model, multiplier))
    return tuple(prices), tuple(discounts)


_PRICE_KEYS = {"provider", "model", "service_tier", *_RATE_FIELDS}


def _tables(path: str, data: dict[str, Any], name: str) -> list[dict[str, Any]]:
    tables = data.get(name, [])
    if not isinstance(tables, list) or not all(isinstance(table, dict) for table in tables):
        raise ConfigurationError(f"price overrides {path}: {name!r} must be written as [[{name}]] tables")
    return tables


def _common_fields(where: str, table: dict[str, Any], accepted: set[str]) -> tuple[str | None, str, str]:
    """Check the field names, model and provider; returns those and ``where`` naming the model."""
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
    if provider is not None and provider not in _KNOWN_PROVIDERS:
        # Not an error: custom providers are legitimate; but a typo would silently never match.
        _log.warning(
            "%s: provider %r is not a gen_ai.provider.name otel-tokens reports (known: %s); "
            "the entry matches only calls reported under exactly that name.",
            where,
            provider,
            ", ".join(sorted(_KNOWN_PROVIDERS)),
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
