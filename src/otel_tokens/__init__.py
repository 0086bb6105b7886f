"""otel-tokens: tokens, cost in USD and business tags on every LLM call, over OpenTelemetry.

Start with one line::

    import otel_tokens
    otel_tokens.init()

or run the program under ``opentelemetry-instrument`` with no code change. Tag spend::

    with otel_tokens.tags(team="search", feature="autocomplete"):
        client.chat.completions.create(...)
"""

from __future__ import annotations

import atexit
import logging
import threading
from importlib.metadata import entry_points, version
from typing import Any

from opentelemetry.instrumentation.dependencies import DependencyConflictError

from otel_tokens import _providers, _runtime, _worker
from otel_tokens._errors import ConfigurationError
from otel_tokens._settings import Settings
from otel_tokens._tags import current_tags, tags

__all__ = [
    "ConfigurationError",
    "Settings",
    "current_tags",
    "flush",
    "init",
    "instrument",
    "instrumented_clients",
    "shutdown",
    "tags",
    "uninstrument",
]
__version__ = version("otel-tokens")

logger = logging.getLogger("otel_tokens")

ENTRY_POINT_GROUP = "opentelemetry_instrumentor"
ENTRY_POINT_PREFIX = "otel_tokens_"

_lock = threading.RLock()
_created = _providers.CreatedProviders()
_initialised_with: Settings | None = None
_instrumentors: dict[str, Any] = {}
_atexit_registered = False


def init(*, tracer_provider: Any = None, meter_provider: Any = None, **settings: Any) -> None:
    """Set up OpenTelemetry if the program has not, and instrument every supported LLM client.

    Keyword arguments are settings (see the README's table); they beat ``OTEL_TOKENS_*``
    variables. An invalid value raises :class:`ConfigurationError` before anything changes.
    Calling it again with the same settings does nothing; with new settings it re-instruments.
    Providers passed in (or already installed globally) are used and nothing else is touched.
    """
    global _initialised_with, _created, _atexit_registered
    new = Settings.load(settings)
    with _lock:
        if _initialised_with == new and _instrumentors:
            return
        _runtime.set_settings(new)
        _initialised_with = new
        if not new.enabled:
            uninstrument()
            return
        if new.configure_otel and tracer_provider is None and meter_provider is None:
            created = _providers.configure(new.service_name)
            if created.tracer_provider is not None:
                _created.tracer_provider = created.tracer_provider
            if created.meter_provider is not None:
                _created.meter_provider = created.meter_provider
        uninstrument()
        instrument(tracer_provider=tracer_provider, meter_provider=meter_provider)
        if not _atexit_registered:
            # Registered after the SDK's own exit hook, so it runs first: queued estimates
            # reach the exporters before they shut down.
            atexit.register(_worker.flush, 5.0)
            _atexit_registered = True


def instrument(*, tracer_provider: Any = None, meter_provider: Any = None) -> list[str]:
    """Instrument every installed, supported client, using the given or global providers.

    For programs that configure OpenTelemetry themselves. Returns the names of the clients
    now instrumented. A client that is installed but unsupported is skipped with a WARNING.
    """
    settings = _runtime.settings()
    with _lock:
        for entry_point in entry_points(group=ENTRY_POINT_GROUP):
            if not entry_point.name.startswith(ENTRY_POINT_PREFIX) or entry_point.name in _instrumentors:
                continue
            client = entry_point.name[len(ENTRY_POINT_PREFIX) :]
            if client in settings.disabled_instrumentors:
                continue
            try:
                instrumentor = entry_point.load()()
                instrumentor.instrument(
                    skip_dep_check=True, tracer_provider=tracer_provider, meter_provider=meter_provider
                )
            except DependencyConflictError:
                continue  # already logged as a WARNING naming the client and version
            except ConfigurationError:
                raise
            except Exception as error:  # noqa: BLE001 - one broken client must not stop the others
                logger.warning(
                    "otel-tokens: instrumenting %s failed; its calls are NOT recorded: %r", client, error
                )
                continue
            if getattr(instrumentor, "patches_applied", False):
                _instrumentors[entry_point.name] = instrumentor
            elif getattr(instrumentor, "is_instrumented_by_opentelemetry", False):
                instrumentor.uninstrument()  # client not installed: nothing patched, nothing listed
        return instrumented_clients()


def uninstrument() -> None:
    """Remove every wrapper otel-tokens installed."""
    with _lock:
        for instrumentor in _instrumentors.values():
            instrumentor.uninstrument()
        _instrumentors.clear()


def instrumented_clients() -> list[str]:
    """Names of the clients currently instrumented, e.g. ``["openai"]``."""
    return sorted(name[len(ENTRY_POINT_PREFIX) :] for name in _instrumentors)


def flush(timeout: float = 10.0) -> None:
    """Finish pending token estimates and flush spans and metrics to the exporters."""
    _worker.flush(timeout)
    _providers.force_flush(int(timeout * 1000))


def shutdown(timeout: float = 10.0) -> None:
    """Flush everything and shut down the providers ``init()`` created."""
    global _created, _initialised_with
    with _lock:
        _worker.flush(timeout)
        _providers.shutdown(_created, int(timeout * 1000))
        uninstrument()
        _created = _providers.CreatedProviders()
        _initialised_with = None
