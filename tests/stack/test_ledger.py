"""The cost ledger end to end: the real gateway with overlays/ledger.yaml writes what a real
instrumented workload sends, and otel_tokens_cli._ledger_files reads it back.

    workload (otel_tokens.init(), the openai SDK and the other demo SDKs against the fake provider
    server, content capture on, a key-shaped tag, spans that are not LLM calls)
        --OTLP/HTTP--> gateway (gateway.yaml + overlays/ledger.yaml, 1 MB rotation)
            --OTLP/HTTP--> a recording OTLP backend (what left the gateway)
            --files-----> the ledger directory, read with iter_documents

Then LLM spans with large random attributes are posted until the ledger rotates, and the gateway
is stopped (it flushes on SIGTERM) before the files are read. A second, smaller run starts the
gateway with the exporter's nativeCompression feature gate, the other on-disk format.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import zstandard
from otel_tokens_cli._ledger_files import Document, Skipped, iter_documents

from .._otlp_receiver import OtlpReceiver
from ._processes import Program, free_port, running, wait_for
from .conftest import ROOT

CONFIGS = [ROOT / "collector-config" / "gateway.yaml", ROOT / "collector-config" / "overlays" / "ledger.yaml"]
LLM_KEYS = ("gen_ai.operation.name", "gen_ai.provider.name")
CONTENT_KEYS = ("gen_ai.input.messages", "gen_ai.output.messages", "gen_ai.system_instructions")
MASK = "****"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"

# What a careless application puts in its business tags; the gateway must mask both before writing.
LEAKED_KEY = "sk-proj-LEDGERLEAKEDLEDGERLEAKED0123"
LEAKED_NOTE = f"retrying with key {LEAKED_KEY}"
LEAKED_TAG_SECRET = "plain-looking-but-named-api-key"
PROMPT_MARKER = "LEDGER-PROMPT-MARKER-7f3a"

# One padded span: 16 KiB of random hex, about 8 KiB compressed. 40 spans a request keep each batch
# (one record, one write) well under the 1 MB rotation size, which refuses any larger write.
PADDING_SPANS_PER_REQUEST = 40
PADDING_BYTES = 8192


def workload(sent_spans: str) -> None:
    """The instrumented application, run in its own process by the fixture (``python -c``).

    The demo's workloads (every provider SDK installed) inside tags that leak a key, one call with
    a marked prompt, and spans that are not LLM calls: an HTTP handler carrying credentials and
    one with a gen_ai.request.model attribute only. Two hand-made spans carry only one of the
    two attributes that make a span an LLM call. Every exported span goes to ``sent_spans``.
    """
    import openai
    from opentelemetry import trace
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from otel_tokens_fake_providers import FakeProviderServer, Scenario

    import otel_tokens
    from otel_tokens.demo import run_other_providers, run_workload
    from tests.stack.workload import SentSpansFile

    otel_tokens.init(service_name="ledger-shop")
    provider = trace.get_tracer_provider()
    provider.add_span_processor(SimpleSpanProcessor(SentSpansFile(Path(sent_spans))))  # type: ignore[attr-defined]
    tracer = trace.get_tracer("ledger-workload")
    with FakeProviderServer() as server, tracer.start_as_current_span("POST /ask") as handler:
        handler.set_attribute("http.request.header.authorization", f"Bearer {LEAKED_KEY}")
        with otel_tokens.tags(note=LEAKED_NOTE, api_key=LEAKED_TAG_SECRET):
            run_workload(server.url, server)
            run_other_providers(server.url, server)
            client = openai.OpenAI(base_url=server.url + "/v1", api_key="sk-ledger-test-key", max_retries=0)
            server.enqueue(Scenario(model="gpt-4o-mini-2024-07-18", prompt_tokens=300, completion_tokens=20))
            client.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": f"{PROMPT_MARKER} what is due?"}]
            )
        with tracer.start_as_current_span("cache lookup", attributes={"gen_ai.request.model": "gpt-4o"}):
            pass
        with tracer.start_as_current_span("provider only", attributes={"gen_ai.provider.name": "openai"}):
            pass
        with tracer.start_as_current_span("operation only", attributes={"gen_ai.operation.name": "chat"}):
            pass
    otel_tokens.flush()
    otel_tokens.shutdown()


@dataclass
class Ledger:
    directory: Path
    items: list[Document | Skipped]
    backend: OtlpReceiver
    sent: list[dict[str, Any]]
    padding_ids: set[str]

    def spans(self) -> list[dict[str, Any]]:
        return [span for item in self.items if isinstance(item, Document) for span in _spans(item.body)]


def _plain(value: dict[str, Any]) -> Any:
    """An OTLP JSON AnyValue as the recording backend decodes one."""
    if not value:
        return None
    kind, raw = next(iter(value.items()))
    if kind == "intValue":
        return int(raw)
    if kind == "arrayValue":
        return tuple(_plain(v) for v in raw.get("values", []))
    return raw


def _attributes(items: list[dict[str, Any]] | None) -> dict[str, Any]:
    return {a["key"]: _plain(a.get("value", {})) for a in items or []}


def _spans(document: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for resource_spans in document["resourceSpans"]:
        resource = _attributes(resource_spans.get("resource", {}).get("attributes"))
        for scope_spans in resource_spans.get("scopeSpans", []):
            for span in scope_spans.get("spans", []):
                yield {
                    "name": span["name"],
                    "span_id": span["spanId"],
                    "attributes": _attributes(span.get("attributes")),
                    "events": [
                        {"name": e["name"], "attributes": _attributes(e.get("attributes"))}
                        for e in span.get("events", [])
                    ],
                    "resource": resource,
                }


def _is_llm(span: dict[str, Any]) -> bool:
    return any(key in span["attributes"] for key in LLM_KEYS)


def _ledger_span_ids(directory: Path) -> set[str]:
    """Span ids in the ledger so far (a record still being written is skipped)."""
    if not directory.is_dir() or not any(directory.iterdir()):
        return set()
    documents = [i for i in iter_documents([directory]) if isinstance(i, Document)]
    return {span["span_id"] for document in documents for span in _spans(document.body)}


def _post_padding_spans(endpoint: str, count: int) -> set[str]:
    """Posts ``count`` LLM spans with incompressible attributes as OTLP JSON; returns their ids."""
    now = time.time_ns()
    spans = []
    for _ in range(count):
        spans.append(
            {
                "traceId": secrets.token_hex(16),
                "spanId": secrets.token_hex(8),
                "name": "chat padding-model",
                "kind": 3,
                "startTimeUnixNano": str(now),
                "endTimeUnixNano": str(now + 1_000_000),
                "attributes": [
                    {"key": "gen_ai.operation.name", "value": {"stringValue": "chat"}},
                    {
                        "key": "otel_tokens.test.padding",
                        "value": {"stringValue": secrets.token_hex(PADDING_BYTES)},
                    },
                ],
            }
        )
    body = {
        "resourceSpans": [
            {
                "resource": {
                    "attributes": [{"key": "service.name", "value": {"stringValue": "ledger-padding"}}]
                },
                "scopeSpans": [{"scope": {"name": "test_ledger"}, "spans": spans}],
            }
        ]
    }
    request = urllib.request.Request(
        f"{endpoint}/v1/traces", json.dumps(body).encode(), {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
    return {span["spanId"] for span in spans}


def _rotate(endpoint: str, directory: Path) -> set[str]:
    """Posts padded spans one batch at a time, each waited for in the ledger, until it rotates."""
    sent: set[str] = set()
    for _ in range(12):
        if list(directory.glob("*-size.*")):
            return sent
        batch = _post_padding_spans(endpoint, PADDING_SPANS_PER_REQUEST)
        sent |= batch
        # One request, one batch (the gateway's batch timeout is 5 s), on disk before the next is sent.
        wait_for(lambda ids=batch: ids <= _ledger_span_ids(directory), "the padded batch in the ledger", 30)
    raise AssertionError(f"no rotated backup in {directory} after {len(sent)} padded spans")


@contextlib.contextmanager
def _gateway(
    tmp: Path, collector_bin: str, backend: OtlpReceiver, sink: OtlpReceiver, *flags: str
) -> Iterator[tuple[Program, str, Path]]:
    """The gateway with the ledger overlay on this test's ports: the program, its OTLP/HTTP
    endpoint and the ledger directory (1 MB rotation, the smallest the exporter takes)."""
    port = {name: free_port() for name in ("grpc", "http", "health", "telemetry")}
    directory = tmp / "ledger"
    env = {
        "OTEL_TOKENS_OTLP_GRPC_ENDPOINT": f"127.0.0.1:{port['grpc']}",
        "OTEL_TOKENS_OTLP_HTTP_ENDPOINT": f"127.0.0.1:{port['http']}",
        "OTEL_TOKENS_HEALTH_ENDPOINT": f"127.0.0.1:{port['health']}",
        "OTEL_TOKENS_TELEMETRY_HOST": "127.0.0.1",
        "OTEL_TOKENS_TELEMETRY_PORT": str(port["telemetry"]),
        "OTEL_TOKENS_BACKEND_ENDPOINT": backend.endpoint,
        "OTEL_TOKENS_PROMETHEUS_REMOTE_WRITE_URL": f"{sink.endpoint}/api/v1/write",
        "OTEL_TOKENS_LEDGER_PATH": str(directory / "llm-spans.zst"),
        "OTEL_TOKENS_LEDGER_MAX_MEGABYTES": "1",
    }
    argv = [collector_bin, *(f"--config={c}" for c in CONFIGS), *flags]
    with running("gateway", argv, tmp / "gateway.log", f"http://127.0.0.1:{port['health']}/", env) as gateway:
        yield gateway, f"http://127.0.0.1:{port['http']}", directory


@pytest.fixture(scope="module")
def ledger(tmp_path_factory, collector_bin) -> Iterator[Ledger]:
    tmp = tmp_path_factory.mktemp("ledger")
    with OtlpReceiver() as backend, OtlpReceiver() as sink:
        with _gateway(tmp, collector_bin, backend, sink) as (gateway, endpoint, directory):
            sent_file = tmp / "sent-spans.jsonl"
            env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
            env.update(
                OTEL_EXPORTER_OTLP_ENDPOINT=endpoint,
                OTEL_EXPORTER_OTLP_PROTOCOL="http/protobuf",
                OTEL_BSP_SCHEDULE_DELAY="200",
                OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT="true",
            )
            done = subprocess.run(
                [
                    sys.executable,
                    "-c",
                    "import sys; from tests.stack.test_ledger import workload; workload(sys.argv[1])",
                    str(sent_file),
                ],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
                timeout=300,
            )
            assert done.returncode == 0, done.stderr[-4000:]
            sent = [json.loads(line) for line in sent_file.read_text().splitlines()]
            wait_for(lambda: len(backend.spans) >= len(sent), f"{len(sent)} spans at the backend", 60)
            llm = {span["span_id"] for span in sent if _is_llm(span)}
            wait_for(lambda: llm <= _ledger_span_ids(directory), "the workload's LLM spans in the ledger", 30)
            padding = _rotate(endpoint, directory)
            wait_for(
                lambda: len(backend.spans) >= len(sent) + len(padding), "the padded spans at the backend", 60
            )
        # Stopped (SIGTERM flushes the batch and closes the file) before the ledger is read.
        assert gateway.process.returncode == 0, gateway.output()
        yield Ledger(directory, list(iter_documents([directory])), backend, sent, padding)


def test_the_ledger_reads_without_a_skipped_record(ledger):
    assert ledger.items and not [str(i) for i in ledger.items if isinstance(i, Skipped)]


def test_only_llm_spans_are_in_the_ledger(ledger):
    spans = ledger.spans()
    assert spans and all(_is_llm(span) for span in spans)
    names = {span["name"] for span in spans}
    assert {"provider only", "operation only"} <= names  # either attribute makes an LLM span
    assert not names & {"POST /ask", "cache lookup"}
    assert {span["name"] for span in ledger.backend.spans} >= {"POST /ask", "cache lookup"}


def test_every_llm_span_is_in_the_ledger_exactly_once(ledger):
    counts = Counter(span["span_id"] for span in ledger.spans())
    assert max(counts.values()) == 1
    at_backend = {span["span_id"] for span in ledger.backend.spans if _is_llm(span)}
    sent = {span["span_id"] for span in ledger.sent if _is_llm(span)}
    assert len(sent) >= 20  # the demo's calls on every installed provider
    assert set(counts) == at_backend == sent | ledger.padding_ids


def test_the_ledger_holds_what_left_for_the_backend(ledger):
    """Same processors, same result: each span's attributes, events and resource are identical."""
    received = {span["span_id"]: span for span in ledger.backend.spans}
    for span in ledger.spans():
        assert span == received[span["span_id"]]


def test_no_message_content_is_in_the_ledger(ledger):
    with_content = [s for s in ledger.sent if any(k in s["attributes"] for k in CONTENT_KEYS)]
    assert len(with_content) >= 10  # capture was on: the workload really sent prompts
    assert not any(key in span["attributes"] for span in ledger.spans() for key in CONTENT_KEYS)
    assert PROMPT_MARKER not in json.dumps([i.body for i in ledger.items if isinstance(i, Document)])


def test_credentials_are_masked_in_the_ledger(ledger):
    tagged = [s for s in ledger.spans() if "otel_tokens.tag.note" in s["attributes"]]
    sent = [s for s in ledger.sent if s["attributes"].get("otel_tokens.tag.note") == LEAKED_NOTE]
    assert len(tagged) == len(sent) >= 15  # every LLM call made inside the leaking tags
    for span in tagged:
        assert span["attributes"]["otel_tokens.tag.api_key"] == MASK
        assert span["attributes"]["otel_tokens.tag.note"] == f"retrying with key {MASK}"
    everything = json.dumps([i.body for i in ledger.items if isinstance(i, Document)])
    for secret in (LEAKED_KEY, LEAKED_TAG_SECRET, "sk-ledger-test-key", "sk-demo-not-a-real-key"):
        assert secret not in everything


def test_rotation_leaves_a_backup_of_compressed_records_the_reader_reads(ledger):
    files = sorted(p.name for p in ledger.directory.iterdir())
    backups = [name for name in files if name != "llm-spans.zst"]
    assert files[-1] == "llm-spans.zst" and backups  # backups sort first
    for name in backups:
        assert name.startswith("llm-spans-") and name.endswith("-size.zst"), name
        path = ledger.directory / name
        assert path.stat().st_size <= 1024 * 1024
        items = list(iter_documents([path]))
        assert items and all(isinstance(i, Document) and i.unit == "record" for i in items)
    # The exporter's framing: every record a 4-byte big-endian length and one whole zstd frame.
    for name in files:
        data = (ledger.directory / name).read_bytes()
        pos = 0
        while pos < len(data):
            length = int.from_bytes(data[pos : pos + 4], "big")
            assert data[pos + 4 : pos + 8] == ZSTD_MAGIC
            params = zstandard.get_frame_parameters(data[pos + 4 : pos + 4 + length])
            assert params.has_checksum
            pos += 4 + length
        assert pos == len(data)


def test_with_the_native_compression_gate_the_files_are_standard_zstd(tmp_path, collector_bin):
    """--feature-gates=exporter.file.nativeCompression: frames with no length, JSON lines inside."""
    with OtlpReceiver() as backend, OtlpReceiver() as sink:
        gate = "--feature-gates=exporter.file.nativeCompression"
        with _gateway(tmp_path, collector_bin, backend, sink, gate) as (gateway, endpoint, directory):
            padding = _rotate(endpoint, directory)
        assert gateway.process.returncode == 0, gateway.output()
    items = list(iter_documents([directory]))
    assert items and all(isinstance(i, Document) and i.unit == "line" for i in items)
    ids = Counter(span["span_id"] for i in items if isinstance(i, Document) for span in _spans(i.body))
    assert set(ids) == padding and max(ids.values()) == 1
    for path in directory.iterdir():
        with (
            path.open("rb") as file,
            zstandard.ZstdDecompressor().stream_reader(file, read_across_frames=True) as z,
        ):
            lines = z.read().decode().splitlines()
        assert lines and all(json.loads(line)["resourceSpans"] for line in lines)
