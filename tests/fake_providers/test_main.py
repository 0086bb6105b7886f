"""`python -m otel_tokens_fake_providers`: serving by hand, and its errors in one line."""

from __future__ import annotations

import subprocess
import sys

import pytest


def _command(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "otel_tokens_fake_providers", *args],
        capture_output=True,
        text=True,
        env={"PATH": ""},
        timeout=30,
    )


def test_command_shows_a_taken_port_as_one_line():
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = _command("--port", str(port))
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        f"python -m otel_tokens_fake_providers: cannot listen on 127.0.0.1:{port}: Address already in use"
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--chunks", "0"), "--chunks must be at least 1"),
        (("--chunk-delay", "-1"), "--chunk-delay cannot be negative"),
        (("--port", "70000"), "--port must be from 0 to 65535, got 70000"),
    ],
)
def test_command_refuses_bad_values_in_one_line(args, message):
    done = _command(*args)
    assert done.returncode == 2
    assert done.stderr.splitlines()[-1].endswith(f"error: {message}"), done.stderr
    assert "Traceback" not in done.stderr


def test_command_serves_openai_requests_until_interrupted():
    import json
    import signal
    import urllib.request

    server = subprocess.Popen(
        [sys.executable, "-m", "otel_tokens_fake_providers", "--port", "0", "--text", "hi there"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={"PATH": ""},
        # As from a terminal: a test run started in the background (`cmd &` in a script) has
        # SIGINT ignored, which the server would inherit, and Python then never interrupts.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        assert server.stdout is not None
        line = server.stdout.readline()
        assert line.startswith("fake provider listening on http://127.0.0.1:"), line
        base_url = line.split("OpenAI base_url: ")[1].split(")")[0]
        request = urllib.request.Request(
            base_url + "/chat/completions",
            data=json.dumps(
                {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "x"}]}
            ).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            body = json.load(response)
        assert body["choices"][0]["message"]["content"] == "hi there"
    finally:
        server.send_signal(signal.SIGINT)
        _, stderr = server.communicate(timeout=10)
    assert server.returncode == 0, stderr
    assert stderr == ""
