"""A realistic instrumented workload against the local fake provider, printing what was recorded.

Run with ``uv run otel-tokens-demo`` (or ``python -m otel_tokens.demo``). Needs no account and
no network: the real openai, anthropic, google-genai, boto3, cohere and ollama SDKs (those that
are installed; openai at least) talk to the fake provider server on 127.0.0.1. The server, the
instrumentors and the SDKs are not dependencies of the core: ``pip install "otel-tokens[demo]"``
installs them, and without them the demo says so in one line and exits with status 2.
Set ``OTEL_EXPORTER_OTLP_ENDPOINT`` to also send the telemetry to a collector.

:func:`run` is the demo without its command line: ``otel-tokens-demo`` and ``otel-tokens demo``
(with a progress display) both call it, so they run the same workload and print the same summary.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import logging
import os
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import otel_tokens
from otel_tokens.testing import InMemoryTelemetry

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import ReadableSpan
    from otel_tokens_fake_providers import FakeProviderServer

# Imported only when the demo runs (they are in the "demo" extra, not in the core's dependencies);
# the other providers' SDKs are optional: their part of the workload is skipped without them.
_REQUIRED = ("otel_tokens_fake_providers", "otel_tokens_openai", "openai")
_MISSING = (
    "the demo needs the fake providers, the instrumentors and the client SDKs ({} is not installed): "
    'pip install "otel-tokens[demo]"'
)

SYSTEM: Any = {"role": "system", "content": "You are a concise assistant for an online bookshop. " * 40}

STEPS_PER_ROUND = 8
"""Parts of one round of the workload, each reported to :attr:`Progress.step` when done (or
skipped because its SDK is not installed)."""


def _nothing(*args: object) -> None:
    pass


@dataclass(frozen=True, slots=True)
class Progress:
    """What :func:`run` tells its caller while it runs; every callback is optional.

    ``started(server_url, instrumented_clients)`` once the fake providers listen,
    ``step(name)`` after each part of the workload (:data:`STEPS_PER_ROUND` a round), and
    ``round_done(number, rounds)`` after each round (counted from 1).
    """

    started: Callable[[str, list[str]], None] = _nothing
    step: Callable[[str], None] = _nothing
    round_done: Callable[[int, int], None] = _nothing


class DemoUnavailable(Exception):
    """A module the demo needs is not installed; the message says what to install."""


def run_workload(base_url: str, server: FakeProviderServer, done: Callable[[str], None] = _nothing) -> None:
    """What a small product does in a minute: autocomplete, support summaries, an agent, RAG."""
    import openai
    from otel_tokens_fake_providers import Scenario

    client = openai.OpenAI(base_url=base_url + "/v1", api_key="sk-demo-not-a-real-key", max_retries=0)

    with otel_tokens.tags(team="search", feature="autocomplete"):
        for query in ("dune", "dune messiah", "dune messiah hardcover"):
            server.enqueue(
                Scenario(
                    model="gpt-4o-mini-2024-07-18",
                    prompt_tokens=1850,
                    cached_tokens=1664,
                    completion_tokens=24,
                    text=f"Suggestions for {query!r}",
                )
            )
            client.chat.completions.create(
                model="gpt-4o-mini", messages=[SYSTEM, {"role": "user", "content": query}]
            )
    done("openai: search/autocomplete")

    with otel_tokens.tags(team="support", feature="ticket-summary", user="agent-17"):
        server.enqueue(
            Scenario(
                model="gpt-4o-2024-08-06",
                prompt_tokens=3200,
                completion_tokens=180,
                chunks=12,
                text="The customer reports a damaged parcel and asks for a refund.",
            )
        )
        stream = client.responses.create(model="gpt-4o", input="Summarise ticket #4411", stream=True)
        for _ in stream:
            pass
        # A stream whose caller did not ask for usage: counted locally, flagged as an estimate.
        server.enqueue(Scenario(text="Refund approved; label sent to the customer by e-mail.", chunks=8))
        for _ in client.chat.completions.create(
            model="gpt-4o-mini",
            stream=True,
            messages=[{"role": "user", "content": "Draft a reply to ticket #4411"}],
        ):
            pass
    done("openai: support/ticket-summary")

    with otel_tokens.tags(team="research", feature="pricing-agent"):
        for step in range(3):
            server.enqueue(
                Scenario(
                    model="gpt-5-2025-08-07",
                    prompt_tokens=4000 + 900 * step,
                    completion_tokens=1200,
                    reasoning_tokens=960,
                    service_tier="default",
                )
            )
            client.chat.completions.create(
                model="gpt-5", messages=[{"role": "user", "content": f"step {step}"}]
            )
        server.enqueue(
            Scenario(
                model="gpt-5-2025-08-07",
                prompt_tokens=5200,
                completion_tokens=800,
                reasoning_tokens=512,
                service_tier="priority",
            )
        )
        client.chat.completions.create(
            model="gpt-5",
            service_tier="priority",
            messages=[{"role": "user", "content": "final answer, fast"}],
        )
    done("openai: research/pricing-agent")

    with otel_tokens.tags(team="platform", feature="rag-index"):
        server.enqueue(Scenario(prompt_tokens=12_400))
        client.embeddings.create(model="text-embedding-3-small", input=[f"chunk {i}" for i in range(64)])
        # A fine-tuned model nobody priced yet: no made-up cost, counted as unpriced.
        server.enqueue(Scenario(prompt_tokens=700, completion_tokens=90))
        client.chat.completions.create(
            model="ft:gpt-4o-mini:bookshop::x7", messages=[{"role": "user", "content": "hi"}]
        )
        server.enqueue(Scenario(error_status=429))
        # A rate limit: recorded as an error on its span; the app moves on.
        with contextlib.suppress(openai.RateLimitError):
            client.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": "again"}]
            )
    done("openai: platform/rag-index")


def run_other_providers(
    base_url: str, server: FakeProviderServer, done: Callable[[str], None] = _nothing
) -> None:
    """The same product's other providers; each part runs only if its SDK is installed."""
    from otel_tokens_fake_providers import Scenario

    with contextlib.suppress(ImportError), otel_tokens.tags(team="support", feature="ticket-summary"):
        import anthropic

        claude = anthropic.Anthropic(base_url=base_url, api_key="sk-ant-demo", max_retries=0)
        # Prompt caching: 200 tokens written to the cache on the first call, read on the second.
        for written, read in ((2048, 0), (0, 2048)):
            server.enqueue(
                Scenario(
                    prompt_tokens=150,
                    cache_creation_tokens=written,
                    cached_tokens=read,
                    completion_tokens=220,
                    text="Summary: parcel damaged in transit; refund issued.",
                )
            )
            with claude.messages.stream(
                model="claude-sonnet-4-6",  # a current model: 4-5 reached end of life on 2026-11-30
                max_tokens=400,
                system=[
                    {"type": "text", "text": "Ticket history...", "cache_control": {"type": "ephemeral"}}
                ],
                messages=[{"role": "user", "content": "Summarise ticket #4412"}],
            ) as stream:
                stream.get_final_message()
    done("anthropic: support/ticket-summary")

    with contextlib.suppress(ImportError), otel_tokens.tags(team="research", feature="market-scan"):
        from google import genai
        from google.genai import types

        gemini = genai.Client(
            api_key="demo-key", http_options=types.HttpOptions(base_url=base_url, api_version="v1beta")
        )
        # A thinking model: thoughts are billed as output but reported beside the candidates.
        server.enqueue(Scenario(prompt_tokens=2400, completion_tokens=600, reasoning_tokens=1400))
        gemini.models.generate_content(model="gemini-2.5-flash", contents="Compare three e-reader prices")
    done("gemini: research/market-scan")

    with contextlib.suppress(ImportError), otel_tokens.tags(team="search", feature="query-rewrite"):
        import boto3
        from botocore.config import Config

        bedrock = boto3.client(
            "bedrock-runtime",
            endpoint_url=base_url,
            region_name="us-east-1",
            aws_access_key_id="AKIADEMO",
            aws_secret_access_key="demo-secret",
            config=Config(retries={"total_max_attempts": 1}),
        )
        # A cross-region inference profile: priced as the model inside it.
        server.enqueue(Scenario(prompt_tokens=640, completion_tokens=40))
        bedrock.converse(
            modelId="us.amazon.nova-lite-v1:0",
            messages=[{"role": "user", "content": [{"text": "rewrite: cheap dune books"}]}],
        )
    done("bedrock: search/query-rewrite")

    with contextlib.suppress(ImportError), otel_tokens.tags(team="platform", feature="rag-index"):
        import cohere

        reranker = cohere.ClientV2(api_key="demo-key", base_url=base_url)
        # Billed in search units, which need a per_search_unit override to be priced.
        reranker.rerank(model="rerank-v3.5", query="dune", documents=["Dune", "Emma", "Dune Messiah"])
        import ollama

        local = ollama.Client(host=base_url)
        # A local model: tokens counted, cost 0 unless an override prices GPU time.
        server.enqueue(Scenario(prompt_tokens=900, completion_tokens=120))
        local.chat(model="llama3.1", messages=[{"role": "user", "content": "Tag this chunk"}])
    done("cohere and ollama: platform/rag-index")


def _row(values: Iterable[Any], widths: Iterable[int]) -> str:
    cells = zip(values, widths, strict=True)
    return "  ".join(str(v).ljust(w) if i < 3 else str(v).rjust(w) for i, (v, w) in enumerate(cells))


def report(telemetry: InMemoryTelemetry) -> str:
    """The recorded spans as a table, then spend by team and by model."""
    lines = []
    widths = (24, 24, 28, 6, 6, 6, 9, 9, 9)
    header = ("call", "model", "team/feature", "input", "cached", "output", "reasoning", "cost USD", "note")
    lines.append(_row(header, widths))
    by_team: dict[str, float] = defaultdict(float)
    by_model: dict[str, float] = defaultdict(float)
    # In the order the calls were made: a span whose tokens were estimated ends later, on the
    # background worker.
    for span in sorted(telemetry.spans(), key=lambda span: span.start_time or 0):
        a: dict[str, Any] = dict(span.attributes or {})
        amount = a.get("gen_ai.usage.cost.amount")
        note = (
            ("estimated" if a.get("otel_tokens.usage.estimated") else "")
            or ("unpriced" if a.get("otel_tokens.price.missing") else "")
            or a.get("error.type", "")
            or (a.get("otel_tokens.price.service_tier", ""))
        )
        team = f"{a.get('otel_tokens.tag.team', '-')}/{a.get('otel_tokens.tag.feature', '-')}"[:28]
        lines.append(
            _row(
                (
                    f"{a.get('gen_ai.provider.name', '?')} {a.get('gen_ai.operation.name', '')}"[:24],
                    a.get("gen_ai.response.model", a.get("gen_ai.request.model", ""))[:24],
                    team,
                    a.get("gen_ai.usage.input_tokens", "-"),
                    a.get("gen_ai.usage.cache_read.input_tokens", "-"),
                    a.get("gen_ai.usage.output_tokens", "-"),
                    a.get("gen_ai.usage.reasoning.output_tokens", "-"),
                    f"{amount:.6f}" if amount is not None else "-",
                    note,
                ),
                widths,
            )
        )
        if amount is not None:
            by_team[a.get("otel_tokens.tag.team", "(untagged)")] += amount
            by_model[a.get("gen_ai.response.model") or a.get("gen_ai.request.model", "?")] += amount
    lines.append("")
    lines.append("spend by team:   " + ", ".join(f"{k} ${v:.4f}" for k, v in sorted(by_team.items())))
    lines.append("spend by model:  " + ", ".join(f"{k} ${v:.4f}" for k, v in sorted(by_model.items())))
    total = sum(p.sum or 0 for p in telemetry.points("otel_tokens.client.cost"))
    unpriced = sum(p.value or 0 for p in telemetry.points("otel_tokens.client.unpriced_calls"))
    lines.append(f"metrics:         otel_tokens.client.cost sum ${total:.4f}; unpriced calls {unpriced:g}")
    series = {(p.metric, tuple(sorted(p.attributes.items()))) for p in telemetry.points()}
    lines.append(f"                 {len(series)} metric series across {len({m for m, _ in series})} metrics")
    return "\n".join(lines)


def _telemetry(export_to: str | None = None) -> InMemoryTelemetry:
    """In-memory providers for the report; they also export over OTLP/HTTP to ``export_to`` (a
    base URL such as ``http://127.0.0.1:4318``), else to the endpoint the OTLP variables name."""
    if not export_to and not os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        return InMemoryTelemetry()
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    base = export_to.rstrip("/") if export_to else None
    metrics = OTLPMetricExporter(endpoint=f"{base}/v1/metrics") if base else OTLPMetricExporter()
    spans = OTLPSpanExporter(endpoint=f"{base}/v1/traces") if base else OTLPSpanExporter()
    telemetry = InMemoryTelemetry(extra_metric_readers=[PeriodicExportingMetricReader(metrics)])
    telemetry.tracer_provider.add_span_processor(BatchSpanProcessor(spans))
    return telemetry


def _missing_requirement() -> str | None:
    """The first module the demo needs that cannot be imported (or that one's own missing import)."""
    for name in _REQUIRED:
        try:
            importlib.import_module(name)
        except ImportError as error:
            return error.name or name
    return None


def unavailable() -> str | None:
    """Why the demo cannot run, in one line saying what to install; None when it can."""
    missing = _missing_requirement()
    return None if missing is None else _MISSING.format(missing)


def run(
    rounds: int = 1,
    pause: float = 15.0,
    *,
    export_to: str | None = None,
    progress: Progress = Progress(),
    finished: Callable[[Sequence[ReadableSpan]], None] | None = None,
) -> str:
    """Run the workload ``rounds`` times, ``pause`` seconds apart, and return the summary.

    ``finished`` receives every span recorded, once the workload is done (``otel-tokens demo
    --ledger`` writes them to a file).

    Starts the fake provider server on 127.0.0.1 and ``otel_tokens.init()`` with in-memory
    providers (also exporting, see :func:`_telemetry`), and shuts both down before returning.
    Raises :class:`DemoUnavailable` when the demo extra is missing and
    :class:`~otel_tokens.ConfigurationError` for an invalid ``OTEL_TOKENS_*`` variable.
    """
    problem = unavailable()
    if problem is not None:
        raise DemoUnavailable(problem)
    from otel_tokens_fake_providers import FakeProviderServer

    telemetry = _telemetry(export_to)
    try:
        otel_tokens.init(tracer_provider=telemetry.tracer_provider, meter_provider=telemetry.meter_provider)
    except otel_tokens.ConfigurationError:
        telemetry.shutdown()
        raise
    with FakeProviderServer() as server:
        progress.started(server.url, otel_tokens.instrumented_clients())
        for round_number in range(rounds):
            if round_number:
                # A steady trickle of traffic, so a dashboard's rates have something to show.
                time.sleep(pause)
            run_workload(server.url, server, progress.step)
            run_other_providers(server.url, server, progress.step)
            progress.round_done(round_number + 1, rounds)
    otel_tokens.flush()
    summary = report(telemetry)
    if finished is not None:
        finished(telemetry.spans())
    otel_tokens.shutdown()
    telemetry.shutdown()
    return summary


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="otel-tokens-demo", description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=1, help="times to run the workload (default 1)")
    parser.add_argument("--pause", type=float, default=15.0, help="seconds between rounds (default 15)")
    args = parser.parse_args(argv)
    if args.rounds < 1 or args.pause < 0:
        parser.error("--rounds must be at least 1 and --pause not negative")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    def started(url: str, clients: list[str]) -> None:
        print(f"fake provider server on {url}; instrumented: {clients}")

    def round_done(number: int, rounds: int) -> None:
        if rounds > 1:
            print(f"round {number}/{rounds} done", flush=True)

    try:
        summary = run(args.rounds, args.pause, progress=Progress(started=started, round_done=round_done))
    except DemoUnavailable as error:
        parser.exit(2, f"{parser.prog}: {error}\n")
    except otel_tokens.ConfigurationError as error:
        parser.exit(2, f"{parser.prog}: configuration error: {error}\n")
    print(summary)


if __name__ == "__main__":
    main()
