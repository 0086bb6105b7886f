"""Fixtures: a fake OpenAI server on 127.0.0.1 and the real openai SDK, instrumented into memory."""

from __future__ import annotations

import openai
import pytest
from otel_tokens_openai import OpenAIInstrumentor

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
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(tracer_provider=memory.tracer_provider, meter_provider=memory.meter_provider)
    yield memory
    instrumentor.uninstrument()
    memory.shutdown()


@pytest.fixture
def client(server):
    return openai.OpenAI(base_url=server.url + "/v1", api_key="sk-test-secret", max_retries=0)


@pytest.fixture
def async_client(server):
    return openai.AsyncOpenAI(base_url=server.url + "/v1", api_key="sk-test-secret", max_retries=0)
