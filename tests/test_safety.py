from __future__ import annotations

import logging

import pytest

from otel_tokens import _safety


def test_guard_logs_once_and_returns_none(caplog):
    _safety.set_strict(False)

    @_safety.guarded
    def broken():
        raise RuntimeError("boom")

    with caplog.at_level(logging.WARNING, logger="otel_tokens"):
        assert broken() is None
        assert broken() is None
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "broken" in warnings[0].getMessage()


def test_strict_mode_reraises():
    _safety.set_strict(True)
    with pytest.raises(RuntimeError, match="boom"):
        _safety.call_guarded("here", lambda: (_ for _ in ()).throw(RuntimeError("boom")))
