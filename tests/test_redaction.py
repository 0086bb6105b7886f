"""Error text on spans: type and HTTP status only, the message only with content capture, masked."""

from __future__ import annotations

import pytest

from otel_tokens._redaction import error_description, http_status, mask_secrets


@pytest.mark.parametrize(
    "text",
    [
        "Incorrect API key provided: sk-proj-AbCdEf0123456789xyz",
        "invalid x-api-key sk-ant-api03-AbCdEf0123456789",
        "key=AIzaSyA1234567890abcdefghijklmnopq",
        "AKIAIOSFODNN7EXAMPLE is not authorised",
        "token gsk_abcdefghijklmnopqrstuvwxyz",
        "Authorization: Bearer abcdefghijklmnop.qrstuvw",
        "jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.abcdefghijk",
        '{"api_key": "my-gateway-key-123"}',
        "password=hunter2hunter2",
    ],
)
def test_credentials_are_masked(text):
    masked = mask_secrets(text)
    assert "****" in masked
    secrets = ("AbCdEf0123456789", "AIzaSyA123", "AKIAIOSFODNN7", "gsk_abc", "abcdefghijklmnop.")
    for secret in (*secrets, "eyJhbGci", "my-gateway-key", "hunter2"):
        assert secret not in masked


def test_ordinary_text_is_kept():
    assert mask_secrets("model gpt-4o not found (HTTP 404)") == "model gpt-4o not found (HTTP 404)"


class APIStatusError(Exception):
    def __init__(self, message, status_code):
        super().__init__(message)
        self.status_code = status_code


class ClientError(Exception):
    response = {"ResponseMetadata": {"HTTPStatusCode": 429}}


def test_status_codes_are_read_from_each_sdks_error_shape():
    assert http_status(APIStatusError("x", 401)) == 401
    assert http_status(ClientError("x")) == 429
    assert http_status(APIStatusError("x", "401")) is None  # not an int: not trusted
    assert http_status(APIStatusError("x", 42)) is None
    assert http_status(ValueError("x")) is None


def test_the_message_needs_content_capture_and_is_masked_then():
    error = APIStatusError("prompt 'my plan' rejected for key sk-abcdefghijklmnop", 400)
    assert error_description(error, 400, capture_content=False) == "APIStatusError: HTTP 400"
    assert error_description(error, 400, capture_content=True) == (
        "APIStatusError: HTTP 400: prompt 'my plan' rejected for key ****"
    )


class Broken(Exception):
    def __str__(self):
        raise RuntimeError("no")


def test_a_broken_str_does_not_lose_the_description():
    assert error_description(Broken(), None, capture_content=True) == "Broken"


def test_a_url_is_printed_without_its_credentials_wherever_they_sit():
    from otel_tokens._redaction import redact_url, scrub, url_secrets

    url = "redis://u:s%40kret@cache:6379/0?password=qsecret"
    assert redact_url(url) == "redis://***@cache:6379/0"
    message = f"cannot reach {url}: auth failed for s@kret, then qsecret; user u retried"
    cleaned = scrub(message, url_secrets(url))
    assert "kret" not in cleaned and "qsecret" not in cleaned
    assert cleaned.endswith("user u retried")  # a user name alone is not masked everywhere
    assert redact_url("redis://cache:6379/0") == "redis://cache:6379/0"
