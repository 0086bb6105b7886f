"""``read_prometheus``: exact counter differencing (resets, first samples, boundaries, adjacent
ranges), the join of series into records, bounded chunks, and every way the API can fail, against
a small fake Prometheus API on 127.0.0.1 that answers the queries the reader sends from series
held in memory (as Prometheus 2.x does: range selectors closed at both ends). The same reader
against a real Prometheus: tests/stack/test_prometheus_source.py."""

from __future__ import annotations

import base64
import contextlib
import gzip
import json
import random
import re
import socket
import threading
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from otel_tokens_cli import _prometheus_source as source
from otel_tokens_cli._counter_increases import counter_increase, increases_by_period
from otel_tokens_cli._prometheus_source import read_prometheus
from otel_tokens_cli._records import CostBasis, Skips, SourceError, TokenClass, UsageRecord

DAY = timedelta(days=1)
HOUR = timedelta(hours=1)
D0 = datetime(2026, 11, 2, tzinfo=UTC)


def ms(moment: datetime) -> int:
    return int((moment - datetime(1970, 1, 1, tzinfo=UTC)) / timedelta(milliseconds=1))


# -- the pure rule ----------------------------------------------------------------------------


def test_an_increase_is_the_difference_or_the_whole_value_after_a_reset_or_at_birth():
    assert counter_increase(10.0, 15.0) == 5.0
    assert counter_increase(10.0, 10.0) == 0.0
    assert counter_increase(10.0, 4.0) == 4.0  # reset: 4 since the restart
    assert counter_increase(None, 7.0) == 7.0  # born: started at 0


def test_increases_land_in_the_period_of_the_later_sample_start_inclusive_end_exclusive():
    samples = [
        (ms(D0), 12.0),  # exactly at the range start and a period start: day 0
        (ms(D0 + 12 * HOUR), 15.0),
        (ms(D0 + DAY) - 1, 16.0),  # the last millisecond of day 0
        (ms(D0 + DAY), 20.0),  # exactly at midnight: day 1
        (ms(D0 + 2 * DAY), 99.0),  # exactly at the range end: outside
    ]
    found = increases_by_period(samples, baseline=10.0, start=D0, end=D0 + 2 * DAY, period=DAY)
    assert found == {D0: 6.0, D0 + DAY: 4.0}


def test_resets_count_the_new_value_and_a_series_without_a_baseline_counts_its_first_value():
    samples = [(ms(D0 + i * HOUR), value) for i, value in enumerate([3.0, 5.0, 2.0, 2.0, 9.0, 1.0])]
    # born in the range: 3, then +2, reset to 2, +0, +7, reset to 1
    assert increases_by_period(samples, baseline=None, start=D0, end=D0 + DAY, period=DAY) == {D0: 15.0}
    # the same series with a value of 1 before the range: 2 instead of 3 for the first sample
    assert increases_by_period(samples, baseline=1.0, start=D0, end=D0 + DAY, period=DAY) == {D0: 14.0}
    # a baseline above the first value: the series was reset across the start
    assert increases_by_period(samples, baseline=50.0, start=D0, end=D0 + DAY, period=DAY) == {D0: 15.0}


def test_samples_before_the_range_are_not_counted_and_periods_are_epoch_aligned():
    samples = [
        (ms(D0 - HOUR), 5.0),
        (ms(D0 + 30 * timedelta(minutes=1)), 8.0),
        (ms(D0 + 90 * timedelta(minutes=1)), 9.0),
    ]
    found = increases_by_period(samples, baseline=None, start=D0, end=D0 + DAY, period=HOUR)
    # the sample before the range is ignored here (the reader gets it as the baseline instead)
    assert found == {D0: 8.0, D0 + HOUR: 1.0}


def test_nan_infinite_and_negative_values_are_skipped_and_counted():
    skips = Skips()
    samples = [(ms(D0) + i, v) for i, v in enumerate([1.0, float("nan"), 3.0, float("inf"), -2.0, 4.0])]
    found = increases_by_period(samples, baseline=0.0, start=D0, end=D0 + DAY, period=DAY, skips=skips)
    assert found == {D0: 4.0}
    assert skips.counts == {"NaN or infinite sample value": 2, "negative counter value": 1}


# -- a fake Prometheus API --------------------------------------------------------------------

Series = tuple[dict[str, str], list[tuple[int, str]]]


@dataclass
class FakePrometheus:
    """Answers ``SEL[Nms]`` and ``last_over_time(SEL[Nms])`` instant queries from ``series``."""

    series: list[Series] = field(default_factory=list)
    queries: list[tuple[str, int]] = field(default_factory=list)
    answers: list[int] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    gzip: bool = False

    def add(self, labels: dict[str, str], samples: list[tuple[datetime | int, float | str]]) -> None:
        points = [(at if isinstance(at, int) else ms(at), str(value)) for at, value in samples]
        self.series.append((labels, sorted(points)))

    def _matches(self, selector: str, labels: dict[str, str]) -> bool:
        match = re.fullmatch(r"([a-z_]*)\{?(.*?)\}?", selector)
        assert match is not None, selector
        name, matchers = match.groups()
        if name and labels.get("__name__") != name:
            return False
        for label, op, quoted in re.findall(r'(\w+)(=~|=)("(?:[^"\\]|\\.)*")', matchers):
            value = json.loads(quoted)
            actual = labels.get(label, "")
            if (op == "=" and actual != value) or (op == "=~" and not re.fullmatch(value, actual)):
                return False
        return True

    def answer(self, expression: str, at_ms: int) -> dict[str, Any]:
        self.queries.append((expression, at_ms))
        last = re.fullmatch(r"last_over_time\((.*)\[(\d+)ms\]\)", expression)
        raw = re.fullmatch(r"(.*)\[(\d+)ms\]", expression)
        match = last or raw
        assert match is not None, expression
        selector, length = match.group(1), int(match.group(2))
        result = []
        for labels, points in self.series:
            if not self._matches(selector, labels):
                continue
            window = [(t, v) for t, v in points if at_ms - length <= t <= at_ms]
            if not window:
                continue
            if last:
                result.append({"metric": labels, "value": [at_ms / 1000, window[-1][1]]})
            else:
                result.append({"metric": labels, "values": [[t / 1000, v] for t, v in window]})
        document: dict[str, Any] = {
            "status": "success",
            "data": {"resultType": "vector" if last else "matrix", "result": result},
        }
        if self.warnings:
            document["warnings"] = self.warnings
        return document


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:  # noqa: N802 - the base class's name
        self.server.behaviour(self)

    def log_message(self, *args: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, behaviour: Any) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.behaviour = behaviour


@contextlib.contextmanager
def serving(behaviour: Any) -> Iterator[str]:
    """A local HTTP server whose every GET calls ``behaviour(handler)``; yields its base URL."""
    server = _Server(behaviour)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def reply(
    handler: BaseHTTPRequestHandler, status: int, body: bytes, content_type: str, **headers: str
) -> None:
    handler.send_response(status)
    handler.send_header("Content-Type", content_type)
    handler.send_header("Content-Length", str(len(body)))
    for name, value in headers.items():
        handler.send_header(name.replace("_", "-"), value)
    handler.end_headers()
    handler.wfile.write(body)


@contextlib.contextmanager
def prometheus(fake: FakePrometheus) -> Iterator[str]:
    def behaviour(handler: BaseHTTPRequestHandler) -> None:
        url = urllib.parse.urlsplit(handler.path)
        assert url.path == "/api/v1/query", url.path
        params = dict(urllib.parse.parse_qsl(url.query))
        fake.headers.append(dict(handler.headers))
        seconds, _, millis = params["time"].partition(".")
        body = json.dumps(fake.answer(params["query"], int(seconds) * 1000 + int(millis or 0))).encode()
        fake.answers.append(len(body))
        if fake.gzip and "gzip" in handler.headers.get("Accept-Encoding", ""):
            reply(handler, 200, gzip.compress(body), "application/json", Content_Encoding="gzip")
        else:
            reply(handler, 200, body, "application/json")

    with serving(behaviour) as url:
        yield url


# -- series -> records ------------------------------------------------------------------------

KEY = {
    "job": "payments/checkout",
    "gen_ai_provider_name": "openai",
    "gen_ai_request_model": "gpt-4o",
    "gen_ai_response_model": "gpt-4o-2024-08-06",
    "server_address": "api.openai.com",
    "gen_ai_operation_name": "chat",
    "otel_tokens_tag_team": "search",
    "otel_tokens_tag_feature": "answers",
    "otel_scope_name": "otel_tokens_openai",
    "otel_scope_version": "0.1.0",
}


def call_series(
    fake: FakePrometheus, instance: str, at: datetime, scale: int, extra: dict[str, str] | None = None
) -> None:
    """One instance's series of ``scale`` calls, each of 100 input tokens (40 cache reads, 10
    cache writes), 20 output (5 reasoning), 0.25 USD, born just before ``at``."""
    base = {**KEY, "instance": instance, **(extra or {})}

    def put(name: str, value: float, **labels: str) -> None:
        fake.add({"__name__": name, **base, **labels}, [(at, value)])

    put(source.DURATION_COUNT, scale)
    put(source.COST_SUM, 0.25 * scale)
    put(source.COST_COUNT, scale)
    put(source.TOKEN_USAGE_SUM, 100 * scale, gen_ai_token_type="input")
    put(source.TOKEN_USAGE_SUM, 20 * scale, gen_ai_token_type="output")
    put(source.TOKEN_DETAIL, 40 * scale, otel_tokens_token_type="cache_read")
    put(source.TOKEN_DETAIL, 10 * scale, otel_tokens_token_type="cache_creation")
    put(source.TOKEN_DETAIL, 5 * scale, otel_tokens_token_type="reasoning")
    for le, count in (("16", 0), ("64", 0), ("256", scale), ("+Inf", scale)):
        put(source.TOKEN_USAGE_BUCKET, count, gen_ai_token_type="input", le=le)
        put(source.TOKEN_USAGE_BUCKET, count, gen_ai_token_type="output", le=le)


def test_series_join_into_one_record_per_period_and_label_set_summed_across_instances():
    fake = FakePrometheus()
    call_series(fake, "a", D0 + HOUR, 2)
    call_series(fake, "b", D0 + 2 * HOUR, 1, {"otel_tokens_model_approved": "true"})
    # a failed call (no response model) and an estimated, unpriced one of the same key
    failed = {k: v for k, v in KEY.items() if k != "gen_ai_response_model"}
    fake.add(
        {"__name__": source.DURATION_COUNT, **failed, "instance": "a", "error_type": "RateLimitError"},
        [(D0 + HOUR, 1)],
    )
    fake.add({"__name__": source.DURATION_COUNT, **KEY, "instance": "c"}, [(D0 + HOUR, 1)])
    fake.add(
        {"__name__": source.UNPRICED, **KEY, "instance": "c", "otel_tokens_usage_estimated": "true"},
        [(D0 + HOUR, 1)],
    )
    fake.add(
        {
            "__name__": source.TOKEN_USAGE_SUM,
            **KEY,
            "instance": "c",
            "gen_ai_token_type": "input",
            "otel_tokens_usage_estimated": "true",
        },
        [(D0 + HOUR, 30)],
    )
    for le in ("16", "64", "256", "+Inf"):  # cumulative: the call is in every bucket from 64 up
        fake.add(
            {
                "__name__": source.TOKEN_USAGE_BUCKET,
                **KEY,
                "instance": "c",
                "gen_ai_token_type": "input",
                "le": le,
                "otel_tokens_usage_estimated": "true",
            },
            [(D0 + HOUR, 0 if le == "16" else 1)],
        )
    with prometheus(fake) as url:
        records, skips = read_prometheus(url, D0, D0 + DAY)
    assert skips.counts == {}
    tags = (("feature", "answers"), ("team", "search"))
    common = dict(
        start=D0,
        end=D0 + DAY,
        service="checkout",
        provider="openai",
        host="api.openai.com",
        operation="chat",
        tags=tags,
    )
    assert records == [
        UsageRecord(
            **common,  # type: ignore[arg-type]
            model="gpt-4o",
            requests=1,
            tokens={},
            error_requests=1,
            cost_basis=CostBasis.APPORTIONED,
        ),
        UsageRecord(
            **common,  # type: ignore[arg-type]
            model="gpt-4o-2024-08-06",
            requests=4,
            tokens={
                TokenClass.INPUT: 180,
                TokenClass.CACHE_READ: 120,
                TokenClass.CACHE_WRITE_5M: 30,
                TokenClass.OUTPUT: 60,
            },
            reasoning_tokens=15,
            cost=0.75,
            class_costs={},
            cost_basis=CostBasis.APPORTIONED,
            price_source="",
            unpriced_requests=1,
            estimated_requests=1,
            error_requests=0,
            input_sizes=((64, 1), (256, 3)),
        ),
    ]


def test_service_is_the_whole_job_without_a_namespace_and_input_never_goes_negative():
    fake = FakePrometheus()
    labels = {
        "job": "worker",
        "gen_ai_provider_name": "anthropic",
        "gen_ai_request_model": "claude",
        "instance": "x",
    }
    fake.add({"__name__": source.TOKEN_USAGE_SUM, **labels, "gen_ai_token_type": "input"}, [(D0, 10)])
    fake.add({"__name__": source.TOKEN_DETAIL, **labels, "otel_tokens_token_type": "cache_read"}, [(D0, 30)])
    fake.add({"__name__": source.DURATION_COUNT, **labels}, [(D0, 1)])
    with prometheus(fake) as url:
        [record], _ = read_prometheus(url, D0, D0 + DAY)
    assert (record.service, record.model, record.tags) == ("worker", "claude", ())
    assert record.tokens == {TokenClass.CACHE_READ: 30}


def counter(fake: FakePrometheus, instance: str, samples: list[tuple[datetime | int, float | str]]) -> None:
    fake.add({"__name__": source.DURATION_COUNT, "job": "svc", "instance": instance}, samples)


def requests_by_period(records: list[UsageRecord]) -> dict[datetime, int]:
    found: dict[datetime, int] = {}
    for record in records:
        found[record.start] = found.get(record.start, 0) + record.requests
    return found


def test_the_value_before_the_range_is_the_baseline_and_a_series_born_inside_counts_whole():
    fake = FakePrometheus()
    counter(fake, "old", [(D0 - 2 * HOUR, 100), (D0 - timedelta(minutes=1), 110), (D0, 112), (D0 + DAY, 130)])
    counter(fake, "new", [(D0 + 3 * HOUR, 4), (D0 + 4 * HOUR, 6)])
    counter(fake, "reset", [(D0 - HOUR, 50), (D0 + HOUR, 55), (D0 + 2 * HOUR, 3), (D0 + DAY + HOUR, 10)])
    # last seen longer than the lookback before the range: counted as born (see DEFAULT_LOOKBACK)
    counter(fake, "stale", [(D0 - 7 * HOUR, 40), (D0 + HOUR, 45)])
    counter(fake, "gone", [(D0 - HOUR, 1000)])
    with prometheus(fake) as url:
        records, skips = read_prometheus(url, D0, D0 + 2 * DAY)
    assert skips.counts == {}
    # day 0: old 2, new 6, reset 5 + 3, stale 45; day 1: old 18, reset 7
    assert requests_by_period(records) == {D0: 61, D0 + DAY: 25}


def test_samples_on_period_and_range_boundaries_belong_to_the_later_period_and_never_to_two():
    fake = FakePrometheus()
    counter(
        fake,
        "a",
        [
            (D0 - HOUR, 0),
            (D0, 1),
            (D0 + DAY - timedelta(milliseconds=1), 3),
            (D0 + DAY, 6),
            (D0 + 2 * DAY, 10),
        ],
    )
    with prometheus(fake) as url:
        whole, _ = read_prometheus(url, D0, D0 + 2 * DAY)
        first, _ = read_prometheus(url, D0, D0 + DAY)
        second, _ = read_prometheus(url, D0 + DAY, D0 + 2 * DAY)
    assert requests_by_period(whole) == {D0: 3, D0 + DAY: 3}
    assert requests_by_period(first) == {D0: 3}
    assert requests_by_period(second) == {D0 + DAY: 3}


def random_series(fake: FakePrometheus, seed: int) -> None:
    """Counters with irregular samples, resets, births and a NaN, across three days."""
    rng = random.Random(seed)
    for number in range(6):
        at = ms(D0 - 3 * HOUR) + rng.randrange(0, 6 * 3_600_000) * (number % 3)
        value, cost = 0, 0.0
        points: list[tuple[datetime | int, float | str]] = []
        costs: list[tuple[datetime | int, float | str]] = []
        while at < ms(D0 + 3 * DAY):
            if rng.random() < 0.05:
                value, cost = 0, 0.0  # a reset
            value += rng.randrange(0, 5)
            cost += rng.randrange(0, 8) / 64  # dyadic, so float sums are exact
            points.append((at, value))
            costs.append((at, cost))
            if rng.random() < 0.02:
                points.append((at + 1, "NaN"))
            at += rng.choice([1, 15_000, 60_000, 600_000, 3_600_000])
        labels = {"job": "svc", "instance": str(number), "otel_tokens_tag_team": "ab"[number % 2]}
        fake.add({"__name__": source.DURATION_COUNT, **labels}, points)
        fake.add({"__name__": source.COST_SUM, **labels}, costs)


def totals(records: list[UsageRecord]) -> dict[tuple[str, ...], tuple[int, float]]:
    found: dict[tuple[str, ...], tuple[int, float]] = {}
    for record in records:
        key = tuple(value for _, value in record.tags)
        requests, cost = found.get(key, (0, 0.0))
        found[key] = (requests + record.requests, cost + record.cost)
    return found


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_adjacent_ranges_add_up_exactly_to_the_range_they_cover(seed):
    fake = FakePrometheus()
    random_series(fake, seed)
    start, end = D0, D0 + 3 * DAY
    sample_times = sorted({t for _, points in fake.series for t, _ in points if ms(start) < t < ms(end)})
    splits = [
        D0 + DAY,  # a period boundary
        D0 + DAY + 7 * HOUR + timedelta(seconds=13),  # inside a period
        datetime.fromtimestamp(sample_times[len(sample_times) // 2] / 1000, UTC),  # exactly on a sample
        datetime.fromtimestamp(sample_times[len(sample_times) // 3] / 1000 + 0.001, UTC),  # just after one
    ]
    with prometheus(fake) as url:
        whole, whole_skips = read_prometheus(url, start, end)
        for split in splits:
            first, first_skips = read_prometheus(url, start, split)
            second, second_skips = read_prometheus(url, split, end)
            assert totals(first + second) == totals(whole), split
            assert first_skips.total + second_skips.total == whole_skips.total
            # records of a period cut by the split add up to that period's record
            merged: dict[tuple[datetime, tuple[tuple[str, str], ...]], int] = {}
            for record in first + second:
                day = datetime.combine(record.start.date(), datetime.min.time(), UTC)
                merged[(day, record.tags)] = merged.get((day, record.tags), 0) + record.requests
            assert merged == {(r.start, r.tags): r.requests for r in whole}
    assert whole_skips.counts.get("NaN or infinite sample value", 0) > 0


def test_hourly_periods_add_up_to_daily_ones():
    fake = FakePrometheus()
    random_series(fake, 4)
    with prometheus(fake) as url:
        daily, _ = read_prometheus(url, D0, D0 + 2 * DAY)
        hourly, _ = read_prometheus(url, D0, D0 + 2 * DAY, period=HOUR)
    assert totals(hourly) == totals(daily)
    assert all(record.end - record.start == HOUR for record in hourly)
    assert {record.start.minute for record in hourly} == {0}


def test_a_range_off_the_period_grid_clips_its_first_and_last_records():
    fake = FakePrometheus()
    counter(fake, "a", [(D0 + 3 * HOUR, 1), (D0 + DAY + 3 * HOUR, 2)])
    with prometheus(fake) as url:
        records, _ = read_prometheus(url, D0 + 2 * HOUR, D0 + DAY + 4 * HOUR)
    assert [(r.start, r.end, r.requests) for r in records] == [
        (D0 + 2 * HOUR, D0 + DAY, 1),
        (D0 + DAY, D0 + DAY + 4 * HOUR, 1),
    ]


# -- chunks -----------------------------------------------------------------------------------


def test_chunks_stay_near_the_sample_target_and_change_nothing(monkeypatch):
    fake = FakePrometheus()
    random_series(fake, 5)
    with prometheus(fake) as url:
        expected, expected_skips = read_prometheus(url, D0, D0 + 3 * DAY)
        default_queries = len(fake.queries)
        fake.queries.clear()
        monkeypatch.setattr(source, "_TARGET_SAMPLES", 40)
        monkeypatch.setattr(source, "_MIN_CHUNK_MS", 1000)
        records, skips = read_prometheus(url, D0, D0 + 3 * DAY)
    assert records == expected
    assert skips.counts == expected_skips.counts
    # 7 values before the range, then one chunk per day at most for each of 2 selectors
    assert default_queries <= 7 + 2 * (3 + 3)
    assert len(fake.queries) > 3 * default_queries
    raw = [expression for expression, _ in fake.queries if not expression.startswith("last_over_time")]
    lengths = [int(re.search(r"\[(\d+)ms\]$", expression).group(1)) for expression in raw]  # type: ignore[union-attr]
    assert max(lengths) <= 86_400_000


def test_a_chunk_over_the_byte_limit_is_split_until_it_fits(monkeypatch):
    fake = FakePrometheus()
    random_series(fake, 6)
    with prometheus(fake) as url:
        expected, _ = read_prometheus(url, D0, D0 + 3 * DAY)
        fake.answers.clear()
        monkeypatch.setattr(source, "_MAX_RESPONSE_BYTES", 3000)
        monkeypatch.setattr(source, "_MIN_CHUNK_MS", 1000)
        records, _ = read_prometheus(url, D0, D0 + 3 * DAY)
        assert records == expected
        monkeypatch.setattr(source, "_FIRST_CHUNK_MS", 3 * 86_400_000)
        monkeypatch.setattr(source, "_MIN_CHUNK_MS", 3 * 86_400_000)
        pattern = r"^Prometheus http://127.0.0.1:\d+: the samples of 259200 s of \{.* are over 3,000 bytes$"
        with pytest.raises(SourceError, match=pattern):
            read_prometheus(url, D0, D0 + 3 * DAY)
    assert any(size > 3000 for size in fake.answers)


def test_gzip_answers_are_read_and_bounded(monkeypatch):
    fake = FakePrometheus(gzip=True)
    random_series(fake, 7)
    with prometheus(fake) as url:
        records, _ = read_prometheus(url, D0, D0 + DAY)
        fake.gzip = False
        assert read_prometheus(url, D0, D0 + DAY)[0] == records
        fake.gzip = True
        monkeypatch.setattr(source, "_MAX_RESPONSE_BYTES", 3000)
        monkeypatch.setattr(source, "_MIN_CHUNK_MS", 1000)
        assert read_prometheus(url, D0, D0 + DAY)[0] == records
    assert records
    assert all(headers.get("Accept-Encoding") == "gzip" for headers in fake.headers)


# -- what is skipped --------------------------------------------------------------------------


def test_malformed_values_and_unknown_types_are_skipped_and_counted_never_silently():
    fake = FakePrometheus()
    counter(
        fake,
        "a",
        [
            (D0 - HOUR, "NaN"),
            (D0 + HOUR, 5),
            (D0 + 2 * HOUR, "+Inf"),
            (D0 + 3 * HOUR, "x"),
            (D0 + 4 * HOUR, 7),
        ],
    )
    fake.add(
        {"__name__": source.TOKEN_USAGE_SUM, "job": "svc", "gen_ai_token_type": "audio"}, [(D0 + HOUR, 5)]
    )
    fake.warnings = ["partial response: store 3 unreachable"]
    with prometheus(fake) as url:
        records, skips = read_prometheus(url, D0, D0 + DAY)
    # the NaN before the range makes the first sample a baseline only: 5 -> 7 counts 2
    assert [record.requests for record in records] == [2]
    assert skips.counts == {
        "no usable value just before the range (the increase to its first sample is left out)": 1,
        "NaN or infinite sample value": 1,
        "malformed sample value": 1,
        "gen_ai_client_token_usage_sum with gen_ai_token_type='audio'": 1,
        "the server warned: partial response: store 3 unreachable": 1,  # once, however many queries
    }
    assert (
        skips.examples["NaN or infinite sample value"]
        == "gen_ai_client_operation_duration_seconds_count at 2026-11-02T02:00:00.000Z"
    )


def test_an_unusable_last_value_before_the_range_falls_back_to_the_last_usable_one():
    fake = FakePrometheus()
    labels = {"job": "svc", "instance": "a", "note": 'a "quoted" \\ value, été'}
    fake.add(
        {"__name__": source.DURATION_COUNT, **labels},
        [(D0 - 2 * HOUR, 10), (D0 - HOUR, "NaN"), (D0 + HOUR, 13)],
    )
    # a series whose labels are a superset must not be taken for it
    fake.add({"__name__": source.DURATION_COUNT, **labels, "extra": "x"}, [(D0 - HOUR, 500)])
    with prometheus(fake) as url:
        [record], skips = read_prometheus(url, D0, D0 + DAY)
    assert record.requests == 3
    assert skips.counts == {}
    [repair] = [query for query, _ in fake.queries if query.startswith('{__name__="')]
    assert repair == (
        '{__name__="gen_ai_client_operation_duration_seconds_count", instance="a", job="svc", '
        'note="a \\"quoted\\" \\\\ value, été"}[21600000ms]'
    )


def test_no_series_is_no_records_and_no_error():
    with prometheus(FakePrometheus()) as url:
        assert read_prometheus(url, D0, D0 + DAY) == ([], Skips())


def test_arguments_are_checked():
    with pytest.raises(ValueError, match="timezone-aware"):
        read_prometheus("http://127.0.0.1:1", datetime(2026, 11, 1), D0)
    with pytest.raises(ValueError, match="is empty"):
        read_prometheus("http://127.0.0.1:1", D0, D0)
    with pytest.raises(ValueError, match="period must be"):
        read_prometheus("http://127.0.0.1:1", D0, D0 + DAY, period=timedelta(microseconds=10))


def test_times_in_another_zone_are_read_as_utc():
    fake = FakePrometheus()
    counter(fake, "a", [(D0 + HOUR, 1)])
    plus_one = timezone(timedelta(hours=1))
    with prometheus(fake) as url:
        [record], _ = read_prometheus(url, D0.astimezone(plus_one), (D0 + DAY).astimezone(plus_one))
    assert (record.start, record.end) == (D0, D0 + DAY)
    assert record.start.tzinfo == UTC


# -- the API failing --------------------------------------------------------------------------


def fails(url: str, **kwargs: Any) -> str:
    with pytest.raises(SourceError) as caught:
        read_prometheus(url, D0, D0 + DAY, **kwargs)
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_a_page_that_is_not_the_prometheus_api():
    def html(handler: BaseHTTPRequestHandler) -> None:
        reply(handler, 200, b"<html><body>Grafana</body></html>", "text/html")

    def other_json(handler: BaseHTTPRequestHandler) -> None:
        reply(handler, 200, b'{"data": []}', "application/json")

    with serving(html) as url:
        assert fails(url) == f"Prometheus {url}: not a Prometheus API (HTTP 200, the answer is not JSON)"
    with serving(other_json) as url:
        assert (
            fails(url)
            == f'Prometheus {url}: not a Prometheus API (HTTP 200, the JSON answer has no "status")'
        )


def test_http_errors_name_the_status_and_the_query_error():
    def broken(handler: BaseHTTPRequestHandler) -> None:
        reply(handler, 500, b"oops", "text/plain")

    def refused(handler: BaseHTTPRequestHandler) -> None:
        body = {"status": "error", "errorType": "bad_data", "error": 'invalid parameter "query": parse error'}
        reply(handler, 400, json.dumps(body).encode(), "application/json")

    def failed(handler: BaseHTTPRequestHandler) -> None:
        body = {"status": "error", "errorType": "execution", "error": "expanding series: context canceled"}
        reply(handler, 200, json.dumps(body).encode(), "application/json")

    with serving(broken) as url:
        assert fails(url) == f"Prometheus {url}: HTTP 500 Internal Server Error"
    with serving(refused) as url:
        expected = 'HTTP 400: the query failed: bad_data: invalid parameter "query": parse error'
        assert fails(url) == f"Prometheus {url}: {expected}"
    with serving(failed) as url:
        assert (
            fails(url) == f"Prometheus {url}: the query failed: execution: expanding series: context canceled"
        )


def test_a_closed_port_and_an_unknown_scheme():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    assert fails(url) == f"Prometheus {url}: connection refused (is it running, and is that the port?)"
    assert (
        fails("ftp://example.invalid/x")
        == "Prometheus ftp://example.invalid/x: not an http:// or https:// URL"
    )


def test_a_slow_server_times_out():
    release = threading.Event()

    def slow(handler: BaseHTTPRequestHandler) -> None:
        release.wait(5)

    with serving(slow) as url:
        started = time.monotonic()
        try:
            assert fails(url, timeout=0.3) == f"Prometheus {url}: no answer within 0.3 s (timed out)"
        finally:
            release.set()
        assert time.monotonic() - started < 3


def test_a_server_trickling_its_answer_times_out_as_a_whole():
    release = threading.Event()

    def trickle(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.end_headers()
        with contextlib.suppress(OSError):  # the client hangs up
            while not release.is_set():
                handler.wfile.write(b" ")
                handler.wfile.flush()
                time.sleep(0.05)

    with serving(trickle) as url:
        started = time.monotonic()
        try:
            assert fails(url, timeout=0.5).endswith("no answer within 0.5 s (timed out)")
        finally:
            release.set()
        assert time.monotonic() - started < 3


def test_credentials_and_headers_are_sent_and_never_shown():
    seen: list[Message] = []

    def unauthorised(handler: BaseHTTPRequestHandler) -> None:
        seen.append(handler.headers)
        reply(handler, 401, b"bad token sk-live-abcdefghijklmnop", "text/plain")

    with serving(unauthorised) as url:
        port = url.rsplit(":", 1)[1]
        with_password = f"http://alice:pa55word@127.0.0.1:{port}/prefix/?x=1"
        message = fails(with_password, headers={"X-Scope-OrgID": "tenant-7"})
        assert message == f"Prometheus http://***@127.0.0.1:{port}/prefix/: HTTP 401 Unauthorized"
        message = fails(url, headers={"Authorization": "Bearer s3cr3t-t0ken-value"})
        assert "s3cr3t" not in message
    assert seen[0].get("Authorization") == "Basic " + base64.b64encode(b"alice:pa55word").decode()
    assert seen[0].get("X-Scope-OrgID") == "tenant-7"
    assert seen[1].get("Authorization") == "Bearer s3cr3t-t0ken-value"


def test_the_path_prefix_and_query_of_the_url_are_kept():
    paths: list[str] = []

    def empty(handler: BaseHTTPRequestHandler) -> None:
        paths.append(handler.path)
        body = {"status": "success", "data": {"resultType": "vector", "result": []}}
        if "last_over_time" not in handler.path:
            body["data"]["resultType"] = "matrix"  # type: ignore[index]
        reply(handler, 200, json.dumps(body).encode(), "application/json")

    with serving(empty) as url:
        assert read_prometheus(f"{url}/prometheus/?tenant=a", D0, D0 + HOUR) == ([], Skips())
    assert all(path.startswith("/prometheus/api/v1/query?tenant=a&query=") for path in paths)


def test_a_redirect_is_refused_so_headers_never_follow_it():
    def moved(handler: BaseHTTPRequestHandler) -> None:
        reply(handler, 302, b"", "text/plain", Location="https://user:pw@elsewhere.invalid/api/v1/query?x=1")

    with serving(moved) as url:
        message = fails(url, headers={"Authorization": "Bearer abcdefghijk"})
    assert message == (
        f"Prometheus {url}: HTTP 302: redirected to https://***@elsewhere.invalid/api/v1/query; "
        "give the URL it redirects to"
    )


def test_an_invalid_header_is_named_without_its_value():
    message = fails("http://127.0.0.1:1", headers={"X-Token": "abc\r\nInjected: 1"})
    assert message == "Prometheus http://127.0.0.1:1: the HTTP header 'X-Token' is not valid"
