"""The ``otel-tokens`` command: a click group whose subcommands each live in a module of their own.

A subcommand is a module of this package that defines ``command`` (a :class:`click.Command`),
named in :data:`SUBCOMMANDS`. Modules are imported only when their subcommand runs (or
``--help`` lists them), so one subcommand's dependencies never slow down or break another.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping

import click

__all__ = ["SUBCOMMANDS", "main"]

SUBCOMMANDS: Mapping[str, str] = {
    "budgets": "otel_tokens_cli.budgets",
}
"""Subcommand name -> the module defining its ``command``."""


class _Subcommands(click.Group):
    """A group that loads each subcommand from its module when it is asked for."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*SUBCOMMANDS, *super().list_commands(ctx)})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        module = SUBCOMMANDS.get(cmd_name)
        if module is None:
            return super().get_command(ctx, cmd_name)
        command = importlib.import_module(module).command
        assert isinstance(command, click.Command), module
        return command


@click.group(
    cls=_Subcommands,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    epilog="""\b
Examples:
  otel-tokens budgets --policy budgets.toml --store redis://redis.internal:6379/0
  otel-tokens budgets --json | jq '.budgets[] | {id, spent, limit}'
  otel-tokens budgets --help

The settings are the services' own: OTEL_TOKENS_BUDGETS, OTEL_TOKENS_BUDGET_STORE,
OTEL_TOKENS_BUDGET_KEY_PREFIX and OTEL_TOKENS_BUDGET_STORE_TIMEOUT are read when
no option is given.""",
)
@click.version_option(package_name="otel-tokens-cli", prog_name="otel-tokens")
def main() -> None:
    """See what otel-tokens counts: LLM token spend, budgets and guardrails."""
