"""Calls through an OpenAI-compatible gateway: the openai SDK pointed at a host that is no known
provider (the fake server on 127.0.0.1), priced by the provider their model name points to.

Expected prices are genai-prices' own ``calc_price`` at the instant the price book is pinned to.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

import genai_prices
import pytest
from otel_tokens_fake_providers import Scenario

from otel_tokens import _runtime
from otel_tokens._settings import Settings
from tests._recorded import RECORDED_DIR, raw_response, recorded
from tests.test_recorded_replay_openai import _client, _send

from .helpers import only_span

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
MESSAGES = [{"role": "user", "content": "Say hello."}]
DEEPSEEK_STREAM = "deepseek/chat_stream_usage_in_last_chunk.json"
INFERRED = ("otel_tokens.price.match", "otel_tokens.price.provider")


@pytest.fixture(autouse=True)
def pinned_prices(telemetry) -> None:
    """Every price at one instant: DeepSeek's price depends on the time of day."""
    _runtime.price_book()._clock = NOW.timestamp


def library_total(
    model: str, provider_id: str, input_tokens: int, output_tokens: int, cached: int = 0
) -> float:
    usage = genai_prices.Usage(
        input_tokens=input_tokens, output_tokens=output_tokens, cache_read_tokens=cached
    )
    return float(
        genai_prices.calc_price(
            usage, model, provider_id=provider_id, genai_request_timestamp=NOW
        ).total_price
    )


def _deepseek_exchange() -> dict[str, Any]:
    exchange = json.loads((RECORDED_DIR / DEEPSEEK_STREAM).read_text(encoding="utf-8"))
    assert exchange["request"]["body"]["model"] == "deepseek-chat" and exchange["stream"]
    return exchange


def _consume(result: Any) -> None:
    for _ in result:
        pass


def _no_price_labels_on_metrics(telemetry) -> None:
    for point in telemetry.points():
        assert not [key for key in point.attributes if key.startswith("otel_tokens.price.")], point


@recorded
def test_recorded_deepseek_stream_through_an_unknown_host_is_priced_as_deepseek(server, telemetry):
    exchange = _deepseek_exchange()
    server.enqueue(raw_response(exchange))
    _consume(_send(_client(exchange, server.url), exchange))  # http://127.0.0.1:<port>/beta

    attributes = dict(only_span(telemetry).attributes)
    usage = exchange["expected_usage"]
    # The provider is what the client knows; the price is DeepSeek's, and says it was inferred.
    assert attributes["gen_ai.provider.name"] == "openai"
    assert attributes["server.address"] == "127.0.0.1"
    assert "otel_tokens.price.missing" not in attributes
    assert attributes["gen_ai.usage.cost.amount"] == pytest.approx(
        library_total(
            "deepseek-chat",
            "deepseek",
            usage["prompt_tokens"],
            usage["completion_tokens"],
            usage["prompt_cache_hit_tokens"],
        ),
        rel=1e-9,
    )
    assert {key: attributes.get(key) for key in INFERRED} == dict(
        zip(INFERRED, ("model_name", "deepseek"), strict=True)
    )
    [point] = telemetry.points("otel_tokens.client.cost")
    assert point.attributes["gen_ai.provider.name"] == "openai"
    assert telemetry.points("otel_tokens.client.unpriced_calls") == []
    _no_price_labels_on_metrics(telemetry)


@recorded
@pytest.mark.parametrize(("declared", "priced"), [("deepseek", True), ("anthropic", False)])
def test_provider_hosts_wins_over_the_model_name(server, telemetry, reinstrument, declared, priced):
    _runtime.set_settings(Settings(provider_hosts={"127.0.0.1": declared}))
    reinstrument()
    _runtime.price_book()._clock = NOW.timestamp
    exchange = _deepseek_exchange()
    server.enqueue(raw_response(exchange))
    _consume(_send(_client(exchange, server.url), exchange))

    attributes = dict(only_span(telemetry).attributes)
    assert attributes["gen_ai.provider.name"] == declared
    assert not set(INFERRED) & set(attributes)  # a declared provider prices directly, or not at all
    if priced:
        usage = exchange["expected_usage"]
        assert attributes["gen_ai.usage.cost.amount"] == pytest.approx(
            library_total("deepseek-chat", "deepseek", usage["prompt_tokens"], usage["completion_tokens"]),
            rel=1e-9,
        )
    else:  # Anthropic sells no "deepseek-chat": declared, so not second-guessed
        assert attributes["otel_tokens.price.missing"] is True


# (model the caller names, how it matches, genai-prices provider id, model priced there)
GATEWAY_MODELS = [
    ("gpt-4o-mini", None, "openai", "gpt-4o-mini"),
    ("claude-sonnet-4-5", "model_name", "anthropic", "claude-sonnet-4-5"),
    ("anthropic/claude-sonnet-4-5", "model_prefix", "anthropic", "claude-sonnet-4-5"),
    ("openrouter/anthropic/claude-sonnet-4-5", "model_prefix", "anthropic", "claude-sonnet-4-5"),
    ("gemini-2.5-flash", "model_name", "google", "gemini-2.5-flash"),
    ("deepseek-chat", "model_name", "deepseek", "deepseek-chat"),
    ("mistral-large-latest", "model_name", "mistral", "mistral-large-latest"),
    ("grok-3", "model_name", "x-ai", "grok-3"),
    ("command-r", "model_name", "cohere", "command-r"),
    ("llama-3.3-70b-versatile", "model_name", "groq", "llama-3.3-70b-versatile"),
]


@pytest.mark.parametrize(
    ("model", "match", "provider_id", "ref"), GATEWAY_MODELS, ids=[m[0] for m in GATEWAY_MODELS]
)
def test_gateway_style_model_names(server, client, telemetry, model, match, provider_id, ref):
    server.enqueue(Scenario(model=model, prompt_tokens=1500, cached_tokens=500, completion_tokens=120))
    client.chat.completions.create(model=model, messages=MESSAGES)

    attributes = dict(only_span(telemetry).attributes)
    assert attributes["gen_ai.provider.name"] == "openai"
    assert attributes["gen_ai.usage.cost.amount"] == pytest.approx(
        library_total(ref, provider_id, 1500, 120, 500), rel=1e-9
    )
    expected = {} if match is None else dict(zip(INFERRED, (match, provider_id), strict=True))
    assert {key: attributes[key] for key in INFERRED if key in attributes} == expected
    _no_price_labels_on_metrics(telemetry)


async def test_gateway_stream_async(server, async_client, telemetry):
    server.enqueue(
        Scenario(model="claude-sonnet-4-5", prompt_tokens=40, completion_tokens=9, include_usage=True)
    )
    stream = await async_client.chat.completions.create(
        model="anthropic/claude-sonnet-4-5", messages=MESSAGES, stream=True
    )
    async for _ in stream:
        pass

    attributes = only_span(telemetry).attributes
    # The response's model has a price of its own, found by name; the requested one is not needed.
    assert attributes["gen_ai.usage.cost.amount"] == pytest.approx(
        library_total("claude-sonnet-4-5", "anthropic", 40, 9), rel=1e-9
    )
    assert (attributes["otel_tokens.price.match"], attributes["otel_tokens.price.provider"]) == (
        "model_name",
        "anthropic",
    )


def test_ambiguous_gateway_model_is_unpriced_counted_and_warned_once(server, client, telemetry, caplog):
    with caplog.at_level(logging.WARNING, logger="otel_tokens.pricing"):
        for _ in range(2):
            server.enqueue(Scenario(model="sonar-reasoning", prompt_tokens=10, completion_tokens=5))
            client.chat.completions.create(model="sonar-reasoning", messages=MESSAGES)

    for span in telemetry.spans():
        assert span.attributes["otel_tokens.price.missing"] is True
        assert "gen_ai.usage.cost.amount" not in span.attributes
    [unpriced] = telemetry.points("otel_tokens.client.unpriced_calls")
    assert unpriced.value == 2
    [warning] = [r.getMessage() for r in caplog.records if "sonar-reasoning" in r.getMessage()]
    assert "openrouter, perplexity" in warning and "OTEL_TOKENS_PROVIDER_HOSTS" in warning


def test_unknown_model_through_a_gateway_stays_unpriced(server, client, telemetry):
    server.enqueue(Scenario(model="acme/private-llm-7", prompt_tokens=10, completion_tokens=5))
    client.chat.completions.create(model="acme/private-llm-7", messages=MESSAGES)
    attributes = only_span(telemetry).attributes
    assert attributes["otel_tokens.price.missing"] is True
    assert not {"gen_ai.usage.cost.amount", *INFERRED} & set(attributes)


@pytest.mark.parametrize(
    ("base_url", "azure", "overrides", "gateway"),
    [
        ("http://gw.corp:8080/v1", False, {}, True),
        ("http://127.0.0.1:4000/v1", False, {}, True),
        ("https://api.openai.com/v1", False, {}, False),
        ("https://api.deepseek.com/beta", False, {}, False),
        ("https://acme.openai.azure.com", False, {}, False),
        ("http://gw.corp:8080/v1", True, {}, False),
        ("http://localhost:11434/v1", False, {}, False),
        ("http://gw.corp:8080/v1", False, {"gw.corp": "openai"}, False),
        ("http://gw.corp:8080/v1", False, {"gw.corp:8080": "anthropic"}, False),
        ("http://gw.corp:8080/v1", False, {"gw.corp:9090": "anthropic"}, True),
    ],
)
def test_route_tells_gateways_from_known_providers(base_url, azure, overrides, gateway):
    from otel_tokens_openai._extract import provider_for, route_for

    route = route_for(base_url, azure, overrides)
    assert route[3] is gateway
    assert route[:3] == provider_for(base_url, azure, overrides)
    if gateway:
        assert route[0] == "openai"
