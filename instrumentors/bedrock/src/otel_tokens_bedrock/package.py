"""The client library versions this instrumentor supports (kept in step with pyproject's extra)."""

_instruments = ("botocore >= 1.35.0, < 2",)
