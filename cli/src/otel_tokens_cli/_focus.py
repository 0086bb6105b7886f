"""Usage records -> a FOCUS 1.3 Cost and Usage dataset (CSV), for FinOps tools.

One row per charge period, provider, API host, model, token class, business tag set, service,
price source, service tier and cost source: everything that could give one row two unit prices
is part of the key. A row bills one token class (:class:`TokenClass`) as a SKU of its own, the way
providers price them: ``PricingUnit`` ``1000000 Tokens`` with ``PricingQuantity`` the tokens in
millions and unit prices per million tokens (rerank search units: ``Search Units``, per unit);
``ConsumedQuantity`` is the token count itself.

Costs are the recorded ones (:attr:`UsageRecord.cost`), never priced again here. Where a record
does not split its cost by class (metric series; 1-hour and 5-minute cache writes share one span
attribute; search units), :func:`apportion` splits the rest of the recorded cost over the classes
that lack one, in proportion to today's rates, and the row says so in ``x_CostSource``. Each
row's ``ContractedUnitPrice`` is its cost over its quantity to 12 significant digits, and every
cost column is that unit price times ``PricingQuantity`` exactly, so the product identity FOCUS
asks for holds in decimal arithmetic; a row's cost then equals the recorded one to 12 significant
digits (a float sum's own noise lies near the 15th).

FOCUS's four costs, for usage billed per token with no commitment discount: ``BilledCost`` (what
is invoiced), ``EffectiveCost`` (the same, as nothing is amortised) and ``ContractedCost`` (at
the negotiated rate) are all the recorded cost; ``ListCost`` is the cost at the public price.
They differ only when the recorded price was negotiated (a ``[[price]]`` override or a
``[[discount]]``): the list price is then the public one from genai-prices today (a price book
without overrides), or the contracted one where genai-prices does not know the model.

Who is who: the company that sells the tokens is the service provider, the host and the invoice
issuer, as FOCUS's own AI examples have it for a cloud serving a model as its own service (Azure
OpenAI: Microsoft; Bedrock: AWS; Vertex AI: Google). The model's developer is ``PublisherName``.

Unpriced calls have no cost, so they get no row (never a made-up 0): :class:`FocusResult` lists
them by model, for the command to say what was left out.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, localcontext
from typing import NamedTuple, TextIO

from otel_tokens.pricing import PriceBook
from otel_tokens.usage import Usage
from otel_tokens_cli._records import CostBasis, TokenClass, UsageRecord

__all__ = [
    "CUSTOM_COLUMNS",
    "FOCUS_COLUMNS",
    "FOCUS_VERSION",
    "ClassCost",
    "ClassRates",
    "FocusResult",
    "LeftOut",
    "apportion",
    "billing_period",
    "write_focus",
]

FOCUS_VERSION = "1.3"

FOCUS_COLUMNS = (
    "BilledCost",
    "BillingAccountId",
    "BillingAccountName",
    "BillingCurrency",
    "BillingPeriodEnd",
    "BillingPeriodStart",
    "ChargeCategory",
    "ChargeClass",
    "ChargeDescription",
    "ChargeFrequency",
    "ChargePeriodEnd",
    "ChargePeriodStart",
    "ConsumedQuantity",
    "ConsumedUnit",
    "ContractedCost",
    "ContractedUnitPrice",
    "EffectiveCost",
    "HostProviderName",
    "InvoiceId",
    "InvoiceIssuerName",
    "ListCost",
    "ListUnitPrice",
    "PricingQuantity",
    "PricingUnit",
    "ProviderName",
    "PublisherName",
    "ServiceCategory",
    "ServiceName",
    "ServiceProviderName",
    "ServiceSubcategory",
    "SkuId",
    "SkuMeter",
    "SkuPriceDetails",
    "SkuPriceId",
    "Tags",
)
"""The FOCUS columns written: the 1.3 mandatory ones (ProviderName and PublisherName are
deprecated in 1.3 but still mandatory), those that apply to per-token usage with a public price
list, negotiated prices and tags, and the recommended ChargeFrequency, ServiceSubcategory and
InvoiceId (null: telemetry is no invoice)."""

CUSTOM_COLUMNS = ("x_CostSource", "x_PricingVersion", "x_EstimatedUsage", "x_Requests", "x_ServerAddress")
"""Ours, after FOCUS's: how the row's cost was split (``recorded``, ``apportioned``,
``repriced``), the price source recorded (``genai-prices 0.2.3``, ``override``,
``...+discount``), the share of the row's calls whose counts were estimated locally, the priced
calls in the row, the API host the calls went to."""

_MILLION = Decimal(1_000_000)
_DIGITS = 12  # significant digits of a unit price
_NOISE = 1e-9  # relative: a recorded total and the sum of its parts differing by less are equal
_PROBE = 1000  # tokens per class when asking the price book for a rate: far below any long-context tier
_SEARCH_UNITS = "Search Units"
_TOKENS = "Tokens"
_PER_MILLION_TOKENS = "1000000 Tokens"
_NEGOTIATED = re.compile(r"^override|\+discount$")

_CLASS_ORDER = {kind: index for index, kind in enumerate(TokenClass)}
_METERS = {
    TokenClass.INPUT: "Input Tokens",
    TokenClass.CACHE_READ: "Cache Read Input Tokens",
    TokenClass.CACHE_WRITE_5M: "Cache Write Input Tokens",
    TokenClass.CACHE_WRITE_1H: "Cache Write Input Tokens (1-hour TTL)",
    TokenClass.OUTPUT: "Output Tokens",
    TokenClass.SEARCH_UNITS: "Search Units",
}

# gen_ai.provider.name -> (the company that sells the tokens, its service's name).
_SELLERS: Mapping[str, tuple[str, str]] = {
    "openai": ("OpenAI", "OpenAI API"),
    "azure.ai.openai": ("Microsoft", "Azure OpenAI"),
    "anthropic": ("Anthropic", "Claude API"),
    "aws.bedrock": ("AWS", "Amazon Bedrock"),
    "gcp.gemini": ("Google", "Gemini API"),
    "gcp.vertex_ai": ("Google", "Vertex AI"),
    "cohere": ("Cohere", "Cohere API"),
    "mistral_ai": ("Mistral AI", "Mistral AI API"),
    "deepseek": ("DeepSeek", "DeepSeek API"),
    "groq": ("Groq", "GroqCloud"),
    "x_ai": ("xAI", "xAI API"),
    "perplexity": ("Perplexity", "Perplexity API"),
    "together_ai": ("Together AI", "Together AI API"),
    "openrouter": ("OpenRouter", "OpenRouter"),
    "fireworks_ai": ("Fireworks AI", "Fireworks AI API"),
    "ollama": ("Self-hosted", "Ollama"),
    "vllm": ("Self-hosted", "vLLM"),
}
# Providers that serve other companies' models: the developer is read off the model name.
_RESELLERS = frozenset(
    {"azure.ai.openai", "aws.bedrock", "gcp.vertex_ai", "groq", "together_ai", "openrouter", "fireworks_ai"}
    | {"ollama", "vllm"}
)
_DEVELOPERS = {
    "anthropic": "Anthropic",
    "claude": "Anthropic",
    "openai": "OpenAI",
    "gpt": "OpenAI",
    "meta": "Meta",
    "llama": "Meta",
    "amazon": "Amazon",
    "nova": "Amazon",
    "mistral": "Mistral AI",
    "mixtral": "Mistral AI",
    "cohere": "Cohere",
    "command": "Cohere",
    "ai21": "AI21 Labs",
    "deepseek": "DeepSeek",
    "qwen": "Qwen",
    "google": "Google",
    "gemini": "Google",
    "gemma": "Google",
    "grok": "xAI",
}


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


def billing_period(moment: datetime, start_day: int = 1) -> tuple[datetime, datetime]:
    """The billing period holding ``moment``: from ``start_day`` (1 to 28) of a month, 00:00 UTC,
    to the same day of the next month (exclusive)."""
    if not 1 <= start_day <= 28:
        raise ValueError(f"a billing period starts on day 1 to 28 of a month, not {start_day}")
    moment = moment.astimezone(UTC)
    year, month = moment.year, moment.month
    if moment.day < start_day:
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
    start = datetime(year, month, start_day, tzinfo=UTC)
    end = datetime(year + month // 12, month % 12 + 1, start_day, tzinfo=UTC)
    return start, end


@dataclass(frozen=True, slots=True)
class LeftOut:
    """Calls of one model that have no recorded cost, so no FOCUS row."""

    provider: str
    model: str
    calls: int


@dataclass(frozen=True, slots=True)
class FocusResult:
    """What :func:`write_focus` wrote and what it had to leave out."""

    rows: int
    billed_cost: Decimal
    unpriced: tuple[LeftOut, ...] = ()
    """Unpriced calls by (provider, model), most calls first."""
    uncarried_cost: Decimal = Decimal(0)
    """Recorded cost of records with no token counts: no token class can carry it."""

    @property
    def unpriced_calls(self) -> int:
        return sum(item.calls for item in self.unpriced)

    @property
    def notes(self) -> tuple[str, ...]:
        """One line per thing left out, for the command to print."""
        lines = []
        if self.unpriced:
            models = ", ".join(f"{item.provider}/{item.model} ({item.calls})" for item in self.unpriced)
            calls = self.unpriced_calls
            lines.append(
                f"{calls} unpriced call{'s' if calls != 1 else ''} left out of the FOCUS rows "
                f"(no recorded cost): {models}"
            )
        if self.uncarried_cost:
            lines.append(
                f"{_plain(self.uncarried_cost)} USD of recorded cost left out of the FOCUS rows: "
                "its records have no token counts"
            )
        return tuple(lines)


# Charge period start, provider, host, model, class index, tags, service, price source, tier, cost source.
_Key = tuple[datetime, str, str, str, int, tuple[tuple[str, str], ...], str, str, str, str]


@dataclass(slots=True)
class _Row:
    record: UsageRecord  # the first of the row's records: the dimensions they share
    tokens: int = 0
    cost: Decimal = Decimal(0)
    requests: int = 0
    calls: int = 0
    estimated: int = 0


def write_focus(
    records: Iterable[UsageRecord],
    out: TextIO,
    *,
    billing_period_start_day: int = 1,
    charge_period: timedelta = timedelta(days=1),
    price_book: PriceBook | None = None,
) -> FocusResult:
    """Write the FOCUS 1.3 rows of ``records`` as CSV (header first) to ``out``.

    A record belongs to the charge period (``charge_period`` long, aligned to UTC midnight; it
    must divide a day) that holds its start, and to the billing period that holds that (see
    :func:`billing_period`). ``price_book`` (default: genai-prices without overrides) gives the
    rates :func:`apportion` splits costs with; public list prices always come from genai-prices
    without overrides. A record mixing priced and unpriced calls (a metric series) keeps all its
    tokens in its rows, as the counts cannot be split by call, and its unpriced calls are listed
    as left out.
    """
    billing_period(datetime.now(UTC), billing_period_start_day)  # a bad day raises before any output
    seconds = charge_period.total_seconds()
    if seconds <= 0 or 86400 % seconds:
        raise ValueError(f"a charge period must divide a day, not {charge_period}")
    split_rates = ClassRates(price_book if price_book is not None else PriceBook())
    # Public prices: a book without overrides, made only when a negotiated price needs one.
    public_rates = split_rates if price_book is None else None

    rows: dict[_Key, _Row] = {}
    unpriced: dict[tuple[str, str], int] = {}
    uncarried = Decimal(0)
    for record in records:
        if record.unpriced_requests > 0:
            model = (record.provider, record.model)
            unpriced[model] = unpriced.get(model, 0) + record.unpriced_requests
        if record.priced_requests <= 0 and record.cost == 0 and not record.class_costs:
            continue
        parts = apportion(record, split_rates)
        if not parts:
            uncarried += _decimal(record.cost)
            continue
        start = _floor(record.start, charge_period)
        tags = tuple(sorted(record.tags))
        for kind, part in parts.items():
            key = (
                start,
                record.provider,
                record.host,
                record.model,
                _CLASS_ORDER[kind],
                tags,
                record.service,
                record.price_source,
                record.service_tier,
                part.source.value,
            )
            row = rows.setdefault(key, _Row(record))
            row.tokens += record.tokens[kind]
            row.cost += _decimal(part.cost)
            row.requests += max(record.priced_requests, 0)
            row.calls += record.requests
            row.estimated += record.estimated_requests

    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(FOCUS_COLUMNS + CUSTOM_COLUMNS)
    billed = Decimal(0)
    for key in sorted(rows, key=lambda key: (key[0].isoformat(), *(str(item) for item in key[1:]))):
        start, kind, source = key[0], list(TokenClass)[key[4]], key[9]
        row = rows[key]
        list_rates = None
        if _NEGOTIATED.search(row.record.price_source):
            public_rates = public_rates or ClassRates(PriceBook())
            list_rates = public_rates
        values, cost = _cells(row, kind, source, start, charge_period, billing_period_start_day, list_rates)
        billed += cost
        writer.writerow([values.get(column, "") for column in FOCUS_COLUMNS + CUSTOM_COLUMNS])
    left_out = sorted(unpriced.items(), key=lambda item: (-item[1], item[0]))
    return FocusResult(
        rows=len(rows),
        billed_cost=billed,
        unpriced=tuple(LeftOut(provider, model, calls) for (provider, model), calls in left_out),
        uncarried_cost=uncarried,
    )


def _cells(
    row: _Row,
    kind: TokenClass,
    source: str,
    start: datetime,
    charge_period: timedelta,
    start_day: int,
    list_rates: ClassRates | None,
) -> tuple[dict[str, str], Decimal]:
    """A row's cells by column, and its billed cost. ``list_rates``: public prices, for a row
    whose recorded price was negotiated."""
    record = row.record
    search = kind is TokenClass.SEARCH_UNITS
    quantity = Decimal(row.tokens) if search else Decimal(row.tokens) / _MILLION
    with localcontext() as context:
        context.prec = _DIGITS
        contracted_price = row.cost / quantity
        list_price = contracted_price
        public = (
            list_rates(record.provider, record.model, record.service_tier, [kind]) if list_rates else None
        )
        if public is not None and kind in public:
            list_price = +_decimal(public[kind] * (1 if search else 1_000_000))
    with localcontext() as context:
        context.prec = 60  # 12 digits times a count of tokens: exact
        contracted_cost = contracted_price * quantity
        list_cost = list_price * quantity
        estimated = Decimal(row.estimated) / Decimal(row.calls) if row.calls else Decimal(0)
    seller, service_name = _SELLERS.get(
        record.provider, (record.provider or "unknown", record.provider or "unknown")
    )
    tier = record.service_tier or "standard"
    sku = f"{record.provider}/{record.model}/{kind.value}"
    tags = dict(record.tags)
    if record.service:
        # A dotted key cannot clash with a business tag (lower-case letters, digits and '_').
        tags["service.name"] = record.service
    billing_start, billing_end = billing_period(start, start_day)
    values = {
        "BilledCost": _decimal_cell(contracted_cost),
        "BillingAccountId": record.provider or "unknown",
        "BillingCurrency": "USD",
        "BillingPeriodEnd": _iso(billing_end),
        "BillingPeriodStart": _iso(billing_start),
        "ChargeCategory": "Usage",
        "ChargeDescription": f"{_METERS[kind]} of {record.model}"
        + (f" ({record.service_tier} tier)" if record.service_tier else ""),
        "ChargeFrequency": "Usage-Based",
        "ChargePeriodEnd": _iso(start + charge_period),
        "ChargePeriodStart": _iso(start),
        "ConsumedQuantity": _decimal_cell(Decimal(row.tokens)),
        "ConsumedUnit": _SEARCH_UNITS if search else _TOKENS,
        "ContractedCost": _decimal_cell(contracted_cost),
        "ContractedUnitPrice": _decimal_cell(contracted_price),
        "EffectiveCost": _decimal_cell(contracted_cost),
        "HostProviderName": seller,
        "InvoiceIssuerName": seller,
        "ListCost": _decimal_cell(list_cost),
        "ListUnitPrice": _decimal_cell(list_price),
        "PricingQuantity": _decimal_cell(quantity),
        "PricingUnit": _SEARCH_UNITS if search else _PER_MILLION_TOKENS,
        "ProviderName": seller,
        "PublisherName": _developer(record.provider, record.model, seller),
        "ServiceCategory": "AI and Machine Learning",
        "ServiceName": service_name,
        "ServiceProviderName": seller,
        "ServiceSubcategory": "Generative AI",
        "SkuId": sku,
        "SkuMeter": _METERS[kind],
        "SkuPriceDetails": json.dumps({"x_ModelId": record.model, "x_ServiceTier": tier}, sort_keys=True),
        "SkuPriceId": f"{sku}:{tier}",
        "Tags": json.dumps(tags, sort_keys=True, ensure_ascii=False),
        "x_CostSource": source,
        "x_PricingVersion": record.price_source,
        "x_EstimatedUsage": _plain(estimated.quantize(Decimal("0.0001"))),
        "x_Requests": str(row.requests),
        "x_ServerAddress": record.host,
    }
    return values, contracted_cost


def _developer(provider: str, model: str, seller: str) -> str:
    """Who made the model: the seller, unless it serves other companies' models and the model's
    name says whose (``us.anthropic.claude-...`` on Bedrock, ``meta-llama/...`` on Together)."""
    if provider == "azure.ai.openai":
        return "OpenAI"
    if provider in _RESELLERS:
        # A Bedrock ARN ends in the model or inference profile id.
        name = model.rsplit("/", 1)[-1] if provider == "aws.bedrock" else model
        for word in re.split(r"[^a-z0-9]+", name.lower()):
            for prefix, developer in _DEVELOPERS.items():
                if word.startswith(prefix):
                    return developer
    return seller


def _floor(moment: datetime, period: timedelta) -> datetime:
    midnight = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    return midnight + period * ((moment - midnight) // period)


def _decimal(value: float) -> Decimal:
    # repr: the shortest decimal that reads back as the same float (0.1 -> 0.1, not 0.1000000000000000055...).
    return Decimal(repr(value))


def _plain(value: Decimal) -> str:
    """Fixed-point digits, no exponent, no trailing zeros (FOCUS's numeric format)."""
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "") else text


def _decimal_cell(value: Decimal) -> str:
    """A FOCUS Decimal cell: always with a decimal point, as CSV readers (the FOCUS validator's
    among them) type a column whose cells all look like integers as integers, not decimals."""
    text = _plain(value)
    return text if "." in text else f"{text}.0"


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
