"""InvokeModel's response body, observed only as the user reads it.

``invoke_model`` returns ``{"body": StreamingBody, ...}`` and the body is the user's to read: we
never read it for them. The ``StreamingBody`` keeps its identity; its raw stream (through which
``read``, ``iter_lines``, ``iter_chunks``, ``readlines`` and ``with body as raw`` all go) is replaced
by a transparent proxy that copies the bytes it hands out. The call's telemetry ends exactly once:
when the body has been read to its end (Content-Length reached, or EOF), on ``close()``, on a read
error, or when the body is garbage collected unread. Token counts come from the response headers
(always sent); the body adds finish reasons, response model and id, and the output text.
"""

from __future__ import annotations

import contextlib
import json
import threading
from typing import Any

import wrapt

from otel_tokens._safety import call_guarded
from otel_tokens.record import CallResult, Invocation
from otel_tokens_bedrock._extract import MAX_BODY_BYTES, Counts, service_tier
from otel_tokens_bedrock._families import OutputReader


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
        "_ended",
        "_lock",
    )

    def __init__(
        self, invocation: Invocation, headers: Counts | None, tier: str | None, length: int | None
    ) -> None:
        self._invocation = invocation
        self._headers = headers
        self._tier = tier
        self._length = length
        self._seen = 0
        self._parts: list[bytes] = []
        self._overflow = False
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
        with self._lock:
            if self._ended:
                return
            self._ended = True
        # Guarded apart from the ending: a failure reading the body must not leave the span open.
        result = call_guarded("bedrock body result", self._result)
        if result is None and self._headers is not None:
            result = CallResult(usage=self._headers.usage(), service_tier=self._tier)
        if error is None:
            self._invocation.finish(result)
        else:
            self._invocation.fail(error, result)

    def _result(self) -> CallResult:
        reader = OutputReader()
        reader.tier = self._tier
        complete = not self._overflow and (self._length is None or self._seen >= self._length)
        if complete and self._parts:
            with contextlib.suppress(ValueError):  # not JSON (or cut short): the headers still count
                reader.add(json.loads(b"".join(self._parts)))
        self._parts = []
        counts = reader.billed()
        counts.update(self._headers)  # the headers are what Bedrock bills
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


def observe_body(
    invocation: Invocation, result: dict[str, Any], headers: Counts | None, length: int | None
) -> None:
    """Watch ``result["body"]`` as the user reads it; end the invocation now if it cannot be watched."""
    body = result.get("body")
    raw = getattr(body, "_raw_stream", None)
    watcher = BodyWatcher(invocation, headers, service_tier(result.get("serviceTier")), length)
    if raw is None or length == 0:
        watcher.end(None)
        return
    body._raw_stream = RawStreamProxy(raw, watcher)  # type: ignore[union-attr]
