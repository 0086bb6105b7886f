"""The client library versions this instrumentor supports (kept in step with pyproject's extra)."""

_instruments = ("litellm >= 1.78.0, < 2",)
