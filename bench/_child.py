"""Fresh-process measurements for bench_openai.py: resident memory by stage, and the first call.

Run as ``python bench/_child.py memory-bare|memory-instrumented|first-call``; prints one JSON
object. A fresh interpreter is the only honest way to see import and one-time costs: in the
benchmark process everything is already loaded.
"""

from __future__ import annotations

import gc
import json
import statistics
import sys
import time
from typing import Any

import _wire


def rss_mb() -> float:
    """Resident set size (VmRSS) in MiB, after a collection so garbage does not count."""
    gc.collect()
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def _instrument() -> Any:
    """Import the OpenTelemetry SDK and build the same in-memory providers as the benchmark."""
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(InMemorySpanExporter()))
    meter_provider = MeterProvider(metric_readers=[InMemoryMetricReader()])
    return tracer_provider, meter_provider


def memory(instrumented: bool) -> dict[str, Any]:
    # _wire (openai, httpx2) is already imported: the baseline is a process that uses openai.
    stages: dict[str, float] = {}
    client = _wire.make_client()
    _wire.chat(client)
    stages["bare call"] = rss_mb()
    result: dict[str, Any] = {"stages": stages, "otel_imported_by_openai": "opentelemetry" in sys.modules}
    if not instrumented:
        return result
    tracer_provider, meter_provider = _instrument()
    stages["otel sdk"] = rss_mb()
    from otel_tokens_openai import OpenAIInstrumentor

    stages["otel-tokens imported"] = rss_mb()
    loaded = set(sys.modules)
    OpenAIInstrumentor().instrument(tracer_provider=tracer_provider, meter_provider=meter_provider)
    stages["otel-tokens instrumented"] = rss_mb()
    # Patching by module path imports openai resource modules the application never used.
    result["openai_modules_imported_by_instrument"] = sorted(
        name for name in set(sys.modules) - loaded if name.startswith("openai.")
    )
    response = _wire.chat(client)
    assert response.usage is not None
    stages["first priced call"] = rss_mb()
    from otel_tokens.tokenize import Tokenizer

    started = time.perf_counter()
    tokenizer = Tokenizer()  # kept referenced while measured: what a process holds while it estimates
    estimate = tokenizer.count_text(_wire.REQUEST_MODEL, "hello")
    result["tokenizer_load_ms"] = (time.perf_counter() - started) * 1e3
    result["tokenizer_method"] = estimate.method
    stages["tokenizer loaded"] = rss_mb()
    del tokenizer
    return result


def first_call() -> dict[str, Any]:
    """The first instrumented call of a process (price data import and resolution) vs. later ones."""
    client = _wire.make_client()
    for _ in range(3):  # the openai SDK's own lazy imports and caches: not ours to count
        _wire.chat(client)
    tracer_provider, meter_provider = _instrument()
    from otel_tokens_openai import OpenAIInstrumentor

    OpenAIInstrumentor().instrument(tracer_provider=tracer_provider, meter_provider=meter_provider)
    clock = time.perf_counter_ns
    started = clock()
    _wire.chat(client)
    first = clock() - started
    later = []
    for _ in range(50):
        started = clock()
        _wire.chat(client)
        later.append(clock() - started)
    from otel_tokens import _runtime

    return {
        "first_us": first / 1e3,
        "steady_us": statistics.median(later) / 1e3,
        "price_data_loaded": _runtime.STATE.price_library is not None,
    }


if __name__ == "__main__":
    command = sys.argv[1]
    if command == "first-call":
        output = first_call()
    else:
        output = memory(instrumented=command == "memory-instrumented")
    print(json.dumps(output))
