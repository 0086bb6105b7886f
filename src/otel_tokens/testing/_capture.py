"""``capture()``: every installed client instrumented into in-memory providers for one block."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import otel_tokens
from otel_tokens import _worker

from ._memory import InMemoryTelemetry


@contextlib.contextmanager
def capture(**settings: Any) -> Iterator[InMemoryTelemetry]:
    """Instrument every installed, supported client into fresh in-memory providers for the block.

    Yields the :class:`InMemoryTelemetry` whose :meth:`~InMemoryTelemetry.spans` and
    :meth:`~InMemoryTelemetry.points` hold what the block's calls recorded; they stay readable
    after the block. ``settings`` are :func:`otel_tokens.init` keyword arguments (``default_tags``,
    ``capture_content``...; not the providers) and raise its :class:`~otel_tokens.ConfigurationError`
    when invalid. On entry, any instrumentation already in place is removed; on exit, pending
    estimates are finished, every client is uninstrumented and the in-memory providers are shut
    down. Providers an earlier ``init()`` created are left alone.
    """
    telemetry = InMemoryTelemetry()
    try:
        # init() with unchanged settings keeps the clients as they are, wrapped for other
        # providers: start from none, so these are the providers in use.
        otel_tokens.uninstrument()
        otel_tokens.init(
            tracer_provider=telemetry.tracer_provider, meter_provider=telemetry.meter_provider, **settings
        )
        yield telemetry
    finally:
        _worker.flush()
        otel_tokens.uninstrument()
        telemetry.shutdown()
