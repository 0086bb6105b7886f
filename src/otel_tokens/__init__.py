"""otel-tokens: tokens, cost in USD and business tags on every LLM call, over OpenTelemetry.

Start with one line::

    import otel_tokens
    otel_tokens.init()

or run the program under ``opentelemetry-instrument`` with no code change. Tag spend::

    with otel_tokens.tags(team="search", feature="autocomplete"):
        client.chat.completions.create(...)
"""

from __future__ import annotations

from importlib.metadata import version

from otel_tokens._errors import ConfigurationError
from otel_tokens._settings import Settings
from otel_tokens._setup import flush, init, instrument, instrumented_clients, shutdown, uninstrument
from otel_tokens._tags import current_tags, tags

__all__ = [
    "ConfigurationError",
    "Settings",
    "current_tags",
    "flush",
    "init",
    "instrument",
    "instrumented_clients",
    "shutdown",
    "tags",
    "uninstrument",
]
__version__ = version("otel-tokens")
