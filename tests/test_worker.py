"""The background worker: bounded under a flood of abandoned streams, safe across fork()."""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
import textwrap
import threading

import openai
import pytest
from otel_tokens_fake_providers import FakeProviderServer, Scenario

import otel_tokens
from otel_tokens import _runtime, _worker, semconv
from otel_tokens._invocation import Invocation
from otel_tokens.testing import InMemoryTelemetry

BOUND = 40
FLOOD = 160


@pytest.fixture
def telemetry():
    memory = InMemoryTelemetry()
    otel_tokens.init(tracer_provider=memory.tracer_provider, meter_provider=memory.meter_provider)
    yield memory
    otel_tokens.shutdown()
    memory.shutdown()


def _live_invocations() -> int:
    gc.collect()
    return sum(1 for obj in gc.get_objects() if type(obj) is Invocation)


def test_a_flood_of_abandoned_streams_stays_within_the_bound_and_counts_the_rest(telemetry):
    # The real worker with a small bound (the production one holds MAX_QUEUED = 10,000), held
    # busy while real openai streams are opened and dropped unread: each needs an estimate.
    _runtime.STATE.worker = worker = _worker.Worker(max_queued=BOUND)
    held = threading.Event()
    assert worker.submit(held.wait)
    live_before = _live_invocations()
    backlog = []
    with FakeProviderServer(Scenario(include_usage=False, chunks=3)) as server:
        client = openai.OpenAI(base_url=server.url + "/v1", api_key="x", max_retries=0)
        for _ in range(FLOOD):
            stream = client.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": "hello there"}], stream=True
            )
            stream.response.close()  # the connection back to the pool; the stream itself is dropped
            del stream
            backlog.append(worker.backlog())
        # Memory: what waits is what the bound allows; every other call was recorded at once.
        assert max(backlog) == BOUND
        assert _live_invocations() - live_before <= BOUND
        held.set()
        assert worker.flush(30)
    spans = telemetry.spans()
    assert len(spans) == FLOOD  # no call lost: the overflow ended at once, without the estimate
    estimated = [s for s in spans if s.attributes.get("otel_tokens.usage.estimated")]
    assert len(estimated) == BOUND
    [dropped] = telemetry.points(semconv.OTEL_TOKENS_TELEMETRY_DROPPED)
    assert dropped.value == FLOOD - BOUND
    assert dropped.attributes[semconv.OTEL_TOKENS_DROP_REASON] == semconv.DROP_ESTIMATE_QUEUE_FULL


def test_tasks_run_in_order_and_flush_waits_for_them():
    worker = _worker.Worker(max_queued=3)
    done: list[int] = []
    held = threading.Event()
    assert worker.submit(held.wait)
    assert worker.flush(0.05) is False  # still held
    results = [worker.submit(lambda n=n: done.append(n)) for n in range(5)]
    held.set()
    assert worker.flush(10)
    # The flush marker above took one place while it waited; the bound counted it.
    assert results == [True, True, False, False, False] or results == [True, True, True, False, False]
    assert done == list(range(results.count(True)))


def test_a_failing_task_is_reported_and_the_worker_goes_on(caplog):
    _runtime.STATE.reset()
    from otel_tokens import _safety

    _safety.set_strict(False)
    try:
        worker = _worker.Worker()
        done = []
        worker.submit(lambda: 1 / 0)
        worker.submit(lambda: done.append(1))
        assert worker.flush(10)
    finally:
        _safety.set_strict(True)
    assert done == [1]
    assert "internal error in background task" in caplog.text


FORK_WHILE_TASKS_WAIT = textwrap.dedent(
    """
    import json, os, sys, threading, time
    from otel_tokens import _worker

    sys.path.insert(0, TMP)
    ran = []
    started = threading.Event()

    def slow_import():  # holds the module's import lock for half a second
        started.set()
        import slow_module

    _worker.submit(slow_import)
    for _ in range(3):
        _worker.submit(lambda: ran.append("parent"))
    started.wait(10)
    pid = os.fork()  # lands while the worker imports, with three tasks still queued
    if pid == 0:
        import slow_module  # the import was finished before the fork: no lock is left held
        before = list(ran)  # what the parent's worker did before the fork
        _worker.submit(lambda: ran.append("child"))
        ok = _worker.flush(5) and ran == before + ["child"]  # the parent's queued tasks stay there
        os._exit(0 if ok else 1)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            status = os.waitstatus_to_exitcode(status)
            break
        time.sleep(0.05)
    else:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        status = "hung"
    _worker.flush(10)
    print(json.dumps({"child": status, "parent": ran}))
    """
)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork() only")
def test_a_fork_waits_for_the_running_task_and_the_child_gets_its_own_worker(tmp_path):
    (tmp_path / "slow_module.py").write_text("import time\ntime.sleep(0.5)\n")
    completed = subprocess.run(
        [sys.executable, "-c", f"TMP = {str(tmp_path)!r}\n" + FORK_WHILE_TASKS_WAIT],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert completed.returncode == 0, completed.stderr
    assert json.loads(completed.stdout) == {"child": 0, "parent": ["parent"] * 3}
