"""RedisStore against a real redis-server: the store contract (tests/_store_contract.py), its
keys, and failures: Redis killed and restarted, slow, refusing credentials; several processes
sharing one budget, a process dying mid-call, fork()."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
import traceback
import urllib.parse
import uuid

import pytest

from otel_tokens import ConfigurationError
from otel_tokens._budget_store import Counter, Hold, Reservation, StoreUnavailable
from otel_tokens._redis_store import LIFETIME_SECONDS, ROLLING_EXTRA_SECONDS, RedisStore

from .._store_contract import HOLD, T0, StoreContract, counter, reserve, rolling_counter, state, used
from ._processes import free_port
from ._redis import ROOT, DelayingProxy, RedisServer, child, counter_spec


@pytest.fixture(scope="module")
def redis_server(redis_server_bin, tmp_path_factory):
    server = RedisServer(redis_server_bin, tmp_path_factory.mktemp("redis")).start()
    yield server
    server.stop()


@pytest.fixture
def own_redis(redis_server_bin, tmp_path):
    """A redis-server of this test alone, to kill and restart."""
    server = RedisServer(redis_server_bin, tmp_path).start()
    yield server
    server.stop()


@pytest.fixture
def prefix() -> str:
    return f"t{uuid.uuid4().hex[:12]}"


@pytest.fixture
def store(redis_server, prefix):
    # A generous timeout: the contract's 40 racing threads share two cores with redis-server.
    store = RedisStore(redis_server.url, prefix=prefix, timeout=2.0)
    yield store
    store.close()


class TestRedisStore(StoreContract):
    """The contract, every test under its own key prefix in one shared redis-server."""


def _unavailable(store: RedisStore, now: float = T0) -> tuple[StoreUnavailable, float]:
    started = time.monotonic()
    with pytest.raises(StoreUnavailable) as caught:
        reserve(store, counter(), 1.0, now=now)
    return caught.value, time.monotonic() - started


# The package: imported only when used.


def test_the_core_does_not_import_redis():
    code = "import sys, otel_tokens._budget_store, otel_tokens._redis_store; print('redis' in sys.modules)"
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert completed.stdout == "False\n"


def test_without_the_redis_package_the_error_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "redis", None)
    with pytest.raises(ConfigurationError, match=r'pip install "otel-tokens\[redis\]"'):
        RedisStore("redis://127.0.0.1:6379/0")


@pytest.mark.parametrize("prefix", ["", "a{b", "a}"])
def test_a_prefix_that_would_break_the_hash_tag_is_refused(prefix):
    with pytest.raises(ConfigurationError, match="prefix"):
        RedisStore("redis://127.0.0.1:6379/0", prefix=prefix)


# Keys.


def test_every_key_of_a_budget_carries_its_hash_tag_and_expires(redis_server, prefix, store):
    from redis.crc import key_slot

    budget, group = "team}{:x y", "feature=a,b:{c}"
    fixed = counter(budget, group=group, expires_at=T0 + 7200)
    lifetime = counter(budget, group=group, window="lifetime", expires_at=None)
    rolling = Counter(budget, group, "rolling", 10.0, None, 3600.0)
    store.reserve("call-1", [Hold(fixed, 1.0), Hold(lifetime, 1.0), Hold(rolling, 1.0)], T0, HOLD)
    store.settle("call-2", [(fixed, 2.0)], T0)
    keys = set(redis_server.command("KEYS", f"*{prefix}*"))
    tag = "{" + prefix + ":" + urllib.parse.quote(budget, safe="") + "}"
    counters = {f"{tag}:c:feature%3Da%2Cb%3A%7Bc%7D:{w}" for w in ("1800000000", "lifetime", "rolling")}
    assert keys == {
        f"{tag}:index",
        f"{prefix}:settled:call-2",
        *counters,
        *{f"{c}:h" for c in counters},
        *{f"{c}:a" for c in counters},
    }
    assert len({key_slot(k.encode()) for k in keys if tag in k}) == 1
    days = 86400_000

    def ttl(key: str) -> int:
        value = redis_server.command("PTTL", key)
        assert isinstance(value, int)
        return value

    base = sorted(counters)
    assert 7_190_000 < ttl(base[0]) <= 7_200_000  # fixed: until its expires_at
    assert LIFETIME_SECONDS * 1000 - days < ttl(base[1]) <= LIFETIME_SECONDS * 1000
    rolling_ttl = (3600 + ROLLING_EXTRA_SECONDS) * 1000
    assert rolling_ttl - days < ttl(base[2]) <= rolling_ttl
    assert ttl(f"{tag}:index") > LIFETIME_SECONDS * 1000 - days
    assert 0 < ttl(f"{prefix}:settled:call-2") <= days
    assert all(ttl(k) > 0 for k in keys)


def test_a_flushed_script_cache_is_reloaded(redis_server, store):
    c = counter(limit=5.0)
    assert reserve(store, c, 3.0).admitted
    redis_server.command("SCRIPT", "FLUSH")
    assert reserve(store, c, 3.0) == Reservation(False, (3.0,), 0)
    redis_server.command("SCRIPT", "FLUSH")
    assert store.settle("x", [(c, 1.0)], T0)[0].spent == 1.0
    redis_server.command("SCRIPT", "FLUSH")
    assert state(store, c).spent == 1.0


def test_two_stores_share_one_budget(redis_server, prefix, store):
    other = RedisStore(redis_server.url, prefix=prefix, timeout=2.0)
    c = rolling_counter(limit=10.0, thresholds=(0.5,))
    assert other.settle("a", [(c, 6.0)], T0)[0].crossed == (0.5,)
    assert reserve(store, c, 5.0) == Reservation(False, (6.0,), 0)
    assert store.settle("a", [(c, 6.0)], T0)[0].spent == 6.0  # settled once, whichever store
    other.close()


# Several processes.


def test_processes_racing_for_one_budget_admit_exactly_floor_of_headroom(redis_server, prefix, store):
    c = counter("shared", limit=20.0)
    store.settle("before", [(c, 8.5)], T0)  # headroom 11.5, holds of 2: 5 get in
    spec = {"url": redis_server.url, "prefix": prefix, "counter": counter_spec(c), "amount": 2.0}
    spec |= {"now": T0, "hold_seconds": HOLD, "calls": 8}
    children = [child("contend", spec) for _ in range(6)]
    try:
        for process in children:
            assert process.stdout is not None and process.stdout.readline() == "ready\n", process.stderr
        for process in children:
            assert process.stdin is not None
            process.stdin.write("go\n")
            process.stdin.flush()
        admitted = [int(process.communicate(timeout=60)[0]) for process in children]
    finally:
        for process in children:
            process.kill()
            process.wait()
    assert sum(admitted) == 5
    assert used(store, c) == 18.5


def test_holds_of_a_process_that_died_mid_call_block_until_they_expire(redis_server, prefix, store):
    c = counter("crash", limit=10.0)
    spec = {"url": redis_server.url, "prefix": prefix, "counter": counter_spec(c), "amount": 8.0}
    spec |= {"now": T0, "hold_seconds": 30.0, "call": "dead-call"}
    process = child("reserve-and-die", spec)
    out, err = process.communicate(timeout=60)
    assert (process.returncode, out) == (0, "true\n"), err
    assert reserve(store, c, 5.0, now=T0 + 1) == Reservation(False, (8.0,), 0)
    assert state(store, c, T0 + 29.9).holds == 1
    assert reserve(store, c, 5.0, now=T0 + 30.0) == Reservation(True, (0.0,))


FORK = textwrap.dedent(
    """
    import json, os, sys
    from otel_tokens._budget_store import Counter, Hold
    from otel_tokens._redis_store import RedisStore

    url, prefix = sys.argv[1], sys.argv[2]
    store = RedisStore(url, prefix=prefix, timeout=5.0)
    c = Counter("fork", "", "w", 10.0, 1_800_007_200.0)
    assert store.reserve("parent-1", [Hold(c, 1.0)], 1_800_000_000.0, 60.0).admitted
    parent_id = store._client.client_id()

    def in_child(name, reset):
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(read)
            try:
                if reset:
                    store.after_fork_in_child()
                admitted = store.reserve(name, [Hold(c, 1.0)], 1_800_000_000.0, 60.0).admitted
                out = {"admitted": admitted, "id": store._client.client_id()}
            except BaseException as exc:
                out = {"error": repr(exc)}
            os.write(write, json.dumps(out).encode())
            os._exit(0)
        os.close(write)
        with os.fdopen(read) as pipe:
            answer = json.loads(pipe.read())
        os.waitpid(pid, 0)
        return answer

    children = [in_child("child-1", False), in_child("child-2", True)]
    used = store.reserve("parent-2", [Hold(c, 1.0)], 1_800_000_000.0, 60.0).used[0]
    print(json.dumps({"parent": [parent_id, store._client.client_id()], "children": children, "used": used}))
    """
)


def test_a_forked_child_uses_connections_of_its_own(redis_server, prefix):
    completed = subprocess.run(
        [sys.executable, "-c", FORK, redis_server.url, prefix],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert completed.returncode == 0, completed.stderr
    result = json.loads(completed.stdout)
    before, after = result["parent"]
    assert before == after  # the parent's connection survived its children
    for answer in result["children"]:
        assert answer.get("admitted") is True, answer
        assert answer["id"] != before
    assert result["used"] == 3.0


# Failures.


def test_redis_killed_fails_fast_then_enforcement_resumes_after_restart(own_redis, prefix):
    store = RedisStore(own_redis.url, prefix=prefix, timeout=0.25, backoff=0.3)
    c = counter(limit=5.0)
    assert reserve(store, c, 3.0).admitted
    own_redis.kill()

    error, elapsed = _unavailable(store)
    assert error.reason == "unreachable", error
    assert elapsed < 0.5
    # Backing off: at once, without the network.
    error, elapsed = _unavailable(store)
    assert (error.reason, "backing off" in str(error)) == ("unreachable", True)
    assert elapsed < 0.05
    time.sleep(0.3)
    error, elapsed = _unavailable(store)  # still down: tried again, failed again
    assert "backing off" not in str(error) and elapsed < 0.5

    own_redis.start()  # same port, empty (no persistence)
    time.sleep(0.3)
    assert reserve(store, c, 3.0) == Reservation(True, (0.0,))
    assert reserve(store, c, 3.0) == Reservation(False, (3.0,), 0)
    store.close()


def test_slow_redis_times_out_well_before_tcp_would(redis_server, prefix):
    proxy = DelayingProxy(redis_server.port, delay=0.6)
    store = RedisStore(proxy.url, prefix=prefix, timeout=0.1, backoff=0.2)
    try:
        error, elapsed = _unavailable(store)
        assert error.reason == "timeout", error
        assert elapsed < 0.45
        proxy.delay = 0.0
        time.sleep(0.8)  # the backoff, and the late reply of the timed-out call
        c = counter("after", limit=5.0)
        assert reserve(store, c, 3.0) == Reservation(True, (0.0,))
        assert reserve(store, c, 3.0) == Reservation(False, (3.0,), 0)
    finally:
        store.close()
        proxy.close()


def _leaks(error: BaseException, *secrets: str) -> list[str]:
    """Secrets in the error's message, arguments or any exception chained to it, shown or not."""
    text, link = "", error
    for _ in range(10):
        text += "".join(traceback.format_exception_only(link)) + repr(link.args)
        if (following := link.__cause__ or link.__context__) is None:
            break
        link = following
    return [secret for secret in secrets if secret in text]


def test_credentials_are_never_in_errors(redis_server, redis_server_bin, tmp_path, prefix):
    cases = [
        # Nobody listening.
        (f"redis://:sekret@127.0.0.1:{free_port()}/0", "unreachable"),
        (f"redis://alice:sekret@127.0.0.1:{free_port()}/0", "unreachable"),
        # A Redis without a password, given one.
        (f"redis://:sekret@127.0.0.1:{redis_server.port}/0", "error"),
    ]
    protected = RedisServer(redis_server_bin, tmp_path, "--requirepass", "right-one").start()
    try:
        cases.append((f"redis://:sekret@127.0.0.1:{protected.port}/0", "error"))
        cases.append((f"redis://alice:sekret@127.0.0.1:{protected.port}/0", "error"))
        for url, reason in cases:
            store = RedisStore(url, prefix=prefix, timeout=0.5)
            error, _ = _unavailable(store)
            assert error.reason == reason, (url, error)
            assert _leaks(error, "sekret", "alice") == [], error
            assert "127.0.0.1" in str(error)
            store.close()
        right = RedisStore(f"redis://:right-one@127.0.0.1:{protected.port}/0", prefix=prefix, timeout=0.5)
        assert reserve(right, counter(), 1.0).admitted
        right.close()
    finally:
        protected.stop()
    with pytest.raises(ConfigurationError) as caught:
        RedisStore("redis://alice:sekret@127.0.0.1:notaport/0")
    assert _leaks(caught.value, "sekret", "alice") == [], caught.value
