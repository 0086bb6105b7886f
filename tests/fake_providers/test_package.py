"""The distribution's public API, and its promise of no dependencies but the standard library."""

from __future__ import annotations

import subprocess
import sys

import otel_tokens_fake_providers


def test_the_public_api():
    assert otel_tokens_fake_providers.__all__ == [
        "FakeProviderServer",
        "RawResponse",
        "ReceivedRequest",
        "Scenario",
    ]
    for name in otel_tokens_fake_providers.__all__:
        assert getattr(otel_tokens_fake_providers, name).__module__ == "otel_tokens_fake_providers._server"


def test_it_imports_the_standard_library_only():
    # Its pyproject declares no dependencies: importing every module, with otel-tokens and the
    # client SDKs blocked, loads nothing from outside the standard library.
    script = (
        "import sys, pkgutil, importlib\n"
        "for blocked in ('otel_tokens', 'openai', 'opentelemetry', 'httpx'):\n"
        "    sys.modules[blocked] = None\n"
        "before = set(sys.modules)\n"
        "import otel_tokens_fake_providers as package\n"
        "for info in pkgutil.iter_modules(package.__path__):\n"
        "    if info.name != '__main__':\n"
        "        importlib.import_module(f'{package.__name__}.{info.name}')\n"
        "outside = {m.split('.')[0] for m in set(sys.modules) - before}\n"
        "outside -= set(sys.stdlib_module_names) | {'otel_tokens_fake_providers'}\n"
        "print(sorted(outside))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "[]\n"
