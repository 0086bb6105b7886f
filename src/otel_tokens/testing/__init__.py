"""Test helpers for users of otel-tokens: a local fake LLM provider speaking the OpenAI wire format.

from otel_tokens.testing import FakeProviderServer, Scenario

with FakeProviderServer(Scenario(text="hi", prompt_tokens=10)) as server:
    client = openai.OpenAI(base_url=server.url + "/v1", api_key="x")
"""

from ._fake_server import FakeProviderServer, RawResponse, Scenario

__all__ = ["FakeProviderServer", "RawResponse", "Scenario"]
