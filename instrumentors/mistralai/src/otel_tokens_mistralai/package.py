"""The client library versions this instrumentor supports (kept in step with pyproject's extra)."""

_instruments = ("mistralai >= 2.0.0, < 4",)
