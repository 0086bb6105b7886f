"""Fixtures: a fake Anthropic server on 127.0.0.1 and the real anthropic SDK, instrumented into memory."""

from __future__ import annotations

import anthropic
import pytest
from otel_tokens_anthropic import AnthropicInstrumentor

from otel_tokens.testing import FakeProviderServer, InMemoryTelemetry

API_KEY = "sk-ant-test-secret"


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
    instrumentor = AnthropicInstrumentor()
    instrumentor.instrument(tracer_provider=memory.tracer_provider, meter_provider=memory.meter_provider)
    yield memory
    instrumentor.uninstrument()
    memory.shutdown()


@pytest.fixture
def client(server):
    return anthropic.Anthropic(base_url=server.url, api_key=API_KEY, max_retries=0)


@pytest.fixture
def async_client(server):
    return anthropic.AsyncAnthropic(base_url=server.url, api_key=API_KEY, max_retries=0)
