"""A dead backend cannot hold the program: exit and shutdown(timeout) are bounded, and what cannot
be sent is counted and reported by one WARNING (no page of retry messages, no traceback).

Real processes against real dead backends: a port that refuses connections, a TCP server that
accepts and never answers, an HTTP server answering 503.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import TracerProvider
from otel_tokens_fake_providers import FakeProviderServer, Scenario

from otel_tokens import _export, _runtime, semconv
from otel_tokens.testing import InMemoryTelemetry

WARNING = re.compile(
    r"^otel-tokens: cannot send telemetry to http://\S+/v1/traces and http://\S+/v1/metrics \((.+?)\)\."
)


@contextlib.contextmanager
def refusing() -> Iterator[str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    yield f"http://127.0.0.1:{port}"  # closed again: nothing listens, connections are refused


@contextlib.contextmanager
def hanging() -> Iterator[str]:
    """Accepts connections and never answers."""
    server = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            with contextlib.suppress(OSError):
                held.append(server.accept()[0])

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}"
    finally:
        stop.set()
        thread.join()
        for connection in held:
            connection.close()
        server.close()


@contextlib.contextmanager
def unavailable() -> Iterator[str]:
    """Answers every request with 503 Service Unavailable."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            self.send_response(503)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


BACKENDS: dict[str, tuple[Callable[[], contextlib.AbstractContextManager[str]], str]] = {
    "refusing": (refusing, "connection refused"),
    "hanging": (hanging, "no answer within"),
    "503": (unavailable, "Service Unavailable"),
}

# The app of the README: one line of init(), a call, and the end of the program. It prints the
# moment its own code ended (CLOCK_MONOTONIC is the same clock in every process on Linux).
APP = textwrap.dedent(
    """
    import time, openai, otel_tokens
    otel_tokens.init()
    client = openai.OpenAI(base_url=BASE + "/v1", api_key="x", max_retries=0)
    client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
    if SHUTDOWN:
        started = time.monotonic()
        sent = otel_tokens.shutdown(timeout=1.0)
        print(f"SHUTDOWN {time.monotonic() - started:.3f} {sent}")
    print(f"END {time.monotonic():.6f}", flush=True)
    """
)


def _run_app(endpoint: str | None, shutdown: bool) -> tuple[float, str, str]:
    """Run APP; returns (seconds from the end of its code to the end of the process, stdout, stderr)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    if endpoint is not None:
        env["OTEL_EXPORTER_OTLP_ENDPOINT"] = endpoint
    with FakeProviderServer(Scenario(prompt_tokens=9, completion_tokens=3)) as server:
        code = f"BASE = {server.url!r}\nSHUTDOWN = {shutdown}\n" + APP
        process = subprocess.Popen(
            [sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        stdout, stderr = process.communicate(timeout=120)
        ended = time.monotonic()
    assert process.returncode == 0, stderr
    end = float(re.search(r"^END (\S+)$", stdout, re.MULTILINE).group(1))  # type: ignore[union-attr]
    return ended - end, stdout, stderr


def _one_warning(stderr: str) -> str:
    """The error named by the one line the program printed; fails on anything else."""
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    match = WARNING.match(lines[0])
    assert match, lines[0]
    return match.group(1)


@pytest.mark.parametrize("backend", BACKENDS)
def test_exit_is_bounded_and_says_so_once(backend):
    make, error = BACKENDS[backend]
    with make() as endpoint:
        exit_seconds, _, stderr = _run_app(endpoint, shutdown=False)
    # Bounded by EXIT_TIMEOUT (3 s), with room for a slow machine; it took 12-20 s before.
    assert exit_seconds < _export.EXIT_TIMEOUT + 2.0
    assert _one_warning(stderr).startswith(error)


@pytest.mark.parametrize("backend", BACKENDS)
def test_shutdown_returns_within_its_timeout(backend):
    make, error = BACKENDS[backend]
    with make() as endpoint:
        exit_seconds, stdout, stderr = _run_app(endpoint, shutdown=True)
    seconds, sent = re.search(r"^SHUTDOWN (\S+) (\S+)$", stdout, re.MULTILINE).groups()  # type: ignore[union-attr]
    assert float(seconds) < 1.0 + 3.0  # a correctness bound (timeout=1.0), not a benchmark; was 15-20 s
    assert sent == "False"
    assert _one_warning(stderr).startswith(error)
    assert exit_seconds < 2.0  # nothing left for the exit hook


def test_a_refused_connection_is_not_retried_at_exit():
    # Nothing listens: the program ends as soon as the first attempt is refused, not at the bound.
    with refusing() as endpoint:
        exit_seconds, _, stderr = _run_app(endpoint, shutdown=False)
    assert exit_seconds < _export.EXIT_TIMEOUT - 0.5
    assert _one_warning(stderr) == "connection refused"


def test_first_run_without_a_collector_prints_one_clear_warning():
    # The README's one line with nothing configured: OTLP to localhost:4318, where nothing runs.
    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", 4318)) == 0:
            pytest.skip("something listens on localhost:4318")
    exit_seconds, _, stderr = _run_app(None, shutdown=False)
    assert _one_warning(stderr) == "connection refused"
    assert "http://localhost:4318/v1/traces" in stderr
    # ...and how to go on: another endpoint, or the console.
    assert "OTEL_EXPORTER_OTLP_ENDPOINT" in stderr and "OTEL_TRACES_EXPORTER=console" in stderr
    assert exit_seconds < _export.EXIT_TIMEOUT + 2.0


def test_a_healthy_backend_exits_quietly():
    from ._otlp_receiver import OtlpReceiver

    with OtlpReceiver() as otlp:
        exit_seconds, _, stderr = _run_app(otlp.endpoint, shutdown=False)
    assert stderr == ""
    assert exit_seconds < _export.EXIT_TIMEOUT
    assert [span["name"] for span in otlp.spans] == ["chat gpt-4o-mini"]


# -- counting, in process ------------------------------------------------------------------------


@pytest.fixture
def guarded_exporter() -> Iterator[tuple[_export.SpanExportGuard, InMemoryTelemetry]]:
    """A guarded OTLP span exporter sending to a 503 server, counting on an in-memory meter."""
    telemetry = InMemoryTelemetry()
    health = _export.ExportHealth()
    health.counter = telemetry.meter_provider.get_meter("otel_tokens").create_counter(
        semconv.OTEL_TOKENS_TELEMETRY_DROPPED
    )
    _export.install_log_filter(health, ["spans"])
    _runtime.STATE.export = health
    with unavailable() as endpoint:
        # timeout=2: one retry after ~1 s, then the exporter's own deadline ends the attempt.
        guard = _export.SpanExportGuard(lambda: OTLPSpanExporter(f"{endpoint}/v1/traces", timeout=2), health)
        health.endpoint = guard.endpoint
        yield guard, telemetry
        guard.shutdown()
    telemetry.shutdown()


def _spans(count: int) -> list:
    tracer = TracerProvider().get_tracer("test")
    spans = []
    for index in range(count):
        span = tracer.start_span(f"s{index}")
        span.end()
        spans.append(span)
    return spans


def test_spans_that_cannot_be_sent_are_counted_and_reported_once(guarded_exporter, caplog):
    guard, telemetry = guarded_exporter
    with caplog.at_level(logging.DEBUG):
        assert guard.export(_spans(3)).name == "FAILURE"
        assert guard.export(_spans(2)).name == "FAILURE"
    [dropped] = telemetry.points(semconv.OTEL_TOKENS_TELEMETRY_DROPPED)
    assert (dropped.value, dropped.attributes) == (5, {"otel_tokens.drop.reason": "span_export_failed"})
    loud = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert [r.name for r in loud] == ["otel_tokens"]
    assert "(Service Unavailable)" in loud[0].getMessage()
    # The exporter's own lines are still there for whoever wants them, at DEBUG.
    demoted = [r for r in caplog.records if r.name.startswith("opentelemetry.exporter")]
    assert demoted
    assert {r.levelname for r in demoted} == {"DEBUG"}


def test_a_stopped_exporter_drops_and_counts_without_trying(guarded_exporter):
    guard, telemetry = guarded_exporter
    guard.stop()
    started = time.monotonic()
    assert guard.export(_spans(4)).name == "FAILURE"
    assert time.monotonic() - started < 0.5  # not sent, so not retried
    [dropped] = telemetry.points(semconv.OTEL_TOKENS_TELEMETRY_DROPPED)
    assert dropped.value == 4
