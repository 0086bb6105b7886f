"""Each instrumentor's `instruments` extra and instrumentation_dependencies() stay in step."""

from __future__ import annotations

import tomllib
from importlib.metadata import entry_points
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
INSTRUMENTORS = sorted(p for p in (ROOT / "instrumentors").iterdir() if (p / "pyproject.toml").exists())


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
