"""The client library versions this instrumentor supports (kept in step with pyproject's extra)."""

_instruments = ("anthropic >= 0.120.0, < 3",)
