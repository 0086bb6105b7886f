"""The client library versions this instrumentor supports (kept in step with pyproject's extra)."""

_instruments = ("ollama >= 0.4.0, < 1",)
