"""fork() after init(): children never wait on a lock or thread of the parent, and report as
themselves. Real processes throughout: a fresh interpreter runs ``init()`` and forks (``os.fork``,
a ``multiprocessing`` pool with the fork start method); children import openai and make an
instrumented call against the fake provider."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections import defaultdict
from typing import Any

import pytest
from otel_tokens_fake_providers import FakeProviderServer, Scenario

from ._otlp_receiver import OtlpReceiver

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="fork() only")

# A child checks that its call was recorded (span with usage and cost) and exits 0; any failure
# exits 1; a child not done by the deadline is killed and reported as "hung".
_CHILD_CALL = textwrap.dedent(
    """
    def child_call():
        import openai
        client = openai.OpenAI(base_url=BASE + "/v1", api_key="x", max_retries=0, timeout=30)
        client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
        [span] = telemetry.spans()  # the parent made no call; a pool worker clears its own
        telemetry.clear()
        assert span.attributes["gen_ai.usage.input_tokens"] == 9, span.attributes
        assert span.attributes["gen_ai.usage.cost.amount"] > 0, span.attributes
    """
)

FORK_AT_DELAYS = _CHILD_CALL + textwrap.dedent(
    """
    import json, os, signal, sys, time
    import otel_tokens
    from otel_tokens.testing import InMemoryTelemetry

    telemetry = InMemoryTelemetry()
    otel_tokens.init(tracer_provider=telemetry.tracer_provider, meter_provider=telemetry.meter_provider)
    started = time.monotonic()
    children = {}
    for delay in DELAYS:
        time.sleep(max(0.0, started + delay - time.monotonic()))
        pid = os.fork()
        if pid == 0:
            try:
                child_call()
            except BaseException:
                os._exit(1)
            os._exit(0)
        children[pid] = delay
    results = {}
    deadline = time.monotonic() + CHILD_DEADLINE
    while children and time.monotonic() < deadline:
        pid, status = os.waitpid(-1, os.WNOHANG)
        if pid:
            results[children.pop(pid)] = os.waitstatus_to_exitcode(status)
        else:
            time.sleep(0.05)
    for pid, delay in children.items():
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        results[delay] = "hung"
    print(json.dumps(sorted(results.items())))
    """
)

POOL_RIGHT_AFTER_INIT = _CHILD_CALL + textwrap.dedent(
    """
    import json, multiprocessing
    import otel_tokens
    from otel_tokens.testing import InMemoryTelemetry

    def task(index):
        child_call()
        return index

    telemetry = InMemoryTelemetry()
    otel_tokens.init(tracer_provider=telemetry.tracer_provider, meter_provider=telemetry.meter_provider)
    if __name__ == "__main__":
        with multiprocessing.get_context("fork").Pool(2) as pool:  # forks at once, as a preload does
            print(json.dumps(pool.map_async(task, range(4)).get(timeout=CHILD_DEADLINE)))
    """
)

CHILD_DEADLINE = 90  # seconds for all children together: 8 processes importing openai on 2 cores


def _run(program: str, server: FakeProviderServer, env: dict[str, str] | None = None, **values: Any) -> str:
    header = f"BASE = {server.url!r}\nCHILD_DEADLINE = {CHILD_DEADLINE}\n"
    header += "".join(f"{name} = {value!r}\n" for name, value in values.items())
    environment = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    completed = subprocess.run(
        [sys.executable, "-c", header + program],
        env={**environment, **(env or {})},
        capture_output=True,
        text=True,
        timeout=CHILD_DEADLINE + 60,
    )
    assert completed.returncode == 0, completed.stderr
    return completed.stdout


def test_children_forked_at_any_moment_after_init_import_openai_and_call():
    # The window that used to hang a child: while the price data loaded on a thread of ours
    # (holding its lock and the import locks of genai-prices and pydantic), 0 to a few hundred
    # ms after init(). A fresh interpreter, so nothing is imported before init() runs.
    delays = [0.0, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.4, 0.6]
    with FakeProviderServer(Scenario(prompt_tokens=9, completion_tokens=3)) as server:
        out = _run(FORK_AT_DELAYS, server, DELAYS=delays)
    assert json.loads(out) == [[delay, 0] for delay in delays]


def test_a_fork_pool_made_right_after_init_works():
    with FakeProviderServer(Scenario(prompt_tokens=9, completion_tokens=3)) as server:
        out = _run(POOL_RIGHT_AFTER_INIT, server)
    assert json.loads(out) == [0, 1, 2, 3]


REEXPORT = textwrap.dedent(
    """
    import json, os, sys
    import openai, otel_tokens
    from opentelemetry import trace

    otel_tokens.init()
    client = openai.OpenAI(base_url=BASE + "/v1", api_key="x", max_retries=0)
    messages = [{"role": "user", "content": "hi"}]
    for _ in range(3):
        client.chat.completions.create(model="gpt-4o-mini", messages=messages)
    otel_tokens.flush()  # the parent's points are exported once, before the fork
    pid = os.fork()
    if pid == 0:
        client.chat.completions.create(model="gpt-4o-mini", messages=messages)
        instance = trace.get_tracer_provider().resource.attributes["service.instance.id"]
        print(json.dumps({"child": instance}), flush=True)
        sys.exit(0)  # a normal exit: otel-tokens' exit hook exports the child's telemetry
    _, status = os.waitpid(pid, 0)
    instance = trace.get_tracer_provider().resource.attributes["service.instance.id"]
    print(json.dumps({"parent": instance, "child_status": os.waitstatus_to_exitcode(status)}))
    """
)


def test_a_forked_child_exports_only_its_own_calls_as_its_own_instance():
    with (
        FakeProviderServer(Scenario(prompt_tokens=9, completion_tokens=3)) as server,
        OtlpReceiver() as otlp,
    ):
        out = _run(REEXPORT, server, env={"OTEL_EXPORTER_OTLP_ENDPOINT": otlp.endpoint})
    ids: dict[str, Any] = {}
    for line in out.splitlines():
        ids.update(json.loads(line))
    assert ids["child_status"] == 0
    parent, child = ids["parent"], ids["child"]
    assert parent != child
    # Calls (operation duration count) and input tokens per instance, over every export: the
    # parent exports cumulative points twice (flush and exit), so take each instance's last.
    calls: dict[str, int] = defaultdict(int)
    input_tokens: dict[str, float] = defaultdict(float)
    for point in otlp.metrics:
        instance = point["resource"]["service.instance.id"]
        if point["name"] == "gen_ai.client.operation.duration":
            calls[instance] = point["count"]
        elif (
            point["name"] == "gen_ai.client.token.usage"
            and point["attributes"]["gen_ai.token.type"] == "input"
        ):
            input_tokens[instance] = point["sum"]
    assert dict(calls) == {parent: 3, child: 1}
    assert dict(input_tokens) == {parent: 27, child: 9}
    spans: dict[str, int] = defaultdict(int)
    for span in otlp.spans:
        spans[span["resource"]["service.instance.id"]] += 1
    assert dict(spans) == {parent: 3, child: 1}


GUNICORN_APP = textwrap.dedent(
    """
    import json, os
    import otel_tokens
    from opentelemetry import trace

    MESSAGES = [{"role": "user", "content": "hi"}]
    clients = {}


    def client():
        if os.getpid() not in clients:
            import openai  # in the worker, on its first request

            base_url = os.environ["FAKE_BASE"] + "/v1"
            clients[os.getpid()] = openai.OpenAI(base_url=base_url, api_key="x", max_retries=0)
        return clients[os.getpid()]


    def app(environ, start_response):
        response = client().chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
        instance = trace.get_tracer_provider().resource.attributes["service.instance.id"]
        body = json.dumps({"instance": instance, "tokens": response.usage.prompt_tokens}).encode()
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]


    otel_tokens.init()  # gunicorn --preload forks the workers as soon as this module is loaded
    if os.environ.get("WARM_UP"):
        client().chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)  # a call in the master
    """
)


@pytest.mark.parametrize("warm_up", [False, True], ids=["fork-right-after-init", "master-calls-first"])
def test_gunicorn_preload_workers_serve_and_report_as_themselves(tmp_path, warm_up):
    pytest.importorskip("gunicorn")
    import signal
    import socket
    import time
    import urllib.request

    (tmp_path / "app.py").write_text(GUNICORN_APP)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    requests = 8
    with (
        FakeProviderServer(Scenario(prompt_tokens=9, completion_tokens=3)) as server,
        OtlpReceiver() as otlp,
    ):
        env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
        env.update(FAKE_BASE=server.url, OTEL_EXPORTER_OTLP_ENDPOINT=otlp.endpoint, HOME=str(tmp_path))
        env["WARM_UP"] = "1" if warm_up else ""  # HOME: gunicorn keeps a control socket in ~/.gunicorn
        gunicorn = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--preload", "-w", "2", "-b", f"127.0.0.1:{port}", "app:app"],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            deadline = time.monotonic() + 60
            while gunicorn.poll() is None and time.monotonic() < deadline:
                with socket.socket() as probe:
                    if probe.connect_ex(("127.0.0.1", port)) == 0:
                        break
                time.sleep(0.1)
            answers = []
            for _ in range(requests):
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=20) as response:
                        answers.append(json.loads(response.read()))
                except OSError as error:  # a worker that hangs: its request times out
                    answers.append({"error": repr(error)})
            gunicorn.send_signal(signal.SIGTERM)  # graceful: workers finish, run exit hooks, export
            output, _ = gunicorn.communicate(timeout=60)
        finally:
            if gunicorn.poll() is None:
                gunicorn.kill()
                gunicorn.wait()
    assert [answer.get("tokens") for answer in answers] == [9] * requests, output
    # Every process reported its own calls once: the master's call (if any), each worker's
    # requests, and no worker counted the master's call again.
    calls: dict[str, int] = {}
    for point in otlp.metrics:
        if point["name"] == "gen_ai.client.operation.duration":
            calls[point["resource"]["service.instance.id"]] = point["count"]
    workers = {answer["instance"] for answer in answers}
    assert sum(calls.values()) == requests + warm_up, (calls, output)
    assert {instance: calls.get(instance) for instance in workers} == {
        instance: sum(1 for answer in answers if answer["instance"] == instance) for instance in workers
    }
