"""The process state: one object, one reset, and what a forked child keeps and renews."""

from __future__ import annotations

import ast
import threading
from pathlib import Path

import pytest

import otel_tokens
from otel_tokens import _export, _providers, _safety, _tags, _worker, tokenize
from otel_tokens._runtime import STATE, ProcessState
from otel_tokens.testing import InMemoryTelemetry

SRC = Path(otel_tokens.__file__).parent

# Every module of the package keeps its process state in STATE. Named exceptions, none of them
# process state: _safety's strict flag (the test harness's mode, which a reset must keep),
# tokenize's registry of live Tokenizer objects (finds them after a fork, holds nothing), the
# per-thread tally of invalid counts in usage (taken by the call that read them) and the
# context variables of tags and nesting (per context), and _fields' memo of which types are not
# mappings (a fact about types, the same in every process).
MODULES = sorted(str(path.relative_to(SRC)) for path in SRC.rglob("*.py") if "testing" not in path.parts)
LOCKS = {"lock", "live_lock"}
NOT_PROCESS_STATE = {"_instances", "_invalid", "_NOT_MAPPINGS"}  # _fields': a memo of types


@pytest.fixture
def telemetry():
    memory = InMemoryTelemetry()
    yield memory
    otel_tokens.shutdown()
    memory.shutdown()


def _use_everything(telemetry: InMemoryTelemetry, tokenizer_dir: Path) -> None:
    import openai.resources.embeddings  # noqa: F401 - imported, so patched now (live wrappers)

    otel_tokens.init(
        tracer_provider=telemetry.tracer_provider,
        meter_provider=telemetry.meter_provider,
        default_tags={"team": "search"},
        baggage_prefix="acme.",
        budgets=[otel_tokens.Budget("cap", limit=1.0)],
    )
    assert _tags.effective_tags() == {"team": "search"}
    assert STATE.guardrails is not None and STATE.gauge_providers
    tokenize.configure_default(tokenizer_dir)
    assert _worker.submit(lambda: None) and _worker.flush(10)
    _safety.set_strict(False)
    try:
        _safety.report("somewhere", ValueError("x"))
    finally:
        _safety.set_strict(True)
    STATE.worker_failures.append(ValueError("y"))
    STATE.created = _providers.CreatedProviders()
    STATE.export = _export.ExportHealth()


def test_reset_returns_to_the_state_of_a_fresh_process(telemetry, tmp_path):
    _use_everything(telemetry, tmp_path)
    fresh = vars(ProcessState())
    used = vars(STATE)
    assert {name for name in fresh if name not in LOCKS and used[name] == fresh[name]} == set()  # all used
    STATE.reset()
    state = vars(STATE)
    assert set(state) == set(fresh)  # nothing kept on the side
    for name, value in fresh.items():
        if name in LOCKS:
            assert type(state[name]) is type(value)
        else:
            assert state[name] == value, name


def test_reset_lets_queued_tasks_run_first():
    done = []
    held = threading.Event()
    _worker.submit(held.wait)
    _worker.submit(lambda: done.append(1))
    threading.Timer(0.1, held.set).start()
    STATE.reset()
    assert done == [1]


@pytest.mark.parametrize("module", MODULES)
def test_modules_keep_no_process_state_of_their_own(module):
    tree = ast.parse((SRC / module).read_text())
    rebound = [name for node in ast.walk(tree) if isinstance(node, ast.Global) for name in node.names]
    # _safety's strict flag is the test harness's mode, which a reset between tests must keep.
    assert [name for name in rebound if name != "_strict"] == [], f"{module} rebinds module state: {rebound}"
    # Empty containers and synchronisation objects at module level: state, not constants.
    makers = {"set", "dict", "list", "WeakSet", "Lock", "RLock", "Event", "Queue", "SimpleQueue", "local"}
    mutable = []
    for node in tree.body:
        if isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None:
            value = node.value
            empty = isinstance(value, ast.Dict | ast.Set | ast.List) and not ast.unparse(value).strip("{}[]")
            made = (
                isinstance(value, ast.Call)
                and getattr(value.func, "attr", getattr(value.func, "id", "")) in makers
            )
            if empty or made:
                mutable.append(ast.unparse(node.targets[0] if isinstance(node, ast.Assign) else node.target))
    # tokenize's registry of live Tokenizer objects holds no state, only finds them after a fork.
    assert [name for name in mutable if name not in NOT_PROCESS_STATE] == [], f"{module}: {mutable}"


def test_a_forked_child_keeps_the_configuration_and_renews_the_rest(telemetry, tmp_path):
    _use_everything(telemetry, tmp_path)
    kept = {name: getattr(STATE, name) for name in ("settings", "price_book", "instrumentors", "tokenizer")}
    guard = STATE.tag_guard
    guard.metric_attributes({"team": "search"})
    old_worker = STATE.worker
    # As if another thread of the parent held the lock at the fork, then disappeared.
    holder = threading.Thread(target=STATE.lock.acquire)
    holder.start()
    holder.join()
    STATE.after_fork_in_child()
    assert {name: getattr(STATE, name) for name in kept} == kept
    assert STATE.lock.acquire(timeout=0.1)  # renewed, not the held one
    STATE.lock.release()
    assert STATE.worker is None and STATE.worker_failures == [] and STATE.reported == set()
    assert STATE.tag_guard is guard and guard._seen == {key: set() for key in guard.keys}
    assert _worker.submit(lambda: None) and STATE.worker is not old_worker
    assert _worker.flush(10)
    assert STATE.export is not None and not STATE.export.warned
