"""Starting and stopping the stack's real programs for a test, each on its own loopback ports."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(200 <= response.status < 300)
    except (urllib.error.URLError, OSError):
        return False


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 60.0, interval: float = 0.25) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")


class Program:
    """A started program: its pid, its log file, and a stop that signals exactly that pid."""

    def __init__(self, name: str, argv: Sequence[str], log: Path, env: dict[str, str] | None = None) -> None:
        self.name = name
        self.log = log
        self._log_file = log.open("wb")
        self.process = subprocess.Popen(
            list(argv),
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
        )
        self.pid = self.process.pid

    def check_running(self) -> None:
        if self.process.poll() is not None:
            raise RuntimeError(f"{self.name} exited with {self.process.returncode}:\n{self.output()}")

    def output(self) -> str:
        self._log_file.flush()
        return self.log.read_text(errors="replace")[-6000:]

    def stop(self, timeout: float = 20.0) -> int:
        """SIGTERM to our own pid (the programs flush on it), SIGKILL if it does not exit in time."""
        if self.process.poll() is None:
            os.kill(self.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.kill(self.pid, signal.SIGKILL)
                self.process.wait(timeout)
        self._log_file.close()
        return self.process.returncode


@contextlib.contextmanager
def running(
    name: str,
    argv: Sequence[str],
    log: Path,
    ready_url: str,
    env: dict[str, str] | None = None,
    timeout: float = 60.0,
) -> Iterator[Program]:
    program = Program(name, argv, log, env)
    try:

        def ready() -> bool:
            program.check_running()
            return http_ok(ready_url)

        wait_for(ready, f"{name} at {ready_url}", timeout)
        yield program
    finally:
        program.stop()
