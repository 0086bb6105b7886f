"""``otel-tokens prices``: the rates the instrumented services apply to a model, and where they come from.

The rates are the SDK's own: :meth:`otel_tokens.pricing.PriceBook.quote` resolves them exactly as
a call of the model is priced (the same genai-prices data, overrides, discount, service tier and,
without ``--provider``, the same inference as for a call through a gateway), so this command
prices nothing itself. ``--check FILE`` validates a price override file as ``init()`` does and
points at the line of the first problem. Every problem raises :class:`Failure`: one line on
stderr, a non-zero exit status.
"""

from __future__ import annotations

import difflib
import json
import tomllib
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from otel_tokens import _price_data
from otel_tokens._price_data import Rates
from otel_tokens.pricing import Quote
from otel_tokens_cli._failure import Failure, UsageFailure
from otel_tokens_cli._price_book import captured_warnings, open_price_book, overrides_option, warn_overrides

_PER_MTOK = 1e6  # Rates are USD per token; people and the price data speak per million
_ROWS = (  # (row label, band key) always shown; other rows only where a band has them
    ("input", "input"),
    ("cached input (cache read)", "cache_read"),
    ("cache write (5 m)", "cache_write_5m"),
    ("cache write 1 h", "cache_write_1h"),
    ("output", "output"),
)


@click.command(
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    epilog="""\b
Examples:
  otel-tokens prices gpt-4o-mini
  otel-tokens prices claude-sonnet-4-5 --provider anthropic
  otel-tokens prices anthropic/claude-sonnet-4-5          # as a call through a gateway
  otel-tokens prices gpt-5 --provider openai --tier priority
  otel-tokens prices ft:gpt-4o-mini:acme::x7 --provider openai --overrides prices.toml
  otel-tokens prices gemini-2.5-pro --provider gcp.gemini --json | jq '.bands'
  otel-tokens prices --check prices.toml

Rates are USD per million tokens (per request: USD per call; per search unit: USD per
rerank search unit). Without --provider the model is priced as a call through a gateway
is: by a provider/model prefix, else by the provider that makes or alone lists it.""",
)
@click.argument("model", required=False)
@click.option(
    "--provider",
    metavar="P",
    help="The calls' gen_ai.provider.name: openai, anthropic, gcp.gemini, aws.bedrock, azure.ai.openai, "
    "mistral_ai, cohere, ollama... Omitted: inferred from the model name.",
)
@click.option("--tier", metavar="T", help="The service tier that served the calls: priority, flex, batch...")
@overrides_option
@click.option(
    "--check",
    "check_path",
    metavar="FILE",
    help="Validate a price override file: 'ok: N prices, M discounts', or the first problem at FILE:LINE.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document instead of a table.")
def command(
    model: str | None,
    provider: str | None,
    tier: str | None,
    overrides: str | None,
    check_path: str | None,
    as_json: bool,
) -> None:
    """Show the rates otel-tokens applies to a model, their tiers and where they come from."""
    if check_path is not None:
        if model is not None:
            raise UsageFailure("give either MODEL or --check FILE, not both")
        check(check_path)
        return
    if not model or not model.strip():
        raise UsageFailure("no model: give MODEL (for example gpt-4o-mini) or --check FILE")
    if provider is not None and not provider.strip():
        raise UsageFailure("--provider is empty: give a gen_ai.provider.name such as openai, or omit it")
    with captured_warnings() as warnings:
        book = open_price_book(overrides)
    warn_overrides(overrides, warnings)
    with captured_warnings():  # a tier without a price of its own: the Tier line says so
        quote = book.quote(model, provider or None, tier or None)
    if quote is None:
        raise Failure(_unpriced(model, provider, overrides, book.data_version))
    document = describe(model, provider or None, tier or None, quote, overrides, book.data_version)
    if as_json:
        click.echo(json.dumps(document, indent=2))
    else:
        render(document, Console())


def check(path: str) -> None:
    """Validate an override file as ``init()`` does; print ``ok: ...`` and its warnings, or fail."""
    with captured_warnings() as warnings:
        open_price_book(path)
    data = tomllib.loads(Path(path).read_text(encoding="utf-8"))  # valid: PriceBook read it
    warn_overrides(path, warnings)
    prices, discounts = len(data.get("price", [])), len(data.get("discount", []))
    click.echo(f"ok: {prices} price{'s' * (prices != 1)}, {discounts} discount{'s' * (discounts != 1)}")


# Unknown models: a line naming the model, with the names genai-prices knows that look alike.


def _unpriced(model: str, provider: str | None, overrides: str | None, data_version: str) -> str:
    where = data_version + (f" or the overrides in {overrides}" if overrides else "")
    subject = f"model {model!r}" + (f" of provider {provider!r}" if provider else "")
    if provider in ("vllm",):
        return f"no price for {subject}: {provider} models have no price data; add a [[price]] override"
    listed, similar = _similar(model, provider)
    if len(listed) > 1:
        return (
            f"no price for {subject}: genai-prices lists it under several providers ({', '.join(listed)}) "
            f"and none of them makes it; give --provider, or a prefix such as {listed[0]}/{model}"
        )
    hint = f"; similar names: {', '.join(similar)}" if similar else "; add a [[price]] override to price it"
    return f"no price for {subject} in {where}{hint}"


def _similar(model: str, provider: str | None) -> tuple[list[str], list[str]]:
    """The genai-prices providers listing exactly ``model``, and up to five similar model ids
    (of ``provider``'s price list when it has one)."""
    try:
        snapshot = _price_data.load().data_snapshot.get_snapshot()
    except Exception:  # noqa: BLE001 - genai-prices cannot load: the message says so already
        return [], []
    lib_id = None if provider is None else _price_data.PROVIDER_IDS.get(provider, provider)
    providers = [p for p in snapshot.providers if p.id == lib_id] or snapshot.providers
    name = model.lower().rpartition("/")[2] if provider is None else model.lower()
    listed = sorted({p.id for p in providers for m in p.models if m.id.lower() == name})
    ids = sorted({m.id for p in providers for m in p.models})
    return listed, difflib.get_close_matches(model, ids, n=5, cutoff=0.6)


# The answer as plain data, which the table renders.


def describe(
    model: str,
    provider: str | None,
    tier: str | None,
    quote: Quote,
    overrides: str | None,
    data_version: str,
) -> dict[str, Any]:
    """The quote as a JSON-ready document: rates in USD per million tokens, one band per tier."""
    source = quote.source
    lib_provider = quote.price_provider
    if lib_provider is None and provider is not None and source.startswith("genai-prices"):
        lib_provider = _price_data.PROVIDER_IDS.get(provider, provider)
    bands = []
    if quote.rates is not None:
        bands.append(_band(None, quote.rates))
        bands += [_band(threshold, rates) for threshold, rates in quote.tiers]
    return {
        "model": model,
        "provider": provider,
        "provider_inferred": provider is None and quote.match is not None,
        "service_tier": tier,
        "source": source,
        "price_data": data_version,
        "overrides": overrides or None,
        "override_entry": None if quote.override is None else f"price[{quote.override}]",
        "discount": quote.discount,
        "priced_as": None
        if quote.price_model is None
        else {"provider": lib_provider, "model": quote.price_model, "match": quote.match},
        "priced_tier": quote.service_tier,
        "changes_at": None
        if quote.changes_at is None
        else datetime.fromtimestamp(quote.changes_at, UTC).isoformat(timespec="seconds"),
        "unit": "USD per million tokens; per_request USD per call; per_search_unit USD per search unit",
        "bands": bands,
    }


def _band(threshold: float | None, rates: Rates) -> dict[str, Any]:
    return {
        "above_input_tokens": None if threshold is None else int(threshold),
        "input": _mtok(rates.input),
        "cache_read": _mtok(rates.cache_read),
        "cache_write": _mtok(rates.cache_write),
        "cache_write_5m": _mtok(rates.cache_write_5m),
        "cache_write_1h": _mtok(rates.cache_write_1h),
        "output": _mtok(rates.output),
        "reasoning": _mtok(rates.reasoning),
        "per_request": _round(rates.request),
        "per_search_unit": None if rates.search_unit is None else _round(rates.search_unit),
    }


def _mtok(rate: float) -> float:
    return _round(rate * _PER_MTOK)


def _round(value: float) -> float:
    """Float noise off (3.7499999999999996 is the 3.75 of the data): 12 significant digits."""
    return float(f"{value:.12g}")


def render(document: Mapping[str, Any], console: Console) -> None:
    """Print ``document``: what priced the model, then its rates, one column per band."""
    for label, value in _facts(document):
        console.print(Text(f"{label:<10}{value}"), soft_wrap=True)
    bands = document["bands"]
    if not bands:
        console.print(
            Text(
                "Rates     computed call by call by genai-prices itself "
                "(a price otel-tokens' rates do not model)"
            ),
            soft_wrap=True,
        )
        return
    console.print(_rate_table(bands))


def _facts(document: Mapping[str, Any]) -> list[tuple[str, str]]:
    provider = document["provider"]
    priced_as = document["priced_as"]
    facts = [("Model", document["model"])]
    if provider is not None:
        facts.append(("Provider", provider))
    elif priced_as is not None and priced_as["match"] is not None:
        how = "its provider/model prefix" if priced_as["match"] == "model_prefix" else "the model name"
        facts.append(
            ("Provider", f"{priced_as['provider']}, inferred from {how} as for a call through a gateway "
                         "(--provider P prices a direct call)")
        )  # fmt: skip
    else:
        facts.append(("Provider", "any (no --provider given)"))
    facts.append(("Source", _source(document)))
    asked, priced = document["service_tier"], document["priced_tier"]
    tier = priced or "standard"
    if asked and asked not in ("default", "auto", "standard") and priced is None:
        tier += f" (no {asked!r} price for this model: its calls cost the standard rate)"
    facts.append(("Tier", tier))
    if document["changes_at"] is not None:
        facts.append(("Until", f"{_short(document['changes_at'])} (a dated or time-of-day price)"))
    return facts


def _source(document: Mapping[str, Any]) -> str:
    source: str = document["source"]
    base = source.removesuffix("+discount")
    if base == "override":
        text = f"override {document['override_entry']} in {document['overrides']}"
    elif base == "local-model":
        text = "local model: free unless a [[price]] override prices it"
    elif document["priced_as"] is not None:
        priced_as = document["priced_as"]
        text = f"{base}: {priced_as['provider']} model {priced_as['model']}"
    else:
        text = base
    if document["discount"] is not None:
        text += f", discount x{document['discount']:g} from {document['overrides']}"
    return text


def _rate_table(bands: Sequence[Mapping[str, Any]]) -> Table:
    table = Table(title="Rates (USD per million tokens)", title_justify="left")
    table.add_column("Rate")
    if len(bands) == 1:
        table.add_column("All calls", justify="right")
    else:
        first = bands[1]["above_input_tokens"]
        table.add_column(f"Input <= {first:,}", justify="right")
        for band in bands[1:]:
            table.add_column(f"Input > {band['above_input_tokens']:,}", justify="right")
    rows: list[tuple[str, str]] = list(_ROWS)
    if any(band["cache_write"] != band["cache_write_5m"] for band in bands):
        rows.insert(2, ("cache write", "cache_write"))
    if any(band["reasoning"] != band["output"] for band in bands):
        rows.append(("reasoning", "reasoning"))
    if any(band["per_request"] for band in bands):
        rows.append(("per request (USD per call)", "per_request"))
    if any(band["per_search_unit"] is not None for band in bands):
        rows.append(("per search unit (USD)", "per_search_unit"))
    for label, key in rows:
        table.add_row(label, *(_amount(band[key]) for band in bands))
    return table


def _amount(value: float | None) -> str:
    """A rate as the price data writes it: 0.075, 15, 0.0000125 (no exponent, no float noise)."""
    return "-" if value is None else f"{Decimal(repr(value)).normalize():f}"


def _short(iso: str) -> str:
    return datetime.fromisoformat(iso).strftime("%Y-%m-%d %H:%M UTC")
