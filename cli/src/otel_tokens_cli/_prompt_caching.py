"""Prompt-caching opportunities: groups on Anthropic or OpenAI models that read little from the
cache while their prompts are long enough to. The saving if a share of each eligible prompt were
a cached prefix with N reads per write, and the break-even reads per write, from the price book's
input, cache-read and cache-write rates; a prompt is eligible when its prefix reaches the
provider's minimum cacheable length (Anthropic's per model as documented, OpenAI's 1,024)."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from otel_tokens.pricing import PriceBook
from otel_tokens.usage import Usage
from otel_tokens_cli._records import TokenClass
from otel_tokens_cli._traffic import Evidence, Traffic, exact_sizes

__all__ = [
    "ANTHROPIC_ASSUMED_MINIMUM",
    "OPENAI_MINIMUM",
    "CacheOpportunity",
    "CacheScenario",
    "anthropic_minimum",
    "cache_rule",
    "caching_opportunity",
]

OPENAI_MINIMUM = 1024
"""OpenAI caches a prompt's prefix automatically from 1,024 tokens."""
ANTHROPIC_ASSUMED_MINIMUM = 4096
"""The minimum assumed for a Claude model the documented table below does not name: the largest
documented one, so that eligibility is never overstated."""
# Anthropic's minimum cacheable prompt lengths, as its prompt-caching docs list them (the table
# quoted in anthropics/anthropic-sdk-python#1194): keyed by the model id without its date,
# "-latest", "-v1:0" or region prefixes.
_ANTHROPIC_MINIMUMS: Mapping[str, int] = {
    "claude-opus-4-6": 4096,
    "claude-opus-4-5": 4096,
    "claude-haiku-4-5": 4096,
    "claude-sonnet-4-6": 1024,
    "claude-sonnet-4-5": 1024,
    "claude-opus-4-1": 1024,
    "claude-opus-4": 1024,
    "claude-opus-4-0": 1024,
    "claude-sonnet-4": 1024,
    "claude-sonnet-4-0": 1024,
    "claude-3-7-sonnet": 1024,
    "claude-3-5-sonnet": 1024,
    "claude-3-opus": 1024,
    "claude-3-5-haiku": 2048,
    "claude-3-haiku": 2048,
}
_CLAUDE_SUFFIXES = re.compile(r"(?:[-@]\d{8}|-latest|-v\d+(?::\d+)?|:\d+)+$")


@dataclass(frozen=True, slots=True)
class CacheScenario:
    """Caching a prefix with ``ttl`` (``5m``, ``1h``; ``automatic`` for OpenAI): rates in USD per
    million tokens, the break-even reads per write (caching costs the same as not caching), the
    fewest whole reads per write that save, and the saving with the assumed reads per write."""

    ttl: str
    write_per_mtok: float
    read_per_mtok: float
    break_even_reads: float
    reads_needed: int
    saving: float
    saving_per_month: float


@dataclass(frozen=True, slots=True)
class CacheOpportunity:
    """A group that reads little from the prompt cache while its prompts are long enough to.

    ``eligible_calls`` of ``known_calls`` have a prompt whose assumed prefix reaches ``minimum``
    tokens (exact from spans, an upper bound from metrics' bucket bounds unless ``exact``);
    ``prefix_tokens`` is the modelled cacheable prefix over the range. ``read_ratio`` is the
    observed share of input read from the cache; ``reads_per_write`` the observed reads per
    written token, when the group writes at all.
    """

    label: tuple[str, str]
    provider: str
    model: str
    rule: str
    evidence: Evidence
    minimum: int
    minimum_documented: bool
    read_ratio: float
    reads_per_write: float | None
    eligible_calls: int
    known_calls: int
    exact: bool
    prefix_tokens: float
    input_per_mtok: float
    scenarios: tuple[CacheScenario, ...]


def cache_rule(provider: str, model: str) -> str | None:
    """``anthropic`` (explicit cache_control) for Claude models, ``openai`` (automatic) for OpenAI
    and Azure OpenAI; ``None`` where this analysis has no rule."""
    if provider == "anthropic" or (
        provider in ("aws.bedrock", "gcp.vertex_ai") and "claude" in model.lower()
    ):
        return "anthropic"
    if provider in ("openai", "azure.ai.openai"):
        return "openai"
    return None


def anthropic_minimum(model: str) -> tuple[int, bool]:
    """The minimum cacheable prompt of a Claude model and whether Anthropic documents it (else the
    assumed :data:`ANTHROPIC_ASSUMED_MINIMUM`). Bedrock and Vertex names are read too."""
    name = model.lower().rsplit("/", 1)[-1]
    at = name.find("claude-")
    name = _CLAUDE_SUFFIXES.sub("", name[at:] if at >= 0 else name)
    documented = _ANTHROPIC_MINIMUMS.get(name)
    return (ANTHROPIC_ASSUMED_MINIMUM, False) if documented is None else (documented, True)


def _input_rates(book: PriceBook, provider: str, model: str, size: int) -> dict[str, float] | None:
    """USD per token of input, cache reads, 5-minute and 1-hour cache writes for a call of
    ``size`` input tokens (so a long-context tier applies as it would)."""
    usages = {
        "input": Usage(input_tokens=size, output_tokens=0),
        "read": Usage(input_tokens=size, output_tokens=0, cache_read_input_tokens=size),
        "write_5m": Usage(
            input_tokens=size,
            output_tokens=0,
            cache_creation_input_tokens=size,
            cache_creation_1h_input_tokens=0,
        ),
        "write_1h": Usage(
            input_tokens=size,
            output_tokens=0,
            cache_creation_input_tokens=size,
            cache_creation_1h_input_tokens=size,
        ),
    }
    rates = {}
    for kind, usage in usages.items():
        cost = book.cost(provider, model, usage)
        if cost is None:
            return None
        rates[kind] = (cost.input + cost.cache_read + cost.cache_creation) / size
    return rates


def _scenario(
    ttl: str,
    rates: Mapping[str, float],
    write: float,
    prefix: float,
    reads_per_write: int,
    per_month: Callable[[float], float],
) -> CacheScenario:
    """Per prefix token, N reads per write cost ``(write + N * read) / (N + 1)`` against the
    input rate each time uncached; break-even N = (write - input) / (input - read)."""
    rate_in, read = rates["input"], rates["read"]
    n = reads_per_write
    break_even = max(0.0, (write - rate_in) / (rate_in - read))
    saving = prefix * (rate_in - (write + n * read) / (n + 1))
    # Rates per million rounded to drop float noise (3.0000000000000004); the smallest whole N
    # above the break-even, with a tolerance so that a break-even of exactly 1 needs 2.
    return CacheScenario(
        ttl, round(write * 1e6, 9), round(read * 1e6, 9), break_even, math.floor(break_even + 1e-9) + 1,
        saving, per_month(saving),
    )  # fmt: skip


def caching_opportunity(
    traffic: Traffic,
    book: PriceBook,
    *,
    prefix_share: float,
    reads_per_write: int,
    max_cache_read: float,
    per_month: Callable[[float], float],
) -> CacheOpportunity | None:
    """The traffic's caching opportunity: ``prefix_share`` of each eligible prompt's uncached
    input taken as a cacheable prefix, ``reads_per_write`` reads per write assumed; ``None`` when
    the provider has no rule here, the traffic reads at least ``max_cache_read`` of its input from
    the cache already, no prompt is eligible or the book has no cheaper cache-read rate.
    ``per_month`` scales a saving over the range to a month."""
    provider, model = traffic.provider, traffic.model
    rule = cache_rule(provider, model)
    evidence = traffic.evidence
    if rule is None or evidence.input_tokens == 0:
        return None
    read_ratio = evidence.cache_read_tokens / evidence.input_tokens
    if read_ratio >= max_cache_read:
        return None
    minimum, documented = anthropic_minimum(model) if rule == "anthropic" else (OPENAI_MINIMUM, True)
    share = prefix_share
    eligible = known = eligible_size = 0
    prefix = 0.0
    exact = True
    for record in traffic.records:
        total = sum(size * calls for size, calls in record.input_sizes)
        if total == 0 or record.requests == record.unpriced_requests:
            continue
        exact = exact and exact_sizes(record)
        big = [(size, calls) for size, calls in record.input_sizes if size * share >= minimum]
        known += sum(calls for _, calls in record.input_sizes)
        eligible += sum(calls for _, calls in big)
        big_size = sum(size * calls for size, calls in big)
        eligible_size += big_size
        prefix += share * record.tokens.get(TokenClass.INPUT, 0) * big_size / total
    if eligible == 0 or prefix <= 0:
        return None
    rates = _input_rates(book, provider, model, max(1, eligible_size // eligible))
    if rates is None or rates["read"] >= rates["input"]:
        return None
    if rule == "anthropic":
        scenarios = [_scenario("5m", rates, rates["write_5m"], prefix, reads_per_write, per_month)]
        if rates["write_1h"] != rates["write_5m"]:
            scenarios.append(_scenario("1h", rates, rates["write_1h"], prefix, reads_per_write, per_month))
    else:  # writes are free: the first call pays the plain input rate
        scenarios = [_scenario("automatic", rates, rates["input"], prefix, reads_per_write, per_month)]
    writes = evidence.cache_write_tokens
    return CacheOpportunity(
        traffic.label, provider, model, rule, evidence, minimum, documented, read_ratio,
        evidence.cache_read_tokens / writes if writes else None,
        eligible, known, exact, prefix, round(rates["input"] * 1e6, 9), tuple(scenarios),
    )  # fmt: skip
