"""Run by ``opentelemetry-instrument``: warns about installed clients it will skip.

The launcher loads each ``otel_tokens_<client>`` instrumentor only when the client is
installed within its supported range. Recent releases (0.66 does) log a client outside that
range at ERROR themselves (``DependencyConflict._log``); older ones said so only at debug
level. For those, this entry point (no requirements, so it always runs) logs one WARNING for
each installed client outside its range, so spend does not go dark without a word; with a
launcher that reports it, it says nothing, so the problem is told once.
"""

from __future__ import annotations

from collections.abc import Collection
from importlib.metadata import entry_points
from typing import Any

from opentelemetry.instrumentation.dependencies import DependencyConflict
from opentelemetry.instrumentation.instrumentor import BaseInstrumentor  # type: ignore[attr-defined]

from otel_tokens._dependencies import conflict, warn_unsupported
from otel_tokens._safety import call_guarded


class ClientVersionCheck(BaseInstrumentor):  # type: ignore[misc]
    def instrumentation_dependencies(self) -> Collection[str]:
        return ()

    def _instrument(self, **kwargs: Any) -> None:
        if not launcher_reports_conflicts():
            call_guarded("client version check", check_installed_clients)

    def _uninstrument(self, **kwargs: Any) -> None:
        pass


def launcher_reports_conflicts() -> bool:
    """True when ``opentelemetry-instrument`` logs a version conflict at ERROR by itself."""
    return callable(getattr(DependencyConflict, "_log", None))


def check_installed_clients() -> list[str]:
    """Warn for every installed client outside the range its instrumentor supports."""
    found = []
    for entry_point in entry_points(group="opentelemetry_instrumentor"):
        if not entry_point.name.startswith("otel_tokens_"):
            continue
        instrumentor = entry_point.load()()
        for requirement in instrumentor.instrumentation_dependencies():
            problem = conflict(requirement)
            if problem is not None:
                warn_unsupported(problem)
                found.append(str(problem.found))
    return found
