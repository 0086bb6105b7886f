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
import contextlib
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
    run_guardrails(client, server)
    tracer = trace.get_tracer("stack-workload")
    with tracer.start_as_current_span("POST /checkout") as span:
        span.set_attribute("http.request.header.authorization", LEAKED_AUTHORIZATION)
        span.set_attribute("app.note", LEAKED_NOTE)
        span.add_event("retry", {"app.note": LEAKED_NOTE})


FINANCE = {"team": "finance", "project": "forecasting", "feature": "month-end", "cost_center": "cc-4100"}
"""The finance call's tags: guardrail traffic reuses them, so the tag assertions hold as before."""

POLICY = [
    # Every team's spend this month, one counter per team: the budget gauges per group.
    # Unpriced calls are allowed at 0 here, so the gauge equals the priced spend of the spans (the
    # default, "estimate", would charge them at a top-tier rate).
    otel_tokens.Budget("team-monthly", limit=50.0, group_by=["team"], action="warn", on_unpriced="allow"),
    # Finance's day: the first gpt-4o call (0.00975 USD) passes 50% and 80%, the second 100%;
    # a gpt-4o worst case (16,384 output tokens) never fits, so its calls are warned about.
    otel_tokens.Budget("finance-daily", limit=0.01, window="day", match={"team": "finance"}, action="warn"),
    # o1 is approved for finance, but no budget for it: blocked before the request is sent.
    otel_tokens.Budget("finance-no-o1", limit=0, match={"team": "finance", "model": "o1*"}),
    # gpt-4.1 is not approved for finance: sent to gpt-4o-mini instead (unapproved spend).
    otel_tokens.Catalogue(
        "finance-models",
        match={"team": "finance"},
        models=["gpt-4o", "gpt-4o-mini", "o1"],
        action="downgrade",
        downgrade_to="gpt-4o-mini",
    ),
    # Platform may only embed with OpenAI: its other calls are let through, as unapproved spend.
    otel_tokens.Catalogue(
        "platform-models", match={"team": "platform"}, models=["text-embedding-3-*"], action="warn"
    ),
    # More than two gpt-4o-mini calls a minute from finance is a runaway: the breaker opens.
    otel_tokens.Breaker(
        "finance-runaway",
        match={"team": "finance", "model": "gpt-4o-mini"},
        max_calls_per_minute=2,
        deviations=None,
        cooldown_seconds=600,
    ),
]


def run_guardrails(client: openai.OpenAI, server: FakeProviderServer) -> None:
    """Calls that exercise every guardrail series: warned, blocked, downgraded, a breaker that
    opens, and a provider's own spending cap."""
    with otel_tokens.tags(**FINANCE):
        for model in ("o1", "gpt-4.1", "gpt-4o-mini", "gpt-4o-mini"):
            with contextlib.suppress(otel_tokens.GuardrailError):
                client.chat.completions.create(
                    model=model, max_tokens=50, messages=[{"role": "user", "content": "forecast"}]
                )
        server.enqueue(
            Scenario(
                error_status=429,
                error_type="insufficient_quota",
                error_code="organization_spend_limit_exceeded",
            )
        )
        with contextlib.suppress(openai.RateLimitError):
            client.chat.completions.create(
                model="gpt-4o", max_tokens=50, messages=[{"role": "user", "content": "forecast"}]
            )


def store_down(sent_spans: Path) -> None:
    """A service whose Redis budget store does not answer: fail-open calls, counted store errors."""
    otel_tokens.init(
        service_name="bookshop-batch",
        budgets=[otel_tokens.Budget("batch", limit=10.0)],
        budget_store="redis://127.0.0.1:9/0",  # the discard port: nothing listens
    )
    trace.get_tracer_provider().add_span_processor(SimpleSpanProcessor(SentSpansFile(sent_spans)))  # type: ignore[attr-defined]
    with FakeProviderServer() as server:
        client = openai.OpenAI(base_url=server.url + "/v1", api_key="sk-stack-test-key", max_retries=0)
        with otel_tokens.tags(team="platform"):
            client.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": "batch"}]
            )
        otel_tokens.flush()
    otel_tokens.shutdown()
    print("store-down workload done", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--pause", type=float, default=5.0, help="seconds between rounds")
    parser.add_argument("--sent-spans", type=Path, required=True, help="JSON lines of every span exported")
    parser.add_argument("--store-down", action="store_true", help="run the budget-store-down service")
    args = parser.parse_args()
    if args.store_down:
        store_down(args.sent_spans)
        return
    otel_tokens.init(service_name="bookshop", budgets=POLICY)
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
