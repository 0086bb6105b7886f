"""Fixtures shared by the command's tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def demo_ledger(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """OTLP JSON lines of the spans the demo's workload records (real SDKs, fake provider)."""
    path = tmp_path_factory.mktemp("ledger") / "demo.jsonl"
    subprocess.run(
        [sys.executable, "-m", "otel_tokens_cli", "demo", "--ledger", str(path)],
        cwd=ROOT,
        check=True,
        capture_output=True,
        timeout=120,
        env={k: v for k, v in os.environ.items() if not k.startswith("OTEL_")},
    )
    return path


@pytest.fixture(scope="session")
def demo_document(demo_ledger: Path) -> dict[str, Any]:
    return json.loads(demo_ledger.read_text(encoding="utf-8"))  # type: ignore[no-any-return]
