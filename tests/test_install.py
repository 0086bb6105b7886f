"""Each of the eleven distributions has the metadata an index page shows: readme, summary, license
file, classifiers, project URLs. The installs themselves are tested by scripts/test-install; the
built archives are checked by scripts/build-dists (LICENSE inside, `twine check --strict`)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from packaging.specifiers import SpecifierSet

ROOT = Path(__file__).resolve().parents[1]
FAKE_PROVIDERS = ROOT / "fake_providers"
CLI = ROOT / "cli"
INSTRUMENTORS = sorted(p for p in (ROOT / "instrumentors").iterdir() if (p / "pyproject.toml").exists())
FOLDERS = [ROOT, FAKE_PROVIDERS, CLI, *INSTRUMENTORS]
URLS = {"Homepage", "Documentation", "Source", "Issues"}


def _project(folder: Path) -> dict:
    return tomllib.loads((folder / "pyproject.toml").read_text())["project"]


def _id(folder: Path) -> str:
    return "core" if folder == ROOT else folder.name


def test_eleven_distributions():
    assert len(FOLDERS) == 11
    assert (FAKE_PROVIDERS / "pyproject.toml").exists()
    assert (CLI / "pyproject.toml").exists()


@pytest.mark.parametrize("folder", FOLDERS, ids=_id)
def test_metadata_is_complete(folder):
    project = _project(folder)
    assert project["description"].strip()
    assert project["readme"] == "README.md"
    assert (folder / "README.md").read_text().startswith(f"# {project['name']}")
    assert project["license"] == "Apache-2.0"
    assert project["license-files"] == ["LICENSE"]
    # Each folder is built on its own (sdist, then the wheel from it), so each carries the file.
    assert (folder / "LICENSE").read_bytes() == (ROOT / "LICENSE").read_bytes()
    assert project["authors"] and project["keywords"]
    assert set(project["urls"]) == URLS
    assert all(
        url.startswith("https://github.com/otel-tokens/otel-tokens") for url in project["urls"].values()
    )


@pytest.mark.parametrize("folder", FOLDERS, ids=_id)
def test_classifiers(folder):
    project = _project(folder)
    classifiers = project["classifiers"]
    assert len(classifiers) == len(set(classifiers))
    for prefix in ("Development Status :: ", "Framework :: OpenTelemetry", "Topic :: ", "Typing :: Typed"):
        assert any(c.startswith(prefix) for c in classifiers), prefix
    # PEP 639: the License-Expression replaces the "License ::" classifiers, and PyPI refuses both.
    assert not [c for c in classifiers if c.startswith("License ::")]
    versions = [
        c.rsplit(" :: ", 1)[1] for c in classifiers if c.startswith("Programming Language :: Python :: 3.")
    ]
    assert versions, "no Python version classifiers"
    requires_python = SpecifierSet(project["requires-python"])
    assert all(requires_python.contains(f"{v}.0") for v in versions)
    assert not requires_python.contains(f"3.{min(int(v.split('.')[1]) for v in versions) - 1}.0")


def test_every_distribution_shares_the_cores_release_metadata():
    core = _project(ROOT)
    for folder in FOLDERS[1:]:
        project = _project(folder)
        assert project["requires-python"] == core["requires-python"], folder.name
        assert project["authors"] == core["authors"], folder.name
        python = [c for c in project["classifiers"] if c.startswith("Programming Language")]
        assert python == [c for c in core["classifiers"] if c.startswith("Programming Language")], folder.name


@pytest.mark.parametrize("folder", INSTRUMENTORS, ids=_id)
def test_instrumentor_readme_states_its_range_and_install(folder):
    project = _project(folder)
    readme = (folder / "README.md").read_text()
    [requirement] = project["optional-dependencies"]["instruments"]
    assert f"`{requirement}`" in readme  # the supported versions, exactly as the extra bounds them
    extra = project["name"].removeprefix("otel-tokens-")
    assert f'pip install "otel-tokens[{extra}]"' in readme
    assert f"pip install . ./instrumentors/{folder.name}" in readme
    assert "https://github.com/otel-tokens/otel-tokens#readme" in readme  # the main README


def test_fake_providers_readme_states_its_install_and_command():
    readme = (FAKE_PROVIDERS / "README.md").read_text()
    assert 'pip install "otel-tokens[testing]"' in readme
    assert "pip install ./fake_providers" in readme
    assert "python -m otel_tokens_fake_providers --port 8089" in readme
    assert "https://github.com/otel-tokens/otel-tokens#readme" in readme


def test_cli_readme_states_its_install_and_command():
    readme = (CLI / "README.md").read_text()
    assert 'pip install "otel-tokens[cli]"' in readme
    assert "pip install . ./cli" in readme
    assert "otel-tokens budgets --policy budgets.toml --store redis://" in readme
    assert "https://github.com/otel-tokens/otel-tokens#readme" in readme
    project = _project(CLI)
    assert project["scripts"] == {"otel-tokens": "otel_tokens_cli:main"}
    # Pinned like the instrumentors pin the core: a matching release line on both sides.
    assert "otel-tokens>=0.1.0,<0.2" in project["dependencies"]


def test_ci_runs_exactly_the_readmes_test_command():
    readme = (ROOT / "README.md").read_text()
    [command] = [line for line in readme.splitlines() if line.startswith("scripts/uv run pytest")]
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert ci[-1] == command
