"""OpenTelemetry SDK set-up for programs that have none: OTLP export from the standard variables.

Used by ``init()`` only when no tracer (or meter) provider is configured yet; a program that
set up OpenTelemetry itself keeps exactly what it has. Exporters honour the standard
``OTEL_EXPORTER_OTLP_*`` variables (endpoint, protocol, headers, timeout, TLS) and the
resource honours ``OTEL_SERVICE_NAME`` and ``OTEL_RESOURCE_ATTRIBUTES`` and gets a random
``service.instance.id`` unless those give one. Export happens on the
SDK's background threads, so a backend that is down never blocks an LLM call.
"""

from __future__ import annotations

import os
import uuid
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

from otel_tokens._errors import ConfigurationError

_PROTOCOLS = ("http/protobuf", "grpc")
_EXPORTERS = ("otlp", "console", "none")


@dataclass(slots=True)
class CreatedProviders:
    """Providers ``init()`` created (and so must flush and shut down); None where the user's are kept."""

    tracer_provider: TracerProvider | None = None
    meter_provider: MeterProvider | None = None


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
    span_exporter = _span_exporter() if want_traces else None
    metric_exporter = _metric_exporter() if want_metrics else None
    attributes = {SERVICE_NAME: service_name} if service_name else {}
    resource = Resource.create(attributes)
    if SERVICE_INSTANCE_ID not in resource.attributes:
        # Without it two processes of one service write the same metric series, and a cumulative
        # backend (Prometheus: job/instance labels) sees one counter jumping between their values.
        resource = resource.merge(Resource({SERVICE_INSTANCE_ID: str(uuid.uuid4())}))
    if want_traces:
        provider = TracerProvider(resource=resource)
        if span_exporter is not None:
            provider.add_span_processor(BatchSpanProcessor(span_exporter))
        trace.set_tracer_provider(provider)
        created.tracer_provider = provider
    if want_metrics:
        readers = [PeriodicExportingMetricReader(metric_exporter)] if metric_exporter is not None else []
        meter_provider = MeterProvider(resource=resource, metric_readers=readers)
        metrics.set_meter_provider(meter_provider)
        created.meter_provider = meter_provider
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


def _span_exporter() -> SpanExporter | None:
    exporter, protocol = _choice("traces")
    if exporter == "none":
        return None
    if exporter == "console":
        return ConsoleSpanExporter()
    module: Any = _otlp_module(protocol, "trace_exporter")
    return module.OTLPSpanExporter()


def _metric_exporter() -> MetricExporter | None:
    exporter, protocol = _choice("metrics")
    if exporter == "none":
        return None
    if exporter == "console":
        return ConsoleMetricExporter()
    module: Any = _otlp_module(protocol, "metric_exporter")
    return module.OTLPMetricExporter()


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


def shutdown(created: CreatedProviders, timeout_millis: int = 10_000) -> None:
    """Flush and shut down the providers ``init()`` created; flush the user's own."""
    for provider in (created.tracer_provider, created.meter_provider):
        if provider is not None:
            provider.shutdown()
    if created.tracer_provider is None:
        _flush(trace.get_tracer_provider(), timeout_millis)
    if created.meter_provider is None:
        _flush(metrics.get_meter_provider(), timeout_millis)


def force_flush(timeout_millis: int = 10_000) -> None:
    _flush(trace.get_tracer_provider(), timeout_millis)
    _flush(metrics.get_meter_provider(), timeout_millis)


def _flush(provider: Any, timeout_millis: int) -> None:
    flush = getattr(provider, "force_flush", None)
    if callable(flush):
        flush(timeout_millis)
