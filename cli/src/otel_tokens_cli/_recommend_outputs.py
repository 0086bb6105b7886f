"""The answer of ``otel-tokens recommend`` as a JSON document, and that document as rich tables.

:func:`report` turns :class:`~otel_tokens_cli._savings.Recommendations` into plain data (what
``--json`` prints); :func:`render` prints the same document as tables and one-line notes, so the
two outputs never disagree.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from otel_tokens_cli._model_switch import ContextFit, Switch
from otel_tokens_cli._prompt_caching import CacheOpportunity
from otel_tokens_cli._records import Skips
from otel_tokens_cli._savings import MONTH_DAYS, Jump, Options, Recommendations, Unpriced
from otel_tokens_cli._sources import format_moment
from otel_tokens_cli._traffic import Evidence

__all__ = ["SAME_TOKENS", "assumptions", "render", "report"]

SAME_TOKENS = "same token counts; quality not judged"


# -- the JSON document, which the tables render -------------------------------------------------


def _label(label: tuple[str, str]) -> dict[str, str] | None:
    return {"key": label[0], "value": label[1]} if label[0] else None


def _evidence(evidence: Evidence, window: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "calls": evidence.calls,
        "input_tokens": evidence.input_tokens,
        "output_tokens": evidence.output_tokens,
        "cache_read_tokens": evidence.cache_read_tokens,
        "cache_write_tokens": evidence.cache_write_tokens,
        "recorded_cost_usd": evidence.cost,
        "range": dict(window),
    }


def _fit(fit: ContextFit) -> dict[str, Any]:
    return {
        "context_window": fit.window,
        "fitting_calls": fit.fitting if fit.window is not None else None,
        "calls_with_size": fit.known,
        "share": fit.share,
        "kind": "exact" if fit.exact else "lower bound",
    }


def _switch(switch: Switch, window: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "group": _label(switch.label),
        "provider": switch.provider,
        "model": switch.model,
        "evidence": _evidence(switch.evidence, window),
        "current_cost_usd": switch.current_cost,
        "current_cost_basis": switch.current_basis,
        "candidates": [
            {
                "model": c.model,
                "cost_usd": c.cost,
                "saving_usd": c.saving,
                "saving_per_month_usd": c.saving_per_month,
                "saving_share": c.saving_share,
                "context_fit": _fit(c.context),
            }
            for c in switch.candidates
        ],
        "unpriced_candidates": list(switch.unpriced_candidates),
        "assumptions": [SAME_TOKENS],
    }


def _caching(item: CacheOpportunity, window: Mapping[str, Any], options: Options) -> dict[str, Any]:
    return {
        "group": _label(item.label),
        "provider": item.provider,
        "model": item.model,
        "rule": item.rule,
        "evidence": _evidence(item.evidence, window),
        "cache_read_ratio": item.read_ratio,
        "observed_reads_per_write": item.reads_per_write,
        "minimum_prefix_tokens": item.minimum,
        "minimum_prefix_source": "documented" if item.minimum_documented else "assumed",
        "eligible_calls": item.eligible_calls,
        "calls_with_size": item.known_calls,
        "eligible_kind": "exact" if item.exact else "upper bound",
        "prefix_tokens": item.prefix_tokens,
        "input_per_mtok_usd": item.input_per_mtok,
        "scenarios": [
            {
                "ttl": s.ttl,
                "write_per_mtok_usd": s.write_per_mtok,
                "read_per_mtok_usd": s.read_per_mtok,
                "break_even_reads_per_write": s.break_even_reads,
                "reads_per_write_needed": s.reads_needed,
                "reads_per_write_assumed": options.reads_per_write,
                "saving_usd": s.saving,
                "saving_per_month_usd": s.saving_per_month,
            }
            for s in item.scenarios
        ],
        "assumptions": [
            f"{options.prefix_share:.0%} of each eligible prompt's uncached input is a stable prefix",
            f"{options.reads_per_write} cache reads per write",
            SAME_TOKENS,
        ],
    }


def _unpriced(item: Unpriced, window: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "provider": item.provider,
        "model": item.model,
        "evidence": {
            "calls": item.calls,
            "input_tokens": item.input_tokens,
            "output_tokens": item.output_tokens,
            "range": dict(window),
        },
        "groups": list(item.groups),
        "priced_now_by": item.priced_now,
        "check": item.command,
    }


def _jump(jump: Jump, window: Mapping[str, Any], previous: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "group": _label(jump.label),
        "kind": jump.kind,
        "before": jump.before,
        "now": jump.now,
        "factor": jump.factor,
        "evidence": _evidence(jump.evidence, window),
        "previous_evidence": _evidence(jump.previous, previous),
    }


def assumptions(found: Recommendations) -> list[str]:
    """The assumptions every figure rests on, one sentence each."""
    options = found.options
    return [
        "Savings price the same token counts, call by call, on the candidate with the SDK's price book "
        f"({found.price_data}): the answers' quality is not judged, and another model may use other "
        "counts.",
        f"Per month = the range's saving x {MONTH_DAYS} / {found.days:.2f} days (the range's rate "
        "continued).",
        "Context fit compares each call's prompt with the candidate's context window in genai-prices: exact "
        "from spans; from metrics a histogram bucket's upper bound stands for the prompt (a lower bound).",
        f"Caching assumes {options.prefix_share:.0%} of each eligible prompt's uncached input is a stable "
        f"prefix, cached with {options.reads_per_write} reads per write; a prompt is eligible when that "
        "prefix reaches the minimum cacheable length (Anthropic: per model as documented; OpenAI: 1,024 "
        "tokens, cached automatically, writes free). Rates are the price book's.",
        f"Jumps: output/input ratio x{options.ratio_jump:g} or calls x{options.rate_jump:g} against the "
        f"period of the same length before, for groups with {options.min_calls}+ calls in both.",
    ]


def report(found: Recommendations, source: str, skipped: Skips, *, compared: bool) -> dict[str, Any]:
    """The whole answer as plain data; ``compared`` says the source had records before the range."""
    window = {
        "start": format_moment(found.start),
        "end": format_moment(found.end),
        "counted_to": format_moment(found.covered_end),
        "days": found.days,
    }
    previous = {
        "start": format_moment(found.previous_start),
        "end": format_moment(found.start),
        "days": found.previous_days,
    }
    notes = []
    if not compared:
        notes.append("No call before the range in the source: no jumps can be compared.")
    elif found.previous_start > found.start - (found.end - found.start):
        notes.append(
            f"The source's calls before the range start at {format_moment(found.previous_start)}: the period "
            f"before is counted from there ({found.previous_days:.2f} days)."
        )
    if found.covered_end < found.end:
        notes.append(
            f"The range ends in the future: rates count it up to {format_moment(found.covered_end)}."
        )
    return {
        "source": source,
        "range": window,
        "group_by": list(found.options.by),
        "price_data": found.price_data,
        "switches": [_switch(switch, window) for switch in found.switches],
        "caching": [_caching(item, window, found.options) for item in found.caching],
        "unpriced": [_unpriced(item, window) for item in found.unpriced],
        "jumps": [_jump(jump, window, previous) for jump in found.jumps],
        "assumptions": assumptions(found),
        "notes": notes,
        "skipped": dict(skipped.counts),
    }


# -- the tables ---------------------------------------------------------------------------------


def _usd(value: float | None) -> str:
    if value is None:
        return "-"
    if value < 0:
        return "-" + _usd(-value)
    return f"${value:,.2f}" if value >= 0.01 or value == 0 else f"${value:.4f}"


def _group(group: Mapping[str, str] | None) -> str:
    return "(untagged)" if group is None else f"{group['key']}={group['value']}"


def _fit_text(fit: Mapping[str, Any]) -> str:
    if fit["context_window"] is None:
        return "window unknown"
    if fit["share"] is None:
        return "no prompt sizes"
    bound = "" if fit["kind"] == "exact" else ">= "
    return f"{bound}{fit['share']:.0%} of {fit['calls_with_size']:,} ({fit['context_window']:,} tokens)"


def _table(title: str, columns: str) -> Table:
    """A table whose columns are named in ``columns``, ``|``-separated; a name ending in ``>`` is
    right-justified (numbers)."""
    table = Table(title=Text(title), title_justify="left")  # Text: "[[price]]" is no markup
    for name in columns.split("|"):
        table.add_column(name.rstrip(">"), justify="right" if name.endswith(">") else "left")
    return table


def _rows(table: Table, head: Sequence[str], tails: Sequence[Sequence[str]]) -> None:
    """One row per tail; the head cells only on the first."""
    for index, tail in enumerate(tails):
        table.add_row(*map(Text, [*(head if index == 0 else [""] * len(head)), *tail]))


def _head(item: Mapping[str, Any]) -> list[str]:
    evidence = item["evidence"]
    return [
        _group(item["group"]),
        f"{item['provider']}/{item['model']}",
        f"{evidence['calls']:,}",
        f"{evidence['input_tokens']:,}",
    ]


def _switch_table(switches: Sequence[Mapping[str, Any]]) -> Table:
    table = _table(
        f"Cheaper models ({SAME_TOKENS})",
        "Group|Model|Calls>|Input tok>|Output tok>|Cost now>|Candidate|Cost on it>|Saving>|Per month>"
        "|Prompts that fit",
    )
    for switch in switches:
        head = [*_head(switch), f"{switch['evidence']['output_tokens']:,}", _usd(switch["current_cost_usd"])]
        tails = [
            [
                candidate["model"],
                _usd(candidate["cost_usd"]),
                _usd(candidate["saving_usd"]),
                _usd(candidate["saving_per_month_usd"]),
                _fit_text(candidate["context_fit"]),
            ]
            for candidate in switch["candidates"]
        ]
        if switch["unpriced_candidates"]:
            tails.append(["no price: " + ", ".join(switch["unpriced_candidates"]), "", "", "", ""])
        _rows(table, head, tails)
    return table


def _caching_table(items: Sequence[Mapping[str, Any]]) -> Table:
    table = _table(
        "Prompt caching",
        "Group|Model|Calls>|Input tok>|Read from cache>|Eligible calls>|Min prefix>|TTL"
        "|Break-even reads/write>|Saving>|Per month>",
    )
    for item in items:
        bound = "" if item["eligible_kind"] == "exact" else "<= "
        assumed = "" if item["minimum_prefix_source"] == "documented" else " (assumed)"
        head = [
            *_head(item),
            f"{item['cache_read_ratio']:.0%}",
            f"{bound}{item['eligible_calls']:,}",
            f"{item['minimum_prefix_tokens']:,}{assumed}",
        ]
        tails = [
            [
                scenario["ttl"],
                f"{scenario['break_even_reads_per_write']:.2f} ({scenario['reads_per_write_needed']}+ pays)",
                _usd(scenario["saving_usd"]),
                _usd(scenario["saving_per_month_usd"]),
            ]
            for scenario in item["scenarios"]
        ]
        _rows(table, head, tails)
    return table


def _unpriced_table(items: Sequence[Mapping[str, Any]]) -> Table:
    table = _table(
        "Unpriced models (add a [[price]] override)",
        "Provider|Model|Calls>|Input tok>|Output tok>|Groups|Check",
    )
    for item in items:
        evidence = item["evidence"]
        check = item["check"] + (f" (priced now by {item['priced_now_by']})" if item["priced_now_by"] else "")
        cells = [
            item["provider"],
            item["model"],
            f"{evidence['calls']:,}",
            f"{evidence['input_tokens']:,}",
            f"{evidence['output_tokens']:,}",
            ", ".join(item["groups"]),
            check,
        ]
        table.add_row(*map(Text, cells))
    return table


def _jump_table(items: Sequence[Mapping[str, Any]]) -> Table:
    table = _table(
        "Jumps against the period before", "Group|Change|Before>|Now>|Factor>|Calls before>|Calls now>"
    )
    for item in items:
        if item["kind"] == "output/input ratio":
            before, now = f"{item['before']:.3f}", f"{item['now']:.3f}"
        else:
            before, now = f"{item['before']:,.1f}/day", f"{item['now']:,.1f}/day"
        cells = [
            _group(item["group"]),
            item["kind"],
            before,
            now,
            f"x{item['factor']:.2f}",
            f"{item['previous_evidence']['calls']:,}",
            f"{item['evidence']['calls']:,}",
        ]
        table.add_row(*map(Text, cells))
    return table


def render(document: Mapping[str, Any], console: Console) -> None:
    """Print ``document`` as tables and one-line notes."""
    window = document["range"]
    console.print(
        Text(
            f"Recommendations from {document['source']}, {window['start']} to {window['end']} "
            f"({window['days']:.2f} days); each call grouped by the first of "
            f"{', '.join(document['group_by'])} it has"
        ),
        soft_wrap=True,
    )
    sections = (
        ("switches", _switch_table, "No cheaper model found for the same token counts."),
        ("caching", _caching_table, "No prompt-caching opportunity found."),
        ("unpriced", _unpriced_table, "Every model was priced."),
        ("jumps", _jump_table, "No jump against the period before."),
    )
    for key, table, empty in sections:
        console.print(table(document[key]) if document[key] else Text(empty))
    for line in ("Assumptions:", *(f"- {text}" for text in document["assumptions"]), *document["notes"]):
        console.print(Text(line), soft_wrap=True)  # one line each, however narrow the terminal
    for reason, count in document["skipped"].items():
        console.print(Text(f"{count} skipped: {reason}"), soft_wrap=True)
