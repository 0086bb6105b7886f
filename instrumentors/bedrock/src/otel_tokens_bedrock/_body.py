"""InvokeModel's response body, observed only as the user reads it.

``invoke_model`` returns ``{"body": StreamingBody, ...}`` and the body is the user's to read: we
never read it for them. The ``StreamingBody`` keeps its identity; its raw stream (through which
``read``, ``iter_lines``, ``iter_chunks``, ``readlines`` and ``with body as raw`` all go) is replaced
by a transparent proxy that copies the bytes it hands out. The call's telemetry ends exactly once:
when the body has been read to its end (Content-Length reached, or EOF), on ``close()``, on a read
error, or when the body is garbage collected unread, always through ``Invocation.end``. Token
counts come from the response headers (always sent); the body adds finish reasons, response model
and id, and the output text.

Not the core's stream proxy: the body is read in bytes, not items, and the ``StreamingBody``
must stay the SDK's own object (users check its type and call its helpers), so only its inner
raw stream is proxied.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Mapping
from typing import Any

import wrapt

from otel_tokens.instrumentation import CallResult, Invocation, call_guarded
from otel_tokens_bedrock._extract import (
    MAX_BODY_BYTES,
    content_length,
    header_counts,
    http_headers,
    service_tier,
)
from otel_tokens_bedrock._families import OutputReader

_UNSET: Any = object()


class BodyWatcher:
    """Collects the bytes the user reads (up to MAX_BODY_BYTES) and ends the invocation once."""

    __slots__ = (
        "_invocation",
        "_headers",
        "_tier",
        "_length",
        "_seen",
        "_parts",
        "_overflow",
        "_result",
        "_ended",
        "_lock",
    )

    def __init__(
        self, invocation: Invocation, headers: Mapping[str, Any] | None, tier: str | None, length: int | None
    ) -> None:
        self._invocation = invocation
        self._headers = headers
        self._tier = tier
        self._length = length
        self._seen = 0
        self._parts: list[bytes] = []
        self._overflow = False
        self._result: CallResult | None = _UNSET
        self._ended = False
        self._lock = threading.Lock()

    def seen(self, data: Any, at_end: bool) -> None:
        """Bytes the user just received; ``at_end`` when the read reported the end of the body."""
        if self._ended:
            return
        size = len(data)
        self._seen += size
        if not self._overflow and size:
            if self._seen > MAX_BODY_BYTES:
                self._overflow = True
                self._parts.clear()
            else:
                self._parts.append(bytes(data))
        if at_end or (self._length is not None and self._seen >= self._length):
            self.end(None)

    def end(self, error: BaseException | None) -> None:
        """End the call with what the body and headers said (exactly once; again after an
        interrupted end, which ``Invocation.end`` then completes)."""
        # Never waits: a thread finding another one ending the body leaves it to that one (and a
        # child process forked while a parent thread held the lock never blocks on it).
        if self._ended or not self._lock.acquire(blocking=False):
            return
        try:
            if self._ended:
                return
            if self._result is _UNSET:
                # Guarded apart from the ending: a failure reading the body must not leave the span open.
                result = call_guarded("bedrock body result", self._read)
                if result is None:
                    counts = call_guarded("bedrock body headers", header_counts, self._headers)
                    if counts is not None:
                        result = CallResult(usage=counts.usage(), service_tier=self._tier)
                self._result = result
                self._parts = []
            self._invocation.end(self._result, error)
            self._ended = True  # after: an interrupt above leaves the end to the next close or GC
            self._result = None
        finally:
            self._lock.release()

    def _read(self) -> CallResult:
        reader = OutputReader()
        reader.tier = self._tier
        complete = not self._overflow and (self._length is None or self._seen >= self._length)
        if complete and self._parts:
            # Not JSON (or cut short): the headers still count.
            with contextlib.suppress(ValueError, RecursionError):
                reader.add(json.loads(b"".join(self._parts)))
        counts = reader.billed()
        counts.update(header_counts(self._headers))  # the headers are what Bedrock bills
        return reader.result(counts)


class RawStreamProxy(wrapt.ObjectProxy):  # type: ignore[misc]
    """The body's urllib3 response, unchanged for the reader, telling a :class:`BodyWatcher`."""

    def __init__(self, wrapped: Any, watcher: BodyWatcher) -> None:
        super().__init__(wrapped)
        self._self_watcher = watcher

    def read(self, amt: int | None = None, *args: Any, **kwargs: Any) -> Any:
        try:
            data = self.__wrapped__.read(amt, *args, **kwargs)
        except BaseException as error:
            call_guarded("bedrock body", self._self_watcher.end, error)
            raise
        call_guarded("bedrock body", self._self_watcher.seen, data, amt is None or (not data and amt > 0))
        return data

    def readinto(self, buffer: Any) -> Any:
        try:
            count = self.__wrapped__.readinto(buffer)
        except BaseException as error:
            call_guarded("bedrock body", self._self_watcher.end, error)
            raise
        data = memoryview(buffer)[:count].tobytes() if count else b""
        call_guarded("bedrock body", self._self_watcher.seen, data, not count and len(buffer) > 0)
        return count

    def readline(self, *args: Any) -> Any:
        line = self.__wrapped__.readline(*args)
        call_guarded("bedrock body", self._self_watcher.seen, line, not line)
        return line

    def readlines(self, *args: Any) -> Any:
        lines = self.__wrapped__.readlines(*args)
        call_guarded("bedrock body", self._self_watcher.seen, b"".join(lines), not args)
        return lines

    def close(self) -> Any:
        try:
            return self.__wrapped__.close()
        finally:
            call_guarded("bedrock body", self._self_watcher.end, None)

    def __del__(self) -> None:
        # A body dropped unread still ends its span, with the counts from the headers.
        with contextlib.suppress(Exception):  # nothing may escape a finaliser
            self._self_watcher.end(None)


def observe_body(invocation: Invocation, result: dict[str, Any]) -> None:
    """Watch ``result["body"]`` as the user reads it; end the invocation now if it cannot be watched."""
    body = result.get("body")
    raw = getattr(body, "_raw_stream", None)
    headers = http_headers(result)
    length = content_length(headers)
    watcher = BodyWatcher(invocation, headers, service_tier(result.get("serviceTier")), length)
    if raw is None or length == 0:
        watcher.end(None)
        return
    body._raw_stream = RawStreamProxy(raw, watcher)  # type: ignore[union-attr]
