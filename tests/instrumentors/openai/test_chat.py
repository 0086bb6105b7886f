"""Chat completions through the real openai SDK against the fake server: spans, metrics, cost."""

from __future__ import annotations

import gc

import openai
import pytest
from opentelemetry.trace import SpanKind, StatusCode
from otel_tokens_fake_providers import Scenario

from otel_tokens import tags

from .helpers import GPT_4O_MINI, GPT_5, GPT_5_PRIORITY, cost, only_span, token_points

MESSAGES = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Say hello."}]


def test_chat_span_attributes_usage_and_cost(server, client, telemetry):
    server.enqueue(
        Scenario(
            model="gpt-4o-mini-2024-07-18",
            prompt_tokens=1200,
            cached_tokens=1024,
            completion_tokens=50,
            service_tier="default",
        )
    )
    with tags(team="search", feature="autocomplete", user="u-1"):
        response = client.chat.completions.create(
            model="gpt-4o-mini", messages=MESSAGES, temperature=0.2, max_tokens=100, seed=7, stop="END"
        )
    assert response.usage.prompt_tokens == 1200  # the user gets the SDK's own object, unchanged
    span = only_span(telemetry)
    assert span.name == "chat gpt-4o-mini"
    assert span.kind is SpanKind.CLIENT
    expected_cost = cost(GPT_4O_MINI, input=1200, cached=1024, output=50)
    assert dict(span.attributes) == {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4o-mini",
        "server.address": "127.0.0.1",
        "server.port": server.port,
        "gen_ai.request.temperature": 0.2,
        "gen_ai.request.max_tokens": 100,
        "gen_ai.request.seed": 7,
        "gen_ai.request.stop_sequences": ("END",),
        "otel_tokens.tag.team": "search",
        "otel_tokens.tag.feature": "autocomplete",
        "otel_tokens.tag.user": "u-1",
        "gen_ai.response.model": "gpt-4o-mini-2024-07-18",
        "gen_ai.response.id": response.id,
        "gen_ai.response.finish_reasons": ("stop",),
        "openai.response.service_tier": "default",
        "openai.response.system_fingerprint": response.system_fingerprint,
        "gen_ai.usage.input_tokens": 1200,
        "gen_ai.usage.output_tokens": 50,
        "gen_ai.usage.cache_read.input_tokens": 1024,
        "gen_ai.usage.reasoning.output_tokens": 0,
        "gen_ai.usage.cost.amount": pytest.approx(expected_cost, rel=1e-12),
        "gen_ai.usage.cost.currency": "USD",
        "gen_ai.usage.cost.source": "local",
        "otel_tokens.cost.input": pytest.approx(176 * 0.15 / 1e6, rel=1e-12),
        "otel_tokens.cost.cache_read": pytest.approx(1024 * 0.075 / 1e6, rel=1e-12),
        "otel_tokens.cost.output": pytest.approx(50 * 0.60 / 1e6, rel=1e-12),
        "otel_tokens.price.source": span.attributes["otel_tokens.price.source"],
    }
    assert span.attributes["otel_tokens.price.source"].startswith("genai-prices ")
    assert span.status.status_code is StatusCode.UNSET

    metric_attributes = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4o-mini",
        "gen_ai.response.model": "gpt-4o-mini-2024-07-18",
        "server.address": "127.0.0.1",
        "otel_tokens.tag.team": "search",
        "otel_tokens.tag.feature": "autocomplete",
    }  # "user" is not an allowed metric tag key by default
    tokens = token_points(telemetry)
    assert tokens["input"].attributes == {**metric_attributes, "gen_ai.token.type": "input"}
    assert (tokens["input"].sum, tokens["input"].count) == (1200, 1)
    assert (tokens["output"].sum, tokens["output"].count) == (50, 1)
    assert tokens["input"].bucket_bounds[:4] == (1.0, 4.0, 16.0, 64.0)
    assert tokens["input"].bucket_bounds[-1] == 67108864.0
    [cost_point] = telemetry.points("otel_tokens.client.cost")
    assert cost_point.attributes == metric_attributes
    assert cost_point.sum == pytest.approx(expected_cost, rel=1e-12)
    [detail] = telemetry.points("otel_tokens.client.token.detail")
    assert (detail.attributes["otel_tokens.token.type"], detail.value) == ("cache_read", 1024)
    [duration] = telemetry.points("gen_ai.client.operation.duration")
    assert duration.attributes == metric_attributes
    assert duration.count == 1 and 0 < duration.sum < 5
    assert telemetry.points("otel_tokens.client.unpriced_calls") == []
    assert telemetry.points("gen_ai.client.operation.time_to_first_chunk") == []


async def test_async_chat(server, async_client, telemetry):
    server.enqueue(Scenario(prompt_tokens=30, completion_tokens=12, reasoning_tokens=8))
    response = await async_client.chat.completions.create(model="gpt-5", messages=MESSAGES)
    span = only_span(telemetry)
    assert span.attributes["gen_ai.usage.output_tokens"] == response.usage.completion_tokens == 12
    assert span.attributes["gen_ai.usage.reasoning.output_tokens"] == 8
    # Reasoning tokens are inside output tokens: priced once, at the output rate.
    assert span.attributes["gen_ai.usage.cost.amount"] == pytest.approx(cost(GPT_5, input=30, output=12))
    details = {
        p.attributes["otel_tokens.token.type"]: p.value
        for p in telemetry.points("otel_tokens.client.token.detail")
    }
    assert details == {"reasoning": 8}


def test_priority_service_tier_is_priced_at_priority(server, client, telemetry):
    server.enqueue(Scenario(prompt_tokens=1000, completion_tokens=500, service_tier="priority"))
    client.chat.completions.create(model="gpt-5", messages=MESSAGES, service_tier="priority")
    span = only_span(telemetry)
    assert span.attributes["openai.request.service_tier"] == "priority"
    assert span.attributes["openai.response.service_tier"] == "priority"
    assert span.attributes["otel_tokens.price.service_tier"] == "priority"
    assert span.attributes["gen_ai.usage.cost.amount"] == pytest.approx(
        cost(GPT_5_PRIORITY, input=1000, output=500)
    )


def test_stream_with_include_usage(server, client, telemetry):
    server.enqueue(Scenario(prompt_tokens=20, completion_tokens=7, chunks=4))
    stream = client.chat.completions.create(
        model="gpt-4o-mini", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
    )
    assert isinstance(stream, openai.Stream)
    chunks = list(stream)
    assert chunks[-1].usage.prompt_tokens == 20 and chunks[-1].choices == []
    span = only_span(telemetry)
    assert span.attributes["gen_ai.request.stream"] is True
    assert span.attributes["gen_ai.usage.input_tokens"] == 20
    assert span.attributes["gen_ai.usage.output_tokens"] == 7
    assert span.attributes["gen_ai.response.finish_reasons"] == ("stop",)
    assert "otel_tokens.usage.estimated" not in span.attributes
    assert 0 < span.attributes["gen_ai.response.time_to_first_chunk"] < 5
    [ttfc] = telemetry.points("gen_ai.client.operation.time_to_first_chunk")
    assert ttfc.count == 1


def test_stream_without_usage_is_estimated_locally(server, client, telemetry):
    from otel_tokens.tokenize import Tokenizer

    text = "Hello there, this answer was streamed in pieces."
    server.enqueue(Scenario(text=text, chunks=5))
    streamed = "".join(
        chunk.choices[0].delta.content or ""
        for chunk in client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True)
    )
    assert streamed == text
    span = only_span(telemetry)
    reference = Tokenizer()
    assert span.attributes["otel_tokens.usage.estimated"] is True
    assert span.attributes["otel_tokens.usage.estimate_method"] == "tiktoken:o200k_base"
    assert (
        span.attributes["gen_ai.usage.input_tokens"]
        == reference.count_chat_input("gpt-4o-mini", MESSAGES).tokens
    )
    assert span.attributes["gen_ai.usage.output_tokens"] == reference.count_text("gpt-4o-mini", text).tokens
    tokens = token_points(telemetry)
    # Estimates are never mixed silently with billed counts: their points carry the flag.
    assert tokens["output"].attributes["otel_tokens.usage.estimated"] is True


def test_injected_stream_usage_is_exact_and_invisible_to_the_user(server, client, telemetry, reinstrument):
    from otel_tokens import _runtime
    from otel_tokens._settings import Settings

    _runtime.set_settings(Settings(stream_include_usage=True, provider_hosts={"127.0.0.1": "openai"}))
    reinstrument()
    server.enqueue(Scenario(prompt_tokens=20, completion_tokens=7, chunks=3))
    chunks = list(client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True))
    assert server.requests[-1].body["stream_options"] == {"include_usage": True}
    assert all(chunk.choices for chunk in chunks)  # the usage-only chunk was consumed by us
    assert all(chunk.usage is None for chunk in chunks)
    span = only_span(telemetry)
    assert (span.attributes["gen_ai.usage.input_tokens"], span.attributes["gen_ai.usage.output_tokens"]) == (
        20,
        7,
    )
    assert "otel_tokens.usage.estimated" not in span.attributes


def test_stream_abandoned_early_ends_on_garbage_collection(server, client, telemetry):
    server.enqueue(Scenario(chunks=6, prompt_tokens=11, completion_tokens=6, include_usage=True))
    stream = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True)
    next(iter(stream))
    assert telemetry.spans() == ()
    del stream
    gc.collect()
    span = only_span(telemetry)
    assert span.status.status_code is StatusCode.UNSET


def test_stream_closed_early_ends_once(server, client, telemetry):
    server.enqueue(Scenario(chunks=6))
    stream = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True)
    next(iter(stream))
    stream.close()
    stream.close()
    assert len(telemetry.spans()) == 1


def test_stream_context_manager(server, client, telemetry):
    server.enqueue(Scenario(chunks=3, include_usage=True, prompt_tokens=5, completion_tokens=3))
    with client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True) as stream:
        for _ in stream:
            pass
    span = only_span(telemetry)
    assert span.attributes["gen_ai.usage.input_tokens"] == 5


def test_stream_failing_midway_records_error_and_reraises(server, client, telemetry):
    server.enqueue(Scenario(chunks=6, fail_after_chunks=2))
    received = []
    with pytest.raises(Exception) as raised:
        for chunk in client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True):
            received.append(chunk)
    span = only_span(telemetry)
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes["error.type"] == type(raised.value).__qualname__
    assert received  # what arrived before the failure reached the user


async def test_async_stream(server, async_client, telemetry):
    server.enqueue(Scenario(chunks=4, prompt_tokens=9, completion_tokens=4))
    stream = await async_client.chat.completions.create(
        model="gpt-4o-mini", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
    )
    assert isinstance(stream, openai.AsyncStream)
    async with stream:
        chunks = [chunk async for chunk in stream]
    assert chunks[-1].usage.completion_tokens == 4
    span = only_span(telemetry)
    assert span.attributes["gen_ai.usage.output_tokens"] == 4


def test_stream_helper(server, client, telemetry):
    server.enqueue(Scenario(text="Hi!", chunks=2, prompt_tokens=8, completion_tokens=2))
    with client.chat.completions.stream(
        model="gpt-4o-mini", messages=MESSAGES, stream_options={"include_usage": True}
    ) as stream:
        for _ in stream:
            pass
        final = stream.get_final_completion()
    assert final.choices[0].message.content == "Hi!"
    span = only_span(telemetry)
    assert span.attributes["gen_ai.usage.input_tokens"] == 8
    assert span.attributes["gen_ai.usage.output_tokens"] == 2


def test_parse_structured_output(server, client, telemetry):
    from pydantic import BaseModel

    class Answer(BaseModel):
        greeting: str

    server.enqueue(Scenario(text='{"greeting": "hello"}', prompt_tokens=40, completion_tokens=9))
    parsed = client.chat.completions.parse(model="gpt-4o-mini", messages=MESSAGES, response_format=Answer)
    assert parsed.choices[0].message.parsed == Answer(greeting="hello")
    span = only_span(telemetry)
    assert span.attributes["gen_ai.output.type"] == "json"
    assert span.attributes["gen_ai.usage.input_tokens"] == 40


def test_with_raw_response(server, client, telemetry):
    server.enqueue(Scenario(prompt_tokens=10, completion_tokens=3))
    raw = client.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=MESSAGES)
    assert raw.headers.get("content-type", "").startswith("application/json")
    assert raw.parse().usage.total_tokens == 13
    span = only_span(telemetry)
    assert span.attributes["gen_ai.usage.input_tokens"] == 10


def test_with_streaming_response_plain_and_stream(server, client, telemetry):
    server.enqueue(Scenario(prompt_tokens=10, completion_tokens=3))
    with client.chat.completions.with_streaming_response.create(
        model="gpt-4o-mini", messages=MESSAGES
    ) as response:
        assert response.parse().usage.completion_tokens == 3
    server.enqueue(Scenario(prompt_tokens=6, completion_tokens=2, chunks=2))
    with client.chat.completions.with_streaming_response.create(
        model="gpt-4o-mini", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
    ) as response:
        chunks = list(response.parse())
    assert chunks[-1].usage.prompt_tokens == 6
    spans = telemetry.spans()
    assert [s.attributes["gen_ai.usage.input_tokens"] for s in spans] == [10, 6]


@pytest.mark.parametrize(
    ("status", "exception", "error_type"),
    [
        (400, openai.BadRequestError, "BadRequestError"),
        (429, openai.RateLimitError, "RateLimitError"),
        (500, openai.InternalServerError, "InternalServerError"),
    ],
)
def test_api_errors_pass_through_and_are_recorded(server, client, telemetry, status, exception, error_type):
    server.enqueue(Scenario(error_status=status))
    with pytest.raises(exception) as raised:
        client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert type(raised.value) is exception
    span = only_span(telemetry)
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes["error.type"] == error_type
    assert "gen_ai.usage.input_tokens" not in span.attributes
    [duration] = telemetry.points("gen_ai.client.operation.duration")
    assert duration.attributes["error.type"] == error_type
    assert telemetry.points("gen_ai.client.token.usage") == []


def test_timeout_passes_through(server, client, telemetry):
    server.enqueue(Scenario(delay=1.0))
    with pytest.raises(openai.APITimeoutError):
        client.with_options(timeout=0.2).chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert only_span(telemetry).attributes["error.type"] == "APITimeoutError"


def test_malformed_body(server, client, telemetry):
    server.enqueue(Scenario(malformed=True))
    with pytest.raises(Exception) as raised:
        client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert only_span(telemetry).attributes["error.type"] == type(raised.value).__qualname__


def test_unknown_model_gets_no_cost_and_is_counted(server, client, telemetry, caplog):
    for _ in range(2):
        server.enqueue(Scenario(prompt_tokens=10, completion_tokens=5))
        client.chat.completions.create(model="acme-private-llm-7", messages=MESSAGES)
    spans = telemetry.spans()
    for span in spans:
        assert "gen_ai.usage.cost.amount" not in span.attributes
        assert span.attributes["otel_tokens.price.missing"] is True
        assert span.attributes["gen_ai.usage.input_tokens"] == 10
    [unpriced] = telemetry.points("otel_tokens.client.unpriced_calls")
    assert unpriced.value == 2
    assert telemetry.points("otel_tokens.client.cost") == []
    warnings = [r for r in caplog.records if "acme-private-llm-7" in r.getMessage()]
    assert len(warnings) == 1


@pytest.mark.parametrize("capture", [False, True])
def test_content_capture_is_opt_in(server, client, telemetry, capture, reinstrument):
    from otel_tokens import _runtime
    from otel_tokens._settings import Settings

    _runtime.set_settings(Settings(capture_content=capture))
    reinstrument()
    server.enqueue(Scenario(text="Hello, human."))
    client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    span = only_span(telemetry)
    text = str(dict(span.attributes))
    assert "sk-test-secret" not in text and "Bearer" not in text
    if capture:
        assert span.attributes["gen_ai.input.messages"] == (
            '[{"role": "system", "parts": [{"type": "text", "content": "Be brief."}]}, '
            '{"role": "user", "parts": [{"type": "text", "content": "Say hello."}]}]'
        )
        assert '"content": "Hello, human."' in span.attributes["gen_ai.output.messages"]
    else:
        assert "gen_ai.input.messages" not in span.attributes
        assert "gen_ai.output.messages" not in span.attributes
        assert "Say hello." not in text and "Hello, human." not in text


def test_unsampled_calls_still_record_metrics(server, client):
    from opentelemetry.sdk.trace.sampling import ALWAYS_OFF
    from otel_tokens_openai import OpenAIInstrumentor

    from otel_tokens.testing import InMemoryTelemetry

    memory = InMemoryTelemetry(sampler=ALWAYS_OFF)
    OpenAIInstrumentor().instrument(
        tracer_provider=memory.tracer_provider, meter_provider=memory.meter_provider
    )
    try:
        server.enqueue(Scenario(prompt_tokens=10, completion_tokens=5))
        client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    finally:
        OpenAIInstrumentor().uninstrument()
    assert memory.spans() == ()
    assert {p.attributes["gen_ai.token.type"]: p.sum for p in memory.points("gen_ai.client.token.usage")} == {
        "input": 10,
        "output": 5,
    }
    [point] = memory.points("otel_tokens.client.cost")
    assert point.sum == pytest.approx(cost(GPT_4O_MINI, input=10, output=5))


def test_tag_values_beyond_the_limit_fold_and_are_counted(server, client):
    from otel_tokens_openai import OpenAIInstrumentor

    from otel_tokens import _runtime
    from otel_tokens._settings import Settings
    from otel_tokens.testing import InMemoryTelemetry

    _runtime.set_settings(Settings(max_tag_values=2))
    memory = InMemoryTelemetry()
    OpenAIInstrumentor().instrument(
        tracer_provider=memory.tracer_provider, meter_provider=memory.meter_provider
    )
    try:
        for team in ("a", "b", "c", "d"):
            server.enqueue(Scenario(prompt_tokens=1, completion_tokens=1))
            with tags(team=team):
                client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    finally:
        OpenAIInstrumentor().uninstrument()
    teams = sorted(
        p.attributes["otel_tokens.tag.team"] for p in memory.points("gen_ai.client.operation.duration")
    )
    assert teams == ["__overflow__", "a", "b"]
    [folded] = memory.points("otel_tokens.tags.folded")
    assert (folded.attributes, folded.value) == ({"otel_tokens.tag.key": "team"}, 2)
    # Spans keep the real value.
    assert sorted(s.attributes["otel_tokens.tag.team"] for s in memory.spans()) == ["a", "b", "c", "d"]


def test_nested_instrumented_call_is_counted_once(server, client, telemetry):
    from otel_tokens.record import enter_call, exit_call

    # An outer instrumented layer (e.g. a framework calling openai underneath) is active.
    token = enter_call()
    try:
        client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    finally:
        exit_call(token)
    assert telemetry.spans() == ()
    assert telemetry.points("gen_ai.client.token.usage") == []


def test_internal_failure_never_reaches_the_user(
    server, client, telemetry, monkeypatch, caplog, reinstrument
):
    from otel_tokens_openai import _extract

    from otel_tokens import _safety

    _safety.set_strict(False)
    monkeypatch.setattr(_extract, "chat_result", lambda response: 1 / 0)
    from otel_tokens_openai import _endpoints

    monkeypatch.setitem(_endpoints._RESULTS, "chat", _extract.chat_result)
    reinstrument()
    server.enqueue(Scenario(prompt_tokens=3, completion_tokens=2))
    response = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert response.usage.prompt_tokens == 3
    assert len(telemetry.spans()) == 1  # the span still ends
    assert any("internal error" in r.getMessage() for r in caplog.records)


def test_uninstrument_stops_recording(server, client, telemetry):
    from otel_tokens_openai import OpenAIInstrumentor

    OpenAIInstrumentor().uninstrument()
    client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert telemetry.spans() == ()
    OpenAIInstrumentor().instrument(
        tracer_provider=telemetry.tracer_provider, meter_provider=telemetry.meter_provider
    )
    client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert len(telemetry.spans()) == 1


def test_tags_arrive_through_baggage(server, client, telemetry):
    from opentelemetry import baggage, context

    ctx = baggage.set_baggage("otel_tokens.tag.team", "checkout")
    token = context.attach(baggage.set_baggage("otel_tokens.tag.feature", "upsell", ctx))
    try:
        client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    finally:
        context.detach(token)
    span = only_span(telemetry)
    assert (span.attributes["otel_tokens.tag.team"], span.attributes["otel_tokens.tag.feature"]) == (
        "checkout",
        "upsell",
    )
    [point] = telemetry.points("gen_ai.client.operation.duration")
    assert point.attributes["otel_tokens.tag.team"] == "checkout"


def test_price_override_file_prices_a_fine_tuned_model(server, client, telemetry, tmp_path, reinstrument):
    from otel_tokens import _runtime
    from otel_tokens._settings import Settings

    overrides = tmp_path / "prices.toml"
    overrides.write_text(
        '[[price]]\nmodel = "ft:gpt-4o-mini:acme:*"\ninput_per_mtok = 0.30\noutput_per_mtok = 1.20\n\n'
        '[[discount]]\nprovider = "openai"\nmodel = "*"\nmultiplier = 0.5\n'
    )
    _runtime.set_settings(Settings(price_overrides=str(overrides)))
    reinstrument()
    server.enqueue(Scenario(prompt_tokens=1000, completion_tokens=100))
    client.chat.completions.create(model="ft:gpt-4o-mini:acme:support:abc1", messages=MESSAGES)
    span = only_span(telemetry)
    assert span.attributes["gen_ai.usage.cost.amount"] == pytest.approx(
        (1000 * 0.30 + 100 * 1.20) / 1e6 * 0.5
    )
    assert span.attributes["otel_tokens.price.source"] == "override+discount"


async def test_async_stream_abandoned_early_ends_once(server, async_client, telemetry):
    server.enqueue(Scenario(chunks=6, prompt_tokens=11, completion_tokens=6, include_usage=True))
    stream = await async_client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True)
    async for _ in stream:
        break
    await stream.close()
    span = only_span(telemetry)
    assert span.status.status_code is StatusCode.UNSET
    assert span.attributes["otel_tokens.usage.estimated"] is True  # no usage arrived before the break
