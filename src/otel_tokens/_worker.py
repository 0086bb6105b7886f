"""One background thread for work that must not run on the user's call path.

Used for token estimates: the tokenizer loads in ~0.6 s the first time and encoding a long
prompt takes milliseconds, so calls without provider-reported usage hand their estimate and
the end of their telemetry to this thread. The queue is bounded (:data:`MAX_QUEUED`): when it
is full, :func:`submit` refuses and the caller records the call at once without the estimate
(and counts that), so a burst of abandoned streams cannot pile up memory. ``flush()`` waits for
everything queued (``otel_tokens.shutdown()`` and the exit hook call it, within their bound).

The worker is part of the process state (``otel_tokens._runtime.STATE.worker``), started on
first use. A ``fork()`` waits for the task in hand (:meth:`Worker.hold_for_fork`), so the child
never inherits a lock or a half-done import of it; the child starts its own worker, and the
tasks still queued in the parent stay the parent's.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable

from otel_tokens import _runtime
from otel_tokens._safety import is_strict, report

MAX_QUEUED = 10_000
"""Most calls waiting for an estimate at once (about 7 KiB each with their texts and objects)."""

FORK_WAIT = 5.0
"""Longest a ``fork()`` waits for the task the worker is running (an estimate takes
milliseconds, the first tokenizer load ~0.6 s)."""

Task = Callable[[], None]


class Worker:
    """A daemon thread running tasks in submission order from a queue of at most ``max_queued``."""

    def __init__(self, max_queued: int = MAX_QUEUED) -> None:
        self._queue: queue.SimpleQueue[Task] = queue.SimpleQueue()
        self._max = max_queued
        # Tasks submitted and not yet taken. SimpleQueue (C, lock-free for the caller) plus this
        # counter: a queue.Queue's Condition costs more than the bound needs, on both threads.
        self._pending = 0
        self._count_lock = threading.Lock()
        self._running = threading.Lock()  # held while a task runs: a fork waits for it
        self._resume = threading.Event()  # cleared while a fork is being made: no new task starts
        self._resume.set()
        self._held_for_fork = False
        self._thread = threading.Thread(target=self._run, name="otel-tokens-worker", daemon=True)
        self._thread.start()

    def submit(self, task: Task) -> bool:
        """Run ``task`` on the worker; False (and not run) when ``max_queued`` are waiting."""
        with self._count_lock:
            if self._pending >= self._max:
                return False
            self._pending += 1
        self._queue.put(task)
        return True

    def backlog(self) -> int:
        """Tasks submitted and not yet started."""
        return self._pending

    def flush(self, timeout: float | None = 10.0) -> bool:
        """Wait until every task submitted so far has run; False if ``timeout`` passed first."""
        if threading.current_thread() is self._thread:
            return True  # a task flushing would wait for itself
        done = threading.Event()
        with self._count_lock:
            self._pending += 1  # a marker may exceed the bound: it must not be refused
        self._queue.put(done.set)
        return done.wait(timeout)

    def hold_for_fork(self) -> None:
        """Before ``fork()``: wait (at most :data:`FORK_WAIT`) for the running task to finish,
        and keep the worker from starting another until :meth:`release_after_fork`."""
        if threading.current_thread() is not self._thread:
            self._resume.clear()  # first: the worker must not win the lock back with its next task
            self._held_for_fork = self._running.acquire(timeout=FORK_WAIT)

    def release_after_fork(self) -> None:
        """In the parent after ``fork()``: let the worker go on."""
        if self._held_for_fork:
            self._held_for_fork = False
            self._running.release()
        self._resume.set()

    def _run(self) -> None:
        get, running, count_lock, resume = self._queue.get, self._running, self._count_lock, self._resume
        while True:
            task = get()
            with count_lock:
                self._pending -= 1
            resume.wait()
            with running:
                try:
                    task()
                except Exception as error:  # noqa: BLE001
                    if is_strict():
                        _runtime.STATE.worker_failures.append(error)
                    else:
                        report("background task", error)


def worker() -> Worker:
    """The process's worker, started on first use."""
    state = _runtime.STATE
    current = state.worker
    if current is None:
        with state.lock:
            if state.worker is None:
                state.worker = Worker()
            current = state.worker
    return current


def submit(task: Task) -> bool:
    """Run ``task`` on the process's worker; False (and not run) when its queue is full."""
    return worker().submit(task)


def flush(timeout: float | None = 10.0) -> bool:
    """Wait until every task submitted so far has run; False if ``timeout`` passed first."""
    current = _runtime.STATE.worker
    return True if current is None else current.flush(timeout)


def backlog() -> int:
    """Calls waiting for an estimate now."""
    current = _runtime.STATE.worker
    return 0 if current is None else current.backlog()
