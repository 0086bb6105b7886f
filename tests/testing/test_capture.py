"""otel_tokens.testing.capture(): a user's test reads what otel-tokens recorded, from memory."""

from __future__ import annotations

from collections.abc import Iterator

import openai
import pytest
from otel_tokens_fake_providers import FakeProviderServer, Scenario

import otel_tokens
from otel_tokens.testing import InMemoryTelemetry, capture

MESSAGES = [{"role": "user", "content": "hi"}]


@pytest.fixture(scope="module")
def server() -> Iterator[FakeProviderServer]:
    with FakeProviderServer(Scenario(prompt_tokens=12, completion_tokens=3)) as running:
        yield running


@pytest.fixture
def client(server: FakeProviderServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.url + "/v1", api_key="x", max_retries=0)


def _chat(client: openai.OpenAI) -> None:
    client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)


def test_capture_records_the_blocks_calls_readable_in_and_after_it(client):
    with capture() as telemetry:
        assert isinstance(telemetry, InMemoryTelemetry)
        assert "openai" in otel_tokens.instrumented_clients()
        _chat(client)
        [inside] = telemetry.spans()
    [span] = telemetry.spans()
    assert span is inside
    assert span.name == "chat gpt-4o-mini"
    assert {k: span.attributes[k] for k in ("gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens")} == {
        "gen_ai.usage.input_tokens": 12,
        "gen_ai.usage.output_tokens": 3,
    }
    [cost] = telemetry.points("otel_tokens.client.cost")
    assert cost.count == 1 and cost.sum == span.attributes["gen_ai.usage.cost.amount"] > 0
    tokens = {p.attributes["gen_ai.token.type"]: p.sum for p in telemetry.points("gen_ai.client.token.usage")}
    assert tokens == {"input": 12, "output": 3}


def test_capture_uninstruments_on_exit(client):
    with capture() as telemetry:
        pass
    assert otel_tokens.instrumented_clients() == []
    _chat(client)
    assert telemetry.spans() == ()


def test_capture_passes_settings_to_init(client):
    with capture(default_tags={"team": "search"}, disabled_instrumentors="anthropic") as telemetry:
        assert "anthropic" not in otel_tokens.instrumented_clients()
        _chat(client)
    [span] = telemetry.spans()
    assert span.attributes["otel_tokens.tag.team"] == "search"


def test_capture_refuses_an_invalid_setting_and_cleans_up():
    with pytest.raises(otel_tokens.ConfigurationError, match="max_tag_values"), capture(max_tag_values=0):
        pytest.fail("the block must not run")
    assert otel_tokens.instrumented_clients() == []


def test_capture_takes_over_from_an_earlier_init_with_the_same_settings(client):
    earlier = InMemoryTelemetry()
    otel_tokens.init(tracer_provider=earlier.tracer_provider, meter_provider=earlier.meter_provider)
    try:
        with capture() as telemetry:
            _chat(client)
        assert len(telemetry.spans()) == 1
        assert earlier.spans() == ()
    finally:
        otel_tokens.shutdown()
        earlier.shutdown()


def test_capture_uninstruments_when_the_block_raises(client):
    with pytest.raises(RuntimeError, match="the test failed"), capture():
        raise RuntimeError("the test failed")
    assert otel_tokens.instrumented_clients() == []
