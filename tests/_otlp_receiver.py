"""A minimal OTLP/HTTP receiver on 127.0.0.1 for tests: decodes exported spans and metric names.

It also keeps every request's headers and raw (decompressed) body, so a test can prove what a
sender did or did not put on the wire.
"""

from __future__ import annotations

import gzip
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest


def _value(any_value: Any) -> Any:
    kind = any_value.WhichOneof("value")
    if kind == "array_value":
        return tuple(_value(v) for v in any_value.array_value.values)
    return getattr(any_value, kind) if kind else None


class OtlpReceiver:
    """Collects spans (name, attributes, resource attributes) and metric points (name, scope,
    attributes, resource attributes; a histogram's sum and count, a counter's value)."""

    def __init__(self) -> None:
        self.spans: list[dict[str, Any]] = []
        self.metrics: list[dict[str, Any]] = []
        self.requests: list[tuple[str, dict[str, str], bytes]] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                receiver._ingest(self.path, body, dict(self.headers.items()))
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}"

    def __enter__(self) -> OtlpReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _ingest(self, path: str, body: bytes, headers: dict[str, str]) -> None:
        with self.lock:
            self.requests.append((path, headers, body))
            if path.endswith("/v1/traces"):
                request = ExportTraceServiceRequest.FromString(body)
                for resource_spans in request.resource_spans:
                    resource = {a.key: _value(a.value) for a in resource_spans.resource.attributes}
                    for scope_spans in resource_spans.scope_spans:
                        for span in scope_spans.spans:
                            self.spans.append(
                                {
                                    "name": span.name,
                                    "span_id": span.span_id.hex(),
                                    "attributes": {a.key: _value(a.value) for a in span.attributes},
                                    "events": [
                                        {
                                            "name": e.name,
                                            "attributes": {a.key: _value(a.value) for a in e.attributes},
                                        }
                                        for e in span.events
                                    ],
                                    "resource": resource,
                                }
                            )
            elif path.endswith("/v1/metrics"):
                request = ExportMetricsServiceRequest.FromString(body)
                for resource_metrics in request.resource_metrics:
                    resource = {a.key: _value(a.value) for a in resource_metrics.resource.attributes}
                    for scope_metrics in resource_metrics.scope_metrics:
                        for metric in scope_metrics.metrics:
                            kind = metric.WhichOneof("data")
                            histogram = kind == "histogram"
                            for point in getattr(metric, kind).data_points:
                                self.metrics.append(
                                    {
                                        "name": metric.name,
                                        "scope": scope_metrics.scope.name,
                                        "attributes": {a.key: _value(a.value) for a in point.attributes},
                                        "sum": point.sum if histogram else None,
                                        "count": point.count if histogram else None,
                                        "value": None if histogram else point.as_int or point.as_double,
                                        "resource": resource,
                                    }
                                )
