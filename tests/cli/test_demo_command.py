"""``otel-tokens demo``: the demo workload behind the command, its summary on stdout and nothing
animated on a stderr that is not a terminal; ``--export`` to a local OTLP receiver; bad input as
one line. Run as a child process, as a user runs it."""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest

from tests._otlp_receiver import OtlpReceiver

from ._run import otel_tokens


def one_line_error(completed: subprocess.CompletedProcess[str], status: int) -> str:
    assert completed.returncode == status, completed.stderr
    assert completed.stdout == ""
    assert completed.stderr.count("\n") == 1 and completed.stderr.startswith("Error: "), completed.stderr
    return completed.stderr.removeprefix("Error: ").rstrip("\n")


def summary_rows(stdout: str) -> list[list[str]]:
    return [line.split() for line in stdout.splitlines()]


def test_help_shows_examples():
    completed = otel_tokens("demo", "--help")
    assert completed.returncode == 0
    assert completed.stdout.startswith("Usage: otel-tokens demo [OPTIONS]\n")
    assert "Examples:\n    otel-tokens demo\n    otel-tokens demo --export http://127.0.0.1:4318\n" in (
        completed.stdout
    )


def test_the_demo_prints_its_summary_with_tokens_cost_and_tags():
    completed = otel_tokens("demo")
    assert completed.returncode == 0, completed.stderr
    first, *rest = completed.stdout.splitlines()
    assert first.startswith("fake provider server on http://127.0.0.1:")
    assert first.endswith("instrumented: ['anthropic', 'bedrock', 'cohere', 'google_genai', 'litellm', "
                          "'mistralai', 'ollama', 'openai']")  # fmt: skip
    found = summary_rows("\n".join(rest))
    for row in (
        "anthropic chat claude-sonnet-4-6 support/ticket-summary 2198 2048 220 - 0.004364",
        "openai chat gpt-5-2025-08-07 research/pricing-agent 5200 0 800 512 0.029000 priority",
        "cohere rerank rerank-v3.5 platform/rag-index - - - - - unpriced",
    ):
        assert row.split() in found, row
    assert "metrics:         otel_tokens.client.cost sum $0.1155; unpriced calls 2" in rest
    assert "spend by team:   platform $0.0002, research $0.0891, search $0.0005, support $0.0256" in rest
    # stderr is no terminal here: the SDK's warnings, no progress animation.
    assert [line.split(":")[0] for line in completed.stderr.splitlines()] == [
        "WARNING otel_tokens.pricing",
        "WARNING otel_tokens.pricing",
    ]
    assert "\r" not in completed.stderr and "\x1b" not in completed.stderr


def test_the_same_summary_as_otel_tokens_demo():
    command = otel_tokens("demo", "--rounds", "2", "--pause", "0")
    script = subprocess.run(
        [sys.executable, "-m", "otel_tokens.demo", "--rounds=2", "--pause=0"],
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": ""},
    )
    assert command.returncode == script.returncode == 0, command.stderr + script.stderr
    rounds = ["round 1/2 done", "round 2/2 done"]
    # The round lines go to stderr here, where otel-tokens-demo prints them on stdout.
    assert [line for line in command.stderr.splitlines() if line.startswith("round")] == rounds
    expected = [line for line in script.stdout.splitlines()[1:] if line not in rounds]
    assert command.stdout.splitlines()[1:] == expected


def test_export_sends_the_spans_to_a_collector():
    with OtlpReceiver() as receiver:
        completed = otel_tokens("demo", "--export", receiver.endpoint + "/")
        spans = list(receiver.spans)
        metrics = {point["name"] for point in receiver.metrics}
    assert completed.returncode == 0, completed.stderr
    assert completed.stderr.splitlines()[-1] == f"telemetry sent to {receiver.endpoint} (OTLP/HTTP)"
    calls = [span for span in spans if "gen_ai.provider.name" in span["attributes"]]
    assert len(calls) == 18  # one per row of the summary
    claude = [
        s["attributes"] for s in calls if s["attributes"].get("gen_ai.response.model") == "claude-sonnet-4-6"
    ]
    assert {(a["gen_ai.usage.cache_read.input_tokens"], a["otel_tokens.tag.team"]) for a in claude} == {
        (0, "support"),
        (2048, "support"),
    }
    assert {"gen_ai.client.token.usage", "otel_tokens.client.cost"} <= metrics


@pytest.mark.parametrize(
    "url", ["ftp://collector:4318", "collector:4318", "http://", "http://collector:99999", "not a url"]
)
def test_a_bad_export_url_is_one_line(url):
    message = one_line_error(otel_tokens("demo", "--export", url), status=2)
    assert message.startswith(
        "--export must be an http:// or https:// URL of an OTLP/HTTP collector, such as "
    )


def test_a_bad_export_url_never_shows_its_password():
    message = one_line_error(otel_tokens("demo", "--export", "ftp://user:hunter2@collector"), status=2)
    assert message.endswith("got 'ftp://***@collector'")


def test_a_collector_that_does_not_answer_is_one_line_before_the_workload():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    message = one_line_error(otel_tokens("demo", "--export", f"http://127.0.0.1:{port}"), status=1)
    assert message == (
        f"--export: cannot export to 127.0.0.1:{port} (http://127.0.0.1:{port}/v1/traces): connection refused"
    )


def test_rounds_below_one_is_clicks_usage_error():
    completed = otel_tokens("demo", "--rounds", "0")
    assert completed.returncode == 2
    assert "Invalid value for '--rounds'" in completed.stderr


@pytest.mark.parametrize("module", ["otel_tokens_fake_providers", "otel_tokens_openai", "openai"])
def test_without_the_demo_extra_it_says_what_to_install_in_one_line(module):
    blocked = (
        f"import sys; sys.modules[{module!r}] = None; "
        "from otel_tokens_cli import main; main(['demo'], prog_name='otel-tokens')"
    )
    done = subprocess.run(
        [sys.executable, "-c", blocked], capture_output=True, text=True, env={"PATH": ""}, timeout=60
    )
    assert done.returncode == 2
    assert done.stdout == ""
    # The same message as otel-tokens-demo's (tests/test_demo.py), as every otel-tokens error.
    assert done.stderr.splitlines() == [
        "Error: the demo needs the fake providers, the instrumentors and the client SDKs "
        f'({module} is not installed): pip install "otel-tokens[demo]"'
    ]


def test_an_invalid_setting_is_one_line():
    completed = otel_tokens("demo", env={"OTEL_TOKENS_MAX_TAG_VALUES": "abc"})
    assert one_line_error(completed, status=1).startswith(
        "configuration error: OTEL_TOKENS_MAX_TAG_VALUES must be an integer from 1 to 2000"
    )


def test_ledger_appends_every_span_as_otlp_json(tmp_path):
    import json

    ledger = tmp_path / "demo-ledger.jsonl"
    for _ in range(2):
        done = otel_tokens("demo", "--ledger", str(ledger))
        assert done.returncode == 0, done.stderr
    assert f"spans appended to {ledger} (OTLP JSON)" in done.stderr
    documents = [json.loads(line) for line in ledger.read_text().splitlines()]
    assert len(documents) == 2  # appended, not overwritten
    spans = [
        s for d in documents for rs in d["resourceSpans"] for ss in rs["scopeSpans"] for s in ss["spans"]
    ]
    assert len(spans) == 2 * 18
    assert all(len(s["spanId"]) == 16 and len(s["traceId"]) == 32 for s in spans)  # hex, not base64
    assert {int(s["startTimeUnixNano"]) > 0 for s in spans} == {True}  # int64 as strings
    service = documents[0]["resourceSpans"][0]["resource"]["attributes"]
    assert {"key": "service.name", "value": {"stringValue": "otel-tokens-demo"}} in service


def test_a_ledger_that_cannot_be_written_is_one_line(tmp_path):
    missing = tmp_path / "no-such-folder" / "ledger.jsonl"
    done = otel_tokens("demo", "--ledger", str(missing))
    assert done.returncode == 1
    assert f"Error: --ledger {missing}: No such file or directory" in done.stderr
    assert "Traceback" not in done.stderr
