"""Overhead of otel-tokens on the real openai SDK, against a floor of plain OpenTelemetry.

    uv run python bench/bench_openai.py [--rounds 20] [--calls 200] [--stream-calls 10] [--json]

Every call goes through ``openai.OpenAI`` whose httpx2 transport answers in-process with canned
bytes (``_wire.py``), so only client-side work is measured. Three modes:

* ``bare``: the SDK uninstrumented;
* ``floor``: bare, plus exactly the span and metric points otel-tokens records, made with plain
  OpenTelemetry calls and precomputed values (``_floor.py``): the least any instrumentation
  recording the same telemetry into the same SDK could cost;
* ``instrumented``: ``OpenAIInstrumentor().instrument(...)``.

The modes run in one process, interleaved in blocks (each round runs every mode once, in an
order that rotates), because noise between processes on a small shared machine is larger than
the differences measured. Overheads are paired per round (instrumented minus bare of the same
round), which also cancels slow drift of the machine's speed.

Spans go to ``SimpleSpanProcessor(InMemorySpanExporter())``, cleared after every block; metrics
to an SDK ``MeterProvider`` with an ``InMemoryMetricReader``, collected only at the end. The
floor and the instrumented mode share both providers. After the run the benchmark checks that
every instrumented call left one span with the expected usage and cost, and that the floor
recorded the same span attributes and metric series as otel-tokens, so neither mode can
silently measure less than it claims.

For the stream, "overhead per chunk" is (instrumented - bare) / 200: the per-call costs (span,
pricing, metric points) are spread over the chunks too. One-time costs, the first priced call
and resident memory, are measured in fresh subprocesses (``_child.py``).
"""

from __future__ import annotations

import argparse
import functools
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any

import _chunks
import _floor
import _wire
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from otel_tokens_openai import OpenAIInstrumentor

from otel_tokens import _runtime
from otel_tokens import semconv as sc

MODES = ("bare", "floor", "instrumented")
OURS = "otel_tokens_openai"  # the instrumentor's tracer and meter scope
HERE = Path(__file__).resolve().parent
WARMUP_CALLS = {"chat": 30, "stream": 3}
BLOCK_WARMUP = {"chat": 3, "stream": 1}  # untimed calls right after switching mode


# --- set-up ---------------------------------------------------------------------------------


@dataclass
class Telemetry:
    exporter: InMemorySpanExporter = field(default_factory=InMemorySpanExporter)
    reader: InMemoryMetricReader = field(default_factory=InMemoryMetricReader)
    tracer_provider: TracerProvider = field(default_factory=TracerProvider)
    meter_provider: MeterProvider = field(init=False)

    def __post_init__(self) -> None:
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        self.meter_provider = MeterProvider(metric_readers=[self.reader])


class Switch:
    """Puts the SDK in one mode; the instrumentor is a singleton, so track its state here."""

    def __init__(self, telemetry: Telemetry) -> None:
        self._telemetry = telemetry
        self._instrumentor = OpenAIInstrumentor()
        self._on = False

    def set(self, mode: str) -> None:
        want = mode == "instrumented"
        if want and not self._on:
            telemetry = self._telemetry
            self._instrumentor.instrument(
                tracer_provider=telemetry.tracer_provider, meter_provider=telemetry.meter_provider
            )
        elif not want and self._on:
            self._instrumentor.uninstrument()
        self._on = want


@dataclass
class Workload:
    name: str
    calls: int
    run: dict[str, Callable[[], Any]]


def workloads(telemetry: Telemetry, calls: int, stream_calls: int) -> list[Workload]:
    chat_client, stream_client = _wire.make_client(), _wire.make_client(streaming=True)
    floor = _floor.Floor(telemetry.tracer_provider, telemetry.meter_provider)
    # bare and instrumented run the very same function: only the patching differs.
    chat = functools.partial(_wire.chat, chat_client)
    stream = functools.partial(_wire.chat_stream, stream_client)
    floor_chat = functools.partial(floor.chat, chat_client)
    floor_stream = functools.partial(floor.chat_stream, stream_client)
    return [
        Workload("chat", calls, {"bare": chat, "floor": floor_chat, "instrumented": chat}),
        Workload("stream", stream_calls, {"bare": stream, "floor": floor_stream, "instrumented": stream}),
    ]


# --- timing ---------------------------------------------------------------------------------


@dataclass
class Samples:
    """Block medians (ns per call) per round, and objects the GC found after each block."""

    medians: list[float] = field(default_factory=list)
    garbage_per_call: list[float] = field(default_factory=list)
    calls: int = 0


def time_block(run: Callable[[], Any], calls: int) -> list[int]:
    clock = time.perf_counter_ns
    times = [0] * calls
    for index in range(calls):
        started = clock()
        run()
        times[index] = clock() - started
    return times


def check_block_spans(telemetry: Telemetry, mode: str, calls: int) -> ReadableSpan | None:
    """One span per call from the right scope, or the benchmark would time a no-op."""
    spans = telemetry.exporter.get_finished_spans()
    scope = {"bare": None, "floor": _floor.FLOOR_SCOPE, "instrumented": OURS}[mode]
    ours = [s for s in spans if s.instrumentation_scope is not None and s.instrumentation_scope.name == scope]
    expected = 0 if mode == "bare" else calls
    if len(spans) != expected or len(ours) != expected:
        raise AssertionError(f"{mode}: {len(spans)} spans ({len(ours)} from {scope}) for {calls} calls")
    return spans[-1] if spans else None


def run_rounds(
    telemetry: Telemetry, switch: Switch, loads: list[Workload], rounds: int, made: dict[str, int]
) -> tuple[dict[tuple[str, str], Samples], dict[str, ReadableSpan]]:
    samples = {(load.name, mode): Samples() for load in loads for mode in MODES}
    last_spans: dict[str, ReadableSpan] = {}
    for load in loads:  # warm every mode, and the price cache, before anything is timed
        for mode in MODES:
            switch.set(mode)
            for _ in range(WARMUP_CALLS[load.name]):
                load.run[mode]()
            made[mode] += WARMUP_CALLS[load.name]
    telemetry.exporter.clear()
    for round_index in range(rounds):
        shift = round_index % len(MODES)
        order = MODES[shift:] + MODES[:shift]
        for load in loads:
            for mode in order:
                switch.set(mode)
                for _ in range(BLOCK_WARMUP[load.name]):
                    load.run[mode]()
                made[mode] += BLOCK_WARMUP[load.name] + load.calls
                telemetry.exporter.clear()
                gc.collect()
                gc.disable()
                try:
                    times = time_block(load.run[mode], load.calls)
                finally:
                    gc.enable()
                # Garbage in reference cycles is freed here, untimed: count it, so it shows.
                garbage = gc.collect()
                span = check_block_spans(telemetry, mode, load.calls)
                if mode == "instrumented" and span is not None:
                    last_spans[load.name] = span
                telemetry.exporter.clear()
                entry = samples[(load.name, mode)]
                entry.medians.append(statistics.median(times))
                entry.garbage_per_call.append(garbage / load.calls)
                entry.calls += load.calls
        print(f"  round {round_index + 1}/{rounds} done", file=sys.stderr)
    return samples, last_spans


# --- validation -----------------------------------------------------------------------------


def check_last_span(span: ReadableSpan, streaming: bool) -> None:
    attributes = dict(span.attributes or {})
    expected = {
        sc.GEN_AI_RESPONSE_MODEL: _wire.RESPONSE_MODEL,
        sc.GEN_AI_USAGE_INPUT_TOKENS: _wire.PROMPT_TOKENS,
        sc.GEN_AI_USAGE_OUTPUT_TOKENS: _wire.COMPLETION_TOKENS,
        sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: _wire.CACHED_TOKENS,
        sc.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS: _wire.REASONING_TOKENS,
    }
    wrong = {key: attributes.get(key) for key, value in expected.items() if attributes.get(key) != value}
    cost = attributes.get(sc.GEN_AI_USAGE_COST_AMOUNT)
    if wrong or not isinstance(cost, float) or abs(cost - _floor.COST_TOTAL) > 1e-12:
        raise AssertionError(f"last instrumented span is wrong: {wrong}, cost={cost!r}")
    if streaming and sc.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK not in attributes:
        raise AssertionError("last instrumented stream span has no time to first chunk")


def metric_points(reader: InMemoryMetricReader) -> dict[str, dict[tuple[str, frozenset[Any]], Any]]:
    """scope -> (metric, attributes) -> point."""
    found: dict[str, dict[tuple[str, frozenset[Any]], Any]] = {}
    data = reader.get_metrics_data()
    for resource_metrics in data.resource_metrics if data else ():
        for scope_metrics in resource_metrics.scope_metrics:
            points = found.setdefault(scope_metrics.scope.name, {})
            for metric in scope_metrics.metrics:
                for point in metric.data.data_points:
                    points[(metric.name, frozenset((point.attributes or {}).items()))] = point
    return found


def check_metrics(reader: InMemoryMetricReader, made: dict[str, int]) -> None:
    """Both recording modes produced the same series, one duration point and the usage per call."""
    points = metric_points(reader)
    ours, floor = points.get(OURS, {}), points.get(_floor.FLOOR_SCOPE, {})
    if set(ours) != set(floor):
        raise AssertionError(
            f"metric series differ: only ours {set(ours) - set(floor)}, only floor {set(floor) - set(ours)}"
        )
    for scope, series, calls in ((OURS, ours, made["instrumented"]), ("floor", floor, made["floor"])):
        durations = sum(
            p.count for (name, _), p in series.items() if name == sc.GEN_AI_CLIENT_OPERATION_DURATION
        )
        tokens = sum(p.sum for (name, _), p in series.items() if name == sc.GEN_AI_CLIENT_TOKEN_USAGE)
        if durations != calls or tokens != calls * (_wire.PROMPT_TOKENS + _wire.COMPLETION_TOKENS):
            raise AssertionError(f"{scope}: {durations} duration points, {tokens} tokens for {calls} calls")


def check_floor_matches_spans(telemetry: Telemetry, switch: Switch, loads: list[Workload]) -> None:
    """The floor's span must carry the same name, kind and attributes as ours, or it is no floor."""
    for load in loads:
        spans = {}
        for mode in ("floor", "instrumented"):
            switch.set(mode)
            telemetry.exporter.clear()
            load.run[mode]()
            (spans[mode],) = telemetry.exporter.get_finished_spans()
        ours, floor = spans["instrumented"], spans["floor"]
        a, b = dict(ours.attributes or {}), dict(floor.attributes or {})
        for attributes in (a, b):  # a measured time: it only has to be present in both or neither
            attributes[sc.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] = (
                sc.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK in attributes
            )
        differ = {k for k in a.keys() | b.keys() if not _same(a.get(k), b.get(k))}
        if ours.name != floor.name or ours.kind != floor.kind or differ:
            raise AssertionError(f"{load.name}: floor span differs from ours in {sorted(differ)}")
    telemetry.exporter.clear()


def _same(x: Any, y: Any) -> bool:
    if isinstance(x, float) and isinstance(y, float):
        return abs(x - y) <= 1e-12
    return bool(x == y)


# --- one-time costs ---------------------------------------------------------------------------


def child(command: str) -> dict[str, Any]:
    output = subprocess.run(
        [sys.executable, str(HERE / "_child.py"), command], check=True, capture_output=True, text=True
    ).stdout
    return json.loads(output.strip().splitlines()[-1])  # type: ignore[no-any-return]


def first_call_costs(telemetry: Telemetry, switch: Switch, repeats: int) -> dict[str, float]:
    """First instrumented call: in a fresh process (price data import), and after a PriceBook reset."""
    fresh = [child("first-call") for _ in range(repeats)]
    assert all(run["price_data_loaded"] for run in fresh)
    client = _wire.make_client()
    after_reset = []
    for _ in range(5):
        _runtime.set_settings(_runtime.settings())  # a new, empty PriceBook with the same settings
        switch.set("bare")
        switch.set("instrumented")  # a new Recorder, which binds the new book
        times = time_block(lambda: _wire.chat(client), 21)
        after_reset.append(times[0] - statistics.median(times[1:]))
    switch.set("bare")
    telemetry.exporter.clear()
    return {
        "fresh_process_first_ms": statistics.median(run["first_us"] for run in fresh) / 1e3,
        "fresh_process_steady_us": statistics.median(run["steady_us"] for run in fresh),
        "after_pricebook_reset_extra_us": statistics.median(after_reset) / 1e3,
    }


def memory_costs(repeats: int) -> dict[str, Any]:
    """RSS (MiB) by stage in fresh processes; medians over ``repeats`` runs of each."""
    bare = [child("memory-bare") for _ in range(repeats)]
    full = [child("memory-instrumented") for _ in range(repeats)]

    def stage(runs: list[dict[str, Any]], name: str) -> float:
        return statistics.median(run["stages"][name] for run in runs)

    parts = {
        "otel_sdk_import_mb": stage(full, "otel sdk") - stage(full, "bare call"),
        "otel_tokens_import_instrument_mb": stage(full, "otel-tokens instrumented") - stage(full, "otel sdk"),
        "first_priced_call_mb": stage(full, "first priced call") - stage(full, "otel-tokens instrumented"),
    }
    return {
        "bare_process_mb": stage(bare, "bare call"),
        "instrumented_process_mb": stage(full, "first priced call"),
        **parts,
        "total_mb": sum(parts.values()),
        "total_vs_bare_process_mb": stage(full, "first priced call") - stage(bare, "bare call"),
        "instrument_call_mb": stage(full, "otel-tokens instrumented") - stage(full, "otel-tokens imported"),
        "openai_modules_imported_by_instrument": full[0]["openai_modules_imported_by_instrument"],
        "tokenizer_mb": stage(full, "tokenizer loaded") - stage(full, "first priced call"),
        "tokenizer_load_ms": statistics.median(run["tokenizer_load_ms"] for run in full),
        "tokenizer_method": full[0]["tokenizer_method"],
        "otel_imported_by_openai": bare[0]["otel_imported_by_openai"],
    }


# --- report ---------------------------------------------------------------------------------


def spread(values: list[float]) -> dict[str, float]:
    """Median and p10/p90 (inclusive quantiles), in µs from ns."""
    cuts = statistics.quantiles(values, n=10, method="inclusive") if len(values) > 1 else [values[0]] * 9
    return {"median": statistics.median(values) / 1e3, "p10": cuts[0] / 1e3, "p90": cuts[-1] / 1e3}


def summarise(samples: dict[tuple[str, str], Samples], name: str) -> dict[str, Any]:
    by_mode = {mode: samples[(name, mode)] for mode in MODES}
    bare = by_mode["bare"].medians
    over = [i - b for i, b in zip(by_mode["instrumented"].medians, bare, strict=True)]
    floor = [f - b for f, b in zip(by_mode["floor"].medians, bare, strict=True)]
    result: dict[str, Any] = {mode: spread(by_mode[mode].medians) for mode in MODES}
    above = [o - f for o, f in zip(over, floor, strict=True)]
    result.update(overhead=spread(over), floor_overhead=spread(floor), above_floor=spread(above))
    result["overhead_over_floor"] = statistics.median(over) / statistics.median(floor)
    result["instrumented_over_bare"] = statistics.median(by_mode["instrumented"].medians) / statistics.median(
        bare
    )
    result["gc_objects_per_call"] = {
        mode: statistics.median(by_mode[mode].garbage_per_call) for mode in MODES
    }
    if name == "stream":
        chunks = _wire.STREAM_CHUNKS
        result["overhead_per_chunk_us"] = statistics.median(over) / 1e3 / chunks
        result["floor_overhead_per_chunk_us"] = statistics.median(floor) / 1e3 / chunks
        result["above_floor_per_chunk_us"] = statistics.median(above) / 1e3 / chunks
    return result


def environment() -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "openai": version("openai"),
        "opentelemetry-sdk": version("opentelemetry-sdk"),
        "otel-tokens": version("otel-tokens"),
        "otel-tokens-openai": version("otel-tokens-openai"),
        "genai-prices": version("genai-prices"),
        "wrapt": version("wrapt"),
        "cpus": os.cpu_count(),
        "loadavg": os.getloadavg(),
    }


def _row(label: str, values: dict[str, float]) -> str:
    return f"  {label:<36}{values['median']:>10.1f}{values['p10']:>10.1f}{values['p90']:>10.1f}"


def _line(label: str, value: float, note: str = "") -> str:
    return f"  {label:<36}{value:>10.2f}  {note}".rstrip()


def print_timing(name: str, title: str, r: dict[str, Any]) -> None:
    print(f"\n{title}: µs per call (p10/p90 of block medians; overheads paired per round)")
    print(f"  {'':<36}{'median':>10}{'p10':>10}{'p90':>10}")
    for mode in MODES:
        print(_row(mode, r[mode]))
    print(_row("overhead (instrumented - bare)", r["overhead"]))
    print(_row("floor overhead (floor - bare)", r["floor_overhead"]))
    print(_row("above floor (instrumented - floor)", r["above_floor"]))
    print(_line("overhead over floor", r["overhead_over_floor"], "(target <= 1.2)"))
    print(_line("instrumented / bare", r["instrumented_over_bare"]))
    if name == "stream":
        print(
            _line(
                "overhead per chunk",
                r["overhead_per_chunk_us"],
                "µs, (instrumented - bare) / 200 (target < 2)",
            )
        )
        print(_line("floor overhead per chunk", r["floor_overhead_per_chunk_us"], "µs"))
        print(_line("above floor per chunk", r["above_floor_per_chunk_us"], "µs"))
        isolated = r["isolated_per_chunk"]["bookkeeping_us"]
        fixed = r["overhead"]["median"] - isolated * (_wire.STREAM_CHUNKS + 1)
        print(
            _line("of which per-chunk bookkeeping", isolated, "µs a chunk, measured alone (bench/_chunks.py)")
        )
        print(_line("and fixed cost per stream", fixed, "µs: span, pricing, metric points, once per stream"))
    garbage = ", ".join(f"{mode} {value:.1f}" for mode, value in r["gc_objects_per_call"].items())
    print(f"  {'objects freed by GC per call':<36}{garbage}")


def print_one_time(first: dict[str, Any], memory: dict[str, Any]) -> None:
    print("\none-time costs")
    print(
        f"  first instrumented call, fresh process {first['fresh_process_first_ms']:.1f} ms "
        f"(later calls {first['fresh_process_steady_us']:.0f} µs): loads genai-prices and resolves the price"
    )
    reset = first["after_pricebook_reset_extra_us"]
    print(f"  first call after a PriceBook reset {reset:.1f} µs extra: resolves the price only")
    print("\nresident memory, MiB (VmRSS of fresh processes, medians)")
    print(f"  {'bare process after one call':<44}{memory['bare_process_mb']:>8.1f}")
    print(f"  {'+ OpenTelemetry SDK import, providers':<44}{memory['otel_sdk_import_mb']:>8.1f}")
    print(f"  {'+ otel-tokens import + instrument':<44}{memory['otel_tokens_import_instrument_mb']:>8.1f}")
    print(f"  {'    of which instrument()':<44}{memory['instrument_call_mb']:>8.1f}  ", end="")
    print(f"(imports {len(memory['openai_modules_imported_by_instrument'])} openai modules the app had not)")
    print(f"  {'+ first priced call (price data)':<44}{memory['first_priced_call_mb']:>8.1f}")
    print(f"  {'= total before any tokenizer':<44}{memory['total_mb']:>8.1f}  (target < 10)")
    print(f"  {'  cross-check: instrumented - bare process':<44}{memory['total_vs_bare_process_mb']:>8.1f}")
    tokenizer = f"tokenizer {memory['tokenizer_method']}, {memory['tokenizer_load_ms']:.0f} ms to load"
    print(f"  {tokenizer:<44}{memory['tokenizer_mb']:>8.1f}  (paid only when a response lacks usage)")


def print_report(results: dict[str, Any]) -> None:
    env, config = results["environment"], results["config"]
    print("otel-tokens overhead benchmark (openai SDK, in-process transport)")
    print(
        f"  python {env['python']} | openai {env['openai']} | opentelemetry-sdk {env['opentelemetry-sdk']} | "
        f"otel-tokens {env['otel-tokens']} | otel-tokens-openai {env['otel-tokens-openai']} | "
        f"genai-prices {env['genai-prices']} | wrapt {env['wrapt']}"
    )
    print(f"  {env['cpus']} CPUs, load average {env['loadavg'][0]:.2f} at start | {env['platform']}")
    print(
        f"  {config['rounds']} rounds; blocks of {config['calls']} calls / {config['stream_calls']} streams; "
        "modes interleaved, order rotating; GC off inside blocks"
    )
    print(
        "  spans: SimpleSpanProcessor(InMemorySpanExporter), cleared per block; metrics: InMemoryMetricReader"
    )
    print_timing("chat", "chat.completions.create, non-streaming", results["chat"])
    print_timing("stream", f"stream of {_wire.STREAM_CHUNKS} chunks + usage chunk", results["stream"])
    print_one_time(results["first_call"], results["memory"])
    print("\nchecks passed: a span per instrumented call, usage and cost on the last ones, floor == ours")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--calls", type=int, default=200, help="non-streaming calls per block")
    parser.add_argument("--stream-calls", type=int, default=10, help="200-chunk streams per block")
    parser.add_argument("--repeats", type=int, default=3, help="fresh processes per one-time measurement")
    parser.add_argument("--json", action="store_true", help="print machine-readable results only")
    args = parser.parse_args()

    env = environment()  # before the run: the load average is about the machine, not about us
    telemetry = Telemetry()
    switch = Switch(telemetry)
    loads = workloads(telemetry, args.calls, args.stream_calls)
    made = dict.fromkeys(MODES, 0)
    print("checking the floor against otel-tokens...", file=sys.stderr)
    check_floor_matches_spans(telemetry, switch, loads)
    made["floor"] += len(loads)
    made["instrumented"] += len(loads)
    print("timing...", file=sys.stderr)
    samples, last_spans = run_rounds(telemetry, switch, loads, args.rounds, made)
    check_last_span(last_spans["chat"], streaming=False)
    check_last_span(last_spans["stream"], streaming=True)
    check_metrics(telemetry.reader, made)
    print("one-time costs and memory (fresh processes)...", file=sys.stderr)
    results: dict[str, Any] = {
        "environment": env,
        "config": {"rounds": args.rounds, "calls": args.calls, "stream_calls": args.stream_calls},
        "chat": summarise(samples, "chat"),
        "stream": {**summarise(samples, "stream"), "isolated_per_chunk": _chunks.per_chunk_us()},
        "first_call": first_call_costs(telemetry, switch, args.repeats),
        "memory": memory_costs(args.repeats),
    }
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print_report(results)


if __name__ == "__main__":
    main()
