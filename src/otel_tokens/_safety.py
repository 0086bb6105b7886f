"""The guard: errors inside otel-tokens are logged, never raised into the host application.

Every hook that runs inside a user's LLM call (extraction, pricing, recording, stream
bookkeeping) goes through :func:`guarded` or :func:`call_guarded`. A failure is logged once
per call site with its traceback and the user's call goes on as if we were not there.
Under the project's own tests, strict mode re-raises instead, so a bug cannot hide.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from otel_tokens import _runtime

logger = logging.getLogger("otel_tokens")

P = ParamSpec("P")
R = TypeVar("R")

_strict = False
"""The test harness's mode, not process state: ``_runtime.STATE.reset()`` leaves it alone."""


def set_strict(strict: bool) -> None:
    """Re-raise internal errors instead of logging them (for tests of otel-tokens itself)."""
    global _strict
    _strict = strict


def is_strict() -> bool:
    return _strict


def report(where: str, error: BaseException) -> None:
    """Log an internal error once per call site; re-raise it in strict mode."""
    if _strict:
        raise error
    reported = _runtime.STATE.reported
    if where in reported:
        logger.debug("otel-tokens internal error in %s (repeat)", where, exc_info=error)
        return
    reported.add(where)
    logger.warning(
        "otel-tokens internal error in %s; the instrumented call is not affected, "
        "but its telemetry may be incomplete (logged once per place)",
        where,
        exc_info=error,
    )


def call_guarded(where: str, func: Callable[..., R], *args: Any, **kwargs: Any) -> R | None:
    """Call ``func``; on an exception report it and return ``None``."""
    try:
        return func(*args, **kwargs)
    except Exception as error:  # noqa: BLE001 - the whole point is to catch everything
        report(where, error)
        return None


def guarded(func: Callable[P, R]) -> Callable[P, R | None]:
    """Decorator form of :func:`call_guarded`, reporting under the function's qualified name."""
    where = f"{func.__module__}.{func.__qualname__}"

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R | None:
        try:
            return func(*args, **kwargs)
        except Exception as error:  # noqa: BLE001
            report(where, error)
            return None

    return wrapper
