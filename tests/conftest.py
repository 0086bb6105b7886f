"""Shared fixture: strict guard (internal errors fail tests) and fresh otel-tokens state per test."""

from __future__ import annotations

import os

import pytest

from otel_tokens import _runtime, _safety


@pytest.fixture(autouse=True)
def fresh_state(monkeypatch):
    """Each test starts from environment-free settings and a fresh process state; internal errors
    raise instead of being logged, and a failure of a background task fails the test."""
    for name in list(os.environ):
        if name.startswith("OTEL_TOKENS_") or name == "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT":
            monkeypatch.delenv(name)
    _safety.set_strict(True)
    _runtime.reset()
    yield
    worker = _runtime.STATE.worker
    if worker is not None:
        worker.flush()
    failures = list(_runtime.STATE.worker_failures)
    _runtime.reset()
    assert not failures, f"background task failed: {failures!r}"
