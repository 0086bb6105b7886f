"""Running ``otel-tokens`` as a user does: a child process, its own environment, wide output."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping


def otel_tokens(*args: str, env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``python -m otel_tokens_cli ARGS`` with no OTEL_TOKENS_* variable but those in ``env``.

    COLUMNS is wide so that rich draws each table row on one line (its width off a terminal is
    otherwise 80 columns).
    """
    environ = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_TOKENS_")}
    environ.update({"COLUMNS": "250", "NO_COLOR": "1", **(env or {})})
    return subprocess.run(
        [sys.executable, "-m", "otel_tokens_cli", *args],
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
    )


def rows(stdout: str, title: str) -> list[list[str]]:
    """The body rows of the table titled ``title``, each a list of stripped cells."""
    lines = stdout.splitlines()
    start = [line.rstrip() for line in lines].index(title)
    found = []
    for line in lines[start + 1 :]:
        if line.startswith("└"):
            break
        if line.startswith("│"):
            found.append([cell.strip() for cell in line.strip("│").split("│")])
    return found
