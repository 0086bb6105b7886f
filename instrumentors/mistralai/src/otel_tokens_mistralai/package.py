"""The client library versions this instrumentor supports (kept in step with pyproject's extra)."""

_instruments = ("mistralai >= 1.9.3, < 4",)
