"""Streams whose class rejects proxies in isinstance (anthropic 0.x) are observed in place.

anthropic up to 0.125 gives Stream/AsyncStream a metaclass whose isinstance is False for anything
but the exact class. These tests use stand-ins with the same metaclass rule and the SDK's shape
(`_iterator`, `close()`, a context manager calling `close()`), so they run on any SDK version.
"""

from __future__ import annotations

import gc
from typing import Any

from otel_tokens_anthropic._stream import observe_stream

from otel_tokens.record import CallRequest

from .helpers import only_span

EVENTS = [
    {
        "type": "message_start",
        "message": {"id": "msg_1", "model": "m", "usage": {"input_tokens": 5, "output_tokens": 1}},
    },
    {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hi"}},
    {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 3}},
    {"type": "message_stop"},
]


class ExactOnly(type):
    def __instancecheck__(cls, instance: Any) -> bool:
        return False  # like anthropic 0.x: only the exact class passes (Python's own fast path)


class FakeStream(metaclass=ExactOnly):
    def __init__(self) -> None:
        self._iterator = iter(list(EVENTS))
        self.closed = 0

    def __iter__(self):
        yield from self._iterator

    def __next__(self):
        return next(self._iterator)

    def __enter__(self):
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        self.closed += 1


class FakeAsyncStream(metaclass=ExactOnly):
    def __init__(self) -> None:
        self._iterator = self._events()
        self.closed = 0

    async def _events(self):
        for event in EVENTS:
            yield event

    async def __aiter__(self):
        async for item in self._iterator:
            yield item

    async def close(self) -> None:
        self.closed += 1


def invocation(telemetry):
    from otel_tokens.metrics import create_instruments
    from otel_tokens.record import Recorder

    tracer = telemetry.tracer_provider.get_tracer("test")
    recorder = Recorder(tracer, create_instruments(telemetry.meter_provider.get_meter("test")))
    return recorder.start(CallRequest(operation="chat", provider="anthropic", request_model="m"))


def test_sync_stream_keeps_its_class_and_ends_once(telemetry):
    stream = FakeStream()
    observed = observe_stream(invocation(telemetry), stream)
    assert observed is stream and isinstance(observed, FakeStream)
    assert [event["type"] for event in observed] == [event["type"] for event in EVENTS]
    observed.close()
    assert stream.closed == 1
    span = only_span(telemetry)
    assert (span.attributes["gen_ai.usage.input_tokens"], span.attributes["gen_ai.usage.output_tokens"]) == (
        5,
        3,
    )


def test_sync_stream_closed_through_with_before_the_end(telemetry):
    with observe_stream(invocation(telemetry), FakeStream()) as stream:
        next(stream)
    assert stream.closed == 1
    assert only_span(telemetry).attributes["gen_ai.usage.input_tokens"] == 5


def test_sync_stream_dropped_unread_ends(telemetry):
    observe_stream(invocation(telemetry), FakeStream())
    gc.collect()
    assert len(telemetry.spans()) == 1


async def test_async_stream_keeps_its_class_and_ends_once(telemetry):
    stream = FakeAsyncStream()
    observed = observe_stream(invocation(telemetry), stream)
    assert observed is stream
    assert [event["type"] async for event in observed][-1] == "message_stop"
    await observed.close()
    assert stream.closed == 1
    assert only_span(telemetry).attributes["gen_ai.usage.output_tokens"] == 3
