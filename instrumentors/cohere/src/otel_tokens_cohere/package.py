"""The client library versions this instrumentor supports (kept in step with pyproject's extra)."""

_instruments = ("cohere >= 5.13.0, < 8",)
