"""A :class:`Report` as one self-contained HTML page, for people who would rather look than read.

The page fetches nothing: its CSS is inline, the chart is inline SVG drawn here (it shows with
JavaScript off), it names no font, image or script to load, and its Content-Security-Policy
forbids every fetch and every script should a value ever slip through. Every value that comes
from records (tags, models, services, the source) is HTML-escaped.

Elements carry stable ids and classes with exact values in ``data-*`` attributes (``repr`` of
the float USD), so tests and scripts read the numbers without parsing formatted text:
``#total-cost``, ``#total-calls``, ``#cost-per-call``, ``#previous-cost``, ``#cost-change``,
``#allocation-accuracy``, ``#allocated-cost``, ``#unallocated-cost``, ``#unpriced-calls``,
``#estimated-share``, ``tr.group``, ``tr.top``, ``tr.unpriced``, ``tr.tokens``, ``li.skip`` and
the chart's ``rect.bar`` (see :mod:`otel_tokens_cli._svg_chart`).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from html import escape

from otel_tokens_cli._aggregate import Group, Report, Totals
from otel_tokens_cli._records import TokenClass
from otel_tokens_cli._svg_chart import OTHER, ChartSeries, chart_series, format_usd, stacked_bars_svg

__all__ = ["format_change", "format_share", "group_label", "render_html"]

_TOKEN_NAMES = {
    TokenClass.INPUT: "Input (not cached)",
    TokenClass.CACHE_READ: "Cache reads",
    TokenClass.CACHE_WRITE_5M: "Cache writes (5 min)",
    TokenClass.CACHE_WRITE_1H: "Cache writes (1 hour)",
    TokenClass.OUTPUT: "Output (reasoning included)",
    TokenClass.SEARCH_UNITS: "Rerank search units",
}

_CSS = """
:root { color-scheme: light; --ink: #1f2328; --muted: #5c6570; --line: #d8dde3;
  --bad: #b42318; --good: #067647; }
* { box-sizing: border-box; }
body { margin: 0; background: #f6f7f9; color: var(--ink);
  font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 1100px; margin: 0 auto; padding: 24px 24px 48px; }
h1 { font-size: 26px; margin: 0 0 4px; }
h2 { font-size: 18px; margin: 0 0 12px; }
section { background: #fff; border: 1px solid var(--line); border-radius: 8px;
  padding: 18px 20px; margin: 16px 0; }
.meta { color: var(--muted); margin: 0; }
.meta span { display: inline-block; margin-right: 18px; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(140px, 1fr)); gap: 12px; }
.card { border: 1px solid var(--line); border-radius: 8px; padding: 12px 14px; }
.card .name { color: var(--muted); font-size: 13px; }
.card .value { font-size: 24px; font-weight: 650; font-variant-numeric: tabular-nums; }
.card .note { color: var(--muted); font-size: 13px; }
.up { color: var(--bad); }
.down { color: var(--good); }
.warn { color: var(--bad); }
.chart-box { overflow-x: auto; }
svg.chart { display: block; max-width: 100%; height: auto; font-size: 12px; fill: var(--muted); }
svg.chart .axis-title { font-size: 12px; fill: var(--ink); }
svg.chart .no-spend { font-size: 16px; fill: var(--muted); }
.legend { list-style: none; padding: 0; margin: 10px 0 0; display: flex; flex-wrap: wrap; gap: 6px 18px; }
.legend li, td.label { white-space: nowrap; }
svg.swatch { vertical-align: -1px; margin-right: 6px; }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
th, td { padding: 6px 10px; border-bottom: 1px solid var(--line); text-align: right; }
th { color: var(--muted); font-weight: 600; font-size: 13px; }
th.label, td.label { text-align: left; }
tbody tr:nth-child(even) { background: #fafbfc; }
tfoot td { font-weight: 650; border-top: 2px solid var(--line); border-bottom: 0; }
.empty { color: var(--muted); margin: 0; }
@media print { body { background: #fff; } section { break-inside: avoid; border: 0; padding: 0; } }
"""


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def group_label(key: Sequence[str]) -> str:
    """A group's name as the chart's series name it: its values joined by `` / ``, ``(none)`` for a
    missing tag, ``total`` when the report is not grouped."""
    return " / ".join(value or "(none)" for value in key) or "total"


def format_share(share: float | None) -> str:
    """A share as a percentage with one decimal; ``n/a`` when there is none."""
    return "n/a" if share is None else f"{share:.1%}"


def format_change(change: float | None) -> str:
    """A relative change with its sign (``+12.5%``, ``−4.0%``); ``n/a`` without a previous cost."""
    if change is None:
        return "n/a"
    return f"+{change:.1%}" if change >= 0 else f"−{-change:.1%}"


def _change(current: float, previous: Totals | None) -> float | None:
    if previous is None or previous.cost <= 0:
        return None
    return current / previous.cost - 1


def _change_class(change: float | None) -> str:
    if change is None or change == 0:
        return "change"
    return "change up" if change > 0 else "change down"


def _date(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M}"


def _swatch(colour: str) -> str:
    return (
        f'<svg class="swatch" width="12" height="12" aria-hidden="true">'
        f'<rect width="12" height="12" rx="2" fill="{colour}"/></svg>'
    )


def _card(element_id: str, name: str, value: str, note: str = "", attrs: str = "", css: str = "") -> str:
    """A headline figure: ``name`` and ``value`` are escaped here; ``note`` is HTML whose values the
    caller escaped, ``attrs`` the value element's extra attributes."""
    return (
        f'<div class="card"><div class="name">{_e(name)}</div>'
        f'<div id="{element_id}" class="value {css}"{attrs}>{_e(value)}</div>'
        f'<div class="note">{note}</div></div>'
    )


def _summary(report: Report) -> str:
    totals, previous = report.totals, report.previous_totals
    change = _change(totals.cost, previous)
    if previous is None:
        previous_note = "no previous period loaded"
    else:
        previous_note = (
            f'vs <span id="previous-cost" data-usd="{previous.cost!r}">'
            f"{_e(format_usd(previous.cost))}</span> in the previous period"
        )
    per_call = totals.cost_per_call
    accuracy = report.allocation_accuracy
    unpriced_css = "warn" if totals.unpriced_requests else ""
    cards = [
        _card("total-cost", "Spend", format_usd(totals.cost), previous_note, f' data-usd="{totals.cost!r}"'),
        _card(
            "cost-change",
            "Change vs previous period",
            format_change(change),
            "of spend" if change is not None else "no previous spend to compare",
            f' data-change="{change!r}"' if change is not None else "",
            _change_class(change),
        ),
        _card(
            "total-calls",
            "Calls",
            f"{totals.requests:,}",
            f"{totals.error_requests:,} ended in an error" if totals.error_requests else "",
            f' data-count="{totals.requests}"',
        ),
        _card(
            "cost-per-call",
            "Cost per priced call",
            format_usd(per_call) if per_call is not None else "n/a",
            "mean over the calls that had a price",
            f' data-usd="{per_call!r}"' if per_call is not None else "",
        ),
        _card(
            "allocation-accuracy",
            "Allocated to an owner",
            format_share(accuracy),
            f"share of spend tagged <code>{_e(report.owner_tag)}</code>",
            f' data-share="{accuracy!r}"' if accuracy is not None else "",
        ),
        _card(
            "unpriced-calls",
            "Calls without a price",
            f"{totals.unpriced_requests:,}",
            "their cost is unknown, not $0" if totals.unpriced_requests else "every call had a price",
            f' data-count="{totals.unpriced_requests}"',
            unpriced_css,
        ),
    ]
    return f'<section id="summary"><h2>Summary</h2><div class="cards">{"".join(cards)}</div></section>'


def _chart(report: Report, series: Sequence[ChartSeries]) -> str:
    by = ", ".join(report.by) or "total"
    unit = "day" if report.timeline_step >= timedelta(days=1) else "hour"
    title = f"Spend per {unit} by {by}"
    svg = stacked_bars_svg(report.timeline, series, step=report.timeline_step, title=title)
    items = []
    for chart in series:
        more = f" ({len(chart.members)} more)" if chart.label == OTHER else ""
        items.append(
            f'<li data-series="{_e(chart.label)}" data-usd="{chart.usd!r}">{_swatch(chart.colour)}'
            f"{_e(chart.label)}{_e(more)}: {_e(format_usd(chart.usd))}</li>"
        )
    legend = f'<ul id="chart-legend" class="legend">{"".join(items)}</ul>' if items else ""
    return f'<section id="chart"><h2>{_e(title)}</h2><div class="chart-box">{svg}</div>{legend}</section>'


def _tokens(report: Report) -> str:
    totals, previous = report.totals, report.previous_totals
    head = '<th class="label">Token class</th><th>This period</th>'
    head += "<th>Previous period</th>" if previous is not None else ""
    rows = []
    for kind, name in _TOKEN_NAMES.items():
        count = totals.tokens[kind]
        before = previous.tokens[kind] if previous is not None else 0
        if not count and not before and kind not in (TokenClass.INPUT, TokenClass.OUTPUT):
            continue
        cells = f'<td class="label">{_e(name)}</td><td>{count:,}</td>'
        cells += f"<td>{before:,}</td>" if previous is not None else ""
        rows.append(f'<tr class="tokens" data-class="{kind.value}" data-count="{count}">{cells}</tr>')
        reasoned = totals.reasoning_tokens or (previous is not None and previous.reasoning_tokens)
        if kind is TokenClass.OUTPUT and reasoned:  # a part of the output: right below it
            cells = f'<td class="label">of which reasoning</td><td>{totals.reasoning_tokens:,}</td>'
            cells += f"<td>{previous.reasoning_tokens:,}</td>" if previous is not None else ""
            count = totals.reasoning_tokens
            rows.append(f'<tr class="tokens" data-class="reasoning" data-count="{count}">{cells}</tr>')
    return (
        '<section id="tokens"><h2>Tokens by class</h2>'
        f'<table id="tokens-table"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody>'
        "</table></section>"
    )


def _groups(report: Report, colours: dict[str, str]) -> str:
    dimensions = list(report.by) or ["group"]
    unpriced = any(group.totals.unpriced_requests for group in report.groups)
    compare = report.previous_totals is not None
    head = "".join(f'<th class="label">{_e(name)}</th>' for name in dimensions)
    head += "<th>Calls</th><th>Input tokens</th><th>Output tokens</th>"
    head += "<th>Calls without price</th>" if unpriced else ""
    head += "<th>Spend</th><th>Share</th>"
    head += "<th>Previous period</th><th>Change</th>" if compare else ""
    rows = []
    total_cost = report.totals.cost
    for group in report.groups:
        rows.append(_group_row(group, colours, unpriced=unpriced, compare=compare, total_cost=total_cost))
    totals = report.totals
    foot = f'<td class="label" colspan="{len(dimensions)}">Total</td>'
    foot += f"<td>{totals.requests:,}</td><td>{totals.input_tokens:,}</td><td>{totals.output_tokens:,}</td>"
    foot += f"<td>{totals.unpriced_requests:,}</td>" if unpriced else ""
    foot += f"<td>{_e(format_usd(totals.cost))}</td><td>{'100.0%' if total_cost > 0 else 'n/a'}</td>"
    if compare and report.previous_totals is not None:
        change = _change(totals.cost, report.previous_totals)
        foot += f"<td>{_e(format_usd(report.previous_totals.cost))}</td><td>{_e(format_change(change))}</td>"
    columns = len(dimensions) + 5 + unpriced + 2 * compare
    body = "".join(rows) or f'<tr><td class="label" colspan="{columns}">No calls in this period</td></tr>'
    return (
        f'<section id="groups"><h2>Spend by {_e(", ".join(report.by) or "total")}</h2>'
        f'<table id="groups-table"><thead><tr>{head}</tr></thead><tbody>{body}</tbody>'
        f"<tfoot><tr>{foot}</tr></tfoot></table></section>"
    )


def _group_row(
    group: Group, colours: dict[str, str], *, unpriced: bool, compare: bool, total_cost: float
) -> str:
    label = group_label(group.key)
    values = list(group.key) or ["total"]
    cells = ""
    for index, value in enumerate(values):
        swatch = _swatch(colours[label]) if index == 0 and label in colours else ""
        cells += f'<td class="label">{swatch}{_e(value or "(none)")}</td>'
    totals = group.totals
    cells += f"<td>{totals.requests:,}</td><td>{totals.input_tokens:,}</td><td>{totals.output_tokens:,}</td>"
    cells += f"<td>{totals.unpriced_requests:,}</td>" if unpriced else ""
    share = totals.cost / total_cost if total_cost > 0 else None
    cells += f'<td class="cost">{_e(format_usd(totals.cost))}</td><td>{_e(format_share(share))}</td>'
    attrs = f' data-key="{_e(label)}" data-usd="{totals.cost!r}"'
    if compare:
        before = group.previous.cost if group.previous is not None else 0.0
        cells += f'<td class="previous">{_e(format_usd(before))}</td>'
        cells += f'<td class="{_change_class(group.change)}">{_e(format_change(group.change))}</td>'
        attrs += f' data-previous-usd="{before!r}"'
    return f'<tr class="group"{attrs}>{cells}</tr>'


def _allocation(report: Report) -> str:
    accuracy = report.allocation_accuracy
    allocated = report.totals.cost - report.unallocated_cost
    owner = _e(report.owner_tag)
    meter = (
        '<svg class="meter" width="100%" height="14" role="img" aria-label="allocated share">'
        '<rect width="100%" height="14" rx="3" fill="#f4b8b2"/>'
        f'<rect width="{accuracy:.2%}" height="14" rx="3" fill="#2f7d4f"/></svg>'
        if accuracy is not None
        else ""
    )
    return (
        '<section id="allocation"><h2>Allocation accuracy</h2>'
        f"<p>{_e(format_share(accuracy))} of spend carries the <code>{owner}</code> tag, "
        f"so it can be charged to an owner.</p>{meter}"
        '<table id="allocation-table"><tbody>'
        f'<tr><td class="label">With a <code>{owner}</code> tag</td>'
        f'<td id="allocated-cost" data-usd="{allocated!r}">{_e(format_usd(allocated))}</td></tr>'
        f'<tr><td class="label">Without (unallocated)</td><td id="unallocated-cost" '
        f'data-usd="{report.unallocated_cost!r}">{_e(format_usd(report.unallocated_cost))}</td></tr>'
        "</tbody></table></section>"
    )


def _unpriced(report: Report) -> str:
    if not report.unpriced_models:
        return (
            '<section id="unpriced"><h2>Models without a price</h2>'
            '<p class="empty">Every call had a price.</p></section>'
        )
    rows = "".join(
        f'<tr class="unpriced" data-provider="{_e(provider)}" data-model="{_e(model)}" data-calls="{calls}">'
        f'<td class="label">{_e(provider)}</td><td class="label">{_e(model)}</td><td>{calls:,}</td></tr>'
        for provider, model, calls in report.unpriced_models
    )
    return (
        '<section id="unpriced"><h2>Models without a price</h2>'
        "<p>These calls are counted but their cost is unknown (not $0): the spend above leaves them out. "
        "Add the models to the price overrides to cost them.</p>"
        '<table id="unpriced-table"><thead><tr><th class="label">Provider</th><th class="label">Model</th>'
        f"<th>Calls</th></tr></thead><tbody>{rows}</tbody></table></section>"
    )


def _estimated(report: Report) -> str:
    share = report.estimated_share
    attrs = f' data-share="{share!r}"' if share is not None else ""
    return (
        '<section id="estimated"><h2>Estimated usage</h2>'
        f'<p><strong id="estimated-share"{attrs}>{_e(format_share(share))}</strong> of calls '
        f"({report.totals.estimated_requests:,} of {report.totals.requests:,}) have token counts estimated "
        "locally, because the provider returned none; their cost is an estimate too.</p></section>"
    )


def _top(report: Report) -> str:
    top_by = _e(report.top_by)
    if not report.top_spenders:
        return (
            f'<section id="top"><h2>Top spenders by {top_by}</h2>'
            f'<p class="empty">No call carried a <code>{top_by}</code> tag.</p></section>'
        )
    total = report.totals.cost
    rows = "".join(
        f'<tr class="top" data-key="{_e(group.key[0])}" data-usd="{group.totals.cost!r}">'
        f'<td>{rank}</td><td class="label">{_e(group.key[0])}</td><td>{group.totals.requests:,}</td>'
        f"<td>{_e(format_usd(group.totals.cost))}</td>"
        f"<td>{_e(format_share(group.totals.cost / total if total > 0 else None))}</td></tr>"
        for rank, group in enumerate(report.top_spenders, start=1)
    )
    return (
        f'<section id="top"><h2>Top spenders by {top_by}</h2>'
        f'<table id="top-table"><thead><tr><th>#</th><th class="label">{top_by}</th><th>Calls</th>'
        f"<th>Spend</th><th>Share</th></tr></thead><tbody>{rows}</tbody></table></section>"
    )


def _skipped(report: Report) -> str:
    skipped = report.skipped
    if not skipped.total:
        body = '<p class="empty">None: every record was read.</p>'
    else:
        items = "".join(f'<li class="skip">{_e(line)}</li>' for line in skipped.lines())
        body = f"<p>These records could not be read, so the totals above leave them out.</p><ul>{items}</ul>"
    return (
        f'<section id="skipped" data-count="{skipped.total}"><h2>Skipped records ({skipped.total:,})</h2>'
        f"{body}</section>"
    )


def _header(report: Report, title: str, source: str) -> str:
    meta: Iterable[str] = (
        f"Period: {_date(report.start)} to {_date(report.end)} UTC (end excluded)",
        f"Source: {source}",
        f"Grouped by: {', '.join(report.by) or 'nothing'}",
        "Amounts: USD as recorded at call time",
    )
    spans = "".join(f"<span>{_e(line)}</span>" for line in meta)
    return f'<header><h1 id="report-title">{_e(title)}</h1><p class="meta">{spans}</p></header>'


def render_html(report: Report, *, title: str, source: str) -> str:
    """The report as one HTML document (a string; nothing is written or fetched).

    ``title`` heads the page; ``source`` (a ledger path or a Prometheus URL) is shown as text,
    never as a link. The output depends on its arguments only, so the same report renders to the
    same bytes.
    """
    series = chart_series(report.timeline)
    colours = {member: chart.colour for chart in series for member in chart.members}
    sections = (
        _header(report, title, source),
        _summary(report),
        _chart(report, series),
        _tokens(report),
        _groups(report, colours),
        _allocation(report),
        _unpriced(report),
        _estimated(report),
        _top(report),
        _skipped(report),
    )
    style_hash = base64.b64encode(hashlib.sha256(_CSS.encode()).digest()).decode()
    # The policy is the guarantee behind "fetches nothing": no script runs and nothing loads, even
    # if a value ever escaped its escaping. Only this exact stylesheet is allowed.
    policy = f"default-src 'none'; style-src 'sha256-{style_hash}'; base-uri 'none'; form-action 'none'"
    body = "\n".join(sections)
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{policy}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f'<meta name="referrer" content="no-referrer">\n<title>{_e(title)}</title>\n'
        f"<style>{_CSS}</style>\n</head>\n<body>\n<main>\n{body}\n</main>\n</body>\n</html>\n"
    )
