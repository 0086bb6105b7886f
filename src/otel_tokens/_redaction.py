"""What a failed call's span may say about its error, without credentials or content.

Provider error messages are not safe telemetry: a 401 from a gateway or an OpenAI-compatible
server often quotes the API key it refused, and a 400 often quotes the prompt. So the span's
status description is the error's type and HTTP status only; the message is added only when
the user opted in to content capture, and even then with anything shaped like a credential
masked.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Sequence
from typing import Any

MAX_DESCRIPTION_LENGTH = 1024
MASK = "****"

# Shapes of credentials seen in provider and gateway errors. The gateway's redaction processor
# masks the same shapes in everything it forwards; this is the SDK's own first line.
_SECRET_SHAPES = re.compile(
    r"""
    (?:sk|pk|rk)-[A-Za-z0-9_\-]{8,}             # OpenAI / Anthropic (sk-ant-...) / compatible keys
    | AIza[0-9A-Za-z_\-]{20,}                    # Google API keys
    | (?:AKIA|ASIA)[0-9A-Z]{16}                  # AWS access key ids
    | gsk_[A-Za-z0-9]{20,}                       # Groq
    | xai-[A-Za-z0-9]{20,}                       # x.ai
    | eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]*   # JWTs
    | (?i:bearer|basic)\s+[A-Za-z0-9._~+/=\-]{8,}  # Authorization header values
    """,
    re.VERBOSE,
)
# key=value or "key": "value" where the key names a secret.
_SECRET_ASSIGNMENTS = re.compile(
    r"""(?i)((?:api[_-]?key|x-api-key|authorization|secret|password|token|access[_-]?key)["']?\s*[:=]\s*["']?)"""
    r"""([^\s"',;}]+)"""
)


def mask_secrets(text: str) -> str:
    """``text`` with every credential-shaped substring replaced by ``****``."""
    text = _SECRET_SHAPES.sub(MASK, text)
    return _SECRET_ASSIGNMENTS.sub(lambda match: match.group(1) + MASK, text)


def http_status(error: BaseException) -> int | None:
    """The HTTP status an SDK's error carries (openai, anthropic, cohere, mistralai, ollama,
    litellm: ``status_code``; google-genai: ``code``; botocore: the response metadata)."""
    for value in (
        getattr(error, "status_code", None),
        getattr(error, "code", None),
        _botocore_status(error),
    ):
        if type(value) is int and 100 <= value <= 599:
            return value
    return None


def _botocore_status(error: BaseException) -> Any:
    response = getattr(error, "response", None)
    if isinstance(response, dict):
        metadata = response.get("ResponseMetadata")
        if isinstance(metadata, dict):
            return metadata.get("HTTPStatusCode")
    return None


def error_description(error: BaseException, status: int | None, capture_content: bool) -> str:
    """The span status description of a failed call: ``"RateLimitError: HTTP 429"``, plus the
    masked message only when content capture is on."""
    description = type(error).__qualname__
    if status is not None:
        description += f": HTTP {status}"
    if capture_content:
        try:
            message = str(error)
        except Exception:  # noqa: BLE001 - a broken __str__ must not lose the rest
            message = ""
        if message:
            description += ": " + mask_secrets(message)
    return description[:MAX_DESCRIPTION_LENGTH]


def redact_url(url: str) -> str:
    """``url`` for a message: user name and password replaced by ``***``, query and fragment
    (where a Redis URL may carry ``?password=``) left out."""
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return "(an unparseable URL)"
    netloc = parts.netloc.rpartition("@")[2]
    if "@" in parts.netloc:
        netloc = f"***@{netloc}"
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def url_secrets(url: str) -> list[str]:
    """What of ``url`` must never be printed, longest first: the URL itself, its ``user:password@``
    part and its password, raw and decoded (also a ``?password=``). A user name alone is not a
    secret, and masking a short one everywhere would garble the message."""
    found = {url}
    try:
        parts = urllib.parse.urlsplit(url)
        passwords = [parts.password or "", *urllib.parse.parse_qs(parts.query).get("password", [])]
        if "@" in parts.netloc:
            found.add(parts.netloc.rsplit("@", 1)[0] + "@")
    except ValueError:
        passwords = []
    for password in passwords:
        found.update({password, urllib.parse.unquote(password)})
    return sorted((s for s in found if s), key=len, reverse=True)


def scrub(text: str, secrets: Sequence[str]) -> str:
    """``text`` with each of ``secrets`` (longest first, see :func:`url_secrets`) replaced by ``***``."""
    for secret in secrets:
        text = text.replace(secret, "***")
    return text
