"""Recognising a provider's own spending cap in a failed call's error.

"Our cap" (a budget) and "the provider's cap" (an organisation or project spend limit set in
the provider's console) look alike to a user, and a 429 from a spend limit is not a rate limit
that goes away by retrying. The error is classified from its machine-readable code where the
provider sends one, else from the known wording of the message; the message itself is never
recorded (it is not safe telemetry, see ``otel_tokens._redaction``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# OpenAI's error codes for a spend limit (429) and an exhausted prepaid quota.
_CODES = frozenset(
    {"organization_spend_limit_exceeded", "project_spend_limit_exceeded", "insufficient_quota"}
)
# Anthropic sends these as invalid_request_error / rate_limit_error, told apart by the message.
_PHRASES = (
    ("spend limit", "spend_limit_exceeded"),
    ("credit balance is too low", "credit_balance_too_low"),
)


def provider_limit(error: BaseException) -> str | None:
    """The provider's code for the spending cap that refused the call, or None for other errors."""
    code = getattr(error, "code", None)
    if isinstance(code, str) and code in _CODES:
        return code
    body = getattr(error, "body", None)
    details = body.get("error", body) if isinstance(body, Mapping) else None
    if not isinstance(details, Mapping):
        return None
    code = details.get("code")
    if isinstance(code, str) and code in _CODES:
        return code
    return _from_message(details.get("message"))


def _from_message(message: Any) -> str | None:
    if not isinstance(message, str):
        return None
    lowered = message[:500].lower()
    for phrase, code in _PHRASES:
        if phrase in lowered:
            return code
    return None
