"""Checks that an instrumented client is installed and within the supported version range.

``opentelemetry-instrument`` reports a version conflict only at debug level, and a client
that is silently not instrumented means spend that silently goes dark. So a client that is
installed but out of range gets one WARNING naming it, its version and the range.
"""

from __future__ import annotations

import logging
from importlib.metadata import PackageNotFoundError, version

from opentelemetry.instrumentation.dependencies import DependencyConflict, DependencyConflictError
from packaging.requirements import Requirement

from otel_tokens import _runtime

logger = logging.getLogger("otel_tokens")


def installed_version(package: str) -> str | None:
    try:
        return version(package)
    except PackageNotFoundError:
        return None


def conflict(requirement: str) -> DependencyConflict | None:
    """The conflict if the requirement's package is installed at an unsupported version, else None."""
    parsed = Requirement(requirement)
    found = installed_version(parsed.name)
    if found is None or parsed.specifier.contains(found, prereleases=True):
        return None
    return DependencyConflict(requirement, f"{parsed.name} {found}")


def check_client(requirement: str) -> bool:
    """True if the client is installed and supported; False if absent (quietly).

    Raises ``DependencyConflictError`` (after one WARNING) when it is installed at an
    unsupported version: the launcher logs that error, ``init()`` catches it.
    """
    parsed = Requirement(requirement)
    if installed_version(parsed.name) is None:
        logger.debug("otel-tokens: %s is not installed; not instrumenting it", parsed.name)
        return False
    found = conflict(requirement)
    if found is not None:
        warn_unsupported(found)
        raise DependencyConflictError(found)
    return True


def warn_unsupported(found: DependencyConflict) -> None:
    key = f"version: {found.found}"
    reported = _runtime.STATE.reported
    if key in reported:
        return
    reported.add(key)
    logger.warning(
        "otel-tokens: %s is installed but otel-tokens supports %s; its calls are NOT instrumented, "
        "so their tokens and cost are not recorded. Install a supported version or a newer otel-tokens.",
        found.found,
        found.required,
    )
