"""The stack tests' sample workload, run as its own process the way an application runs.

It starts OpenTelemetry with ``otel_tokens.init()`` (OTLP export from the standard variables the
test sets), then runs the demo's multi-provider workload against the fake provider server
``--rounds`` times, pausing between rounds so Prometheus sees counters grow. Beyond the demo it
makes an untagged call (allocation accuracy), a call tagged with project and cost centre, and a
span from the "application" that carries credentials, which the gateway must mask.
Prompt and completion capture is on (the test sets the variable), so spans leave the process
with content that the gateway must remove.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from pathlib import Path

import openai
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
from otel_tokens_fake_providers import FakeProviderServer, Scenario

import otel_tokens
from otel_tokens.demo import run_other_providers, run_workload

# What a careless application might put on its own span; the gateway must mask both.
LEAKED_AUTHORIZATION = "Bearer sk-proj-LEAKEDLEAKEDLEAKEDLEAKED0123"
LEAKED_NOTE = "retrying with key sk-ant-api03-LEAKEDLEAKEDLEAKEDLEAKED"


class SentSpansFile(SpanExporter):
    """Writes what the process exported, so the test can compare it with what left the gateway."""

    def __init__(self, path: Path) -> None:
        self.file = path.open("w")

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        for span in spans:
            record = {
                "name": span.name,
                "span_id": format(span.context.span_id, "016x") if span.context else "",
                "attributes": {k: _plain(v) for k, v in (span.attributes or {}).items()},
                "events": [{"name": e.name, "attributes": dict(e.attributes or {})} for e in span.events],
            }
            self.file.write(json.dumps(record) + "\n")
        self.file.flush()
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        self.file.close()


def _plain(value: object) -> object:
    return list(value) if isinstance(value, tuple) else value


def run_round(server: FakeProviderServer) -> None:
    run_workload(server.url, server)
    run_other_providers(server.url, server)
    client = openai.OpenAI(base_url=server.url + "/v1", api_key="sk-stack-test-key", max_retries=0)
    # A nightly script nobody tagged: its spend shows up as unallocated.
    server.enqueue(Scenario(model="gpt-4o-mini-2024-07-18", prompt_tokens=9000, completion_tokens=400))
    client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "nightly batch"}]
    )
    with otel_tokens.tags(team="finance", project="forecasting", feature="month-end", cost_center="cc-4100"):
        server.enqueue(Scenario(model="gpt-4o-2024-08-06", prompt_tokens=2500, completion_tokens=350))
        client.chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": "close the books"}]
        )
    tracer = trace.get_tracer("stack-workload")
    with tracer.start_as_current_span("POST /checkout") as span:
        span.set_attribute("http.request.header.authorization", LEAKED_AUTHORIZATION)
        span.set_attribute("app.note", LEAKED_NOTE)
        span.add_event("retry", {"app.note": LEAKED_NOTE})


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--pause", type=float, default=5.0, help="seconds between rounds")
    parser.add_argument("--sent-spans", type=Path, required=True, help="JSON lines of every span exported")
    args = parser.parse_args()
    otel_tokens.init(service_name="bookshop")
    trace.get_tracer_provider().add_span_processor(SimpleSpanProcessor(SentSpansFile(args.sent_spans)))  # type: ignore[attr-defined]
    with FakeProviderServer() as server:
        for round_number in range(args.rounds):
            if round_number:
                time.sleep(args.pause)
            run_round(server)
            otel_tokens.flush()
    otel_tokens.shutdown()
    print("workload done", flush=True)


if __name__ == "__main__":
    main()
