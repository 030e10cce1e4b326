"""Charts like the report's, one per table, PNG and SVG (matplotlib, Agg; no
pyplot state).

How a table is drawn is data, in its definition (``chart`` in
``variables/tables/*.yaml``, :class:`~exporters.spec.ChartSpec`): columns,
horizontal bars or a pie; percentages, counts or means; the categories in
catalogue order or by size; stacked series; the not-registered category
shown or not. The dimension along the axis is ``chart.axis``; the other
dimensions, areas and years are the series.

Every standalone image names what it shows: the diagram and title with N (per
series when there are several), the area and the period under the title, and
who N counts, the suppression mark and the source at the foot. Legends sit
above the plot, never over the data. A hidden value gets no bar and the mark
``..``. In the HTML report the page carries the title, N and area, so the
embedded charts leave them out (``standalone=False``).
"""

from __future__ import annotations

import io
import math
import textwrap
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import matplotlib
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from exporters.definitions import NOT_REGISTERED
from exporters.disclosure import SUPPRESSED_MARK
from exporters.spec import ChartSpec, Table
from exporters.summary import Summary
from exporters.writers.common import dim_value_label, file_stem, period_text, swedish_number

matplotlib.rcParams["svg.hashsalt"] = "isu"
matplotlib.rcParams["svg.fonttype"] = "none"
ChartFormat = Literal["png", "svg"]
COLOURS = ("#1f4e79", "#e07b39", "#6a9f58", "#a05195", "#8c8c8c", "#d45087", "#2f9e9e")
"""The first two as the report's: blue for the registered, orange for the rest."""
WIDTH = 8.5
DPI = 110
VALUE_AXIS = {"percent": "Andel (%)", "count": "Antal ärenden", "mean": "Medelvärde"}
MAX_TITLE_SERIES = 3
"""Up to this many series name their N in the title, more in the legend."""


@dataclass
class Series:
    name: str
    values: list[float | None]
    """One per category; None = hidden (or undefined)."""
    big_n: set[str] = field(default_factory=set)
    """The N of the series' rows as text ("2 623", ".."): one value = one N."""
    stack: str = ""
    """Stacked charts: series of the same stack (area, year) share a column."""


@dataclass
class ChartData:
    categories: list[str]
    series: list[Series]
    value: Literal["percent", "count", "mean"]
    axis_label: str
    hidden: bool

    @property
    def n_text(self) -> str:
        """ "N=2 623", or "HRV N=296, Ej HRV N=2 484"; empty when N differs
        along the axis (the funnel's steps, the groups of a mean table)."""
        if self.value == "mean" or not self.series:
            return ""
        if any(len(s.big_n) != 1 for s in self.series):
            return ""
        if len(self.series) == 1:
            return f"N={next(iter(self.series[0].big_n))}"
        if len(self.series) > MAX_TITLE_SERIES:
            return ""
        return ", ".join(f"{s.name} N={next(iter(s.big_n))}" for s in self.series)

    @property
    def n_in_legend(self) -> bool:
        """Many series: each one's N beside its name in the legend."""
        return (
            self.value != "mean"
            and len(self.series) > MAX_TITLE_SERIES
            and all(len(s.big_n) == 1 for s in self.series)
        )


def has_chart(table: Table) -> bool:
    return table.spec.chart.kind != "none"


def _hidden(record: Mapping[Any, Any], value: str) -> bool:
    if bool(record.get("suppressed", False)):
        return True
    return value != "count" and bool(record.get("N_suppressed", False))


def _number(value: Any) -> float | None:
    if value is None or value is SUPPRESSED_MARK:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if number != number else number


def chart_data(summary: Summary, table: Table) -> ChartData:
    """What one chart shows: categories in display order and the series."""
    spec = table.spec
    chart: ChartSpec = spec.chart
    axis = chart.axis or spec.category
    data = table.data
    value: Literal["percent", "count", "mean"] = chart.value
    axis_label = VALUE_AXIS[value]
    if spec.kind == "mean" and "measure" in data.columns:
        keys = [str(k) for k in data["measure"].astype(str).unique()]
        measure = chart.measure or (keys[0] if keys else "")
        data = data[data["measure"].astype(str) == measure]
        axis_label = dim_value_label(summary, table, "measure", measure)
    if not chart.not_registered:
        data = data[data[spec.category].astype(str) != NOT_REGISTERED]
    if chart.categories:
        data = data[data[spec.category].astype(str).isin(chart.categories)]
    if chart.value_label is not None:
        axis_label = chart.value_label.sv
    areas = data["area_code"].astype(str).nunique() if "area_code" in data.columns else 1
    if value == "count" and areas > 1:
        # Counts of a municipality, its county and the nation side by side
        # say nothing; their shares compare.
        value, axis_label = "percent", VALUE_AXIS["percent"]
    value_column = {"percent": "percent", "count": "n", "mean": "mean"}[value]
    # A dimension with one value here (one area, one year, the one category
    # drawn) is named under the title or on the axis, not in a legend.
    series_columns = [
        c
        for c in (*table.by, *spec.dims)
        if c not in (axis, "area_level", "measure") and data[c].astype(str).nunique() > 1
    ]
    categories: list[str] = []
    points: dict[str, dict[str, float | None]] = {}
    big_n: dict[str, set[str]] = {}
    stacks: dict[str, str] = {}
    hidden_any = False
    for record in data.to_dict("records"):
        category = _name(summary, table, axis, record[axis])
        if category not in categories:
            categories.append(category)
        parts = {c: _name(summary, table, c, record[c]) for c in series_columns}
        name = " – ".join(parts.values())
        stacks[name] = " – ".join(v for c, v in parts.items() if c != spec.category)
        hidden = _hidden(record, value)
        hidden_any |= hidden
        number = _number(record[value_column])
        # None: hidden (".."); NaN: undefined (N = 0), drawn as nothing.
        points.setdefault(name, {})[category] = (
            None if hidden else (math.nan if number is None else number)
        )
        if str(record[spec.category]) != NOT_REGISTERED:
            n_hidden = bool(record.get("N_suppressed", False))
            big_n.setdefault(name, set()).add(
                SUPPRESSED_MARK if n_hidden else swedish_number(record["N"])
            )
    series = [
        Series(name, [values.get(c) for c in categories], big_n.get(name, set()), stacks[name])
        for name, values in points.items()
    ]
    if chart.sort == "descending" and series:
        first = series[0].values
        order = sorted(
            range(len(categories)),
            key=lambda i: -_drawn(first[i]) if first[i] is not None else math.inf,
        )
        categories = [categories[i] for i in order]
        for s in series:
            s.values = [s.values[i] for i in order]
    return ChartData(categories, series, value, axis_label, hidden_any)


def _name(summary: Summary, table: Table, column: str, key: Any) -> str:
    """A category's or a series' name: the chart's own label, or the table's."""
    override = table.spec.chart.labels.get(column, {}).get(str(key))
    return override.sv if override else dim_value_label(summary, table, column, key)


def _label(value: float | None, kind: str) -> str:
    if value is None:
        return SUPPRESSED_MARK
    if math.isnan(value):
        return ""
    if kind == "count":
        return swedish_number(value)
    text = f"{value:.1f}".replace(".", ",")
    return f"{text} %" if kind == "percent" else text


def title_text(table: Table, data: ChartData) -> str:
    title = table.spec.title.sv
    if table.spec.diagram:
        title = f"{table.spec.diagram}: {title}"
    return f"{title} ({data.n_text})" if data.n_text else title


def _legend_rows(names: list[str]) -> list[list[int]]:
    """Legend entries (indices) per row, about 100 characters a row."""
    rows: list[list[int]] = [[]]
    width = 0
    for i, name in enumerate(names):
        size = len(name) + 6
        if rows[-1] and width + size > 100:
            rows.append([])
            width = 0
        rows[-1].append(i)
        width += size
    return rows if rows[0] else []


LINE = 0.19
"""Inches per line of 8–10 point text."""


def render_chart(
    summary: Summary, table: Table, fmt: ChartFormat = "png", *, standalone: bool = True
) -> bytes:
    """One chart as PNG or SVG (see :func:`chart_figure`)."""
    fig = chart_figure(summary, table, standalone=standalone)
    buffer = io.BytesIO()
    metadata = {"Date": None} if fmt == "svg" else {"Software": None}
    fig.savefig(buffer, format=fmt, metadata=metadata)
    return buffer.getvalue()


def chart_figure(summary: Summary, table: Table, *, standalone: bool = True) -> Figure:
    """One chart. ``standalone``: with title and N, area and period, and the
    foot (who N counts, the suppression mark, the source)."""
    data = chart_data(summary, table)
    chart = table.spec.chart
    kind = chart.kind
    one_pie = (
        len(data.series) == 1
        and not data.hidden
        and all(v is not None and not math.isnan(v) for v in data.series[0].values)
        and sum(map(_drawn, data.series[0].values)) > 0
    )
    if kind == "pie" and not one_pie:
        kind = "bars"  # several series or a hidden share: a pie would mislead

    head: list[tuple[str, float, str]] = []  # text, size, weight
    if standalone:
        for line in textwrap.wrap(title_text(table, data), 80):
            head.append((line, 10.5, "bold"))
        head.append((f"{summary.scope.sv} · aktualiserade {period_text(summary)}", 8.5, "normal"))
    foot: list[str] = []
    if standalone:
        notes = [f"N: {table.spec.denominator.sv}"]
        if data.hidden:
            notes.append(f"{SUPPRESSED_MARK} = dolt värde (röjandeskydd)")
        notes.append(summary.source.sv)
        foot = [line for note in notes for line in textwrap.wrap(note, 150, break_on_hyphens=False)]
    names = [
        f"{s.name} (N={next(iter(s.big_n))})" if data.n_in_legend else s.name for s in data.series
    ]
    legend = _legend_rows(names) if (len(data.series) > 1 and kind != "pie") else []

    category_lines = [textwrap.fill(c, 16 if kind == "columns" else 40) for c in data.categories]
    deepest = max((c.count("\n") + 1 for c in category_lines), default=1)
    if kind == "pie" or kind == "columns":
        plot = 3.4
    else:
        # Each category's row: room for its bars and for its (wrapped) label.
        bars_per_row = len({s.stack for s in data.series}) if chart.stacked else len(data.series)
        row_height = 0.3 if bars_per_row == 1 else 0.13 * bars_per_row + 0.1
        # Rows are evenly spaced: each as high as the deepest label needs.
        plot = max(1.6, len(category_lines) * max(row_height, 0.14 * deepest + 0.08))
    top = 0.15 + sum(LINE * (1.25 if w == "bold" else 1.0) for _t, _s, w in head)
    top += LINE * 1.1 * len(legend) + (0.1 if legend else 0)
    bottom = 0.2 + LINE * 0.85 * len(foot)
    if kind == "columns":
        bottom += 0.35 + deepest * 0.15
    elif kind == "bars":
        bottom += 0.45
    height = top + plot + bottom + 0.1
    fig = Figure(figsize=(WIDTH, height), dpi=DPI)
    FigureCanvasAgg(fig)

    y = 1 - 0.12 / height
    for text, size, weight in head:
        fig.text(0.012, y, text, fontsize=size, fontweight=weight, va="top")
        y -= LINE * (1.25 if weight == "bold" else 1.0) / height
    for k, line in enumerate(foot):
        fig.text(
            0.012,
            (0.1 + LINE * 0.85 * (len(foot) - 1 - k)) / height,
            line,
            fontsize=6.5,
            color="#444444",
        )

    if kind == "pie":
        _pie(fig, data, top / height, bottom / height)
    else:
        longest = max((len(line) for c in category_lines for line in c.split("\n")), default=4)
        left = 0.08 if kind == "columns" else min(0.5, (0.3 + longest * 0.062) / WIDTH)
        ax = fig.add_axes((left, bottom / height, 0.94 - left, plot / height))
        room = ((0.94 - left) * WIDTH) if kind == "columns" else plot
        handles = _bars(ax, data, category_lines, kind == "columns", chart.stacked, room)
        if legend:
            y_legend = 1 - (top - LINE * 1.1 * len(legend) - 0.05) / height
            for row_number, row in enumerate(legend):
                fig.legend(
                    [handles[i] for i in row],
                    [names[i] for i in row],
                    loc="upper left",
                    bbox_to_anchor=(0.005, y_legend - row_number * LINE * 1.1 / height),
                    ncol=len(row),
                    frameon=False,
                    fontsize=8,
                    handlelength=1.2,
                    borderaxespad=0,
                    columnspacing=1.2,
                )
    return fig


def _bars(
    ax: Any, data: ChartData, labels: list[str], vertical: bool, stacked: bool, room: float
) -> list[Any]:
    """Grouped or stacked bars; ``room``: the inches along the category axis.
    Values are written on the bars where they fit (else the table has them)."""
    # Side by side: each series, or each stack (an area, a year) of a stacked chart.
    slots = list(dict.fromkeys(s.stack if stacked else s.name for s in data.series))
    slot = {key: i for i, key in enumerate(slots)}
    width = 0.8 / max(1, len(slots))
    thickness = room * width / max(1, len(data.categories))
    if vertical:
        label_style = (
            {"fontsize": 7.5}
            if thickness >= 0.45
            else ({"fontsize": 6.5, "rotation": 90} if thickness >= 0.13 else None)
        )
    else:
        label_style = {"fontsize": 7.5 if thickness >= 0.16 else 6.5} if thickness >= 0.09 else None
    positions = list(range(len(data.categories)))
    base = {key: [0.0] * len(positions) for key in slots}
    for series in data.series:
        key = series.stack if stacked else series.name
        base[key] = [
            b + _drawn(v) if stacked else max(b, _drawn(v))
            for b, v in zip(base[key], series.values, strict=True)
        ]
    scale = max((max(v, default=0.0) for v in base.values()), default=0.0) or 1.0
    base = {key: [0.0] * len(positions) for key in slots}
    handles = []
    for k, series in enumerate(data.series):
        key = series.stack if stacked else series.name
        offsets = [p - 0.4 + width * (slot[key] + 0.5) for p in positions]
        shown = [_drawn(v) for v in series.values]
        colour = COLOURS[k % len(COLOURS)]
        bottom = base[key] if stacked else None
        if vertical:
            bars = ax.bar(offsets, shown, width=width, bottom=bottom, color=colour)
        else:
            bars = ax.barh(offsets, shown, height=width, left=bottom, color=colour)
        handles.append(bars[0] if len(bars) else bars)
        for i, (bar, value) in enumerate(zip(bars, series.values, strict=True)):
            text = _label(value, data.value)
            if label_style is None or (stacked and value == 0) or not text:
                continue  # no room, nothing stacked here (unlabelled as in the report), N = 0
            start = base[key][i] if stacked else 0.0
            size = _drawn(value)
            inside = stacked and size >= 0.08 * scale
            centre = start + size / 2 if inside else start + size
            colour = "white" if inside else "black"
            if vertical:
                x = bar.get_x() + bar.get_width() / 2
                ax.text(
                    x,
                    centre if inside else centre + 0.01 * scale,
                    text,
                    ha="center",
                    va="center" if inside else "bottom",
                    color=colour,
                    **label_style,
                )
            else:
                ybar = bar.get_y() + bar.get_height() / 2
                ax.text(
                    centre if inside else centre + 0.01 * scale,
                    ybar,
                    text if inside else " " + text,
                    va="center",
                    ha="center" if inside else "left",
                    color=colour,
                    **label_style,
                )
        if stacked:
            base[key] = [b + v for b, v in zip(base[key], shown, strict=True)]
    rotated = label_style is not None and "rotation" in label_style
    limit = scale * ((1.25 if rotated else 1.12) if vertical else 1.2)
    if vertical:
        ax.set_xticks(positions)
        ax.set_xticklabels(labels, fontsize=7.5)
        ax.set_ylim(0, limit)
        ax.set_ylabel(data.axis_label, fontsize=8)
        ax.tick_params(axis="y", labelsize=7.5)
        ax.yaxis.set_major_formatter(_axis_formatter())
    else:
        ax.set_yticks(positions)
        ax.set_yticklabels(labels, fontsize=7.5)
        ax.invert_yaxis()
        ax.set_xlim(0, limit)
        ax.set_xlabel(data.axis_label, fontsize=8)
        ax.tick_params(axis="x", labelsize=7.5)
        ax.xaxis.set_major_formatter(_axis_formatter())
    ax.spines[["top", "right"]].set_visible(False)
    return handles


def _drawn(value: float | None) -> float:
    """A bar's length: 0 for a hidden or undefined value."""
    return 0.0 if value is None or math.isnan(value) else value


def _axis_formatter() -> Any:
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(lambda value, _pos: swedish_number(value, decimals=None))


def _pie(fig: Figure, data: ChartData, top: float, bottom: float) -> None:
    values = [_drawn(v) for v in data.series[0].values]
    ax = fig.add_axes((0.02, bottom, 0.42, 1 - top - bottom))
    wedges, _texts = ax.pie(
        values,
        colors=[COLOURS[i % len(COLOURS)] for i in range(len(values))],
        startangle=90,
        counterclock=False,
        wedgeprops={"linewidth": 1, "edgecolor": "white"},
    )
    ax.set_aspect("equal")
    labels = [
        f"{textwrap.fill(c, 48)}  {_label(v, data.value)}"
        for c, v in zip(data.categories, data.series[0].values, strict=True)
    ]
    fig.legend(
        wedges,
        labels,
        loc="center left",
        bbox_to_anchor=(0.47, bottom + (1 - top - bottom) / 2),
        frameon=False,
        fontsize=8,
        handlelength=1.2,
    )


def chart_file_name(table: Table, fmt: ChartFormat) -> str:
    """``diagram-09-interventions.png`` (see :func:`~exporters.writers.common.file_stem`)."""
    return f"{file_stem(table)}.{fmt}"


def render_charts(summary: Summary, fmt: ChartFormat = "png") -> dict[str, bytes]:
    """File name -> bytes, one chart per table that has one."""
    return {
        chart_file_name(t, fmt): render_chart(summary, t, fmt)
        for t in summary.tables
        if has_chart(t)
    }
