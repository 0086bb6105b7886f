"""bench/peers/_report.py: a variant that left no spans, or crashed, is VOID with its reason."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

_PATH = Path(__file__).resolve().parents[2] / "bench" / "peers" / "_report.py"
_spec = importlib.util.spec_from_file_location("bench_peers_report", _PATH)
assert _spec is not None and _spec.loader is not None
report = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = report  # dataclasses look their module up while the class is made
_spec.loader.exec_module(report)

UNITS = {"openai.chat": 1, "openai.stream": 200, "anthropic.message": 1, "anthropic.stream": 205}


def child(median_ns: float, spans: int, void: str | None = None, added_mb: float = 0.0) -> dict[str, Any]:
    blocks = {
        key: {
            "median_ns": median_ns * units,
            "cpu_median_ns": median_ns * units,
            "units": units,
            "calls": 10,
            "spans": spans,
            "void": void,
        }
        for key, units in UNITS.items()
    }
    return {"workloads": blocks, "memory": {"baseline": 100.0, "instrumented": 100.0 + added_mb}}


def test_no_spans_is_void_with_the_reason_and_others_are_paired_per_round():
    rounds = {
        "bare": [child(1000, 0), child(1100, 0)],
        "silent": [child(1000, 0, void="0 spans for 10 calls"), child(1100, 0, void="0 spans for 10 calls")],
        "crashed": [{"error": "ImportError: no module"}, {"error": "ImportError: no module"}],
        "flaky": [child(1500, 10, added_mb=3.0), {"error": "AttributeError: gone"}],
        "working": [child(1500, 10, added_mb=3.0), child(1800, 10, added_mb=5.0)],
    }
    rows = {row.variant: row for row in report.summarise(rounds, {}, {})}

    silent = rows["silent"]
    assert silent.void is None
    assert all(cell.void == "round 1: 0 spans for 10 calls" for cell in silent.cells.values())
    assert silent.memory.void == "no workload left its spans"
    assert rows["crashed"].void == "round 1: ImportError: no module"
    flaky = rows["flaky"]
    assert flaky.cells["openai.chat"].void == "round 2: AttributeError: gone"
    assert flaky.memory.void == "AttributeError: gone"
    working = rows["working"]
    assert working.cells["openai.chat"].values == [0.5, 0.7]  # µs over bare of the same round
    assert working.cells["anthropic.stream"].values == [0.5, 0.7]  # per event
    assert working.memory.values == [3.0, 5.0]

    text = report.render(list(rows.values()))
    silent_line = next(line for line in text.splitlines() if line.startswith("silent "))
    assert silent_line.split()[1:5] == ["VOID"] * 4
    assert "VOID silent openai.chat: round 1: 0 spans for 10 calls" in text
    assert "VOID crashed: round 1: ImportError: no module" in text
    assert "working openai.chat" not in text


def test_a_variant_that_failed_to_install_is_void():
    rows = report.summarise({"bare": [child(1000, 0)], "peer": [None]}, {}, {"peer": "install failed: x"})
    assert rows[1].void == "install failed: x"
    assert "VOID peer: install failed: x" in report.render(rows)
