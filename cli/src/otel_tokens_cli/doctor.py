"""``otel-tokens doctor``: what to check when no token, cost or span shows up.

Runs the checks of :mod:`otel_tokens_cli._doctor_checks` (settings, clients, OTLP export, offline
token counting, and the budget store when one is configured) and prints each as ``ok``, ``warn``
or ``fail`` with a one-line detail, then the configuration in force: as lines and a table, or as
one JSON document. The exit status is 1 when one failed. No credential is printed: URLs are shown
without user, password or query, headers never, and what a message quotes of the budget store
URL's credentials is masked.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping, Sequence
from typing import Any

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from otel_tokens._redaction import redact_url, scrub, url_secrets
from otel_tokens._settings import ENVIRONMENT_VARIABLES
from otel_tokens_cli._doctor_checks import (
    Check,
    Setting,
    check_budget_store,
    check_clients,
    check_configuration,
    check_export,
    check_tokenizer,
    quiet_logs,
)


@click.command(
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    epilog="""\b
Examples:
  otel-tokens doctor
  OTEL_EXPORTER_OTLP_ENDPOINT=http://collector:4318 otel-tokens doctor
  otel-tokens doctor --json | jq '.checks[] | select(.status != "ok")'

Run it in the environment of the service (the same variables, the same virtual
environment): it checks what that service's otel-tokens would do. Exit status 0 when
no check failed, 1 otherwise.""",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document instead of lines and a table.")
def command(as_json: bool) -> None:
    """Check why nothing shows up: clients, configuration, OTLP endpoint, tokenizer, budget store."""
    environ = dict(os.environ)
    with quiet_logs():
        settings, configuration, checks = check_configuration(environ)
        checks += check_clients(settings, environ, configured=not any(c.status == "fail" for c in checks))
        checks += check_export(environ)
        checks.append(check_tokenizer(settings))
        if settings.budget_store != "memory":
            checks.append(check_budget_store(settings))
    store = environ.get("OTEL_TOKENS_BUDGET_STORE", "")
    # Whatever a message may quote of the store URL's credentials; the URL shown redacted stays.
    secrets = [secret for secret in url_secrets(store) if secret != redact_url(store)] if store else []
    checks = [dataclasses.replace(c, detail=scrub(c.detail, secrets)) for c in checks]
    if as_json:
        click.echo(json.dumps(report(checks, configuration), indent=2))
    else:
        render(checks, configuration, Console())
    if any(check.status == "fail" for check in checks):
        raise SystemExit(1)


# Output.


def report(checks: Sequence[Check], configuration: Sequence[Setting]) -> dict[str, Any]:
    """Everything as plain data."""
    return {
        "checks": [{"check": c.name, "status": c.status, "detail": c.detail} for c in checks],
        "configuration": [
            {"setting": s.name, "variable": ENVIRONMENT_VARIABLES[s.name], "value": s.value, "from": s.source}
            for s in configuration
        ],
        "summary": {status: sum(c.status == status for c in checks) for status in ("ok", "warn", "fail")},
    }


_STYLES: Mapping[str, str] = {"ok": "green", "warn": "yellow", "fail": "bold red"}


def render(checks: Sequence[Check], configuration: Sequence[Setting], console: Console) -> None:
    """One line per check, the configuration table, then the counts."""
    width = max(len(c.name) for c in checks)
    for check in checks:
        line = Text(f"{check.status:<4}", style=_STYLES[check.status])
        line.append(f"  {check.name:<{width}}  {check.detail}")
        console.print(line, soft_wrap=True)
    table = Table(title="Configuration", title_justify="left")
    for column in ("Setting", "Value", "From"):
        table.add_column(column)
    for setting in configuration:
        table.add_row(Text(setting.name), Text(setting.value), Text(setting.source))
    console.print(table)
    counts = report(checks, configuration)["summary"]
    console.print(
        Text(f"{counts['fail']} failed, {counts['warn']} warning(s), {counts['ok']} ok"), soft_wrap=True
    )
