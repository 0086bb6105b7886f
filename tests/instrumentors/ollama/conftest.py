"""Fixtures: a fake Ollama server on 127.0.0.1 and the real ollama SDK, instrumented into memory."""

from __future__ import annotations

import ollama
import pytest
from otel_tokens_ollama import OllamaInstrumentor

from otel_tokens.testing import FakeProviderServer, InMemoryTelemetry


@pytest.fixture(scope="session")
def server():
    with FakeProviderServer() as running:
        yield running


@pytest.fixture(autouse=True)
def _reset_server(server):
    server.reset()
    yield


@pytest.fixture
def telemetry():
    memory = InMemoryTelemetry()
    instrumentor = OllamaInstrumentor()
    instrumentor.instrument(tracer_provider=memory.tracer_provider, meter_provider=memory.meter_provider)
    yield memory
    instrumentor.uninstrument()
    memory.shutdown()


@pytest.fixture
def client(server):
    return ollama.Client(host=server.url)


@pytest.fixture
def async_client(server):
    return ollama.AsyncClient(host=server.url)


@pytest.fixture
def default_client(server):
    """The default Client behind ``ollama.chat`` & co., pointed at the fake server for one test."""
    http = ollama._client._client  # the package's `_client` attribute is its default Client
    original = http.base_url
    http.base_url = server.url
    yield
    http.base_url = original
