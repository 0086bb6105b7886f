"""A real redis-server for a test (start, kill, restart on the same port), a loopback proxy that
delays what it forwards, and the child processes of the multi-process tests
(``python -m tests.stack._redis MODE SPEC``)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
from dataclasses import asdict
from pathlib import Path

from ._processes import Program, free_port, wait_for

ROOT = Path(__file__).resolve().parents[2]


def ping(port: int, password: str | None = None) -> bool:
    """True when a Redis on 127.0.0.1:port answers PING (raw RESP: no client library involved)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0) as sock:
            if password:
                sock.sendall(f"AUTH {password}\r\n".encode())
                if not sock.recv(64).startswith(b"+OK"):
                    return False
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


class RedisServer:
    """One redis-server on a loopback port, no persistence; stopped or killed by its own pid."""

    def __init__(self, binary: str, logs: Path, *extra: str, port: int | None = None) -> None:
        self.binary = binary
        self.logs = logs
        self.extra = extra
        self.port = port or free_port()
        self.password = extra[extra.index("--requirepass") + 1] if "--requirepass" in extra else None
        self.program: Program | None = None
        self._runs = 0

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        self._runs += 1
        argv = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--daemonize", "no"]
        argv += ["--save", "", "--appendonly", "no", *self.extra]
        log = self.logs / f"redis-{self.port}-{self._runs}.log"
        program = self.program = Program("redis-server", argv, log)

        def ready() -> bool:
            program.check_running()
            return ping(self.port, self.password)

        wait_for(ready, f"redis-server on port {self.port}", timeout=20.0, interval=0.02)
        return self

    def kill(self) -> None:
        """SIGKILL, as a crash: nothing flushed, the port closed."""
        assert self.program is not None
        os.kill(self.program.pid, signal.SIGKILL)
        self.program.process.wait(10)
        self.program.stop()

    def stop(self) -> None:
        if self.program is not None:
            self.program.stop()

    def command(self, *args: str) -> object:
        """One command through redis-py, for a test's own look at the keys."""
        import redis

        options = {"password": self.password, "decode_responses": True}
        with redis.Redis(host="127.0.0.1", port=self.port, **options) as client:
            return client.execute_command(*args)


class DelayingProxy:
    """A loopback TCP proxy to ``port`` that waits ``delay`` seconds before forwarding each chunk."""

    def __init__(self, port: int, delay: float) -> None:
        self.target = port
        self.delay = delay
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        self._sockets: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self._closed = threading.Event()
        self._spawn(self._accept)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def close(self) -> None:
        self._closed.set()
        for sock in [self._listener, *self._sockets]:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        for thread in self._threads:
            thread.join(5)

    def _spawn(self, target, *args) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
                upstream = socket.create_connection(("127.0.0.1", self.target), timeout=5)
            except OSError:
                return
            upstream.settimeout(None)
            self._sockets += [client, upstream]
            self._spawn(self._pump, client, upstream)
            self._spawn(self._pump, upstream, client)

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while chunk := source.recv(65536):
                if self._closed.wait(self.delay):
                    return
                sink.sendall(chunk)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                sink.shutdown(socket.SHUT_WR)


# The child processes: each gets a JSON spec (url, prefix, counter, ...) and prints JSON.


def child(mode: str, spec: dict) -> subprocess.Popen:
    """``python -m tests.stack._redis MODE SPEC`` from the repository root, pipes on all three."""
    return subprocess.Popen(
        [sys.executable, "-m", "tests.stack._redis", mode, json.dumps(spec)],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def counter_spec(counter) -> dict:
    return asdict(counter)


def _main(mode: str, spec: dict) -> None:
    from otel_tokens._budget_store import Counter, Hold
    from otel_tokens._redis_store import RedisStore

    fields = dict(spec["counter"], thresholds=tuple(spec["counter"]["thresholds"]))
    counter = Counter(**fields)
    store = RedisStore(spec["url"], prefix=spec["prefix"], timeout=5.0)
    hold = Hold(counter, spec["amount"])
    if mode == "contend":
        # Connect first, then wait for the parent's go so every child races at once.
        store.snapshot(spec["now"], [counter.budget_id])
        print("ready", flush=True)
        sys.stdin.readline()
        admitted = [
            store.reserve(f"{os.getpid()}-{i}", [hold], spec["now"], spec["hold_seconds"]).admitted
            for i in range(spec["calls"])
        ]
        print(json.dumps(sum(admitted)), flush=True)
    elif mode == "reserve-and-die":
        answer = store.reserve(spec["call"], [hold], spec["now"], spec["hold_seconds"])
        print(json.dumps(answer.admitted), flush=True)
        os._exit(0)  # mid-call: no settle, no close
    else:
        raise SystemExit(f"unknown mode {mode}")


if __name__ == "__main__":
    _main(sys.argv[1], json.loads(sys.argv[2]))
