"""The shipped Grafana dashboards, checked without Grafana or a Prometheus server.

The JSON is what ``dashboards/generate.py`` writes and what grafana-foundation-sdk's dashboard model
decodes and re-encodes unchanged; every panel has a query and a description, every variable used is
defined, data sources are the variable. The queries themselves: test_dashboard_queries.py; against
a real Prometheus fed by the real SDK: test_end_to_end.py.
"""

from __future__ import annotations

import copy
import enum
import importlib.util
import json
import sys
import types
import typing
from collections.abc import Callable
from typing import Any

import pytest
import yaml
from grafana_foundation_sdk.cog import plugins
from grafana_foundation_sdk.cog import runtime as cogruntime
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.dashboard import Dashboard, Panel, RowPanel

from ._dashboards import (
    DASHBOARDS_DIR,
    load_dashboards,
    panels,
    variable_names,
    variables,
)
from ._series import DOCUMENTED_SERIES

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
        assert defined["group_by"]["type"] == "custom" and not defined["group_by"]["includeAll"]
    # Budgets are the SDK's budget metrics, not a number typed into the dashboard.
    assert not [name for name, variable in defined.items() if variable["type"] in ("textbox", "constant")]


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
