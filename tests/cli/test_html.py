"""The HTML report page (otel_tokens_cli._html, _svg_chart): escaping, no external reference, the
numbers of the report, the chart's geometry, empty buckets and a period without spend.

``sample_report`` and ``PageReader`` are also used by tests/stack/test_html_chromium.py, which
reads the same numbers from the DOM a real Chromium renders.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser

import pytest
from otel_tokens_cli._aggregate import Report, build_report
from otel_tokens_cli._html import format_change, format_share, group_label, render_html
from otel_tokens_cli._records import Skips, TokenClass, UsageRecord
from otel_tokens_cli._svg_chart import OTHER, PALETTE, PLOT_HEIGHT, chart_series, format_usd

START = datetime(2025, 6, 1, tzinfo=UTC)
END = START + timedelta(days=7)
HOSTILE_TEAM = '<script>alert("team")</script>'
HOSTILE_USER = "\"><img src=http://evil.invalid/x.png onerror=alert(1)> ' onmouseover='alert(2)"


def record(
    day: float,
    cost: float,
    *,
    team: str | None = None,
    user: str | None = None,
    model: str = "gpt-4o",
    provider: str = "openai",
    requests: int = 1,
    unpriced: int = 0,
    estimated: int = 0,
    tokens: tuple[int, int] = (1000, 200),
) -> UsageRecord:
    """One record starting ``day`` days after :data:`START` (negative: the previous period)."""
    moment = START + timedelta(days=day)
    tags = tuple((key, value) for key, value in (("team", team), ("user", user)) if value is not None)
    return UsageRecord(
        start=moment,
        end=moment + timedelta(seconds=2),
        service="checkout",
        provider=provider,
        host="api.openai.com",
        model=model,
        operation="chat",
        tags=tags,
        requests=requests,
        tokens={TokenClass.INPUT: tokens[0], TokenClass.OUTPUT: tokens[1]},
        cost=cost,
        unpriced_requests=unpriced,
        estimated_requests=estimated,
    )


def sample_records() -> tuple[list[UsageRecord], list[UsageRecord]]:
    """Costs that are exact in binary, so sums are exact: three teams over a week (day 3 empty),
    an untagged call, an unpriced model and estimated calls; and a previous week."""
    current = [
        record(0.1, 12.5, team="platform", user="alice"),
        record(0.2, 3.25, team="search", user="bob"),
        record(1.5, 8.0, team="platform", user="alice", tokens=(5000, 900)),
        record(1.6, 1.75, team="support", user="carol"),
        record(2.3, 6.5, team="search", user="bob", requests=4),
        record(2.4, 2.25, user="dave"),
        record(4.0, 4.0, team="platform", user="erin"),
        record(4.5, 0.0, team="support", model="mystery-1", provider="acme", requests=3, unpriced=3),
        record(5.2, 0.5, team="search", user="bob", requests=2, estimated=2),
        record(6.9, 0.125, team="platform"),
        record(7.5, 99.0, team="platform"),  # after the period: ignored
    ]
    previous = [
        record(-6.0, 10.0, team="platform", user="alice"),
        record(-3.0, 5.0, team="search", user="bob"),
    ]
    return current, previous


def sample_report() -> Report:
    current, previous = sample_records()
    skipped = Skips()
    skipped.add("malformed JSON", "ledger.jsonl:17", 2)
    return build_report(current, start=START, end=END, by=["team"], previous=previous, skipped=skipped)


@dataclass
class Element:
    tag: str
    attrs: dict[str, str]
    text: str = ""
    children: list[Element] = field(default_factory=list)


class PageReader(HTMLParser):
    """Every element of a page with its attributes and its text content (descendants' included),
    by id and by class."""

    VOID = frozenset({"meta", "br", "img", "input", "link", "hr", "area", "base", "col", "source", "wbr"})

    def __init__(self, page: str) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[Element] = []
        self._open: list[Element] = []
        self.feed(page)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, {name: value or "" for name, value in attrs})
        if self._open:
            self._open[-1].children.append(element)
        self.elements.append(element)
        if tag not in self.VOID:
            self._open.append(element)

    def handle_endtag(self, tag: str) -> None:
        for index in range(len(self._open) - 1, -1, -1):
            if self._open[index].tag == tag:
                del self._open[index:]
                return

    def handle_data(self, data: str) -> None:
        for element in self._open:
            element.text += data

    def by_id(self, element_id: str) -> Element:
        found = [element for element in self.elements if element.attrs.get("id") == element_id]
        assert len(found) == 1, f"{len(found)} elements with id {element_id!r}"
        return found[0]

    def by_class(self, name: str, tag: str | None = None) -> list[Element]:
        return [
            element
            for element in self.elements
            if name in element.attrs.get("class", "").split() and (tag is None or element.tag == tag)
        ]


def text(element: Element) -> str:
    return " ".join(element.text.split())


def test_usd_formatting():
    assert format_usd(0) == "$0.00"
    assert format_usd(1234.5) == "$1,234.50"
    assert format_usd(0.5) == "$0.500"
    assert format_usd(0.0123) == "$0.0123"
    assert format_usd(0.00003) == "$0.000030"
    assert format_usd(-2) == "-$2.00"
    assert format_change(0.25) == "+25.0%"
    assert format_change(-0.5) == "−50.0%"
    assert format_change(None) == format_share(None) == "n/a"


def test_headline_numbers_equal_the_report():
    report = sample_report()
    page = PageReader(render_html(report, title="Spend", source="ledger.jsonl"))

    total = page.by_id("total-cost")
    assert float(total.attrs["data-usd"]) == report.totals.cost == 38.875
    assert text(total) == "$38.88"
    calls = page.by_id("total-calls")
    assert int(calls.attrs["data-count"]) == report.totals.requests == 16
    per_call = page.by_id("cost-per-call")
    assert report.totals.cost_per_call is not None
    assert float(per_call.attrs["data-usd"]) == report.totals.cost_per_call == 38.875 / 13
    assert text(per_call) == format_usd(38.875 / 13)
    assert report.previous_totals is not None
    assert float(page.by_id("previous-cost").attrs["data-usd"]) == report.previous_totals.cost == 15.0
    change = page.by_id("cost-change")
    assert float(change.attrs["data-change"]) == 38.875 / 15 - 1
    assert text(change) == "+159.2%"
    assert "up" in change.attrs["class"].split()
    assert int(page.by_id("unpriced-calls").attrs["data-count"]) == 3

    tokens = {row.attrs["data-class"]: int(row.attrs["data-count"]) for row in page.by_class("tokens", "tr")}
    assert tokens == {"input": report.totals.tokens[TokenClass.INPUT], "output": report.totals.output_tokens}


def test_group_rows_equal_the_report():
    report = sample_report()
    page = PageReader(render_html(report, title="Spend", source="ledger.jsonl"))

    rows = page.by_class("group", "tr")
    assert [row.attrs["data-key"] for row in rows] == [group_label(group.key) for group in report.groups]
    assert [row.attrs["data-key"] for row in rows] == ["platform", "search", "(none)", "support"]
    for row, group in zip(rows, report.groups, strict=True):
        assert float(row.attrs["data-usd"]) == group.totals.cost
        cost = [cell for cell in row.children if "cost" in cell.attrs.get("class", "").split()]
        assert [text(cell) for cell in cost] == [format_usd(group.totals.cost)]
        previous = group.previous.cost if group.previous is not None else 0.0
        assert float(row.attrs["data-previous-usd"]) == previous
        changes = [cell for cell in row.children if "change" in cell.attrs.get("class", "").split()]
        assert [text(cell) for cell in changes] == [format_change(group.change)]
    by_key = {row.attrs["data-key"]: row for row in rows}
    assert float(by_key["platform"].attrs["data-usd"]) == 24.625
    assert text(by_key["support"].children[-1]) == "n/a"  # no previous spend to compare with


def test_allocation_unpriced_estimated_top_and_skipped():
    report = sample_report()
    page = PageReader(render_html(report, title="Spend", source="ledger.jsonl"))

    assert report.allocation_accuracy is not None
    assert float(page.by_id("allocation-accuracy").attrs["data-share"]) == report.allocation_accuracy
    assert text(page.by_id("allocation-accuracy")) == format_share(1 - 2.25 / 38.875)
    assert float(page.by_id("unallocated-cost").attrs["data-usd"]) == 2.25
    assert float(page.by_id("allocated-cost").attrs["data-usd"]) == 36.625

    unpriced = [
        (row.attrs["data-provider"], row.attrs["data-model"], int(row.attrs["data-calls"]))
        for row in page.by_class("unpriced", "tr")
    ]
    assert unpriced == report.unpriced_models == [("acme", "mystery-1", 3)]

    estimated = page.by_id("estimated-share")
    assert float(estimated.attrs["data-share"]) == report.estimated_share == 2 / 16
    assert text(estimated) == "12.5%"

    top = [(row.attrs["data-key"], float(row.attrs["data-usd"])) for row in page.by_class("top", "tr")]
    assert top == [(group.key[0], group.totals.cost) for group in report.top_spenders]
    assert top[0] == ("alice", 20.5)

    assert page.by_id("skipped").attrs["data-count"] == "2"
    assert [text(item) for item in page.by_class("skip")] == [
        "2 skipped: malformed JSON (first at ledger.jsonl:17)"
    ]


def test_hostile_values_are_escaped():
    current, previous = sample_records()
    current += [
        record(1.0, 1.0, team=HOSTILE_TEAM, user=HOSTILE_USER, model="</title><script>x()</script>"),
        record(1.0, 0.0, team=HOSTILE_TEAM, provider="<b>p</b>", model="m&m", unpriced=1),
    ]
    report = build_report(current, start=START, end=END, by=["team"], previous=previous)
    title = "Q2 <spend> & \"cost\" 'review'"
    html = render_html(report, title=title, source="http://prom:9090/?a=1&b=<x>")
    page = PageReader(html)

    assert [element.tag for element in page.elements if element.tag in ("script", "img", "b", "iframe")] == []
    assert not any(name.startswith("on") for element in page.elements for name in element.attrs)
    assert "<script>" not in html and "<img" not in html
    assert text(page.by_id("report-title")) == title
    # The values arrive intact as text and attribute values after the browser's unescaping.
    assert HOSTILE_TEAM in [row.attrs["data-key"] for row in page.by_class("group", "tr")]
    assert HOSTILE_USER in [row.attrs["data-key"] for row in page.by_class("top", "tr")]
    assert HOSTILE_TEAM in {bar.attrs["data-series"] for bar in page.by_class("bar", "rect")}
    assert ("<b>p</b>", "m&m") in [
        (row.attrs["data-provider"], row.attrs["data-model"]) for row in page.by_class("unpriced", "tr")
    ]
    assert "Source: http://prom:9090/?a=1&b=<x>" in text(page.by_class("meta")[0])


def _references(html: str) -> list[str]:
    """Everything in a page that could make a browser fetch: src/href/xlink:href/action/poster/
    srcset attributes, CSS url() and @import, and any absolute http(s) or protocol-relative URL."""
    found = re.findall(r"""\b(?:src|href|action|poster|srcset|data|background)\s*=""", html, re.IGNORECASE)
    found += re.findall(r"url\s*\(|@import", html, re.IGNORECASE)
    found += re.findall(r"(?:https?:)?//[\w.-]+\.[a-z]{2,}", html, re.IGNORECASE)
    return found


def test_no_external_reference():
    html = render_html(sample_report(), title="Spend", source="ledger.jsonl")
    assert _references(html) == []
    assert "http://" not in html and "https://" not in html
    page = PageReader(html)
    assert [
        element.tag for element in page.elements if element.tag in ("script", "link", "img", "iframe")
    ] == []
    policy = [
        e.attrs["content"] for e in page.elements if e.attrs.get("http-equiv") == "Content-Security-Policy"
    ]
    assert len(policy) == 1 and policy[0].startswith("default-src 'none'; style-src 'sha256-")


def test_hostile_values_make_no_reference():
    current, _ = sample_records()
    current.append(record(1.0, 1.0, team="x' src='http://evil.invalid/a", user=HOSTILE_USER))
    html = render_html(build_report(current, start=START, end=END, by=["team"]), title="T", source="s")
    page = PageReader(html)
    assert not any(name in element.attrs for element in page.elements for name in ("src", "href", "srcset"))


def _bars(page: PageReader) -> list[Element]:
    return page.by_class("bar", "rect")


def test_chart_bars_are_proportional_to_spend():
    report = sample_report()
    page = PageReader(render_html(report, title="Spend", source="ledger.jsonl"))
    chart = page.by_id("spend-chart")
    axis_max = float(chart.attrs["data-axis-max-usd"])
    bars = _bars(page)

    expected = {
        (bucket.isoformat(), label): usd
        for bucket, values in report.timeline.items()
        for label, usd in values.items()
        if usd > 0
    }
    drawn = {
        (bar.attrs["data-bucket"], bar.attrs["data-series"]): float(bar.attrs["data-usd"]) for bar in bars
    }
    assert drawn == expected
    for bar in bars:
        height = float(bar.attrs["height"])
        assert height == pytest.approx(float(bar.attrs["data-usd"]) / axis_max * PLOT_HEIGHT, abs=0.01)
    # The tallest bar reaches within one tick of the top of a round axis.
    tallest = max(sum(values.values()) for values in report.timeline.values())
    assert tallest <= axis_max < tallest * 1.5
    assert axis_max == 20.0  # the tallest bar, day 1, is $15.75

    # Segments stack: within a bucket each starts where the one below it ends, largest series first.
    order = [series.label for series in chart_series(report.timeline)]
    for bucket in report.timeline:
        segments = [bar for bar in bars if bar.attrs["data-bucket"] == bucket.isoformat()]
        assert [bar.attrs["data-series"] for bar in segments] == [
            s for s in order if any(bar.attrs["data-series"] == s for bar in segments)
        ]
        bottom = 16 + PLOT_HEIGHT
        for bar in segments:
            y, height = float(bar.attrs["y"]), float(bar.attrs["height"])
            assert y + height == pytest.approx(bottom, abs=0.02)
            bottom = y


def test_chart_tooltips_legend_and_axes():
    report = sample_report()
    page = PageReader(render_html(report, title="Spend", source="ledger.jsonl"))
    first = next(bar for bar in _bars(page) if bar.attrs["data-bucket"] == START.isoformat())
    assert text(first.children[0]) == "platform · 2025-06-01: $12.50 (79% of the day)"

    legend = {
        item.attrs["data-series"]: float(item.attrs["data-usd"])
        for item in page.by_class("legend")[0].children
    }
    assert legend == {"platform": 24.625, "search": 10.25, "(none)": 2.25, "support": 1.75}
    y_labels = [text(label) for label in page.by_class("y-label")]
    assert y_labels == ["$0", "$5", "$10", "$15", "$20"]
    x_labels = [text(label) for label in page.by_class("x-label")]
    assert x_labels == ["Jun 1", "Jun 2", "Jun 3", "Jun 4", "Jun 5", "Jun 6", "Jun 7"]
    # Each group row has the colour of its series in the chart.
    colours = {series.label: series.colour for series in chart_series(report.timeline)}
    for row in page.by_class("group", "tr"):
        swatch = row.children[0].children[0].children[0]
        assert swatch.attrs["fill"] == colours[row.attrs["data-key"]]


def test_empty_buckets_are_drawn_as_gaps():
    report = sample_report()
    page = PageReader(render_html(report, title="Spend", source="ledger.jsonl"))
    buckets = page.by_class("bucket", "g")
    assert [bucket.attrs["data-bucket"] for bucket in buckets] == [
        moment.isoformat() for moment in report.timeline
    ]
    empty = [
        bucket for bucket in buckets if bucket.attrs["data-bucket"] == (START + timedelta(days=3)).isoformat()
    ]
    assert len(empty) == 1
    assert float(empty[0].attrs["data-usd"]) == 0.0
    assert [child.tag for child in empty[0].children] == ["title"]  # no segment
    # The unpriced calls of day 5 add no segment of $0 to the chart.
    assert not [bar for bar in _bars(page) if float(bar.attrs["data-usd"]) <= 0]


def test_a_report_without_spend():
    report = build_report([], start=START, end=END, by=["team"], previous=[])
    html = render_html(report, title="Spend", source="ledger.jsonl")
    page = PageReader(html)
    assert float(page.by_id("total-cost").attrs["data-usd"]) == 0.0
    assert text(page.by_id("total-cost")) == "$0.00"
    assert text(page.by_id("cost-per-call")) == "n/a"
    assert text(page.by_id("allocation-accuracy")) == "n/a"
    assert text(page.by_id("cost-change")) == "n/a"
    assert text(page.by_id("estimated-share")) == "n/a"
    assert _bars(page) == []
    assert len(page.by_class("bucket", "g")) == 7
    assert text(page.by_class("no-spend")[0]) == "No recorded spend in this period"
    assert page.by_class("group", "tr") == []
    assert "No calls in this period" in text(page.by_id("groups-table"))


def test_a_report_with_no_bucket_and_no_grouping():
    report = build_report([], start=START, end=START, by=[])
    page = PageReader(render_html(report, title="Spend", source="ledger.jsonl"))
    assert page.by_class("bucket", "g") == []
    assert page.by_class("no-spend")


def test_hourly_axis_and_many_series_fold_into_other():
    end = START + timedelta(days=1)
    teams = [f"team-{index:02d}" for index in range(12)]
    records = [
        record(hour / 24, float(index + 1), team=team) for index, team in enumerate(teams) for hour in (1, 13)
    ]
    report = build_report(records, start=START, end=end, by=["team"])
    page = PageReader(render_html(report, title="Spend", source="ledger.jsonl"))

    series = chart_series(report.timeline)
    assert len(series) == len(PALETTE)
    assert series[-1].label == OTHER and len(series[-1].members) == 12 - (len(PALETTE) - 1)
    other = [bar for bar in _bars(page) if bar.attrs["data-series"] == OTHER]
    assert [float(bar.attrs["data-usd"]) for bar in other] == [10.0, 10.0]  # 1+2+3+4 in each of two hours
    x_labels = [text(label) for label in page.by_class("x-label")]
    assert x_labels[0] == "Jun 1 00:00" and x_labels[1] == "02:00" and len(x_labels) == 12
    total = sum(float(bar.attrs["data-usd"]) for bar in _bars(page))
    assert math.isclose(total, report.totals.cost)


@pytest.mark.parametrize(
    ("costs", "labels"),
    [
        ((0.0003, 0.00012), ["$0.0000", "$0.0001", "$0.0002", "$0.0003"]),
        ((0.9, 0.1), ["$0.00", "$0.25", "$0.50", "$0.75", "$1.00"]),
        ((12345.0, 3000.0), ["$0", "$5,000", "$10,000", "$15,000"]),
    ],
)
def test_the_usd_axis_has_round_ticks_at_any_scale(costs, labels):
    records = [record(day, cost, team="a") for day, cost in enumerate(costs)]
    page = PageReader(
        render_html(build_report(records, start=START, end=END, by=["team"]), title="T", source="s")
    )
    assert [text(label) for label in page.by_class("y-label")] == labels
