"""Fixtures: a fake Bedrock runtime on 127.0.0.1 and a real boto3 client, instrumented into memory."""

from __future__ import annotations

import boto3
import pytest
from botocore.config import Config
from otel_tokens_bedrock import BedrockInstrumentor

from otel_tokens.testing import FakeProviderServer, InMemoryTelemetry

# No retries: an error scenario must reach the caller after exactly one request. botocore's
# `max_attempts` counts retries after the first attempt; `total_max_attempts` counts them all.
NO_RETRIES = Config(retries={"total_max_attempts": 1})


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
    instrumentor = BedrockInstrumentor()
    instrumentor.instrument(tracer_provider=memory.tracer_provider, meter_provider=memory.meter_provider)
    yield memory
    instrumentor.uninstrument()
    memory.shutdown()


def make_client(url: str):
    return boto3.client(
        "bedrock-runtime",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="AKIDTESTSECRETKEY",
        aws_secret_access_key="test-secret-access-key",
        config=NO_RETRIES,
    )


@pytest.fixture
def client(server):
    return make_client(server.url)
