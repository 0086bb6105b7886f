"""A local fake LLM provider: a threaded HTTP/1.1 server on 127.0.0.1 speaking the providers' wire formats.

Point a real client at it (`openai.OpenAI(base_url=server.url + "/v1", api_key="x")`,
`anthropic.Anthropic(base_url=server.url, api_key="x")`, ...) to exercise instrumentation without the
network. Each request goes to the wire module whose `handles()` accepts it (Anthropic, Gemini, Bedrock,
Cohere, Ollama, Mistral), else to the OpenAI wire format. Each request consumes the next queued
`Scenario` or `RawResponse`, else the default scenario; every request is logged in `server.requests`.
"""

from __future__ import annotations

import contextlib
import json
import socket
import sys
import threading
import uuid
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qsl, urlsplit

from . import (
    _anthropic_wire,
    _bedrock_wire,
    _cohere_wire,
    _gemini_wire,
    _mistral_wire,
    _ollama_wire,
    _openai_wire,
)
from ._openai_wire import Reply

# Checked in order; each module's handles(request) looks at the path (and, where paths are shared with
# OpenAI's, the client's headers). A request none of them takes gets the OpenAI wire format.
_PROVIDER_WIRES: tuple[Any, ...] = (
    _anthropic_wire,
    _gemini_wire,
    _bedrock_wire,
    _cohere_wire,
    _ollama_wire,
    _mistral_wire,
)

_HOST = "127.0.0.1"


@dataclass(frozen=True)
class Scenario:
    """How the fake provider answers a request.

    Token counts left as None are derived: prompt from the request text (max(1, chars // 4)), completion
    from `text` per choice plus `reasoning_tokens`. `include_usage`: None behaves like OpenAI (JSON always
    has usage; streams only when `stream_options.include_usage` is true, in an extra chunk with empty
    choices); True also sends usage in streams that did not ask, on the finish chunk (as DeepSeek does);
    False never sends usage. `usage_on_finish` puts the usage a stream asked for on the finish chunk
    instead of a chunk of its own (as some OpenAI-compatible servers do). `usage_details=False` drops
    the `*_details` objects (older API versions). `error_status` answers with an OpenAI error body
    instead; `malformed` answers 200 with JSON cut in half; `fail_after_chunks` drops the connection
    after that many content events of a stream;
    `chunk_delay` sleeps before every stream event and `delay` before the response starts. `tool_call`
    answers with a call of the request's first function tool (arguments `tool_arguments`).
    `embedding_dims` sizes embeddings unless the request sets `dimensions`. `headers` are
    added to the response (e.g. `{"retry-after-ms": "1"}` to make SDK retries fast).

    Other providers' wire formats read the same fields in their own shapes: `cached_tokens` is a cache
    read, `cache_creation_tokens` a cache write (of which `cache_creation_1h_tokens` with a 1-hour TTL,
    Anthropic), `reasoning_tokens` thinking tokens. `usage_fields` are merged verbatim into the usage
    block a wire writes (for shapes the fields above do not cover, e.g. Cohere's `billed_units`).
    """

    text: str = "Hello from the fake provider."
    chunks: int = 5
    model: str | None = None
    dated_model: bool = False
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cached_tokens: int = 0
    reasoning_tokens: int = 0
    cache_creation_tokens: int = 0
    cache_creation_1h_tokens: int = 0
    usage_fields: Mapping[str, Any] = field(default_factory=dict, hash=False)
    include_usage: bool | None = None
    usage_on_finish: bool = False
    usage_details: bool = True
    service_tier: str | None = "default"
    finish_reason: str = "stop"
    chunk_delay: float = 0.0
    delay: float = 0.0
    error_status: int | None = None
    error_type: str | None = None
    error_message: str | None = None
    error_code: str | None = None
    malformed: bool = False
    fail_after_chunks: int | None = None
    tool_call: bool = False
    tool_arguments: str = "{}"
    embedding_dims: int = 8
    headers: Mapping[str, str] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        if self.chunks < 1:
            raise ValueError("chunks must be at least 1")
        if self.chunk_delay < 0 or self.delay < 0:
            raise ValueError("delays cannot be negative")
        if self.error_status is not None and not 400 <= self.error_status <= 599:
            raise ValueError("error_status must be an HTTP error status (400-599)")
        if self.fail_after_chunks is not None and self.fail_after_chunks < 0:
            raise ValueError("fail_after_chunks cannot be negative")


@dataclass(frozen=True)
class RawResponse:
    """An exact response to replay (e.g. a recorded exchange), sent with a Content-Length.

    With `expect_path` set (a path, optionally with "?query"), a request to any other path or query gets
    a 599 error that tells both, and that the SDK is told not to retry.
    """

    status: int
    body: bytes | str
    content_type: str = "application/json"
    headers: Mapping[str, str] = field(default_factory=dict, hash=False)
    expect_path: str | None = None


@dataclass(frozen=True)
class ReceivedRequest:
    """One request as the server received it; header names are lower-cased."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any
    """The parsed JSON body, or None when it is empty or not JSON."""
    raw_body: bytes
    target: str
    """The request target exactly as sent: path plus "?query"."""


class FakeProviderServer:
    """A fake OpenAI-compatible provider on 127.0.0.1 (ephemeral port unless `port` is given).

    Use as a context manager or call `start()`/`stop()`. Thread-safe: requests are served on daemon
    threads, and the queue, default and log may be changed from any thread.
    """

    def __init__(self, default: Scenario | None = None, *, port: int = 0) -> None:
        self._port = port
        self._lock = threading.Lock()
        self._default = default or Scenario()
        self._queue: deque[list[Any]] = deque()  # [item, remaining uses]
        self._log: list[ReceivedRequest] = []
        self._connections: set[socket.socket] = set()
        self._httpd: _Httpd | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()

    # --- lifecycle ---

    def start(self) -> Self:
        """Bind and serve in a daemon thread; calling it on a running server does nothing."""
        if self._httpd is None:
            self._stopping = threading.Event()
            self._httpd = _Httpd(self, self._port)
            self._thread = threading.Thread(
                target=self._httpd.serve_forever,
                kwargs={"poll_interval": 0.05},
                name=f"otel-tokens-fake-server:{self._httpd.server_port}",
                daemon=True,
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and drop open connections (including streams in progress); never blocks long."""
        httpd, thread = self._httpd, self._thread
        if httpd is None:
            return
        self._stopping.set()
        httpd.shutdown()
        with self._lock:
            connections = list(self._connections)
        for conn in connections:
            # Wakes handler threads blocked on keep-alive reads or in the middle of a stream.
            _drop(conn)
        httpd.server_close()
        if thread is not None:
            thread.join(timeout=2.0)
        self._httpd = self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The bound port; raises RuntimeError before `start()`."""
        if self._httpd is None:
            raise RuntimeError("FakeProviderServer is not started")
        return int(self._httpd.server_port)

    @property
    def url(self) -> str:
        """`http://127.0.0.1:PORT`, without a trailing slash or API prefix."""
        return f"http://{_HOST}:{self.port}"

    # --- behaviour ---

    @property
    def default(self) -> Scenario:
        """The scenario used when the queue is empty."""
        with self._lock:
            return self._default

    @default.setter
    def default(self, scenario: Scenario) -> None:
        self.set_default(scenario)

    def set_default(self, scenario: Scenario) -> None:
        """Replace the scenario used when the queue is empty."""
        with self._lock:
            self._default = scenario

    def enqueue(self, item: Scenario | RawResponse, times: int = 1) -> None:
        """Queue `item` to answer the next `times` requests (FIFO, after anything already queued)."""
        if times < 1:
            raise ValueError("times must be at least 1")
        with self._lock:
            self._queue.append([item, times])

    @property
    def pending(self) -> int:
        """How many requests the queue will still answer before the default applies."""
        with self._lock:
            return sum(remaining for _, remaining in self._queue)

    @property
    def requests(self) -> list[ReceivedRequest]:
        """A snapshot of every request received so far, oldest first."""
        with self._lock:
            return list(self._log)

    def reset(self) -> None:
        """Clear the queue and the request log, and restore the default `Scenario()`."""
        with self._lock:
            self._queue.clear()
            self._log.clear()
            self._default = Scenario()

    # --- used by the handler ---

    def _take(self, request: ReceivedRequest) -> Scenario | RawResponse:
        """Log `request` and consume what answers it, atomically so the log order is the queue order."""
        with self._lock:
            self._log.append(request)
            if not self._queue:
                return self._default
            entry = self._queue[0]
            entry[1] -= 1
            if entry[1] == 0:
                self._queue.popleft()
            item: Scenario | RawResponse = entry[0]
            return item

    def _track(self, conn: socket.socket, active: bool) -> None:
        with self._lock:
            if active:
                self._connections.add(conn)
            else:
                self._connections.discard(conn)


def reply_for(request: ReceivedRequest, item: Scenario | RawResponse) -> tuple[Reply, Scenario | None]:
    """The reply to `request` under `item`, and the scenario whose timing applies (None for raw)."""
    if isinstance(item, RawResponse):
        if item.expect_path is not None and not _path_matches(item.expect_path, request):
            message = (
                f"fake server expected a request to {item.expect_path} "
                f"but got {request.method} {request.target}"
            )
            mismatch = _openai_wire.error_reply(599, message, "fake_server_error")
            return Reply(599, mismatch.content_type, mismatch.body, headers={"x-should-retry": "false"}), None
        body = item.body.encode() if isinstance(item.body, str) else item.body
        return Reply(item.status, item.content_type, body, headers=item.headers), None
    for wire in _PROVIDER_WIRES:
        if wire.handles(request):
            return wire.dispatch(request, item), item
    return _openai_wire.dispatch(request.method, request.path, request.body, item), item


def _path_matches(expected: str, request: ReceivedRequest) -> bool:
    path, _, query = expected.partition("?")
    if path != request.path:
        return False
    return "?" not in expected or dict(parse_qsl(query, keep_blank_values=True)) == request.query


def _drop(conn: socket.socket) -> None:
    with contextlib.suppress(OSError):  # already closed by the peer
        conn.shutdown(socket.SHUT_RDWR)


class _Httpd(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, owner: FakeProviderServer, port: int) -> None:
        self.owner = owner
        super().__init__((_HOST, port), _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients hanging up mid-response (closing a stream early, stop()) are normal here, not bugs.
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, and chunked streams
    disable_nagle_algorithm = True  # small SSE writes must leave at once
    server: _Httpd

    def setup(self) -> None:
        super().setup()
        self.server.owner._track(self.connection, True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.owner._track(self.connection, False)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # tests read server.requests instead of stderr noise

    def do_POST(self) -> None:
        raw = self._read_body()
        split = urlsplit(self.path)
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        request = ReceivedRequest(
            method=self.command,
            path=split.path,
            query=dict(parse_qsl(split.query, keep_blank_values=True)),
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
            raw_body=raw,
            target=self.path,
        )
        owner = self.server.owner
        item = owner._take(request)
        try:
            reply, scenario = reply_for(request, item)
        except Exception as exc:  # a bug in a responder must fail the test loudly, not hang the client
            reply = _openai_wire.error_reply(500, f"fake server bug: {exc!r}", "fake_server_error")
            scenario = None
        try:
            self._send(reply, scenario, owner._stopping)
        except OSError:
            self.close_connection = True

    do_GET = do_PUT = do_PATCH = do_DELETE = do_POST

    def _read_body(self) -> bytes:
        if self.headers.get("transfer-encoding", "").lower() == "chunked":
            parts = []
            while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
                parts.append(self.rfile.read(size))
                self.rfile.readline()
            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                pass  # trailers
            return b"".join(parts)
        return self.rfile.read(int(self.headers.get("content-length") or 0))

    def _send(self, reply: Reply, scenario: Scenario | None, stopping: threading.Event) -> None:
        if scenario is not None and scenario.delay and stopping.wait(scenario.delay):
            return self._abort()
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("x-request-id", "req_" + uuid.uuid4().hex)
        for name, value in {**(scenario.headers if scenario else {}), **reply.headers}.items():
            self.send_header(name, value)
        if reply.events is None:
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            self.wfile.write(reply.body)
            return None
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        delay = scenario.chunk_delay if scenario else 0.0
        for event in reply.events:
            if delay and stopping.wait(delay):
                return self._abort()
            # wfile is unbuffered, so each event reaches the client as its own chunk right away.
            self.wfile.write(b"%x\r\n%s\r\n" % (len(event), event))
        if reply.abort or stopping.is_set():
            return self._abort()
        self.wfile.write(b"0\r\n\r\n")
        return None

    def _abort(self) -> None:
        """End the connection without finishing the body, so the client sees a broken stream."""
        self.close_connection = True
        _drop(self.connection)
