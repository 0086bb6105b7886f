"""Fixtures every client's instrumentor tests share: a fake provider server on 127.0.0.1, an
instrumentor recording into memory, and no invalid counts left over from another test.

A client's own conftest overrides ``instrumentor_class`` and adds its SDK's client fixtures; no
client SDK is imported here, so each client's folder runs on its own (as
``scripts/test-client-versions`` runs it, against that client's oldest release).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from otel_tokens_fake_providers import FakeProviderServer

from otel_tokens.testing import InMemoryTelemetry
from otel_tokens.usage import take_invalid_count


@pytest.fixture(scope="session")
def server() -> Iterator[FakeProviderServer]:
    with FakeProviderServer() as running:
        yield running


@pytest.fixture(autouse=True)
def _reset_server(server: FakeProviderServer) -> None:
    server.reset()


@pytest.fixture(autouse=True)
def _no_leftover_invalid_counts() -> Iterator[None]:
    """Readers count invalid values on a per-thread tally that the next recorded call takes as
    its own: a test starts and ends with it empty."""
    take_invalid_count()
    yield
    take_invalid_count()


@pytest.fixture
def instrumentor_class() -> Any:
    """The instrumentor under test: each client's conftest overrides this."""
    raise pytest.UsageError("the client's conftest.py must define an instrumentor_class fixture")


@pytest.fixture
def telemetry(instrumentor_class: Any) -> Iterator[InMemoryTelemetry]:
    """The instrumentor, instrumented into in-memory span and metric readers for one test."""
    memory = InMemoryTelemetry()
    instrumentor = instrumentor_class()
    instrumentor.instrument(tracer_provider=memory.tracer_provider, meter_provider=memory.meter_provider)
    yield memory
    instrumentor.uninstrument()
    memory.shutdown()


@pytest.fixture
def reinstrument(instrumentor_class: Any, telemetry: InMemoryTelemetry) -> Callable[[], None]:
    """Instrument again, so that the recorder picks up settings a test changed."""

    def again() -> None:
        instrumentor_class().uninstrument()
        instrumentor_class().instrument(
            tracer_provider=telemetry.tracer_provider, meter_provider=telemetry.meter_provider
        )

    return again
