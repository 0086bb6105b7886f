"""One background thread for work that must not run on the user's call path.

Used for token estimates: the tokenizer loads in ~0.6 s the first time and encoding a long
prompt takes milliseconds, so calls without provider-reported usage hand their estimate and
the end of their telemetry to this thread. The queue is bounded (:data:`MAX_QUEUED`): when it
is full, :func:`submit` refuses and the caller records the call at once without the estimate
(and counts that), so a burst of abandoned streams cannot pile up memory. ``flush()`` waits for
everything queued (``otel_tokens.shutdown()`` calls it, so nothing queued is lost at exit).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable

from otel_tokens._safety import is_strict, report

MAX_QUEUED = 10_000
"""Most calls waiting for an estimate at once (about 7 KiB each with their texts and objects)."""

_queue: queue.Queue[Callable[[], None]] = queue.Queue(MAX_QUEUED)
_thread: threading.Thread | None = None
failures: list[BaseException] = []
"""Errors raised by tasks in strict mode (tests assert it stays empty)."""
_start_lock = threading.Lock()


def submit(task: Callable[[], None]) -> bool:
    """Run ``task`` on the background thread; False (and not run) when the queue is full."""
    _ensure_thread()
    try:
        _queue.put_nowait(task)
    except queue.Full:
        return False
    return True


def flush(timeout: float | None = 10.0) -> bool:
    """Wait until every task submitted so far has run; False if ``timeout`` passed first."""
    if _thread is None:
        return True
    done = threading.Event()
    try:
        _queue.put(done.set, timeout=timeout)
    except queue.Full:
        return False
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
