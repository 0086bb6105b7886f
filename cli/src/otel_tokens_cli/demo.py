"""``otel-tokens demo``: the instrumented demo workload with a progress display.

The workload and the summary are :func:`otel_tokens.demo.run`'s, the same as ``otel-tokens-demo``.
While it runs, a progress bar on stderr (only when stderr is a terminal) says which part runs;
stdout gets the fake provider server's line and the summary, so it can be piped or compared.
``--export URL`` also sends the telemetry to a collector over OTLP/HTTP, after checking that one
answers there (the same check as ``otel-tokens doctor``).
"""

from __future__ import annotations

import functools
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

from otel_tokens._errors import ConfigurationError
from otel_tokens._redaction import redact_url
from otel_tokens_cli._failure import Failure, UsageFailure


@click.command(
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    epilog="""\b
Examples:
  otel-tokens demo
  otel-tokens demo --export http://127.0.0.1:4318
  otel-tokens demo --rounds 20 --pause 15 --export http://collector:4318
  otel-tokens demo > summary.txt        # the progress stays on the terminal
  otel-tokens demo --ledger demo-ledger.jsonl && otel-tokens report --ledger demo-ledger.jsonl --last 1d

Needs no account and no network: the real client SDKs talk to otel-tokens' fake
provider server on 127.0.0.1. It needs the demo extra: pip install "otel-tokens[demo]".""",
)
@click.option(
    "--rounds",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    metavar="N",
    help="Times to run the workload.",
)
@click.option(
    "--pause",
    type=click.FloatRange(min=0),
    default=15.0,
    show_default=True,
    metavar="S",
    help="Seconds between rounds, so a dashboard's rates have something to show.",
)
@click.option(
    "--export",
    "export_url",
    metavar="URL",
    help="Also send the spans and metrics to this OTLP/HTTP collector (base URL, e.g. http://127.0.0.1:4318).",
)
@click.option(
    "--ledger",
    "ledger_path",
    metavar="FILE",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Also append the calls' spans to FILE as OTLP JSON, for `otel-tokens report --ledger FILE`.",
)
def command(rounds: int, pause: float, export_url: str | None, ledger_path: Path | None) -> None:
    """Run a realistic instrumented workload against local fake providers and show what was recorded."""
    import os

    from otel_tokens import demo

    # This process is the demo's application: its spans and series are named after it.
    os.environ.setdefault("OTEL_SERVICE_NAME", "otel-tokens-demo")
    finished = None
    if ledger_path is not None:
        from otel_tokens_cli._otlp_json import append_ledger

        finished = functools.partial(_write_ledger, append_ledger, ledger_path)

    base = None if export_url is None else _base_url(export_url)
    problem = demo.unavailable()
    if problem is not None:
        raise UsageFailure(problem)
    if base is not None:
        _check_collector(base)
    console = Console(stderr=True)
    lines: list[str] = []
    with _warnings_to_stderr(), _display(console, rounds) as progress:
        try:
            summary = demo.run(rounds, pause, export_to=base, progress=progress(lines), finished=finished)
        except ConfigurationError as error:
            raise Failure(f"configuration error: {error}") from None
    click.echo("\n".join([*lines, summary]))
    if base is not None:
        click.echo(f"telemetry sent to {redact_url(base)} (OTLP/HTTP)", err=True)
    if ledger_path is not None:
        click.echo(f"spans appended to {ledger_path} (OTLP JSON)", err=True)


def _write_ledger(append: Any, path: Path, spans: Any) -> None:
    try:
        append(spans, path)
    except OSError as error:
        raise Failure(f"--ledger {path}: {error.strerror or error}") from None


def _base_url(url: str) -> str:
    """``url`` if it is an http(s) URL with a host; else a one-line usage error."""
    try:
        parts = urlsplit(url.strip())
        port_ok = parts.port is None or parts.port > 0
    except ValueError:
        parts, port_ok = None, False
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname or not port_ok:
        shown = redact_url(url) if "://" in url else url
        raise UsageFailure(
            f"--export must be an http:// or https:// URL of an OTLP/HTTP collector, such as "
            f"http://127.0.0.1:4318; got {shown!r}"
        )
    return url.strip().rstrip("/")


def _check_collector(base: str) -> None:
    """Fail in one line, before the workload, when nothing accepts OTLP/HTTP at ``base``."""
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    from otel_tokens_cli._doctor_checks import check_otlp_export, quiet_logs

    with quiet_logs():
        check = check_otlp_export(
            "export", "traces", functools.partial(OTLPSpanExporter, endpoint=f"{base}/v1/traces")
        )
    if check.status != "ok":
        raise Failure(f"--export: {check.detail}")


class _Stderr:
    """Writes to whatever ``sys.stderr`` is now: the progress display reroutes it above its bar."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


@contextmanager
def _warnings_to_stderr() -> Iterator[None]:
    """The SDK's warnings (a model with no price...) as ``otel-tokens-demo`` shows them."""
    handler = logging.StreamHandler(_Stderr())
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.WARNING)
    try:
        yield
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


@contextmanager
def _display(console: Console, rounds: int) -> Iterator[Any]:
    """A factory of the demo's callbacks: a progress bar on a terminal, round lines otherwise."""
    from otel_tokens import demo

    if not console.is_terminal:

        def plain(lines: list[str]) -> demo.Progress:
            def round_done(number: int, total: int) -> None:
                if total > 1:
                    console.print(f"round {number}/{total} done", highlight=False)

            return demo.Progress(started=_started(lines), round_done=round_done)

        yield plain
        return
    bar = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        redirect_stdout=False,
    )
    task = bar.add_task("starting the fake providers", total=rounds * demo.STEPS_PER_ROUND)

    def live(lines: list[str]) -> demo.Progress:
        def step(name: str) -> None:
            bar.update(task, advance=1, description=f"{name} done")

        def round_done(number: int, total: int) -> None:
            if number < total:
                bar.update(task, description=f"round {number}/{total} done; waiting before the next")

        return demo.Progress(started=_started(lines), step=step, round_done=round_done)

    with bar:
        yield live


def _started(lines: list[str]) -> Any:
    def started(url: str, clients: list[str]) -> None:
        lines.append(f"fake provider server on {url}; instrumented: {clients}")

    return started
