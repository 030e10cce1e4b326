"""Charts, one per table, PNG and SVG (matplotlib, Agg; no pyplot state).

Bars show percentages (means for mean tables); a hidden value gets no bar and
the mark ``..``. The not-registered row is left out of the bars (its count is
in the table). Labels are Swedish.
"""

from __future__ import annotations

import io
import textwrap
from typing import Literal

import matplotlib
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from exporters.definitions import NOT_REGISTERED
from exporters.disclosure import SUPPRESSED_MARK
from exporters.spec import Table
from exporters.summary import Summary
from exporters.writers.common import column_label, dim_value_label

matplotlib.rcParams["svg.hashsalt"] = "isu"
matplotlib.rcParams["svg.fonttype"] = "none"
ChartFormat = Literal["png", "svg"]
COLOURS = ("#1f4e79", "#e07b39", "#6a9f58", "#a05195", "#8c8c8c", "#d45087", "#2f9e9e")


def _series(
    summary: Summary, table: Table
) -> tuple[list[str], dict[str, list[float | None]], list[str]]:
    """Category labels, series name -> values (None = hidden/undefined), notes."""
    data = table.data
    spec = table.spec
    category = spec.category if spec.kind != "mean" else spec.dims[0]
    value_col = "mean" if spec.kind == "mean" else "percent"
    if spec.kind == "mean":
        data = data[data["measure"].astype(str) == "types"]
    data = data[data[category].astype(str) != NOT_REGISTERED]
    series_cols = [c for c in (*table.by, *spec.dims) if c not in (category, "area_level")]
    if spec.kind == "mean":
        series_cols = [c for c in series_cols if c != "measure"]
    categories: list[str] = []
    series: dict[str, dict[str, float | None]] = {}
    hidden_any = False
    for record in data.to_dict("records"):
        label = dim_value_label(summary, table, category, record[category])
        if label not in categories:
            categories.append(label)
        name = (
            " – ".join(
                dim_value_label(summary, table, c, record[c])
                if c in table.by
                else f"{column_label(table, c)}: {dim_value_label(summary, table, c, record[c])}"
                for c in series_cols
            )
            or "Andel"
        )
        value = record[value_col]
        hidden = bool(record.get("suppressed", False)) or bool(record.get("N_suppressed", False))
        hidden_any |= hidden
        series.setdefault(name, {})[label] = (
            None if hidden or value is None or value != value else float(value)
        )
    values = {name: [points.get(c) for c in categories] for name, points in series.items()}
    notes = [f"{SUPPRESSED_MARK} = dolt värde (röjandeskydd)"] if hidden_any else []
    return categories, values, notes


def render_chart(summary: Summary, table: Table, fmt: ChartFormat = "png") -> bytes:
    categories, series, notes = _series(summary, table)
    is_mean = table.spec.kind == "mean"
    height = max(3.0, 0.38 * len(categories) * max(1, len(series)) ** 0.6 + 1.6)
    fig = Figure(figsize=(8.5, height), dpi=110)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    count = max(1, len(series))
    width = 0.8 / count
    positions = list(range(len(categories)))
    for k, (name, values) in enumerate(series.items()):
        offsets = [p - 0.4 + width * (k + 0.5) for p in positions]
        shown = [v if v is not None else 0.0 for v in values]
        bars = ax.barh(offsets, shown, height=width, color=COLOURS[k % len(COLOURS)], label=name)
        for bar, value in zip(bars, values, strict=True):
            text = (
                SUPPRESSED_MARK
                if value is None
                else (f"{value:.1f}".replace(".", ",") + ("" if is_mean else " %"))
            )
            ax.text(
                bar.get_width(),
                bar.get_y() + bar.get_height() / 2,
                " " + text,
                va="center",
                fontsize=8,
            )
    ax.set_yticks(positions)
    wrapped = [textwrap.fill(c, LABEL_WIDTH) for c in categories]
    ax.set_yticklabels(wrapped, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("Antal insatser (medelvärde)" if is_mean else "Andel (%)")
    if not is_mean:
        ax.set_xlim(0, 115)
    ax.spines[["top", "right"]].set_visible(False)
    title = table.spec.title.sv
    if table.spec.diagram:
        title = f"{table.spec.diagram}: {title}"
    title_text = textwrap.fill(title, 70)
    ax.set_title(title_text, fontsize=10, loc="left")
    if len(series) > 1:
        ax.legend(fontsize=7, loc="lower right", frameon=False)
    footer = [f"N: {table.spec.denominator.sv}", *notes]
    footer_text = textwrap.fill(". ".join(footer), 140)
    fig.text(0.01, 0.005, footer_text, fontsize=6.5, color="#444444")
    _margins(fig, wrapped, title_text, footer_text, height)
    buffer = io.BytesIO()
    metadata = {"Date": None} if fmt == "svg" else {"Software": None}
    fig.savefig(buffer, format=fmt, metadata=metadata)
    return buffer.getvalue()


LABEL_WIDTH = 38
"""Category labels wrap at this many characters."""
CHAR_INCHES = 0.062
"""About the width of one character of 8-point text, in inches."""
LINE_INCHES = 0.17


def _margins(fig: Figure, labels: list[str], title: str, footer: str, height: float) -> None:
    """Room for the category labels, the title and the footer, from their
    length (measuring every text, as ``tight_layout`` does, doubles the cost
    of a chart)."""
    longest = max((len(line) for label in labels for line in label.split("\n")), default=4)
    left = min(0.55, (0.25 + longest * CHAR_INCHES) / fig.get_figwidth())
    top = 1 - (0.25 + (title.count("\n") + 1) * LINE_INCHES * 1.2) / height
    bottom = (0.55 + (footer.count("\n") + 1) * LINE_INCHES * 0.8) / height
    fig.subplots_adjust(left=left, right=0.9, top=top, bottom=bottom)


def render_charts(summary: Summary, fmt: ChartFormat = "png") -> dict[str, bytes]:
    """File name -> bytes, one chart per table."""
    return {f"{t.id}.{fmt}": render_chart(summary, t, fmt) for t in summary.tables}
