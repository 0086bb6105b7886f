"""The seam between the core and the instrumentors: one public, versioned module, pinned ranges.

Instrumentors are published separately from the core, so a core refactor must not break them:
they import ``otel_tokens.instrumentation`` only, pin the core to the minor release whose API
they were built on, and every distribution of the workspace carries the same version.
"""

from __future__ import annotations

import ast
import re
import tomllib
from importlib.metadata import version
from pathlib import Path

import pytest

import otel_tokens
from otel_tokens import instrumentation

ROOT = Path(__file__).resolve().parents[1]
INSTRUMENTORS = sorted(p for p in (ROOT / "instrumentors").iterdir() if (p / "pyproject.toml").exists())


def _core_imports(path: Path) -> list[str]:
    """Every ``otel_tokens...`` module a source file imports (not ``otel_tokens_<client>``)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
            if node.module == "otel_tokens":
                found.extend(names[1:])
            elif node.module.startswith("otel_tokens."):
                found.append(node.module)
        elif isinstance(node, ast.Import):
            found.extend(
                a.name for a in node.names if a.name == "otel_tokens" or a.name.startswith("otel_tokens.")
            )
    return found


@pytest.mark.parametrize("package", INSTRUMENTORS, ids=lambda p: p.name)
def test_an_instrumentor_imports_only_the_public_instrumentation_api(package):
    offenders = {
        f"{path.relative_to(ROOT)}: {module}"
        for path in (package / "src").rglob("*.py")
        for module in _core_imports(path)
        if module != "otel_tokens.instrumentation"
    }
    assert not offenders, "import these through otel_tokens.instrumentation:\n" + "\n".join(sorted(offenders))


def test_the_import_check_catches_a_private_import(tmp_path):
    module = tmp_path / "m.py"
    module.write_text(
        "from otel_tokens._streams import SKIP\nfrom otel_tokens import semconv\nimport otel_tokens.record\n"
    )
    assert _core_imports(module) == ["otel_tokens._streams", "otel_tokens.semconv", "otel_tokens.record"]


@pytest.mark.parametrize("package", INSTRUMENTORS, ids=lambda p: p.name)
def test_an_instrumentor_pins_the_core_to_its_minor_release(package):
    project = tomllib.loads((package / "pyproject.toml").read_text())["project"]
    (pin,) = [d for d in project["dependencies"] if re.match(r"otel-tokens\b", d)]
    major, minor, _ = otel_tokens.__version__.split(".")
    assert pin.replace(" ", "") == f"otel-tokens>={major}.{minor}.0,<{major}.{int(minor) + 1}"


def test_every_distribution_has_the_cores_version_and_reads_it_from_its_metadata():
    core = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert otel_tokens.__version__ == version("otel-tokens") == core
    for package in [*INSTRUMENTORS, ROOT / "fake_providers", ROOT / "cli"]:
        project = tomllib.loads((package / "pyproject.toml").read_text())["project"]
        assert project["version"] == core, project["name"]
        assert version(project["name"]) == core
    # The version is written in pyproject.toml only: the code reads it from the metadata.
    literal = re.compile(r"__version__\s*=\s*['\"]")
    sources = ("src", "instrumentors", "fake_providers", "cli")
    for path in [path for folder in sources for path in (ROOT / folder).rglob("*.py")]:
        assert not literal.search(path.read_text()), path


def test_the_api_names_everything_it_exports():
    assert instrumentation.API_VERSION == "1.1"
    for name in instrumentation.__all__:
        assert hasattr(instrumentation, name), name
    private = [n for n in instrumentation.__all__ if n.startswith("_")]
    assert private == []
