"""The shipped Grafana dashboards, checked without Grafana or a Prometheus server.

The JSON is what ``dashboards/generate.py`` writes and what grafana-foundation-sdk's dashboard model
decodes and re-encodes unchanged; every query uses only defined variables, documented series and labels,
and the data source variable; every query parses (``promtool check rules``); the key panels compute the
right numbers on synthetic series (``promtool test rules``). The end-to-end stack test runs the same
queries (from ``_dashboards.panel_queries``) against a real Prometheus fed by the real SDK.
"""

from __future__ import annotations

import copy
import enum
import importlib.util
import json
import subprocess
import sys
import types
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from grafana_foundation_sdk.cog import plugins
from grafana_foundation_sdk.cog import runtime as cogruntime
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.dashboard import Dashboard, Panel, RowPanel

from ._dashboards import (
    DASHBOARDS_DIR,
    label_names,
    load_dashboards,
    metric_names,
    panel_queries,
    panels,
    variable_names,
    variables,
)

# The series and labels the collector's prometheusremotewrite exporter writes for the SDK's instruments.
DOCUMENTED_SERIES = frozenset(
    {
        *(f"gen_ai_client_token_usage_{part}" for part in ("bucket", "sum", "count")),
        *(f"gen_ai_client_operation_duration_seconds_{part}" for part in ("bucket", "sum", "count")),
        *(
            f"gen_ai_client_operation_time_to_first_chunk_seconds_{part}"
            for part in ("bucket", "sum", "count")
        ),
        *(f"otel_tokens_client_cost_{part}" for part in ("bucket", "sum", "count")),
        "otel_tokens_client_token_detail_total",
        "otel_tokens_client_unpriced_calls_total",
        "otel_tokens_tags_folded_total",
    }
)
DOCUMENTED_LABELS = frozenset(
    {
        "job",
        "instance",
        "otel_scope_name",
        "otel_scope_version",
        "le",
        "gen_ai_token_type",
        "gen_ai_operation_name",
        "gen_ai_provider_name",
        "gen_ai_request_model",
        "gen_ai_response_model",
        "server_address",
        "error_type",
        "otel_tokens_usage_estimated",
        "otel_tokens_tag_team",
        "otel_tokens_tag_project",
        "otel_tokens_tag_feature",
        "otel_tokens_tag_cost_center",
        "otel_tokens_token_type",
        "otel_tokens_tag_key",
    }
)
GRAFANA_MACROS = frozenset(
    {
        "__rate_interval",
        "__rate_interval_ms",
        "__interval",
        "__interval_ms",
        "__range",
        "__range_s",
        "__range_ms",
    }
)
EXPECTED = {"otel-tokens-spend": "otel-tokens: LLM spend", "otel-tokens-usage": "otel-tokens: LLM usage"}
DASHBOARDS = load_dashboards()
BY_UID = {board["uid"]: board for board in DASHBOARDS}


def _generator() -> Any:
    """``generate.py`` loaded as the script runs: its directory on ``sys.path`` for its sibling modules."""
    spec = importlib.util.spec_from_file_location(
        "otel_tokens_dashboards_generate", DASHBOARDS_DIR / "generate.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(DASHBOARDS_DIR))
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(DASHBOARDS_DIR))
    return module


def _ids(board: dict[str, Any]) -> str:
    return str(board["uid"])


# --- generated, stable ---------------------------------------------------------------------------
def test_committed_json_is_what_generate_writes():
    rendered = _generator().render()
    committed = {path.name: path.read_text(encoding="utf-8") for path in DASHBOARDS_DIR.glob("*.json")}
    assert committed.keys() == rendered.keys(), "run: uv run python dashboards/generate.py"
    for name, text in rendered.items():
        assert committed[name] == text, f"{name} is stale; run: uv run python dashboards/generate.py"


def test_uids_and_titles_are_stable():
    assert {board["uid"]: board["title"] for board in DASHBOARDS} == EXPECTED


# --- the SDK's model -----------------------------------------------------------------------------
class InvalidDashboard(Exception):
    """The dashboard does not fit grafana-foundation-sdk's model of a Grafana dashboard."""

    def __init__(self, message: str, depth: int = 0) -> None:
        super().__init__(message)
        self.depth = depth or message.split(":")[0].count(".") + message.split(":")[0].count("[")


def validate(data: dict[str, Any]) -> Dashboard:
    """Decode ``data`` with the SDK, type-check every field against the model, and re-encode it unchanged.

    The SDK's ``from_json`` keeps only the fields its schema knows and does not check types, so a
    dashboard is valid when every decoded value has its field's declared type (enums included), every
    panel type and query type is one the SDK knows, and encoding the model gives back exactly ``data``.
    """
    plugins.register_default_plugins()
    try:
        board = Dashboard.from_json(copy.deepcopy(data))
    except (KeyError, TypeError, AttributeError, ValueError) as error:
        raise InvalidDashboard(f"the SDK cannot decode it: {error!r}") from error
    _check_model(board, "dashboard")
    for panel in _model_panels(board):
        if cogruntime.panelcfg_config(panel.type_val) is None:
            raise InvalidDashboard(f"panel {panel.title!r}: unknown panel type {panel.type_val!r}")
        for target in panel.targets or []:
            if isinstance(target, cogruntime.UnknownDataquery):
                raise InvalidDashboard(f"panel {panel.title!r}: query of no known data source type")
    _same(json.loads(json.dumps(board, cls=JSONEncoder)), data, "dashboard")
    return board


def _model_panels(board: Dashboard) -> list[Panel]:
    found: list[Panel] = []
    for panel in board.panels or []:
        found.extend(panel.panels if isinstance(panel, RowPanel) else [panel])
    return found


def _same(encoded: Any, original: Any, path: str) -> None:
    """Raise at the first place where the re-encoded model differs from the input."""
    if isinstance(original, dict) and isinstance(encoded, dict):
        for key in original.keys() | encoded.keys():
            if key not in encoded:
                raise InvalidDashboard(f"{path}.{key}: not part of the SDK's model")
            if key not in original:
                raise InvalidDashboard(f"{path}.{key}: missing (the model's default is {encoded[key]!r})")
            _same(encoded[key], original[key], f"{path}.{key}")
    elif isinstance(original, list) and isinstance(encoded, list) and len(original) == len(encoded):
        for index, (left, right) in enumerate(zip(encoded, original, strict=True)):
            _same(left, right, f"{path}[{index}]")
    elif encoded != original or type(encoded) is not type(original):
        raise InvalidDashboard(f"{path}: {original!r} does not survive the model (becomes {encoded!r})")


def _is_model(value: Any) -> bool:
    return callable(getattr(value, "to_json", None)) and hasattr(type(value), "__annotations__")


def _check_model(value: Any, path: str) -> None:
    for name, hint in typing.get_type_hints(type(value)).items():
        _check(getattr(value, name), hint, f"{path}.{name}")


def _check(value: Any, hint: Any, path: str) -> None:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any or hint is object:
        if _is_model(value):
            _check_model(value, path)
    elif origin in (typing.Union, types.UnionType):
        errors = []
        for arm in args:
            try:
                _check(value, arm, path)
                return
            except InvalidDashboard as error:
                errors.append(error)
        # The arm that got deepest before failing is the one the value was meant to be.
        deepest = max(errors, key=lambda error: error.depth)
        if deepest.depth > path.count(".") + path.count("["):
            raise deepest
        raise InvalidDashboard(f"{path}: {value!r} is none of {hint}")
    elif hint is type(None):
        _require(value is None, path, value, "null")
    elif origin is typing.Literal:
        _require(value in args, path, value, f"one of {args}")
    elif origin is list:
        _require(isinstance(value, list), path, value, "a list")
        for index, item in enumerate(value):
            _check(item, args[0], f"{path}[{index}]")
    elif origin is dict:
        _require(isinstance(value, dict), path, value, "an object")
        for key, item in value.items():
            _check(key, args[0], f"{path} key")
            _check(item, args[1], f"{path}.{key}")
    elif isinstance(hint, type) and issubclass(hint, enum.Enum):
        try:
            hint(value)
        except ValueError as error:
            raise InvalidDashboard(f"{path}: {value!r} is not a {hint.__name__}") from error
    elif hint in (bool, str):
        _require(isinstance(value, hint), path, value, hint.__name__)
    elif hint in (int, float):
        numbers = (int,) if hint is int else (int, float)
        _require(isinstance(value, numbers) and not isinstance(value, bool), path, value, hint.__name__)
    elif isinstance(value, dict) and callable(getattr(hint, "from_json", None)):
        # Some fields (transformations, links) are kept as raw JSON by from_json: decode them here.
        try:
            decoded = hint.from_json(value)
        except (KeyError, TypeError, AttributeError, ValueError) as error:
            raise InvalidDashboard(f"{path}: not a {hint.__name__}: {error!r}") from error
        _check_model(decoded, path)
        _same(json.loads(json.dumps(decoded, cls=JSONEncoder)), value, path)
    else:
        _require(isinstance(value, hint), path, value, getattr(hint, "__name__", str(hint)))
        if _is_model(value):
            _check_model(value, path)


def _require(ok: bool, path: str, value: Any, expected: str) -> None:
    if not ok:
        raise InvalidDashboard(f"{path}: {value!r} is not {expected}")


@pytest.mark.parametrize("board", DASHBOARDS, ids=_ids)
def test_dashboard_round_trips_through_the_sdk_model(board):
    decoded = validate(board)
    assert decoded.uid == board["uid"]
    assert decoded.schema_version == Dashboard().schema_version  # as the SDK writes it
    assert len(_model_panels(decoded)) == sum(1 for _ in panels(board))


def _first_panel_of(kind: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    return lambda board: next(panel for panel in panels(board) if panel["type"] == kind)


# name -> (what breaks the dashboard, the reason validate() must give)
BROKEN: dict[str, tuple[Callable[[dict[str, Any]], Any], str]] = {
    "panels is not a list": (lambda board: board.update(panels={"a": {"type": "stat"}}), "cannot decode"),
    "misspelt top-level key": (
        lambda board: board.update(pannels=[]),
        "pannels: not part of the SDK's model",
    ),
    "title is not a string": (lambda board: board.update(title=["spend"]), "dashboard.title:"),
    "graph tooltip outside its enum": (lambda board: board.update(graphTooltip=7), "graph_tooltip: 7"),
    "unknown panel type": (
        lambda board: _first_panel_of("stat")(board).update(type="stats"),
        "unknown panel type 'stats'",
    ),
    "grid position is a string": (
        lambda board: _first_panel_of("stat")(board).update(gridPos="0,0,6,5"),
        r"gridPos: '0,0,6,5' does not survive",
    ),
    "query expression is a number": (
        lambda board: _first_panel_of("stat")(board)["targets"][0].update(expr=5),
        r"targets\[0\].expr: 5 is not str",
    ),
    "legend placement outside its enum": (
        lambda board: _first_panel_of("timeseries")(board)["options"]["legend"].update(placement="middle"),
        "legend.placement: 'middle' is not a LegendPlacement",
    ),
    "variable without a type": (
        lambda board: board["templating"]["list"][1].pop("type"),
        r"list\[1\].type: missing",
    ),
    "transformation with an unknown key": (
        lambda board: _first_panel_of("table")(board)["transformations"][0].update(identifier="merge"),
        r"transformations\[0\].identifier: not part of the SDK's model",
    ),
}


@pytest.mark.parametrize(("breakage", "reason"), BROKEN.values(), ids=BROKEN.keys())
def test_a_structurally_broken_dashboard_is_rejected(breakage, reason):
    board = copy.deepcopy(BY_UID["otel-tokens-spend"])
    breakage(board)
    with pytest.raises(InvalidDashboard, match=reason):
        validate(board)


# --- panels, variables, data sources -------------------------------------------------------------
@pytest.mark.parametrize("board", DASHBOARDS, ids=_ids)
def test_every_panel_has_a_query_and_says_what_it_answers(board):
    for panel in panels(board):
        exprs = [target.get("expr", "").strip() for target in panel.get("targets", [])]
        assert any(exprs), f"{panel['title']}: no query"
        assert all(exprs), f"{panel['title']}: a target with an empty expr"
        assert "?" in panel.get("description", ""), f"{panel['title']}: no description asking its question"


@pytest.mark.parametrize("board", DASHBOARDS, ids=_ids)
def test_every_variable_used_is_defined(board):
    defined = variables(board).keys() | GRAFANA_MACROS
    texts = [board["title"]]
    for panel in panels(board):
        texts += [panel["title"], json.dumps(panel.get("datasource"))]
        for target in panel.get("targets", []):
            texts += [
                target.get("expr", ""),
                target.get("legendFormat", ""),
                json.dumps(target.get("datasource")),
            ]
    for variable in variables(board).values():
        texts += [str(variable.get("query", "")), json.dumps(variable.get("datasource"))]
    used = set().union(*(variable_names(text) for text in texts))
    assert used, "no variable used at all: the scan is broken"
    assert used <= defined, f"undefined: {sorted(used - defined)}"


@pytest.mark.parametrize("board", DASHBOARDS, ids=_ids)
def test_template_variables(board):
    defined = variables(board)
    assert defined["datasource"]["type"] == "datasource" and defined["datasource"]["query"] == "prometheus"
    for name in ("job", "provider", "model", "team", "project", "feature", "cost_center"):
        variable = defined[name]
        assert variable["type"] == "query" and variable["multi"] and variable["includeAll"], name
        assert variable["allValue"] == ".*", name  # matches untagged series too
        assert variable["current"]["value"] == ["$__all"], name
        source = variable["query"].removeprefix("label_values(").split("{")[0].split(",")[0]
        assert source in DOCUMENTED_SERIES, f"{name} lists values of {source}"
    if board["uid"] == "otel-tokens-spend":
        budget = defined["monthly_budget_usd"]
        assert budget["type"] == "textbox" and budget["query"] == "1000"


def _datasource_refs(node: Any, path: str = "") -> list[tuple[str, Any]]:
    found = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "datasource":
                found.append((f"{path}.{key}", value))
            found += _datasource_refs(value, f"{path}.{key}")
    elif isinstance(node, list):
        for index, item in enumerate(node):
            found += _datasource_refs(item, f"{path}[{index}]")
    return found


@pytest.mark.parametrize("board", DASHBOARDS, ids=_ids)
def test_data_sources_are_the_variable_never_a_fixed_uid(board):
    refs = _datasource_refs({key: value for key, value in board.items() if key != "templating"})
    refs += _datasource_refs(board["templating"])
    assert len(refs) > sum(1 for _ in panels(board))
    for path, ref in refs:
        assert ref == {"type": "prometheus", "uid": "${datasource}"}, path
    for panel in panels(board):
        assert panel.get("datasource") == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]


# --- the queries ---------------------------------------------------------------------------------
ALL_QUERIES = [query for board in DASHBOARDS for query in panel_queries(board)]


def _rule_file(exprs: list[str], path: Path) -> Path:
    rules = [{"record": f"dashboard:query_{index}", "expr": expr} for index, expr in enumerate(exprs)]
    path.write_text(json.dumps({"groups": [{"name": "dashboards", "rules": rules}]}), encoding="utf-8")
    return path


def test_every_query_parses(promtool, tmp_path):
    assert ALL_QUERIES and not any("$" in query.expr or "[[" in query.expr for query in ALL_QUERIES)
    rules = _rule_file([query.expr for query in ALL_QUERIES], tmp_path / "dashboards.json")
    completed = subprocess.run([promtool, "check", "rules", str(rules)], capture_output=True, text=True)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert f"{len(ALL_QUERIES)} rules found" in completed.stdout


def test_the_parse_check_rejects_a_broken_query(promtool, tmp_path):
    broken = ALL_QUERIES[0].expr.removesuffix(")")  # unbalanced
    rules = _rule_file([ALL_QUERIES[1].expr, broken], tmp_path / "broken.json")
    completed = subprocess.run([promtool, "check", "rules", str(rules)], capture_output=True, text=True)
    assert completed.returncode != 0


def test_queries_use_only_documented_series_and_labels():
    used_series = set().union(*(metric_names(query.expr) for query in ALL_QUERIES))
    used_labels = set().union(*(label_names(query.expr) for query in ALL_QUERIES))
    assert used_series <= DOCUMENTED_SERIES, sorted(used_series - DOCUMENTED_SERIES)
    assert used_labels <= DOCUMENTED_LABELS, sorted(used_labels - DOCUMENTED_LABELS)
    assert {"otel_tokens_client_cost_sum", "gen_ai_client_token_usage_sum"} <= used_series


def test_metric_and_label_names_are_read_from_promql():
    expr = (
        'histogram_quantile(0.9, sum by (le, a) (rate(first_bucket{b="x", c=~"y|z"}[5m])))'
        " / on() group_left second offset 1h + sum(third) without (d) or vector(0) > bool 1e-9"
        ' + max_over_time(fourth[10m:15s]) + label_replace(fifth, "e", "$1", "f", "(.*)")'
    )
    assert metric_names(expr) == {"first_bucket", "second", "third", "fourth", "fifth"}
    assert label_names(expr) == {"le", "a", "b", "c", "d"}


def test_group_by_yields_one_query_per_option():
    board = BY_UID["otel-tokens-spend"]
    options = [option["text"] for option in variables(board)["group_by"]["options"]]
    rate_panel = [query for query in panel_queries(board) if query.panel == "Spend rate by $group_by"]
    assert [query.variant for query in rate_panel] == [f"group_by={option}" for option in options]
    assert "sum by (otel_tokens_tag_project)" in rate_panel[1].expr


# --- substitution (the helper the end-to-end test relies on) -------------------------------------
def _board(exprs: list[str], *extra_variables: dict[str, Any]) -> dict[str, Any]:
    multi = {"type": "query", "multi": True, "includeAll": True, "current": {"value": ["$__all"]}}
    return {
        "title": "t",
        "templating": {
            "list": [
                {"name": "datasource", "type": "datasource", "query": "prometheus"},
                {**multi, "name": "team", "allValue": ".+"},
                {**multi, "name": "model"},
                {"name": "budget", "type": "textbox", "query": "1000", "current": {"value": "250"}},
                *extra_variables,
            ]
        },
        "panels": [
            {
                "type": "row",
                "title": "collapsed",
                "panels": [{"title": "p", "targets": [{"refId": "A", "expr": expr} for expr in exprs]}],
            }
        ],
    }


def test_substitution_of_variables_macros_and_formats():
    board = _board(
        [
            'rate(x{team=~"$team", model=~"${model}"}[$__rate_interval]) * $budget',
            "increase(x[$__range]) / ${__range_s} / $__range_s * $__range_ms + [[budget]] + $__interval_ms",
            'sum(x{team=~"${team:regex}"}[$__interval])',
        ]
    )
    assert [query.expr for query in panel_queries(board)] == [
        'rate(x{team=~".+", model=~".*"}[1m]) * 250',
        "increase(x[10m]) / 600 / 600 * 600000 + 250 + 15000",
        'sum(x{team=~".+"}[15s])',
    ]
    assert "/ 90 /" in panel_queries(board, {"__range_s": "90"})[1].expr  # a derived macro, given
    overridden = panel_queries(
        board, {"__range": "1h", "__rate_interval": "2m", "team": ["a.b", "c"], "budget": "5"}
    )
    assert [query.expr for query in overridden][:2] == [
        'rate(x{team=~"(a\\\\.b|c)", model=~".*"}[2m]) * 5',
        "increase(x[1h]) / 3600 / 3600 * 3600000 + 5 + 15000",
    ]
    assert panel_queries(board)[0].panel == "p" and not panel_queries(board)[0].instant


def test_an_undefined_variable_is_an_error():
    with pytest.raises(KeyError, match="nope"):
        panel_queries(_board(["x * $nope"]))


def test_custom_variable_options_each_yield_a_query():
    group = {"name": "g", "type": "custom", "query": "team : tag_team, model : request_model"}
    queries = panel_queries(_board(["sum by ($g) (x)", "sum(x)"], group))
    assert [(query.expr, query.variant) for query in queries] == [
        ("sum by (tag_team) (x)", "g=team"),
        ("sum by (request_model) (x)", "g=model"),
        ("sum(x)", ""),
    ]
    fixed = panel_queries(_board(["sum by ($g) (x)"], group), {"g": "tag_team"})
    assert [query.expr for query in fixed] == ["sum by (tag_team) (x)"]


# --- what the key panels compute -----------------------------------------------------------------
SEARCH = (
    'job="svc", gen_ai_provider_name="openai", gen_ai_request_model="gpt-4o", otel_tokens_tag_team="search", '
    'otel_tokens_tag_feature="answer"'
)
UNTAGGED = (
    'job="svc", gen_ai_provider_name="anthropic", gen_ai_request_model="claude", '
    'otel_tokens_tag_feature="chat"'
)
MYSTERY = (
    'job="svc", gen_ai_provider_name="openai", gen_ai_request_model="mystery", otel_tokens_tag_team="search"'
)
# 15 s samples over 10 minutes. The untagged process starts 5 minutes in with 2 USD already spent (calls
# before its first export); the unpriced counter first reports at 3 and never moves. increase() alone
# would miss the 2 USD and all 3 calls.
SERIES = {
    f"otel_tokens_client_cost_sum{{{SEARCH}}}": "0+0.1x40",  # 4 USD
    f"otel_tokens_client_cost_sum{{{UNTAGGED}}}": "_x20 2+0.1x20",  # 4 USD
    f'gen_ai_client_token_usage_sum{{{SEARCH}, gen_ai_token_type="input"}}': "0+1000x40",  # 40000
    f'gen_ai_client_token_usage_sum{{{SEARCH}, gen_ai_token_type="output"}}': "0+500x40",  # 20000
    f'gen_ai_client_token_usage_sum{{{UNTAGGED}, gen_ai_token_type="input"}}': "_x20 10000+1000x20",  # 30000
    f'gen_ai_client_token_usage_sum{{{UNTAGGED}, gen_ai_token_type="output"}}': "_x20 5000x20",  # 5000
    # 10000 of the search team's input tokens were cache reads
    f'otel_tokens_client_token_detail_total{{{SEARCH}, otel_tokens_token_type="cache_read"}}': "0+250x40",
    f"otel_tokens_client_unpriced_calls_total{{{MYSTERY}}}": "_x30 3x10",  # 3 calls
}
SECONDS_LEFT = 31 * 86400 - 600  # evaluated at 1970-01-01T00:10:00Z
BURN_PER_SECOND = (4.0 + 2.0 * 307.5 / 300) / 86400  # Prometheus's rate() over 1d, extrapolation included
FORECAST = 8.0 + BURN_PER_SECOND * SECONDS_LEFT
PROVIDER_MODEL = 'gen_ai_provider_name="{}", gen_ai_request_model="{}", provider_model="{} / {}"'

# (dashboard uid, panel title, refId, variant, overrides) -> {labels: value}
EXPECTATIONS: list[tuple[str, str, str, str, dict[str, Any], dict[str, float]]] = [
    ("otel-tokens-spend", "Spend this month", "A", "", {}, {"{}": 8.0}),
    ("otel-tokens-spend", "Spend this month", "A", "", {"team": "nobody"}, {"{}": 0.0}),
    ("otel-tokens-spend", "Month-end forecast", "A", "", {}, {"{}": FORECAST}),
    ("otel-tokens-spend", "Forecast variance against budget", "A", "", {}, {"{}": FORECAST - 1000}),
    (
        "otel-tokens-spend",
        "Budget burned vs month elapsed",
        "A",
        "",
        {"monthly_budget_usd": "200"},
        {"{}": 0.04},
    ),
    ("otel-tokens-spend", "Budget burned vs month elapsed", "B", "", {}, {"{}": 600 / (31 * 86400)}),
    (
        "otel-tokens-spend",
        "Spend this month by $group_by",
        "A",
        "group_by=team",
        {},
        {'{otel_tokens_tag_team="(none)"}': 4.0, '{otel_tokens_tag_team="search"}': 4.0},
    ),
    ("otel-tokens-spend", "Spend with no team tag", "A", "", {}, {"{}": 0.5}),
    ("otel-tokens-spend", "Spend with no team tag", "A", "", {"team": "search"}, {"{}": 0.0}),
    ("otel-tokens-spend", "Calls on unpriced models", "A", "", {}, {"{}": 3.0}),
    ("otel-tokens-spend", "Tag values folded into __overflow__", "A", "", {}, {"{}": 0.0}),
    (
        "otel-tokens-spend",
        "Cost per million tokens by provider and model: average and peak",
        "A",
        "",
        {},
        {
            "{" + PROVIDER_MODEL.format("openai", "gpt-4o", "openai", "gpt-4o") + "}": 4.0 / 60000 * 1e6,
            "{" + PROVIDER_MODEL.format("anthropic", "claude", "anthropic", "claude") + "}": 4.0
            / 35000
            * 1e6,
        },
    ),
    (
        "otel-tokens-spend",
        "Cost per million tokens by provider and model: average and peak",
        "B",
        "",
        {},
        {
            # Highest per-window price: 0.1 USD per 1500 tokens, and per 1000 input tokens once the
            # untagged process is running (its output tokens all came before its first export).
            "{" + PROVIDER_MODEL.format("openai", "gpt-4o", "openai", "gpt-4o") + "}": 0.1 / 1500 * 1e6,
            "{" + PROVIDER_MODEL.format("anthropic", "claude", "anthropic", "claude") + "}": 0.1 / 1000 * 1e6,
        },
    ),
    (
        "otel-tokens-spend",
        "Spend rate by $group_by",
        "A",
        "group_by=team",
        {},
        {
            '{otel_tokens_tag_team="(none)"}': 0.1 / 15 * 3600,
            '{otel_tokens_tag_team="search"}': 0.1 / 15 * 3600,
        },
    ),
    ("otel-tokens-usage", "Cache hit ratio", "A", "", {}, {"{}": 10000 / 70000}),
    ("otel-tokens-usage", "Tokens counted locally", "A", "", {}, {"{}": 0.0}),
]


def test_key_panels_compute_the_right_numbers(promtool, tmp_path):
    tests = []
    for uid, title, ref_id, variant, overrides, samples in EXPECTATIONS:
        matching = [
            query
            for query in panel_queries(BY_UID[uid], overrides)
            if (query.panel, query.ref_id, query.variant) == (title, ref_id, variant)
        ]
        assert len(matching) == 1, (title, ref_id, variant)
        tests.append(
            {
                # Rounded to a millionth: the expected values are computed in Python, not by PromQL.
                "expr": f"round(({matching[0].expr}), 0.000001)",
                "eval_time": "10m",
                "exp_samples": [
                    {"labels": labels, "value": round(value, 6)} for labels, value in samples.items()
                ],
            }
        )
    unit = {
        "rule_files": [],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "15s",
                "input_series": [{"series": series, "values": values} for series, values in SERIES.items()],
                "promql_expr_test": tests,
            }
        ],
    }
    path = tmp_path / "dashboards.test.json"
    path.write_text(json.dumps(unit), encoding="utf-8")
    completed = subprocess.run([promtool, "test", "rules", str(path)], capture_output=True, text=True)
    assert completed.returncode == 0, completed.stdout + completed.stderr


def _workload_series() -> dict[str, str]:
    """Every series kind the SDK writes, for three calls' label sets (one untagged), 15 s apart."""
    series = {}
    for provider, model, tags in (
        ("openai", "gpt-4o", {"team": "search", "project": "web", "feature": "answer", "cost_center": "cc1"}),
        ("anthropic", "claude", {"feature": "chat"}),
        ("gcp.gemini", "gemini", {"team": "ads", "project": "p2", "feature": "gen", "cost_center": "cc2"}),
    ):
        call = f'job="svc", gen_ai_provider_name="{provider}", gen_ai_request_model="{model}"'
        call += "".join(f', otel_tokens_tag_{key}="{value}"' for key, value in tags.items())
        for histogram, bounds in (
            ("otel_tokens_client_cost", ("0.001", "0.01", "+Inf")),
            ("gen_ai_client_operation_duration_seconds", ("0.1", "1", "+Inf")),
            ("gen_ai_client_operation_time_to_first_chunk_seconds", ("0.1", "1", "+Inf")),
        ):
            for index, bound in enumerate(bounds):
                series[f'{histogram}_bucket{{{call}, le="{bound}"}}'] = f"0+{index + 1}x40"
            series[f"{histogram}_sum{{{call}}}"] = "0+0.01x40"
            series[f"{histogram}_count{{{call}}}"] = "0+3x40"
        for kind in ("input", "output"):
            for part in ("sum", "count"):
                series[f'gen_ai_client_token_usage_{part}{{{call}, gen_ai_token_type="{kind}"}}'] = "0+100x40"
        for kind in ("cache_read", "cache_creation", "reasoning"):
            series[f'otel_tokens_client_token_detail_total{{{call}, otel_tokens_token_type="{kind}"}}'] = (
                "0+10x40"
            )
    unpriced = 'job="svc", gen_ai_provider_name="ollama", gen_ai_request_model="llama"'
    series[f"otel_tokens_client_unpriced_calls_total{{{unpriced}}}"] = "_x30 2x10"
    return series


def test_every_query_returns_a_number_on_synthetic_series_of_every_kind(promtool, tmp_path):
    # Not empty and not only NaN (x == x drops NaN): what a panel needs to show something.
    tests = [
        {
            "expr": f"(count(({query.expr}) == ({query.expr})) > bool 0) or vector(0)",
            "eval_time": "10m",
            "exp_samples": [{"labels": "{}", "value": 1}],
        }
        for query in ALL_QUERIES
    ]
    series = [{"series": name, "values": values} for name, values in _workload_series().items()]
    unit = {
        "rule_files": [],
        "evaluation_interval": "1m",
        "tests": [{"interval": "15s", "input_series": series, "promql_expr_test": tests}],
    }
    path = tmp_path / "every-query.test.json"
    path.write_text(json.dumps(unit), encoding="utf-8")
    completed = subprocess.run([promtool, "test", "rules", str(path)], capture_output=True, text=True)
    assert completed.returncode == 0, completed.stdout + completed.stderr


# --- docs and provisioning -----------------------------------------------------------------------
def test_readme_says_what_every_panel_answers():
    readme = (DASHBOARDS_DIR.parent / "README.md").read_text(encoding="utf-8")
    for board in DASHBOARDS:
        for panel in panels(board):
            assert f"**{panel['title']}**" in readme, panel["title"]
        for name in variables(board):
            assert f"`{name}`" in readme, name


def test_provisioning_files():
    provisioning = DASHBOARDS_DIR / "provisioning"
    datasources = yaml.safe_load(
        (provisioning / "datasources" / "otel-tokens.yaml").read_text(encoding="utf-8")
    )
    (source,) = datasources["datasources"]
    assert source["type"] == "prometheus" and source["access"] == "proxy"
    assert source["url"] == "${OTEL_TOKENS_PROMETHEUS_URL}"
    providers = yaml.safe_load((provisioning / "dashboards" / "otel-tokens.yaml").read_text(encoding="utf-8"))
    (provider,) = providers["providers"]
    assert provider["type"] == "file" and provider["options"]["path"]
