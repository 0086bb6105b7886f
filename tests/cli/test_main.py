"""``otel-tokens`` itself: every subcommand listed, each with its own help and examples."""

from __future__ import annotations

import re

import pytest
from otel_tokens_cli import SUBCOMMANDS

from ._run import otel_tokens


def test_every_subcommand_is_listed_with_an_example() -> None:
    completed = otel_tokens("--help")
    assert completed.returncode == 0, completed.stderr
    listed = re.findall(r"^  (\w+) {2,}\S", completed.stdout.split("Commands:")[1], re.MULTILINE)
    assert (
        listed
        == sorted(SUBCOMMANDS)
        == ["budgets", "demo", "doctor", "forecast", "prices", "recommend", "report"]
    )
    for name in SUBCOMMANDS:
        assert f"    otel-tokens {name}" in completed.stdout, name


@pytest.mark.parametrize("name", sorted(SUBCOMMANDS))
def test_each_subcommand_has_help_with_examples(name: str) -> None:
    completed = otel_tokens(name, "--help")
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.startswith(f"Usage: otel-tokens {name} [OPTIONS]")
    examples = completed.stdout.split("Examples:\n", 1)[1]
    assert re.search(rf"^ +otel-tokens {name}\b", examples, re.MULTILINE), completed.stdout


def test_an_unknown_subcommand_is_one_clear_line() -> None:
    completed = otel_tokens("reprot")
    assert completed.returncode == 2
    assert "Error: No such command 'reprot'." in completed.stderr
