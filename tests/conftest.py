"""Shared fixtures: strict guard (internal errors fail tests), fresh otel-tokens state per test."""

from __future__ import annotations

import pytest

from otel_tokens import _runtime, _safety, _worker


@pytest.fixture(autouse=True)
def strict_guard():
    """Internal errors raise under test instead of being logged; background failures fail the test."""
    _safety.set_strict(True)
    _worker.failures.clear()
    yield
    _worker.flush()
    failures = list(_worker.failures)
    _worker.failures.clear()
    assert not failures, f"background task failed: {failures!r}"


@pytest.fixture(autouse=True)
def fresh_runtime(monkeypatch):
    """Each test starts from environment-free settings."""
    for name in list(__import__("os").environ):
        if name.startswith("OTEL_TOKENS_") or name == "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT":
            monkeypatch.delenv(name)
    _runtime.reset()
    yield
    _runtime.reset()
