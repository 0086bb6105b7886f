"""``otel-tokens doctor``: each check as ``status  name  detail``, the configuration with the
variable each value came from, an OTLP endpoint that answers and one that does not, disabled
instrumentation, bad values and an unreachable Redis named without its password. Run as a child
process, as a user runs it."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import time
from importlib.metadata import version

from tests._otlp_receiver import OtlpReceiver

from ._run import otel_tokens, rows

# Export off unless a test is about it: a check of localhost:4318 would depend on the machine.
NO_EXPORT = {"OTEL_TRACES_EXPORTER": "none", "OTEL_METRICS_EXPORTER": "none"}


def doctor(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return otel_tokens("doctor", *args, env={**NO_EXPORT, **env})


def checks(stdout: str) -> dict[str, tuple[str, str]]:
    """Check name -> (status, detail), from the lines before the configuration table."""
    found = {}
    for line in stdout.splitlines():
        if line.startswith("Configuration"):
            break
        status, name, detail = re.split(r" {2,}", line, maxsplit=2)
        assert name not in found or name == "environment", line
        found[name] = (status, detail)
    return found


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_help_shows_examples():
    completed = otel_tokens("doctor", "--help")
    assert completed.returncode == 0
    assert completed.stdout.startswith("Usage: otel-tokens doctor [OPTIONS]\n")
    assert "Examples:\n    otel-tokens doctor\n" in completed.stdout


def test_a_healthy_environment_passes_with_every_client_and_the_tokenizer():
    completed = doctor()
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert completed.stderr == ""
    found = checks(completed.stdout)
    assert found["configuration"] == ("ok", "valid: 0 setting(s) from the environment, the rest default")
    openai = version("openai")
    assert found["client openai"] == (
        "ok",
        f"instrumented: openai {openai} by otel-tokens-openai {version('otel-tokens-openai')} "
        "(openai >= 2.0.0, < 4)",
    )
    assert found["client bedrock"][1].startswith(f"instrumented: boto3 {version('boto3')}, botocore ")
    assert found["tokenizer"] == (
        "ok",
        "offline counting works: a 51-character sample is 14 tokens (tiktoken:o200k_base), "
        "14 tokens (tiktoken:cl100k_base)",
    )
    assert found["export traces"] == ("warn", "OTEL_TRACES_EXPORTER=none: traces are not exported")
    assert "budget store" not in found  # only checked when one is configured
    assert completed.stdout.splitlines()[-1] == "0 failed, 2 warning(s), 10 ok"


def test_settings_from_the_environment_are_shown_with_their_variable():
    completed = doctor(OTEL_TOKENS_MAX_TAG_VALUES="7", OTEL_SERVICE_NAME="checkout")
    assert completed.returncode == 0, completed.stdout
    table = {row[0]: row[1:] for row in rows(completed.stdout, "Configuration")}
    assert table["max_tag_values"] == ["7", "OTEL_TOKENS_MAX_TAG_VALUES"]
    assert table["service_name"] == ["checkout", "OTEL_SERVICE_NAME"]
    assert table["metric_tag_keys"] == ["team, project, feature, cost_center", "default"]
    assert table["budget_store"] == ["memory", "default"]
    assert checks(completed.stdout)["configuration"] == (
        "ok",
        "valid: 2 setting(s) from the environment, the rest default",
    )


def test_a_bad_value_is_one_clear_failure_line():
    completed = doctor(OTEL_TOKENS_MAX_TAG_VALUES="abc", OTEL_TOKENS_ESTIMATE_USAGE="sometimes")
    assert completed.returncode == 1
    assert "Traceback" not in completed.stdout + completed.stderr
    found = checks(completed.stdout)
    # Every bad variable is named, not only the first.
    assert found["setting max_tag_values"] == (
        "fail",
        "OTEL_TOKENS_MAX_TAG_VALUES must be an integer from 1 to 2000 (the OpenTelemetry SDK's default "
        "cardinality limit per metric), got 'abc'",
    )
    assert found["setting estimate_usage"] == (
        "fail",
        "OTEL_TOKENS_ESTIMATE_USAGE must be true or false, got 'sometimes'",
    )
    # init() would raise, so nothing would be instrumented.
    assert found["client openai"] == (
        "warn",
        f"openai {version('openai')}: NOT instrumented while a setting is invalid (see above)",
    )
    table = {row[0]: row[1:] for row in rows(completed.stdout, "Configuration")}
    assert table["max_tag_values"] == ["(invalid)", "OTEL_TOKENS_MAX_TAG_VALUES"]


def test_disabled_instrumentation_is_a_warning_naming_the_variable():
    completed = doctor(
        OTEL_TOKENS_DISABLED_INSTRUMENTORS="openai",
        OTEL_PYTHON_DISABLED_INSTRUMENTATIONS="otel_tokens_anthropic,cohere",
    )
    assert completed.returncode == 0, completed.stdout
    found = checks(completed.stdout)
    assert found["client openai"] == (
        "warn",
        f"openai {version('openai')}: disabled by OTEL_TOKENS_DISABLED_INSTRUMENTORS",
    )
    assert found["client anthropic"] == (
        "warn",
        f"anthropic {version('anthropic')}: would be instrumented by init(), but not under "
        "opentelemetry-instrument: OTEL_PYTHON_DISABLED_INSTRUMENTATIONS names otel_tokens_anthropic",
    )
    # A peer's name does not turn ours off.
    status, detail = found["client cohere"]
    assert status == "ok" and detail.endswith(
        "; OTEL_PYTHON_DISABLED_INSTRUMENTATIONS names 'cohere', a peer's instrumentation, not ours"
    )


def test_a_misspelt_variable_is_a_warning():
    completed = doctor(OTEL_TOKENS_BUDGET_STROE="redis://cache:6379/0")
    assert checks(completed.stdout)["environment"] == (
        "warn",
        "OTEL_TOKENS_BUDGET_STROE is set but otel-tokens has no such setting (a typo? the README's "
        "Configuration table lists them)",
    )


def test_an_otlp_endpoint_that_answers():
    with OtlpReceiver() as receiver:
        completed = otel_tokens("doctor", env={"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint})
        paths = sorted(path for path, _, _ in receiver.requests)
    assert completed.returncode == 0, completed.stdout
    found = checks(completed.stdout)
    host = receiver.endpoint.removeprefix("http://")
    for signal in ("traces", "metrics"):
        status, detail = found[f"export {signal}"]
        assert status == "ok"
        assert re.fullmatch(
            rf"{host} \({receiver.endpoint}/v1/{signal}\) accepted an OTLP export in \d+ ms", detail
        ), detail
    assert paths == ["/v1/metrics", "/v1/traces"]


def test_an_otlp_endpoint_that_does_not_answer_fails_quickly_naming_host_and_port():
    port = closed_port()
    started = time.monotonic()
    completed = otel_tokens(
        "doctor", "--json", env={"OTEL_EXPORTER_OTLP_ENDPOINT": f"http://user:s3cret@127.0.0.1:{port}"}
    )
    assert time.monotonic() - started < 20
    assert completed.returncode == 1
    document = json.loads(completed.stdout)
    found = {c["check"]: (c["status"], c["detail"]) for c in document["checks"]}
    assert found["export traces"] == (
        "fail",
        f"cannot export to 127.0.0.1:{port} (http://***@127.0.0.1:{port}/v1/traces): connection refused",
    )
    assert found["export metrics"][0] == "fail"
    assert "s3cret" not in completed.stdout + completed.stderr
    assert document["summary"]["fail"] == 2


def test_a_redis_store_on_a_closed_port_fails_without_its_password():
    port = closed_port()
    completed = doctor(OTEL_TOKENS_BUDGET_STORE=f"redis://:hunter2@127.0.0.1:{port}/0")
    assert completed.returncode == 1
    assert "hunter2" not in completed.stdout + completed.stderr
    status, detail = checks(completed.stdout)["budget store"]
    assert status == "fail"
    assert detail.startswith(
        f"cannot read the budget store redis://***@127.0.0.1:{port}/0: "
        f"unreachable: redis at 127.0.0.1:{port}/0: "
    ), detail
    table = {row[0]: row[1:] for row in rows(completed.stdout, "Configuration")}
    assert table["budget_store"] == [f"redis://***@127.0.0.1:{port}/0", "OTEL_TOKENS_BUDGET_STORE"]


def test_json_lists_every_setting_with_its_variable_and_source():
    completed = doctor("--json", OTEL_TOKENS_DEFAULT_TAGS="team=search")
    assert completed.returncode == 0, completed.stdout
    document = json.loads(completed.stdout)
    assert {"setting": "default_tags", "variable": "OTEL_TOKENS_DEFAULT_TAGS", "value": "team=search",
            "from": "OTEL_TOKENS_DEFAULT_TAGS"} in document["configuration"]  # fmt: skip
    assert {"setting": "enabled", "variable": "OTEL_TOKENS_ENABLED", "value": "true", "from": "default"} in (
        document["configuration"]
    )
    assert document["summary"] == {"ok": 10, "warn": 2, "fail": 0}


def doctor_with(patch: str) -> subprocess.CompletedProcess[str]:
    """The doctor in a child whose installed packages ``patch`` (Python code, ``doctor_checks``
    being the module of the checks) makes look otherwise: what a user's environment would show."""
    code = (
        "import sys; from otel_tokens_cli import _doctor_checks as doctor_checks, main\n"
        f"{patch}\n"
        "main(['doctor'], prog_name='otel-tokens')\n"
    )
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "", "COLUMNS": "250", "NO_COLOR": "1", **NO_EXPORT},
    )


def test_a_client_outside_the_supported_range_fails():
    completed = doctor_with(
        "real = doctor_checks.installed_version\n"
        "doctor_checks.installed_version = lambda name: '1.30.0' if name == 'openai' else real(name)\n"
        "import otel_tokens._dependencies as d; d.installed_version = doctor_checks.installed_version"
    )
    assert completed.returncode == 1, completed.stderr
    assert checks(completed.stdout)["client openai"] == (
        "fail",
        f"openai 1.30.0 is outside the range otel-tokens-openai {version('otel-tokens-openai')} supports "
        "(openai >= 2.0.0, < 4): its calls are NOT instrumented",
    )


def test_a_client_without_its_instrumentor_is_a_warning_saying_what_to_install():
    completed = doctor_with(
        "real = doctor_checks.entry_points\n"
        "doctor_checks.entry_points = lambda **kw: [\n"
        "    e for e in real(**kw) if e.name != 'otel_tokens_google_genai'\n"
        "]"
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert checks(completed.stdout)["client google-genai"] == (
        "warn",
        f"google-genai {version('google-genai')} is installed but not instrumented: its instrumentor is not "
        'installed (pip install "otel-tokens[google-genai]")',
    )
