"""A Prometheus-compatible HTTP API (Prometheus, Mimir, Thanos) asked instant queries, bounded.

Every request carries the caller's headers (auth, tenant), which are never shown; credentials in
the URL go as basic auth unless the headers hold an ``Authorization``. Redirects are refused
(following one would send the auth headers wherever it points) and named. Answers are asked
gzipped and read up to a byte limit unpacked: past it, or when the server refuses to load that many
samples, :class:`AnswerTooLarge` is raised. ``timeout`` bounds connecting, each wait for data and
reading the whole answer. Every other problem raises :class:`SourceError` with one line naming the
URL (credentials masked).
"""

from __future__ import annotations

import base64
import http.client
import json
import re
import time
import urllib.error
import urllib.parse
import urllib.request
import zlib
from collections.abc import Mapping
from typing import Any

from otel_tokens._redaction import mask_secrets, redact_url
from otel_tokens_cli._records import SourceError

__all__ = ["AnswerTooLarge", "PrometheusApi", "one_line"]

_MAX_ERROR_BYTES = 64 * 1024
_HEADER_NAME = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")


class AnswerTooLarge(Exception):
    """A response past the byte limit, or a server refusing to load that many samples."""


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    # Following a redirect would send the auth headers wherever it points: refuse, and name it.
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


class PrometheusApi:
    """Instant queries against a Prometheus-compatible ``/api/v1/query``; each problem raises
    :class:`SourceError` with one line naming the (masked) URL. An answer over ``max_answer_bytes``
    unpacked raises :class:`AnswerTooLarge`. Raises :class:`SourceError` at once for a URL that is
    not http(s) or a header that cannot be sent."""

    def __init__(self, url: str, headers: Mapping[str, str], timeout: float, max_answer_bytes: int) -> None:
        self.shown = redact_url(url)
        self.timeout = timeout
        self.max_answer_bytes = max_answer_bytes
        try:
            parts = urllib.parse.urlsplit(url)
            hostname = parts.hostname
            _ = parts.port
        except ValueError:
            raise SourceError(f"Prometheus {self.shown}: not a valid URL") from None
        if parts.scheme not in ("http", "https") or not hostname:
            raise SourceError(f"Prometheus {self.shown}: not an http:// or https:// URL")
        netloc = parts.netloc.rpartition("@")[2]
        self.endpoint = urllib.parse.urlunsplit(
            (parts.scheme, netloc, parts.path.rstrip("/") + "/api/v1/query", "", "")
        )
        self.fixed_params = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
        self.headers = {
            "Accept": "application/json",
            "Accept-Encoding": "gzip",
            "User-Agent": "otel-tokens-cli",
        }
        for name, value in headers.items():
            if not _HEADER_NAME.match(name) or any(c in value for c in "\r\n\0"):
                raise self.fail(f"the HTTP header {name!r} is not valid")
            try:
                value.encode("latin-1")
            except UnicodeEncodeError:
                raise self.fail(f"the HTTP header {name!r} is not Latin-1") from None
            self.headers[name] = value
        if parts.username is not None and not any(name.lower() == "authorization" for name in self.headers):
            user = urllib.parse.unquote(parts.username)
            password = urllib.parse.unquote(parts.password or "")
            token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
            self.headers["Authorization"] = f"Basic {token}"
        self.opener = urllib.request.build_opener(_NoRedirect())

    def fail(self, problem: str) -> SourceError:
        return SourceError(f"Prometheus {self.shown}: {mask_secrets(problem)}")

    def query(self, expression: str, at_ms: int, result_type: str) -> tuple[Any, list[str]]:
        """The ``result`` of ``expression`` evaluated at ``at_ms``, and the server's warnings."""
        params = [*self.fixed_params, ("query", expression), ("time", f"{at_ms // 1000}.{at_ms % 1000:03d}")]
        request = urllib.request.Request(
            self.endpoint + "?" + urllib.parse.urlencode(params), headers=self.headers, method="GET"
        )
        try:
            with self.opener.open(request, timeout=self.timeout) as response:
                body = _read(response, self.max_answer_bytes, time.monotonic() + self.timeout)
                status = response.status
        except urllib.error.HTTPError as error:
            raise self._http_error(error) from None
        except urllib.error.URLError as error:
            raise self._connection_error(error.reason, "cannot connect") from None
        except (OSError, http.client.HTTPException) as error:
            raise self._connection_error(error, "the request failed") from None
        document = self._document(body, status)
        warnings = document.get("warnings")
        warnings = [str(w) for w in warnings] if isinstance(warnings, list) else []
        if document.get("status") != "success":
            problem = str(document.get("error", "no error message"))
            if "too many samples" in problem:
                raise AnswerTooLarge(problem)
            raise self.fail(f"the query failed: {document.get('errorType', 'error')}: {one_line(problem)}")
        data = document.get("data")
        if not isinstance(data, dict) or data.get("resultType") != result_type:
            found = data.get("resultType") if isinstance(data, dict) else None
            raise self.fail(f"not a Prometheus API answer (result type {found!r}, expected {result_type!r})")
        return data.get("result"), warnings

    def _document(self, body: bytes, status: int) -> dict[str, Any]:
        try:
            document = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise self.fail(f"not a Prometheus API (HTTP {status}, the answer is not JSON)") from None
        if not isinstance(document, dict) or "status" not in document:
            raise self.fail(f'not a Prometheus API (HTTP {status}, the JSON answer has no "status")')
        return document

    def _http_error(self, error: urllib.error.HTTPError) -> SourceError | AnswerTooLarge:
        if 300 <= error.code < 400:
            location = error.headers.get("Location", "") if error.headers else ""
            where = redact_url(urllib.parse.urljoin(self.endpoint, location)) if location else "elsewhere"
            return self.fail(f"HTTP {error.code}: redirected to {where}; give the URL it redirects to")
        try:
            body = _read(error, _MAX_ERROR_BYTES, time.monotonic() + self.timeout)
            document = json.loads(body)
        except (AnswerTooLarge, OSError, http.client.HTTPException, ValueError, UnicodeDecodeError):
            document = None
        finally:
            error.close()
        if isinstance(document, dict) and "error" in document:
            problem = str(document["error"])
            if "too many samples" in problem:
                return AnswerTooLarge(problem)
            kind = document.get("errorType", "error")
            return self.fail(f"HTTP {error.code}: the query failed: {kind}: {one_line(problem)}")
        return self.fail(f"HTTP {error.code} {error.reason}".rstrip())

    def _connection_error(self, reason: object, what: str) -> SourceError:
        if isinstance(reason, TimeoutError):
            return self.fail(f"no answer within {self.timeout:g} s (timed out)")
        if isinstance(reason, ConnectionRefusedError):
            return self.fail("connection refused (is it running, and is that the port?)")
        if isinstance(reason, BaseException):
            return self.fail(f"{what}: {type(reason).__name__}: {one_line(str(reason))}")
        return self.fail(f"{what}: {one_line(str(reason))}")


def _read(response: Any, limit: int, deadline: float) -> bytes:
    """The body, gunzipped when it says so; :class:`AnswerTooLarge` past ``limit`` bytes, a timeout
    past ``deadline`` even when the server keeps trickling bytes."""
    encoding = (response.headers.get("Content-Encoding") or "").lower() if response.headers else ""
    decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS) if encoding == "gzip" else None
    # read1 returns what has arrived; read(n) would wait for n bytes from a trickling server.
    read = getattr(response, "read1", response.read)
    body = bytearray()
    while True:
        if time.monotonic() > deadline:
            raise TimeoutError("reading the answer took too long")
        chunk = read(1 << 16)
        if not chunk:
            break
        if decompressor is not None:
            try:
                chunk = decompressor.decompress(chunk, limit + 1 - len(body))
            except zlib.error as error:
                raise http.client.HTTPException(f"a malformed gzip answer ({error})") from None
        body += chunk
        if len(body) > limit:
            raise AnswerTooLarge(f"an answer over {limit} bytes")
    if decompressor is not None:
        body += decompressor.flush()
    return bytes(body)


def one_line(text: str, limit: int = 300) -> str:
    """``text`` with its white space runs folded to one space, cut to ``limit`` characters."""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"
