"""Guardrails written in a TOML file: :func:`load_policy` reads one into a :class:`Policy`.

The file holds an optional ``[defaults]`` table (``hold_seconds`` and ``max_output_tokens`` of
:class:`~otel_tokens.budgets.Policy`) and any number of ``[[budget]]``, ``[[breaker]]`` and
``[[catalogue]]`` tables, whose keys are the field names of :class:`~otel_tokens.budgets.Budget`,
:class:`~otel_tokens.budgets.Breaker` and :class:`~otel_tokens.budgets.Catalogue`, with the same
defaults and the same validation. What differs from building them in code:

- every table needs an ``id``, unique across the file;
- a budget without ``limit`` counts without limiting (``None``); ``limit = 0`` blocks every call;
- TOML has no null, so ``deviations = false`` turns a breaker's deviation test off (``None``);
- ``action`` is a string: callbacks can only be given in code;
- integers are accepted where a number with a fraction is (``limit = 5000``), booleans are not.

A full example::

    [defaults]                    # optional
    hold_seconds = 600
    max_output_tokens = { "gpt-4o*" = 16384, "claude-*" = 8192 }

    [[budget]]
    id = "search-monthly"
    limit = 5000                  # USD; omit the key for "unlimited (count only)"; 0 blocks everything
    unit = "USD"                  # or "token"
    window = "month"              # day|week|month|quarter|lifetime|fixed:15m|rolling:1h
    timezone = "Europe/Paris"
    week_start = "monday"
    reset_time = "00:00"
    match = { team = "search", model = ["gpt-4o*", "claude-*"] }
    group_by = ["feature"]
    thresholds = [0.5, 0.8, 1.0]
    action = "block"              # warn|block|downgrade
    on_unpriced = "estimate"      # block|estimate|allow
    unpriced_rates = [15.0, 75.0] # USD per million input, output tokens
    fail_mode = "open"            # open|closed

    [[breaker]]
    id = "runaway-agent"
    match = { feature = "agent" }
    group_by = ["team"]
    max_usd_per_minute = 5.0
    max_calls_per_minute = 600
    deviations = 4.0              # false: no deviation test
    consecutive_minutes = 3
    baseline_minutes = 30
    smoothing = 0.1
    cooldown_seconds = 300
    probe_calls = 5
    action = "block"
    fail_mode = "open"

    [[catalogue]]
    id = "search-models"
    match = { team = "search" }
    models = ["gpt-4o-mini", "claude-haiku-*"]
    max_output_usd_per_million = 10
    allow_unpriced = false
    action = "downgrade"          # downgrade_to is required with "downgrade", refused otherwise
    downgrade_to = "gpt-4o-mini"

An empty file is a valid policy without guardrails. Every problem raises ConfigurationError
naming the file, the table, its index and id, and the field, for example
``budgets /etc/b.toml: budget[1] ('team-cap'): limit must be a finite number at least 0, got -5``.
"""

from __future__ import annotations

import dataclasses
import difflib
from typing import Any, TypeVar

from otel_tokens._config_file import read_toml
from otel_tokens._errors import ConfigurationError
from otel_tokens.budgets import _ID, Breaker, Budget, Catalogue, Policy

_T = TypeVar("_T", bound="Budget | Breaker | Catalogue | Policy")
_Kind = type[Budget] | type[Breaker] | type[Catalogue]
_KINDS: dict[str, _Kind] = {
    "budget": Budget,
    "breaker": Breaker,
    "catalogue": Catalogue,
}
_DEFAULTS = ("hold_seconds", "max_output_tokens")
_INT64 = range(-(2**63), 2**63)


def load_policy(path: str) -> Policy:
    """The policy written in the TOML file at ``path``, with ``source=path``.

    Reads the file once and keeps nothing open; reading an unchanged file again gives an equal
    policy. Every problem, from an unreadable file to a misspelt field, raises ConfigurationError
    starting with ``budgets {path}: ``.
    """
    prefix = f"budgets {path}"
    data = read_toml(path, "budgets")
    unknown = sorted(set(data) - {"defaults", *_KINDS})
    if unknown:
        raise ConfigurationError(
            f"{prefix}: unknown top-level key {unknown[0]!r}; "
            "accepted: a [defaults] table and [[budget]], [[breaker]] and [[catalogue]] tables"
        )
    guardrails: dict[str, list[Any]] = {}
    seen: dict[str, str] = {}
    for name, kind in _KINDS.items():
        tables = data.get(name, [])
        if not isinstance(tables, list) or not all(isinstance(table, dict) for table in tables):
            raise ConfigurationError(f"{prefix}: {name!r} must be written as [[{name}]] tables")
        guardrails[name] = []
        for index, table in enumerate(tables):
            ident = table.get("id")
            valid = isinstance(ident, str) and _ID.match(ident)
            where = f"{prefix}: {name}[{index}]" + (f" ({ident!r})" if valid else "")
            guardrails[name].append(_guardrail(where, kind, table))
            if ident in seen:
                raise ConfigurationError(
                    f"{where}: id {ident!r} is already used by {seen[ident]}; ids must be unique in the file"
                )
            seen[ident] = f"{name}[{index}]"
    defaults = data.get("defaults", {})
    if not isinstance(defaults, dict):
        raise ConfigurationError(f"{prefix}: 'defaults' must be written as a [defaults] table")
    where = f"{prefix}: defaults"
    _check_table(where, defaults, _DEFAULTS)
    limits = defaults.get("max_output_tokens", {})
    if not isinstance(limits, dict):
        raise ConfigurationError(
            f"{where}: max_output_tokens must be a table of model glob = tokens, got {limits!r}"
        )
    values = dict(defaults)
    values.update(source=path, **{f"{name}s": items for name, items in guardrails.items()})
    return _construct(where, Policy, values)


def _guardrail(where: str, kind: _Kind, table: dict[str, Any]) -> Budget | Breaker | Catalogue:
    _check_table(where, table, [f.name for f in dataclasses.fields(kind)])
    ident = table.get("id")
    if ident is None:
        raise ConfigurationError(
            f"{where}: missing field 'id' (a name such as 'team-cap', unique in the file)"
        )
    if isinstance(ident, str) and not ident.isascii():
        # Named with its code point: a Cyrillic 'а' in 'teаm' looks like ASCII in any editor.
        char = next(c for c in ident if not c.isascii())
        raise ConfigurationError(
            f"{where}: id {ident!r} contains {char!r} (U+{ord(char):04X}); ids are 1-128 ASCII "
            "letters, digits, '_', '.', ':' or '-'"
        )
    values = dict(table)
    if kind is Budget:
        values.setdefault("limit", None)
    if kind is Breaker and values.get("deviations") is False:
        values["deviations"] = None
    return _construct(where, kind, values)


def _check_table(where: str, table: dict[str, Any], accepted: list[str] | tuple[str, ...]) -> None:
    """Refuse unknown keys (with a suggestion for a typo) and integers TOML cannot hold."""
    unknown = sorted(set(table) - set(accepted))
    if unknown:
        close = difflib.get_close_matches(unknown[0], accepted, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ConfigurationError(
            f"{where}: unknown field {unknown[0]!r}{hint}; accepted: {', '.join(sorted(accepted))}"
        )
    for name, value in table.items():
        # tomllib reads any integer; TOML allows 64 bits, and a larger one would overflow later.
        stack = [value]
        while stack:
            item = stack.pop()
            if isinstance(item, int) and not isinstance(item, bool) and item not in _INT64:
                raise ConfigurationError(f"{where}: {name} holds {item}, outside TOML's 64-bit integer range")
            stack.extend(item.values() if isinstance(item, dict) else item if isinstance(item, list) else ())


def _construct(where: str, kind: type[_T], values: dict[str, Any]) -> _T:
    """``kind(**values)``, its ConfigurationError re-raised under ``where`` (the dataclasses store
    numbers as floats themselves: ``limit = 5000`` gives 5000.0, as in code)."""
    try:
        built = kind(**values)
    except ConfigurationError as error:
        message = str(error)
        name = kind.__name__
        # ``where`` replaces the dataclass's own name: "Budget 'x': ", "Policy: ", "Budget id must".
        for own in (f"{name} {values.get('id')!r}: ", f"{name}: ", f"{name} "):
            if message.startswith(own):
                message = message[len(own) :]
                break
        raise ConfigurationError(f"{where}: {message}") from None
    return built
