"""One background thread for work that must not run on the user's call path.

Used for token estimates: the tokenizer loads in ~0.6 s the first time and encoding a long
prompt takes milliseconds, so calls without provider-reported usage hand their estimate and
the end of their telemetry to this thread. ``flush()`` waits for everything queued
(``otel_tokens.shutdown()`` calls it, so nothing queued is lost at exit).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable

from otel_tokens._safety import is_strict, report

_queue: queue.Queue[Callable[[], None]] = queue.Queue()
_thread: threading.Thread | None = None
failures: list[BaseException] = []
"""Errors raised by tasks in strict mode (tests assert it stays empty)."""
_start_lock = threading.Lock()


def submit(task: Callable[[], None]) -> None:
    """Run ``task`` on the background thread; errors in it are reported by the guard."""
    _ensure_thread()
    _queue.put(task)


def flush(timeout: float | None = 10.0) -> bool:
    """Wait until every task submitted so far has run; False if ``timeout`` passed first."""
    if _thread is None:
        return True
    done = threading.Event()
    _queue.put(done.set)
    return done.wait(timeout)


def _ensure_thread() -> None:
    global _thread
    if _thread is not None and _thread.is_alive():
        return
    with _start_lock:
        if _thread is None or not _thread.is_alive():
            _thread = threading.Thread(target=_run, name="otel-tokens-worker", daemon=True)
            _thread.start()


def _run() -> None:
    while True:
        task = _queue.get()
        try:
            task()
        except Exception as error:  # noqa: BLE001
            if is_strict():
                failures.append(error)
            else:
                report("background task", error)
