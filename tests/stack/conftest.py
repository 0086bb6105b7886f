"""The stack tests: the real collector, Prometheus and promtool, installed by the project's scripts.

`scripts/test-stack` installs Prometheus, builds the collector and runs these tests with
OTEL_TOKENS_STACK_REQUIRED=1, so in CI a missing program fails the run. A plain `uv run pytest` on a
machine without them skips these tests with the command that provides them.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from ._e2e import stack  # noqa: F401  (one stack per session, read by several modules)

ROOT = Path(__file__).resolve().parents[2]

# Read at import: the suite's autouse fixture clears OTEL_TOKENS_* variables before every test.
STACK_REQUIRED = os.environ.get("OTEL_TOKENS_STACK_REQUIRED") == "1"
COLLECTOR_BIN = os.environ.get("OTEL_TOKENS_COLLECTOR_BIN", "")
CHROMIUM_BIN = os.environ.get("OTEL_TOKENS_CHROMIUM_BIN", "")
FOCUS_VALIDATOR = os.environ.get("OTEL_TOKENS_FOCUS_VALIDATOR", "")


def require_program(name: str, path: str | None = None) -> str:
    """Path of an external program, or skip (fail when the stack is required) naming the fix."""
    found = path if path and os.access(path, os.X_OK) else shutil.which(name)
    if found:
        return found
    reason = f"{name} is not installed; scripts/test-stack installs and builds the whole stack"
    if STACK_REQUIRED:
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def promtool() -> str:
    return require_program("promtool")


@pytest.fixture(scope="session")
def prometheus_bin() -> str:
    return require_program("prometheus")


@pytest.fixture(scope="session")
def collector_bin() -> str:
    return require_program("otelcol-tokens", COLLECTOR_BIN)


@pytest.fixture(scope="session")
def redis_server_bin() -> str:
    return require_program("redis-server")


@pytest.fixture(scope="session")
def chromium_bin() -> str:
    """Chromium for the HTML report's tests (scripts/install-chromium, run by scripts/test-stack)."""
    return require_program("chromium", CHROMIUM_BIN)


@pytest.fixture(scope="session")
def focus_validator() -> Path:
    """The FOCUS project's validator (scripts/install-focus-validator, run by scripts/test-stack:
    its own Python 3.12 venv from PyPI, installed before the tests, which reach no network)."""
    return Path(require_program("focus-validator", FOCUS_VALIDATOR))
