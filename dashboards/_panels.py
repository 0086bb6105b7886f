"""Grafana building blocks for the otel-tokens dashboards: the Board, panel targets, thresholds and
the dashboard variables (filters, group-by)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from _promql import COST_CENTER, DURATION, FEATURE, MODEL, NONE_TEXT, PROJECT, PROVIDER, TEAM
from grafana_foundation_sdk.builders import bargauge, stat, table, timeseries
from grafana_foundation_sdk.builders import common as common_builders
from grafana_foundation_sdk.builders import dashboard as dashboard_builders
from grafana_foundation_sdk.builders import prometheus as prometheus_builders
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as model
from grafana_foundation_sdk.models import prometheus as prometheus_model

DATASOURCE = model.DataSourceRef(type_val="prometheus", uid="${datasource}")
TAG = "otel-tokens"
USD = "currencyUSD"
RATIO = "percentunit"

# (variable name, label, Prometheus label) of the multi-select filters, in the order they show.
FILTER_VARIABLES = (
    ("provider", "Provider", PROVIDER),
    ("model", "Model", MODEL),
    ("team", "Team", TEAM),
    ("project", "Project", PROJECT),
    ("feature", "Feature", FEATURE),
    ("cost_center", "Cost center", COST_CENTER),
)
GROUP_BY_OPTIONS = (
    ("team", TEAM),
    ("project", PROJECT),
    ("feature", FEATURE),
    ("cost_center", COST_CENTER),
    ("model", MODEL),
    ("provider", PROVIDER),
)
MONTH_SO_FAR = "now/M"


# --- panels --------------------------------------------------------------------------------------
def target(expr: str, legend: str, ref: str, *, instant: bool, table_format: bool = False) -> Any:
    query = prometheus_builders.Dataquery().expr(expr).ref_id(ref).datasource(DATASOURCE)
    query = (query.instant() if instant else query.range()).editor_mode(prometheus_model.QueryEditorMode.CODE)
    if legend:
        query = query.legend_format(legend)
    return query.format(prometheus_model.PromQueryFormat.TABLE) if table_format else query


def thresholds(*steps: tuple[float | None, str]) -> dashboard_builders.ThresholdsConfig:
    return (
        dashboard_builders.ThresholdsConfig()
        .mode(model.ThresholdsMode.ABSOLUTE)
        .steps([model.Threshold(value=value, color=color) for value, color in steps])
    )


GREEN = thresholds((None, "green"))
LAST_VALUE = common_builders.ReduceDataOptions().calcs(["lastNotNull"]).values(False)
NONE_MAPPING = model.SpecialValueMap(
    options=model.DashboardSpecialValueMapOptions(
        match=model.SpecialValueMatch.EMPTY, result=model.ValueMappingResult(text=NONE_TEXT)
    )
)
Series = tuple[str, str]  # (expr, legend)


class Board:
    """A dashboard being built: panels get stable ids and fill rows left to right (24 columns)."""

    def __init__(self, title: str, uid: str, description: str) -> None:
        self.builder = (
            dashboard_builders.Dashboard(title)
            .uid(uid)
            .description(description)
            .tags([TAG])
            .timezone("utc")  # months start at 00:00 UTC, as Prometheus's day_of_month() has them
            .time("now-24h", "now")
            .refresh("1m")
            .tooltip(model.DashboardCursorSync.CROSSHAIR)
            .editable()
            .link(
                dashboard_builders.DashboardLink("otel-tokens dashboards")
                .type(model.DashboardLinkType.DASHBOARDS)
                .tags([TAG])
                .as_dropdown(False)
                .include_vars(True)
                .keep_time(True)
            )
            .with_variable(
                dashboard_builders.DatasourceVariable("datasource").label("Data source").type("prometheus")
            )
        )
        for variable in filter_variables():
            self.builder = self.builder.with_variable(variable)
        self._last_id = 0

    def _next_id(self) -> int:
        self._last_id += 1
        return self._last_id

    def row(self, title: str) -> None:
        self.builder = self.builder.with_row(dashboard_builders.Row(title).id(self._next_id()))

    def add(
        self, panel: Any, title: str, question: str, size: tuple[int, int], unit: str, month: bool
    ) -> None:
        """Add ``panel`` with what every panel has: id, title, its question, data source, size, unit."""
        width, height = size
        panel = panel.id(self._next_id()).title(title).description(question).datasource(DATASOURCE)
        panel = panel.span(width).height(height).unit(unit)
        self.builder = self.builder.with_panel(panel.time_from(MONTH_SO_FAR) if month else panel)

    def stat(
        self,
        title: str,
        question: str,
        expr: str,
        unit: str,
        size: tuple[int, int] = (6, 5),
        steps: dashboard_builders.ThresholdsConfig = GREEN,
        month: bool = False,
        legend: str = "",
    ) -> None:
        panel = (
            stat.Panel()
            .targets([target(expr, legend, "A", instant=True)])
            .thresholds(steps)
            .color_mode(common.BigValueColorMode.VALUE)
            .graph_mode(common.BigValueGraphMode.NONE)
            .reduce_options(LAST_VALUE)
        )
        self.add(panel, title, question, size, unit, month)

    def graph(
        self,
        title: str,
        question: str,
        series: list[Series],
        unit: str,
        size: tuple[int, int] = (12, 8),
        axis: str = "",
    ) -> None:
        panel = (
            timeseries.Panel()
            .targets(
                [
                    target(expr, legend, REFS[index], instant=False)
                    for index, (expr, legend) in enumerate(series)
                ]
            )
            .line_width(1)
            .fill_opacity(10)
            .show_points(common.VisibilityMode.NEVER)
            .span_nulls(False)
            .legend(
                common_builders.VizLegendOptions()
                .display_mode(common.LegendDisplayMode.LIST)
                .placement(common.LegendPlacement.BOTTOM)
                .show_legend(True)
            )
            .tooltip(
                common_builders.VizTooltipOptions()
                .mode(common.TooltipDisplayMode.MULTI)
                .sort(common.SortOrder.DESCENDING)
            )
        )
        self.add(panel.axis_label(axis) if axis else panel, title, question, size, unit, False)

    def bars(
        self,
        title: str,
        question: str,
        series: list[Series],
        unit: str,
        size: tuple[int, int],
        month: bool = False,
        steps: dashboard_builders.ThresholdsConfig = GREEN,
        maximum: float | None = None,
    ) -> None:
        panel = (
            bargauge.Panel()
            .targets(
                [
                    target(expr, legend, REFS[index], instant=True)
                    for index, (expr, legend) in enumerate(series)
                ]
            )
            .orientation(common.VizOrientation.HORIZONTAL)
            .display_mode(common.BarGaugeDisplayMode.BASIC)
            .thresholds(steps)
            .min(0)
            .reduce_options(LAST_VALUE)
        )
        self.add(panel if maximum is None else panel.max(maximum), title, question, size, unit, month)

    def table(
        self,
        title: str,
        question: str,
        exprs: list[str],
        unit: str,
        columns: dict[str, str],
        sort_by: str,
        size: tuple[int, int] = (24, 8),
        ratio_columns: Sequence[str] = (),
    ) -> None:
        """One row per label set; several queries are merged side by side (``Value #A``, ``Value #B``...).

        ``ratio_columns`` (names after renaming) show as a percentage gauge, orange from 80%, red from 100%.
        """
        panel = (
            table.Panel()
            .targets(
                [
                    target(expr, "", REFS[index], instant=True, table_format=True)
                    for index, expr in enumerate(exprs)
                ]
            )
            .mappings([NONE_MAPPING])
            # What the SDK's model fills in when decoding: set here, the JSON is a fixed point of the model.
            .align(common.FieldTextAlignment.AUTO)
            .inspect(False)
            .sort_by([common_builders.TableSortByFieldState().display_name(sort_by).desc(True)])
            .footer(common_builders.TableFooterOptions().show(False).reducer(["sum"]))
        )
        if len(exprs) > 1:
            panel = panel.with_transformation(model.DataTransformerConfig(id_val="merge", options={}))
        panel = panel.with_transformation(organize({"Time": True}, columns))
        for column in ratio_columns:
            panel = panel.override_by_name(column, RATIO_CELL)
        self.add(panel, title, question, size, unit, False)


REFS = "ABCDEFGH"
LIMIT = ((None, "green"), (0.8, "orange"), (1.0, "red"))
"""Share of a limit: orange from 80% (the budgets' default warning threshold), red at the limit."""
LIMIT_STEPS = thresholds(*LIMIT)
RATIO_CELL = [
    model.DynamicConfigValue(id_val="unit", value=RATIO),
    model.DynamicConfigValue(id_val="max", value=1),
    model.DynamicConfigValue(
        id_val="thresholds",
        value={"mode": "absolute", "steps": [{"color": color, "value": value} for value, color in LIMIT]},
    ),
    model.DynamicConfigValue(id_val="custom.cellOptions", value={"type": "gauge", "mode": "basic"}),
]


def organize(exclude: dict[str, bool], rename: dict[str, str]) -> model.DataTransformerConfig:
    options = {"excludeByName": exclude, "renameByName": rename, "indexByName": {}}
    return model.DataTransformerConfig(id_val="organize", options=options)


# --- variables -----------------------------------------------------------------------------------
ALL = model.VariableOption(text=["All"], value=["$__all"], selected=True)


def label_variable(name: str, label: str, query_text: str) -> dashboard_builders.QueryVariable:
    return (
        dashboard_builders.QueryVariable(name)
        .label(label)
        .datasource(DATASOURCE)
        .query(query_text)
        .refresh(model.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(model.VariableSort.ALPHABETICAL_CASE_INSENSITIVE_ASC)
        .multi(True)
        .include_all(True)
        .all_value(".*")
        .current(ALL)
    )


def filter_variables() -> list[dashboard_builders.QueryVariable]:
    """job, then provider, model and the tag dimensions: multi-select, All by default."""
    source = DURATION + "_count"  # recorded for every call: priced, unpriced and failed
    variables = [label_variable("job", "Service", f"label_values({source}, job)")]
    for name, label, prom_label in FILTER_VARIABLES:
        scope = f'{{job=~"$job", {PROVIDER}=~"$provider"}}' if name == "model" else '{job=~"$job"}'
        variables.append(label_variable(name, label, f"label_values({source}{scope}, {prom_label})"))
    return variables


def group_by_variable() -> dashboard_builders.CustomVariable:
    first_text, first_value = GROUP_BY_OPTIONS[0]
    return (
        dashboard_builders.CustomVariable("group_by")
        .label("Group spend by")
        .values(",".join(f"{text} : {value}" for text, value in GROUP_BY_OPTIONS))
        .options(
            [
                model.VariableOption(text=text, value=value, selected=text == first_text)
                for text, value in GROUP_BY_OPTIONS
            ]
        )
        .current(model.VariableOption(text=first_text, value=first_value, selected=True))
        .multi(False)
        .include_all(False)
    )
