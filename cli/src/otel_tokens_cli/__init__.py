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
    "demo": "otel_tokens_cli.demo",
    "doctor": "otel_tokens_cli.doctor",
    "forecast": "otel_tokens_cli.forecast",
    "prices": "otel_tokens_cli.prices",
    "recommend": "otel_tokens_cli.recommend",
    "report": "otel_tokens_cli.report",
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
  otel-tokens demo                                   # a workload against the local fake provider
  otel-tokens report --prometheus http://127.0.0.1:9090 --month 2026-11 --by team
  otel-tokens report --ledger /var/lib/otel-tokens/ledger --month 2026-11 --format focus -o focus.csv
  otel-tokens report --ledger ledger/ --last 30d --by feature --format html -o spend.html
  otel-tokens recommend --prometheus http://127.0.0.1:9090 --last 30d
  otel-tokens forecast --prometheus http://127.0.0.1:9090 --policy budgets.toml
  otel-tokens budgets --policy budgets.toml --store redis://redis.internal:6379/0
  otel-tokens prices claude-sonnet-4-5 --provider anthropic
  otel-tokens prices --check prices.toml
  otel-tokens doctor

Every subcommand has its own --help with examples. The settings are the services' own:
OTEL_TOKENS_* variables are read when no option is given.""",
)
@click.version_option(package_name="otel-tokens-cli", prog_name="otel-tokens")
def main() -> None:
    """See what otel-tokens counts: LLM token spend, budgets and guardrails."""
