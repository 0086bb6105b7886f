"""README "For finance": every command of "Try it on the demo's calls" runs as written, in order,
and the sample table is what the report prints.

``scripts/uv run otel-tokens`` is the workspace's ``otel-tokens``: the commands run here as
``python -m otel_tokens_cli`` with this environment's Python, in a fresh folder.
"""

from __future__ import annotations

import csv
import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PREFIX = "scripts/uv run otel-tokens "


def _section() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    return readme.split("### Try it on the demo's calls", 1)[1].split("\n### ", 1)[0]


def _commands() -> list[list[str]]:
    block = _section().split("```bash\n", 1)[1].split("\n```", 1)[0]
    lines = block.splitlines()
    assert lines and all(line.startswith(PREFIX) for line in lines), lines
    return [shlex.split(line.removeprefix(PREFIX)) for line in lines]


def test_the_finance_commands_run_as_written(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env.update(COLUMNS="250", NO_COLOR="1")
    outputs = []
    for args in _commands():
        done = subprocess.run(
            [sys.executable, "-m", "otel_tokens_cli", *args],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert done.returncode == 0, (args, done.stderr[-3000:])
        assert "Traceback" not in done.stderr, args
        outputs.append(done.stdout)

    # The sample table, as the second command printed it.
    marker = "The second command prints (range line aside):\n\n```\n"
    sample = _section().split(marker, 1)[1].split("\n```", 1)[0].splitlines()
    printed = [line.rstrip() for line in outputs[1].splitlines()]
    start = printed.index("By team, feature")
    assert printed[start : start + len(sample)] == sample

    rows = list(csv.DictReader((tmp_path / "spend.csv").open()))
    assert rows[-1]["team"] == "TOTAL" and rows[-1]["requests"] == "18"
    focus = list(csv.DictReader((tmp_path / "focus.csv").open()))
    assert focus and {row["ChargeCategory"] for row in focus} == {"Usage"}
    # The README's FOCUS excerpt: real rows of the demo (the charge day aside).
    excerpt = _focus_excerpt()
    assert len(excerpt) == 3
    for shown in excerpt:
        assert any(
            all(row[column] == value for column, value in shown.items() if column != "ChargePeriodStart")
            for row in focus
        ), shown
    assert "<svg" in (tmp_path / "spend.html").read_text()
    assert json.loads(outputs[5])["switches"]
    assert json.loads(outputs[6])["source"] == "ledger demo-ledger.jsonl"


def _focus_excerpt() -> list[dict[str, str]]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n### FOCUS\n", 1)[1].split("\n### ", 1)[0]
    lines = [line for line in section.splitlines() if line.startswith("| ")]
    cells = [[cell.strip().strip("`") for cell in line.strip().strip("|").split("|")] for line in lines]
    return [dict(zip(cells[0], row, strict=True)) for row in cells[1:]]
