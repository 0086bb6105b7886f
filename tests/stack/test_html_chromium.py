"""The HTML report in a real headless Chromium with its network blocked: the page fetches nothing,
the DOM the browser builds holds the report's numbers, and the screenshot shows the chart's bars
at heights proportional to their spend.

Chromium runs once per command (``--dump-dom``, ``--screenshot``) in its own session and profile,
with every connection sent to a dead proxy and every host name unresolvable; it is stopped by its
process group (our own) if it outlives its command. The screenshot is copied to
OTEL_TOKENS_SCREENSHOT_DIR when that is set (for the README).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import struct
import subprocess
import time
import zlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest
from otel_tokens_cli._html import group_label, render_html
from otel_tokens_cli._svg_chart import PALETTE, chart_series, format_usd

from ..cli.test_html import PageReader, sample_report, text

# Read at import: the suite's autouse fixture clears OTEL_TOKENS_* variables before every test.
SCREENSHOT_DIR = os.environ.get("OTEL_TOKENS_SCREENSHOT_DIR", "")
WINDOW = (1280, 1400)

FLAGS = (
    "--headless",
    # The sandbox needs user namespaces or a setuid helper, which containers and root lack; the page
    # is our own and nothing can be fetched, so running unsandboxed here exposes nothing.
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-default-apps",
    "--disable-extensions",
    "--disable-sync",
    # No network: every request goes to a proxy on the discard port, where nothing listens, and no
    # host name resolves should a request bypass the proxy.
    "--proxy-server=http://127.0.0.1:9",
    "--host-resolver-rules=MAP * ~NOTFOUND",
    # Pixels as the page specifies them: no scaling, no colour management, no scrollbars.
    "--force-device-scale-factor=1",
    "--force-color-profile=srgb",
    "--hide-scrollbars",
    f"--window-size={WINDOW[0]},{WINDOW[1]}",
    # Lets a control page's fetch settle (and fail) before the DOM is dumped, and has every tile
    # painted before the screenshot (without it a screenshot once lacked the page's lower part).
    "--virtual-time-budget=5000",
    "--run-all-compositor-stages-before-draw",
)


def run_chromium(binary: str, workdir: Path, *args: str, timeout: float = 90.0) -> str:
    """Run one headless Chromium command in a fresh profile under ``workdir`` and return its stdout;
    its process group (ours alone: a new session) is killed if the browser or a child lingers."""
    workdir.mkdir(parents=True, exist_ok=True)
    profile = workdir / f"profile-{time.monotonic_ns()}"
    with (workdir / "chromium.log").open("ab") as log:
        process = subprocess.Popen(
            [binary, *FLAGS, f"--user-data-dir={profile}", *args],
            stdout=subprocess.PIPE,
            stderr=log,
            start_new_session=True,
        )
        try:
            stdout, _ = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
            pytest.fail(f"chromium did not finish in {timeout:.0f}s: {' '.join(args)}")
        finally:
            _stop_group(process.pid)
    assert process.returncode == 0, (workdir / "chromium.log").read_text(errors="replace")[-4000:]
    return stdout.decode()


def _stop_group(pgid: int) -> None:
    """Kill what is left of our Chromium's process group (zygotes, renderers) after a grace period."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)


def page_requests(net_log: Path) -> list[tuple[str, int]]:
    """(URL, net error) of each request that a page opened from file:// made, from Chromium's net
    log; the browser's own background requests (other isolation keys) are left out."""
    log = json.loads(net_log.read_text())
    names = {number: name for name, number in log["constants"]["logEventTypes"].items()}
    urls: dict[int, str] = {}
    errors: dict[int, int] = {}
    for event in log["events"]:
        params = event.get("params", {})
        if names.get(event["type"]) != "URL_REQUEST_START_JOB":
            continue
        source = event["source"]["id"]
        if "url" in params and params.get("network_isolation_key", "").startswith("file://"):
            urls[source] = params["url"]
        if "net_error" in params:
            errors[source] = params["net_error"]
    return [(url, errors.get(source, 0)) for source, url in urls.items()]


# A small PNG reader (8-bit RGB or RGBA, not interlaced: what Chromium writes), so the test needs
# no imaging library.


@dataclass(frozen=True)
class Image:
    width: int
    height: int
    rows: list[bytes]
    channels: int


def read_png(path: Path) -> Image:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    position, chunks, header = 8, [], b""
    while position < len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind = data[position + 4 : position + 8]
        body = data[position + 8 : position + 8 + length]
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            chunks.append(body)
        position += 12 + length
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", header)
    assert depth == 8 and colour in (2, 6) and interlace == 0, (depth, colour, interlace)
    channels = 3 if colour == 2 else 4
    raw = zlib.decompress(b"".join(chunks))
    stride = width * channels
    rows: list[bytes] = []
    previous = bytearray(stride)
    for y in range(height):
        offset = y * (stride + 1)
        kind, line = raw[offset], bytearray(raw[offset + 1 : offset + 1 + stride])
        if kind == 1:
            for i in range(channels, stride):
                line[i] = (line[i] + line[i - channels]) & 0xFF
        elif kind == 2:
            line = bytearray((a + b) & 0xFF for a, b in zip(line, previous, strict=True))
        elif kind == 3:
            for i in range(stride):
                left = line[i - channels] if i >= channels else 0
                line[i] = (line[i] + ((left + previous[i]) >> 1)) & 0xFF
        elif kind == 4:
            for i in range(stride):
                a = line[i - channels] if i >= channels else 0
                b = previous[i]
                c = previous[i - channels] if i >= channels else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
        rows.append(bytes(line))
        previous = line
    return Image(width, height, rows, channels)


def hex_rgb(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


def bar_spans(image: Image, colour: tuple[int, int, int], min_width: int = 20) -> Counter[tuple[int, int]]:
    """Horizontal runs of exactly ``colour`` at least ``min_width`` pixels wide, as (first x, width)
    -> the number of rows that have it: for bars, each bar's pixel height (the legend's and the
    table's 12-pixel swatches are too narrow to count)."""
    spans: Counter[tuple[int, int]] = Counter()
    pattern, step = bytes(colour), image.channels
    for row in image.rows:
        position = row.find(pattern)
        while position != -1:
            if position % step:
                position = row.find(pattern, position + 1)
                continue
            end = position
            while row[end : end + 3] == pattern:
                end += step
            if (end - position) // step >= min_width:
                spans[(position // step, (end - position) // step)] += 1
            position = row.find(pattern, end)
    return spans


@dataclass(frozen=True)
class Rendered:
    report_html: str
    dom: str
    requests: list[tuple[str, int]]
    screenshot: Path


@pytest.fixture(scope="module")
def rendered(chromium_bin, tmp_path_factory) -> Rendered:
    """The sample report's page as Chromium loads it: its DOM, its requests and a screenshot."""
    workdir = tmp_path_factory.mktemp("chromium")
    page = workdir / "report.html"
    report_html = render_html(sample_report(), title="LLM spend, week 23", source="ledger.jsonl")
    page.write_text(report_html, encoding="utf-8")
    net_log = workdir / "net-log.json"
    dom = run_chromium(chromium_bin, workdir, f"--log-net-log={net_log}", "--dump-dom", page.as_uri())
    screenshot = workdir / "report-html.png"
    run_chromium(chromium_bin, workdir, f"--screenshot={screenshot}", page.as_uri())
    if SCREENSHOT_DIR:
        Path(SCREENSHOT_DIR).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(screenshot, Path(SCREENSHOT_DIR) / screenshot.name)
    return Rendered(report_html, dom, page_requests(net_log), screenshot)


def test_the_network_is_blocked(chromium_bin, tmp_path):
    """The harness itself: a page that does fetch gets an error, and the net log shows its request."""
    page = tmp_path / "fetch.html"
    page.write_text(
        '<!DOCTYPE html><p id="result">pending</p><script>fetch("http://blocked.invalid/").then('
        '() => { result.textContent = "fetched" }, () => { result.textContent = "blocked" })</script>'
    )
    net_log = tmp_path / "net-log.json"
    dom = run_chromium(chromium_bin, tmp_path, f"--log-net-log={net_log}", "--dump-dom", page.as_uri())
    assert text(PageReader(dom).by_id("result")) == "blocked"
    [(url, error)] = page_requests(net_log)
    assert url == "http://blocked.invalid/" and error < 0


def test_the_page_makes_no_request(rendered):
    assert rendered.requests == []
    assert PageReader(rendered.dom).by_class("bar", "rect"), "the browser did not build the chart"


def test_the_rendered_numbers_are_the_reports(rendered):
    report = sample_report()
    dom = PageReader(rendered.dom)

    total = dom.by_id("total-cost")
    assert float(total.attrs["data-usd"]) == report.totals.cost
    assert text(total) == format_usd(report.totals.cost) == "$38.88"
    assert text(dom.by_id("total-calls")) == f"{report.totals.requests:,}"
    rows = dom.by_class("group", "tr")
    assert [row.attrs["data-key"] for row in rows] == [group_label(group.key) for group in report.groups]
    for row, group in zip(rows, report.groups, strict=True):
        assert float(row.attrs["data-usd"]) == group.totals.cost
        [cost] = [cell for cell in row.children if "cost" in cell.attrs.get("class", "").split()]
        assert text(cost) == format_usd(group.totals.cost)
    bars = dom.by_class("bar", "rect")
    assert sum(float(bar.attrs["data-usd"]) for bar in bars) == pytest.approx(report.totals.cost)
    assert [element.tag for element in dom.elements if element.tag == "script"] == []


def test_the_screenshot_shows_the_bars(rendered):
    """Each series' colour fills bars whose pixel heights are the SVG's, so proportional to spend."""
    report = sample_report()
    image = read_png(rendered.screenshot)
    assert (image.width, image.height) == WINDOW
    svg_bars = PageReader(rendered.report_html).by_class("bar", "rect")
    series = chart_series(report.timeline)
    assert [chart.colour for chart in series] == list(PALETTE[: len(series)])

    for chart in series:
        expected = sorted(
            (float(bar.attrs["x"]), float(bar.attrs["width"]), float(bar.attrs["height"]))
            for bar in svg_bars
            if bar.attrs["data-series"] == chart.label
        )
        drawn = sorted(bar_spans(image, hex_rgb(chart.colour)).items())
        assert len(drawn) == len(expected), (chart.label, drawn, expected)
        for ((_, width), rows), (_, svg_width, height) in zip(drawn, expected, strict=True):
            # The page may scale the chart to fit: the bar's drawn width gives the factor.
            scale = width / svg_width
            assert 0.9 < scale < 1.1, (chart.label, width, svg_width)
            assert abs(rows - height * scale) <= 1.5, (chart.label, rows, height, scale)
    # Bars of one bucket share their x span: the stacked segments sit on top of each other.
    platform = sorted(bar_spans(image, hex_rgb(series[0].colour)))
    search = sorted(bar_spans(image, hex_rgb(series[1].colour)))
    assert platform[0] == search[0]


def test_the_stylesheet_passes_the_pages_policy(rendered):
    """The page's Content-Security-Policy allows its own stylesheet (by hash): the background is
    the stylesheet's, not the browser's white."""
    image = read_png(rendered.screenshot)
    assert tuple(image.rows[4][4 * image.channels : 4 * image.channels + 3]) == hex_rgb("#f6f7f9")


def test_the_pages_policy_blocks_a_fetch(chromium_bin, rendered, tmp_path):
    """Should a reference ever slip into the page, its policy stops the request before the network."""
    page = tmp_path / "injected.html"
    page.write_text(rendered.report_html.replace("<main>", '<main><img src="http://blocked.invalid/x.png">'))
    net_log = tmp_path / "net-log.json"
    run_chromium(chromium_bin, tmp_path, f"--log-net-log={net_log}", "--dump-dom", page.as_uri())
    assert page_requests(net_log) == []
