"""otel-tokens against what a user would pick instead, each in its own environment and process.

    uv run python bench/peers/run.py [--rounds 7] [--json out.json] [--soak-calls 20000 | --million]

Variants (``_variants.py``): ``bare`` (the openai and anthropic SDKs alone), ``otel-tokens`` (this
checkout, editable), ``otel-official`` (the OpenTelemetry GenAI instrumentations), ``openllmetry``
and ``openlit``; ``otel-openai-v2`` (the older official OpenAI-only line) when named. Each gets
its own virtual environment under ``~/.cache/otel-tokens/bench-peers`` (``_envs.py``), with the
same SDK stack pinned from ``uv.lock`` and the same OpenTelemetry SDK.

Round ``r`` runs every variant's measuring child (``_child.py``) once, in an order rotated by
``r``; each child is a fresh process that sets up the same in-memory exporter and reader, times
a block of each workload on canned bytes in-process, checks that every call left its span, and
records resident memory. Figures are paired by round: the variant's block median minus bare's of
the same round, per call, per stream chunk or per stream event. Then one soak child per variant
makes N calls and records resident memory along the way. A variant or workload whose spans were
missing is VOID, with the reason (``_report.py``). The children reach nothing but the loopback.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import _envs
import _report
from _variants import VARIANTS, Variant

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
CHILD = HERE / "_child.py"
# Variables that would change what a variant does, from the caller's shell: the children get none.
_FOREIGN_PREFIXES = ("OTEL_", "TRACELOOP_", "OPENLIT_", "ANTHROPIC_", "OPENAI_")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def child_env() -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(_FOREIGN_PREFIXES) and k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")
    }
    # The anthropic SDK's own tracing stays off in every variant (the clients say so too).
    env["ANTHROPIC_OPEN_TELEMETRY"] = "false"
    return env


def run_child(env: _envs.Env, mode: str, args: argparse.Namespace, timeout: float) -> dict[str, Any]:
    """The child's JSON result, or ``{"error": ...}`` when it crashed, hung or wrote nothing."""
    assert env.python is not None
    with tempfile.TemporaryDirectory(prefix="bench-peers-") as tmp:
        out = Path(tmp) / "result.json"
        command = [str(env.python), str(CHILD), "--variant", env.variant.name, "--out", str(out)]
        command += ["--mode", mode, "--calls", str(args.calls), "--streams", str(args.streams)]
        command += ["--soak-calls", str(args.soak_calls)]
        if args.content == "off":
            command.append("--content-off")
        started = time.monotonic()
        try:
            done = subprocess.run(
                command, capture_output=True, text=True, env=child_env(), timeout=timeout, check=False
            )
        except subprocess.TimeoutExpired:
            return {"error": f"child timed out after {timeout:.0f} s"}
        if not out.exists():
            tail = " | ".join(done.stderr.strip().splitlines()[-4:])
            return {"error": f"child exited {done.returncode} without a result: {tail}"}
        result: dict[str, Any] = json.loads(out.read_text())
    result["child_seconds"] = time.monotonic() - started
    if result.get("network_attempts"):
        log(f"  {env.variant.name}: refused network attempts {result['network_attempts']}")
    return result


def rotated(names: list[str], round_index: int) -> list[str]:
    shift = round_index % len(names)
    return names[shift:] + names[:shift]


def environment() -> dict[str, Any]:
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True).stdout.strip()

    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "loadavg_at_start": os.getloadavg(),
        "otel_tokens_commit": git("rev-parse", "HEAD"),
        # Editable: uncommitted changes to the core or instrumentors are what gets measured.
        "otel_tokens_dirty": bool(git("status", "--porcelain", "src", "instrumentors")),
    }


def describe(variant: Variant, env: _envs.Env) -> dict[str, Any]:
    return {
        "shown": {name: env.versions.get(name) for name in ("openai", "anthropic", *variant.shown)},
        "opentelemetry-sdk": env.versions.get("opentelemetry-sdk"),
        "installed": env.versions,
        "requirements": list(variant.requirements),
        "editable": list(variant.editable),
        "overrides": list(variant.overrides),
        "capture_content": variant.capture_content,
        "notes": list(variant.notes),
        "void": env.void,
        "environment": str(env.python.parent.parent) if env.python else None,
    }


def print_details(
    details: dict[str, dict[str, Any]], rounds: dict[str, list[dict[str, Any] | None]], content_off: bool
) -> None:
    print("\nvariants")
    for name, info in details.items():
        versions = ", ".join(f"{k} {v}" for k, v in info["shown"].items())
        print(f"  {name}: {versions}; opentelemetry-sdk {info['opentelemetry-sdk']}")
        results = rounds.get(name, [])
        recorded = _records(results) if name != _report.BARE else ""
        if recorded:
            content = "no" if content_off else info["capture_content"]
            print(f"    spans carry: {recorded}; content captured: {content}")
        attempts = sorted({a for r in results if r for a in r.get("network_attempts", ())})
        if attempts:
            print(f"    network attempts refused: {', '.join(attempts)}")
        for note in info["notes"]:
            print(f"    note: {note}")


def _records(results: list[dict[str, Any] | None]) -> str:
    """What the variant's spans and metrics held in its last clean round, in words."""
    for result in reversed(results):
        if result is None or "error" in result:
            continue
        kinds = []
        for key, block in result["workloads"].items():
            found = [k for k in ("usage", "cost") if block[k]]
            kinds.append(f"{key} {'+'.join(found) or 'no usage'}")
        series = sum(result["metric_series"].values())
        return ", ".join(kinds) + f"; {series} metric series"
    return ""


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--calls", type=int, default=300, help="non-streaming calls per block")
    parser.add_argument("--streams", type=int, default=15, help="streams per block")
    parser.add_argument(
        "--soak-calls", type=int, default=20_000, help="calls made by each soak child (0: none)"
    )
    parser.add_argument("--million", action="store_true", help="soak with 1,000,000 calls (long)")
    parser.add_argument(
        "--variants", nargs="+", choices=[v.name for v in VARIANTS], help="bare is always run"
    )
    parser.add_argument(
        "--content",
        choices=("default", "off"),
        default="default",
        help="prompt/completion capture: each tool's default, or off everywhere",
    )
    parser.add_argument("--cache-dir", type=Path, default=_envs.default_cache())
    parser.add_argument("--rebuild", action="store_true", help="rebuild every environment")
    parser.add_argument("--json", type=Path, help="write every result to this file")
    args = parser.parse_args()
    if args.million:
        args.soak_calls = 1_000_000

    wanted = {_report.BARE, *(args.variants or [v.name for v in VARIANTS if v.default])}
    variants = [v for v in VARIANTS if v.name in wanted]
    meta = environment()
    envs = {v.name: _envs.ensure(v, REPO, args.cache_dir, args.rebuild, log) for v in variants}
    details = {name: describe(env.variant, env) for name, env in envs.items()}
    runnable = [name for name, env in envs.items() if env.void is None]

    rounds: dict[str, list[dict[str, Any] | None]] = {name: [] for name in envs}
    for round_index in range(args.rounds):
        for name in envs:
            if name not in runnable:
                rounds[name].append(None)
        for name in rotated(runnable, round_index):
            rounds[name].append(run_child(envs[name], "timing", args, timeout=600))
        log(f"round {round_index + 1}/{args.rounds} done")

    soaks: dict[str, dict[str, Any] | None] = dict.fromkeys(envs)
    if args.soak_calls:
        for name in runnable:
            log(f"soak {name}: {args.soak_calls} calls")
            soaks[name] = run_child(envs[name], "soak", args, timeout=600 + args.soak_calls * 0.01)

    install_void = {name: env.void for name, env in envs.items()}
    tables = {clock: _report.summarise(rounds, soaks, install_void, clock) for clock in _report.CLOCKS}
    config = {k: getattr(args, k) for k in ("rounds", "calls", "streams", "soak_calls", "content")}
    print(
        f"peer comparison: {args.rounds} rounds, blocks of {args.calls} calls / {args.streams} streams, "
        f"soak {args.soak_calls} calls, content capture {args.content} | python {meta['python']} | "
        f"{meta['cpus']} CPUs, "
        f"load {meta['loadavg_at_start'][0]:.2f} at start"
    )
    print(
        "overhead over bare, paired per round: median [p10, p90] over rounds of block medians; "
        "per chunk = /200 (OpenAI), per event = /205 (Anthropic)"
    )
    print("\nprocess CPU time, µs (the least disturbed by other work on the machine)")
    print(_report.render(tables["cpu"]))
    print("\nwall time, µs")
    print(_report.render(tables["wall"], memory=False))
    print_details(details, rounds, args.content == "off")
    if args.json:
        payload = {
            "config": config,
            "environment": meta,
            "variants": details,
            "summary": {clock: summary_json(rows) for clock, rows in tables.items()},
            "rounds": rounds,
            "soaks": soaks,
        }
        args.json.write_text(json.dumps(payload, indent=1))
        log(f"wrote {args.json}")


def summary_json(rows: list[_report.Row]) -> dict[str, Any]:
    return {
        row.variant: {
            "void": row.void,
            "overhead_us": {key: cell.as_dict() for key, cell in row.cells.items()},
            "memory_mb": row.memory.as_dict(),
            "soak": row.soak,
        }
        for row in rows
    }


if __name__ == "__main__":
    main()
