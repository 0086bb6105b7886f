"""A stacked bar chart of spend over time as inline SVG, drawn server-side (no JavaScript, no fonts
or images to fetch), for the HTML report.

Each bucket of the timeline is one bar; each series (a value of the grouping dimensions) one
segment, stacked from the largest series at the bottom. Every segment is a ``<rect class="bar">``
carrying ``data-series``, ``data-bucket`` and ``data-usd`` and a ``<title>`` tooltip; every bar is
a ``<g class="bucket">`` with the bucket's total in ``data-usd``. Heights are proportional to USD
on a linear axis that starts at $0.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from html import escape

__all__ = ["OTHER", "PALETTE", "ChartSeries", "chart_series", "format_usd", "stacked_bars_svg"]

PALETTE = (
    "#4e79a7",
    "#f28e2b",
    "#e15759",
    "#76b7b2",
    "#59a14f",
    "#edc948",
    "#b07aa1",
    "#ff9da7",
    "#9c755f",
)
"""Tableau 10 without its grey: distinct for most colour vision and readable on white."""
OTHER_COLOUR = "#bab0ac"
OTHER = "(other)"
"""The series that the smallest series are folded into when there are more than colours."""

WIDTH, HEIGHT = 960, 360
_LEFT, _RIGHT, _TOP, _BOTTOM = 80, 16, 16, 56
PLOT_WIDTH, PLOT_HEIGHT = WIDTH - _LEFT - _RIGHT, HEIGHT - _TOP - _BOTTOM
_MAX_X_LABELS = 12
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@dataclass(frozen=True, slots=True)
class ChartSeries:
    """One stacked series: its label, its colour, the labels of the timeline folded into it and
    their spend over the whole timeline."""

    label: str
    colour: str
    members: tuple[str, ...]
    usd: float


def format_usd(value: float) -> str:
    """USD for people: cents from $1 up, with thousands separators; three significant digits
    below $1 (up to six decimals), so that a small spend never reads as $0.00."""
    if value == 0:
        return "$0.00"
    sign = "-" if value < 0 else ""
    magnitude = abs(value)
    if magnitude >= 1:
        return f"{sign}${magnitude:,.2f}"
    decimals = min(6, max(2, 2 - math.floor(math.log10(magnitude))))
    return f"{sign}${magnitude:.{decimals}f}"


def chart_series(timeline: Mapping[datetime, Mapping[str, float]]) -> list[ChartSeries]:
    """The series of ``timeline``, largest total spend first (ties by label), each with its colour;
    beyond the palette's size the smallest are folded into one grey :data:`OTHER` series."""
    totals: dict[str, float] = {}
    for values in timeline.values():
        for label, usd in values.items():
            totals[label] = totals.get(label, 0.0) + usd
    ordered = sorted(totals, key=lambda label: (-totals[label], label))
    if len(ordered) <= len(PALETTE):
        return [ChartSeries(label, PALETTE[i], (label,), totals[label]) for i, label in enumerate(ordered)]
    kept, folded = ordered[: len(PALETTE) - 1], ordered[len(PALETTE) - 1 :]
    series = [ChartSeries(label, PALETTE[i], (label,), totals[label]) for i, label in enumerate(kept)]
    series.append(ChartSeries(OTHER, OTHER_COLOUR, tuple(folded), sum(totals[label] for label in folded)))
    return series


def _nice_step(maximum: float, intervals: int = 4) -> float:
    """A round tick interval (1, 2, 2.5 or 5 times a power of ten) giving about ``intervals`` ticks."""
    raw = maximum / intervals
    power = 10.0 ** math.floor(math.log10(raw))
    for factor in (1.0, 2.0, 2.5, 5.0, 10.0):
        if raw <= factor * power * (1 + 1e-9):
            return factor * power
    return 10 * power


def _tick_label(value: float, step: float) -> str:
    decimals = 0
    while decimals < 6 and abs(step * 10**decimals - round(step * 10**decimals)) > 1e-9:
        decimals += 1
    return f"${value:,.{decimals}f}"


def _bucket_label(moment: datetime, step: timedelta, first: bool) -> str:
    day = f"{_MONTHS[moment.month - 1]} {moment.day}"
    if step >= timedelta(days=1):
        return day
    hour = f"{moment:%H:%M}"
    return f"{day} {hour}" if first or (moment.hour == 0 and moment.minute == 0) else hour


def _bucket_name(moment: datetime, step: timedelta) -> str:
    """The bucket as tooltips name it: a date, or a date and an hour range (UTC)."""
    if step >= timedelta(days=1):
        return f"{moment:%Y-%m-%d}"
    return f"{moment:%Y-%m-%d %H:%M}–{moment + step:%H:%M} UTC"


def _num(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


def stacked_bars_svg(
    timeline: Mapping[datetime, Mapping[str, float]],
    series: Sequence[ChartSeries],
    *,
    step: timedelta,
    title: str,
) -> str:
    """The chart as an ``<svg id="spend-chart">`` element (HTML-embeddable: no XML declaration or
    namespace URL). Segments of zero or negative USD are not drawn; a timeline without spend
    shows its empty axis and a note instead of bars."""
    buckets = sorted(timeline)
    maximum = max((sum(v for v in timeline[b].values() if v > 0) for b in buckets), default=0.0)
    step_usd = _nice_step(maximum) if maximum > 0 else 1.0
    top = step_usd * math.ceil(maximum / step_usd - 1e-9) if maximum > 0 else 1.0
    scale = PLOT_HEIGHT / top
    baseline = _TOP + PLOT_HEIGHT
    parts = [
        f'<svg id="spend-chart" class="chart" role="img" aria-labelledby="spend-chart-title" '
        f'width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" data-plot-height="{PLOT_HEIGHT}" '
        f'data-axis-max-usd="{top!r}">',
        f'<title id="spend-chart-title">{escape(title)}</title>',
        f'<rect class="plot-area" x="{_LEFT}" y="{_TOP}" width="{PLOT_WIDTH}" height="{PLOT_HEIGHT}" '
        'fill="#ffffff"/>',
    ]

    ticks = [i * step_usd for i in range(round(top / step_usd) + 1)] if maximum > 0 else [0.0]
    for value in ticks:
        tick_y = _num(baseline - value * scale)
        parts.append(
            f'<line class="grid" x1="{_LEFT}" x2="{_LEFT + PLOT_WIDTH}" y1="{tick_y}" y2="{tick_y}" '
            'stroke="#e3e3e3"/>'
            f'<text class="y-label" x="{_LEFT - 8}" y="{tick_y}" text-anchor="end" '
            'dominant-baseline="middle">'
            f"{escape(_tick_label(value, step_usd))}</text>"
        )
    parts.append(
        f'<text class="axis-title" transform="translate(16 {_TOP + PLOT_HEIGHT / 2:.0f}) rotate(-90)" '
        'text-anchor="middle">Spend (USD)</text>'
    )

    slot = PLOT_WIDTH / max(len(buckets), 1)
    bar_width = max(1.0, slot * 0.72)
    label_every = max(1, math.ceil(len(buckets) / _MAX_X_LABELS))
    for index, bucket in enumerate(buckets):
        values = timeline[bucket]
        x = _LEFT + index * slot + (slot - bar_width) / 2
        total = sum(v for v in values.values() if v > 0)
        name = _bucket_name(bucket, step)
        parts.append(
            f'<g class="bucket" data-bucket="{bucket.isoformat()}" data-usd="{total!r}">'
            f"<title>{escape(name)}: {escape(format_usd(total))} in all</title>"
        )
        y = float(baseline)
        for chart in series:
            usd = sum(values.get(member, 0.0) for member in chart.members)
            if usd <= 0:
                continue
            height = usd * scale
            y -= height
            share = usd / total
            parts.append(
                f'<rect class="bar" x="{_num(x)}" y="{_num(y)}" width="{_num(bar_width)}" '
                f'height="{_num(height)}" fill="{chart.colour}" shape-rendering="crispEdges" '
                f'data-series="{escape(chart.label)}" data-bucket="{bucket.isoformat()}" data-usd="{usd!r}">'
                f"<title>{escape(chart.label)} · {escape(name)}: {escape(format_usd(usd))} "
                f"({share:.0%} of the {'day' if step >= timedelta(days=1) else 'hour'})</title></rect>"
            )
        parts.append("</g>")
        if index % label_every == 0:
            label = _bucket_label(bucket, step, first=index == 0)
            parts.append(
                f'<text class="x-label" x="{_num(x + bar_width / 2)}" y="{baseline + 18}" '
                f'text-anchor="middle">{escape(label)}</text>'
            )
    unit = "Day" if step >= timedelta(days=1) else "Hour"
    parts.append(
        f'<text class="axis-title" x="{_LEFT + PLOT_WIDTH / 2:.0f}" y="{HEIGHT - 8}" '
        f'text-anchor="middle">{unit} (UTC)</text>'
    )
    parts.append(
        f'<line class="axis" x1="{_LEFT}" x2="{_LEFT + PLOT_WIDTH}" y1="{baseline}" y2="{baseline}" '
        'stroke="#555"/>'
    )
    if maximum <= 0:
        parts.append(
            f'<text class="no-spend" x="{_LEFT + PLOT_WIDTH / 2:.0f}" y="{_TOP + PLOT_HEIGHT / 2:.0f}" '
            'text-anchor="middle">No recorded spend in this period</text>'
        )
    parts.append("</svg>")
    return "\n".join(parts)
