"""The README's guardrail example runs as written, and its TOML file is the same policy."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import otel_tokens
from otel_tokens import _runtime
from otel_tokens._policy_file import load_policy

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()
SECTION = README.split("## Guardrails: budgets, caps, breakers, catalogues", 1)[1].split("\n## ", 1)[0]


def block(language: str) -> str:
    found = re.search(rf"```{language}\n(.*?)```", SECTION, flags=re.DOTALL)
    assert found, language
    return found.group(1)


def test_the_python_example_runs_and_its_toml_twin_loads_to_the_same_policy(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("OTEL_TOKENS_CONFIGURE_OTEL", "false")  # no exporter towards localhost in a test
    exec(compile(block("python"), "README.md", "exec"), {})
    in_code = _runtime.STATE.guardrails.policy
    assert [b.id for b in in_code.budgets] == ["team-monthly"]
    assert in_code.breakers[0].max_calls_per_minute == 120
    assert in_code.catalogues[0].downgrade_to == "gpt-4o-mini"
    path = tmp_path / "budgets.toml"
    path.write_text(block("toml"))
    assert replace(load_policy(str(path)), source=None) == in_code
    otel_tokens.init(budgets=str(path), configure_otel=False)
    assert otel_tokens.reload_budgets() is True
