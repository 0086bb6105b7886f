"""Overhead of otel-tokens on the real anthropic SDK, against a floor of plain OpenTelemetry.

    uv run python bench/bench_anthropic.py [--rounds 20] [--calls 200] [--stream-calls 20] [--json]

The method of ``bench_openai.py``, whose harness (providers, the mode switch, statistics, the
floor-equals-ours check, the report rows) this reuses: every call goes through
``anthropic.Anthropic`` whose httpx2 transport answers in-process with canned bytes
(``_anthropic_wire.py``), and three modes run interleaved in one process, paired per round:

* ``bare``: the SDK uninstrumented;
* ``floor``: bare, plus exactly the span and metric points otel-tokens records, made with plain
  OpenTelemetry calls and precomputed values (``_floor.py``);
* ``instrumented``: ``AnthropicInstrumentor().instrument(tracer_provider=..., meter_provider=...)``.

anthropic 2.x has OpenTelemetry tracing of its own (``anthropic/_tracing.py``). It is off in
every mode: each client is made with ``open_telemetry=False`` (and ``ANTHROPIC_OPEN_TELEMETRY``
is ``false`` before any client exists); set-up checks that the clients have no tracer, and every
block checks that no span comes from any scope but the mode's own. So ``bare`` is bare, and all
modes run the same SDK code.

Workloads: ``messages.create`` non-streaming, and ``messages.create(stream=True)`` with 200
``content_block_delta`` events (205 events reach the user). For the stream, "overhead per event"
is (instrumented - bare) / 205, per-stream costs included; the per-event observer cost alone is
measured apart on pre-parsed events. After every instrumented block, every span is checked for
the expected usage and cost; at the end, the metric points of both recording modes.
"""

from __future__ import annotations

import argparse
import functools
import gc
import json
import os
import platform
import statistics
import sys
import time
from importlib.metadata import version
from typing import Any

import _anthropic_wire as wire
import _chunks
import _floor
import bench_openai as harness
import pydantic
from anthropic.types import RawMessageStreamEvent
from bench_openai import MODES, Samples, Telemetry, Workload
from opentelemetry.sdk.trace import ReadableSpan
from otel_tokens_anthropic import AnthropicInstrumentor
from otel_tokens_anthropic._stream import MessageStreamObserver

from otel_tokens import semconv as sc
from otel_tokens.instrumentation import SyncStreamProxy

OURS = AnthropicInstrumentor.scope_name
MESSAGE, STREAM = "messages.create", "messages.create stream"
WARMUP_CALLS = {MESSAGE: 30, STREAM: 3}
BLOCK_WARMUP = {MESSAGE: 3, STREAM: 1}  # untimed calls right after switching mode

# claude-sonnet-4-5 list prices, USD per token (per Mtok: input 3, 5-minute cache write 3.75,
# cache read 0.30, output 15).
COST_INPUT = wire.UNCACHED_INPUT_TOKENS * 3.0e-6
COST_CACHE_CREATION = wire.CACHE_CREATION_TOKENS * 3.75e-6
COST_CACHE_READ = wire.CACHE_READ_TOKENS * 0.30e-6
COST_OUTPUT = wire.OUTPUT_TOKENS * 15.0e-6
COST_TOTAL = COST_INPUT + COST_CACHE_CREATION + COST_CACHE_READ + COST_OUTPUT

# What every instrumented span must carry: usage and cost cannot silently go missing.
EXPECTED_USAGE: dict[str, Any] = {
    sc.GEN_AI_RESPONSE_MODEL: wire.RESPONSE_MODEL,
    sc.GEN_AI_USAGE_INPUT_TOKENS: wire.INPUT_TOKENS,
    sc.GEN_AI_USAGE_OUTPUT_TOKENS: wire.OUTPUT_TOKENS,
    sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: wire.CACHE_READ_TOKENS,
    sc.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS: wire.CACHE_CREATION_TOKENS,
    sc.GEN_AI_USAGE_COST_AMOUNT: COST_TOTAL,
}
SDK_TRACING = (
    "anthropic SDK's own tracing: off in every mode (clients made with open_telemetry=False, "
    "ANTHROPIC_OPEN_TELEMETRY=false; checked: no client tracer, no span from any other scope)"
)


# --- set-up ---------------------------------------------------------------------------------


def anthropic_plan(streaming: bool) -> _floor.Plan:
    """What otel-tokens records for one call of ``_anthropic_wire``."""
    start: dict[str, Any] = {
        sc.GEN_AI_OPERATION_NAME: sc.OPERATION_CHAT,
        sc.GEN_AI_PROVIDER_NAME: sc.PROVIDER_ANTHROPIC,
        sc.GEN_AI_REQUEST_MODEL: wire.REQUEST_MODEL,
        sc.SERVER_ADDRESS: wire.SERVER_ADDRESS,
        sc.SERVER_PORT: wire.SERVER_PORT,
        sc.GEN_AI_REQUEST_MAX_TOKENS: wire.MAX_TOKENS,
    }
    if streaming:
        start[sc.GEN_AI_REQUEST_STREAM] = True
    end: dict[str, Any] = {
        sc.GEN_AI_RESPONSE_MODEL: wire.RESPONSE_MODEL,
        sc.GEN_AI_RESPONSE_ID: wire.RESPONSE_ID,
        sc.GEN_AI_RESPONSE_FINISH_REASONS: (wire.STOP_REASON,),
        sc.GEN_AI_USAGE_INPUT_TOKENS: wire.INPUT_TOKENS,
        sc.GEN_AI_USAGE_OUTPUT_TOKENS: wire.OUTPUT_TOKENS,
        sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: wire.CACHE_READ_TOKENS,
        sc.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS: wire.CACHE_CREATION_TOKENS,
        sc.GEN_AI_USAGE_COST_AMOUNT: COST_TOTAL,
        sc.GEN_AI_USAGE_COST_CURRENCY: sc.CURRENCY_USD,
        sc.GEN_AI_USAGE_COST_SOURCE: sc.COST_SOURCE_LOCAL,
        sc.OTEL_TOKENS_COST_INPUT: COST_INPUT,
        sc.OTEL_TOKENS_COST_OUTPUT: COST_OUTPUT,
        sc.OTEL_TOKENS_PRICE_SOURCE: _floor.PRICE_SOURCE,
        sc.OTEL_TOKENS_COST_CACHE_READ: COST_CACHE_READ,
        sc.OTEL_TOKENS_COST_CACHE_CREATION: COST_CACHE_CREATION,
    }
    details = {
        sc.TOKEN_DETAIL_CACHE_READ: wire.CACHE_READ_TOKENS,
        sc.TOKEN_DETAIL_CACHE_CREATION: wire.CACHE_CREATION_TOKENS,
    }
    return _floor.make_plan(start, end, wire.INPUT_TOKENS, wire.OUTPUT_TOKENS, details, COST_TOTAL)


class Switch(harness.Switch):
    """The harness's mode switch, over the Anthropic instrumentor."""

    def __init__(self, telemetry: Telemetry) -> None:
        super().__init__(telemetry)
        self._instrumentor = AnthropicInstrumentor()


def workloads(telemetry: Telemetry, calls: int, stream_calls: int) -> list[Workload]:
    message_client, stream_client = wire.make_client(), wire.make_client(streaming=True)
    floor = _floor.Floor(telemetry.tracer_provider, telemetry.meter_provider)
    # bare and instrumented run the very same function: only the patching differs.
    message = functools.partial(wire.message, message_client)
    stream = functools.partial(wire.message_stream, stream_client)
    floor_message = functools.partial(
        floor.call, anthropic_plan(streaming=False), wire.message, message_client
    )
    floor_stream = functools.partial(
        floor.stream, anthropic_plan(streaming=True), wire.open_stream, stream_client
    )
    return [
        Workload(MESSAGE, calls, {"bare": message, "floor": floor_message, "instrumented": message}),
        Workload(STREAM, stream_calls, {"bare": stream, "floor": floor_stream, "instrumented": stream}),
    ]


# --- timing ---------------------------------------------------------------------------------


def check_block_spans(telemetry: Telemetry, mode: str, calls: int, streaming: bool) -> None:
    """One span per call, all from the mode's scope; every instrumented one with usage and cost."""
    spans = telemetry.exporter.get_finished_spans()
    scope = {"bare": None, "floor": _floor.FLOOR_SCOPE, "instrumented": OURS}[mode]
    ours = [s for s in spans if s.instrumentation_scope is not None and s.instrumentation_scope.name == scope]
    expected = 0 if mode == "bare" else calls
    if len(spans) != expected or len(ours) != expected:
        raise AssertionError(f"{mode}: {len(spans)} spans ({len(ours)} from {scope}) for {calls} calls")
    if mode == "instrumented":
        for span in spans:
            check_span(span, streaming)


def check_span(span: ReadableSpan, streaming: bool) -> None:
    attributes = dict(span.attributes or {})
    wrong = {
        key: attributes.get(key)
        for key, value in EXPECTED_USAGE.items()
        if not harness._same(attributes.get(key), value)
    }
    if wrong:
        raise AssertionError(f"instrumented span {span.name!r} is wrong: {wrong}")
    if streaming and sc.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK not in attributes:
        raise AssertionError("instrumented stream span has no time to first chunk")


def run_rounds(
    telemetry: Telemetry, switch: Switch, loads: list[Workload], rounds: int, made: dict[str, int]
) -> tuple[dict[tuple[str, str], Samples], int]:
    """Timed blocks, modes interleaved with the order rotating; returns the samples and the
    number of instrumented spans checked one by one."""
    samples = {(load.name, mode): Samples() for load in loads for mode in MODES}
    checked = 0
    for load in loads:  # warm every mode, and the price cache, before anything is timed
        for mode in MODES:
            switch.set(mode)
            for _ in range(WARMUP_CALLS[load.name]):
                load.run[mode]()
            made[mode] += WARMUP_CALLS[load.name]
    telemetry.exporter.clear()
    for round_index in range(rounds):
        shift = round_index % len(MODES)
        for load in loads:
            for mode in MODES[shift:] + MODES[:shift]:
                switch.set(mode)
                for _ in range(BLOCK_WARMUP[load.name]):
                    load.run[mode]()
                made[mode] += BLOCK_WARMUP[load.name] + load.calls
                telemetry.exporter.clear()
                gc.collect()
                gc.disable()
                try:
                    times = harness.time_block(load.run[mode], load.calls)
                finally:
                    gc.enable()
                garbage = gc.collect()  # cycles freed here, untimed: counted, so it shows
                check_block_spans(telemetry, mode, load.calls, load.name == STREAM)
                checked += load.calls if mode == "instrumented" else 0
                telemetry.exporter.clear()
                entry = samples[(load.name, mode)]
                entry.medians.append(statistics.median(times))
                entry.garbage_per_call.append(garbage / load.calls)
                entry.calls += load.calls
        print(f"  round {round_index + 1}/{rounds} done", file=sys.stderr)
    return samples, checked


def per_event_us(rounds: int = 30) -> dict[str, float]:
    """Median µs per event: bare iteration of pre-parsed events, and the extra for otel-tokens'
    stream proxy and the Anthropic observer (their per-event work only, apart from the
    per-stream span, pricing and metric points)."""
    events = _events()
    bare_times, observed_times = [], []
    last = _chunks._Invocation()  # noqa: SLF001 - the same stand-in as the OpenAI measurement
    for _ in range(rounds):
        gc.disable()
        try:
            start = time.perf_counter_ns()
            for _ in iter(events):
                pass
            bare_times.append(time.perf_counter_ns() - start)
            last = _chunks._Invocation()  # noqa: SLF001
            start = time.perf_counter_ns()
            for _ in SyncStreamProxy(iter(events), last, MessageStreamObserver()):  # type: ignore[arg-type]
                pass
            observed_times.append(time.perf_counter_ns() - start)
        finally:
            gc.enable()
    usage = getattr(last.finished, "usage", None)
    if usage is None or usage.output_tokens != wire.OUTPUT_TOKENS:
        raise AssertionError(f"the observer did not merge the stream's usage ({usage}): a no-op measured")
    bare = statistics.median(bare_times) / len(events) / 1e3
    return {"bare_us": bare, "bookkeeping_us": statistics.median(observed_times) / len(events) / 1e3 - bare}


def _events() -> list[Any]:
    """The stream's events as the SDK yields them (ping left out, as the SDK does)."""
    adapter: pydantic.TypeAdapter[Any] = pydantic.TypeAdapter(RawMessageStreamEvent)
    blocks = wire.stream_body().decode().split("\n\n")
    data = [block.split("\ndata: ", 1)[1] for block in blocks if block and "event: ping" not in block]
    events = [adapter.validate_json(item) for item in data]
    assert len(events) == wire.STREAM_EVENTS
    return events


# --- validation -----------------------------------------------------------------------------


def check_metrics(made: dict[str, int], telemetry: Telemetry) -> None:
    """Both recording modes produced the same series: a duration point, the usage and the
    cache details of every call made."""
    points = harness.metric_points(telemetry.reader)
    ours, floor = points.get(OURS, {}), points.get(_floor.FLOOR_SCOPE, {})
    if set(ours) != set(floor):
        raise AssertionError(
            f"metric series differ: only ours {set(ours) - set(floor)}, only floor {set(floor) - set(ours)}"
        )
    per_call = {
        sc.GEN_AI_CLIENT_OPERATION_DURATION: 1,
        sc.GEN_AI_CLIENT_TOKEN_USAGE: wire.INPUT_TOKENS + wire.OUTPUT_TOKENS,
        sc.OTEL_TOKENS_CLIENT_TOKEN_DETAIL: wire.CACHE_READ_TOKENS + wire.CACHE_CREATION_TOKENS,
    }
    for scope, series, calls in ((OURS, ours, made["instrumented"]), ("floor", floor, made["floor"])):
        found = {
            metric: sum(_point_total(p, metric) for (name, _), p in series.items() if name == metric)
            for metric in per_call
        }
        wanted = {metric: calls * value for metric, value in per_call.items()}
        if found != wanted:
            raise AssertionError(f"{scope}: metric totals {found} for {calls} calls, expected {wanted}")


def _point_total(point: Any, metric: str) -> float:
    # Durations are counted (one point per call), token histograms and counters summed.
    if metric == sc.GEN_AI_CLIENT_OPERATION_DURATION:
        return float(point.count)
    return float(point.sum if hasattr(point, "count") else point.value)


# --- report ---------------------------------------------------------------------------------


def summarise(samples: dict[tuple[str, str], Samples], name: str) -> dict[str, Any]:
    """The harness's summary, plus instrumented / floor (whole-call times, not overheads)."""
    result = harness.summarise(samples, name)
    medians = {mode: statistics.median(samples[(name, mode)].medians) for mode in MODES}
    result["instrumented_over_floor"] = medians["instrumented"] / medians["floor"]
    if name == STREAM:
        per_event = (("overhead_per_event_us", "instrumented"), ("floor_overhead_per_event_us", "floor"))
        for key, mode in per_event:
            paired = zip(samples[(name, mode)].medians, samples[(name, "bare")].medians, strict=True)
            result[key] = statistics.median(m - b for m, b in paired) / 1e3 / wire.STREAM_EVENTS
        result["isolated_per_event"] = per_event_us()
    return result


def environment() -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        **{name: version(name) for name in ("anthropic", "httpx2", "opentelemetry-sdk", "otel-tokens")},
        **{name: version(name) for name in ("otel-tokens-anthropic", "genai-prices", "wrapt")},
        "cpus": os.cpu_count(),
        "loadavg": os.getloadavg(),
    }


def print_report(results: dict[str, Any]) -> None:
    env, config = results["environment"], results["config"]
    print("otel-tokens overhead benchmark (anthropic SDK, in-process transport)")
    versions = ("anthropic", "httpx2", "opentelemetry-sdk", "otel-tokens", "otel-tokens-anthropic")
    print("  " + " | ".join([f"python {env['python']}", *(f"{name} {env[name]}" for name in versions)]))
    print(f"  {env['cpus']} CPUs, load average {env['loadavg'][0]:.2f} at start | {env['platform']}")
    print(
        f"  {config['rounds']} rounds; blocks of {config['calls']} calls / {config['stream_calls']} streams; "
        "modes interleaved, order rotating; GC off inside blocks"
    )
    print(
        "  spans: SimpleSpanProcessor(InMemorySpanExporter), cleared per block; metrics: InMemoryMetricReader"
    )
    print(f"  {SDK_TRACING}")
    line = harness._line
    harness.print_timing(MESSAGE, f"{MESSAGE}, non-streaming", results["message"])
    print(line("instrumented / floor", results["message"]["instrumented_over_floor"]))
    stream = results["stream"]
    events = wire.STREAM_EVENTS
    title = f"{STREAM}=True: {events} events ({wire.STREAM_DELTAS} content_block_delta)"
    harness.print_timing(STREAM, title, stream)
    print(line("instrumented / floor", stream["instrumented_over_floor"]))
    per_event = stream["overhead_per_event_us"]
    print(line("overhead per event", per_event, f"µs, (instrumented - bare) / {events}"))
    print(line("floor overhead per event", stream["floor_overhead_per_event_us"], "µs"))
    isolated = stream["isolated_per_event"]["bookkeeping_us"]
    fixed = stream["overhead"]["median"] - isolated * events
    print(line("of which per-event bookkeeping", isolated, "µs an event, proxy + observer measured alone"))
    print(line("and the rest, per stream", fixed, "µs: overhead - bookkeeping x events"))
    print(
        f"\nchecks passed: {results['spans_checked']} instrumented calls each left one span with the "
        "expected usage and cost; metric totals match the calls made; floor == ours"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--calls", type=int, default=200, help="non-streaming calls per block")
    parser.add_argument("--stream-calls", type=int, default=20, help="205-event streams per block")
    parser.add_argument("--json", action="store_true", help="print machine-readable results only")
    args = parser.parse_args()

    os.environ["ANTHROPIC_OPEN_TELEMETRY"] = "false"  # belt and braces: the clients say so too
    env = environment()  # before the run: the load average is about the machine, not about us
    telemetry = Telemetry()
    switch = Switch(telemetry)
    loads = workloads(telemetry, args.calls, args.stream_calls)
    made = dict.fromkeys(MODES, 0)
    print("checking the floor against otel-tokens...", file=sys.stderr)
    harness.check_floor_matches_spans(telemetry, switch, loads)
    made["floor"] += len(loads)
    made["instrumented"] += len(loads)
    print("timing...", file=sys.stderr)
    samples, checked = run_rounds(telemetry, switch, loads, args.rounds, made)
    switch.set("bare")
    check_metrics(made, telemetry)
    results: dict[str, Any] = {
        "environment": env,
        "config": {"rounds": args.rounds, "calls": args.calls, "stream_calls": args.stream_calls},
        "sdk_tracing": SDK_TRACING,
        "message": summarise(samples, MESSAGE),
        "stream": summarise(samples, STREAM),
        "spans_checked": checked,
    }
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print_report(results)


if __name__ == "__main__":
    main()
