"""Export that a dead backend cannot turn against the host: bounded, counted, reported once.

Applies to the exporters and providers ``init()`` creates; a program that set up OpenTelemetry
itself keeps exactly what it configured.

* :class:`SpanExportGuard` and :class:`MetricExportGuard` wrap the OTLP exporters. A batch that
  cannot be sent (refused, no answer, an error status, after the exporter's own retries) is
  counted on ``otel_tokens.telemetry.dropped`` (``span_export_failed``: spans;
  ``metric_export_failed``: metric points) and the first failure of the process logs one
  WARNING naming the endpoint and the error. The exporters' own per-attempt messages (a page of
  them per batch, with the retry delays) are logged at DEBUG level instead.
* :func:`run_within` runs shutdowns and flushes on helper threads and returns at a deadline;
  before it, the guarded exporters are stopped, so nothing is retried past the bound and a
  request the backend never answers is abandoned. What was still unsent is reported (once).
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from opentelemetry.sdk.metrics.export import MetricExporter, MetricExportResult, MetricsData
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from otel_tokens import _runtime, semconv

logger = logging.getLogger("otel_tokens")

EXIT_TIMEOUT = 3.0
"""Seconds a program's exit waits for pending estimates and export (the providers ``init()``
created); what is not sent by then is dropped and reported. ``shutdown(timeout=...)`` sets
its own bound."""

# Loggers whose WARNING and ERROR lines about a failed export are demoted to DEBUG, per signal
# whose exporter is ours: the one WARNING of ExportHealth says it once, with the endpoint and
# the error. The batch span processor's says "Queue full, dropping span." once per span.
_BATCH_PROCESSOR_LOGGER = "opentelemetry.sdk._shared_internal"
_COMMON = ("opentelemetry.exporter.otlp.common.http", "opentelemetry.exporter.otlp.proto.grpc.exporter")
EXPORTER_LOGGERS = {
    "spans": ("opentelemetry.exporter.otlp.proto.http.trace_exporter", *_COMMON, _BATCH_PROCESSOR_LOGGER),
    "metrics": ("opentelemetry.exporter.otlp.proto.http.metric_exporter", *_COMMON),
}


class ExportHealth:
    """Export failures of this process: counted on a metric, reported by one WARNING."""

    def __init__(self) -> None:
        self.counter: Any = None
        """``otel_tokens.telemetry.dropped`` on our own meter, once the providers exist."""
        self.endpoint = "the OTLP endpoint"
        """Where the guarded exporters send (set once they exist), for the WARNING."""
        self.loggers: frozenset[str] = frozenset()
        """The loggers of the exporters that are ours, whose failure lines are demoted."""
        self._lock = threading.Lock()
        self.warned = False
        self.last_error: str | None = None
        self.refused = threading.Event()
        """Set when a connection was refused: nothing listens there, so retrying is pointless."""
        self.failures = 0
        """Exports that failed (batches, and spans a full queue dropped), to tell whether a
        flush or shutdown sent everything."""

    def failed(self, reason: str, items: int) -> None:
        """``items`` spans or metric points could not be sent: count them, warn the first time."""
        with self._lock:
            self.failures += 1
        if items and self.counter is not None:
            try:
                self.counter.add(items, {semconv.OTEL_TOKENS_DROP_REASON: reason})
            except Exception:  # noqa: BLE001 - counting must not break the exporter thread
                logger.debug("otel-tokens: counting dropped telemetry failed", exc_info=True)
        self.warn_once(self.last_error or "the export failed")

    def warn_once(self, error: str) -> None:
        with self._lock:
            if self.warned:
                return
            self.warned = True
        logger.warning(
            "otel-tokens: cannot send telemetry to %s (%s). Spans and metric points that cannot be "
            "sent are dropped and counted on otel_tokens.telemetry.dropped; this is said once, "
            "further export errors are logged at DEBUG level. Start a collector there, point "
            "OTEL_EXPORTER_OTLP_ENDPOINT at one, set OTEL_TRACES_EXPORTER=console and "
            "OTEL_METRICS_EXPORTER=console to print to the console instead, or =none to turn "
            "export off.",
            self.endpoint,
            error,
        )

    def note(self, record: logging.LogRecord) -> None:
        """Keep the error an exporter logged, for the WARNING; count spans a full queue dropped."""
        if record.name == _BATCH_PROCESSOR_LOGGER:
            self.last_error = "the span export queue is full: the backend does not keep up"
            self.failed(semconv.DROP_SPAN_EXPORT_FAILED, 1)
            return
        error = _short_error(record)
        if error is not None:
            self.last_error = error
            if error == "connection refused":
                self.refused.set()

    def after_fork_in_child(self) -> None:
        """The child reports its own export problems, once."""
        self._lock = threading.Lock()
        self.warned = False
        self.failures = 0
        self.refused = threading.Event()


class _DemoteExportLogs(logging.Filter):
    """Lets the exporters' WARNING/ERROR records through as DEBUG, after ExportHealth noted them."""

    def filter(self, record: logging.LogRecord) -> bool:
        health = _runtime.STATE.export
        if health is None or record.levelno <= logging.DEBUG or record.name not in health.loggers:
            return True
        if record.name == _BATCH_PROCESSOR_LOGGER and not str(record.msg).startswith("Queue full"):
            return True
        health.note(record)
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return True


_DEMOTE = _DemoteExportLogs()


def install_log_filter(health: ExportHealth, signals: Sequence[str]) -> None:
    """Demote the failure lines of our exporters of ``signals`` ("spans", "metrics") while
    ``health`` is the process's (idempotent)."""
    health.loggers = frozenset(name for signal in signals for name in EXPORTER_LOGGERS[signal])
    for name in health.loggers:
        log = logging.getLogger(name)
        if _DEMOTE not in log.filters:
            log.addFilter(_DEMOTE)


def _short_error(record: logging.LogRecord) -> str | None:
    """The error in an exporter's log line, briefly; None for lines that name none."""
    try:
        message = record.getMessage()
    except Exception:  # noqa: BLE001
        return None
    errno = re.search(r"\[Errno -?\d+\] ([^'\")\]]+)", message)
    if errno:
        return errno.group(1).strip().lower()
    if "timed out" in message.lower():
        return "no answer: timed out"
    status = re.search(r"code: (\d{3})(?:, reason: ([^,]+))?", message)
    if status:
        return f"HTTP {status.group(1)}" + (f" {status.group(2)}" if status.group(2) else "")
    transient = re.match(r"Transient error (.+?) encountered while exporting", message)
    if transient:
        return transient.group(1)[:160]
    return None


def _endpoint(exporter: Any) -> str:
    endpoint = getattr(exporter, "_endpoint", None)
    return endpoint if isinstance(endpoint, str) and endpoint else "the OTLP endpoint"


class Guard:
    """What both guards share: the wrapped exporter, rebuilt in a forked child, and stopping."""

    def __init__(self, factory: Callable[[], Any], health: ExportHealth) -> None:
        self._factory = factory
        self._inner = factory()
        self._pid = os.getpid()
        self._health = health
        self._stopped = False
        self._stop_lock = threading.Lock()
        self.endpoint = _endpoint(self._inner)

    def _exporter(self) -> Any:
        if self._pid != os.getpid():
            # A forked child: the parent's exporter holds the parent's pooled connections, which
            # the two processes must not share. Make our own (not closing those: they are the parent's).
            self._inner, self._pid = self._factory(), os.getpid()
            self._stopped, self._stop_lock = False, threading.Lock()
        return self._inner

    def _send(
        self,
        send: Callable[[Any], Any],
        success: Any,
        failure: Any,
        reason: str,
        items: Callable[[], int],
    ) -> Any:
        """``send(exporter)``, unless stopped; what is not sent is counted under ``reason``.

        An exception becomes ``failure``: the SDK's processor or reader would log a traceback
        per batch.
        """
        inner = self._exporter()
        result = failure
        if not self._stopped:
            try:
                result = send(inner)
            except Exception as error:  # noqa: BLE001
                self._health.last_error = self._health.last_error or repr(error)
        if result is not success:
            self._health.failed(reason, items())
        return result

    def stop(self) -> None:
        """Shut the exporter down now: a retry waiting ends, no new export is attempted."""
        with self._stop_lock:
            if self._stopped:
                return
            self._stopped = True
        try:
            self._exporter().shutdown()
        except Exception:  # noqa: BLE001
            logger.debug("otel-tokens: shutting down an exporter failed", exc_info=True)


class SpanExportGuard(Guard, SpanExporter):
    """A span exporter whose failures are counted and reported once (see the module doc)."""

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return self._send(  # type: ignore[no-any-return]
            lambda inner: inner.export(spans),
            SpanExportResult.SUCCESS,
            SpanExportResult.FAILURE,
            semconv.DROP_SPAN_EXPORT_FAILED,
            lambda: len(spans),
        )

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        self.stop()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return True  # nothing is buffered here


class MetricExportGuard(Guard, MetricExporter):
    """A metric exporter whose failures are counted and reported once (see the module doc)."""

    def __init__(self, factory: Callable[[], Any], health: ExportHealth) -> None:
        Guard.__init__(self, factory, health)
        MetricExporter.__init__(
            self,
            preferred_temporality=self._inner._preferred_temporality,
            preferred_aggregation=self._inner._preferred_aggregation,
        )

    def export(
        self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any
    ) -> MetricExportResult:
        return self._send(  # type: ignore[no-any-return]
            lambda inner: inner.export(metrics_data, timeout_millis=timeout_millis, **kwargs),
            MetricExportResult.SUCCESS,
            MetricExportResult.FAILURE,
            semconv.DROP_METRIC_EXPORT_FAILED,
            lambda: _points(metrics_data),
        )

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        self.stop()

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return True  # nothing is buffered here


def _points(data: MetricsData) -> int:
    return sum(
        len(metric.data.data_points)
        for resource_metrics in data.resource_metrics
        for scope_metrics in resource_metrics.scope_metrics
        for metric in scope_metrics.metrics
    )


def run_within(
    jobs: Sequence[Callable[[], object]],
    timeout: float,
    guards: Sequence[Guard] = (),
    health: ExportHealth | None = None,
) -> bool:
    """Run ``jobs`` at once on daemon threads and return when all are done or ``timeout`` passed.

    A quarter of the time before the deadline (at most 0.5 s) the ``guards`` are stopped, so an
    export still retrying gives up and is counted, and the rest of the time lets it end. They
    are stopped at once when ``health`` sees a connection refused meanwhile: nothing listens
    there, and waiting for retries would only delay the program's exit. True when every job
    finished. A job left running (a request the backend never answers) is abandoned: its thread
    is a daemon and does not keep the process alive.
    """
    timeout = max(timeout, 0.0)
    deadline = time.monotonic() + timeout
    stop_at = deadline - min(0.5, timeout / 4)
    refused = health.refused if health is not None else threading.Event()
    refused.clear()  # refused earlier: the backend may be up by now
    threads = [threading.Thread(target=job, name="otel-tokens-shutdown", daemon=True) for job in jobs]
    for thread in threads:
        thread.start()
    while any(thread.is_alive() for thread in threads) and time.monotonic() < stop_at:
        if refused.wait(min(0.05, max(0.0, stop_at - time.monotonic()))):
            break
    if any(thread.is_alive() for thread in threads):
        for guard in guards:
            guard.stop()
    _join(threads, deadline)
    return not any(thread.is_alive() for thread in threads)


def _join(threads: Sequence[threading.Thread], deadline: float) -> None:
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
