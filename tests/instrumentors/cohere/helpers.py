"""Assertion helpers for the Cohere instrumentor tests."""

from __future__ import annotations

from importlib.metadata import version

import pytest
from packaging.version import Version

from .._cost import cost  # noqa: F401  (re-exported for the tests)
from .._telemetry import only_span, token_points  # noqa: F401  (re-exported for the tests)

# cohere < 5.16 wraps each `yield` of its streams in a bare `except: pass`, so closing a stream early
# raises RuntimeError("generator ignored GeneratorExit") in the SDK itself, instrumented or not.
SDK_CLOSE_BUG = Version(version("cohere")) < Version("5.16")


def tolerate_sdk_close_bug(test):
    """On SDKs with the close bug, the SDK's own error in a finaliser is not the test's failure."""
    if SDK_CLOSE_BUG:
        return pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")(test)
    return test


# Public list prices (USD per million tokens) the assertions are computed from.
COMMAND_R = {"input": 0.15, "output": 0.60}
COMMAND = {"input": 1.0, "output": 2.0}
EMBED_V4 = {"input": 0.12}

MESSAGES = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Say hello."}]
