"""generate_content and generate_content_stream through the real google-genai SDK against the fake server."""

from __future__ import annotations

import asyncio
import contextlib
import gc

import pytest
from google.genai import errors, types
from opentelemetry.trace import SpanKind, StatusCode
from otel_tokens_fake_providers import Scenario

from otel_tokens import tags

from .conftest import API_KEY
from .helpers import (
    GEMINI_25_FLASH,
    GEMINI_25_PRO,
    GEMINI_25_PRO_LONG,
    cost,
    details,
    only_span,
    token_points,
    usage_of,
)

MODEL = "gemini-2.5-flash"
PROMPT = "Say hello."


def test_generate_span_attributes_usage_and_cost(server, client, telemetry):
    server.enqueue(
        Scenario(
            text="Hello!", prompt_tokens=1200, cached_tokens=1024, completion_tokens=50, reasoning_tokens=30
        )
    )
    with tags(team="search", feature="autocomplete", user="u-1"):
        response = client.models.generate_content(
            model=MODEL,
            contents=PROMPT,
            config=types.GenerateContentConfig(
                temperature=0.2, top_p=0.9, top_k=40, max_output_tokens=100, seed=7, stop_sequences=["END"]
            ),
        )
    assert response.text == "Hello!"  # the user gets the SDK's own object, unchanged
    assert response.usage_metadata.thoughts_token_count == 30
    span = only_span(telemetry)
    assert span.name == "generate_content gemini-2.5-flash"
    assert span.kind is SpanKind.CLIENT
    # Thinking is billed as output: 50 candidates + 30 thoughts at the output rate.
    expected_cost = cost(GEMINI_25_FLASH, input=1200, cached=1024, output=80)
    assert dict(span.attributes) == {
        "gen_ai.operation.name": "generate_content",
        "gen_ai.provider.name": "gcp.gemini",
        "gen_ai.request.model": "gemini-2.5-flash",
        "server.address": "127.0.0.1",
        "server.port": server.port,
        "gen_ai.request.temperature": 0.2,
        "gen_ai.request.top_p": 0.9,
        "gen_ai.request.top_k": 40.0,
        "gen_ai.request.max_tokens": 100,
        "gen_ai.request.seed": 7,
        "gen_ai.request.stop_sequences": ("END",),
        "otel_tokens.tag.team": "search",
        "otel_tokens.tag.feature": "autocomplete",
        "otel_tokens.tag.user": "u-1",
        "gen_ai.response.model": "gemini-2.5-flash",
        "gen_ai.response.id": response.response_id,
        "gen_ai.response.finish_reasons": ("stop",),
        "gen_ai.usage.input_tokens": 1200,
        "gen_ai.usage.output_tokens": 80,
        "gen_ai.usage.cache_read.input_tokens": 1024,
        "gen_ai.usage.reasoning.output_tokens": 30,
        "gen_ai.usage.cost.amount": pytest.approx(expected_cost, rel=1e-12),
        "gen_ai.usage.cost.currency": "USD",
        "gen_ai.usage.cost.source": "local",
        "otel_tokens.cost.input": pytest.approx(176 * 0.30 / 1e6, rel=1e-12),
        "otel_tokens.cost.cache_read": pytest.approx(1024 * 0.03 / 1e6, rel=1e-12),
        "otel_tokens.cost.output": pytest.approx(80 * 2.50 / 1e6, rel=1e-12),
        "otel_tokens.price.source": span.attributes["otel_tokens.price.source"],
    }
    assert span.attributes["otel_tokens.price.source"].startswith("genai-prices ")
    assert span.status.status_code is StatusCode.UNSET

    metric_attributes = {
        "gen_ai.operation.name": "generate_content",
        "gen_ai.provider.name": "gcp.gemini",
        "gen_ai.request.model": "gemini-2.5-flash",
        "gen_ai.response.model": "gemini-2.5-flash",
        "server.address": "127.0.0.1",
        "otel_tokens.tag.team": "search",
        "otel_tokens.tag.feature": "autocomplete",
    }  # "user" is not an allowed metric tag key by default
    tokens = token_points(telemetry)
    assert tokens["input"].attributes == {**metric_attributes, "gen_ai.token.type": "input"}
    assert tokens["output"].attributes == {**metric_attributes, "gen_ai.token.type": "output"}
    assert (tokens["input"].sum, tokens["input"].count) == (1200, 1)
    assert (tokens["output"].sum, tokens["output"].count) == (80, 1)
    [cost_point] = telemetry.points("otel_tokens.client.cost")
    assert cost_point.attributes == metric_attributes
    assert cost_point.sum == pytest.approx(expected_cost, rel=1e-12)
    assert details(telemetry) == {"cache_read": 1024, "reasoning": 30}
    [duration] = telemetry.points("gen_ai.client.operation.duration")
    assert duration.attributes == metric_attributes
    assert duration.count == 1 and 0 < duration.sum < 5
    assert telemetry.points("otel_tokens.client.unpriced_calls") == []
    assert telemetry.points("gen_ai.client.operation.time_to_first_chunk") == []
    assert server.requests[-1].path == "/v1beta/models/gemini-2.5-flash:generateContent"


async def test_async_generate(server, client, telemetry):
    server.enqueue(Scenario(prompt_tokens=30, completion_tokens=12, reasoning_tokens=8))
    response = await client.aio.models.generate_content(model=f"models/{MODEL}", contents=PROMPT)
    span = only_span(telemetry)
    assert span.attributes["gen_ai.request.model"] == MODEL  # "models/" is the API's resource prefix
    assert response.usage_metadata.candidates_token_count == 12
    assert usage_of(span) == {
        "gen_ai.usage.input_tokens": 30,
        "gen_ai.usage.output_tokens": 20,
        "gen_ai.usage.reasoning.output_tokens": 8,
    }
    assert span.attributes["gen_ai.usage.cost.amount"] == pytest.approx(
        cost(GEMINI_25_FLASH, input=30, output=20)
    )
    assert details(telemetry) == {"reasoning": 8}


def test_tool_use_prompt_tokens_are_input(server, client, telemetry):
    # Results of built-in tools (Google Search, code execution) go back to the model as input;
    # the API counts them beside promptTokenCount and bills them at the input rate.
    server.enqueue(
        Scenario(prompt_tokens=100, completion_tokens=40, usage_fields={"toolUsePromptTokenCount": 250})
    )
    response = client.models.generate_content(model=MODEL, contents=PROMPT)
    assert response.usage_metadata.total_token_count == 390
    span = only_span(telemetry)
    assert span.attributes["gen_ai.usage.input_tokens"] == 350
    assert span.attributes["gen_ai.usage.output_tokens"] == 40
    assert span.attributes["gen_ai.usage.cost.amount"] == pytest.approx(
        cost(GEMINI_25_FLASH, input=350, output=40)
    )


@pytest.mark.parametrize(
    ("prompt_tokens", "prices"),
    [(200_000, GEMINI_25_PRO), (200_001, GEMINI_25_PRO_LONG)],
    ids=["200k", "200k+1"],
)
def test_gemini_25_pro_long_context_tier(server, client, telemetry, prompt_tokens, prices):
    # Above 200k prompt tokens every token of the call costs the long-context rates, output included.
    server.enqueue(
        Scenario(
            prompt_tokens=prompt_tokens, cached_tokens=10_000, completion_tokens=1_000, reasoning_tokens=500
        )
    )
    client.models.generate_content(model="gemini-2.5-pro", contents=PROMPT)
    span = only_span(telemetry)
    assert span.attributes["gen_ai.usage.cost.amount"] == pytest.approx(
        cost(prices, input=prompt_tokens, cached=10_000, output=1_500), rel=1e-12
    )


def test_stream_usage_is_the_last_chunks_not_a_sum(server, client, telemetry):
    server.enqueue(Scenario(text="Hello there, streamed.", chunks=4, prompt_tokens=20, completion_tokens=7))
    chunks = list(client.models.generate_content_stream(model=MODEL, contents=PROMPT))
    assert len(chunks) == 4
    # Every chunk carries the counts so far; only the last one is final.
    assert all(chunk.usage_metadata.prompt_token_count == 20 for chunk in chunks)
    assert chunks[-1].usage_metadata.candidates_token_count == 7
    span = only_span(telemetry)
    assert span.attributes["gen_ai.request.stream"] is True
    assert usage_of(span) == {"gen_ai.usage.input_tokens": 20, "gen_ai.usage.output_tokens": 7}
    assert span.attributes["gen_ai.response.finish_reasons"] == ("stop",)
    assert span.attributes["gen_ai.response.model"] == MODEL
    assert span.attributes["gen_ai.response.id"] == chunks[-1].response_id
    assert "otel_tokens.usage.estimated" not in span.attributes
    assert 0 < span.attributes["gen_ai.response.time_to_first_chunk"] < 5
    [ttfc] = telemetry.points("gen_ai.client.operation.time_to_first_chunk")
    assert ttfc.count == 1
    assert {k: p.sum for k, p in token_points(telemetry).items()} == {"input": 20, "output": 7}
    assert server.requests[-1].target == "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"


async def test_async_stream(server, client, telemetry):
    server.enqueue(Scenario(chunks=3, prompt_tokens=9, completion_tokens=4, reasoning_tokens=2))
    stream = await client.aio.models.generate_content_stream(model=MODEL, contents=PROMPT)
    chunks = [chunk async for chunk in stream]
    assert chunks[-1].usage_metadata.thoughts_token_count == 2
    span = only_span(telemetry)
    assert usage_of(span) == {
        "gen_ai.usage.input_tokens": 9,
        "gen_ai.usage.output_tokens": 6,
        "gen_ai.usage.reasoning.output_tokens": 2,
    }
    assert span.attributes["gen_ai.response.time_to_first_chunk"] > 0


def test_stream_abandoned_early_ends_on_garbage_collection(server, client, telemetry):
    server.enqueue(Scenario(chunks=6, prompt_tokens=11, completion_tokens=6))
    stream = client.models.generate_content_stream(model=MODEL, contents=PROMPT)
    first = next(stream)
    assert first.usage_metadata.candidates_token_count == 1
    assert telemetry.spans() == ()
    del stream
    gc.collect()
    span = only_span(telemetry)
    assert span.status.status_code is StatusCode.UNSET
    # The counts so far, as the last chunk seen reported them.
    assert usage_of(span) == {"gen_ai.usage.input_tokens": 11, "gen_ai.usage.output_tokens": 1}


def test_stream_closed_early_ends_once(server, client, telemetry):
    server.enqueue(Scenario(chunks=6))
    stream = client.models.generate_content_stream(model=MODEL, contents=PROMPT)
    next(stream)
    stream.close()
    stream.close()
    assert len(telemetry.spans()) == 1


def test_stream_in_a_closing_context_manager(server, client, telemetry):
    server.enqueue(Scenario(chunks=3, prompt_tokens=5, completion_tokens=3))
    with contextlib.closing(client.models.generate_content_stream(model=MODEL, contents=PROMPT)) as stream:
        for _ in stream:
            pass
    assert only_span(telemetry).attributes["gen_ai.usage.input_tokens"] == 5


async def test_async_stream_closed_early_in_aclosing(server, client, telemetry):
    server.enqueue(Scenario(chunks=6, prompt_tokens=11, completion_tokens=6))
    stream = await client.aio.models.generate_content_stream(model=MODEL, contents=PROMPT)
    async with contextlib.aclosing(stream):
        async for _ in stream:
            break
    # The SDK nests async generators; closing the outer one leaves the inner ones (and our
    # proxy's) to the event loop's async-generator finaliser, which closes them a turn later.
    for _ in range(3):
        await asyncio.sleep(0)
    span = only_span(telemetry)
    assert span.status.status_code is StatusCode.UNSET
    assert span.attributes["gen_ai.usage.input_tokens"] == 11


def test_stream_failing_midway_records_error_and_reraises(server, client, telemetry):
    server.enqueue(Scenario(chunks=6, fail_after_chunks=2, prompt_tokens=10, completion_tokens=6))
    received = []
    with pytest.raises(Exception) as raised:
        for chunk in client.models.generate_content_stream(model=MODEL, contents=PROMPT):
            received.append(chunk)
    assert len(received) == 2  # what arrived before the failure reached the user
    span = only_span(telemetry)
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes["error.type"] == type(raised.value).__qualname__
    assert span.attributes["gen_ai.usage.input_tokens"] == 10


@pytest.mark.parametrize(
    ("status", "exception", "error_type"),
    [
        (400, errors.ClientError, "ClientError"),
        (429, errors.ClientError, "ClientError"),
        (500, errors.ServerError, "ServerError"),
    ],
)
def test_api_errors_pass_through_and_are_recorded(server, client, telemetry, status, exception, error_type):
    server.enqueue(Scenario(error_status=status, error_message="quota or argument problem"))
    with pytest.raises(exception) as raised:
        client.models.generate_content(model=MODEL, contents=PROMPT)
    assert type(raised.value) is exception
    assert raised.value.code == status and raised.value.message == "quota or argument problem"
    assert len(server.requests) == 1  # no retries unless the user asks for them
    span = only_span(telemetry)
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes["error.type"] == error_type
    assert "gen_ai.usage.input_tokens" not in span.attributes
    [duration] = telemetry.points("gen_ai.client.operation.duration")
    assert duration.attributes["error.type"] == error_type
    assert telemetry.points("gen_ai.client.token.usage") == []


@pytest.mark.parametrize("is_async", [False, True])
async def test_stream_rejected_at_start(server, client, telemetry, is_async):
    server.enqueue(Scenario(error_status=429))
    with pytest.raises(errors.ClientError):
        if is_async:
            async for _ in await client.aio.models.generate_content_stream(model=MODEL, contents=PROMPT):
                pass
        else:
            for _ in client.models.generate_content_stream(model=MODEL, contents=PROMPT):
                pass
    span = only_span(telemetry)
    assert span.attributes["error.type"] == "ClientError"
    assert telemetry.points("gen_ai.client.token.usage") == []


def test_malformed_body(server, client, telemetry):
    server.enqueue(Scenario(malformed=True))
    with pytest.raises(Exception) as raised:
        client.models.generate_content(model=MODEL, contents=PROMPT)
    assert only_span(telemetry).attributes["error.type"] == type(raised.value).__qualname__


def test_missing_usage_is_estimated_and_flagged(server, client, telemetry):
    from otel_tokens.tokenize import Tokenizer

    text = "A reply with no usage metadata."
    server.enqueue(Scenario(text=text, include_usage=False))
    client.models.generate_content(
        model=MODEL, contents=PROMPT, config=types.GenerateContentConfig(system_instruction="Be brief.")
    )
    span = only_span(telemetry)
    reference = Tokenizer()
    assert span.attributes["otel_tokens.usage.estimated"] is True
    assert span.attributes["otel_tokens.usage.estimate_method"] == "heuristic"
    assert (
        span.attributes["gen_ai.usage.input_tokens"]
        == reference.count_texts(MODEL, ["Be brief.", PROMPT]).tokens
    )
    assert span.attributes["gen_ai.usage.output_tokens"] == reference.count_text(MODEL, text).tokens
    tokens = token_points(telemetry)
    # Estimates are never mixed silently with billed counts: their points carry the flag.
    assert tokens["output"].attributes["otel_tokens.usage.estimated"] is True


def test_stream_without_usage_is_estimated(server, client, telemetry):
    from otel_tokens.tokenize import Tokenizer

    text = "Streamed with no usage at all."
    server.enqueue(Scenario(text=text, chunks=3, include_usage=False))
    assert (
        "".join(c.text for c in client.models.generate_content_stream(model=MODEL, contents=PROMPT)) == text
    )
    span = only_span(telemetry)
    assert span.attributes["otel_tokens.usage.estimated"] is True
    assert span.attributes["gen_ai.usage.output_tokens"] == Tokenizer().count_text(MODEL, text).tokens


def test_unknown_model_gets_no_cost_and_is_counted(server, client, telemetry):
    for _ in range(2):
        server.enqueue(Scenario(prompt_tokens=10, completion_tokens=5))
        client.models.generate_content(model="acme-private-gemini-tune", contents=PROMPT)
    for span in telemetry.spans():
        assert "gen_ai.usage.cost.amount" not in span.attributes
        assert span.attributes["otel_tokens.price.missing"] is True
        assert span.attributes["gen_ai.usage.input_tokens"] == 10
    [unpriced] = telemetry.points("otel_tokens.client.unpriced_calls")
    assert unpriced.value == 2
    assert telemetry.points("otel_tokens.client.cost") == []


@pytest.mark.parametrize("stream", [False, True], ids=["generate", "stream"])
def test_an_absurd_count_is_dropped_and_counted_the_rest_recorded(server, client, telemetry, stream):
    # The SDK lets 2**70 cached tokens through; that count alone is lost (and counted as
    # dropped), the other counts, the model and the cost are recorded.
    server.enqueue(
        Scenario(
            prompt_tokens=1200,
            completion_tokens=50,
            reasoning_tokens=30,
            chunks=3 if stream else 1,
            usage_fields={"cachedContentTokenCount": 2**70},
        )
    )
    if stream:
        chunks = list(client.models.generate_content_stream(model=MODEL, contents=PROMPT))
        assert chunks[-1].usage_metadata.cached_content_token_count == 2**70
    else:
        response = client.models.generate_content(model=MODEL, contents=PROMPT)
        assert response.usage_metadata.cached_content_token_count == 2**70
    span = only_span(telemetry)
    assert usage_of(span) == {
        "gen_ai.usage.input_tokens": 1200,
        "gen_ai.usage.output_tokens": 80,
        "gen_ai.usage.reasoning.output_tokens": 30,
    }
    assert span.attributes["gen_ai.response.model"] == MODEL
    assert "otel_tokens.usage.estimated" not in span.attributes
    expected_cost = cost(GEMINI_25_FLASH, input=1200, output=80)
    assert span.attributes["gen_ai.usage.cost.amount"] == pytest.approx(expected_cost, rel=1e-12)
    assert {k: p.sum for k, p in token_points(telemetry).items()} == {"input": 1200, "output": 80}
    [spend] = telemetry.points("otel_tokens.client.cost")
    assert spend.sum == pytest.approx(expected_cost, rel=1e-12)
    [dropped] = telemetry.points("otel_tokens.telemetry.dropped")
    assert dropped.value == 1
    assert dropped.attributes["otel_tokens.drop.reason"] == "invalid_usage"
    assert dropped.attributes["gen_ai.response.model"] == MODEL


@pytest.mark.parametrize("capture", [False, True])
def test_content_capture_is_opt_in(server, client, telemetry, capture, reinstrument):
    from otel_tokens import _runtime
    from otel_tokens._settings import Settings

    _runtime.set_settings(Settings.load({"capture_content": capture}))
    reinstrument()
    server.enqueue(Scenario(text="Hello, human."))
    client.models.generate_content(
        model=MODEL, contents=PROMPT, config=types.GenerateContentConfig(system_instruction="Be brief.")
    )
    span = only_span(telemetry)
    text = str(dict(span.attributes))
    assert API_KEY not in text and "x-goog-api-key" not in text
    assert server.requests[-1].headers["x-goog-api-key"] == API_KEY  # it was sent, just never recorded
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


def test_capture_from_environment_variable(server, client, telemetry, monkeypatch, reinstrument):
    from otel_tokens import _runtime

    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "span_only")
    _runtime.reset()
    reinstrument()
    server.enqueue(Scenario(text="Streamed, captured.", chunks=2))
    list(
        client.models.generate_content_stream(
            model=MODEL, contents=[{"role": "user", "parts": [{"text": "Hi"}]}]
        )
    )
    span = only_span(telemetry)
    assert (
        span.attributes["gen_ai.input.messages"]
        == '[{"role": "user", "parts": [{"type": "text", "content": "Hi"}]}]'
    )
    assert '"content": "Streamed, captured."' in span.attributes["gen_ai.output.messages"]


def test_unsampled_calls_still_record_metrics(server, client):
    from opentelemetry.sdk.trace.sampling import ALWAYS_OFF
    from otel_tokens_google_genai import GoogleGenAIInstrumentor

    from otel_tokens.testing import InMemoryTelemetry

    memory = InMemoryTelemetry(sampler=ALWAYS_OFF)
    GoogleGenAIInstrumentor().instrument(
        tracer_provider=memory.tracer_provider, meter_provider=memory.meter_provider
    )
    try:
        server.enqueue(Scenario(prompt_tokens=10, completion_tokens=5, reasoning_tokens=4))
        client.models.generate_content(model=MODEL, contents=PROMPT)
    finally:
        GoogleGenAIInstrumentor().uninstrument()
    assert memory.spans() == ()
    assert {p.attributes["gen_ai.token.type"]: p.sum for p in memory.points("gen_ai.client.token.usage")} == {
        "input": 10,
        "output": 9,
    }
    [point] = memory.points("otel_tokens.client.cost")
    assert point.sum == pytest.approx(cost(GEMINI_25_FLASH, input=10, output=9))


def test_tags_reach_stream_span_and_points(server, client, telemetry):
    server.enqueue(Scenario(chunks=2, prompt_tokens=3, completion_tokens=2))
    with tags(team="checkout"):
        stream = client.models.generate_content_stream(model=MODEL, contents=PROMPT)
    list(stream)  # consumed outside the tag scope: the tags are those of the call
    span = only_span(telemetry)
    assert span.attributes["otel_tokens.tag.team"] == "checkout"
    for point in telemetry.points("gen_ai.client.token.usage"):
        assert point.attributes["otel_tokens.tag.team"] == "checkout"


def test_request_attributes_of_a_json_request(server, client, telemetry):
    server.enqueue(Scenario(text='{"a": 1}'))
    client.models.generate_content(
        model=MODEL,
        contents=PROMPT,
        config={"response_mime_type": "application/json", "candidate_count": 2, "presence_penalty": 0.5},
    )
    attributes = only_span(telemetry).attributes
    assert attributes["gen_ai.output.type"] == "json"
    assert attributes["gen_ai.request.choice.count"] == 2
    assert attributes["gen_ai.request.presence_penalty"] == 0.5
    assert attributes["gen_ai.response.finish_reasons"] == ("stop", "stop")


def test_chat_session_is_recorded_per_request(server, client, telemetry):
    chat = client.chats.create(model=MODEL)
    for tokens in (10, 25):
        server.enqueue(Scenario(prompt_tokens=tokens, completion_tokens=3))
        chat.send_message("next")
    assert [s.attributes["gen_ai.usage.input_tokens"] for s in telemetry.spans()] == [10, 25]


def test_count_tokens_is_not_billed_and_not_recorded(server, client, telemetry):
    assert client.models.count_tokens(model=MODEL, contents=PROMPT).total_tokens > 0
    assert telemetry.spans() == ()
    assert telemetry.points() == []


def test_uninstrument_stops_recording(server, client, telemetry):
    from otel_tokens_google_genai import GoogleGenAIInstrumentor

    GoogleGenAIInstrumentor().uninstrument()
    client.models.generate_content(model=MODEL, contents=PROMPT)
    list(client.models.generate_content_stream(model=MODEL, contents=PROMPT))
    assert telemetry.spans() == ()
    GoogleGenAIInstrumentor().instrument(
        tracer_provider=telemetry.tracer_provider, meter_provider=telemetry.meter_provider
    )
    client.models.generate_content(model=MODEL, contents=PROMPT)
    assert len(telemetry.spans()) == 1


def test_internal_failure_never_reaches_the_user(server, client, telemetry, monkeypatch, caplog):
    from otel_tokens_google_genai import _extract

    from otel_tokens import _safety

    _safety.set_strict(False)
    monkeypatch.setattr(_extract, "generate_result", lambda response: 1 / 0)
    server.enqueue(Scenario(prompt_tokens=3, completion_tokens=2))
    response = client.models.generate_content(model=MODEL, contents=PROMPT)
    assert response.usage_metadata.prompt_token_count == 3
    assert len(telemetry.spans()) == 1  # the span still ends
    assert any("internal error" in r.getMessage() for r in caplog.records)


@pytest.mark.skipif(
    "should_return_http_response" not in types.GenerateContentConfig.model_fields,
    reason="this google-genai version cannot return the raw HTTP response",
)
def test_raw_http_response_is_read(server, client, telemetry):
    server.enqueue(Scenario(prompt_tokens=40, completion_tokens=4))
    response = client.models.generate_content(
        model=MODEL, contents=PROMPT, config={"should_return_http_response": True}
    )
    assert response.usage_metadata is None and response.sdk_http_response.body
    span = only_span(telemetry)
    assert usage_of(span) == {"gen_ai.usage.input_tokens": 40, "gen_ai.usage.output_tokens": 4}
    assert span.attributes["gen_ai.response.model"] == MODEL
