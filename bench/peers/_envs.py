"""One virtual environment per variant, built with uv under a cache directory and reused.

Every environment gets the same client stack: openai, anthropic and httpx2 (the benchmark's
transport) and everything they depend on at the versions of this checkout's ``uv.lock``, as
constraints, so only the instrumentation differs between variants. otel-tokens' own
dependencies (``Variant.locked``) come from the lock too: it is measured as this checkout pins
it. The OpenTelemetry API and SDK are pinned to one release for all (``OTEL_PINS``): the same
exporter code runs everywhere.

An environment is rebuilt only when what it was built from changes (the variant's packages, the
pins, the interpreter, or for editable installs their ``pyproject.toml``), recorded in a spec file
inside it. Installing is the only step that reaches the network (the package registry); the
measuring children run offline.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from _variants import Variant

SDK_ROOTS = ("openai", "anthropic", "httpx2")
"""What every child imports: the two clients and the in-process transport's HTTP library."""

# openlit 1.45.0 needs the contrib HTTP instrumentations, whose newest release (0.66b1) pins
# opentelemetry-semantic-conventions 0.66b1 and so the 1.45.1 API/SDK; the lock has 1.45.2.
# 1.45.1 is the newest release every variant accepts.
OTEL_PINS = ("opentelemetry-api==1.45.1", "opentelemetry-sdk==1.45.1")

SPEC_FILE = "bench-spec.json"
Log = Callable[[str], None]


def default_cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "otel-tokens" / "bench-peers"


def locked_stack(lock: Path, roots: tuple[str, ...]) -> dict[str, str]:
    """``roots`` and their dependency closure in ``uv.lock``, name -> version, registry packages only.

    OpenTelemetry packages are left out: ``OTEL_PINS`` decides those for every variant. This
    checkout's own (editable) packages are walked through but not pinned.
    """
    packages = {p["name"]: p for p in tomllib.loads(lock.read_text())["package"]}
    found: dict[str, str] = {}
    seen: set[str] = set()
    todo = list(roots)
    while todo:
        name = todo.pop()
        if name in seen or name.startswith("opentelemetry-"):
            continue
        seen.add(name)
        package = packages[name]
        if "registry" in package["source"]:
            found[name] = package["version"]
        todo.extend(dep["name"] for dep in package.get("dependencies", ()))
    return found


@dataclass
class Env:
    variant: Variant
    python: Path | None = None
    versions: dict[str, str] = field(default_factory=dict)
    void: str | None = None
    """Why this variant cannot be measured (install failed), or None."""


def _spec(variant: Variant, repo: Path, pins: dict[str, str]) -> str:
    editable_projects = {
        path: hashlib.sha256((repo / path / "pyproject.toml").read_bytes()).hexdigest()
        for path in variant.editable
    }
    spec = {
        "requirements": variant.requirements,
        "editable": editable_projects,
        "overrides": variant.overrides,
        "pins": pins,
        "otel": OTEL_PINS,
        "python": sys.version,
    }
    return json.dumps(spec, sort_keys=True)


def _run(command: list[str], log: Log) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "UV_PROJECT_ENVIRONMENT")}
    log("  $ " + " ".join(command))
    return subprocess.run(command, capture_output=True, text=True, env=env, check=False)


def _tail(text: str, lines: int = 6) -> str:
    return " | ".join(line.strip() for line in text.strip().splitlines()[-lines:])


def installed_versions(python: Path) -> dict[str, str]:
    listing = subprocess.run(
        ["uv", "pip", "list", "--python", str(python), "--format", "json"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return {entry["name"]: entry["version"] for entry in json.loads(listing)}


def ensure(variant: Variant, repo: Path, cache: Path, rebuild: bool, log: Log) -> Env:
    """The variant's environment, built if missing or stale; ``Env.void`` says why it failed."""
    home = cache / variant.name
    python = home / "bin" / "python"
    pins = locked_stack(repo / "uv.lock", SDK_ROOTS + variant.locked)
    spec = _spec(variant, repo, pins)
    spec_path = home / SPEC_FILE
    fresh = not rebuild and python.exists() and spec_path.exists() and spec_path.read_text() == spec
    if not fresh:
        log(f"building {variant.name} in {home}")
        shutil.rmtree(home, ignore_errors=True)
        made = _run(["uv", "venv", "--quiet", "--python", sys.executable, str(home)], log)
        if made.returncode != 0:
            return Env(variant, void=f"uv venv failed: {_tail(made.stderr)}")
        constraints = home / "bench-constraints.txt"
        constraints.write_text("".join(f"{n}=={v}\n" for n, v in sorted(pins.items())) + "\n".join(OTEL_PINS))
        command = ["uv", "pip", "install", "--python", str(python), "--compile-bytecode"]
        command += ["--constraints", str(constraints)]
        if variant.overrides:
            overrides = home / "bench-overrides.txt"
            overrides.write_text("".join(f"{name}=={pins[name]}\n" for name in variant.overrides))
            command += ["--overrides", str(overrides)]
        command += [*SDK_ROOTS, "opentelemetry-sdk", *variant.requirements]
        for path in variant.editable:
            command += ["--editable", str(repo / path)]
        installed = _run(command, log)
        if installed.returncode != 0:
            return Env(variant, void=f"install failed: {_tail(installed.stderr)}")
        spec_path.write_text(spec)
    return Env(variant, python=python, versions=installed_versions(python))
