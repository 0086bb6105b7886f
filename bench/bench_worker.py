"""How many abandoned-stream estimates per second the background worker completes.

    uv run python bench/bench_worker.py [--streams 2000] [--seconds 5] [--read 0] [--profile]

An openai stream that the program drops unread (not exhausted, not closed) ends when it is
collected; having no usage, its tokens are estimated locally, and the estimate, the span's end
and the metric points run on otel-tokens' background worker. Two figures:

* ``drain``: the worker is held while ``--streams`` abandoned streams queue up, then released;
  completed estimates per second with the main thread idle: the worker's own cost;
* ``load``: the main thread opens and drops streams back to back for ``--seconds`` seconds while
  the worker runs (they share the GIL): arrivals and completions per second, and the backlog.

Streams come from an in-process transport (no network, so the main thread never waits and holds
the GIL nearly all the time: the worst case for the worker), or with ``--server`` from the fake
provider in another process over loopback (the main thread waits for each response, as in
production): ``--chunks`` content chunks and no usage chunk; the user message has
``--prompt-chars`` characters. ``--read N`` reads N chunks before
dropping a stream (their text is estimated too). The tokenizer is loaded before timing; spans go
to a ``BatchSpanProcessor`` whose exporter discards them, metrics to an in-memory reader.
``--profile`` prints the worker thread's cProfile entries for the drain (cProfile inflates the
many small Python calls of the SDK's attribute handling: read the shares, not the times).
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import json
import pstats
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from typing import Any

import _wire
import httpx2
import openai
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

import otel_tokens
from otel_tokens import _worker


class _Discard(SpanExporter):
    def __init__(self) -> None:
        self.spans = 0

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.spans += len(spans)
        return SpanExportResult.SUCCESS


def _client(chunks: int) -> openai.OpenAI:
    """A client whose streams have ``chunks`` content chunks of a few words and no usage chunk."""
    head = {"id": _wire.RESPONSE_ID, "created": 1_750_000_000, "model": _wire.RESPONSE_MODEL}
    events = [
        {
            **head,
            "object": "chat.completion.chunk",
            "choices": [{"index": 0, "delta": {"content": f" word{index} and more"}, "finish_reason": None}],
        }
        for index in range(chunks)
    ]
    body = ("".join(f"data: {json.dumps(event)}\n\n" for event in events) + "data: [DONE]\n\n").encode()
    headers = {"content-type": "text/event-stream"}
    transport = httpx2.MockTransport(lambda request: httpx2.Response(200, content=body, headers=headers))
    return openai.OpenAI(
        api_key="sk-bench",
        base_url=_wire.BASE_URL,
        max_retries=0,
        http_client=openai.DefaultHttpx2Client(transport=transport),
    )


def _prompt(chars: int) -> str:
    sentence = "Please suggest three science fiction novels for a long train journey across Europe. "
    return (sentence * (chars // len(sentence) + 1))[:chars]


def _abandon(client: openai.OpenAI, messages: list[Any], read: int) -> None:
    # No stream_options: no usage is asked for, so the tokens are estimated.
    stream = client.chat.completions.create(
        model=_wire.REQUEST_MODEL, messages=messages, max_completion_tokens=400, stream=True
    )
    for index, _ in enumerate(stream):
        if index + 1 >= read:
            break
    stream.response.close()  # the connection back to the pool; the stream itself is dropped unended
    del stream


def _backlog() -> int:
    backlog = getattr(_worker, "backlog", None)
    if backlog is not None:
        return int(backlog())
    return int(_worker._queue.qsize())  # the worker before it kept a count (for before/after runs)


def main() -> None:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    parser.add_argument("--streams", type=int, default=2000, help="abandoned streams queued for the drain")
    parser.add_argument("--seconds", type=float, default=5.0, help="length of the load phase")
    parser.add_argument("--read", type=int, default=0, help="chunks read before a stream is dropped")
    parser.add_argument("--chunks", type=int, default=20, help="content chunks per stream")
    parser.add_argument("--prompt-chars", type=int, default=2000, help="size of the user message")
    parser.add_argument(
        "--server",
        action="store_true",
        help="streams from the fake provider in another process, over loopback",
    )
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()

    exporter = _Discard()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(BatchSpanProcessor(exporter, max_queue_size=100_000))
    meter_provider = MeterProvider(metric_readers=[InMemoryMetricReader()])
    otel_tokens.init(tracer_provider=tracer_provider, meter_provider=meter_provider)
    server = None
    if args.server:
        command = [
            sys.executable,
            "-m",
            "otel_tokens_fake_providers",
            "--port",
            "0",
            "--chunks",
            str(args.chunks),
        ]
        server = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
        assert server.stdout is not None
        url = server.stdout.readline().split()[4]  # "fake provider listening on URL (..."
        client = openai.OpenAI(api_key="sk-bench", base_url=url + "/v1", max_retries=0)
    else:
        client = _client(args.chunks)
    messages = [_wire.MESSAGES[0], {"role": "user", "content": _prompt(args.prompt_chars)}]
    for _ in range(20):  # warm-up: tokenizer loaded, price resolved, code paths hot
        _abandon(client, messages, args.read)
    _worker.flush(60)
    gc.collect()

    held = threading.Event()
    assert _worker.submit(held.wait)
    profile = cProfile.Profile()
    if args.profile:
        assert _worker.submit(profile.enable)
    for _ in range(args.streams):
        _abandon(client, messages, args.read)
    queued = _backlog()
    started = time.perf_counter()
    held.set()
    assert _worker.flush(600)
    drain = queued / (time.perf_counter() - started)
    if args.profile:
        _worker.submit(profile.disable)
        _worker.flush(60)
    print(f"drain: {drain:,.0f} estimates/s (worker alone, {queued} queued, read={args.read})")

    tracer_provider.force_flush()
    exported_before = exporter.spans
    arrived = 0
    started = time.perf_counter()
    deadline = started + args.seconds
    while time.perf_counter() < deadline:
        _abandon(client, messages, args.read)
        arrived += 1
    elapsed = time.perf_counter() - started
    backlog = _backlog()
    completed = arrived - backlog
    print(
        f"load: {arrived / elapsed:,.0f} streams/s arriving, {completed / elapsed:,.0f}/s estimated, "
        f"{backlog} still queued after {elapsed:.1f} s"
    )
    _worker.flush(600)
    tracer_provider.force_flush()
    assert exporter.spans - exported_before == arrived, "every abandoned stream must end in a span"
    if args.profile:
        out = io.StringIO()
        pstats.Stats(profile, stream=out).sort_stats("cumulative").print_stats(30)
        print(out.getvalue())
    if server is not None:
        server.terminate()
        server.wait()
    otel_tokens.shutdown()
    tracer_provider.shutdown()
    meter_provider.shutdown()


if __name__ == "__main__":
    main()
