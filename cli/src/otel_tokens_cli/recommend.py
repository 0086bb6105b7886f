"""``otel-tokens recommend``: where the spend of a range could be lower, each answer with its evidence.

Reads the calls of a range (and of the range of the same length before, for the comparison) from
Prometheus or the ledger and prints what :func:`otel_tokens_cli._savings.recommend` finds:
cheaper models for the same token counts, prompt-caching opportunities with their break-even,
models that need a price, and groups whose token mix or call rate jumped. Everything is priced
with the SDK's price book (``--overrides`` as the services' ``OTEL_TOKENS_PRICE_OVERRIDES``).
Every problem is one line on stderr and a non-zero exit status. The document and its tables are
built in :mod:`otel_tokens_cli._recommend_outputs`.
"""

from __future__ import annotations

import json
import logging

import click
from rich.console import Console

from otel_tokens_cli._failure import UsageFailure
from otel_tokens_cli._model_catalog import ModelCatalog
from otel_tokens_cli._price_book import open_price_book, overrides_option
from otel_tokens_cli._recommend_outputs import render, report
from otel_tokens_cli._savings import Options, recommend
from otel_tokens_cli._sources import (
    PERIODS,
    Source,
    TimeRange,
    load_with_previous,
    range_options,
    source_options,
)


def _names(text: str | None, option: str) -> tuple[str, ...]:
    names = tuple(name.strip() for name in (text or "").split(",") if name.strip())
    if text is not None and not names:
        raise UsageFailure(f"{option} names nothing: give comma-separated names")
    return names


def _check(ok: bool, option: str, what: str, value: float) -> None:
    if not ok:
        raise UsageFailure(f"{option} must be {what}, got {value:g}")


@click.command(
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    epilog="""\b
Examples:
  otel-tokens recommend --ledger /var/lib/otel-tokens/ledger --last 30d
  otel-tokens recommend --prometheus http://prometheus:9090 --month 2026-11 --by team
  otel-tokens recommend --ledger spans.json --candidates gpt-4.1-mini,gpt-5-mini
  otel-tokens recommend --ledger ledger/ --prefix-share 0.8 --reads-per-write 20
  otel-tokens recommend --prometheus http://prometheus:9090 --json | jq '.switches[0]'

\b
Savings price the same token counts on the candidate with the SDK's price book (genai-prices
plus OTEL_TOKENS_PRICE_OVERRIDES); the answers' quality is not judged. Per month = the
range's figure scaled to a 30.44-day month.""",
)
@source_options
@range_options
@click.option(
    "--by",
    "by_text",
    default="feature,team",
    show_default=True,
    metavar="KEYS",
    help="Group each call by the first of these tag keys (or dimensions) it has.",
)
@click.option(
    "--candidates",
    "candidates_text",
    metavar="MODELS",
    help="Compare with these models (comma-separated) instead of the provider's cheaper ones.",
)
@click.option("--max-candidates", default=3, show_default=True, type=click.IntRange(min=1), help="Per group.")
@click.option(
    "--prefix-share",
    default=0.5,
    show_default=True,
    type=float,
    help="Caching: the share of each prompt's uncached input taken as a stable prefix.",
)
@click.option(
    "--reads-per-write",
    default=10,
    show_default=True,
    type=click.IntRange(min=1),
    help="Caching: cache reads per cache write assumed.",
)
@click.option(
    "--max-cache-read",
    default=0.1,
    show_default=True,
    type=float,
    help="Caching: flag groups reading less than this share of their input from the cache.",
)
@click.option(
    "--ratio-jump",
    default=1.5,
    show_default=True,
    type=float,
    help="Flag a group whose output/input token ratio grew this many times.",
)
@click.option(
    "--rate-jump",
    default=2.0,
    show_default=True,
    type=float,
    help="Flag a group whose calls grew this many times.",
)
@click.option(
    "--min-calls",
    default=20,
    show_default=True,
    type=click.IntRange(min=1),
    help="Calls a group needs in both periods to be compared.",
)
@overrides_option
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document instead of tables.")
def command(
    source: Source,
    time_range: TimeRange,
    by_text: str,
    candidates_text: str | None,
    max_candidates: int,
    prefix_share: float,
    reads_per_write: int,
    max_cache_read: float,
    ratio_jump: float,
    rate_jump: float,
    min_calls: int,
    overrides: str | None,
    as_json: bool,
) -> None:
    """Cheaper models, prompt caching, missing prices and jumps, each with its evidence."""
    _check(0 < prefix_share <= 1, "--prefix-share", "a share above 0 and at most 1", prefix_share)
    _check(0 <= max_cache_read <= 1, "--max-cache-read", "a share from 0 to 1", max_cache_read)
    _check(ratio_jump >= 1, "--ratio-jump", "a factor of at least 1", ratio_jump)
    _check(rate_jump >= 1, "--rate-jump", "a factor of at least 1", rate_jump)
    options = Options(
        by=_names(by_text, "--by"),
        candidates=_names(candidates_text, "--candidates"),
        max_candidates=max_candidates,
        prefix_share=prefix_share,
        reads_per_write=reads_per_write,
        max_cache_read=max_cache_read,
        ratio_jump=ratio_jump,
        rate_jump=rate_jump,
        min_calls=min_calls,
    )
    book = open_price_book(overrides)
    current, previous, skipped = load_with_previous(source, time_range, PERIODS["day"])
    # Unknown models are this command's findings, shown once in its output: not as log lines.
    logging.getLogger("otel_tokens.pricing").setLevel(logging.ERROR)
    found = recommend(
        current,
        previous,
        start=time_range.start,
        end=time_range.end,
        book=book,
        catalog=ModelCatalog(),
        options=options,
    )
    document = report(found, source.describe(), skipped, compared=bool(previous))
    if as_json:
        click.echo(json.dumps(document, indent=2))
    else:
        render(document, Console(soft_wrap=False))
