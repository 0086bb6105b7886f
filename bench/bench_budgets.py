"""What one matching budget adds to a call, with its counter in this process or in Redis.

    uv run python bench/bench_budgets.py [--rounds 30] [--calls 300] [--stream-calls 10] [--json]

Every call goes through ``openai.OpenAI`` with the in-process transport of ``_wire.py`` (canned
bytes, no network), inside ``otel_tokens.tags(team="search")`` in every mode. Four modes:

* ``bare``: the SDK uninstrumented;
* ``instrumented``: ``OpenAIInstrumentor().instrument(...)``, no policy;
* ``budget-memory``: instrumented, plus one budget that matches every call
  (``Budget(limit=1e12, window="month", match={"team": "search"})``) counted in the in-process
  store: each call counts its prompt, prices its worst case, holds it, and settles its cost;
* ``budget-redis``: the same budget in a ``RedisStore``, against a ``redis-server`` this
  benchmark starts on a free loopback port and stops by its pid at the end. Skipped, with a
  line saying so, when ``redis-server`` or the ``redis`` package is missing.

The budget modes differ from ``instrumented`` only by the guardrails in force
(``install_guardrails``), switched between blocks; the instrumentor stays in place. The modes
run in one process, interleaved in blocks with the order rotating each round; differences are
paired per round (budget mode minus instrumented of the same round). A 200-chunk stream is timed
for ``instrumented`` and ``budget-memory``: its settle runs when the stream ends.

Checks, which fail the run: one span per call from the instrumentor in every instrumented mode;
no budget attribute on ``instrumented`` spans; ``otel_tokens.budget.decision == "admitted"`` and
a cost on every budget-mode span; after every budget block, the counter's settled spend grew by
the sum of that block's span costs (relative 1e-9) and nothing is held. Uninstalling the
guardrails closes their store, and closing the in-process store forgets its counters, so that
counter is checked block by block. Redis keeps its counters, so after the run the spend read
from Redis itself (not through the store) must equal the sum of every ``budget-redis`` span's
cost, with no hold left.

After the rounds, admit and settle are timed inside calls and alone (back to back), in each
store, and their parts alone: counting the prompt, the two Lua scripts, a Redis PING, and
counting a fresh 1,200-token prompt (the canned prompt is the same every call, so its texts are
counted once and then remembered).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import _wire
import bench_openai as harness
from bench_openai import Telemetry, time_block
from opentelemetry.sdk.trace import ReadableSpan
from otel_tokens_openai import OpenAIInstrumentor

import otel_tokens
from otel_tokens import _reservation, _runtime
from otel_tokens import semconv as sc
from otel_tokens._budget_store import Counter, Hold, MemoryStore, Store
from otel_tokens._guardrail_setup import install_guardrails
from otel_tokens._guardrails import Admission, Guardrails, SettleReport
from otel_tokens._invocation import CallRequest
from otel_tokens.budgets import Budget, Policy
from otel_tokens.pricing import Cost
from otel_tokens.usage import Usage

OURS = harness.OURS
BUDGET_ID = "bench-search"
TAGS = {"team": "search"}
LIMIT = 1e12  # USD a month: never reached, so every call is admitted
MODES = ("bare", "instrumented", "budget-memory", "budget-redis")
BUDGET_MODES = ("budget-memory", "budget-redis")
STREAM_MODES = ("instrumented", "budget-memory")
WARMUP_CALLS = {"chat": 30, "stream": 3}
BLOCK_WARMUP = {"chat": 3, "stream": 1}  # untimed calls right after switching mode
REDIS_PREFIX = f"otel_tokens_bench_{os.getpid()}"
ALONE_CALLS = 2000  # per block when a part of admission is timed alone
ALONE_BLOCKS = 5
LONG_PROMPT_TOKENS = 1200
LONG_PROMPT_CALLS = 200


# --- redis-server ---------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


class RedisServer:
    """A redis-server on a free loopback port, no persistence, stopped by its own pid.

    Its working directory and log are a temporary directory, removed when it stops."""

    def __init__(self, binary: str) -> None:
        self.port = _free_port()
        self._dir = tempfile.mkdtemp(prefix="bench-budgets-redis-")
        self._log = os.path.join(self._dir, "redis.log")
        argv = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--daemonize", "no"]
        argv += ["--save", "", "--appendonly", "no", "--dir", self._dir, "--logfile", self._log]
        self.process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20.0
        while not _ping(self.port):
            if self.process.poll() is not None or time.monotonic() > deadline:
                with open(self._log, errors="replace") as log:
                    why = log.read()[-2000:]
                self.stop()
                raise RuntimeError(f"redis-server did not start on port {self.port}: {why}")
            time.sleep(0.02)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def version(self) -> str:
        import redis

        with redis.Redis(host="127.0.0.1", port=self.port, decode_responses=True) as client:
            return str(client.info("server")["redis_version"])

    def stop(self) -> None:
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
        shutil.rmtree(self._dir, ignore_errors=True)


def start_redis() -> tuple[RedisServer | None, str | None]:
    """The server, or None and why the ``budget-redis`` mode is skipped."""
    binary = shutil.which("redis-server")
    if binary is None:
        return None, "redis-server is not on PATH (scripts/install-redis-server installs it)"
    try:
        import redis  # noqa: F401 - the store needs it
    except ImportError:
        return None, 'the redis package is not installed (pip install "otel-tokens[redis]")'
    return RedisServer(binary), None


# --- set-up ---------------------------------------------------------------------------------


def budget_policy() -> Policy:
    return Policy(budgets=[Budget(BUDGET_ID, limit=LIMIT, window="month", match=TAGS)])


def make_guardrails(store: Store) -> Guardrails:
    settings = _runtime.settings()
    return Guardrails(budget_policy(), store, _runtime.price_book(), max_tag_values=settings.max_tag_values)


class Switch:
    """Instrumented or not (the instrumentor is a singleton), and the guardrails in force."""

    def __init__(self, telemetry: Telemetry, guardrails: Mapping[str, Guardrails]) -> None:
        self._telemetry = telemetry
        self._guardrails = guardrails
        self._instrumentor = OpenAIInstrumentor()
        self._on = False

    def set(self, mode: str) -> None:
        want = mode != "bare"
        if want and not self._on:
            telemetry = self._telemetry
            self._instrumentor.instrument(
                tracer_provider=telemetry.tracer_provider, meter_provider=telemetry.meter_provider
            )
        elif not want and self._on:
            self._instrumentor.uninstrument()
        self._on = want
        # Leaving a budget mode closes its store: the in-process one forgets its counters then.
        install_guardrails(self._guardrails.get(mode))


@dataclass
class Workload:
    name: str
    calls: int
    modes: tuple[str, ...]
    run: Callable[[], Any]


def workloads(calls: int, stream_calls: int, modes: tuple[str, ...]) -> list[Workload]:
    chat_client, stream_client = _wire.make_client(), _wire.make_client(streaming=True)
    return [
        Workload("chat", calls, modes, lambda: _wire.chat(chat_client)),
        Workload("stream", stream_calls, STREAM_MODES, lambda: _wire.chat_stream(stream_client)),
    ]


# --- checks ---------------------------------------------------------------------------------


@dataclass
class Ledger:
    """Per mode: calls made, the sum of their span costs, and what the counter settled."""

    calls: dict[str, int] = field(default_factory=dict)
    span_cost: dict[str, float] = field(default_factory=dict)
    settled: dict[str, float] = field(default_factory=dict)

    def add(self, mode: str, calls: int, cost: float, settled: float) -> None:
        self.calls[mode] = self.calls.get(mode, 0) + calls
        self.span_cost[mode] = self.span_cost.get(mode, 0.0) + cost
        self.settled[mode] = self.settled.get(mode, 0.0) + settled


def counter_state(guardrails: Guardrails) -> tuple[float, float, int]:
    """Settled spend, amount held and holds of the budget's counters, read through the store."""
    states = guardrails.store.snapshot(time.time(), [BUDGET_ID])
    return (sum(s.spent for s in states), sum(s.held for s in states), sum(s.holds for s in states))


def check_block_spans(spans: tuple[ReadableSpan, ...], mode: str, calls: int) -> float:
    """One span per call from the instrumentor, decided as the mode says; returns their cost."""
    if mode == "bare":
        if spans:
            raise AssertionError(f"bare: {len(spans)} spans for {calls} calls")
        return 0.0
    ours = [s for s in spans if s.instrumentation_scope is not None and s.instrumentation_scope.name == OURS]
    if len(spans) != calls or len(ours) != calls:
        raise AssertionError(f"{mode}: {len(spans)} spans ({len(ours)} from {OURS}) for {calls} calls")
    total = 0.0
    for span in spans:
        attributes = span.attributes or {}
        cost = attributes.get(sc.GEN_AI_USAGE_COST_AMOUNT)
        if not isinstance(cost, float) or cost <= 0:
            raise AssertionError(f"{mode}: a span has no cost ({cost!r})")
        total += cost
        decision = attributes.get(sc.OTEL_TOKENS_BUDGET_DECISION)
        budget = attributes.get(sc.OTEL_TOKENS_BUDGET_ID)
        if mode == "instrumented" and (decision is not None or budget is not None):
            raise AssertionError(f"instrumented: a span carries a budget decision ({decision!r}, {budget!r})")
        if mode in BUDGET_MODES and (decision != sc.DECISION_ADMITTED or budget != BUDGET_ID):
            raise AssertionError(f"{mode}: a span's budget decision is {decision!r} by {budget!r}")
    return total


def check_settled(mode: str, settled: float, cost: float, held: float, holds: int) -> None:
    if abs(settled - cost) > 1e-9 * max(abs(cost), 1e-300):
        raise AssertionError(f"{mode}: the counter settled {settled!r} USD, the spans cost {cost!r}")
    if held or holds:
        raise AssertionError(f"{mode}: {holds} holds of {held!r} USD left after the block")


def check_redis(server: RedisServer, expected: float) -> dict[str, Any]:
    """The counter as Redis holds it, read with a plain client: spend, and no hold left."""
    import redis

    tag = f"{{{REDIS_PREFIX}:{BUDGET_ID}}}"
    with redis.Redis(host="127.0.0.1", port=server.port, decode_responses=True) as client:
        members = client.zrange(f"{tag}:index", 0, -1)
        if not members:
            raise AssertionError(f"redis: no counter under {tag}")
        spent = held = 0.0
        holds = 0
        for member in members:
            key = f"{tag}:c:{member}"
            spent += float(client.hget(key, "spent") or 0.0)
            held += sum(float(amount) for amount in client.hvals(f"{key}:a"))
            holds += int(client.zcard(f"{key}:h"))
        keys = int(client.dbsize())
    check_settled("budget-redis (read from Redis)", spent, expected, held, holds)
    return {"spent_usd": spent, "span_cost_usd": expected, "counters": len(members), "keys": keys}


# --- timing ---------------------------------------------------------------------------------


@dataclass
class Samples:
    """Per round: the block's median and mean wall time, and its thread CPU time, ns per call."""

    medians: list[float] = field(default_factory=list)
    means: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)


def run_block(
    telemetry: Telemetry,
    switch: Switch,
    guardrails: Mapping[str, Guardrails],
    ledger: Ledger,
    load: Workload,
    mode: str,
    warmup: int,
    calls: int,
) -> tuple[list[int], int]:
    """``warmup`` untimed calls then ``calls`` timed ones (GC off), checked: the wall ns of each
    timed call, and the thread CPU ns of all of them."""
    switch.set(mode)
    guard = guardrails.get(mode)
    before = counter_state(guard)[0] if guard is not None else 0.0
    telemetry.exporter.clear()
    with otel_tokens.tags(team=TAGS["team"]):
        for _ in range(warmup):
            load.run()
        with gc_off():
            cpu = time.thread_time_ns()
            times = time_block(load.run, calls) if calls else []
            cpu = time.thread_time_ns() - cpu
    cost = check_block_spans(telemetry.exporter.get_finished_spans(), mode, warmup + calls)
    telemetry.exporter.clear()
    settled = 0.0
    if guard is not None:
        after, held, holds = counter_state(guard)
        settled = after - before
        check_settled(mode, settled, cost, held, holds)
    ledger.add(mode, warmup + calls, cost, settled)
    return times, cpu


def first_budget_call(
    telemetry: Telemetry, switch: Switch, guardrails: Mapping[str, Guardrails], ledger: Ledger, load: Workload
) -> dict[str, float]:
    """The process's first budgeted call, and the next: the first counts a prompt, so it waits
    for the tokenizer's encoding to load, unless something loaded it before."""
    loaded = _runtime.tokenizer().is_ready(_wire.REQUEST_MODEL)
    first, second = (
        run_block(telemetry, switch, guardrails, ledger, load, "budget-memory", 0, 1)[0][0] for _ in range(2)
    )
    return {"first_ms": first / 1e6, "second_us": second / 1e3, "tokenizer_loaded_before": loaded}


def run_rounds(
    telemetry: Telemetry,
    switch: Switch,
    guardrails: Mapping[str, Guardrails],
    ledger: Ledger,
    loads: list[Workload],
    rounds: int,
) -> dict[tuple[str, str], Samples]:
    samples = {(load.name, mode): Samples() for load in loads for mode in load.modes}
    for load in loads:  # warm every mode before anything is timed
        for mode in load.modes:
            run_block(telemetry, switch, guardrails, ledger, load, mode, WARMUP_CALLS[load.name], 0)
    for round_index in range(rounds):
        for load in loads:
            shift = round_index % len(load.modes)
            for mode in load.modes[shift:] + load.modes[:shift]:
                times, cpu = run_block(
                    telemetry, switch, guardrails, ledger, load, mode, BLOCK_WARMUP[load.name], load.calls
                )
                entry = samples[(load.name, mode)]
                entry.medians.append(statistics.median(times))
                entry.means.append(statistics.fmean(times))
                entry.cpu.append(cpu / load.calls)
        print(f"  round {round_index + 1}/{rounds} done", file=sys.stderr)
    return samples


# --- the parts of admission ----------------------------------------------------------------


class _Timed(Guardrails):
    """The benchmark's budget, timing each admit and settle, keeping what the last call passed."""

    def __init__(self, store: Store) -> None:
        settings = _runtime.settings()
        super().__init__(
            budget_policy(), store, _runtime.price_book(), max_tag_values=settings.max_tag_values
        )
        self.admits: list[int] = []
        self.settles: list[int] = []
        self.seen: dict[str, Any] = {}

    def admit(self, request: CallRequest, tags: Mapping[str, str]) -> Admission:
        self.seen["request"], self.seen["tags"] = request, tags
        started = time.perf_counter_ns()
        try:
            return super().admit(request, tags)
        finally:
            self.admits.append(time.perf_counter_ns() - started)

    def settle(self, admission: Admission, usage: Usage | None, cost: Cost | None) -> SettleReport:
        self.seen["usage"], self.seen["cost"] = usage, cost
        started = time.perf_counter_ns()
        try:
            return super().settle(admission, usage, cost)
        finally:
            self.settles.append(time.perf_counter_ns() - started)

    def medians(self) -> dict[str, float]:
        """Median µs of the admits and settles timed since the last call; forgets them."""
        result = {
            "admit": statistics.median(self.admits) / 1e3,
            "settle": statistics.median(self.settles) / 1e3,
        }
        self.admits.clear()
        self.settles.clear()
        return result


@contextlib.contextmanager
def gc_off() -> Iterator[None]:
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def admit_settle(
    telemetry: Telemetry, switch: Switch, timed: _Timed, calls: int
) -> dict[str, dict[str, float]]:
    """Admit and settle timed inside ``calls`` chat calls, then alone, back to back, as often."""
    switch.set("instrumented")
    install_guardrails(timed)
    client = _wire.make_client()
    with otel_tokens.tags(team=TAGS["team"]):
        for _ in range(BLOCK_WARMUP["chat"]):
            _wire.chat(client)
        timed.medians()
        with gc_off():
            for _ in range(calls):
                _wire.chat(client)
    inside = timed.medians()
    telemetry.exporter.clear()
    seen = timed.seen
    request, tags, usage, cost = seen["request"], seen["tags"], seen["usage"], seen["cost"]
    for _ in range(BLOCK_WARMUP["chat"]):
        timed.settle(timed.admit(request, tags), usage, cost)
    timed.medians()
    with gc_off():
        for _ in range(calls):
            timed.settle(timed.admit(request, tags), usage, cost)
    alone = timed.medians()
    install_guardrails(None)  # closes the store
    return {part: {"in_calls": inside[part], "alone": alone[part]} for part in ("admit", "settle")}


def alone_us(run: Callable[[], Any], calls: int = ALONE_CALLS) -> float:
    """Median µs of ``run`` over ``ALONE_BLOCKS`` blocks of ``calls`` calls (GC off)."""
    medians = []
    for _ in range(ALONE_BLOCKS):
        with gc_off():
            medians.append(statistics.median(time_block(run, calls)))
    return statistics.median(medians) / 1e3


def long_prompts(model: str | None) -> tuple[list[list[dict[str, str]]], int]:
    """Distinct chat prompts of about ``LONG_PROMPT_TOKENS`` tokens, and the tokens of the first."""
    sentence = "Suggest three science-fiction novels for a long train journey, with a reason for each. "
    tokenizer = _runtime.tokenizer()
    per_sentence = tokenizer.count_chat_input(model, [{"role": "user", "content": sentence * 10}]).tokens / 10
    body = sentence * round(LONG_PROMPT_TOKENS / per_sentence)
    system = {"role": "system", "content": "You are a concise assistant for an online bookshop."}
    prompts = [
        [system, {"role": "user", "content": f"Request {index}. {body}"}]
        for index in range(LONG_PROMPT_CALLS * ALONE_BLOCKS)
    ]
    return prompts, tokenizer.count_chat_input(model, prompts[0]).tokens


def parts(telemetry: Telemetry, switch: Switch, server: RedisServer | None, calls: int) -> dict[str, Any]:
    """Admit and settle in each store, inside calls and alone; then their parts alone: counting
    the prompt, the two Lua scripts, a Redis PING. Own stores: no checked counter moves."""
    memory = _Timed(MemoryStore())
    result: dict[str, Any] = {"memory": admit_settle(telemetry, switch, memory, calls)}
    request: CallRequest = memory.seen["request"]
    model = request.request_model
    tokenizer = _runtime.tokenizer()
    result["count_method"] = tokenizer.count_chat_input(model, _wire.MESSAGES).method
    result["count_prompt_us"] = alone_us(lambda: _reservation.input_tokens(request))
    prompts, result["long_prompt_tokens"] = long_prompts(model)
    fresh = iter(prompts)
    result["count_long_prompt_us"] = alone_us(
        lambda: tokenizer.count_chat_input(model, next(fresh)), LONG_PROMPT_CALLS
    )
    del prompts
    if server is None:
        return result
    import redis

    from otel_tokens._redis_store import RedisStore

    store = RedisStore(server.url, prefix=f"{REDIS_PREFIX}-parts", timeout=1.0)
    result["redis"] = admit_settle(telemetry, switch, _Timed(store), calls)
    counter = Counter(BUDGET_ID, "", "lifetime", LIMIT, None)
    ids = iter(range(10**9))

    def scripts() -> None:
        call = f"alone-{next(ids)}"
        store.reserve(call, [Hold(counter, 0.01)], time.time(), 600.0)
        store.settle(call, [(counter, 0.005)], time.time())

    result["redis_scripts_us"] = alone_us(scripts)
    store.close()
    with redis.Redis(host="127.0.0.1", port=server.port, decode_responses=True) as client:
        result["redis_ping_us"] = alone_us(client.ping)
        # Redis' own time in the scripts, over the whole run (reserves, settles, a few snapshots).
        stats = client.info("commandstats").get("cmdstat_evalsha", {})
    result["redis_evalsha_server_us"] = float(stats.get("usec_per_call", "nan"))
    result["redis_evalsha_calls"] = int(stats.get("calls", 0))
    return result


# --- report ---------------------------------------------------------------------------------


def spread(values: list[float]) -> dict[str, float]:
    return harness.spread(values)


def paired(a: list[float], b: list[float]) -> list[float]:
    return [x - y for x, y in zip(a, b, strict=True)]


def summarise(samples: dict[tuple[str, str], Samples], load: Workload) -> dict[str, Any]:
    """Per mode, in µs: wall time (mean, median, p10/p90), thread CPU time, and the differences
    paired per round: vs bare, and the budget's own (budget mode - instrumented)."""
    by_mode = {mode: samples[(load.name, mode)] for mode in load.modes}
    result: dict[str, Any] = {}
    for mode, entry in by_mode.items():
        row: dict[str, Any] = {"mean_us": statistics.fmean(entry.means) / 1e3, **spread(entry.medians)}
        row["cpu_us"] = statistics.median(entry.cpu) / 1e3
        bases = [("vs_bare", "bare")] if "bare" in by_mode and mode != "bare" else []
        bases += [("budget", "instrumented")] if mode in BUDGET_MODES else []
        for name, base in bases:
            wall = paired(entry.medians, by_mode[base].medians)
            cpu = paired(entry.cpu, by_mode[base].cpu)
            row[name] = spread(wall)
            row[f"{name}_cpu_us"] = statistics.median(cpu) / 1e3
            if name == "vs_bare":  # the mode's median over bare's
                row["over_bare"] = statistics.median(entry.medians) / statistics.median(by_mode[base].medians)
                row["cpu_over_bare"] = statistics.median(entry.cpu) / statistics.median(by_mode[base].cpu)
            else:  # the budget's own cost as a share of the instrumented call
                row["budget_share"] = statistics.median(wall) / statistics.median(by_mode[base].medians)
                row["budget_cpu_share"] = statistics.median(cpu) / statistics.median(by_mode[base].cpu)
        result[mode] = row
    return result


def environment(server: RedisServer | None) -> dict[str, Any]:
    env = harness.environment()
    try:
        env["redis-py"] = version("redis")
    except PackageNotFoundError:
        env["redis-py"] = None
    env["redis-server"] = server.version() if server is not None else None
    return env


def print_table(title: str, modes: Mapping[str, dict[str, Any]]) -> None:
    """Wall time, then thread CPU time."""
    print(f"\n{title}")
    head = f"  {'wall µs':<15}{'mean':>8}{'median':>8}{'p10':>8}{'p90':>8}"
    head += f"{'vs bare':>9}{'x':>6}{'budget':>9}{'p10':>8}{'p90':>8}{'% instr':>9}"
    print(head)
    for mode, row in modes.items():
        line = f"  {mode:<15}{row['mean_us']:>8.1f}{row['median']:>8.1f}{row['p10']:>8.1f}{row['p90']:>8.1f}"
        line += f"{row['vs_bare']['median']:>9.1f}{row['over_bare']:>6.2f}" if "vs_bare" in row else " " * 15
        if "budget" in row:
            budget = row["budget"]
            line += f"{budget['median']:>9.1f}{budget['p10']:>8.1f}{budget['p90']:>8.1f}"
            line += f"{100 * row['budget_share']:>8.1f}%"
        print(line.rstrip())
    print(
        f"  {'CPU µs':<15}{'per call':>16}{'':>16}{'vs bare':>9}{'x':>6}{'budget':>9}{'':>16}{'% instr':>9}"
    )
    for mode, row in modes.items():
        line = f"  {mode:<15}{row['cpu_us']:>16.1f}{'':>16}"
        line += f"{row['vs_bare_cpu_us']:>9.1f}{row['cpu_over_bare']:>6.2f}" if "vs_bare" in row else " " * 15
        if "budget" in row:
            line += f"{row['budget_cpu_us']:>9.1f}{'':>16}{100 * row['budget_cpu_share']:>8.1f}%"
        print(line.rstrip())


def print_report(results: dict[str, Any]) -> None:
    env, config = results["environment"], results["config"]
    print("otel-tokens: what one matching budget adds per call (openai SDK, in-process transport)")
    print(
        f"  python {env['python']} | openai {env['openai']} | opentelemetry-sdk {env['opentelemetry-sdk']} | "
        f"otel-tokens {env['otel-tokens']} | redis-py {env['redis-py']} | redis-server {env['redis-server']}"
    )
    print(f"  {env['cpus']} CPUs, load average {env['loadavg'][0]:.2f} at start | {env['platform']}")
    print(
        f"  {config['rounds']} rounds; blocks of {config['calls']} calls / {config['stream_calls']} streams; "
        "modes interleaved, order rotating; GC off inside blocks; every call inside tags(team='search')"
    )
    print(
        f"  budget: limit {LIMIT:g} USD a month, match team=search; redis-server on 127.0.0.1, same machine"
    )
    if config["skipped"]:
        print(f"  SKIPPED budget-redis: {config['skipped']}")
    print(
        "\nµs per call. Wall: mean of all calls, median and p10/p90 of the per-round block medians."
        "\nCPU: this thread's CPU time per call, median over the blocks (Redis' own work is not in it)."
        "\nvs bare (mode - bare) and budget (budget mode - instrumented): paired per round, median,"
        "\nwith p10/p90; x: the mode's median over bare's; % instr: budget over the instrumented call."
    )
    print_table("chat.completions.create, non-streaming", results["chat"])
    print_table(
        f"stream of {_wire.STREAM_CHUNKS} chunks + usage chunk (settled at the end)", results["stream"]
    )
    first = results["first_budget_call"]
    why = "the tokenizer was loaded before" if first["tokenizer_loaded_before"] else "it loads the tokenizer"
    print(
        f"\nfirst budgeted call in the process: {first['first_ms']:.1f} ms "
        f"(the next: {first['second_us']:.0f} µs); {why}"
    )
    found = results["parts"]
    print(f"\nparts of a budgeted chat call, median µs{'in calls':>18}{'alone':>9}")
    stores = [("in-process store", "memory", "")] + [("Redis", "redis", ", one EVALSHA")] * ("redis" in found)
    for label, key, trip in stores:
        for part, what in (
            ("admit", "count the prompt, price the worst case, hold it"),
            ("settle", "charge"),
        ):
            row = found[key][part]
            line = f"  {part + ', ' + label:<38}{row['in_calls']:>9.1f}{row['alone']:>9.1f}"
            print(f"{line}  {what}{trip}")
    long_prompt = f"count a fresh {found['long_prompt_tokens']}-token prompt"
    rows = [
        ("count the prompt, as admit does", "count_prompt_us", f"{found['count_method']}, texts remembered"),
        (long_prompt, "count_long_prompt_us", "every text new, as with real prompts"),
    ]
    if "redis" in found:
        rows += [
            (
                "Redis reserve + settle scripts",
                "redis_scripts_us",
                "the store alone: two EVALSHA round trips",
            ),
            ("Redis PING", "redis_ping_us", "one loopback round trip"),
            ("Redis' own time in one EVALSHA", "redis_evalsha_server_us",
             f"INFO commandstats, mean of {found['redis_evalsha_calls']} scripts run"),
        ]  # fmt: skip
    for label, key, note in rows:
        print(f"  {label:<38}{'':>9}{found[key]:>9.1f}  {note}")
    checks = results["checks"]
    print(
        "\nchecks passed: a span per call; 'admitted' on every budget span, no budget on instrumented ones;"
        "\n  per budget block, settled spend = the block's span costs, nothing held;"
    )
    if "redis" in checks:
        redis_check = checks["redis"]
        print(
            f"  in Redis after the run: spent {redis_check['spent_usd']:.9f} USD = span costs "
            f"{redis_check['span_cost_usd']:.9f} USD, no hold left"
        )
    calls = ", ".join(f"{mode} {count}" for mode, count in checks["calls"].items())
    print(f"  calls made: {calls}; load average {checks['loadavg_at_end'][0]:.2f} at the end")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--calls", type=int, default=300, help="non-streaming calls per block")
    parser.add_argument("--stream-calls", type=int, default=10, help="200-chunk streams per block")
    parser.add_argument("--json", action="store_true", help="print machine-readable results only")
    args = parser.parse_args()

    with contextlib.ExitStack() as stack:
        server, skipped = start_redis()
        if server is not None:
            stack.callback(server.stop)
        else:
            print(f"budget-redis SKIPPED: {skipped}", file=sys.stderr)
        env = environment(server)  # before the run: the load average is about the machine
        results = measure(args, server, skipped, env)
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print_report(results)


def measure(
    args: argparse.Namespace, server: RedisServer | None, skipped: str | None, env: dict[str, Any]
) -> dict[str, Any]:
    guardrails = {"budget-memory": make_guardrails(MemoryStore())}
    if server is not None:
        from otel_tokens._redis_store import RedisStore

        # A generous timeout: a slow answer on a busy machine must be timed, not turned into fail-open.
        guardrails["budget-redis"] = make_guardrails(RedisStore(server.url, prefix=REDIS_PREFIX, timeout=1.0))
    modes = tuple(mode for mode in MODES if mode != "budget-redis" or server is not None)
    telemetry = Telemetry()
    switch = Switch(telemetry, guardrails)
    ledger = Ledger()
    loads = workloads(args.calls, args.stream_calls, modes)
    chat = loads[0]
    for mode in ("bare", "instrumented"):  # price data loaded before the first budgeted call
        run_block(telemetry, switch, guardrails, ledger, chat, mode, WARMUP_CALLS["chat"], 0)
    first = first_budget_call(telemetry, switch, guardrails, ledger, chat)
    print("timing...", file=sys.stderr)
    samples = run_rounds(telemetry, switch, guardrails, ledger, loads, args.rounds)
    switch.set("bare")
    checks: dict[str, Any] = {
        "calls": ledger.calls,
        "span_cost_usd": ledger.span_cost,
        "settled_usd": ledger.settled,
        "loadavg_at_end": os.getloadavg(),
    }
    if server is not None:
        checks["redis"] = check_redis(server, ledger.span_cost["budget-redis"])
    print("parts of admission...", file=sys.stderr)
    found = parts(telemetry, switch, server, args.calls)
    switch.set("bare")
    return {
        "environment": env,
        "config": {
            "rounds": args.rounds,
            "calls": args.calls,
            "stream_calls": args.stream_calls,
            "skipped": skipped,
        },
        "chat": summarise(samples, loads[0]),
        "stream": summarise(samples, loads[1]),
        "first_budget_call": first,
        "parts": found,
        "checks": checks,
    }


if __name__ == "__main__":
    main()
