"""Helpers for your own tests: what otel-tokens recorded, read from memory.

``capture()`` instruments every installed client into in-memory providers for one block::

    from otel_tokens.testing import capture

    with capture(default_tags={"team": "search"}) as telemetry:
        client.chat.completions.create(model="gpt-4o-mini", messages=[...])
    [span] = telemetry.spans()
    assert span.attributes["gen_ai.usage.input_tokens"] == 10
    cost = telemetry.points("otel_tokens.client.cost")

``InMemoryTelemetry`` gives the providers alone, to pass to ``otel_tokens.init()`` or to one
instrumentor's ``instrument()``. A fake provider server for the client to call is a separate
distribution: ``pip install "otel-tokens[testing]"``, then
``from otel_tokens_fake_providers import FakeProviderServer, Scenario``.
"""

from ._capture import capture
from ._memory import InMemoryTelemetry, Point

__all__ = ["InMemoryTelemetry", "Point", "capture"]
