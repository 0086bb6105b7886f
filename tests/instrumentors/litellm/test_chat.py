"""litellm.completion / acompletion through the real litellm against the fake server."""

from __future__ import annotations

import gc

import litellm
import pytest
from litellm.litellm_core_utils.streaming_handler import CustomStreamWrapper
from opentelemetry.trace import SpanKind, StatusCode
from otel_tokens_fake_providers import Scenario

from otel_tokens import tags

from .helpers import GPT_4O_MINI, GPT_5, MESSAGES, cost, details, only_span, token_points


def test_completion_span_metrics_and_cost(server, openai_api, telemetry):
    server.enqueue(
        Scenario(model="gpt-4o-mini-2024-07-18", prompt_tokens=1200, cached_tokens=1024, completion_tokens=50)
    )
    with tags(team="search", feature="autocomplete", user="u-1"):
        response = litellm.completion(
            model="openai/gpt-4o-mini",
            messages=MESSAGES,
            temperature=0.2,
            max_tokens=100,
            seed=7,
            stop="END",
            **openai_api,
        )
    assert response.usage.prompt_tokens == 1200  # the user gets litellm's own object, unchanged
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
        "gen_ai.response.model": response.model,
        "gen_ai.response.id": response.id,
        "gen_ai.response.finish_reasons": ("stop",),
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
    assert span.status.status_code is StatusCode.UNSET
    metric_attributes = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4o-mini",
        "gen_ai.response.model": response.model,
        "server.address": "127.0.0.1",
        "otel_tokens.tag.team": "search",
        "otel_tokens.tag.feature": "autocomplete",
    }
    tokens = token_points(telemetry)
    assert tokens["input"].attributes == {**metric_attributes, "gen_ai.token.type": "input"}
    assert (tokens["input"].sum, tokens["input"].count) == (1200, 1)
    assert (tokens["output"].sum, tokens["output"].count) == (50, 1)
    [cost_point] = telemetry.points("otel_tokens.client.cost")
    assert cost_point.attributes == metric_attributes
    assert cost_point.sum == pytest.approx(expected_cost, rel=1e-12)
    assert details(telemetry) == {"cache_read": 1024}
    [duration] = telemetry.points("gen_ai.client.operation.duration")
    assert duration.attributes == metric_attributes and duration.count == 1
    assert telemetry.points("otel_tokens.client.unpriced_calls") == []
    assert telemetry.points("gen_ai.client.operation.time_to_first_chunk") == []


async def test_acompletion(server, openai_api, telemetry):
    server.enqueue(Scenario(prompt_tokens=30, completion_tokens=12, reasoning_tokens=8))
    response = await litellm.acompletion(model="gpt-5", messages=MESSAGES, **openai_api)
    span = only_span(telemetry)
    assert span.attributes["gen_ai.provider.name"] == "openai"
    assert span.attributes["gen_ai.usage.output_tokens"] == response.usage.completion_tokens == 12
    assert span.attributes["gen_ai.usage.reasoning.output_tokens"] == 8
    assert span.attributes["gen_ai.usage.cost.amount"] == pytest.approx(cost(GPT_5, input=30, output=12))
    assert details(telemetry) == {"reasoning": 8}


def test_positional_arguments(server, openai_api, telemetry):
    server.enqueue(Scenario(prompt_tokens=9, completion_tokens=3))
    litellm.completion("openai/gpt-4o-mini", MESSAGES, **openai_api)
    span = only_span(telemetry)
    assert span.attributes["gen_ai.request.model"] == "gpt-4o-mini"
    assert span.attributes["gen_ai.usage.input_tokens"] == 9


def test_stream_with_include_usage(server, openai_api, telemetry):
    server.enqueue(Scenario(prompt_tokens=20, completion_tokens=7, chunks=4))
    stream = litellm.completion(
        model="openai/gpt-4o-mini",
        messages=MESSAGES,
        stream=True,
        stream_options={"include_usage": True},
        **openai_api,
    )
    assert isinstance(stream, CustomStreamWrapper)
    assert not hasattr(stream, "close")  # litellm's stream has none; the proxy adds none
    chunks = list(stream)
    assert chunks[-1].usage.prompt_tokens == 20
    span = only_span(telemetry)
    assert span.attributes["gen_ai.request.stream"] is True
    assert span.attributes["gen_ai.usage.input_tokens"] == 20
    assert span.attributes["gen_ai.usage.output_tokens"] == 7
    assert span.attributes["gen_ai.response.finish_reasons"] == ("stop",)
    assert span.attributes["gen_ai.usage.cost.amount"] == pytest.approx(cost(GPT_4O_MINI, input=20, output=7))
    assert "otel_tokens.usage.estimated" not in span.attributes
    assert 0 < span.attributes["gen_ai.response.time_to_first_chunk"] < 5
    [ttfc] = telemetry.points("gen_ai.client.operation.time_to_first_chunk")
    assert ttfc.count == 1


def test_stream_without_usage_is_estimated_locally(server, openai_api, telemetry):
    from otel_tokens.tokenize import Tokenizer

    text = "Hello there, this answer was streamed in pieces."
    server.enqueue(Scenario(text=text, chunks=5))
    streamed = "".join(
        chunk.choices[0].delta.content or ""
        for chunk in litellm.completion(
            model="openai/gpt-4o-mini", messages=MESSAGES, stream=True, **openai_api
        )
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
    assert token_points(telemetry)["output"].attributes["otel_tokens.usage.estimated"] is True


def test_litellm_counted_stream_usage_is_flagged_as_estimate(server, openai_api, telemetry):
    # The provider sent no usage, yet litellm hands the user a usage chunk of its own counting:
    # that is not a billed count, so we record our own estimate and flag it.
    server.enqueue(Scenario(include_usage=False, chunks=3))
    chunks = list(
        litellm.completion(
            model="openai/gpt-4o-mini",
            messages=MESSAGES,
            stream=True,
            stream_options={"include_usage": True},
            **openai_api,
        )
    )
    assert chunks[-1].usage.prompt_tokens > 0  # litellm's own count
    span = only_span(telemetry)
    assert span.attributes["otel_tokens.usage.estimated"] is True
    assert span.attributes["otel_tokens.usage.estimate_method"] == "tiktoken:o200k_base"


def test_missing_usage_in_a_plain_response_is_estimated(server, openai_api, telemetry):
    server.enqueue(Scenario(include_usage=False, text="Hello, human."))
    response = litellm.completion(model="openai/gpt-4o-mini", messages=MESSAGES, **openai_api)
    assert response.usage.prompt_tokens == 0  # litellm's default usage when none was sent
    span = only_span(telemetry)
    assert span.attributes["otel_tokens.usage.estimated"] is True
    assert span.attributes["gen_ai.usage.input_tokens"] > 0
    assert span.attributes["gen_ai.usage.output_tokens"] > 0


def test_injected_stream_usage_is_exact_and_invisible_to_the_user(
    server, openai_api, telemetry, reinstrument
):
    from otel_tokens import _runtime
    from otel_tokens._settings import Settings

    # The fake server's host is declared as OpenAI's: an unknown host is never given stream_options.
    _runtime.set_settings(Settings(stream_include_usage=True, provider_hosts={"127.0.0.1": "openai"}))
    reinstrument()
    server.enqueue(Scenario(prompt_tokens=20, completion_tokens=7, chunks=3))
    chunks = list(
        litellm.completion(model="openai/gpt-4o-mini", messages=MESSAGES, stream=True, **openai_api)
    )
    assert server.requests[-1].body["stream_options"] == {"include_usage": True}
    assert all(getattr(chunk, "usage", None) is None for chunk in chunks)
    span = only_span(telemetry)
    assert (span.attributes["gen_ai.usage.input_tokens"], span.attributes["gen_ai.usage.output_tokens"]) == (
        20,
        7,
    )
    assert "otel_tokens.usage.estimated" not in span.attributes


def user_view(chunks):
    """What the user got from a stream, without the fields that differ on every call."""
    return [
        (type(chunk).__name__, hasattr(chunk, "usage"), chunk.model_dump(exclude={"id", "created"}))
        for chunk in chunks
    ]


@pytest.mark.parametrize("is_async", [False, True])
async def test_injected_usage_on_the_finish_chunk_leaves_the_users_chunks_as_they_were(
    server, openai_api, telemetry, is_async, reinstrument
):
    from otel_tokens import _runtime
    from otel_tokens._settings import Settings

    async def stream_chunks():
        if is_async:
            stream = await litellm.acompletion(
                model="openai/gpt-4o-mini", messages=MESSAGES, stream=True, **openai_api
            )
            return [chunk async for chunk in stream]
        return list(
            litellm.completion(model="openai/gpt-4o-mini", messages=MESSAGES, stream=True, **openai_api)
        )

    # A server that puts the usage asked for on the finish chunk instead of a chunk of its own.
    scenario = Scenario(prompt_tokens=20, completion_tokens=7, chunks=3, usage_on_finish=True)
    server.enqueue(scenario)
    without_opt_in = await stream_chunks()
    assert "stream_options" not in server.requests[-1].body
    _runtime.set_settings(Settings(stream_include_usage=True, provider_hosts={"127.0.0.1": "openai"}))
    reinstrument()
    telemetry.clear()
    server.enqueue(scenario)
    with_opt_in = await stream_chunks()
    assert server.requests[-1].body["stream_options"] == {"include_usage": True}
    assert user_view(with_opt_in) == user_view(without_opt_in)
    span = only_span(telemetry)
    assert (span.attributes["gen_ai.usage.input_tokens"], span.attributes["gen_ai.usage.output_tokens"]) == (
        20,
        7,
    )
    assert "otel_tokens.usage.estimated" not in span.attributes


@pytest.mark.parametrize(
    ("model", "extra"),
    [
        ("azure/my-deployment", {"api_version": "2024-06-01"}),  # Azure: older API versions answer 400
        ("openai/gpt-4o-mini", {}),  # an OpenAI-compatible host nobody declared
    ],
)
def test_opt_in_leaves_azure_and_unknown_hosts_alone(
    server, openai_api, telemetry, model, extra, reinstrument
):
    from otel_tokens import _runtime
    from otel_tokens._settings import Settings

    _runtime.set_settings(Settings(stream_include_usage=True))
    reinstrument()
    server.enqueue(Scenario(prompt_tokens=20, completion_tokens=7, chunks=3))
    kwargs = {**openai_api, "api_base": server.url} if model.startswith("azure/") else openai_api
    chunks = list(litellm.completion(model=model, messages=MESSAGES, stream=True, **kwargs, **extra))
    assert "stream_options" not in server.requests[-1].body
    assert chunks
    assert only_span(telemetry).attributes["otel_tokens.usage.estimated"] is True


def test_stream_abandoned_early_ends_on_garbage_collection(server, openai_api, telemetry):
    server.enqueue(Scenario(chunks=6, prompt_tokens=11, completion_tokens=6, include_usage=True))
    stream = litellm.completion(model="openai/gpt-4o-mini", messages=MESSAGES, stream=True, **openai_api)
    next(iter(stream))
    assert telemetry.spans() == ()
    del stream
    gc.collect()
    span = only_span(telemetry)
    assert span.status.status_code is StatusCode.UNSET
    assert span.attributes["otel_tokens.usage.estimated"] is True


def test_stream_iterated_with_next(server, openai_api, telemetry):
    server.enqueue(Scenario(chunks=2, prompt_tokens=5, completion_tokens=2))
    stream = litellm.completion(
        model="openai/gpt-4o-mini",
        messages=MESSAGES,
        stream=True,
        stream_options={"include_usage": True},
        **openai_api,
    )
    received = []
    with pytest.raises(StopIteration):
        while True:
            received.append(next(stream))
    assert received
    assert only_span(telemetry).attributes["gen_ai.usage.input_tokens"] == 5


def test_stream_failing_midway_records_error_and_reraises(server, openai_api, telemetry):
    server.enqueue(Scenario(chunks=6, fail_after_chunks=2))
    received = []
    with pytest.raises(Exception) as raised:
        for chunk in litellm.completion(
            model="openai/gpt-4o-mini", messages=MESSAGES, stream=True, **openai_api
        ):
            received.append(chunk)
    span = only_span(telemetry)
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes["error.type"] == type(raised.value).__qualname__
    assert received  # what arrived before the failure reached the user


async def test_async_stream(server, openai_api, telemetry):
    server.enqueue(Scenario(chunks=4, prompt_tokens=9, completion_tokens=4))
    stream = await litellm.acompletion(
        model="openai/gpt-4o-mini",
        messages=MESSAGES,
        stream=True,
        stream_options={"include_usage": True},
        **openai_api,
    )
    assert isinstance(stream, CustomStreamWrapper)
    chunks = [chunk async for chunk in stream]
    assert chunks[-1].usage.completion_tokens == 4
    span = only_span(telemetry)
    assert span.attributes["gen_ai.usage.output_tokens"] == 4
    assert span.attributes["gen_ai.usage.cost.amount"] == pytest.approx(cost(GPT_4O_MINI, input=9, output=4))


async def test_async_stream_closed_early_ends_once(server, openai_api, telemetry):
    server.enqueue(Scenario(chunks=6, prompt_tokens=11, completion_tokens=6, include_usage=True))
    stream = await litellm.acompletion(
        model="openai/gpt-4o-mini", messages=MESSAGES, stream=True, **openai_api
    )
    async for _ in stream:
        break
    if hasattr(stream, "aclose"):  # only later litellm streams have aclose(); the proxy mirrors that
        await stream.aclose()
        await stream.aclose()
    else:
        del stream
        gc.collect()
    span = only_span(telemetry)
    assert span.status.status_code is StatusCode.UNSET
    assert span.attributes["otel_tokens.usage.estimated"] is True  # no usage arrived before the break


async def test_async_stream_failing_midway(server, openai_api, telemetry):
    server.enqueue(Scenario(chunks=6, fail_after_chunks=2))
    stream = await litellm.acompletion(
        model="openai/gpt-4o-mini", messages=MESSAGES, stream=True, **openai_api
    )
    error = None
    try:
        async for _ in stream:
            pass
    except Exception as raised:  # noqa: BLE001
        error = raised
    span = only_span(telemetry)
    if error is not None:
        assert span.attributes["error.type"] == type(error).__qualname__
    else:  # older litellm releases end a cut async stream quietly; it still ends once
        assert "error.type" not in span.attributes


@pytest.mark.parametrize(
    ("status", "exception"),
    [
        (400, litellm.BadRequestError),
        (429, litellm.RateLimitError),
        (500, litellm.InternalServerError),
    ],
)
def test_api_errors_pass_through_and_are_recorded(server, openai_api, telemetry, status, exception):
    server.enqueue(Scenario(error_status=status))
    with pytest.raises(exception) as raised:
        litellm.completion(model="openai/gpt-4o-mini", messages=MESSAGES, **openai_api)
    assert type(raised.value) is exception  # litellm's own exception class, unchanged
    span = only_span(telemetry)
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes["error.type"] == exception.__qualname__
    assert "gen_ai.usage.input_tokens" not in span.attributes
    [duration] = telemetry.points("gen_ai.client.operation.duration")
    assert duration.attributes["error.type"] == exception.__qualname__
    assert telemetry.points("gen_ai.client.token.usage") == []


async def test_async_api_error(server, openai_api, telemetry):
    server.enqueue(Scenario(error_status=429))
    with pytest.raises(litellm.RateLimitError):
        await litellm.acompletion(model="openai/gpt-4o-mini", messages=MESSAGES, **openai_api)
    assert only_span(telemetry).attributes["error.type"] == "RateLimitError"


def test_unknown_provider_fails_as_litellm_does(telemetry):
    with pytest.raises(litellm.BadRequestError):
        litellm.completion(model="no-such-model-anywhere", messages=MESSAGES, api_key="x")
    span = only_span(telemetry)
    assert span.attributes["gen_ai.provider.name"] == "litellm"
    assert span.attributes["error.type"] == "BadRequestError"


@pytest.mark.parametrize("capture", [False, True])
def test_content_capture_is_opt_in(server, openai_api, telemetry, capture, reinstrument):
    from otel_tokens import _runtime
    from otel_tokens._settings import Settings

    _runtime.set_settings(Settings(capture_content=capture))
    reinstrument()
    server.enqueue(Scenario(text="Hello, human."))
    litellm.completion(model="openai/gpt-4o-mini", messages=MESSAGES, **openai_api)
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


def test_unsampled_calls_still_record_metrics(server, openai_api):
    from opentelemetry.sdk.trace.sampling import ALWAYS_OFF
    from otel_tokens_litellm import LiteLLMInstrumentor

    from otel_tokens.testing import InMemoryTelemetry

    memory = InMemoryTelemetry(sampler=ALWAYS_OFF)
    LiteLLMInstrumentor().instrument(
        tracer_provider=memory.tracer_provider, meter_provider=memory.meter_provider
    )
    try:
        server.enqueue(Scenario(prompt_tokens=10, completion_tokens=5))
        litellm.completion(model="openai/gpt-4o-mini", messages=MESSAGES, **openai_api)
    finally:
        LiteLLMInstrumentor().uninstrument()
    assert memory.spans() == ()
    assert {p.attributes["gen_ai.token.type"]: p.sum for p in memory.points("gen_ai.client.token.usage")} == {
        "input": 10,
        "output": 5,
    }
    [point] = memory.points("otel_tokens.client.cost")
    assert point.sum == pytest.approx(cost(GPT_4O_MINI, input=10, output=5))


def test_unknown_model_gets_no_cost_and_is_counted(server, openai_api, telemetry):
    server.enqueue(Scenario(prompt_tokens=10, completion_tokens=5))
    litellm.completion(model="openai/acme-private-llm-7", messages=MESSAGES, **openai_api)
    span = only_span(telemetry)
    assert "gen_ai.usage.cost.amount" not in span.attributes
    assert span.attributes["otel_tokens.price.missing"] is True
    [unpriced] = telemetry.points("otel_tokens.client.unpriced_calls")
    assert unpriced.value == 1


def test_uninstrument_restores_litellm(server, openai_api, telemetry):
    from otel_tokens_litellm import LiteLLMInstrumentor

    LiteLLMInstrumentor().uninstrument()
    litellm.completion(model="openai/gpt-4o-mini", messages=MESSAGES, **openai_api)
    assert telemetry.spans() == ()
    LiteLLMInstrumentor().instrument(
        tracer_provider=telemetry.tracer_provider, meter_provider=telemetry.meter_provider
    )
    litellm.completion(model="openai/gpt-4o-mini", messages=MESSAGES, **openai_api)
    assert len(telemetry.spans()) == 1


def test_internal_failure_never_reaches_the_user(
    server, openai_api, telemetry, monkeypatch, caplog, reinstrument
):
    from otel_tokens_litellm import _endpoints

    from otel_tokens import _safety

    _safety.set_strict(False)
    monkeypatch.setitem(_endpoints._RESULTS, "chat", lambda response: 1 / 0)
    reinstrument()
    server.enqueue(Scenario(prompt_tokens=3, completion_tokens=2))
    response = litellm.completion(model="openai/gpt-4o-mini", messages=MESSAGES, **openai_api)
    assert response.usage.prompt_tokens == 3
    assert len(telemetry.spans()) == 1  # the span still ends
    assert any("internal error" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("stream", [False, True])
def test_an_absurd_count_loses_that_count_only_and_is_counted(server, openai_api, telemetry, stream):
    from otel_tokens.usage import take_invalid_count

    take_invalid_count()  # nothing left over from an earlier test on this thread
    server.enqueue(Scenario(prompt_tokens=1200, cached_tokens=2**70, completion_tokens=50, chunks=3))
    if stream:
        chunks = list(
            litellm.completion(
                model="openai/gpt-4o-mini",
                messages=MESSAGES,
                stream=True,
                stream_options={"include_usage": True},
                **openai_api,
            )
        )
        usage = chunks[-1].usage
    else:
        usage = litellm.completion(model="openai/gpt-4o-mini", messages=MESSAGES, **openai_api).usage
    assert usage.prompt_tokens_details.cached_tokens == 2**70  # litellm lets it through to the user
    attributes = dict(only_span(telemetry).attributes)
    assert attributes["gen_ai.usage.input_tokens"] == 1200
    assert attributes["gen_ai.usage.output_tokens"] == 50
    assert "gen_ai.usage.cache_read.input_tokens" not in attributes
    assert "otel_tokens.usage.estimated" not in attributes
    assert attributes["gen_ai.usage.cost.amount"] == pytest.approx(cost(GPT_4O_MINI, input=1200, output=50))
    tokens = token_points(telemetry)
    assert {kind: point.sum for kind, point in tokens.items()} == {"input": 1200, "output": 50}
    assert details(telemetry) == {}
    [dropped] = telemetry.points("otel_tokens.telemetry.dropped")
    assert dropped.value == 1
    assert dropped.attributes["otel_tokens.drop.reason"] == "invalid_usage"
