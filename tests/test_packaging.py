"""Each instrumentor's `instruments` extra and instrumentation_dependencies() stay in step; the
core's extras offer every instrumentor, the fake providers, the command and what the demo needs."""

from __future__ import annotations

import tomllib
from importlib.metadata import entry_points
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
INSTRUMENTORS = sorted(p for p in (ROOT / "instrumentors").iterdir() if (p / "pyproject.toml").exists())
FAKE_PROVIDERS = "otel-tokens-fake-providers>=0.1.0,<0.2"
CLI = "otel-tokens-cli>=0.1.0,<0.2"


def _normalise(requirement: str) -> str:
    from packaging.requirements import Requirement

    parsed = Requirement(requirement)
    return f"{parsed.name}{','.join(sorted(str(s) for s in parsed.specifier))}"


@pytest.mark.parametrize("folder", INSTRUMENTORS, ids=lambda p: p.name)
def test_instruments_extra_matches_instrumentation_dependencies(folder):
    project = tomllib.loads((folder / "pyproject.toml").read_text())["project"]
    [(name, target)] = project["entry-points"]["opentelemetry_instrumentor"].items()
    assert name == f"otel_tokens_{folder.name}"  # namespaced: disabling a peer's "openai" leaves ours on
    [loaded] = [ep for ep in entry_points(group="opentelemetry_instrumentor") if ep.name == name]
    instrumentor = loaded.load()()
    assert sorted(map(_normalise, project["optional-dependencies"]["instruments"])) == sorted(
        map(_normalise, instrumentor.instrumentation_dependencies())
    )
    for requirement in project["optional-dependencies"]["instruments"]:
        assert "<" in requirement, f"{requirement}: upper bound missing"


def test_core_extras_offer_every_instrumentor():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    # Pinned like the instrumentors pin the core: a matching release line on both sides.
    names = {f"otel-tokens-{folder.name.replace('_', '-')}>=0.1.0,<0.2" for folder in INSTRUMENTORS}
    extras = project["optional-dependencies"]
    assert set(extras["all"]) == names
    for folder in INSTRUMENTORS:
        extra = folder.name.replace("_", "-")
        assert extras[extra] == [f"otel-tokens-{extra}>=0.1.0,<0.2"]


def _instruments() -> dict[str, str]:
    """Each instrumentor's supported client requirement, by the client's distribution name."""
    from packaging.requirements import Requirement

    found = {}
    for folder in INSTRUMENTORS:
        project = tomllib.loads((folder / "pyproject.toml").read_text())["project"]
        for requirement in project["optional-dependencies"]["instruments"]:
            found[Requirement(requirement).name] = requirement
    return found


def test_testing_extra_is_the_fake_providers_alone():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["optional-dependencies"]["testing"] == [FAKE_PROVIDERS]
    # Not in a production install: no plain dependency of the core pulls it in.
    assert not [d for d in project["dependencies"] if "fake-providers" in d]


def test_cli_extra_is_the_command_alone():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["optional-dependencies"]["cli"] == [CLI]
    # Not in a production install: no plain dependency of the core pulls in click or rich.
    assert not [d for d in project["dependencies"] if d.startswith(("otel-tokens-cli", "click", "rich"))]
    assert CLI not in project["optional-dependencies"]["all"]


def test_demo_extra_has_the_fake_providers_every_instrumentor_and_its_clients_supported_ranges():
    from packaging.requirements import Requirement

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    demo = project["optional-dependencies"]["demo"]
    ours = [r for r in demo if r.startswith("otel-tokens-")]
    assert set(ours) == {FAKE_PROVIDERS, *project["optional-dependencies"]["all"]}
    supported = _instruments()
    supported["boto3"] = supported["botocore"].replace("botocore", "boto3")  # released in step
    clients = [r for r in demo if not r.startswith("otel-tokens-")]
    for requirement in clients:
        assert _normalise(requirement) == _normalise(supported[Requirement(requirement).name]), requirement
    # Every client SDK the demo imports, and no other.
    source = (ROOT / "src" / "otel_tokens" / "demo.py").read_text()
    imports = {
        "openai": "import openai",
        "anthropic": "import anthropic",
        "google-genai": "from google import genai",
        "boto3": "import boto3",
        "cohere": "import cohere",
        "ollama": "import ollama",
    }
    assert {Requirement(r).name for r in clients} == set(imports)
    for name, statement in imports.items():
        assert f"    {statement}\n" in source, name
