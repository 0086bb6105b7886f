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

The columns, their fixed values and who is who (seller, host, invoice issuer, publisher) are
in :mod:`otel_tokens_cli._focus_columns`; the split of a cost over token classes is in
:mod:`otel_tokens_cli._apportion`.

Unpriced calls have no cost, so they get no row (never a made-up 0): :class:`FocusResult` lists
them by model, for the command to say what was left out.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, localcontext
from typing import TextIO

from otel_tokens.pricing import PriceBook
from otel_tokens_cli._apportion import ClassRates, apportion
from otel_tokens_cli._focus_columns import (
    CUSTOM_COLUMNS,
    FOCUS_COLUMNS,
    METERS,
    PER_MILLION_TOKENS,
    SEARCH_UNITS,
    TOKENS,
    publisher,
    seller_and_service,
)
from otel_tokens_cli._records import TokenClass, UsageRecord

__all__ = ["FocusResult", "LeftOut", "billing_period", "write_focus"]

_MILLION = Decimal(1_000_000)
_DIGITS = 12  # significant digits of a unit price
_NEGOTIATED = re.compile(r"^override|\+discount$")

_CLASS_ORDER = {kind: index for index, kind in enumerate(TokenClass)}


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
    seller, service_name = seller_and_service(record.provider)
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
        "ChargeDescription": f"{METERS[kind]} of {record.model}"
        + (f" ({record.service_tier} tier)" if record.service_tier else ""),
        "ChargeFrequency": "Usage-Based",
        "ChargePeriodEnd": _iso(start + charge_period),
        "ChargePeriodStart": _iso(start),
        "ConsumedQuantity": _decimal_cell(Decimal(row.tokens)),
        "ConsumedUnit": SEARCH_UNITS if search else TOKENS,
        "ContractedCost": _decimal_cell(contracted_cost),
        "ContractedUnitPrice": _decimal_cell(contracted_price),
        "EffectiveCost": _decimal_cell(contracted_cost),
        "HostProviderName": seller,
        "InvoiceIssuerName": seller,
        "ListCost": _decimal_cell(list_cost),
        "ListUnitPrice": _decimal_cell(list_price),
        "PricingQuantity": _decimal_cell(quantity),
        "PricingUnit": SEARCH_UNITS if search else PER_MILLION_TOKENS,
        "ProviderName": seller,
        "PublisherName": publisher(record.provider, record.model, seller),
        "ServiceCategory": "AI and Machine Learning",
        "ServiceName": service_name,
        "ServiceProviderName": seller,
        "ServiceSubcategory": "Generative AI",
        "SkuId": sku,
        "SkuMeter": METERS[kind],
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
