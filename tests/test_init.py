"""init(), instrument(), shutdown(): the one-line start."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
import uuid

import openai
import pytest
from otel_tokens_fake_providers import FakeProviderServer, Scenario

import otel_tokens
from otel_tokens import ConfigurationError, _runtime
from otel_tokens.testing import InMemoryTelemetry

from ._otlp_receiver import OtlpReceiver


def _installed_clients() -> list[str]:
    from importlib.metadata import entry_points

    from packaging.requirements import Requirement

    from otel_tokens._dependencies import installed_version

    names = []
    for entry_point in entry_points(group="opentelemetry_instrumentor"):
        if entry_point.name.startswith("otel_tokens_"):
            requirements = entry_point.load()().instrumentation_dependencies()
            if all(installed_version(Requirement(r).name) for r in requirements):
                names.append(entry_point.name.removeprefix("otel_tokens_"))
    return sorted(names)


ALL_CLIENTS = _installed_clients()


@pytest.fixture
def memory():
    telemetry = InMemoryTelemetry()
    yield telemetry
    otel_tokens.shutdown()
    telemetry.shutdown()


def test_init_with_given_providers_instruments_and_is_idempotent(memory):
    otel_tokens.init(
        tracer_provider=memory.tracer_provider,
        meter_provider=memory.meter_provider,
        default_tags={"team": "platform"},
    )
    otel_tokens.init(
        tracer_provider=memory.tracer_provider,
        meter_provider=memory.meter_provider,
        default_tags={"team": "platform"},
    )
    assert otel_tokens.instrumented_clients() == ALL_CLIENTS
    with FakeProviderServer(Scenario(prompt_tokens=4, completion_tokens=2)) as server:
        client = openai.OpenAI(base_url=server.url + "/v1", api_key="x", max_retries=0)
        client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
    [span] = memory.spans()  # one span: a second init() did not wrap twice
    assert span.attributes["otel_tokens.tag.team"] == "platform"


def test_invalid_configuration_fails_init_before_anything_changes(memory):
    with pytest.raises(
        ConfigurationError, match="OTEL_TOKENS_MAX_TAG_VALUES must be an integer from 1 to 2000"
    ):
        os.environ["OTEL_TOKENS_MAX_TAG_VALUES"] = "-3"
        try:
            otel_tokens.init(tracer_provider=memory.tracer_provider, meter_provider=memory.meter_provider)
        finally:
            del os.environ["OTEL_TOKENS_MAX_TAG_VALUES"]
    assert otel_tokens.instrumented_clients() == []


def test_missing_price_override_file_fails_init(memory, tmp_path):
    with pytest.raises(ConfigurationError, match="missing.toml"):
        otel_tokens.init(
            tracer_provider=memory.tracer_provider,
            meter_provider=memory.meter_provider,
            price_overrides=str(tmp_path / "missing.toml"),
        )


def test_disabled_instrumentor_is_skipped(memory):
    otel_tokens.init(
        tracer_provider=memory.tracer_provider,
        meter_provider=memory.meter_provider,
        disabled_instrumentors="openai",
    )
    assert otel_tokens.instrumented_clients() == [name for name in ALL_CLIENTS if name != "openai"]


INIT_SCRIPT = textwrap.dedent(
    """
    import openai, otel_tokens
    otel_tokens.init(default_tags={"cost_center": "cc-7"})
    client = openai.OpenAI(base_url=BASE_URL + "/v1", api_key="x", max_retries=0)
    messages = [{"role": "user", "content": "hi"}]
    client.chat.completions.create(model="gpt-4o-mini", messages=messages)
    client.chat.completions.create(model="gpt-4o-mini", stream=True, messages=messages)
    """
)


def test_init_sets_up_otlp_export_from_standard_variables(tmp_path):
    with FakeProviderServer(Scenario(prompt_tokens=9, completion_tokens=3)) as server, OtlpReceiver() as otlp:
        script = tmp_path / "app.py"
        script.write_text(f"BASE_URL = {server.url!r}\n" + INIT_SCRIPT)
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("OTEL_")},
            "OTEL_EXPORTER_OTLP_ENDPOINT": otlp.endpoint,
            "OTEL_SERVICE_NAME": "init-test",
            "OTEL_RESOURCE_ATTRIBUTES": "deployment.environment=ci",
        }
        completed = subprocess.run(
            [sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=60
        )
        assert completed.returncode == 0, completed.stderr
    # Both spans arrived although the script never called shutdown(): init() flushes at exit,
    # including the stream whose usage had to be estimated on the background thread.
    spans = sorted(otlp.spans, key=lambda s: "otel_tokens.usage.estimated" in s["attributes"])
    assert [s["attributes"].get("otel_tokens.usage.estimated") for s in spans] == [None, True]
    assert spans[0]["resource"]["service.name"] == "init-test"
    assert spans[0]["resource"]["deployment.environment"] == "ci"
    # One id per process, so two processes of a service never share a metric series.
    assert uuid.UUID(spans[0]["resource"]["service.instance.id"])
    assert spans[0]["attributes"]["otel_tokens.tag.cost_center"] == "cc-7"
    assert {m["name"] for m in otlp.metrics} >= {"gen_ai.client.token.usage", "otel_tokens.client.cost"}


def test_init_keeps_a_service_instance_id_the_environment_gives():
    script = (
        "import otel_tokens; from opentelemetry import trace; otel_tokens.init(); "
        "print(trace.get_tracer_provider().resource.attributes['service.instance.id'])"
    )
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("OTEL_")},
        "OTEL_TRACES_EXPORTER": "none",
        "OTEL_METRICS_EXPORTER": "none",
        "OTEL_RESOURCE_ATTRIBUTES": "service.instance.id=pod-7",
    }
    completed = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == "pod-7"


def test_unreachable_backend_does_not_block_or_break_calls(tmp_path):
    script = tmp_path / "app.py"
    with FakeProviderServer(Scenario(prompt_tokens=9, completion_tokens=3)) as server:
        script.write_text(
            f"BASE_URL = {server.url!r}\n"
            + INIT_SCRIPT
            + textwrap.dedent("""
            import time
            start = time.perf_counter()
            for _ in range(20):
                client.chat.completions.create(model="gpt-4o-mini", messages=messages)
            print(f"ELAPSED {time.perf_counter() - start:.3f}")
            otel_tokens.shutdown(timeout=2)
        """)
        )
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("OTEL_")},
            # Port 9 (discard) on loopback: nothing listens, connections are refused.
            "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9",
            "OTEL_EXPORTER_OTLP_TIMEOUT": "1",
        }
        completed = subprocess.run(
            [sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=90
        )
    assert completed.returncode == 0, completed.stderr
    assert "ELAPSED" in completed.stdout


def test_client_not_installed_is_skipped_without_error(memory, monkeypatch, caplog):
    from otel_tokens import _dependencies

    real = _dependencies.installed_version
    monkeypatch.setattr(
        _dependencies, "installed_version", lambda package: None if package == "anthropic" else real(package)
    )
    otel_tokens.init(tracer_provider=memory.tracer_provider, meter_provider=memory.meter_provider)
    assert otel_tokens.instrumented_clients() == [name for name in ALL_CLIENTS if name != "anthropic"]
    assert not [r for r in caplog.records if r.levelname in ("WARNING", "ERROR")]


def test_prices_are_loaded_on_the_callers_thread_before_init_returns(memory):
    # Loading prices is mostly importing (genai-prices, pydantic, httpx2): a thread of ours doing
    # that would hold import locks that a fork() could leave held in the child forever, and would
    # leave httpx2 half-imported while openai 2.x builds a client. So none is started.
    before = set(threading.enumerate())
    otel_tokens.init(tracer_provider=memory.tracer_provider, meter_provider=memory.meter_provider)
    assert _runtime.STATE.price_library is not None
    assert hasattr(sys.modules["httpx2"], "URL")
    started = [thread.name for thread in set(threading.enumerate()) - before]
    assert not [name for name in started if name.startswith("otel-tokens")], started


# --- typed keyword arguments and what init() refuses ------------------------------------------


def test_init_takes_one_typed_keyword_argument_per_setting():
    import inspect
    from dataclasses import fields

    parameters = inspect.signature(otel_tokens.init).parameters
    settings = [f.name for f in fields(otel_tokens.Settings)]
    assert list(parameters) == ["tracer_provider", "meter_provider", *settings]
    for parameter in parameters.values():
        # No **settings: a misspelt keyword is a type-checker error and a TypeError at the call.
        assert parameter.kind is inspect.Parameter.KEYWORD_ONLY
        assert parameter.default is None, parameter.name
        assert parameter.annotation.endswith("| None"), parameter.name
        assert f"        {parameter.name}: " in otel_tokens.init.__doc__, (
            f"{parameter.name} is not documented"
        )


def test_misspelt_keyword_is_a_type_error_naming_it(memory):
    with pytest.raises(TypeError, match="init\\(\\) got an unexpected keyword argument 'max_tags'"):
        otel_tokens.init(tracer_provider=memory.tracer_provider, max_tags=3)  # type: ignore[call-arg]
    assert otel_tokens.instrumented_clients() == []


@pytest.mark.parametrize(
    ("keyword", "value", "message"),
    [
        (
            "price_overrides",
            123,
            "price_overrides must be a non-empty file system path (str or os.PathLike), got 123",
        ),
        (
            "tokenizer_dir",
            "/nonexistent/ranks",
            "tokenizer_dir: tokenizer directory '/nonexistent/ranks' does not exist",
        ),
        (
            "disabled_instrumentors",
            "openai,anthropc",
            "disabled_instrumentors: unknown client(s) 'anthropc'; accepted:",
        ),
        ("service_name", "", "service_name must be a non-empty string, got ''"),
    ],
)
def test_invalid_keyword_fails_init_naming_the_setting(memory, keyword, value, message):
    with pytest.raises(ConfigurationError) as raised:
        otel_tokens.init(
            tracer_provider=memory.tracer_provider, meter_provider=memory.meter_provider, **{keyword: value}
        )
    assert str(raised.value).startswith(message)
    assert otel_tokens.instrumented_clients() == []


def test_non_utf8_override_file_fails_init_naming_the_file(memory, tmp_path):
    path = tmp_path / "prices.toml"
    path.write_bytes('[[price]]\nmodel = "café"\ninput_per_mtok = 1\noutput_per_mtok = 2\n'.encode("latin-1"))
    with pytest.raises(ConfigurationError) as raised:
        otel_tokens.init(
            tracer_provider=memory.tracer_provider, meter_provider=memory.meter_provider, price_overrides=path
        )
    assert str(raised.value) == (
        f"price overrides {path}: not UTF-8 text (byte 0xe9 on line 2); TOML files must be saved as UTF-8"
    )


BLOCKED_PRICING_SCRIPT = textwrap.dedent(
    """
    import json, sys

    class NoPricingLibrary:  # as if genai-prices (or a dependency of it) were broken or missing
        def find_spec(self, name, path=None, target=None):
            if name.partition(".")[0] == "genai_prices":
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)

    sys.meta_path.insert(0, NoPricingLibrary())
    import openai, otel_tokens
    from otel_tokens.testing import InMemoryTelemetry

    memory = InMemoryTelemetry()
    providers = {"tracer_provider": memory.tracer_provider, "meter_provider": memory.meter_provider}
    otel_tokens.init(**providers, price_overrides=OVERRIDES)
    client = openai.OpenAI(base_url=BASE_URL + "/v1", api_key="x", max_retries=0)
    for model in ("gpt-4o-mini", "acme-large", "gpt-4o-mini"):
        client.chat.completions.create(model=model, messages=[{"role": "user", "content": "hi"}])
    spans = [
        {k: v for k, v in s.attributes.items() if k.startswith(("gen_ai.usage", "gen_ai.request.model"))}
        for s in memory.spans()
    ]
    points = memory.points("otel_tokens.client.unpriced_calls")
    unpriced = [(p.attributes["gen_ai.request.model"], p.value) for p in points]
    print(json.dumps({"spans": spans, "unpriced": unpriced}))
    """
)


def test_pricing_library_that_cannot_be_imported_gives_one_warning_and_unpriced_calls(tmp_path):
    overrides = tmp_path / "prices.toml"
    overrides.write_text('[[price]]\nmodel = "acme-large"\ninput_per_mtok = 1.0\noutput_per_mtok = 2.0\n')
    script = tmp_path / "app.py"
    with FakeProviderServer(Scenario(prompt_tokens=4, completion_tokens=2)) as server:
        script.write_text(
            f"BASE_URL = {server.url!r}\nOVERRIDES = {str(overrides)!r}\n" + BLOCKED_PRICING_SCRIPT
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
        completed = subprocess.run(
            [sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=60
        )
    assert completed.returncode == 0, completed.stderr
    # Before: "Exception in thread otel-tokens-prices: Traceback ..." and an internal-error
    # traceback per call site, and no unpriced signal.
    assert "Traceback" not in completed.stderr
    [warning] = [line for line in completed.stderr.splitlines() if "genai" in line]
    assert warning.startswith(
        "otel-tokens: the pricing library genai-prices cannot be loaded (ModuleNotFoundError: "
    )
    result = json.loads(completed.stdout)
    usage = {"gen_ai.usage.input_tokens": 4, "gen_ai.usage.output_tokens": 2}
    unpriced_span, priced_span, _ = result["spans"]
    assert unpriced_span.items() >= usage.items()
    assert not [key for key in unpriced_span if key.startswith("gen_ai.usage.cost")]
    assert priced_span["gen_ai.usage.cost.amount"] == pytest.approx((4 * 1.0 + 2 * 2.0) / 1e6)
    assert result["unpriced"] == [["gpt-4o-mini", 2]]
