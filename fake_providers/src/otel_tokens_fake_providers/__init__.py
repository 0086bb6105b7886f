"""A local fake LLM provider for tests and demos: one threaded HTTP server on 127.0.0.1 speaking the
wire formats of OpenAI, Anthropic, Gemini, Bedrock, Mistral, Cohere and Ollama.

Needs nothing but the standard library. Point a real client at it::

    from otel_tokens_fake_providers import FakeProviderServer, Scenario

    with FakeProviderServer(Scenario(text="hi", prompt_tokens=10)) as server:
        client = openai.OpenAI(base_url=server.url + "/v1", api_key="x")
        client.chat.completions.create(model="gpt-4o-mini", messages=[...])
        [request] = server.requests

Run it by hand with ``python -m otel_tokens_fake_providers --port 8089``.
"""

from ._server import FakeProviderServer, RawResponse, ReceivedRequest, Scenario

__all__ = ["FakeProviderServer", "RawResponse", "ReceivedRequest", "Scenario"]
