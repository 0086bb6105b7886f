"""The fake provider server, driven through the real openai SDK (sync and async) and raw HTTP."""

from __future__ import annotations

import base64
import contextlib
import http.client
import importlib
import json
import struct
import threading
import time
from collections.abc import Iterator

import openai
import pytest
from otel_tokens_fake_providers import FakeProviderServer, RawResponse, Scenario


def _broken_stream_errors() -> tuple[type[BaseException], ...]:
    # openai>=3 wraps a body cut short mid-stream as APIConnectionError; openai 2.x lets the
    # transport's RemoteProtocolError (httpx) escape from iteration.
    errors: list[type[BaseException]] = [openai.APIConnectionError]
    for name in ("httpx", "httpx2"):
        with contextlib.suppress(ImportError):
            errors.append(importlib.import_module(name).RemoteProtocolError)
    return tuple(errors)


BROKEN_STREAM = _broken_stream_errors()
PROMPT = [{"role": "user", "content": "abcd" * 10}]  # 40 characters: 10 derived prompt tokens
TEXT = "Hello world, streaming!"  # 23 characters: 5 derived completion tokens


@pytest.fixture(scope="module")
def shared() -> Iterator[FakeProviderServer]:
    with FakeProviderServer() as fake:
        yield fake


@pytest.fixture
def server(shared: FakeProviderServer) -> FakeProviderServer:
    shared.reset()
    shared.default = Scenario(text=TEXT)
    return shared


@pytest.fixture
def client(server: FakeProviderServer) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=server.url + "/v1", api_key="x", max_retries=0) as sdk:
        yield sdk


def _raw_post(server: FakeProviderServer, path: str, body: dict[str, object]) -> tuple[int, str, str]:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    try:
        conn.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
        response = conn.getresponse()
        return response.status, response.getheader("Content-Type") or "", response.read().decode()
    finally:
        conn.close()


# --- chat ---------------------------------------------------------------------------------------------


def test_chat_json_usage_details_and_n_choices(server: FakeProviderServer, client: openai.OpenAI) -> None:
    server.enqueue(
        Scenario(
            text="Hi",
            prompt_tokens=120,
            cached_tokens=64,
            reasoning_tokens=32,
            dated_model=True,
            service_tier="flex",
            finish_reason="length",
        )
    )

    result = client.chat.completions.create(model="gpt-4o-mini", messages=PROMPT, n=2)  # type: ignore[arg-type]

    assert result.id.startswith("chatcmpl-")
    assert result.object == "chat.completion"
    assert result.model == "gpt-4o-mini-2024-07-18"
    assert result.service_tier == "flex"
    assert [(c.index, c.message.content, c.finish_reason) for c in result.choices] == [
        (0, "Hi", "length"),
        (1, "Hi", "length"),
    ]
    assert result.usage is not None
    assert result.usage.model_dump(exclude_none=True) == {
        "prompt_tokens": 120,
        "completion_tokens": 2 * 1 + 32,
        "total_tokens": 154,
        "prompt_tokens_details": {"cached_tokens": 64, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 32,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def test_chat_json_derived_tokens_without_details(server: FakeProviderServer, client: openai.OpenAI) -> None:
    server.enqueue(Scenario(text=TEXT, usage_details=False, service_tier=None))

    result = client.chat.completions.create(model="gpt-4o-mini", messages=PROMPT)  # type: ignore[arg-type]

    assert result.model == "gpt-4o-mini"
    assert result.service_tier is None
    assert result.usage is not None
    assert result.usage.model_dump(exclude_none=True) == {
        "prompt_tokens": 10,
        "completion_tokens": 5,
        "total_tokens": 15,
    }


def test_chat_json_without_usage(server: FakeProviderServer, client: openai.OpenAI) -> None:
    server.enqueue(Scenario(include_usage=False))

    result = client.chat.completions.create(model="m", messages=PROMPT)  # type: ignore[arg-type]

    assert result.usage is None


async def test_chat_json_async(server: FakeProviderServer) -> None:
    async with openai.AsyncOpenAI(base_url=server.url + "/v1", api_key="x", max_retries=0) as sdk:
        result = await sdk.chat.completions.create(model="gpt-4o", messages=PROMPT)  # type: ignore[arg-type]

    assert result.choices[0].message.content == TEXT
    assert result.usage is not None
    assert (result.usage.prompt_tokens, result.usage.completion_tokens) == (10, 5)


def test_chat_stream_without_include_usage_has_no_usage(
    server: FakeProviderServer, client: openai.OpenAI
) -> None:
    chunks = list(client.chat.completions.create(model="m", messages=PROMPT, stream=True))  # type: ignore[arg-type]

    assert [c.usage for c in chunks] == [None] * 7
    assert chunks[0].choices[0].delta.role == "assistant"
    assert [c.choices[0].delta.content for c in chunks[1:6]] == ["Hello", " worl", "d, st", "ream", "ing!"]
    assert [c.choices[0].finish_reason for c in chunks] == [None] * 6 + ["stop"]
    status, content_type, text = _raw_post(
        server, "/v1/chat/completions", {"model": "m", "messages": PROMPT, "stream": True}
    )
    assert (status, content_type) == (200, "text/event-stream; charset=utf-8")
    assert '"usage"' not in text  # not even "usage": null, as the real API
    assert text.endswith("data: [DONE]\n\n")


def test_chat_stream_include_usage_only_in_last_chunk(
    server: FakeProviderServer, client: openai.OpenAI
) -> None:
    stream = client.chat.completions.create(
        model="m",
        messages=PROMPT,
        stream=True,  # type: ignore[arg-type]
        stream_options={"include_usage": True},
    )
    chunks = list(stream)

    assert len(chunks) == 8
    assert [c.usage for c in chunks[:-1]] == [None] * 7
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None
    assert (
        chunks[-1].usage.prompt_tokens,
        chunks[-1].usage.completion_tokens,
        chunks[-1].usage.total_tokens,
    ) == (10, 5, 15)
    assert chunks[-2].choices[0].finish_reason == "stop"


def test_chat_stream_forced_usage_rides_on_finish_chunk(
    server: FakeProviderServer, client: openai.OpenAI
) -> None:
    server.enqueue(Scenario(text=TEXT, include_usage=True, chunks=2))

    chunks = list(client.chat.completions.create(model="m", messages=PROMPT, stream=True))  # type: ignore[arg-type]

    assert [c.usage is not None for c in chunks] == [False, False, False, True]
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens == 15


def test_chat_stream_usage_disabled_even_when_asked(
    server: FakeProviderServer, client: openai.OpenAI
) -> None:
    server.enqueue(Scenario(include_usage=False))

    chunks = list(
        client.chat.completions.create(
            model="m",
            messages=PROMPT,
            stream=True,  # type: ignore[arg-type]
            stream_options={"include_usage": True},
        )
    )

    assert chunks[-1].choices[0].finish_reason == "stop"
    assert all(c.usage is None for c in chunks)


async def test_chat_stream_async_include_usage(server: FakeProviderServer) -> None:
    async with openai.AsyncOpenAI(base_url=server.url + "/v1", api_key="x", max_retries=0) as sdk:
        stream = await sdk.chat.completions.create(
            model="m",
            messages=PROMPT,
            stream=True,  # type: ignore[arg-type]
            stream_options={"include_usage": True},
        )
        chunks = [chunk async for chunk in stream]

    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == TEXT
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens == 15


def test_chat_tool_call_json_and_stream(server: FakeProviderServer, client: openai.OpenAI) -> None:
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]
    server.enqueue(Scenario(tool_call=True, tool_arguments='{"city":"Paris"}'), times=2)

    result = client.chat.completions.create(model="m", messages=PROMPT, tools=tools)  # type: ignore[arg-type]
    chunks = list(
        client.chat.completions.create(
            model="m",
            messages=PROMPT,
            tools=tools,  # type: ignore[arg-type]
            stream=True,
        )
    )

    [call] = result.choices[0].message.tool_calls or []
    assert (call.function.name, call.function.arguments) == ("get_weather", '{"city":"Paris"}')  # type: ignore[union-attr]
    assert result.choices[0].finish_reason == "tool_calls"
    assert result.usage is not None and result.usage.completion_tokens == 4
    deltas = [c.choices[0].delta.tool_calls[0].function.arguments for c in chunks[1:-1]]  # type: ignore[index,union-attr]
    assert "".join(deltas) == '{"city":"Paris"}'  # type: ignore[arg-type]
    assert chunks[-1].choices[0].finish_reason == "tool_calls"


# --- legacy completions and embeddings ---------------------------------------------------------------


def test_legacy_completion_json_and_stream(server: FakeProviderServer, client: openai.OpenAI) -> None:
    result = client.completions.create(model="davinci-002", prompt="abcd" * 10)
    chunks = list(
        client.completions.create(
            model="davinci-002", prompt="abcd" * 10, stream=True, stream_options={"include_usage": True}
        )
    )

    assert result.object == "text_completion"
    assert result.choices[0].text == TEXT
    assert result.usage is not None
    assert result.usage.model_dump(exclude_none=True) == {
        "prompt_tokens": 10,
        "completion_tokens": 5,
        "total_tokens": 15,
    }
    assert "".join(c.choices[0].text for c in chunks if c.choices) == TEXT
    assert [c.usage is not None for c in chunks] == [False] * 6 + [True]
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens == 15


def test_embeddings_base64_default_and_float(server: FakeProviderServer, client: openai.OpenAI) -> None:
    decoded = client.embeddings.create(model="text-embedding-3-small", input=["abcd" * 10, "xy"])
    floats = client.embeddings.create(
        model="text-embedding-3-small", input=["abcd" * 10, "xy"], encoding_format="float"
    )
    status, _, raw = _raw_post(
        server, "/v1/embeddings", {"model": "e", "input": "abcd" * 10, "encoding_format": "base64"}
    )

    sent = [r.body["encoding_format"] for r in server.requests[:2]]
    assert sent == ["base64", "float"]  # the SDK asks for base64 unless told otherwise
    assert [len(d.embedding) for d in decoded.data] == [8, 8]
    assert [d.embedding for d in decoded.data] == [d.embedding for d in floats.data]
    assert decoded.data[0].embedding != decoded.data[1].embedding
    assert decoded.usage.model_dump() == {"prompt_tokens": 10, "total_tokens": 10}
    encoded = json.loads(raw)["data"][0]["embedding"]
    assert status == 200
    assert list(struct.unpack("<8f", base64.b64decode(encoded))) == floats.data[0].embedding


# --- Responses API -----------------------------------------------------------------------------------


def test_responses_json(server: FakeProviderServer, client: openai.OpenAI) -> None:
    server.enqueue(Scenario(text=TEXT, cached_tokens=3, reasoning_tokens=7))

    result = client.responses.create(model="gpt-4.1-nano", input="abcd" * 10, instructions="be brief")

    assert result.id.startswith("resp_")
    assert (result.status, result.model, result.instructions) == ("completed", "gpt-4.1-nano", "be brief")
    assert result.output_text == TEXT
    assert result.usage is not None
    assert result.usage.model_dump(exclude_none=True) == {
        "input_tokens": 12,
        "input_tokens_details": {"cached_tokens": 3},
        "output_tokens": 12,
        "output_tokens_details": {"reasoning_tokens": 7},
        "total_tokens": 24,
    }


def test_responses_stream_sync_and_async_shapes(server: FakeProviderServer, client: openai.OpenAI) -> None:
    events = list(client.responses.create(model="gpt-4.1-nano", input="abcd" * 10, stream=True))

    assert [e.type for e in events] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        *["response.output_text.delta"] * 5,
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert [e.sequence_number for e in events] == list(range(13))
    assert events[0].response.usage is None  # type: ignore[union-attr]
    completed = events[-1].response  # type: ignore[union-attr]
    assert completed.output_text == TEXT
    assert completed.usage is not None
    assert (completed.usage.input_tokens, completed.usage.output_tokens, completed.usage.total_tokens) == (
        10,
        5,
        15,
    )


async def test_responses_stream_async(server: FakeProviderServer) -> None:
    async with openai.AsyncOpenAI(base_url=server.url + "/v1", api_key="x", max_retries=0) as sdk:
        stream = await sdk.responses.create(model="gpt-4o", input="abcd" * 10, stream=True)
        events = [event async for event in stream]

    deltas = [e.delta for e in events if e.type == "response.output_text.delta"]  # type: ignore[union-attr]
    assert "".join(deltas) == TEXT
    assert events[-1].response.usage.total_tokens == 15  # type: ignore[union-attr]


def test_responses_tool_call(server: FakeProviderServer, client: openai.OpenAI) -> None:
    server.enqueue(Scenario(tool_call=True, tool_arguments='{"a":1}'))
    tools = [{"type": "function", "name": "calc", "parameters": {"type": "object"}}]

    result = client.responses.create(model="gpt-4.1-nano", input="hi", tools=tools)  # type: ignore[arg-type]

    [item] = result.output
    assert (item.type, item.name, item.arguments) == ("function_call", "calc", '{"a":1}')  # type: ignore[union-attr]


# --- Azure, errors, damage ---------------------------------------------------------------------------


def test_azure_chat(server: FakeProviderServer) -> None:
    with openai.AzureOpenAI(
        azure_endpoint=server.url, api_version="2024-10-21", api_key="x", max_retries=0
    ) as azure:
        result = azure.chat.completions.create(model="my-deployment", messages=PROMPT)  # type: ignore[arg-type]

    assert result.model == "my-deployment"
    assert result.usage is not None and result.usage.total_tokens == 15
    [request] = server.requests
    assert request.path == "/openai/deployments/my-deployment/chat/completions"
    assert request.query == {"api-version": "2024-10-21"}
    assert request.headers["api-key"] == "x"


@pytest.mark.parametrize(
    ("status", "error", "type_", "code"),
    [
        (400, openai.BadRequestError, "invalid_request_error", None),
        (429, openai.RateLimitError, "requests", "rate_limit_exceeded"),
        (500, openai.InternalServerError, "server_error", None),
    ],
)
def test_error_statuses_raise_sdk_errors(
    server: FakeProviderServer,
    client: openai.OpenAI,
    status: int,
    error: type[openai.APIStatusError],
    type_: str,
    code: str | None,
) -> None:
    server.enqueue(Scenario(error_status=status, error_message="nope"))

    with pytest.raises(error) as caught:
        client.chat.completions.create(model="m", messages=PROMPT)  # type: ignore[arg-type]

    assert caught.value.status_code == status
    assert caught.value.body == {"message": "nope", "type": type_, "param": None, "code": code}


def test_queued_error_applies_to_sdk_retries_until_consumed(server: FakeProviderServer) -> None:
    server.enqueue(Scenario(error_status=429, headers={"retry-after-ms": "1"}), times=2)

    with openai.OpenAI(base_url=server.url + "/v1", api_key="x", max_retries=2) as sdk:
        result = sdk.chat.completions.create(model="m", messages=PROMPT)  # type: ignore[arg-type]

    assert result.choices[0].message.content == TEXT
    assert len(server.requests) == 3
    assert server.pending == 0


def test_unknown_path_is_an_openai_404(server: FakeProviderServer) -> None:
    status, content_type, text = _raw_post(server, "/v1/nope", {})

    assert (status, content_type) == (404, "application/json")
    assert json.loads(text) == {
        "error": {
            "message": "Invalid URL (POST /v1/nope)",
            "type": "invalid_request_error",
            "param": None,
            "code": None,
        }
    }


def test_raw_response_with_wrong_path_answers_599(server: FakeProviderServer, client: openai.OpenAI) -> None:
    server.enqueue(RawResponse(200, "{}", expect_path="/v1/embeddings"))

    with pytest.raises(openai.APIStatusError) as caught:
        client.chat.completions.create(model="m", messages=PROMPT)  # type: ignore[arg-type]

    assert caught.value.status_code == 599
    assert "expected a request to /v1/embeddings but got POST /v1/chat/completions" in caught.value.message


def test_malformed_body_fails_parsing(server: FakeProviderServer, client: openai.OpenAI) -> None:
    server.enqueue(Scenario(malformed=True), times=2)

    # The SDK does not wrap JSON errors: both paths raise json.JSONDecodeError.
    with pytest.raises(json.JSONDecodeError):
        client.chat.completions.create(model="m", messages=PROMPT)  # type: ignore[arg-type]
    with pytest.raises(json.JSONDecodeError):
        list(client.chat.completions.create(model="m", messages=PROMPT, stream=True))  # type: ignore[arg-type]


def test_fail_after_chunks_breaks_mid_iteration(server: FakeProviderServer, client: openai.OpenAI) -> None:
    server.enqueue(Scenario(text=TEXT, fail_after_chunks=2))
    received = []

    with pytest.raises(BROKEN_STREAM):  # noqa: PT012 - the error comes from iterating
        for chunk in client.chat.completions.create(model="m", messages=PROMPT, stream=True):  # type: ignore[arg-type]
            received.append(chunk.choices[0].delta.content)

    assert received == ["", "Hello", " worl"]


def test_chunk_delay_spreads_the_stream_over_time(server: FakeProviderServer, client: openai.OpenAI) -> None:
    server.enqueue(Scenario(text=TEXT, chunks=4, chunk_delay=0.05))
    arrivals = []

    start = time.monotonic()
    for _ in client.chat.completions.create(model="m", messages=PROMPT, stream=True):  # type: ignore[arg-type]
        arrivals.append(time.monotonic() - start)

    assert arrivals[-1] >= 4 * 0.05
    assert arrivals[4] - arrivals[1] >= 3 * 0.05 * 0.9  # chunks arrive one by one, not all at the end


# --- queue, log, lifecycle ---------------------------------------------------------------------------


def test_queue_is_consumed_in_order_then_default(server: FakeProviderServer, client: openai.OpenAI) -> None:
    server.enqueue(Scenario(text="first"))
    server.enqueue(Scenario(text="second"), times=2)
    assert server.pending == 3

    texts = [
        client.chat.completions.create(model="m", messages=PROMPT).choices[0].message.content  # type: ignore[arg-type]
        for _ in range(4)
    ]

    assert texts == ["first", "second", "second", TEXT]
    assert server.pending == 0


def test_request_log_contents(server: FakeProviderServer, client: openai.OpenAI) -> None:
    client.chat.completions.create(model="gpt-4o-mini", messages=PROMPT, temperature=0)  # type: ignore[arg-type]

    [request] = server.requests
    assert (request.method, request.path, request.query, request.target) == (
        "POST",
        "/v1/chat/completions",
        {},
        "/v1/chat/completions",
    )
    assert request.body == {"model": "gpt-4o-mini", "messages": PROMPT, "temperature": 0}
    assert request.headers["authorization"] == "Bearer x"
    assert request.headers["content-type"] == "application/json"
    assert json.loads(request.raw_body) == request.body

    server.reset()
    assert (server.requests, server.pending, server.default) == ([], 0, Scenario())


def test_keep_alive_serves_several_requests_on_one_connection(server: FakeProviderServer) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    try:
        for stream in (True, False, True):
            body = json.dumps({"model": "m", "messages": PROMPT, "stream": stream})
            conn.request("POST", "/v1/chat/completions", body, {"Content-Type": "application/json"})
            response = conn.getresponse()
            assert response.status == 200
            assert response.read()
    finally:
        conn.close()
    assert len(server.requests) == 3


def test_stop_does_not_hang_on_an_open_stream() -> None:
    fake = FakeProviderServer(Scenario(chunks=50, chunk_delay=0.2)).start()
    sdk = openai.OpenAI(base_url=fake.url + "/v1", api_key="x", max_retries=0)
    stream = sdk.chat.completions.create(model="m", messages=PROMPT, stream=True)  # type: ignore[arg-type]
    first = next(iter(stream))
    stopper = threading.Thread(target=fake.stop)

    start = time.monotonic()
    stopper.start()
    stopper.join(timeout=5)

    assert not stopper.is_alive()
    assert time.monotonic() - start < 1.0
    assert first.choices[0].delta.role == "assistant"
    with pytest.raises(BROKEN_STREAM):
        list(stream)
    sdk.close()


def test_scenario_rejects_impossible_values() -> None:
    with pytest.raises(ValueError, match="chunks"):
        Scenario(chunks=0)
    with pytest.raises(ValueError, match="error_status"):
        Scenario(error_status=200)
