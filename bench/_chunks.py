"""The per-chunk cost of stream bookkeeping alone, apart from the per-stream fixed costs.

A whole-stream overhead divided by its chunk count mixes two things: the work done for every
chunk (the proxy and the observer) and the work done once per stream (span, pricing, metric
points). This measures the first alone: the same parsed ``ChatCompletionChunk`` objects are
iterated bare and through otel-tokens' real stream proxy and chat observer, interleaved.
"""

from __future__ import annotations

import gc
import statistics
import time
from typing import Any

import _wire
from openai.types.chat import ChatCompletionChunk
from otel_tokens_openai._endpoints import CHAT, ChatStreamObserver

from otel_tokens.instrumentation import SyncStreamProxy


class _Invocation:
    """Stands in for the recorder's invocation: the observer's per-chunk work is what is timed."""

    def __init__(self) -> None:
        self.finished: Any = None
        self.time_to_first_chunk: float | None = None

    def first_chunk(self) -> None:
        self.time_to_first_chunk = 0.0

    def end(self, result: Any = None, error: BaseException | None = None) -> None:
        self.finished = result


def _chunks() -> list[ChatCompletionChunk]:
    events = [
        line[len("data: ") :]
        for line in _wire.stream_body().decode().split("\n\n")
        if line.startswith("data: {")
    ]
    return [ChatCompletionChunk.model_validate_json(event) for event in events]


def per_chunk_us(rounds: int = 30) -> dict[str, float]:
    """Median µs per chunk: bare iteration, and the extra for proxy + observer."""
    chunks = _chunks()
    bare_times, observed_times = [], []
    last = _Invocation()
    for _ in range(rounds):
        gc.disable()
        try:
            start = time.perf_counter_ns()
            for _ in iter(chunks):
                pass
            bare_times.append(time.perf_counter_ns() - start)
            last = _Invocation()
            start = time.perf_counter_ns()
            observer = ChatStreamObserver(CHAT, False)
            for _ in SyncStreamProxy(iter(chunks), last, observer):  # type: ignore[arg-type]
                pass
            observed_times.append(time.perf_counter_ns() - start)
        finally:
            gc.enable()
    if last.finished is None or last.finished.usage is None:
        raise AssertionError("the observer did not see the usage chunk: the measurement would be of a no-op")
    count = len(chunks)
    bare = statistics.median(bare_times) / count / 1e3
    return {"bare_us": bare, "bookkeeping_us": statistics.median(observed_times) / count / 1e3 - bare}
