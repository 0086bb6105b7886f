"""Errors otel-tokens raises into the user's program: only for invalid configuration or API use."""

from __future__ import annotations


class ConfigurationError(ValueError):
    """A setting, tag or price override is invalid; the message names it and what is accepted."""
