"""Chat through the real ollama SDK against the fake server: spans, metrics, cost, errors."""

from __future__ import annotations

import ollama
import pytest
from opentelemetry.trace import SpanKind, StatusCode
from otel_tokens_fake_providers import Scenario

from otel_tokens import tags
from otel_tokens.tokenize import Tokenizer

from .helpers import MESSAGES, OVERRIDES, details, gpu_cost, only_span, token_points


def test_chat_span_attributes_usage_and_zero_cost(server, client, telemetry):
    server.enqueue(Scenario(text="Hello!", prompt_tokens=26, completion_tokens=3))
    with tags(team="search", feature="autocomplete", user="u-1"):
        response = client.chat(
            model="llama3",
            messages=MESSAGES,
            options={
                "temperature": 0.2,
                "top_p": 0.9,
                "top_k": 40,
                "seed": 7,
                "num_predict": 100,
                "stop": ["END"],
            },
            format="json",
        )
    assert isinstance(response, ollama.ChatResponse)  # the user gets the SDK's own object, unchanged
    assert (response.prompt_eval_count, response.eval_count) == (26, 3)
    span = only_span(telemetry)
    assert span.name == "chat llama3"
    assert span.kind is SpanKind.CLIENT
    assert dict(span.attributes) == {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "ollama",
        "gen_ai.request.model": "llama3",
        "server.address": "127.0.0.1",
        "server.port": server.port,
        "gen_ai.request.temperature": 0.2,
        "gen_ai.request.top_p": 0.9,
        "gen_ai.request.top_k": 40,
        "gen_ai.request.seed": 7,
        "gen_ai.request.max_tokens": 100,
        "gen_ai.request.stop_sequences": ("END",),
        "gen_ai.output.type": "json",
        "otel_tokens.tag.team": "search",
        "otel_tokens.tag.feature": "autocomplete",
        "otel_tokens.tag.user": "u-1",
        "gen_ai.response.model": "llama3",
        "gen_ai.response.finish_reasons": ("stop",),
        "gen_ai.usage.input_tokens": 26,
        "gen_ai.usage.output_tokens": 3,
        # A local model: free unless an override prices it, and that is a price, not a missing one.
        "gen_ai.usage.cost.amount": 0.0,
        "gen_ai.usage.cost.currency": "USD",
        "gen_ai.usage.cost.source": "local",
        "otel_tokens.cost.input": 0.0,
        "otel_tokens.cost.output": 0.0,
        "otel_tokens.price.source": "local-model",
    }
    assert span.status.status_code is StatusCode.UNSET

    metric_attributes = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "ollama",
        "gen_ai.request.model": "llama3",
        "gen_ai.response.model": "llama3",
        "server.address": "127.0.0.1",
        "otel_tokens.tag.team": "search",
        "otel_tokens.tag.feature": "autocomplete",
    }  # "user" is not an allowed metric tag key by default
    tokens = token_points(telemetry)
    assert tokens["input"].attributes == {**metric_attributes, "gen_ai.token.type": "input"}
    assert tokens["output"].attributes == {**metric_attributes, "gen_ai.token.type": "output"}
    assert (tokens["input"].sum, tokens["input"].count) == (26, 1)
    assert (tokens["output"].sum, tokens["output"].count) == (3, 1)
    [cost_point] = telemetry.points("otel_tokens.client.cost")
    assert (cost_point.attributes, cost_point.sum, cost_point.count) == (metric_attributes, 0.0, 1)
    [duration] = telemetry.points("gen_ai.client.operation.duration")
    assert duration.attributes == metric_attributes
    assert duration.count == 1 and 0 < duration.sum < 5
    assert telemetry.points("otel_tokens.client.token.detail") == []
    assert telemetry.points("otel_tokens.client.unpriced_calls") == []
    assert telemetry.points("gen_ai.client.operation.time_to_first_chunk") == []


async def test_async_chat(server, async_client, telemetry):
    server.enqueue(Scenario(prompt_tokens=30, completion_tokens=12))
    response = await async_client.chat(model="llama3", messages=MESSAGES)
    assert response.message.content == "Hello from the fake provider."
    span = only_span(telemetry)
    assert (span.attributes["gen_ai.usage.input_tokens"], span.attributes["gen_ai.usage.output_tokens"]) == (
        30,
        12,
    )
    assert span.attributes["server.port"] == server.port


def test_positional_arguments_and_sdk_objects(server, client, telemetry):
    messages = [ollama.Message(role="user", content="Say hello.")]
    server.enqueue(Scenario(prompt_tokens=5, completion_tokens=2))
    client.chat("llama3", messages, options=ollama.Options(temperature=0.0, num_predict=8))
    span = only_span(telemetry)
    assert span.attributes["gen_ai.request.model"] == "llama3"
    assert span.attributes["gen_ai.request.temperature"] == 0.0
    assert span.attributes["gen_ai.request.max_tokens"] == 8


def test_gpu_chargeback_price_override(server, client, telemetry, tmp_path, reinstrument):
    from otel_tokens import _runtime
    from otel_tokens._settings import Settings

    overrides = tmp_path / "prices.toml"
    overrides.write_text(OVERRIDES)
    _runtime.set_settings(Settings(price_overrides=str(overrides)))
    reinstrument()
    server.enqueue(Scenario(prompt_tokens=1200, completion_tokens=300))
    client.chat(model="llama3.1:70b", messages=MESSAGES)
    server.enqueue(Scenario(prompt_tokens=1200, completion_tokens=300))
    client.chat(model="llama3.1:8b", messages=MESSAGES)  # not in the file: still free
    priced, free = telemetry.spans()
    expected = gpu_cost(input=1200, output=300)
    assert priced.attributes["gen_ai.usage.cost.amount"] == pytest.approx(expected, rel=1e-12)
    assert priced.attributes["otel_tokens.cost.input"] == pytest.approx(1200 * 0.05 / 1e6, rel=1e-12)
    assert priced.attributes["otel_tokens.cost.output"] == pytest.approx(300 * 0.20 / 1e6, rel=1e-12)
    assert priced.attributes["otel_tokens.price.source"] == "override"
    assert (free.attributes["gen_ai.usage.cost.amount"], free.attributes["otel_tokens.price.source"]) == (
        0.0,
        "local-model",
    )
    costs = sorted(p.sum for p in telemetry.points("otel_tokens.client.cost"))
    assert costs == [0.0, pytest.approx(expected, rel=1e-12)]


def test_gpu_chargeback_through_the_environment(
    server, client, telemetry, tmp_path, monkeypatch, reinstrument
):
    from otel_tokens import _runtime

    overrides = tmp_path / "prices.toml"
    overrides.write_text(OVERRIDES)
    monkeypatch.setenv("OTEL_TOKENS_PRICE_OVERRIDES", str(overrides))
    _runtime.reset()  # settings are read from the environment again
    reinstrument()
    server.enqueue(Scenario(prompt_tokens=1_000_000, completion_tokens=1_000_000))
    client.chat(model="llama3.1:70b", messages=MESSAGES)
    assert only_span(telemetry).attributes["gen_ai.usage.cost.amount"] == pytest.approx(0.25, rel=1e-12)


def test_kv_cache_hit_counts_the_prompt_as_an_estimated_cache_read(
    server, client, telemetry, tmp_path, reinstrument
):
    from otel_tokens import _runtime
    from otel_tokens._settings import Settings

    overrides = tmp_path / "prices.toml"
    overrides.write_text(OVERRIDES)
    _runtime.set_settings(Settings(price_overrides=str(overrides)))
    reinstrument()
    # The whole prompt was in the KV cache: Ollama leaves prompt_eval_count out (it is 0).
    server.enqueue(Scenario(prompt_tokens=0, completion_tokens=40))
    response = client.chat(model="llama3.1:70b", messages=MESSAGES)
    assert response.prompt_eval_count is None
    prompt = Tokenizer().count_chat_input(None, MESSAGES)
    span = only_span(telemetry)
    assert {k: v for k, v in span.attributes.items() if k.startswith(("gen_ai.usage.", "otel_tokens."))} == {
        "gen_ai.usage.input_tokens": prompt.tokens,
        "gen_ai.usage.cache_read.input_tokens": prompt.tokens,
        "gen_ai.usage.output_tokens": 40,  # the server's own count
        "otel_tokens.usage.estimated": True,
        "otel_tokens.usage.estimate_method": "heuristic",
        "gen_ai.usage.cost.amount": pytest.approx(
            gpu_cost(input=prompt.tokens, cached=prompt.tokens, output=40)
        ),
        "gen_ai.usage.cost.currency": "USD",
        "gen_ai.usage.cost.source": "local",
        "otel_tokens.cost.input": 0.0,
        "otel_tokens.cost.cache_read": pytest.approx(prompt.tokens * 0.01 / 1e6),
        "otel_tokens.cost.output": pytest.approx(40 * 0.20 / 1e6),
        "otel_tokens.price.source": "override",
    }
    assert details(telemetry) == {"cache_read": prompt.tokens}
    assert token_points(telemetry)["output"].attributes["otel_tokens.usage.estimated"] is True


def test_kv_cache_hit_with_estimates_off_reports_only_the_output(server, client, telemetry, reinstrument):
    from otel_tokens import _runtime
    from otel_tokens._settings import Settings

    _runtime.set_settings(Settings(estimate_usage=False))
    reinstrument()
    server.enqueue(Scenario(prompt_tokens=0, completion_tokens=40))
    client.chat(model="llama3", messages=MESSAGES)
    attributes = only_span(telemetry).attributes
    assert attributes["gen_ai.usage.output_tokens"] == 40
    assert "gen_ai.usage.input_tokens" not in attributes
    assert "otel_tokens.usage.estimated" not in attributes


def test_newer_servers_cached_count_is_a_cache_read_when_the_sdk_passes_it(server, client, telemetry):
    # The SDK (up to 0.6) drops prompt_eval_cached_count; the total stays right either way.
    server.enqueue(Scenario(prompt_tokens=500, cached_tokens=480, completion_tokens=9))
    response = client.chat(model="llama3", messages=MESSAGES)
    attributes = only_span(telemetry).attributes
    assert attributes["gen_ai.usage.input_tokens"] == 500
    cached = getattr(response, "prompt_eval_cached_count", None)
    assert attributes.get("gen_ai.usage.cache_read.input_tokens") == cached


def test_missing_usage_is_estimated_and_flagged(server, client, telemetry):
    text = "Hello there, this answer has no counts."
    server.enqueue(Scenario(text=text, include_usage=False))
    client.chat(model="llama3", messages=MESSAGES)
    span = only_span(telemetry)
    reference = Tokenizer()
    assert span.attributes["otel_tokens.usage.estimated"] is True
    assert span.attributes["otel_tokens.usage.estimate_method"] == "heuristic"
    assert (
        span.attributes["gen_ai.usage.input_tokens"] == reference.count_chat_input("llama3", MESSAGES).tokens
    )
    assert span.attributes["gen_ai.usage.output_tokens"] == reference.count_text("llama3", text).tokens
    tokens = token_points(telemetry)
    assert tokens["input"].attributes["otel_tokens.usage.estimated"] is True


def test_tool_call(server, client, telemetry, reinstrument):
    from otel_tokens import _runtime
    from otel_tokens._settings import Settings

    _runtime.set_settings(Settings(capture_content=True))
    reinstrument()
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]
    server.enqueue(
        Scenario(tool_call=True, tool_arguments='{"city": "Paris"}', prompt_tokens=60, completion_tokens=12)
    )
    response = client.chat(model="llama3.1", messages=MESSAGES, tools=tools)
    assert response.message.tool_calls[0].function.arguments == {"city": "Paris"}
    span = only_span(telemetry)
    assert span.attributes["gen_ai.usage.output_tokens"] == 12
    assert span.attributes["gen_ai.output.messages"] == (
        '[{"role": "assistant", "parts": [{"type": "tool_call", "name": "get_weather", '
        '"arguments": {"city": "Paris"}}], "finish_reason": "stop"}]'
    )


@pytest.mark.parametrize("capture", [False, True])
def test_content_capture_is_opt_in(server, telemetry, capture, reinstrument):
    from otel_tokens import _runtime
    from otel_tokens._settings import Settings

    client = ollama.Client(
        host=server.url, headers={"Authorization": "Bearer ollama-secret-key", "X-Team-Token": "team-secret"}
    )
    _runtime.set_settings(Settings(capture_content=capture))
    reinstrument()
    server.enqueue(Scenario(text="Hello, human."))
    client.chat(model="llama3", messages=MESSAGES)
    assert server.requests[-1].headers["authorization"] == "Bearer ollama-secret-key"
    span = only_span(telemetry)
    text = str(dict(span.attributes))
    assert "secret" not in text and "Bearer" not in text
    if capture:
        assert span.attributes["gen_ai.input.messages"] == (
            '[{"role": "system", "parts": [{"type": "text", "content": "Be brief."}]}, '
            '{"role": "user", "parts": [{"type": "text", "content": "Say hello."}]}]'
        )
        assert span.attributes["gen_ai.output.messages"] == (
            '[{"role": "assistant", "parts": [{"type": "text", "content": "Hello, human."}], '
            '"finish_reason": "stop"}]'
        )
    else:
        assert "gen_ai.input.messages" not in span.attributes
        assert "gen_ai.output.messages" not in span.attributes
        assert "Say hello." not in text and "Hello, human." not in text


def test_content_capture_from_the_environment(server, client, telemetry, monkeypatch, reinstrument):
    from otel_tokens import _runtime

    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "true")
    _runtime.reset()
    reinstrument()
    client.chat(model="llama3", messages=MESSAGES)
    assert '"content": "Say hello."' in only_span(telemetry).attributes["gen_ai.input.messages"]


@pytest.mark.parametrize(("status", "message"), [(400, "invalid request"), (404, None), (500, None)])
def test_api_errors_pass_through_and_are_recorded(server, client, telemetry, status, message):
    server.enqueue(Scenario(error_status=status, error_message=message))
    with pytest.raises(ollama.ResponseError) as raised:
        client.chat(model="llama9", messages=MESSAGES)
    assert type(raised.value) is ollama.ResponseError
    assert raised.value.status_code == status
    if status == 404:
        assert raised.value.error == 'model "llama9" not found, try pulling it first'
    span = only_span(telemetry)
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes["error.type"] == "ResponseError"
    assert "gen_ai.usage.input_tokens" not in span.attributes
    [duration] = telemetry.points("gen_ai.client.operation.duration")
    assert duration.attributes["error.type"] == "ResponseError"
    assert telemetry.points("gen_ai.client.token.usage") == []


async def test_async_api_error_passes_through(server, async_client, telemetry):
    server.enqueue(Scenario(error_status=503))
    with pytest.raises(ollama.ResponseError) as raised:
        await async_client.chat(model="llama3", messages=MESSAGES)
    assert raised.value.status_code == 503
    assert only_span(telemetry).attributes["error.type"] == "ResponseError"


def test_connection_refused_passes_through(telemetry):
    import socket

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = ollama.Client(host=f"http://127.0.0.1:{port}")
    with pytest.raises(Exception) as raised:
        client.chat(model="llama3", messages=MESSAGES)
    span = only_span(telemetry)
    assert span.attributes["error.type"] == type(raised.value).__qualname__
    assert span.attributes["server.port"] == port


def test_malformed_body(server, client, telemetry):
    server.enqueue(Scenario(malformed=True))
    with pytest.raises(Exception) as raised:
        client.chat(model="llama3", messages=MESSAGES)
    assert only_span(telemetry).attributes["error.type"] == type(raised.value).__qualname__


def test_unsampled_calls_still_record_metrics(server, client):
    from opentelemetry.sdk.trace.sampling import ALWAYS_OFF
    from otel_tokens_ollama import OllamaInstrumentor

    from otel_tokens.testing import InMemoryTelemetry

    memory = InMemoryTelemetry(sampler=ALWAYS_OFF)
    OllamaInstrumentor().instrument(
        tracer_provider=memory.tracer_provider, meter_provider=memory.meter_provider
    )
    try:
        server.enqueue(Scenario(prompt_tokens=10, completion_tokens=5))
        client.chat(model="llama3", messages=MESSAGES)
        server.enqueue(Scenario(prompt_tokens=0, completion_tokens=5))  # a KV-cache hit, unsampled
        client.chat(model="llama3", messages=MESSAGES)
    finally:
        OllamaInstrumentor().uninstrument()
    assert memory.spans() == ()
    sums = {
        (p.attributes["gen_ai.token.type"], p.attributes.get("otel_tokens.usage.estimated", False)): p.sum
        for p in memory.points("gen_ai.client.token.usage")
    }
    prompt = Tokenizer().count_chat_input(None, MESSAGES).tokens
    assert sums == {("input", False): 10, ("output", False): 5, ("input", True): prompt, ("output", True): 5}
    assert [p.count for p in memory.points("otel_tokens.client.cost")] == [1, 1]


def test_tags_arrive_through_baggage(server, client, telemetry):
    from opentelemetry import baggage, context

    token = context.attach(baggage.set_baggage("otel_tokens.tag.team", "checkout"))
    try:
        client.chat(model="llama3", messages=MESSAGES)
    finally:
        context.detach(token)
    assert only_span(telemetry).attributes["otel_tokens.tag.team"] == "checkout"
    [point] = telemetry.points("gen_ai.client.operation.duration")
    assert point.attributes["otel_tokens.tag.team"] == "checkout"


def test_internal_failure_never_reaches_the_user(server, client, telemetry, monkeypatch, caplog):
    from otel_tokens_ollama import _extract

    from otel_tokens import _safety

    _safety.set_strict(False)
    monkeypatch.setattr(_extract, "response_result", lambda kind, response: 1 / 0)
    monkeypatch.setattr(_extract, "request_attributes", lambda kind, arguments: 1 / 0)
    server.enqueue(Scenario(prompt_tokens=3, completion_tokens=2))
    response = client.chat(model="llama3", messages=MESSAGES)
    assert response.prompt_eval_count == 3
    assert telemetry.spans() == ()  # prepare failed: the call went through unrecorded
    monkeypatch.undo()
    monkeypatch.setattr(_extract, "response_result", lambda kind, response: 1 / 0)
    server.enqueue(Scenario(prompt_tokens=3, completion_tokens=2))
    assert client.chat(model="llama3", messages=MESSAGES).eval_count == 2
    assert len(telemetry.spans()) == 1  # the span still ends
    assert any("internal error" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("stream", [False, True])
def test_an_absurd_count_loses_that_count_only_and_is_counted(
    server, client, telemetry, tmp_path, stream, reinstrument
):
    from otel_tokens import _runtime
    from otel_tokens._settings import Settings
    from otel_tokens.usage import take_invalid_count

    overrides = tmp_path / "prices.toml"
    overrides.write_text(OVERRIDES)
    _runtime.set_settings(Settings(price_overrides=str(overrides)))
    reinstrument()
    take_invalid_count()  # nothing left over from an earlier test on this thread
    server.enqueue(
        Scenario(prompt_tokens=1200, completion_tokens=300, usage_fields={"prompt_eval_count": 2**70})
    )
    result = client.chat(model="llama3.1:70b", messages=MESSAGES, stream=stream)
    final = list(result)[-1] if stream else result
    assert final.prompt_eval_count == 2**70  # the SDK lets it through to the user
    attributes = dict(only_span(telemetry).attributes)
    assert "gen_ai.usage.input_tokens" not in attributes
    # Invalid is not absent: no prompt is estimated as a KV-cache hit in its place.
    assert "otel_tokens.usage.estimated" not in attributes
    assert "gen_ai.usage.cache_read.input_tokens" not in attributes
    assert attributes["gen_ai.usage.output_tokens"] == 300
    assert attributes["gen_ai.usage.cost.amount"] == pytest.approx(gpu_cost(input=0, output=300), rel=1e-12)
    assert attributes["otel_tokens.price.source"] == "override"
    assert {kind: point.sum for kind, point in token_points(telemetry).items()} == {"output": 300}
    [dropped] = telemetry.points("otel_tokens.telemetry.dropped")
    assert dropped.value == 1
    assert dropped.attributes["otel_tokens.drop.reason"] == "invalid_usage"
