"""OpenTelemetry SDK set-up for programs that have none: OTLP export from the standard variables.

Used by ``init()`` only when no tracer (or meter) provider is configured yet; a program that
set up OpenTelemetry itself keeps exactly what it has. Exporters honour the standard
``OTEL_EXPORTER_OTLP_*`` variables (endpoint, protocol, headers, timeout, TLS) and the
resource honours ``OTEL_SERVICE_NAME`` and ``OTEL_RESOURCE_ATTRIBUTES`` and gets a random
``service.instance.id`` unless those give one. Export happens on the
SDK's background threads, so a backend that is down never blocks an LLM call; the exporters are
guarded (``otel_tokens._export``): failures are counted and reported once, and shutting down
takes at most the time it is given. A forked child gets its own ``service.instance.id`` and
starts with empty metrics (:func:`after_fork_in_child`).
"""

from __future__ import annotations

import logging
import os
import threading
import uuid
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    ConsoleMetricExporter,
    MetricExporter,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.resources import SERVICE_INSTANCE_ID, SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter

from otel_tokens import _export, _runtime, semconv
from otel_tokens._errors import ConfigurationError

logger = logging.getLogger("otel_tokens")

_PROTOCOLS = ("http/protobuf", "grpc")
_EXPORTERS = ("otlp", "console", "none")


@dataclass(slots=True, weakref_slot=True)
class CreatedProviders:
    """Providers ``init()`` created (and so must flush and shut down); None where the user's are kept."""

    tracer_provider: TracerProvider | None = None
    meter_provider: MeterProvider | None = None
    guards: tuple[_export.Guard, ...] = ()
    own_instance_id: bool = False
    """True when ``service.instance.id`` is ours (random), so a forked child gets a new one."""


def tracing_configured() -> bool:
    return not isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)


def metrics_configured() -> bool:
    return type(metrics.get_meter_provider()).__name__ != "_ProxyMeterProvider"


def configure(service_name: str | None) -> CreatedProviders:
    """Create and install SDK providers where none are configured; validate the variables first."""
    created = CreatedProviders()
    want_traces = not tracing_configured()
    want_metrics = not metrics_configured()
    if not (want_traces or want_metrics):
        return created
    span_factory = _span_exporter() if want_traces else None
    metric_factory = _metric_exporter() if want_metrics else None
    attributes = {SERVICE_NAME: service_name} if service_name else {}
    resource = Resource.create(attributes)
    if SERVICE_INSTANCE_ID not in resource.attributes:
        # Without it two processes of one service write the same metric series, and a cumulative
        # backend (Prometheus: job/instance labels) sees one counter jumping between their values.
        resource = resource.merge(Resource({SERVICE_INSTANCE_ID: str(uuid.uuid4())}))
        created.own_instance_id = True
    health = _export.ExportHealth()
    guards: list[_export.Guard] = []
    if want_traces:
        # Shut down by our exit hook within its bound, not by the SDK's unbounded one.
        provider = TracerProvider(resource=resource, shutdown_on_exit=False)
        if span_factory is not None:
            provider.add_span_processor(
                BatchSpanProcessor(_guarded(span_factory, _export.SpanExportGuard, health, guards))
            )
        trace.set_tracer_provider(provider)
        created.tracer_provider = provider
    if want_metrics:
        readers = []
        if metric_factory is not None:
            readers.append(
                PeriodicExportingMetricReader(
                    _guarded(metric_factory, _export.MetricExportGuard, health, guards)
                )
            )
        meter_provider = MeterProvider(resource=resource, metric_readers=readers, shutdown_on_exit=False)
        metrics.set_meter_provider(meter_provider)
        created.meter_provider = meter_provider
    created.guards = tuple(guards)
    if guards:
        # Counted on our own scope of the meter provider in force (ours, or the user's).
        health.counter = metrics.get_meter("otel_tokens").create_counter(
            semconv.OTEL_TOKENS_TELEMETRY_DROPPED,
            unit="{item}",
            description="Parts of a call's telemetry deliberately left out, by otel_tokens.drop.reason.",
        )
        health.endpoint = " and ".join(dict.fromkeys(guard.endpoint for guard in guards))
        signals = ["spans" if isinstance(guard, _export.SpanExportGuard) else "metrics" for guard in guards]
        _export.install_log_filter(health, signals)
        _runtime.STATE.export = health
    if hasattr(os, "register_at_fork"):
        # Registered after the SDK's own fork hooks of these providers, so it runs after them.
        os.register_at_fork(after_in_child=_renew_in_child(created))
    return created


def _choice(signal: str) -> tuple[str, str]:
    exporter_var = f"OTEL_{signal.upper()}_EXPORTER"
    exporter = os.environ.get(exporter_var, "otlp").strip().lower().split(",")[0] or "otlp"
    if exporter not in _EXPORTERS:
        raise ConfigurationError(
            f"{exporter_var}={exporter!r} is not supported by otel_tokens.init(); "
            f"accepted: {', '.join(_EXPORTERS)} (or configure OpenTelemetry yourself)"
        )
    protocol_var = f"OTEL_EXPORTER_OTLP_{signal.upper()}_PROTOCOL"
    protocol = (
        os.environ.get(protocol_var) or os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL") or "http/protobuf"
    )
    protocol = protocol.strip().lower()
    if protocol not in _PROTOCOLS:
        raise ConfigurationError(
            f"OTEL_EXPORTER_OTLP_PROTOCOL={protocol!r} is not supported; accepted: {', '.join(_PROTOCOLS)}"
        )
    return exporter, protocol


def _span_exporter() -> Callable[[], SpanExporter] | None:
    """How to make the span exporter the variables ask for (made again in a forked child)."""
    exporter, protocol = _choice("traces")
    if exporter == "none":
        return None
    if exporter == "console":
        return ConsoleSpanExporter
    module: Any = _otlp_module(protocol, "trace_exporter")
    return module.OTLPSpanExporter  # type: ignore[no-any-return]


def _metric_exporter() -> Callable[[], MetricExporter] | None:
    exporter, protocol = _choice("metrics")
    if exporter == "none":
        return None
    if exporter == "console":
        return ConsoleMetricExporter
    module: Any = _otlp_module(protocol, "metric_exporter")
    return module.OTLPMetricExporter  # type: ignore[no-any-return]


def _guarded(
    factory: Callable[[], Any],
    guard_type: type[_export.SpanExportGuard] | type[_export.MetricExportGuard],
    health: _export.ExportHealth,
    guards: list[_export.Guard],
) -> Any:
    """The exporter to use: an OTLP one behind its guard (added to ``guards``); console as is."""
    if factory is ConsoleSpanExporter or factory is ConsoleMetricExporter:
        return factory()
    guard = guard_type(factory, health)
    guards.append(guard)
    return guard


def _otlp_module(protocol: str, name: str) -> Any:
    import importlib

    package = "grpc" if protocol == "grpc" else "http"
    try:
        return importlib.import_module(f"opentelemetry.exporter.otlp.proto.{package}.{name}")
    except ImportError as error:
        raise ConfigurationError(
            f"OTLP protocol {protocol!r} needs opentelemetry-exporter-otlp-proto-{package}; "
            f"install it (pip install 'otel-tokens[grpc]') or use http/protobuf"
        ) from error


def shutdown(created: CreatedProviders | None, timeout: float) -> bool:
    """Shut down the providers ``init()`` created and flush the user's own, within ``timeout`` s.

    False when something could not be sent: that is counted, reported (once) and given up.
    """
    created = created or CreatedProviders()
    jobs: list[Callable[[], object]] = []
    if created.tracer_provider is not None:
        jobs.append(created.tracer_provider.shutdown)
    else:
        jobs += _flush_job(trace.get_tracer_provider(), timeout)
    if created.meter_provider is not None:
        jobs.append(lambda: created.meter_provider.shutdown(timeout_millis=timeout * 1000))  # type: ignore[union-attr]
    else:
        jobs += _flush_job(metrics.get_meter_provider(), timeout)
    return _run(jobs, timeout, created.guards)


def force_flush(timeout: float) -> bool:
    """Flush the global providers within ``timeout`` seconds; False when not everything was sent."""
    jobs = _flush_job(trace.get_tracer_provider(), timeout)
    jobs += _flush_job(metrics.get_meter_provider(), timeout)
    return _run(jobs, timeout)


def _run(jobs: list[Callable[[], object]], timeout: float, guards: tuple[_export.Guard, ...] = ()) -> bool:
    health = _runtime.STATE.export
    failures = health.failures if health is not None else 0
    finished = _export.run_within(jobs, timeout, guards, health)
    if health is None:
        return finished
    if not finished:
        health.warn_once(f"no answer within {timeout:.1f} s")
    return finished and health.failures == failures


def _flush_job(provider: Any, timeout: float) -> list[Callable[[], object]]:
    flush = getattr(provider, "force_flush", None)
    return [lambda: flush(int(timeout * 1000))] if callable(flush) else []


def _renew_in_child(created: CreatedProviders) -> Callable[[], None]:
    reference = weakref.ref(created)

    def renew() -> None:
        current = reference()
        if current is not None and current is _runtime.STATE.created:
            after_fork_in_child(current)

    return renew


def after_fork_in_child(created: CreatedProviders) -> None:
    """In a forked child: empty metric state, and a new ``service.instance.id`` when it is ours.

    Without this every child re-exports the parent's cumulative points as its own, so a sum over
    instances counts the parent's calls once per child. The SDK restarts its export threads after
    a fork (recent versions also renew the providers' locks and the ``service.instance.id`` they
    generate), but keeps the metric storage, whose locks a thread of the parent may have held: it
    is replaced here. That reaches into the SDK's internals, so a failure is logged, never raised.
    """
    if created.meter_provider is not None:
        try:
            consumer = created.meter_provider._measurement_consumer  # type: ignore[attr-defined]
            consumer._lock = threading.Lock()
            for reader in list(consumer._reader_storages):
                consumer.remove_metric_reader(reader)  # the consumer's: the reader is not shut down
                consumer.add_metric_reader(reader)
        except Exception:  # noqa: BLE001 - an SDK whose internals moved: say so, do not break the child
            logger.warning(
                "otel-tokens: this forked process could not empty the metric state it inherited; "
                "its metrics may count the parent's calls again",
                exc_info=True,
            )
    if created.own_instance_id:  # an SDK that does not generate (and renew) one itself
        new_id = Resource({SERVICE_INSTANCE_ID: str(uuid.uuid4())})
        for provider in (created.tracer_provider, created.meter_provider):
            update = getattr(provider, "_update_resource", None)
            if callable(update):
                update(new_id)
            elif provider is not None:
                logger.warning(
                    "otel-tokens: this forked process keeps its parent's service.instance.id (the "
                    "OpenTelemetry SDK cannot change it); set one per process in OTEL_RESOURCE_ATTRIBUTES"
                )
