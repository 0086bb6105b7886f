"""Prometheus series -> usage records: one per charge period and label set.

Reads the series the shipped stack writes (names as they arrive through remote write, see the
README's "Names as they arrive in Prometheus") from any Prometheus-compatible HTTP API
(Prometheus, Mimir, Thanos) and joins them into :class:`UsageRecord` values keyed by service
(``job``, the part after ``namespace/``), provider, host, model (response model, else requested),
operation and business tags. Every other label (``instance``, ``otel_scope_*``, ``le``,
``error_type``, the token type labels, ``otel_tokens_model_approved``, ``otel_tokens_usage_estimated``,
anything a collector adds) is summed away.

Counters are differenced exactly on the client, never with ``increase()``/``rate()`` (which
extrapolate and drop a series' first sample): the raw samples of ``[start, end)`` are fetched with
instant queries of range vectors, chunk by chunk, and each series' consecutive samples are
differenced. A decrease is a counter reset: the new value is the increase since the reset. An
increase belongs to the charge period holding the later sample (start inclusive, end exclusive).
A series' first sample in the range is differenced against the series' last value in the
``lookback`` before ``start``; a series without one was born in the range (OTel cumulative
counters start at 0 when their label set first appears, and every process has its own
``instance``), so its first sample's whole value is an increase. Inside the range a series is
differenced across any gap (a silent series is the same process, its counter kept counting). Two
adjacent ranges thus add up exactly to the range they cover, unless a series was silent for longer
than ``lookback`` across the split.

Queries: one ``last_over_time(...[lookback])`` per metric at ``start`` (7; one value per series;
``last_over_time`` returns a NaN last sample as it is, so a series whose last value is unusable
gets one more query for its raw samples there), then the raw samples of ``[start, end)`` for two
selectors (the counters, and the input-token buckets only), each in chunks of at most a day that
adapt to about 200,000 samples per answer (the first spans an hour, each grows at most 4x). So a
small installation costs 7 + 2 x (days + 3) queries: 15 for a day, 73 for 30 days; one with N
samples a day (counters and input buckets), about N / 200,000 per day. Answers are asked gzipped
and bounded to 64 MiB unpacked; a chunk past that is split in halves. Charge periods do not
change the cost: increases are summed by period on the client.

What the metrics cannot say: cache writes are not split by duration, so all of them are
:attr:`TokenClass.CACHE_WRITE_5M` (a 1-hour write's extra price is in the recorded cost, not in
the classes); the cost is a total only (``class_costs`` empty, :attr:`CostBasis.APPORTIONED`);
the price source is not on the series. ``input_sizes`` come from the input-token histogram's
buckets (upper bound, calls); calls above its largest finite bucket have no size there.

A sample that cannot be used (NaN, infinite, negative, malformed) is skipped and counted in
:class:`Skips`; a server's warnings are counted there too. The server being unreachable, slow,
not a Prometheus API or refusing a query raises :class:`SourceError` with one line naming the URL
(credentials masked; header values are never shown).

Here: the queries, the chunks and the join of series into records. The HTTP requests are made by
:mod:`otel_tokens_cli._prometheus_api`; the differencing rule is
:mod:`otel_tokens_cli._counter_increases`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from otel_tokens import semconv
from otel_tokens._redaction import mask_secrets
from otel_tokens_cli._counter_increases import (
    EPOCH,
    MS,
    counter_increase,
    iso_ms,
    period_index,
    to_ms,
    unusable,
)
from otel_tokens_cli._prometheus_api import AnswerTooLarge, PrometheusApi, one_line
from otel_tokens_cli._records import CostBasis, Skips, TokenClass, UsageRecord

__all__ = ["DEFAULT_LOOKBACK", "read_prometheus"]

DEFAULT_LOOKBACK = timedelta(hours=6)
"""How far before ``start`` a series' last value is looked for. The SDK exports every live series
at every interval (60 s by default), so a series alive at ``start`` normally has a value a minute
earlier; six hours also covers a collector or remote-write outage of that length across ``start``,
which would otherwise count a long-running process's whole cumulative value as new. It costs one
query per metric whose answer is one value per series (the server reads six hours of samples)."""

COST_SUM = "otel_tokens_client_cost_sum"
COST_COUNT = "otel_tokens_client_cost_count"
DURATION_COUNT = "gen_ai_client_operation_duration_seconds_count"
TOKEN_USAGE_SUM = "gen_ai_client_token_usage_sum"
TOKEN_USAGE_BUCKET = "gen_ai_client_token_usage_bucket"
TOKEN_DETAIL = "otel_tokens_client_token_detail_total"
UNPRICED = "otel_tokens_client_unpriced_calls_total"


def _label(attribute: str) -> str:
    return attribute.replace(".", "_")


_JOB = "job"
_PROVIDER = _label(semconv.GEN_AI_PROVIDER_NAME)
_RESPONSE_MODEL = _label(semconv.GEN_AI_RESPONSE_MODEL)
_REQUEST_MODEL = _label(semconv.GEN_AI_REQUEST_MODEL)
_HOST = _label(semconv.SERVER_ADDRESS)
_OPERATION = _label(semconv.GEN_AI_OPERATION_NAME)
_TAG_PREFIX = _label(semconv.OTEL_TOKENS_TAG_PREFIX)
_ESTIMATED = _label(semconv.OTEL_TOKENS_USAGE_ESTIMATED)
_ERROR_TYPE = _label(semconv.ERROR_TYPE)
_TOKEN_TYPE = _label(semconv.GEN_AI_TOKEN_TYPE)
_DETAIL_TYPE = _label(semconv.OTEL_TOKENS_TOKEN_TYPE)

_COUNTER_NAMES = (COST_SUM, COST_COUNT, DURATION_COUNT, TOKEN_USAGE_SUM, TOKEN_DETAIL, UNPRICED)
_COUNTERS = '{__name__=~"' + "|".join(_COUNTER_NAMES) + '"}'
_BUCKETS = f'{TOKEN_USAGE_BUCKET}{{{_TOKEN_TYPE}="{semconv.TOKEN_TYPE_INPUT}"}}'
_BASELINES = (*((name, name) for name in _COUNTER_NAMES), (TOKEN_USAGE_BUCKET, _BUCKETS))
"""(metric name, selector): one last-value query each, so no engine's name handling matters."""

_TOKEN_FIELDS = {semconv.TOKEN_TYPE_INPUT: "input", semconv.TOKEN_TYPE_OUTPUT: "output"}
_DETAIL_FIELDS = {
    semconv.TOKEN_DETAIL_CACHE_READ: "cache_read",
    semconv.TOKEN_DETAIL_CACHE_CREATION: "cache_creation",
    semconv.TOKEN_DETAIL_REASONING: "reasoning",
}

# A response holds about 30 bytes of JSON per sample: chunks aim at 200,000 samples (~6 MB, far
# less gzipped) and grow at most 4x at a time, so a sparse night before a busy morning cannot
# make one huge. The byte limit is the hard bound: a chunk past it is split in halves.
_TARGET_SAMPLES = 200_000
_MAX_RESPONSE_BYTES = 64 * 1024 * 1024
_FIRST_CHUNK_MS = 3_600_000
_MIN_CHUNK_MS = 60_000
_MAX_CHUNK_MS = 86_400_000
_MAX_GROWTH = 4


_Key = tuple[str, str, str, str, str, tuple[tuple[str, str], ...]]
"""service, provider, host, model, operation, tags: the dimensions a record is keyed by."""


# -- series -> records -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Role:
    """What one series adds to: its record key, the totals it counts in, a bucket's bound."""

    key: _Key
    fields: tuple[str, ...]
    bound: float | None = None


@dataclass(slots=True)
class _Series:
    """One series' differencing state across the chunks."""

    name: str
    identity: tuple[tuple[str, str], ...]
    role: _Role
    last: float | None = None
    last_ms: int | None = None
    unknown_base: bool = False
    """Its value before the range was unusable: its first sample in the range is a baseline only."""


@dataclass(slots=True)
class _Totals:
    values: dict[str, float] = field(default_factory=dict)
    buckets: dict[float, float] = field(default_factory=dict)


def _record_key(labels: Mapping[str, str]) -> _Key:
    job = labels.get(_JOB, "")
    service = job.partition("/")[2] if "/" in job else job
    tags = tuple(
        sorted(
            (name[len(_TAG_PREFIX) :], value)
            for name, value in labels.items()
            if name.startswith(_TAG_PREFIX)
        )
    )
    return (
        service,
        labels.get(_PROVIDER, ""),
        labels.get(_HOST, ""),
        labels.get(_RESPONSE_MODEL) or labels.get(_REQUEST_MODEL, ""),
        labels.get(_OPERATION, ""),
        tags,
    )


def _role(labels: Mapping[str, str]) -> _Role | str:
    """The series' role, or why it is not read."""
    name = labels.get("__name__", "")
    key = _record_key(labels)
    estimated = labels.get(_ESTIMATED) == "true"
    if name == COST_SUM:
        return _Role(key, ("cost",))
    if name == COST_COUNT:
        # Every call with usage records exactly one cost point or one unpriced call, carrying the
        # estimated label when its counts were estimated: those two counters count estimated calls.
        return _Role(key, ("priced", "estimated") if estimated else ("priced",))
    if name == UNPRICED:
        return _Role(key, ("unpriced", "estimated") if estimated else ("unpriced",))
    if name == DURATION_COUNT:
        return _Role(key, ("requests", "errors") if labels.get(_ERROR_TYPE) else ("requests",))
    if name == TOKEN_USAGE_SUM:
        return _by_type(labels, key, _TOKEN_TYPE, _TOKEN_FIELDS)
    if name == TOKEN_DETAIL:
        return _by_type(labels, key, _DETAIL_TYPE, _DETAIL_FIELDS)
    if name == TOKEN_USAGE_BUCKET:
        try:
            bound = float(labels.get("le", ""))
        except ValueError:
            return f"{name} with a malformed le label"
        return _Role(key, (), bound) if not math.isnan(bound) else f"{name} with a malformed le label"
    return f"unexpected series {name!r}"


def _by_type(labels: Mapping[str, str], key: _Key, label: str, fields: Mapping[str, str]) -> _Role | str:
    kind = labels.get(label, "")
    return _Role(key, (fields[kind],)) if kind in fields else f"{labels['__name__']} with {label}={kind!r}"


def _count(value: float) -> int:
    return max(0, round(value))


def _input_sizes(buckets: Mapping[float, float]) -> tuple[tuple[int, int], ...]:
    """Cumulative bucket increases -> (upper bound, calls in that bucket), empty buckets left out."""
    sizes = []
    below = 0
    for bound in sorted(bound for bound in buckets if math.isfinite(bound)):
        cumulative = _count(buckets[bound])
        if cumulative > below:
            sizes.append((math.floor(bound), cumulative - below))
            below = cumulative
    return tuple(sizes)


class _Reader:
    """The differencing state of every series and the totals by (charge period, record key)."""

    def __init__(self, start_ms: int, end_ms: int, period_ms: int) -> None:
        self.start_ms, self.end_ms, self.period_ms = start_ms, end_ms, period_ms
        self.series: dict[tuple[tuple[str, str], ...], _Series | None] = {}
        self.totals: dict[tuple[int, _Key], _Totals] = {}
        self.skips = Skips()
        self.unusable_baselines: list[_Series] = []
        self._warnings: set[str] = set()

    def warn(self, warnings: Iterable[str], at_ms: int) -> None:
        """Count each distinct warning of the server once: the data may be incomplete."""
        for warning in warnings:
            reason = f"the server warned: {one_line(mask_secrets(warning), 200)}"
            if reason not in self._warnings:
                self._warnings.add(reason)
                self.skips.add(reason, iso_ms(at_ms))

    def _series(self, metric: Any, name: str | None = None) -> _Series | None:
        if not isinstance(metric, dict) or not all(isinstance(v, str) for v in metric.values()):
            self.skips.add("series with malformed labels")
            return None
        labels = {**metric, "__name__": name} if name is not None else metric
        identity = tuple(sorted(labels.items()))
        if identity in self.series:
            return self.series[identity]
        role = _role(labels)
        state = None
        if isinstance(role, str):
            self.skips.add(role)
        else:
            state = _Series(labels.get("__name__", ""), identity, role)
        self.series[identity] = state
        return state

    def add_baselines(self, name: str, result: Any) -> None:
        """The ``last_over_time`` vector of ``name`` before the range: each series' baseline."""
        for item in _items(result):
            state = self._series(item.get("metric"), name)
            if state is None:
                continue
            sample = _sample(item.get("value"))
            if isinstance(sample, str) or unusable(sample[1]) is not None:
                # last_over_time gives the last sample even when it is NaN: the last usable one
                # is looked up for this series alone (see repair_baseline).
                state.unknown_base = True
                self.unusable_baselines.append(state)
            else:
                state.last = sample[1]

    def repair_baseline(self, state: _Series, result: Any) -> None:
        """The raw samples before the range of a series whose last one was unusable: its last
        usable value is the baseline; without one the increase to its first sample is left out."""
        for item in _items(result):
            metric, values = item.get("metric"), item.get("values")
            if not isinstance(metric, dict) or tuple(sorted(metric.items())) != state.identity:
                continue
            for raw in values if isinstance(values, list) else []:
                sample = _sample(raw)
                if not isinstance(sample, str) and unusable(sample[1]) is None:
                    state.last, state.unknown_base = sample[1], False
        if state.unknown_base:
            reason = "no usable value just before the range (the increase to its first sample is left out)"
            self.skips.add(reason, state.name)

    def add_samples(self, result: Any, after_ms: int, until_ms: int) -> int:
        """One chunk's raw samples, those in ``(after_ms, until_ms]`` (a closed range from the
        server has one more); returns how many the response held."""
        held = 0
        for item in _items(result):
            values = item.get("values", [])
            if "histograms" in item:
                self.skips.add("native histogram samples (not read)")
            if not isinstance(values, list):
                self.skips.add("malformed sample list")
                continue
            held += len(values)
            state = self._series(item.get("metric"))
            if state is None:
                continue
            for raw in values:
                sample = _sample(raw)
                if isinstance(sample, str):
                    self.skips.add(sample, state.name)
                    continue
                at_ms, value = sample
                if not after_ms < at_ms <= until_ms:
                    continue
                reason = unusable(value)
                if reason is None and state.last_ms is not None and at_ms <= state.last_ms:
                    reason = "out-of-order or repeated sample"
                if reason is not None:
                    self.skips.add(reason, f"{state.name} at {iso_ms(at_ms)}")
                    continue
                self._add(state, at_ms, value)
        return held

    def _add(self, state: _Series, at_ms: int, value: float) -> None:
        if state.unknown_base:
            increase, state.unknown_base = 0.0, False
        else:
            increase = counter_increase(state.last, value)
        state.last, state.last_ms = value, at_ms
        if not self.start_ms <= at_ms < self.end_ms:
            return
        role = state.role
        totals = self.totals.get((period_index(at_ms, self.period_ms), role.key))
        if totals is None:
            totals = self.totals[(period_index(at_ms, self.period_ms), role.key)] = _Totals()
        if role.bound is not None:
            totals.buckets[role.bound] = totals.buckets.get(role.bound, 0.0) + increase
        for name in role.fields:
            totals.values[name] = totals.values.get(name, 0.0) + increase

    def records(self, start: datetime, end: datetime) -> list[UsageRecord]:
        """One record per (charge period, key) with any usage, in time and key order."""
        period = self.period_ms * MS
        found = []
        for (index, key), totals in sorted(self.totals.items()):
            counts = {name: _count(value) for name, value in totals.values.items()}
            cache_read, cache_creation = counts.get("cache_read", 0), counts.get("cache_creation", 0)
            tokens = {
                TokenClass.INPUT: max(0, counts.get("input", 0) - cache_read - cache_creation),
                TokenClass.CACHE_READ: cache_read,
                TokenClass.CACHE_WRITE_5M: cache_creation,
                TokenClass.OUTPUT: counts.get("output", 0),
            }
            unpriced = counts.get("unpriced", 0)
            # Every call records a duration point; a pipeline that drops that histogram must still
            # not leave fewer calls than priced plus unpriced ones, so no count of priced calls goes negative.
            requests = max(counts.get("requests", 0), counts.get("priced", 0) + unpriced)
            cost = max(0.0, totals.values.get("cost", 0.0))
            sizes = _input_sizes(totals.buckets)
            if not (requests or cost or any(tokens.values()) or counts.get("reasoning") or sizes):
                continue
            service, provider, host, model, operation, tags = key
            period_start = EPOCH + index * period
            found.append(
                UsageRecord(
                    start=max(start, period_start),
                    end=min(end, period_start + period),
                    service=service,
                    provider=provider,
                    host=host,
                    model=model,
                    operation=operation,
                    tags=tags,
                    requests=requests,
                    tokens={kind: count for kind, count in tokens.items() if count},
                    reasoning_tokens=counts.get("reasoning", 0),
                    cost=cost,
                    class_costs={},
                    cost_basis=CostBasis.APPORTIONED,
                    price_source="",
                    unpriced_requests=unpriced,
                    estimated_requests=counts.get("estimated", 0),
                    error_requests=counts.get("errors", 0),
                    input_sizes=sizes,
                )
            )
        return found


def _items(result: Any) -> Iterable[dict[str, Any]]:
    if not isinstance(result, list):
        return []
    return [item for item in result if isinstance(item, dict)]


def _sample(raw: Any) -> tuple[int, float] | str:
    """A ``[seconds, "value"]`` pair as (milliseconds, value), or why it is malformed."""
    if not isinstance(raw, list) or len(raw) != 2:
        return "malformed sample"
    seconds, text = raw
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not math.isfinite(seconds):
        return "malformed sample time"
    if isinstance(text, bool) or not isinstance(text, str | int | float):
        return "malformed sample value"
    try:
        value = float(text)
    except ValueError:
        return "malformed sample value"
    return round(seconds * 1000), value


# -- reading ---------------------------------------------------------------------------------


def _fetch_raw(api: PrometheusApi, reader: _Reader, selector: str) -> None:
    """Feed ``reader`` every raw sample of ``selector`` in its range, in time order, one bounded
    chunk per instant query of a range vector evaluated at the chunk's end."""
    after, last = reader.start_ms - 1, reader.end_ms - 1
    length = _FIRST_CHUNK_MS
    while after < last:
        until = min(after + length, last)
        span = until - after
        try:
            result, warnings = api.query(f"{selector}[{span}ms]", until, "matrix")
        except AnswerTooLarge:
            if span <= _MIN_CHUNK_MS:
                limit = f"{_MAX_RESPONSE_BYTES:,} bytes"
                raise api.fail(f"the samples of {span // 1000} s of {selector} are over {limit}") from None
            length = max(_MIN_CHUNK_MS, span // 2)
            continue
        reader.warn(warnings, until)
        held = reader.add_samples(result, after, until)
        after = until
        grown = span * _MAX_GROWTH if held == 0 else span * _TARGET_SAMPLES // held
        length = max(_MIN_CHUNK_MS, min(grown, span * _MAX_GROWTH, _MAX_CHUNK_MS))


def read_prometheus(
    url: str,
    start: datetime,
    end: datetime,
    *,
    period: timedelta = timedelta(days=1),
    headers: Mapping[str, str] | None = None,
    timeout: float = 30.0,
    lookback: timedelta = DEFAULT_LOOKBACK,
) -> tuple[list[UsageRecord], Skips]:
    """The usage in ``[start, end)`` from the Prometheus-compatible API at ``url``: one record per
    charge period (``period`` long, aligned to the epoch, so days start at midnight UTC; the first
    and last are clipped to the range) and label set with any usage, and what could not be read.

    ``headers`` (auth, tenant) go with every request and are never shown; credentials in the URL
    are sent as basic auth unless ``headers`` has an ``Authorization``. ``timeout`` bounds each
    request in seconds (connecting, each wait for data, and reading the whole answer). A series'
    last value within ``lookback`` before ``start`` is its baseline (see the module docs for the
    queries this issues). A range without series gives no records, not an error. Raises
    :class:`SourceError` when the API cannot be read; ``ValueError`` for an empty range, naive
    times, or a period or lookback that is not a positive whole number of milliseconds.
    """
    for moment in (start, end):
        if moment.tzinfo is None or moment.utcoffset() is None:
            raise ValueError(f"start and end must be timezone-aware, got {moment!r}")
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    if end <= start:
        raise ValueError(f"the range {start.isoformat()} to {end.isoformat()} is empty")
    for name, length in (("period", period), ("lookback", lookback)):
        if length <= timedelta(0) or length % MS:
            raise ValueError(f"{name} must be a positive whole number of milliseconds, got {length}")
    if not timeout > 0:
        raise ValueError(f"timeout must be positive, got {timeout}")
    api = PrometheusApi(url, headers or {}, timeout, _MAX_RESPONSE_BYTES)
    reader = _Reader(to_ms(start), to_ms(end), period // MS)
    before, window = reader.start_ms - 1, f"[{lookback // MS}ms]"
    for name, selector in _BASELINES:
        result = _query_small(api, reader, f"last_over_time({selector}{window})", before, "vector")
        reader.add_baselines(name, result)
    for state in reader.unusable_baselines:
        # A JSON string is a valid PromQL string: quotes, backslashes and control characters escaped.
        matchers = ", ".join(
            f"{label}={json.dumps(text, ensure_ascii=False)}" for label, text in state.identity
        )
        reader.repair_baseline(state, _query_small(api, reader, f"{{{matchers}}}{window}", before, "matrix"))
    for selector in (_COUNTERS, _BUCKETS):
        _fetch_raw(api, reader, selector)
    return reader.records(start, end), reader.skips


def _query_small(api: PrometheusApi, reader: _Reader, expression: str, at_ms: int, result_type: str) -> Any:
    try:
        result, warnings = api.query(expression, at_ms, result_type)
    except AnswerTooLarge:
        raise api.fail(f"the values before the range are too many to read ({expression})") from None
    reader.warn(warnings, at_ms)
    return result
