"""`opentelemetry-instrument` runs an unmodified script; its calls arrive over OTLP/HTTP."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from otel_tokens_fake_providers import FakeProviderServer, Scenario

from ._otlp_receiver import OtlpReceiver

SCRIPT = textwrap.dedent(
    """
    import openai, otel_tokens
    client = openai.OpenAI(base_url=BASE_URL + "/v1", api_key="sk-secret", max_retries=0)
    with otel_tokens.tags(team="payments", feature="refunds"):
        client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
    """
)


def _launcher() -> str:
    return str(Path(sys.executable).with_name("opentelemetry-instrument"))


@pytest.mark.parametrize("calls_init", [False, True], ids=["unmodified", "calling-init-too"])
def test_opentelemetry_instrument_exports_tokens_cost_and_tags(tmp_path, calls_init):
    # A program that also calls init() under the launcher: the same clients, quietly, once each.
    script = tmp_path / "app.py"
    with (
        FakeProviderServer(Scenario(prompt_tokens=100, completion_tokens=20)) as server,
        OtlpReceiver() as otlp,
    ):
        init = "import otel_tokens\notel_tokens.init()\n" if calls_init else ""
        script.write_text(f"BASE_URL = {server.url!r}\n" + init + SCRIPT)
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("OTEL_")},
            "OTEL_SERVICE_NAME": "refund-service",
            "OTEL_EXPORTER_OTLP_ENDPOINT": otlp.endpoint,
            "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
            "OTEL_TRACES_EXPORTER": "otlp",
            "OTEL_METRICS_EXPORTER": "otlp",
            "OTEL_LOGS_EXPORTER": "none",
        }
        completed = subprocess.run(
            [_launcher(), sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=60
        )
        assert completed.returncode == 0, completed.stderr
        assert completed.stderr == "", completed.stderr  # nothing to say: no warning, no traceback
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not (otlp.spans and otlp.metrics):
            time.sleep(0.05)
    [span] = [s for s in otlp.spans if s["name"] == "chat gpt-4o-mini"]
    assert span["resource"]["service.name"] == "refund-service"
    attributes = span["attributes"]
    assert attributes["gen_ai.usage.input_tokens"] == 100
    assert attributes["gen_ai.usage.output_tokens"] == 20
    assert attributes["gen_ai.usage.cost.amount"] == pytest.approx((100 * 0.15 + 20 * 0.6) / 1e6)
    assert attributes["otel_tokens.tag.team"] == "payments"
    assert "sk-secret" not in repr(otlp.spans)
    cost = [m for m in otlp.metrics if m["name"] == "otel_tokens.client.cost"]
    assert cost and cost[0]["attributes"]["otel_tokens.tag.feature"] == "refunds"
    assert cost[0]["scope"] == "otel_tokens_openai"


def test_unsupported_client_version_is_warned_about(monkeypatch, caplog):
    import logging

    from otel_tokens import _dependencies
    from otel_tokens._launcher import check_installed_clients

    monkeypatch.setattr(
        _dependencies, "installed_version", lambda name: "1.30.0" if name == "openai" else None
    )
    with caplog.at_level(logging.WARNING, logger="otel_tokens"):
        assert check_installed_clients() == ["openai 1.30.0"]
    [record] = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert "openai 1.30.0 is installed but otel-tokens supports openai" in record.getMessage()
    assert "NOT instrumented" in record.getMessage()


def test_disabled_instrumentors_are_honoured_under_the_launcher():
    """opentelemetry-instrument never calls init(): the instrumentor checks the setting itself."""
    script = (
        "from openai.resources.chat.completions import Completions\n"
        "from anthropic.resources.messages import Messages\n"
        "print(type(Completions.create).__name__, type(Messages.create).__name__)\n"
    )
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("OTEL_")},
        "OTEL_TRACES_EXPORTER": "none",
        "OTEL_METRICS_EXPORTER": "none",
        "OTEL_LOGS_EXPORTER": "none",
        "OTEL_TOKENS_DISABLED_INSTRUMENTORS": "openai",
    }
    launcher = str(Path(sys.executable).with_name("opentelemetry-instrument"))
    completed = subprocess.run(
        [launcher, sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60
    )
    assert completed.returncode == 0, completed.stderr
    openai_type, anthropic_type = completed.stdout.split()
    assert (openai_type, anthropic_type.endswith("FunctionWrapper")) == ("function", True)  # openai alone


@pytest.mark.parametrize("launcher_reports", [True, False])
def test_an_out_of_range_client_is_reported_once_under_the_launcher(monkeypatch, caplog, launcher_reports):
    """opentelemetry-instrumentation 0.66 logs the conflict at ERROR itself: then we say nothing."""
    import logging

    from opentelemetry.instrumentation.dependencies import DependencyConflict

    from otel_tokens import _dependencies
    from otel_tokens._launcher import ClientVersionCheck

    monkeypatch.setattr(
        _dependencies, "installed_version", lambda name: "1.30.0" if name == "openai" else None
    )
    if not launcher_reports:  # an older launcher, which says so at debug level only
        monkeypatch.delattr(DependencyConflict, "_log")
    with caplog.at_level(logging.WARNING, logger="otel_tokens"):
        ClientVersionCheck()._instrument()
    ours = [r.getMessage() for r in caplog.records if r.name == "otel_tokens"]
    assert len(ours) == (0 if launcher_reports else 1), ours
