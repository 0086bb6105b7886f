"""scripts/run-stack, the README's local stack: the demo's telemetry lands in Prometheus through the
gateway, and Ctrl-C stops exactly the processes the script started."""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import threading
import time
import urllib.parse
import urllib.request

from ._processes import free_port, wait_for
from .conftest import ROOT


def _lines(stream, into: queue.Queue[str]) -> None:
    for line in stream:
        into.put(line)


def _total_calls(prometheus: str) -> float:
    query = urllib.parse.urlencode({"query": "sum(otel_tokens_client_cost_count)"})
    with urllib.request.urlopen(f"{prometheus}/api/v1/query?{query}", timeout=5) as response:
        result = json.load(response)["data"]["result"]
    return float(result[0]["value"][1]) if result else 0.0


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_run_stack_feeds_prometheus_and_stops_what_it_started(collector_bin, prometheus_bin, tmp_path):
    port = {name: free_port() for name in ("prom", "grpc", "http", "health", "telemetry")}
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env.update(
        ROUNDS="2",
        PAUSE="1",
        TMPDIR=str(tmp_path),
        PROMETHEUS_PORT=str(port["prom"]),
        OTEL_TOKENS_OTLP_GRPC_ENDPOINT=f"127.0.0.1:{port['grpc']}",
        OTEL_TOKENS_OTLP_HTTP_ENDPOINT=f"127.0.0.1:{port['http']}",
        OTEL_TOKENS_HEALTH_ENDPOINT=f"127.0.0.1:{port['health']}",
        OTEL_TOKENS_TELEMETRY_PORT=str(port["telemetry"]),
    )
    script = subprocess.Popen(
        [ROOT / "scripts" / "run-stack"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=_lines, args=(script.stdout, lines), daemon=True).start()
    output: list[str] = []
    started: list[int] = []
    try:
        deadline = time.monotonic() + 180
        while not any("workload done" in line for line in output):
            assert time.monotonic() < deadline and script.poll() is None, "".join(output)[-4000:]
            try:
                output.append(lines.get(timeout=1))
            except queue.Empty:
                continue
            if found := re.search(r"prometheus \(pid (\d+)\).*gateway \(pid (\d+)\)", output[-1]):
                started = [int(found[1]), int(found[2])]
        assert started and all(_alive(pid) for pid in started)
        prometheus = f"http://127.0.0.1:{port['prom']}"
        wait_for(lambda: _total_calls(prometheus) > 0, "the demo's cost metrics in Prometheus", 60)
    finally:
        os.kill(script.pid, signal.SIGINT)  # Ctrl-C, to the script's own pid only
        returncode = script.wait(30)
    assert returncode == 130
    wait_for(lambda: not any(_alive(pid) for pid in started), f"processes {started} to exit", 20)


def test_run_stack_refuses_a_taken_port_and_names_it(collector_bin, prometheus_bin, tmp_path):
    import socket

    port = {name: free_port() for name in ("grpc", "http", "health", "telemetry")}
    with socket.socket() as taken:  # an earlier stack's gateway, say
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        taken_port = taken.getsockname()[1]
        env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
        env.update(
            TMPDIR=str(tmp_path),
            PROMETHEUS_PORT=str(free_port()),
            OTEL_TOKENS_OTLP_GRPC_ENDPOINT=f"127.0.0.1:{port['grpc']}",
            OTEL_TOKENS_OTLP_HTTP_ENDPOINT=f"127.0.0.1:{taken_port}",
            OTEL_TOKENS_HEALTH_ENDPOINT=f"127.0.0.1:{port['health']}",
            OTEL_TOKENS_TELEMETRY_PORT=str(port["telemetry"]),
        )
        done = subprocess.run(
            [ROOT / "scripts" / "run-stack"], capture_output=True, text=True, env=env, timeout=300
        )
    assert done.returncode == 1
    assert (
        f"run-stack: the gateway's OTLP/HTTP receiver cannot listen on 127.0.0.1:{taken_port}: the port is "
        "taken by another process (a stack started earlier? stop it, or set OTEL_TOKENS_OTLP_HTTP_ENDPOINT)"
    ) in done.stderr
    assert "started prometheus" not in done.stdout
    assert not list(tmp_path.glob("otel-tokens-stack.*"))  # refused before anything was started
