"""Paired overheads from the children's results, and the table; pure functions, no I/O.

A child's result is the JSON ``_child.py`` writes: ``{"error": ...}`` when the variant could not
be set up or measured, otherwise per-workload block medians with a ``void`` reason when its spans
were wrong. A figure is reported only from rounds in which both the variant and ``bare`` ran
cleanly; a workload that was void in any round is VOID in the table, with the reason, because a
variant that skips telemetry some of the time would otherwise look cheaper than it is.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

WORKLOADS = ("openai.chat", "openai.stream", "anthropic.message", "anthropic.stream")
COLUMNS = {
    "openai.chat": "OpenAI µs/call",
    "openai.stream": "µs/chunk",
    "anthropic.message": "Anthropic µs/call",
    "anthropic.stream": "µs/event",
}
BARE = "bare"
CLOCKS = {"cpu": "cpu_median_ns", "wall": "median_ns"}
"""Which block median a table is made of: process CPU time, or wall time."""

ChildResult = Mapping[str, Any]


@dataclass
class Cell:
    """One figure: the median and p10/p90 of per-round values, or why there is none."""

    values: list[float] = field(default_factory=list)
    void: str | None = None

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    def spread(self) -> tuple[float, float]:
        if len(self.values) < 2:
            return self.values[0], self.values[0]
        cuts = statistics.quantiles(self.values, n=10, method="inclusive")
        return cuts[0], cuts[-1]

    def as_dict(self) -> dict[str, Any]:
        if self.void is not None or not self.values:
            return {"void": self.void or "no rounds"}
        p10, p90 = self.spread()
        return {"median": self.median, "p10": p10, "p90": p90, "rounds": len(self.values)}


@dataclass
class Row:
    variant: str
    cells: dict[str, Cell]
    """Workload -> overhead over bare in µs per call, chunk or event; for bare, its own time."""
    memory: Cell
    """MiB added by import + instrument + one call of each workload, over bare's same step."""
    soak: dict[str, Any] | None = None
    void: str | None = None
    """Set when nothing of this variant could be measured at all."""


def _first_void(results: Sequence[ChildResult | None], key: str) -> str | None:
    for index, result in enumerate(results):
        if result is None:
            continue
        if "error" in result:
            return f"round {index + 1}: {result['error']}"
        reason = result["workloads"][key]["void"]
        if reason:
            return f"round {index + 1}: {reason}"
    return None


def _usable(result: ChildResult | None) -> bool:
    return result is not None and "error" not in result


def _per_unit_us(result: ChildResult | None, key: str, clock: str) -> float | None:
    """The block median per call, chunk or event in µs; None when the block is missing or void."""
    if result is None or "error" in result:
        return None
    block = result["workloads"][key]
    return None if block["void"] else float(block[CLOCKS[clock]]) / block["units"] / 1e3


def _added_mb(result: ChildResult | None) -> float | None:
    """Resident memory added by import + instrument + one call of each workload."""
    if result is None or "error" in result:
        return None
    return float(result["memory"]["instrumented"] - result["memory"]["baseline"])


def workload_cell(
    variant: Sequence[ChildResult | None],
    bare: Sequence[ChildResult | None],
    key: str,
    paired: bool,
    clock: str,
) -> Cell:
    """Per-round (variant - bare) per unit in µs, or the variant's own µs per unit when unpaired."""
    void = _first_void(variant, key)
    if void is not None:
        return Cell(void=void)
    values = []
    for mine, base in zip(variant, bare, strict=True):
        own, reference = _per_unit_us(mine, key, clock), _per_unit_us(base, key, clock)
        if own is not None and not paired:
            values.append(own)
        elif own is not None and reference is not None:
            values.append(own - reference)
    return Cell(values) if values else Cell(void="no round in which both it and bare ran")


def memory_cell(variant: Sequence[ChildResult | None], bare: Sequence[ChildResult | None]) -> Cell:
    """Per-round MiB added by the variant's set-up, less what bare's same steps added."""
    values = []
    for mine, base in zip(variant, bare, strict=True):
        own, reference = _added_mb(mine), _added_mb(base)
        if own is not None and reference is not None:
            values.append(own - reference)
    return Cell(values) if values else Cell(void="not measured")


def summarise(
    rounds: Mapping[str, Sequence[ChildResult | None]],
    soaks: Mapping[str, ChildResult | None],
    install_void: Mapping[str, str | None],
    clock: str = "cpu",
) -> list[Row]:
    """One row per variant, bare first; ``rounds[v][r]`` is the child result of round ``r``."""
    bare = rounds.get(BARE, ())
    rows = []
    for name, results in rounds.items():
        reason = install_void.get(name)
        if reason is None and not any(_usable(r) for r in results):
            reason = _first_void(results, WORKLOADS[0]) or "did not run"
        if reason is not None:
            rows.append(Row(name, {}, Cell(void=reason), void=reason))
            continue
        paired = name != BARE
        cells = {key: workload_cell(results, bare, key, paired, clock) for key in WORKLOADS}
        memory = memory_cell(results, bare) if paired else Cell([0.0])
        crashed = next((r["error"] for r in results if r is not None and "error" in r), None)
        if crashed is not None:  # a variant that works only some of the time has no figure
            memory = Cell(void=crashed)
        elif all(cell.void is not None for cell in cells.values()):
            memory = Cell(void="no workload left its spans")
        rows.append(Row(name, cells, memory, soak=soak_summary(soaks.get(name))))
    return rows


def soak_summary(result: ChildResult | None) -> dict[str, Any] | None:
    if result is None:
        return None
    if "error" in result:
        return {"void": result["error"]}
    soak = result["soak"]
    series = soak["rss_mb"]  # [(calls made, MiB)]: after the first call, then at each tenth
    return {
        "calls": soak["calls"],
        "rss_after_first_mb": series[0][1],
        "rss_after_tenth_mb": series[1][1],
        "rss_after_all_mb": series[-1][1],
        # From the first tenth on: the first calls fill caches and the allocator's pools.
        "growth_after_tenth_mb": series[-1][1] - series[1][1],
        "void": soak["void"],
    }


# --- text ---------------------------------------------------------------------------------------


def _figure(cell: Cell, digits: int) -> str:
    if cell.void is not None or not cell.values:
        return "VOID"
    p10, p90 = cell.spread()
    return f"{cell.median:.{digits}f} [{p10:.{digits}f}, {p90:.{digits}f}]"


def _soak_text(soak: dict[str, Any] | None) -> str:
    if soak is None:
        return "-"
    if soak.get("void"):
        return "VOID"
    first, tenth, last = (soak[f"rss_after_{at}_mb"] for at in ("first", "tenth", "all"))
    return f"{first:.1f} / {tenth:.1f} / {last:.1f}"


def render(rows: Sequence[Row], memory: bool = True) -> str:
    """The table, then every VOID with its reason. bare's timing cells are its own µs."""
    headers = ["variant", *COLUMNS.values(), *(["+MiB", "RSS MiB: 1 / N/10 / N calls"] if memory else [])]
    table = []
    for row in rows:
        if row.void is not None:
            table.append([row.variant, *(["VOID"] * (len(headers) - 1))])
            continue
        digits = {key: 2 if key.endswith("stream") else 1 for key in WORKLOADS}
        figures = [_figure(row.cells[key], digits[key]) for key in WORKLOADS]
        name = f"{row.variant} (own time)" if row.variant == BARE else row.variant
        added = "0 (ref)" if row.variant == BARE else _figure(row.memory, 1)
        table.append([name, *figures, *([added, _soak_text(row.soak)] if memory else [])])
    widths = [max(len(line[i]) for line in [headers, *table]) for i in range(len(headers))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True))
        for line in [headers, *table]
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    voids = void_reasons(rows, memory)
    if voids:
        lines.append("")
        lines.extend(f"VOID {where}: {reason}" for where, reason in voids)
    return "\n".join(lines)


def void_reasons(rows: Sequence[Row], memory: bool = True) -> list[tuple[str, str]]:
    found = []
    for row in rows:
        if row.void is not None:
            found.append((row.variant, row.void))
            continue
        for key, cell in row.cells.items():
            if cell.void is not None:
                found.append((f"{row.variant} {key}", cell.void))
        if not memory:
            continue
        if row.memory.void is not None:
            found.append((f"{row.variant} memory", row.memory.void))
        if row.soak is not None and row.soak.get("void"):
            found.append((f"{row.variant} soak", row.soak["void"]))
    return found
