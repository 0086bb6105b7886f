"""In-memory OpenTelemetry providers for tests: finished spans and metric points, readable at once."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    HistogramDataPoint,
    InMemoryMetricReader,
    MetricReader,
    NumberDataPoint,
)
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import Sampler

from otel_tokens import _worker


@dataclass(frozen=True, slots=True)
class Point:
    """One metric data point, flattened: histogram points give ``sum``, ``count`` and ``buckets``."""

    metric: str
    attributes: dict[str, Any]
    value: float | None = None
    sum: float | None = None
    count: int | None = None
    bucket_bounds: tuple[float, ...] = ()
    bucket_counts: tuple[int, ...] = ()


class InMemoryTelemetry:
    """A tracer provider and a meter provider that keep everything in memory.

    Pass ``tracer_provider`` and ``meter_provider`` to ``otel_tokens.init()`` or an
    instrumentor's ``instrument()``; then read :meth:`spans` and :meth:`points`. Both first
    wait for pending token estimates, so what a test reads is complete.
    """

    def __init__(
        self, sampler: Sampler | None = None, extra_metric_readers: list[MetricReader] | None = None
    ) -> None:
        self.span_exporter = InMemorySpanExporter()
        self.tracer_provider = TracerProvider(sampler=sampler) if sampler else TracerProvider()
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.span_exporter))
        self.metric_reader = InMemoryMetricReader()
        self.meter_provider = MeterProvider(
            metric_readers=[self.metric_reader, *(extra_metric_readers or [])]
        )

    def spans(self) -> tuple[ReadableSpan, ...]:
        _worker.flush()
        return self.span_exporter.get_finished_spans()

    def points(self, metric: str | None = None) -> list[Point]:
        """Current metric points (cumulative), optionally of one metric."""
        _worker.flush()
        return [p for p in self._points() if metric is None or p.metric == metric]

    def _points(self) -> Iterator[Point]:
        data = self.metric_reader.get_metrics_data()
        if data is None:
            return
        for resource_metrics in data.resource_metrics:
            for scope_metrics in resource_metrics.scope_metrics:
                for metric in scope_metrics.metrics:
                    for point in metric.data.data_points:
                        attributes = dict(point.attributes or {})
                        if isinstance(point, HistogramDataPoint):
                            yield Point(
                                metric.name,
                                attributes,
                                sum=point.sum,
                                count=point.count,
                                bucket_bounds=tuple(point.explicit_bounds),
                                bucket_counts=tuple(point.bucket_counts),
                            )
                        elif isinstance(point, NumberDataPoint):
                            yield Point(metric.name, attributes, value=point.value)

    def clear(self) -> None:
        """Forget finished spans (metric points are cumulative and stay)."""
        _worker.flush()
        self.span_exporter.clear()

    def shutdown(self) -> None:
        self.tracer_provider.shutdown()
        self.meter_provider.shutdown()
