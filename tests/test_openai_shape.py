"""The OpenAI-shape readers on what the instrumentor tests never send: several choices, finishing apart."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from otel_tokens._openai_shape import ChatStreamObserverBase, chat_result, finish_reasons
from otel_tokens.usage import Usage


def test_finish_reasons_keep_choice_order_and_skip_unfinished_choices():
    choices = [{"finish_reason": "length"}, SimpleNamespace(finish_reason=None), {"finish_reason": "stop"}]
    assert finish_reasons(choices) == ("length", "stop")
    assert finish_reasons([{"finish_reason": ""}, {}]) is None
    assert finish_reasons([]) is None


def test_chat_result_uses_the_given_readers_and_keeps_texts_only_without_usage():
    response = {
        "model": "m",
        "id": "r",
        "choices": [
            {"message": {"role": "assistant", "content": "a"}, "finish_reason": "stop"},
            {"message": {"content": "b"}, "finish_reason": None},
        ],
        "usage": None,
    }

    def texts(message: Any) -> list[str]:
        return [message["content"].upper()]

    result = chat_result(response, lambda usage: None, texts)
    assert (result.response_model, result.response_id, result.finish_reasons) == ("m", "r", ("stop",))
    assert result.output_texts == ["A", "B"]
    assert result.output_messages is not None
    assert result.output_messages() == [
        {"role": "assistant", "parts": [{"type": "text", "content": "A"}], "finish_reason": "stop"},
        {"role": "assistant", "parts": [{"type": "text", "content": "B"}]},
    ]
    with_usage = chat_result(response, lambda usage: Usage(input_tokens=1, output_tokens=2), texts)
    assert with_usage.usage == Usage(input_tokens=1, output_tokens=2)
    assert with_usage.output_texts is None


def test_stream_result_orders_finish_reasons_by_choice_index():
    observer = ChatStreamObserverBase(injected_usage=False)
    observer._head = {"model": "m", "id": "r"}
    observer._reasons = {2: "stop", 0: "length"}  # as n=3 choices may finish
    observer._texts = ["Hel", "lo"]
    result = observer._result(None, "default", {"a": 1})
    assert result.output_messages is not None
    assert result.finish_reasons == ("length", "stop")
    assert (result.response_model, result.response_id) == ("m", "r")
    assert (result.usage, result.service_tier, result.attributes) == (None, "default", {"a": 1})
    assert result.output_texts == ["Hel", "lo"]
    message = {"role": "assistant", "parts": [{"type": "text", "content": "Hello"}]}
    assert result.output_messages() == [message]
