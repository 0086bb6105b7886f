"""The linters the project keeps clean: ruff (style, bugs) and mypy (types) over the source."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _tool(name: str) -> str:
    found = shutil.which(name, path=str(Path(sys.executable).parent))
    if found is None:
        pytest.skip(f"{name} is not installed in this environment")
    return found


def test_ruff_is_clean():
    completed = subprocess.run(
        [_tool("ruff"), "check", "src", "instrumentors", "fake_providers", "cli", "tests", "bench"]
        + ["dashboards"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr


def test_mypy_is_clean():
    completed = subprocess.run([_tool("mypy")], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stdout + completed.stderr
