"""Fixtures: a fake Mistral server on 127.0.0.1 and the real mistralai SDK, instrumented into memory."""

from __future__ import annotations

import pytest
from otel_tokens_mistralai import MistralAIInstrumentor

from otel_tokens.testing import FakeProviderServer, InMemoryTelemetry

from .sdk import Mistral

API_KEY = "mistral-test-secret"


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
    instrumentor = MistralAIInstrumentor()
    instrumentor.instrument(tracer_provider=memory.tracer_provider, meter_provider=memory.meter_provider)
    yield memory
    instrumentor.uninstrument()
    memory.shutdown()


@pytest.fixture
def client(server):
    # The SDK retries only when given a retry config; none here, so an error is one request.
    return Mistral(api_key=API_KEY, server_url=server.url)
