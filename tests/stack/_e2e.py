"""The whole stack on loopback, started once per test session for every module that reads it.

    workload.py (real SDKs, fake provider server, otel_tokens.init())
        --OTLP/HTTP--> agent (collector-config/agent.yaml)
        --OTLP/gRPC--> gateway (collector-config/gateway.yaml + overlays/ledger.yaml)
            --remote write--> Prometheus 2.42 (prometheus/prometheus.yml, rules)
            --OTLP/HTTP-----> a recording OTLP backend (tests/_otlp_receiver.py)
            --file----------> the per-call ledger (zstd-framed OTLP JSON)

The stack test modules read what it left behind: the series, the backend's spans, the ledger.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from .._otlp_receiver import OtlpReceiver
from ._processes import Program, free_port, running, wait_for

ROOT = Path(__file__).resolve().parents[2]
BACKEND_TOKEN = "Bearer backend-token-from-env"


@dataclass
class Stack:
    prometheus: str
    backend: OtlpReceiver
    sent_spans: list[dict[str, Any]]
    evaluated_at: float
    programs: list[Program]
    ledger: Path
    started_at: float

    def query(self, expr: str, at: float | None = None) -> list[dict[str, Any]]:
        params = {"query": expr, "time": f"{at or self.evaluated_at:.3f}"}
        body = _get_json(f"{self.prometheus}/api/v1/query?{urllib.parse.urlencode(params)}")
        return list(body["data"]["result"])

    def scalar_by(self, expr: str, label: str) -> dict[str, float]:
        return {s["metric"].get(label, ""): float(s["value"][1]) for s in self.query(expr)}


def _ledger_spans(folder: Path) -> int:
    """How many spans the gateway's ledger holds so far."""
    from otel_tokens_cli._ledger_files import Document, iter_documents

    if not folder.is_dir() or not any(folder.iterdir()):
        return 0
    return sum(
        len(scope["spans"])
        for item in iter_documents([folder])
        if isinstance(item, Document)
        for resource in item.body["resourceSpans"]
        for scope in resource["scopeSpans"]
    )


def _get_json(url: str) -> dict[str, Any]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            body: dict[str, Any] = json.load(response)
    except urllib.error.HTTPError as error:
        raise AssertionError(f"{url}: {error.code} {error.read().decode(errors='replace')}") from None
    assert body["status"] == "success", body
    return body


def _prometheus_config(tmp: Path, telemetry_port: int, prometheus_port: int) -> Path:
    """The shipped config with only its addresses moved to this test's ports."""
    shipped = ROOT / "prometheus" / "prometheus.yml"
    config = yaml.safe_load(shipped.read_text())
    config["rule_files"] = [
        str((shipped.parent / pattern).resolve()) for pattern in config.get("rule_files", [])
    ]
    ports = {"otelcol": telemetry_port, "prometheus": prometheus_port}
    for job in config.get("scrape_configs", []):
        for static in job.get("static_configs", []):
            static["targets"] = [f"127.0.0.1:{ports.get(job['job_name'], prometheus_port)}"]
    path = tmp / "prometheus.yml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture(scope="session")
def stack(tmp_path_factory, collector_bin, prometheus_bin) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("stack")
    started_at = time.time()
    ledger = tmp / "ledger"
    port = {
        name: free_port()
        for name in (
            "prom",
            "gw_grpc",
            "gw_http",
            "gw_health",
            "gw_telemetry",
            "agent_grpc",
            "agent_http",
            "agent_health",
            "agent_telemetry",
        )
    }
    prometheus = f"http://127.0.0.1:{port['prom']}"
    programs: list[Program] = []
    with OtlpReceiver() as backend, contextlib.ExitStack() as cleanup:

        def start(name: str, argv: list[str], ready: str, env: dict[str, str] | None = None) -> None:
            programs.append(cleanup.enter_context(running(name, argv, tmp / f"{name}.log", ready, env)))

        start(
            "prometheus",
            [
                prometheus_bin,
                f"--config.file={_prometheus_config(tmp, port['gw_telemetry'], port['prom'])}",
                f"--storage.tsdb.path={tmp / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{port['prom']}",
                "--web.enable-remote-write-receiver",
            ],
            f"{prometheus}/-/ready",
        )
        start(
            "gateway",
            [
                collector_bin,
                f"--config={ROOT / 'collector-config' / 'gateway.yaml'}",
                f"--config={ROOT / 'collector-config' / 'overlays' / 'ledger.yaml'}",
            ],
            f"http://127.0.0.1:{port['gw_health']}/",
            {
                "OTEL_TOKENS_OTLP_GRPC_ENDPOINT": f"127.0.0.1:{port['gw_grpc']}",
                "OTEL_TOKENS_OTLP_HTTP_ENDPOINT": f"127.0.0.1:{port['gw_http']}",
                "OTEL_TOKENS_HEALTH_ENDPOINT": f"127.0.0.1:{port['gw_health']}",
                "OTEL_TOKENS_TELEMETRY_HOST": "127.0.0.1",
                "OTEL_TOKENS_TELEMETRY_PORT": str(port["gw_telemetry"]),
                "OTEL_TOKENS_BACKEND_ENDPOINT": backend.endpoint,
                "OTEL_TOKENS_BACKEND_HEADERS": json.dumps({"Authorization": BACKEND_TOKEN}),
                "OTEL_TOKENS_PROMETHEUS_REMOTE_WRITE_URL": f"{prometheus}/api/v1/write",
                "OTEL_TOKENS_LEDGER_PATH": str(ledger / "llm-spans.zst"),
            },
        )
        start(
            "agent",
            [collector_bin, f"--config={ROOT / 'collector-config' / 'agent.yaml'}"],
            f"http://127.0.0.1:{port['agent_health']}/",
            {
                "OTEL_TOKENS_OTLP_GRPC_ENDPOINT": f"127.0.0.1:{port['agent_grpc']}",
                "OTEL_TOKENS_OTLP_HTTP_ENDPOINT": f"127.0.0.1:{port['agent_http']}",
                "OTEL_TOKENS_HEALTH_ENDPOINT": f"127.0.0.1:{port['agent_health']}",
                "OTEL_TOKENS_TELEMETRY_PORT": str(port["agent_telemetry"]),
                "OTEL_TOKENS_GATEWAY_ENDPOINT": f"127.0.0.1:{port['gw_grpc']}",
                "OTEL_TOKENS_GATEWAY_INSECURE": "true",
            },
        )

        sent_file = tmp / "sent-spans.jsonl"
        env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
        env.update(
            OTEL_EXPORTER_OTLP_ENDPOINT=f"http://127.0.0.1:{port['agent_http']}",
            OTEL_EXPORTER_OTLP_PROTOCOL="http/protobuf",
            OTEL_METRIC_EXPORT_INTERVAL="1000",
            OTEL_BSP_SCHEDULE_DELAY="200",
            OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT="true",
            # Seven features against a limit of six: the last one seen folds into __overflow__.
            OTEL_TOKENS_MAX_TAG_VALUES="6",
        )
        workload = subprocess.run(
            [
                sys.executable,
                str(Path(__file__).with_name("workload.py")),
                "--rounds=3",
                "--pause=6",
                f"--sent-spans={sent_file}",
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert workload.returncode == 0, workload.stderr[-4000:]
        # A second service whose Redis budget store is down: its calls go through, counted.
        batch_file = tmp / "sent-spans-batch.jsonl"
        batch = subprocess.run(
            [
                sys.executable,
                str(Path(__file__).with_name("workload.py")),
                "--store-down",
                f"--sent-spans={batch_file}",
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert batch.returncode == 0, batch.stderr[-4000:]
        lines = sent_file.read_text().splitlines() + batch_file.read_text().splitlines()
        sent = [json.loads(line) for line in lines]
        priced = sum(1 for s in sent if "gen_ai.usage.cost.amount" in s["attributes"])

        def arrived() -> bool:
            for program in programs:
                program.check_running()
            if len(backend.spans) < len(sent):
                return False
            counts = Stack(prometheus, backend, sent, time.time(), programs, ledger, started_at).query(
                "sum(otel_tokens_client_cost_count)"
            )
            return bool(counts) and float(counts[0]["value"][1]) == priced and _ledger_spans(ledger) >= llm

        llm = sum(1 for s in sent if "gen_ai.operation.name" in s["attributes"])
        wait_for(
            arrived,
            f"{len(sent)} spans at the backend, {priced} priced calls in Prometheus, {llm} in the ledger",
            90,
        )
        yield Stack(prometheus, backend, sent, time.time(), programs, ledger, started_at)
    for program in programs:
        assert program.process.returncode == 0, (
            f"{program.name} exited {program.process.returncode}:\n{program.output()}"
        )
