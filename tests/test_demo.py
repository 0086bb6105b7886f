"""The README's first command: the demo workload runs offline and reports what it recorded."""

from __future__ import annotations

import subprocess
import sys

import pytest


def test_demo_records_every_provider_with_tokens_cost_and_tags():
    env = {"PATH": ""}  # no OTEL_EXPORTER_OTLP_ENDPOINT: nothing leaves the machine
    done = subprocess.run(
        [sys.executable, "-m", "otel_tokens.demo"], capture_output=True, text=True, timeout=120, env=env
    )
    assert done.returncode == 0, done.stderr
    rows = [line.split() for line in done.stdout.splitlines()]
    # One row per recorded call: provider, operation, model, tags, input, cached, output, reasoning, cost.
    expected = [
        "anthropic chat claude-sonnet-4-6 support/ticket-summary 2198 0 220 - 0.011430",
        "anthropic chat claude-sonnet-4-6 support/ticket-summary 2198 2048 220 - 0.004364",
        "gcp.gemini generate_cont gemini-2.5-flash research/market-scan 2400 - 2000 1400 0.005720",
        "aws.bedrock chat us.amazon.nova-lite-v1:0 search/query-rewrite 640 - 40 - 0.000048",
        "ollama chat llama3.1 platform/rag-index 900 - 120 - 0.000000",
        "cohere rerank rerank-v3.5 platform/rag-index - - - - - unpriced",
        "openai chat gpt-5-2025-08-07 research/pricing-agent 5200 0 800 512 0.029000 priority",
    ]
    for row in expected:
        assert row.split() in rows, row
    assert any(row[-1:] == ["RateLimitError"] for row in rows)
    assert any(row[-1:] == ["estimated"] for row in rows)
    assert "unpriced calls 2" in done.stdout


def test_demo_repeats_the_workload_in_rounds():
    done = subprocess.run(
        [sys.executable, "-m", "otel_tokens.demo", "--rounds=2", "--pause=0"],
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": ""},
    )
    assert done.returncode == 0, done.stderr
    assert "round 2/2 done" in done.stdout
    assert "unpriced calls 4" in done.stdout
    bedrock = [line for line in done.stdout.splitlines() if line.startswith("aws.bedrock")]
    assert len(bedrock) == 2


def test_demo_refuses_a_round_count_below_one():
    done = subprocess.run(
        [sys.executable, "-m", "otel_tokens.demo", "--rounds=0"],
        capture_output=True,
        text=True,
        env={"PATH": ""},
    )
    assert done.returncode == 2
    assert "--rounds must be at least 1" in done.stderr


def test_demo_shows_a_configuration_error_as_one_line():
    done = subprocess.run(
        [sys.executable, "-m", "otel_tokens.demo"],
        capture_output=True,
        text=True,
        env={"PATH": "", "OTEL_TOKENS_MAX_TAG_VALUES": "abc"},
    )
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        "otel-tokens-demo: configuration error: OTEL_TOKENS_MAX_TAG_VALUES must be an integer from 1 to "
        "2000 (the OpenTelemetry SDK's default cardinality limit per metric), got 'abc'"
    ]


@pytest.mark.parametrize("module", ["otel_tokens_fake_providers", "otel_tokens_openai", "openai"])
def test_demo_without_its_extra_says_what_to_install_in_one_line(module):
    blocked = f"import sys; sys.modules[{module!r}] = None; from otel_tokens.demo import main; main()"
    done = subprocess.run(
        [sys.executable, "-c", blocked], capture_output=True, text=True, env={"PATH": ""}, timeout=60
    )
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.splitlines() == [
        "otel-tokens-demo: the demo needs the fake providers, the instrumentors and the client SDKs "
        f'({module} is not installed): pip install "otel-tokens[demo]"'
    ]


def test_the_readmes_demo_sample_is_what_the_demo_prints():
    import re
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    sample = readme.split("```\nfake provider server on ", 1)[1].split("\n```", 1)[0]
    sample_lines = ("fake provider server on " + sample).splitlines()
    # The README's command is `otel-tokens demo`; `otel-tokens-demo` prints the same.
    done = subprocess.run(
        [sys.executable, "-m", "otel_tokens_cli", "demo"],
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": ""},
    )
    assert done.returncode == 0, done.stderr
    first, *table = [line.rstrip() for line in done.stdout.splitlines()]
    # As a terminal shows it: the server line, the WARNINGs (stderr) while the workload runs, the rest.
    printed = [first, *done.stderr.splitlines(), *table]
    port = re.compile(r"127\.0\.0\.1:\d+")
    assert [port.sub("PORT", line) for line in sample_lines] == [port.sub("PORT", line) for line in printed]


def test_run_reports_each_step_and_round_and_returns_the_summary():
    # What `otel-tokens demo` builds its progress display on.
    code = """if True:
        from otel_tokens import demo
        steps, rounds, started = [], [], []
        summary = demo.run(
            2,
            0,
            progress=demo.Progress(
                started=lambda url, clients: started.append((url, clients)),
                step=steps.append,
                round_done=lambda number, total: rounds.append((number, total)),
            ),
        )
        print(len(steps) == 2 * demo.STEPS_PER_ROUND, len(set(steps)), rounds)
        print(started[0][0].startswith("http://127.0.0.1:"), "openai" in started[0][1])
        print(summary.splitlines()[0].split())
    """
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env={"PATH": ""}
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "True 8 [(1, 2), (2, 2)]",
        "True True",
        str(
            ["call", "model", "team/feature", "input", "cached", "output", "reasoning", "cost", "USD", "note"]
        ),
    ]
