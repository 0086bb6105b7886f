"""The shipped Grafana dashboards as data: their panels and their PromQL, with Grafana's variables filled in.

Used by the static dashboard tests and by the end-to-end stack test, which runs every query against a
real Prometheus. Variables are substituted as Grafana's Prometheus data source does: ``$var``,
``${var}``, ``${var:format}`` and ``[[var]]``; a multi-value or All-able variable set to All becomes its
``allValue`` (or ``.*``); a custom variable with several options and no All (the group-by variable)
yields one query per option, so every option's query is exercised.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
DASHBOARDS_DIR = ROOT / "dashboards"

MACRO_DEFAULTS: Mapping[str, str] = {"__rate_interval": "1m", "__interval": "15s", "__range": "10m"}
"""Grafana's time macros as the tests evaluate them; ``overrides`` in `panel_queries` replace them."""

# $name, ${name}, ${name:format}, [[name]], [[name:format]]
_VARIABLE = re.compile(r"\$\{(\w+)(?::(\w+))?\}|\[\[(\w+)(?::(\w+))?\]\]|\$(\w+)")
_DURATION = re.compile(r"(\d+)(ms|s|m|h|d|w|y)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}
_REGEX_SPECIALS = re.compile(r"([\\^$*+?.()|{}\[\]])")
_ALL = "$__all"
_TOKEN = re.compile(
    r"""(?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)
    |(?P<number>\d[\w.]*)
    |(?P<name>[A-Za-z_:][\w:]*)
    |(?P<op>=~|!~|!=|==|<=|>=|[{}()\[\],=<>+\-*/%^@])
    |(?P<space>\s+)""",
    re.VERBOSE,
)
_GROUPING = frozenset({"by", "without", "on", "ignoring", "group_left", "group_right"})
_KEYWORDS = frozenset({"and", "or", "unless", "bool", "offset", "inf", "nan", "start", "end"}) | _GROUPING

Value = str | Sequence[str]


@dataclass(frozen=True, slots=True)
class PanelQuery:
    """One target of one panel, every variable and macro substituted."""

    dashboard: str
    panel: str
    ref_id: str
    expr: str
    instant: bool
    """True for an instant query (stat, gauge, table panels); False for a range query (graphs)."""
    variant: str = ""
    """Which options of multi-option custom variables this query was expanded with, e.g. ``group_by=team``."""


def load_dashboards(directory: Path = DASHBOARDS_DIR) -> list[dict[str, Any]]:
    """Every shipped dashboard (``dashboards/*.json``), in file-name order."""
    return [json.loads(path.read_text(encoding="utf-8")) for path in sorted(directory.glob("*.json"))]


def panels(dashboard: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel that is not a row, including those inside collapsed rows."""
    for panel in dashboard.get("panels", []):
        if panel.get("type") == "row":
            yield from panel.get("panels", [])
        else:
            yield panel


def variables(dashboard: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Template variables by name."""
    return {variable["name"]: variable for variable in dashboard.get("templating", {}).get("list", [])}


def variable_names(text: str) -> set[str]:
    """Names of the variables and macros ``text`` refers to (``__range``, ``team``...)."""
    names = {next(group for group in match.groups() if group) for match in _VARIABLE.finditer(text)}
    return {name for name in names if not name.isdigit()}


def metric_names(expr: str) -> set[str]:
    """Metric names a PromQL expression selects (``foo`` in ``rate(foo{a="b"}[1m])``)."""
    return _names(expr)[0]


def label_names(expr: str) -> set[str]:
    """Label names a PromQL expression matches on or groups by (not those only inside string arguments)."""
    return _names(expr)[1]


def _names(expr: str) -> tuple[set[str], set[str]]:
    tokens = []
    position = 0
    while position < len(expr):
        match = _TOKEN.match(expr, position)
        if match is None:
            raise ValueError(f"cannot tokenize {expr[position : position + 20]!r} in {expr!r}")
        position = match.end()
        if match.lastgroup != "space":
            tokens.append((match.lastgroup, match.group()))
    metrics: set[str] = set()
    labels: set[str] = set()
    braces = brackets = 0
    label_list = False
    for index, (kind, text) in enumerate(tokens):
        following = tokens[index + 1][1] if index + 1 < len(tokens) else ""
        if text in "{}[]" and kind == "op":
            braces += {"{": 1, "}": -1}.get(text, 0)
            brackets += {"[": 1, "]": -1}.get(text, 0)
        elif brackets:  # a range or subquery: durations and steps only
            continue
        elif label_list and text == ")":
            label_list = False
        elif kind != "name":
            continue
        elif braces or label_list:
            labels.add(text)
        elif text in _GROUPING and following == "(":
            label_list = True
        elif following != "(" and following not in _GROUPING and text not in _KEYWORDS:
            # Not a function or aggregation call (`rate(`, `sum by (`), nor a keyword: a metric name.
            metrics.add(text)
    return metrics, labels


def seconds(duration: str) -> float:
    """Seconds in a Prometheus duration such as ``10m`` or ``1h30m``."""
    parts = _DURATION.findall(duration)
    if not parts or "".join(number + unit for number, unit in parts) != duration:
        raise ValueError(f"not a duration: {duration!r}")
    return sum(int(number) * _UNIT_SECONDS[unit] for number, unit in parts)


def macros(overrides: Mapping[str, Value] | None = None) -> dict[str, str]:
    """Grafana's interval and range macros, derived ones (``__range_s``, ``__range_ms``...) included."""
    values = {**MACRO_DEFAULTS, **{k: v for k, v in (overrides or {}).items() if k in MACRO_DEFAULTS}}
    result = {name: str(value) for name, value in values.items()}
    for name in MACRO_DEFAULTS:
        span = seconds(result[name])
        result[name + "_ms"] = str(round(span * 1000))
        if name == "__range":
            result["__range_s"] = str(round(span))
    # A derived macro given explicitly (``__range_s``...) wins over the one derived here.
    result.update(
        {k: str(v) for k, v in (overrides or {}).items() if k in result and k not in MACRO_DEFAULTS}
    )
    return result


def substitute(
    text: str, values: Mapping[str, Value], dashboard_variables: Mapping[str, Mapping[str, Any]]
) -> str:
    """``text`` with every variable replaced; an unknown variable raises ``KeyError``."""

    def replace(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(3) or match.group(5)
        fmt = match.group(2) or match.group(4)
        if name.isdigit():  # a regex group reference such as label_replace's "$1", not a variable
            return match.group(0)
        if name not in values:
            raise KeyError(f"variable ${name} is not defined")
        return _format(values[name], fmt, dashboard_variables.get(name, {}))

    return _VARIABLE.sub(replace, text)


def panel_queries(
    dashboard: Mapping[str, Any], overrides: Mapping[str, Value] | None = None
) -> list[PanelQuery]:
    """Every panel target of ``dashboard`` with variables and macros substituted.

    ``overrides`` maps a variable or macro name (``team``, ``__range``...) to the value to use instead of
    the default: the variable's All value, its current value, or `MACRO_DEFAULTS`. A list is a
    multi-value selection.
    """
    overrides = dict(overrides or {})
    defined = variables(dashboard)
    base: dict[str, Value] = macros(overrides)
    expand: dict[str, list[tuple[str, str]]] = {}
    for name, variable in defined.items():
        if name in overrides:
            base[name] = overrides[name]
            continue
        choices = _choices(variable)
        if len(choices) > 1:
            expand[name] = choices
        else:
            base[name] = _default(variable)
    title = dashboard.get("title", "")
    result = []
    for panel in panels(dashboard):
        for target in panel.get("targets", []):
            expr = target.get("expr", "")
            used = sorted(variable_names(expr) & expand.keys())
            for combination in itertools.product(*(expand[name] for name in used)):
                values = dict(base)
                values.update({name: value for name, (_, value) in zip(used, combination, strict=True)})
                variant = ",".join(
                    f"{name}={text}" for name, (text, _) in zip(used, combination, strict=True)
                )
                result.append(
                    PanelQuery(
                        dashboard=title,
                        panel=panel.get("title", ""),
                        ref_id=target.get("refId", ""),
                        expr=substitute(expr, values, defined),
                        instant=bool(target.get("instant")) and not target.get("range"),
                        variant=variant,
                    )
                )
    return result


def _choices(variable: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(text, value) of each option of a custom variable without All; empty for other variables."""
    if variable.get("type") != "custom" or variable.get("includeAll"):
        return []
    options = variable.get("options") or []
    if options:
        return [(str(option["text"]), str(option["value"])) for option in options]
    # Grafana's custom syntax: "text : value" or "value", comma-separated.
    pairs = []
    for item in str(variable.get("query", "")).split(","):
        text, _, value = item.strip().partition(" : ")
        pairs.append((text.strip(), (value or text).strip()))
    return [pair for pair in pairs if pair[1]]


def _default(variable: Mapping[str, Any]) -> Value:
    """The value Grafana starts with: All (as allValue), else the current or default value."""
    kind = variable.get("type")
    current = variable.get("current") or {}
    value = current.get("value")
    selected = value if isinstance(value, list) else [value] if value is not None else []
    if variable.get("includeAll") and (not selected or _ALL in selected):
        return _ALL
    if kind in ("textbox", "constant") and not selected:
        return str(variable.get("query", ""))
    if kind == "datasource" and not selected:
        return str(variable.get("query", ""))
    if not selected:
        raise ValueError(f"variable {variable.get('name')} has no value to substitute")
    return selected if variable.get("multi") else selected[0]


def _format(value: Value, fmt: str | None, variable: Mapping[str, Any]) -> str:
    """Grafana's rendering of ``value`` in a Prometheus query, with an optional ``:format``."""
    if value == _ALL or (not isinstance(value, str) and list(value) == [_ALL]):
        return str(variable.get("allValue") or ".*")
    items = [value] if isinstance(value, str) else list(value)
    multi = bool(variable.get("multi") or variable.get("includeAll"))
    if fmt is None:
        # The Prometheus data source escapes for a regex matcher when a variable can hold several values.
        if not multi:
            return items[0].replace("\\", "\\\\").replace("'", "\\\\'")
        escaped = [_regex_escape(item) for item in items]
        return escaped[0] if len(escaped) == 1 else "(" + "|".join(escaped) + ")"
    if fmt == "regex":
        escaped = [_REGEX_SPECIALS.sub(r"\\\1", item) for item in items]
        return escaped[0] if len(escaped) == 1 else "(" + "|".join(escaped) + ")"
    if fmt in ("raw", "text"):
        return ",".join(items)
    if fmt == "csv":
        return ",".join(items)
    if fmt == "pipe":
        return "|".join(items)
    if fmt == "doublequote":
        return ",".join(f'"{item}"' for item in items)
    if fmt == "singlequote":
        return ",".join(f"'{item}'" for item in items)
    if fmt == "json":
        return json.dumps(items if len(items) > 1 else items[0])
    raise ValueError(f"variable format :{fmt} is not supported by these tests")


def _regex_escape(value: str) -> str:
    # Inside a PromQL string a regex backslash is written twice.
    return _REGEX_SPECIALS.sub(r"\\\\\1", value)
