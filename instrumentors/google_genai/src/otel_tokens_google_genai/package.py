"""The client library versions this instrumentor supports (kept in step with pyproject's extra)."""

_instruments = ("google-genai >= 2.0.0, < 4",)
