"""Setting otel-tokens up for a process and taking it down: ``init()``, ``instrument()``,
``uninstrument()``, ``flush()`` and ``shutdown()`` (re-exported by ``otel_tokens``).

Everything they configure lives in the process state (``otel_tokens._runtime.STATE``).
"""

from __future__ import annotations

import atexit
import logging
import os
import time
from collections.abc import Iterable, Mapping
from importlib.metadata import entry_points
from typing import Any

from opentelemetry.instrumentation.dependencies import DependencyConflictError
from opentelemetry.metrics import MeterProvider
from opentelemetry.trace import TracerProvider

from otel_tokens import _export, _providers, _runtime, _worker
from otel_tokens._errors import ConfigurationError
from otel_tokens._safety import report
from otel_tokens._settings import Settings
from otel_tokens.budgets import Guardrail, Policy

logger = logging.getLogger("otel_tokens")

ENTRY_POINT_GROUP = "opentelemetry_instrumentor"
ENTRY_POINT_PREFIX = "otel_tokens_"

_STATE = _runtime.STATE  # every piece of process state lives there (one object, one reset)


def init(
    *,
    tracer_provider: TracerProvider | None = None,
    meter_provider: MeterProvider | None = None,
    enabled: bool | None = None,
    capture_content: bool | None = None,
    metric_tag_keys: str | Iterable[str] | None = None,
    max_tag_values: int | None = None,
    default_tags: str | Mapping[str, str] | None = None,
    baggage_prefix: str | None = None,
    price_overrides: str | os.PathLike[str] | None = None,
    price_auto_update: bool | None = None,
    tokenizer_dir: str | os.PathLike[str] | None = None,
    estimate_usage: bool | None = None,
    stream_include_usage: bool | None = None,
    provider_hosts: str | Mapping[str, str] | None = None,
    disabled_instrumentors: str | Iterable[str] | None = None,
    configure_otel: bool | None = None,
    service_name: str | None = None,
    budgets: str | os.PathLike[str] | Policy | Guardrail | Iterable[Guardrail] | None = None,
    budget_store: str | None = None,
    budget_store_timeout_ms: int | None = None,
    budget_key_prefix: str | None = None,
) -> None:
    """Set up OpenTelemetry if the program has not, and instrument every supported LLM client.

    Every setting is keyword-only and optional: ``None`` (the default) means "not given", so the
    ``OTEL_TOKENS_*`` variable named in the README's table applies, else the default. A given
    value beats the variable. Strings are accepted wherever the variable's text form is (``"a,b"``
    for a list, ``"k=v,k2=v2"`` for a mapping). An invalid value raises :class:`ConfigurationError`
    naming the setting before anything changes; an unknown keyword raises ``TypeError``.
    Calling it again with the same settings does nothing; with new settings it re-instruments.

    Args:
        tracer_provider: Where spans go; default: the global provider (one is created if none is
            set and ``configure_otel`` is on). Given providers are used and nothing is set up.
        meter_provider: Where metric points go; as ``tracer_provider``.
        enabled: ``False`` instruments nothing (kill switch). Default ``True``.
        capture_content: Record prompt and completion text on spans. Default ``False``.
        metric_tag_keys: Tag keys allowed on metric points (``[a-z][a-z0-9_]{0,63}``).
            Default ``team, project, feature, cost_center``.
        max_tag_values: Distinct values per tag key on metrics before new ones fold into
            ``__overflow__``: 1 to 2000. Default 100.
        default_tags: Tags for every call, e.g. ``{"team": "search"}``.
        baggage_prefix: Baggage keys under this prefix become tags; non-empty, W3C baggage key
            characters. Default ``otel_tokens.tag.``.
        price_overrides: Path of a price override TOML file, read and validated now.
        price_auto_update: Let genai-prices fetch new prices over the network. Default ``False``.
        tokenizer_dir: An existing directory of ``.tiktoken`` rank files, searched first.
        estimate_usage: Count tokens locally when a response has no usage. Default ``True``.
        stream_include_usage: Ask OpenAI streams for usage (hidden from your code). Default ``False``.
        provider_hosts: ``host[:port]`` -> ``gen_ai.provider.name`` for gateways and self-hosted
            servers, e.g. ``{"vllm.internal:8000": "vllm"}``.
        disabled_instrumentors: Clients not to instrument, from ``anthropic``, ``bedrock``,
            ``cohere``, ``google_genai``, ``litellm``, ``mistralai``, ``ollama``, ``openai``.
        configure_otel: Let ``init()`` set up OTLP export when no provider is configured.
            Default ``True``.
        service_name: ``service.name`` of the providers ``init()`` creates; non-empty.
        budgets: Guardrails checked before every call: a :class:`~otel_tokens.Policy`, ``Budget``/
            ``Breaker``/``Catalogue`` objects, or the path of a policy TOML file (read and
            validated now; ``otel_tokens.reload_budgets()`` re-reads it). Default: none.
        budget_store: Where budget counters live: ``memory`` (this process, the default) or a
            Redis URL (``redis://host:6379/0``) shared by every process and host.
        budget_store_timeout_ms: The longest a call waits for the budget store, 1 to 10000 ms;
            past it the budget's ``fail_mode`` applies. Default 50.
        budget_key_prefix: Prefix of the budget store's Redis keys. Default ``otel_tokens``.
    """
    new = Settings.load(
        {
            "enabled": enabled,
            "capture_content": capture_content,
            "metric_tag_keys": metric_tag_keys,
            "max_tag_values": max_tag_values,
            "default_tags": default_tags,
            "baggage_prefix": baggage_prefix,
            "price_overrides": price_overrides,
            "price_auto_update": price_auto_update,
            "tokenizer_dir": tokenizer_dir,
            "estimate_usage": estimate_usage,
            "stream_include_usage": stream_include_usage,
            "provider_hosts": provider_hosts,
            "disabled_instrumentors": disabled_instrumentors,
            "configure_otel": configure_otel,
            "service_name": service_name,
            "budgets": budgets,
            "budget_store": budget_store,
            "budget_store_timeout_ms": budget_store_timeout_ms,
            "budget_key_prefix": budget_key_prefix,
        }
    )
    with _STATE.lock:
        if _STATE.initialised_with == new and _STATE.instrumentors:
            return
        _runtime.set_settings(new)
        _STATE.initialised_with = new
        if not new.enabled:
            uninstrument()
            return
        if new.configure_otel and tracer_provider is None and meter_provider is None:
            created = _providers.configure(new.service_name)
            if created.tracer_provider is not None or created.meter_provider is not None:
                _STATE.created = created
        uninstrument()
        instrument(tracer_provider=tracer_provider, meter_provider=meter_provider)
        if not _STATE.exit_hook_registered:
            # After the SDK's own exit hook of providers the user made, so it runs first: queued
            # estimates reach their exporters before they shut down. Ours it shuts down itself.
            atexit.register(_at_exit)
            _STATE.exit_hook_registered = True


def instrument(*, tracer_provider: Any = None, meter_provider: Any = None) -> list[str]:
    """Instrument every installed, supported client, using the given or global providers.

    For programs that configure OpenTelemetry themselves. Returns the names of the clients
    now instrumented. A client that is installed but unsupported is skipped with a WARNING.
    """
    settings = _runtime.settings()
    with _STATE.lock:
        instrumentors = _STATE.instrumentors
        for entry_point in entry_points(group=ENTRY_POINT_GROUP):
            if not entry_point.name.startswith(ENTRY_POINT_PREFIX) or entry_point.name in instrumentors:
                continue
            client = entry_point.name[len(ENTRY_POINT_PREFIX) :]
            if client in settings.disabled_instrumentors:
                continue
            try:
                instrumentor = entry_point.load()()
                if instrumentor.is_instrumented_by_opentelemetry:
                    # Instrumented by opentelemetry-instrument (instrumentors are singletons):
                    # again, so these settings and providers apply, and without the SDK's
                    # "already instrumented" warning.
                    instrumentor.uninstrument()
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
                instrumentors[entry_point.name] = instrumentor
            elif getattr(instrumentor, "is_instrumented_by_opentelemetry", False):
                instrumentor.uninstrument()  # client not installed: nothing patched, nothing listed
        return instrumented_clients()


def uninstrument() -> None:
    """Remove every wrapper otel-tokens installed."""
    with _STATE.lock:
        for instrumentor in _STATE.instrumentors.values():
            instrumentor.uninstrument()
        _STATE.instrumentors.clear()


def instrumented_clients() -> list[str]:
    """Names of the clients currently instrumented, e.g. ``["openai"]``."""
    return sorted(name[len(ENTRY_POINT_PREFIX) :] for name in _STATE.instrumentors)


def flush(timeout: float = 10.0) -> bool:
    """Finish pending token estimates and flush spans and metrics to the exporters.

    Returns within ``timeout`` seconds; False if not everything was done by then (a backend that
    does not answer: that is reported once, and the export goes on in the background).
    """
    deadline = time.monotonic() + timeout
    estimated = _worker.flush(timeout / 2)
    return _providers.force_flush(max(0.0, deadline - time.monotonic())) and estimated


def shutdown(timeout: float = 10.0) -> bool:
    """Finish pending estimates, then flush and shut down the providers ``init()`` created (the
    user's own are flushed), and uninstrument; all within ``timeout`` seconds.

    What cannot be sent by then (a backend refusing, not answering or failing) is dropped,
    counted and reported by one WARNING; nothing is retried past the deadline. Returns False
    in that case. At exit this runs by itself, bounded by 3 s (``_export.EXIT_TIMEOUT``).
    """
    deadline = time.monotonic() + timeout
    # At most half of the time for estimates: the export must get its share. Not under the
    # lock: an estimate may need it (the tokenizer is created on first use).
    estimated = _worker.flush(timeout / 2)
    with _STATE.lock:
        sent = _providers.shutdown(_STATE.created, max(0.0, deadline - time.monotonic()))
        uninstrument()
        _STATE.created = None
        _STATE.initialised_with = None
        return sent and estimated


def _at_exit() -> None:
    try:
        if _STATE.created is not None:
            shutdown(_export.EXIT_TIMEOUT)
        else:  # the user's providers: their own exit hook shuts them down after this one
            _worker.flush(_export.EXIT_TIMEOUT)
    except Exception as error:  # noqa: BLE001 - an exit must not end with our traceback
        report("exit", error)
