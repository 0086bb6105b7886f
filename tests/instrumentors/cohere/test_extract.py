"""Pure extraction rules and the instrumentor's behaviour without the client."""

from __future__ import annotations

from otel_tokens_cohere import CohereInstrumentor, _extract

from otel_tokens.testing import InMemoryTelemetry
from otel_tokens.usage import Usage


def test_billed_units_are_the_usage_and_tokens_the_raw_counts():
    meta = {"billed_units": {"input_tokens": 62.0, "output_tokens": 28.0}, "tokens": {"input_tokens": 968.0}}
    assert _extract.usage(meta) == (
        Usage(input_tokens=62, output_tokens=28),
        {"otel_tokens.usage.raw.input_tokens": 968},
    )


def test_raw_tokens_stand_in_when_nothing_is_billed():
    assert _extract.usage({"tokens": {"input_tokens": 10, "output_tokens": 2}})[0] == Usage(
        input_tokens=10, output_tokens=2
    )


def test_search_units_and_empty_usage():
    assert _extract.usage({"billed_units": {"search_units": 2.0}})[0] == Usage(search_units=2)
    assert _extract.usage({"api_version": {"version": "1"}}) == (None, None)
    assert _extract.usage(None) == (None, None)


def test_provider_and_address():
    assert _extract.provider_for("https://api.cohere.com", "ClientV2") == ("cohere", "api.cohere.com", 443)
    assert _extract.provider_for(None, "Client") == ("cohere", None, None)
    # Cohere's own Bedrock clients send to Bedrock, which prices Cohere models on AWS.
    assert _extract.provider_for("https://api.cohere.com", "BedrockClientV2") == ("aws.bedrock", None, None)


def test_v1_history_becomes_chat_messages():
    kwargs = {
        "preamble": "Be brief.",
        "chat_history": [{"role": "USER", "message": "Hi"}, {"role": "CHATBOT", "message": "Hello"}],
        "message": "Joke?",
    }
    assert _extract.v1_chat_messages(kwargs) == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello"},
        {"role": "user", "content": "Joke?"},
    ]


def test_request_attributes_skip_omitted_and_embed_truncation():
    assert _extract.request_attributes("chat", {"temperature": ..., "p": None, "k": 5}, False) == {
        "gen_ai.request.top_k": 5
    }
    assert _extract.request_attributes(
        "embeddings", {"max_tokens": 512, "embedding_types": ["int8"]}, False
    ) == {"gen_ai.request.encoding_formats": ["int8"]}


def test_instrumentor_is_a_no_op_without_the_client(monkeypatch):
    from otel_tokens import _dependencies

    monkeypatch.setattr(_dependencies, "installed_version", lambda package: None)
    memory = InMemoryTelemetry()
    instrumentor = CohereInstrumentor()
    instrumentor.instrument(tracer_provider=memory.tracer_provider, meter_provider=memory.meter_provider)
    try:
        assert not instrumentor.patches_applied
    finally:
        instrumentor.uninstrument()
