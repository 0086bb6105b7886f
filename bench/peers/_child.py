"""The measuring child: one variant, one fresh process, inside that variant's environment.

    <env>/bin/python bench/peers/_child.py --variant NAME --out FILE [--mode timing|soak] ...

Run by ``run.py``; writes one JSON object to ``--out`` (not stdout, which some variants print
to). Steps, all offline (``_netguard`` refuses anything but the loopback):

1. the clients of ``bench/_wire.py`` and ``bench/_anthropic_wire.py`` (in-process transports
   answering with canned bytes), the OpenTelemetry SDK with in-memory span exporter and metric
   reader, one uninstrumented call of every workload, resident memory;
2. the variant imports and instruments, one call of every workload, resident memory again;
3. ``timing``: per workload, untimed warm-up calls, then one block with the GC off, timing every
   call; the block's median per call is the figure. After each block the exporter's spans are
   checked (``_checks.py``) and cleared.
   ``soak``: N calls (chat and messages alternating, a stream of each every 100), resident memory
   at ten checkpoints, spans checked and cleared every 100 calls.
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import _netguard

_netguard.install()  # before any variant code can run

import _checks  # noqa: E402
from _variants import INSTRUMENT  # noqa: E402

BENCH = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BENCH))  # the canned-bytes wire modules, shared with bench_*.py

import _anthropic_wire  # noqa: E402
import _wire  # noqa: E402
from opentelemetry import metrics, trace  # noqa: E402
from opentelemetry.sdk.metrics import MeterProvider  # noqa: E402
from opentelemetry.sdk.metrics.export import InMemoryMetricReader  # noqa: E402
from opentelemetry.sdk.trace import TracerProvider  # noqa: E402
from opentelemetry.sdk.trace.export import SimpleSpanProcessor  # noqa: E402
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter  # noqa: E402

WARMUP = {"call": 30, "stream": 3}
# Soak: spans checked and cleared this often, so what the exporter holds stays small beside
# what the variant itself might keep.
SPAN_CHECK_EVERY = 100


@dataclass(frozen=True)
class Workload:
    name: str
    provider: str
    streaming: bool
    units: int
    """What a per-unit overhead divides by: chunks or events per stream, 1 per call."""
    run: Callable[[], Any]


def workloads() -> list[Workload]:
    openai_chat, openai_stream = _wire.make_client(), _wire.make_client(streaming=True)
    message, message_stream = _anthropic_wire.make_client(), _anthropic_wire.make_client(streaming=True)
    return [
        Workload("openai.chat", "openai", False, 1, lambda: _wire.chat(openai_chat)),
        Workload(
            "openai.stream", "openai", True, _wire.STREAM_CHUNKS, lambda: _wire.chat_stream(openai_stream)
        ),
        Workload("anthropic.message", "anthropic", False, 1, lambda: _anthropic_wire.message(message)),
        Workload(
            "anthropic.stream",
            "anthropic",
            True,
            _anthropic_wire.STREAM_EVENTS,
            lambda: _anthropic_wire.message_stream(message_stream),
        ),
    ]


def rss_mb() -> float:
    """Resident set size (VmRSS) in MiB, after a collection so garbage does not count."""
    gc.collect()
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


class Telemetry:
    """The exporter set-up every variant gets, also set as the global providers."""

    def __init__(self) -> None:
        self.exporter = InMemorySpanExporter()
        self.reader = InMemoryMetricReader()
        self.tracer_provider = TracerProvider()
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        self.meter_provider = MeterProvider(metric_readers=[self.reader])
        trace.set_tracer_provider(self.tracer_provider)
        metrics.set_meter_provider(self.meter_provider)

    def take_spans(self) -> tuple[Any, ...]:
        spans = tuple(self.exporter.get_finished_spans())
        self.exporter.clear()
        return spans

    def metric_series(self) -> dict[str, int]:
        """Scope -> number of metric series recorded."""
        series: dict[str, int] = {}
        data = self.reader.get_metrics_data()
        for resource_metrics in data.resource_metrics if data else ():
            for scope_metrics in resource_metrics.scope_metrics:
                count = sum(len(m.data.data_points) for m in scope_metrics.metrics)
                series[scope_metrics.scope.name] = series.get(scope_metrics.scope.name, 0) + count
        return series


def set_up(variant: str, options: dict[str, Any]) -> tuple[Telemetry, list[Workload], dict[str, float]]:
    """Steps 1 and 2 of the module docstring; returns the memory stages."""
    telemetry = Telemetry()
    loads = workloads()
    for load in loads:  # the SDKs' own lazy imports and caches: paid before the baseline
        load.run()
    memory = {"baseline": rss_mb()}
    INSTRUMENT[variant](telemetry.tracer_provider, telemetry.meter_provider, options)
    for load in loads:
        load.run()
    memory["instrumented"] = rss_mb()
    telemetry.take_spans()
    return telemetry, loads, memory


def time_block(run: Callable[[], Any], calls: int) -> tuple[list[int], list[int]]:
    """Wall and CPU nanoseconds of every call.

    CPU time (the whole process's, so work a variant hands to a thread of its own counts) leaves
    out the time the process waits for a core: on a small shared machine that wait is most of
    the noise. Wall time is what the caller feels; both are reported.
    """
    wall, cpu = time.perf_counter_ns, time.process_time_ns
    walls, cpus = [0] * calls, [0] * calls
    for index in range(calls):
        wall_started = wall()
        cpu_started = cpu()
        run()
        cpus[index] = cpu() - cpu_started
        walls[index] = wall() - wall_started
    return walls, cpus


def measure(variant: str, telemetry: Telemetry, load: Workload, calls: int) -> dict[str, Any]:
    kind = "stream" if load.streaming else "call"
    for _ in range(WARMUP[kind]):
        load.run()
    telemetry.take_spans()
    gc.collect()
    gc.disable()
    try:
        walls, cpus = time_block(load.run, calls)
    finally:
        gc.enable()
    garbage = gc.collect()  # objects in reference cycles, freed here, untimed: counted so it shows
    spans = telemetry.take_spans()
    last = dict(spans[-1].attributes or {}) if spans else {}
    return {
        "median_ns": statistics.median(walls),
        "cpu_median_ns": statistics.median(cpus),
        "calls": calls,
        "units": load.units,
        "spans": len(spans),
        "void": _checks.void_reason(spans, calls, variant, load.provider),
        "span_names": sorted({s.name for s in spans}),
        "scopes": sorted({s.instrumentation_scope.name for s in spans if s.instrumentation_scope}),
        "gc_objects_per_call": garbage / calls,
        **_checks.recorded(last),
    }


def timing(variant: str, args: argparse.Namespace, options: dict[str, Any]) -> dict[str, Any]:
    telemetry, loads, memory = set_up(variant, options)
    blocks = {
        load.name: measure(variant, telemetry, load, args.streams if load.streaming else args.calls)
        for load in loads
    }
    return {"memory": memory, "workloads": blocks, "metric_series": telemetry.metric_series()}


def soak(variant: str, args: argparse.Namespace, options: dict[str, Any]) -> dict[str, Any]:
    telemetry, loads, memory = set_up(variant, options)
    chat, stream, message, message_stream = (load.run for load in loads)
    total = args.soak_calls
    checkpoints = {max(1, total * tenth // 10) for tenth in range(1, 11)}
    series = [(0, memory["instrumented"])]
    void: str | None = None
    since_check = 0
    for index in range(1, total + 1):
        slot = index % 100
        if slot == 0:
            stream()
        elif slot == 50:
            message_stream()
        else:
            (chat if slot % 2 else message)()
        since_check += 1
        if since_check == SPAN_CHECK_EVERY or index == total:
            spans = len(telemetry.take_spans())
            expected = 0 if variant == "bare" else since_check
            if spans != expected and void is None:
                void = f"{spans} spans for {since_check} calls (calls {index - since_check + 1}-{index})"
            since_check = 0
        if index in checkpoints:
            series.append((index, rss_mb()))
    return {"memory": memory, "soak": {"calls": total, "rss_mb": series, "void": void}}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--variant", required=True, choices=sorted(INSTRUMENT))
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--mode", choices=("timing", "soak"), default="timing")
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--streams", type=int, default=15)
    parser.add_argument("--soak-calls", type=int, default=20_000)
    parser.add_argument(
        "--openlit-pricing-json", default=str(Path(__file__).with_name("openlit_pricing.json"))
    )
    parser.add_argument("--content-off", action="store_true")
    args = parser.parse_args()
    options = {"openlit_pricing_json": args.openlit_pricing_json, "content_off": args.content_off}
    try:
        run = timing if args.mode == "timing" else soak
        result: dict[str, Any] = run(args.variant, args, options)
    except Exception as error:  # reported as the variant's void reason, with where it failed
        frames = traceback.format_exception(error)
        result = {"error": f"{type(error).__name__}: {error}", "traceback": "".join(frames[-6:])}
    result["network_attempts"] = _netguard.attempts
    args.out.write_text(json.dumps(result))


if __name__ == "__main__":
    main()
