"""``otel-tokens budgets`` against a real redis-server: the spend and holds that the guardrails
wrote through the RedisStore, read back under the services' own keys, exactly; a Redis that is
down or slow as one line, without the URL's password."""

from __future__ import annotations

import json
import uuid
from datetime import datetime

import pytest

from otel_tokens import _runtime, semconv
from otel_tokens._guardrails import Guardrails
from otel_tokens._invocation import CallRequest
from otel_tokens._policy_file import load_policy
from otel_tokens._redis_store import RedisStore
from otel_tokens.pricing import Cost
from otel_tokens.usage import Usage

from ..cli._run import otel_tokens, rows
from ._redis import DelayingProxy, RedisServer

PASSWORD = "s3cret-Pw"
POLICY = """\
[[budget]]
id = "team-monthly"
limit = 10
window = "month"
group_by = ["team"]

[[budget]]
id = "tokens-daily"
limit = 100000
unit = "token"
window = "day"

[[budget]]
id = "agent-hourly"
limit = 2
window = "rolling:1h"
match = { feature = "agent" }
"""


@pytest.fixture
def redis_server(redis_server_bin, tmp_path):
    server = RedisServer(redis_server_bin, tmp_path, "--requirepass", PASSWORD).start()
    yield server
    server.stop()


@pytest.fixture
def url(redis_server) -> str:
    return f"redis://:{PASSWORD}@127.0.0.1:{redis_server.port}/0"


@pytest.fixture
def policy_path(tmp_path) -> str:
    path = tmp_path / "budgets.toml"
    path.write_text(POLICY)
    return str(path)


def request(max_tokens: int) -> CallRequest:
    return CallRequest(
        operation="chat",
        provider="openai",
        request_model="gpt-4o-mini",
        attributes={semconv.GEN_AI_REQUEST_MAX_TOKENS: max_tokens},
    )


def spend(url: str, prefix: str, policy_path: str) -> None:
    """Through the guardrails, as a service: search settles 0.25 USD (30 tokens) and holds one
    call of 1000 output tokens in flight; billing settles 1.5 USD (3000 tokens)."""
    store = RedisStore(url, prefix=prefix, timeout=2.0)
    guardrails = Guardrails(load_policy(policy_path), store, _runtime.price_book())
    try:
        search = {"team": "search"}
        guardrails.settle(
            guardrails.admit(request(1000), search), Usage(10, 20), Cost(0.25, 0, 0.25, 0, 0, "t", None)
        )
        guardrails.admit(request(1000), search)  # in flight: held, not settled
        billing = {"team": "billing"}
        guardrails.settle(
            guardrails.admit(request(1000), billing), Usage(1000, 2000), Cost(1.5, 0.5, 1.0, 0, 0, "t", None)
        )
    finally:
        store.close()


def test_json_shows_what_the_guardrails_spent_and_hold(url, redis_server, policy_path):
    prefix = f"t{uuid.uuid4().hex[:12]}"
    spend(url, prefix, policy_path)
    completed = otel_tokens(
        "budgets", "--policy", policy_path, "--store", url, "--key-prefix", prefix, "--json"
    )
    assert completed.returncode == 0, completed.stderr
    assert PASSWORD not in completed.stdout
    document = json.loads(completed.stdout)
    assert document["store"] == {
        "kind": "redis",
        "url": f"redis://***@127.0.0.1:{redis_server.port}/0",
        "key_prefix": prefix,
        "timeout_ms": 1000,
        "shared": True,
    }
    assert document["notes"] == []
    monthly, daily, hourly = document["budgets"]
    # A hold is 1000 output tokens of gpt-4o-mini at 0.60 USD per million.
    held = 1000 * 0.60 / 1e6
    end = monthly["window"]["end"]
    assert (monthly["id"], monthly["limit"], monthly["resets_at"]) == ("team-monthly", 10.0, end)
    assert monthly["counters"] == [
        {
            "group": "team=billing",
            "spent": 1.5,
            "held": 0.0,
            "holds": 0,
            "utilisation": 15.0,
            "resets_at": end,
        },
        {
            "group": "team=search",
            "spent": 0.25,
            "held": held,
            "holds": 1,
            "utilisation": (0.25 + held) / 10 * 100,
            "resets_at": end,
        },
    ]
    [counter] = daily["counters"]
    assert (daily["id"], daily["limit"], daily["unit"]) == ("tokens-daily", 100000.0, "token")
    assert counter["group"] == "" and counter["spent"] == 30 + 3000 and counter["holds"] == 1
    assert counter["utilisation"] == (3030 + counter["held"]) / 100000 * 100
    assert counter["held"] >= 1000  # the output maximum, plus the estimated input
    # Nothing matched feature=agent yet: no counter.
    assert (hourly["id"], hourly["counters"], hourly["resets_at"]) == ("agent-hourly", [], None)
    # The same numbers as the store gives the guardrails.
    store = RedisStore(url, prefix=prefix, timeout=2.0)
    try:
        generated = datetime.fromisoformat(document["generated_at"]).timestamp()
        states = store.snapshot(generated, ["tokens-daily"])
    finally:
        store.close()
    assert [(s.spent, s.held, s.holds) for s in states] == [(3030.0, counter["held"], 1)]


def test_table_shows_a_row_per_group_and_zero_for_an_unused_budget(url, redis_server, policy_path):
    prefix = f"t{uuid.uuid4().hex[:12]}"
    spend(url, prefix, policy_path)
    completed = otel_tokens("budgets", "--policy", policy_path, "--store", url, "--key-prefix", prefix)
    assert completed.returncode == 0, completed.stderr
    assert PASSWORD not in completed.stdout
    table = rows(completed.stdout, "Budgets")
    monthly, daily = table[0][3], table[2][3]
    assert monthly.startswith("month: ") and daily.startswith("day: ")
    resets = monthly.rsplit(" to ", 1)[1]
    assert table[0] == ["team-monthly", "USD", "10", monthly, "team=billing", "1.5", "0", "15.0%", resets]
    assert table[1] == ["", "", "", "", "team=search", "0.25", "0.0006 (1 hold)", "2.5%", resets]
    assert table[2][:6] == ["tokens-daily", "token", "100,000", daily, "(all)", "3,030"]
    assert table[2][6].endswith(" (1 hold)") and table[2][8] == daily.rsplit(" to ", 1)[1]
    rolling = "rolling:1h (the last 1h up to now)"
    assert table[3] == ["agent-hourly", "USD", "2", rolling, "(all)", "0", "0", "0.0%", "rolling"]
    assert "memory store" not in completed.stdout


def test_a_redis_that_is_down_is_one_line_without_the_password(url, redis_server, policy_path):
    redis_server.kill()
    completed = otel_tokens("budgets", "--policy", policy_path, env={"OTEL_TOKENS_BUDGET_STORE": url})
    assert completed.returncode == 1
    assert completed.stdout == ""
    assert PASSWORD not in completed.stderr
    [line] = completed.stderr.splitlines()
    assert line.startswith(
        f"Error: cannot read the budget store redis://***@127.0.0.1:{redis_server.port}/0 (timeout 1000 ms): "
        f"unreachable: redis at 127.0.0.1:{redis_server.port}/0: ConnectionError: "
    ), line


def test_a_slow_redis_is_a_timeout_in_one_line(redis_server, policy_path):
    proxy = DelayingProxy(redis_server.port, delay=0.5)
    try:
        slow = f"redis://:{PASSWORD}@127.0.0.1:{proxy.port}/0"
        completed = otel_tokens("budgets", "--policy", policy_path, "--store", slow, "--timeout", "100")
    finally:
        proxy.close()
    assert completed.returncode == 1
    assert PASSWORD not in completed.stderr
    [line] = completed.stderr.splitlines()
    where = f"redis://***@127.0.0.1:{proxy.port}/0"
    assert line.startswith(f"Error: cannot read the budget store {where} (timeout 100 ms): timeout: "), line


def test_a_wrong_password_is_one_line_without_it(redis_server, policy_path):
    wrong = f"redis://:not-{PASSWORD}@127.0.0.1:{redis_server.port}/0"
    completed = otel_tokens("budgets", "--policy", policy_path, "--store", wrong)
    assert completed.returncode == 1
    assert PASSWORD not in completed.stderr
    [line] = completed.stderr.splitlines()
    assert line.startswith(
        f"Error: cannot read the budget store redis://***@127.0.0.1:{redis_server.port}/0"
    ), line
