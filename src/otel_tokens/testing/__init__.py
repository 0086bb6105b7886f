"""Test helpers for users of otel-tokens: in-memory telemetry and a local fake LLM provider.

from otel_tokens.testing import FakeProviderServer, InMemoryTelemetry, Scenario

telemetry = InMemoryTelemetry()
otel_tokens.init(tracer_provider=telemetry.tracer_provider, meter_provider=telemetry.meter_provider)
with FakeProviderServer(Scenario(text="hi", prompt_tokens=10)) as server:
    client = openai.OpenAI(base_url=server.url + "/v1", api_key="x")
    client.chat.completions.create(model="gpt-4o-mini", messages=[...])
[span] = telemetry.spans()
"""

from ._fake_server import FakeProviderServer, RawResponse, ReceivedRequest, Scenario
from ._memory import InMemoryTelemetry, Point

__all__ = ["FakeProviderServer", "InMemoryTelemetry", "Point", "RawResponse", "ReceivedRequest", "Scenario"]
