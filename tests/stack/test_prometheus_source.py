"""``read_prometheus`` against a real Prometheus: counter series with chosen timestamps are
backfilled with ``promtool tsdb create-blocks-from openmetrics`` into a fresh data folder, the
Prometheus the stack ships (Debian 12's 2.42, see scripts/install-prometheus) serves it on a free
loopback port, and the records must hold exactly the known increases per day and label set:
a series that existed before the range, one born inside it, a counter reset, samples on the
range and period boundaries, a NaN sample."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from otel_tokens_cli import _prometheus_source as source
from otel_tokens_cli._prometheus_source import read_prometheus
from otel_tokens_cli._records import CostBasis, TokenClass, UsageRecord

from ._processes import free_port, running

DAY = timedelta(days=1)
HOUR = timedelta(hours=1)
MS = timedelta(milliseconds=1)
# Three days back: inside any retention, and long before the head block that a fresh start opens.
D0 = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - 3 * DAY

COMMON = {
    "job": "shop/checkout",
    "gen_ai_provider_name": "openai",
    "server_address": "api.openai.com",
    "gen_ai_operation_name": "chat",
    "otel_scope_name": "otel_tokens_openai",
}
SEARCH = {
    **COMMON,
    "gen_ai_request_model": "gpt-4o",
    "gen_ai_response_model": "gpt-4o-2024-08-06",
    "otel_tokens_tag_team": "search",
}
ADS = {**COMMON, "gen_ai_request_model": "gpt-4o-mini", "otel_tokens_tag_team": "ads"}

Samples = list[tuple[datetime, float | str]]


def _bucket(before: int, day0: int, day1: int) -> Samples:
    return [(D0 - HOUR / 2, before), (D0 + 6 * HOUR, day0), (D0 + DAY, day1)]


SERIES: list[tuple[str, dict[str, str], Samples]] = [
    # existed before the range; a sample exactly at the range start, one at midnight, one at the end
    (
        source.DURATION_COUNT,
        {**SEARCH, "instance": "i1"},
        [
            (D0 - HOUR / 2, 10),
            (D0, 12),
            (D0 + 6 * HOUR, 15),
            (D0 + DAY, 20),
            (D0 + DAY + 6 * HOUR, 21),
            (D0 + 2 * DAY, 30),
        ],
    ),
    # born inside the range: its first value counts whole
    (source.DURATION_COUNT, {**SEARCH, "instance": "i2"}, [(D0 + 3 * HOUR, 4), (D0 + 4 * HOUR, 7)]),
    # failed calls, with a counter reset (2 after 6)
    (
        source.DURATION_COUNT,
        {**SEARCH, "instance": "i1", "error_type": "APITimeoutError"},
        [(D0 - HOUR, 5), (D0 + HOUR, 6), (D0 + 2 * HOUR, 2), (D0 + DAY + HOUR, 3)],
    ),
    # a process that stopped before the range: nothing
    (source.DURATION_COUNT, {**SEARCH, "instance": "i4"}, [(D0 - 2 * HOUR, 100)]),
    # a NaN inside the range and a reset exactly where the adjacent-range test splits
    (
        source.COST_SUM,
        {**SEARCH, "instance": "i1", "otel_tokens_model_approved": "true"},
        [
            (D0 - HOUR / 2, 1.0),
            (D0, 1.25),
            (D0 + 6 * HOUR, 2.0),
            (D0 + 12 * HOUR, "NaN"),
            (D0 + DAY, 2.5),
            (D0 + DAY + 6 * HOUR, 0.5),
        ],
    ),
    (
        source.COST_COUNT,
        {**SEARCH, "instance": "i1", "otel_tokens_model_approved": "true"},
        [(D0 - HOUR / 2, 10), (D0, 11), (D0 + 6 * HOUR, 13), (D0 + DAY, 14), (D0 + DAY + 6 * HOUR, 1)],
    ),
    (
        source.UNPRICED,
        {**SEARCH, "instance": "i2", "otel_tokens_usage_estimated": "true"},
        [(D0 + 3 * HOUR, 2)],
    ),
    (
        source.TOKEN_USAGE_SUM,
        {**SEARCH, "instance": "i1", "gen_ai_token_type": "input"},
        [(D0 - HOUR / 2, 1000), (D0, 1100), (D0 + 6 * HOUR, 1500), (D0 + DAY, 1600)],
    ),
    # born exactly at the range start
    (
        source.TOKEN_USAGE_SUM,
        {**SEARCH, "instance": "i1", "gen_ai_token_type": "output"},
        [(D0, 50), (D0 + DAY, 80)],
    ),
    (
        source.TOKEN_DETAIL,
        {**SEARCH, "instance": "i1", "otel_tokens_token_type": "cache_read"},
        [(D0 + 6 * HOUR, 200)],
    ),
    (
        source.TOKEN_DETAIL,
        {**SEARCH, "instance": "i1", "otel_tokens_token_type": "cache_creation"},
        [(D0 + 6 * HOUR, 100)],
    ),
    (
        source.TOKEN_DETAIL,
        {**SEARCH, "instance": "i1", "otel_tokens_token_type": "reasoning"},
        [(D0 + DAY, 10)],
    ),
    # cumulative buckets (output ones too, which the reader must leave out of input sizes)
    *(
        (
            source.TOKEN_USAGE_BUCKET,
            {**SEARCH, "instance": "i1", "gen_ai_token_type": token_type, "le": le},
            _bucket(before, day0, day1),
        )
        for token_type in ("input", "output")
        for le, before, day0, day1 in (("256", 3, 5, 6), ("1024", 4, 7, 9), ("+Inf", 4, 7, 9))
    ),
    # another label set: no response model, a sample in the last millisecond of the first day
    (source.DURATION_COUNT, {**ADS, "instance": "i3"}, [(D0 + DAY - MS, 1), (D0 + DAY + 12 * HOUR, 4)]),
    (source.TOKEN_USAGE_SUM, {**ADS, "instance": "i3", "gen_ai_token_type": "output"}, [(D0 + DAY - MS, 7)]),
]


def _openmetrics(series: list[tuple[str, dict[str, str], Samples]]) -> str:
    lines = []
    for name, labels, samples in sorted(series, key=lambda item: item[0]):
        rendered = ",".join(f'{key}="{value}"' for key, value in sorted(labels.items()))
        for moment, value in samples:
            lines.append(f"{name}{{{rendered}}} {value} {moment.timestamp():.3f}")
    return "\n".join([*lines, "# EOF", ""])


@pytest.fixture(scope="module")
def prometheus_url(tmp_path_factory, prometheus_bin, promtool) -> Iterator[str]:
    tmp: Path = tmp_path_factory.mktemp("prometheus-source")
    (tmp / "series.om").write_text(_openmetrics(SERIES))
    data = tmp / "data"
    subprocess.run(
        [promtool, "tsdb", "create-blocks-from", "openmetrics", str(tmp / "series.om"), str(data)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    (tmp / "prometheus.yml").write_text("global:\n  scrape_interval: 1m\n")
    port = free_port()
    argv = [
        prometheus_bin,
        f"--config.file={tmp / 'prometheus.yml'}",
        f"--storage.tsdb.path={data}",
        "--storage.tsdb.retention.time=3650d",
        f"--web.listen-address=127.0.0.1:{port}",
    ]
    with running("prometheus", argv, tmp / "prometheus.log", f"http://127.0.0.1:{port}/-/ready") as program:
        yield f"http://127.0.0.1:{port}"
        program.check_running()


def _record(
    start: datetime, end: datetime, labels: dict[str, str], model: str, **values: object
) -> UsageRecord:
    return UsageRecord(
        start=start,
        end=end,
        service="checkout",
        provider="openai",
        host="api.openai.com",
        model=model,
        operation="chat",
        tags=(("team", labels["otel_tokens_tag_team"]),),
        cost_basis=CostBasis.APPORTIONED,
        **values,  # type: ignore[arg-type]
    )


EXPECTED = [
    # day 0: requests 2 + 3 (i1), 4 + 3 (born i2), 1 + 2 (errors, reset); cost 0.25 + 0.75; priced
    # 1 + 2 plus 2 unpriced (estimated); input 100 + 400, of which 200 cache reads and 100 writes
    _record(
        D0,
        D0 + DAY,
        SEARCH,
        "gpt-4o-2024-08-06",
        requests=15,
        error_requests=3,
        cost=1.0,
        unpriced_requests=2,
        estimated_requests=2,
        tokens={
            TokenClass.INPUT: 200,
            TokenClass.CACHE_READ: 200,
            TokenClass.CACHE_WRITE_5M: 100,
            TokenClass.OUTPUT: 50,
        },
        input_sizes=((256, 2), (1024, 1)),
    ),
    # day 1: requests 5 + 1 (the sample at the range end is outside) + 1 error; cost 0.5, then 0.5
    # after the reset
    _record(
        D0 + DAY,
        D0 + 2 * DAY,
        SEARCH,
        "gpt-4o-2024-08-06",
        requests=7,
        error_requests=1,
        cost=1.0,
        tokens={TokenClass.INPUT: 100, TokenClass.OUTPUT: 30},
        reasoning_tokens=10,
        input_sizes=((256, 1), (1024, 1)),
    ),
    _record(D0, D0 + DAY, ADS, "gpt-4o-mini", requests=1, tokens={TokenClass.OUTPUT: 7}),
    _record(D0 + DAY, D0 + 2 * DAY, ADS, "gpt-4o-mini", requests=3, tokens={}),
]


def _by_key(records: list[UsageRecord]) -> list[UsageRecord]:
    return sorted(records, key=lambda record: (record.start, record.model))


def test_records_hold_exactly_the_known_increases_per_day_and_label_set(prometheus_url):
    records, skips = read_prometheus(prometheus_url, D0, D0 + 2 * DAY, headers={"X-Scope-OrgID": "tenant-1"})
    assert _by_key(records) == _by_key(EXPECTED)
    assert skips.counts == {"NaN or infinite sample value": 1}
    noon = (D0 + 12 * HOUR).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    assert skips.examples == {"NaN or infinite sample value": f"{source.COST_SUM} at {noon}"}


def _sums(records: list[UsageRecord]) -> dict[tuple[str, datetime], tuple[int, int, float, int, int]]:
    found: dict[tuple[str, datetime], tuple[int, int, float, int, int]] = {}
    for record in records:
        day = record.start.replace(hour=0, minute=0, second=0, microsecond=0)
        requests, errors, cost, input_tokens, output_tokens = found.get(
            (record.model, day), (0, 0, 0.0, 0, 0)
        )
        found[(record.model, day)] = (
            requests + record.requests,
            errors + record.error_requests,
            cost + record.cost,
            input_tokens + record.input_tokens,
            output_tokens + record.output_tokens,
        )
    return found


@pytest.mark.parametrize(
    "split",
    [
        D0 + DAY,
        D0 + DAY + 6 * HOUR,
        D0 + DAY + 6 * HOUR + MS,
        D0 + DAY - MS,
        D0 + 5 * HOUR + 17 * timedelta(seconds=1),
    ],
    ids=["midnight", "on-a-reset-sample", "just-after-it", "on-the-last-ms", "mid-period"],
)
def test_adjacent_ranges_add_up_exactly_to_the_whole_range(prometheus_url, split):
    # Exact as long as no series is silent for longer than the lookback across the split. A live
    # series has a sample every export interval; these sparse ones are silent up to 18 hours.
    whole, _ = read_prometheus(prometheus_url, D0, D0 + 2 * DAY)
    first, first_skips = read_prometheus(prometheus_url, D0, split, lookback=DAY)
    second, second_skips = read_prometheus(prometheus_url, split, D0 + 2 * DAY, lookback=DAY)
    assert _sums(first + second) == _sums(whole)
    assert first_skips.total + second_skips.total == 1


def test_hourly_records_add_up_to_the_daily_ones(prometheus_url):
    hourly, _ = read_prometheus(prometheus_url, D0, D0 + 2 * DAY, period=HOUR)
    assert _sums(hourly) == _sums(EXPECTED)
    assert all(record.end - record.start == HOUR and record.start.minute == 0 for record in hourly)
    first_hour = [record for record in hourly if record.start == D0]
    # at the range start: +2 requests (i1), +0.25 USD, +100 input and the born output's 50
    assert [(r.requests, r.cost, r.input_tokens, r.output_tokens) for r in first_hour] == [(2, 0.25, 100, 50)]


def test_small_chunks_read_the_same_records(prometheus_url, monkeypatch):
    expected, _ = read_prometheus(prometheus_url, D0, D0 + 2 * DAY)
    monkeypatch.setattr(source, "_FIRST_CHUNK_MS", 60_000)
    monkeypatch.setattr(source, "_TARGET_SAMPLES", 1)
    monkeypatch.setattr(source, "_MIN_CHUNK_MS", 60_000)
    monkeypatch.setattr(source, "_MAX_CHUNK_MS", 2 * 3_600_000)
    assert read_prometheus(prometheus_url, D0, D0 + 2 * DAY)[0] == expected
