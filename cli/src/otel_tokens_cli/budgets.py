"""``otel-tokens budgets``: every budget of the policy with its state in the services' store.

The policy and the store are read exactly as the instrumented services read them (the same
settings, :func:`otel_tokens._guardrail_setup.make_store`, so the same keys and prefix). For each
budget: its limit and current window, then one row per live counter of that window (one per
group): spent, reserved by calls in flight, utilisation ((spent + reserved) / limit) and when it
resets. Breakers and catalogues are listed from the policy; their state is not in the store.
Every problem raises :class:`Failure`: one line on stderr, a non-zero exit status.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from otel_tokens._budget_store import CounterState, StoreUnavailable
from otel_tokens._errors import ConfigurationError
from otel_tokens._guardrail_setup import make_store
from otel_tokens._policy_file import load_policy
from otel_tokens._redaction import redact_url, scrub, url_secrets
from otel_tokens._settings import Settings
from otel_tokens.budgets import Breaker, Budget, Catalogue, Policy
from otel_tokens_cli._failure import Failure, UsageFailure

DEFAULT_TIMEOUT_MS = 1000
"""The store timeout when neither ``--timeout`` nor OTEL_TOKENS_BUDGET_STORE_TIMEOUT is given: a
person waits gladly for a second, where the services' 50 ms default guards every LLM call."""

MEMORY_NOTE = (
    "The memory store keeps counters inside each process, so this command can only show the "
    "policy: point --store (or OTEL_TOKENS_BUDGET_STORE) at the Redis the services share."
)
BREAKER_NOTE = (
    "Breaker state lives in each process (it is not in the store): see the otel_tokens.breaker.status metric."
)

# option name -> (setting of otel_tokens._settings.Settings, flag)
_STORE_OPTIONS = {
    "store": ("budget_store", "--store"),
    "key_prefix": ("budget_key_prefix", "--key-prefix"),
    "timeout": ("budget_store_timeout_ms", "--timeout"),
}


@click.command(
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    epilog="""\b
Examples:
  otel-tokens budgets --policy budgets.toml
  otel-tokens budgets --policy budgets.toml --store redis://redis.internal:6379/0
  OTEL_TOKENS_BUDGETS=budgets.toml OTEL_TOKENS_BUDGET_STORE=redis://:secret@redis:6379/0 otel-tokens budgets
  otel-tokens budgets --json | jq '.budgets[] | {id, limit, counters}'

With the memory store (the default) counters live inside each service's process:
this command then shows the policy only.""",
)
@click.option(
    "--policy",
    "policy_path",
    metavar="FILE",
    envvar="OTEL_TOKENS_BUDGETS",
    show_envvar=True,
    help="The budget policy (TOML) the services run with.",
)
@click.option(
    "--store",
    metavar="URL",
    envvar="OTEL_TOKENS_BUDGET_STORE",
    show_envvar=True,
    help="memory (the default) or the services' Redis: redis://[[user]:password@]host:port/db, rediss://, "
    "unix://.",
)
@click.option(
    "--key-prefix",
    metavar="PREFIX",
    envvar="OTEL_TOKENS_BUDGET_KEY_PREFIX",
    show_envvar=True,
    help="The services' key prefix in Redis (default otel_tokens).",
)
@click.option(
    "--timeout",
    metavar="MS",
    envvar="OTEL_TOKENS_BUDGET_STORE_TIMEOUT",
    show_envvar=True,
    help=f"How long the store may take to answer, in milliseconds (default {DEFAULT_TIMEOUT_MS}).",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document instead of tables.")
@click.pass_context
def command(
    ctx: click.Context,
    policy_path: str | None,
    store: str | None,
    key_prefix: str | None,
    timeout: str | None,
    as_json: bool,
) -> None:
    """Show every budget of the policy with its spend, reservations and window from the store."""
    if not policy_path:
        raise UsageFailure("no budget policy: give --policy FILE or set OTEL_TOKENS_BUDGETS")
    try:
        policy = load_policy(policy_path)
    except ConfigurationError as error:
        raise Failure(str(error)) from None
    settings = _settings(ctx, {"store": store, "key_prefix": key_prefix, "timeout": timeout})
    now = time.time()
    states = None if settings.budget_store == "memory" else _snapshot(settings, policy, now)
    document = report(policy, settings, states, now)
    if as_json:
        click.echo(json.dumps(document, indent=2))
    else:
        render(document, Console())


def _settings(ctx: click.Context, values: Mapping[str, str | None]) -> Settings:
    """The store settings from the options (or their variables); a bad value names its source."""
    overrides: dict[str, Any] = {"budget_store_timeout_ms": DEFAULT_TIMEOUT_MS}
    for option, value in values.items():
        if value is None:
            continue
        setting, flag = _STORE_OPTIONS[option]
        from_env = ctx.get_parameter_source(option) == click.core.ParameterSource.ENVIRONMENT
        source = next(p.envvar for p in ctx.command.params if p.name == option) if from_env else flag
        try:
            Settings.load({setting: value}, environ={})
        except ConfigurationError as error:
            # The message starts with the setting's name: name the option or variable instead.
            raise Failure(f"{source}{str(error).removeprefix(setting)}") from None
        overrides[setting] = value
    return Settings.load(overrides, environ={})


def _snapshot(settings: Settings, policy: Policy, now: float) -> list[CounterState]:
    """Every live counter of the policy's budgets, read from the store the settings name."""
    url = settings.budget_store
    try:
        store = make_store(settings)
    except ConfigurationError as error:
        raise Failure(scrub(str(error), url_secrets(url))) from None
    try:
        return store.snapshot(now, [budget.id for budget in policy.budgets])
    except StoreUnavailable as error:
        raise Failure(
            f"cannot read the budget store {redact_url(url)} "
            f"(timeout {settings.budget_store_timeout_ms} ms): "
            f"{scrub(str(error), url_secrets(url))}"
        ) from None
    finally:
        store.close()


# The JSON document, which the tables render.


def report(
    policy: Policy, settings: Settings, states: list[CounterState] | None, now: float
) -> dict[str, Any]:
    """The whole answer as plain data; ``states`` None means the store cannot be read (memory)."""
    moment = datetime.fromtimestamp(now, UTC)
    memory = states is None
    notes = [MEMORY_NOTE] if memory else []
    if policy.breakers:
        notes.append(BREAKER_NOTE)
    return {
        "generated_at": _iso(moment),
        "policy": policy.source,
        "store": {
            "kind": "memory" if memory else "redis",
            "url": redact_url(settings.budget_store),
            "key_prefix": settings.budget_key_prefix,
            "timeout_ms": settings.budget_store_timeout_ms,
            "shared": not memory,
        },
        "budgets": [_budget(budget, moment, states) for budget in policy.budgets],
        "breakers": [_breaker(breaker) for breaker in policy.breakers],
        "catalogues": [_catalogue(catalogue) for catalogue in policy.catalogues],
        "notes": notes,
    }


def _budget(budget: Budget, moment: datetime, states: list[CounterState] | None) -> dict[str, Any]:
    window = budget.parsed_window()
    start, end = window.bounds(moment)
    resets_at = _iso(end) if window.kind in ("calendar", "fixed") and end is not None else None
    counters = None
    if states is not None:
        key = window.key(moment)  # the current window's counters; the last one's linger a day
        current = [s for s in states if s.counter.budget_id == budget.id and s.counter.window == key]
        counters = [
            {
                "group": state.counter.group,
                "spent": state.spent,
                "held": state.held,
                "holds": state.holds,
                "utilisation": _utilisation(state.spent + state.held, budget.limit),
                "resets_at": resets_at,
            }
            for state in sorted(current, key=lambda s: s.counter.group)
        ]
    return {
        "id": budget.id,
        "unit": budget.unit,
        "limit": budget.limit,
        "window": {
            "spec": budget.window,
            "kind": window.kind,
            "timezone": budget.timezone if window.kind == "calendar" else "UTC",
            "start": None if window.kind == "lifetime" else _iso(start),
            "end": None if end is None or window.kind == "lifetime" else _iso(end),
        },
        "resets_at": resets_at,
        "match": _match(budget.match),
        "group_by": list(budget.group_by),
        "action": _action(budget.action),
        "downgrade_to": budget.downgrade_to,
        "counters": counters,
    }


def _breaker(breaker: Breaker) -> dict[str, Any]:
    return {
        "id": breaker.id,
        "match": _match(breaker.match),
        "group_by": list(breaker.group_by),
        "max_usd_per_minute": breaker.max_usd_per_minute,
        "max_calls_per_minute": breaker.max_calls_per_minute,
        "deviations": breaker.deviations,
        "consecutive_minutes": breaker.consecutive_minutes,
        "cooldown_seconds": breaker.cooldown_seconds,
        "action": _action(breaker.action),
        "downgrade_to": breaker.downgrade_to,
    }


def _catalogue(catalogue: Catalogue) -> dict[str, Any]:
    return {
        "id": catalogue.id,
        "match": _match(catalogue.match),
        "models": list(catalogue.models),
        "max_output_usd_per_million": catalogue.max_output_usd_per_million,
        "allow_unpriced": catalogue.allow_unpriced,
        "action": _action(catalogue.action),
        "downgrade_to": catalogue.downgrade_to,
    }


def _utilisation(used: float, limit: float | None) -> float | None:
    """Percent of the limit used; a limit of 0 (blocks everything) is full."""
    if limit is None:
        return None
    return 100.0 if limit == 0 else used / limit * 100.0


def _match(match: Mapping[str, str | Sequence[str]]) -> dict[str, str | list[str]]:
    return {key: value if isinstance(value, str) else list(value) for key, value in match.items()}


def _action(action: object) -> str:
    return action if isinstance(action, str) else "callback"


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds")


# The tables.


def render(document: Mapping[str, Any], console: Console) -> None:
    """Print ``document`` as tables and one-line notes."""
    store = document["store"]
    console.print(
        Text(f"Budgets from {document['policy']} at {document['generated_at']}; store {store['url']}"
             + (f" (key prefix {store['key_prefix']})" if store["shared"] else ""))
    )  # fmt: skip
    console.print(_budget_table(document["budgets"], shared=store["shared"]))
    if document["breakers"]:
        console.print(_breaker_table(document["breakers"]))
    if document["catalogues"]:
        console.print(_catalogue_table(document["catalogues"]))
    for note in document["notes"]:
        console.print(Text(note), soft_wrap=True)  # one line each, however narrow the terminal


def _budget_table(budgets: Sequence[Mapping[str, Any]], *, shared: bool) -> Table:
    table = Table(title="Budgets", title_justify="left")
    for name in ("Budget", "Unit", "Limit", "Window"):
        table.add_column(name)
    columns = ("Group", "Spent", "Reserved", "Used", "Resets at") if shared else ("Group by", "Action")
    for name in columns:
        table.add_column(name, justify="right" if name in ("Spent", "Reserved", "Used") else "left")
    for budget in budgets:
        unit, limit = budget["unit"], budget["limit"]
        head = [budget["id"], unit, "unlimited" if limit is None else _amount(limit, unit), _window(budget)]
        if not shared:
            action = budget["action"] + (f" to {budget['downgrade_to']}" if budget["downgrade_to"] else "")
            table.add_row(*map(Text, [*head, ", ".join(budget["group_by"]) or "-", action]))
            continue
        counters = budget["counters"] or [
            {"group": "", "spent": 0.0, "held": 0.0, "holds": 0, "resets_at": budget["resets_at"],
             "utilisation": _utilisation(0.0, limit)}
        ]  # fmt: skip
        for index, counter in enumerate(counters):
            holds = counter["holds"]
            reserved = _amount(counter["held"], unit) + (
                f" ({holds} hold{'s' * (holds != 1)})" if holds else ""
            )
            used = "-" if counter["utilisation"] is None else f"{counter['utilisation']:.1f}%"
            cells = head if index == 0 else [""] * len(head)
            group = counter["group"] or ("(all)" if not budget["group_by"] else "(none yet)")
            resets = _resets(budget["window"]["kind"], counter["resets_at"])
            table.add_row(
                *map(Text, [*cells, group, _amount(counter["spent"], unit), reserved, used, resets])
            )
    return table


def _breaker_table(breakers: Sequence[Mapping[str, Any]]) -> Table:
    table = Table(title="Breakers", title_justify="left")
    for name in ("Breaker", "Match", "Group by", "Trips at", "Action"):
        table.add_column(name)
    for breaker in breakers:
        trips = [
            f"{breaker['max_usd_per_minute']:g} USD/min" if breaker["max_usd_per_minute"] is not None else "",
            f"{breaker['max_calls_per_minute']} calls/min"
            if breaker["max_calls_per_minute"] is not None
            else "",
            f"{breaker['deviations']:g} deviations" if breaker["deviations"] is not None else "",
        ]
        group_by = ", ".join(breaker["group_by"]) or "-"
        limits = ", ".join(t for t in trips if t) or "-"
        cells = [
            breaker["id"],
            _describe_match(breaker["match"]),
            group_by,
            limits,
            _describe_action(breaker),
        ]
        table.add_row(*map(Text, cells))
    return table


def _catalogue_table(catalogues: Sequence[Mapping[str, Any]]) -> Table:
    table = Table(title="Model catalogues", title_justify="left")
    for name in ("Catalogue", "Match", "Models", "Max output USD/M", "Action"):
        table.add_column(name)
    for catalogue in catalogues:
        most = catalogue["max_output_usd_per_million"]
        table.add_row(
            *map(Text, [catalogue["id"], _describe_match(catalogue["match"]),
                        ", ".join(catalogue["models"]) or "any", "-" if most is None else f"{most:g}",
                        _describe_action(catalogue)])
        )  # fmt: skip
    return table


def _amount(value: float, unit: str) -> str:
    if unit == "token":
        return f"{value:,.0f}"
    return f"{value:,.6f}".rstrip("0").rstrip(".")


def _window(budget: Mapping[str, Any]) -> str:
    window = budget["window"]
    if window["kind"] == "lifetime":
        return "lifetime (never resets)"
    if window["kind"] == "rolling":
        return f"{window['spec']} (the last {window['spec'].split(':', 1)[1]} up to now)"
    return f"{window['spec']}: {_short(window['start'])} to {_short(window['end'])}"


def _resets(kind: str, resets_at: str | None) -> str:
    if resets_at is not None:
        return _short(resets_at)
    return "never" if kind == "lifetime" else "rolling"


def _short(iso: str) -> str:
    return datetime.fromisoformat(iso).strftime("%Y-%m-%d %H:%M UTC")


def _describe_match(match: Mapping[str, str | list[str]]) -> str:
    parts = [f"{key}={value if isinstance(value, str) else '|'.join(value)}" for key, value in match.items()]
    return ", ".join(parts) or "every call"


def _describe_action(item: Mapping[str, Any]) -> str:
    return item["action"] + (f" to {item['downgrade_to']}" if item["downgrade_to"] else "")
