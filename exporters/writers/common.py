"""Shared formatting for people-facing writers."""

from __future__ import annotations

from typing import Any

import pandas as pd

from exporters.codebook import Label
from exporters.compare import LEVEL_LABELS
from exporters.disclosure import SUPPRESSED_MARK
from exporters.spec import Table
from exporters.summary import Summary

NOT_APPLICABLE = "–"
BY_LABELS = {
    "year": Label("År", "Year"),
    "area_level": Label("Nivå", "Level"),
    "area_code": Label("Område", "Area"),
}


def cell(value: Any, hidden: bool, *, decimals: int | None = None) -> str:
    """A value as text: ``..`` when hidden, ``–`` when not applicable."""
    if hidden:
        return SUPPRESSED_MARK
    if value is None or value is pd.NA or (isinstance(value, float) and value != value):
        return NOT_APPLICABLE
    if decimals is not None:
        return f"{float(value):.{decimals}f}".replace(".", ",")
    return f"{int(value):,}".replace(",", "\u00a0")


def dim_value_label(
    summary: Summary, table: Table, column: str, value: Any, lang: str = "sv"
) -> str:
    if column == "area_level":
        return str(getattr(LEVEL_LABELS.get(str(value), Label(str(value), str(value))), lang))
    if column == "area_code":
        found = summary.area_labels.get(str(value))
        return getattr(found, lang) if found else str(value)
    if column == "year":
        return str(value)
    return str(getattr(table.label(column, value), lang))


def column_label(table: Table, column: str, lang: str = "sv") -> str:
    if column in BY_LABELS:
        return str(getattr(BY_LABELS[column], lang))
    return str(getattr(table.dim_labels.get(column, Label(column, column)), lang))


def display_rows(
    summary: Summary, table: Table, lang: str = "sv"
) -> tuple[list[str], list[list[str]]]:
    """Header and rows of text for a person: labels, ``..`` for hidden cells."""
    data = table.data
    dims = [c for c in (*table.by, *table.spec.dims) if c != "area_level"]
    is_mean = table.spec.kind == "mean"
    value_header = ("Antal (summa)", "Medelvärde") if is_mean else ("Antal (n)", "Andel (%)")
    if lang == "en":
        value_header = ("Total (sum)", "Mean") if is_mean else ("Count (n)", "Share (%)")
    header = [column_label(table, c, lang) for c in dims] + [value_header[0], "N", value_header[1]]
    rows = []
    has_flags = "suppressed" in data.columns
    value_col = "mean" if is_mean else "percent"
    for record in data.to_dict("records"):
        hidden_n = bool(record.get("suppressed", False)) if has_flags else False
        hidden_big = bool(record.get("N_suppressed", False)) if has_flags else False
        row = [dim_value_label(summary, table, c, record[c], lang) for c in dims]
        row.append(cell(record["n"], hidden_n))
        row.append(cell(record["N"], hidden_big))
        row.append(cell(record[value_col], hidden_n or hidden_big, decimals=2 if is_mean else 1))
        rows.append(row)
    return header, rows


def period_text(summary: Summary, lang: str = "sv") -> str:
    return f"{summary.period_from.isoformat()} – {summary.period_to.isoformat()}"


def suppression_note(summary: Summary) -> Label:
    if not summary.protected:
        return Label(
            "Tabellerna är inte röjandeskyddade: de är för kommunens eget bruk.",
            "The tables are not protected against disclosure: for the municipality's own use.",
        )
    t = summary.threshold
    return Label(
        f"Antal under {t} och andelar byggda på dem visas som .. (röjandeskydd), liksom de celler "
        "som annars skulle avslöja dem genom summor.",
        f"Counts under {t} and shares built on them are shown as .. (disclosure control), as are "
        "the cells that would otherwise reveal them through totals.",
    )


def method_notes() -> list[Label]:
    return [
        Label(
            "Andelar räknas på de ärenden där uppgiften är registrerad (N). Ej registrerat redovisas "
            "som egen rad med hela gruppen som N.",
            "Shares are computed over the cases where the item is registered (N). Not registered is "
            "its own row with the whole group as N.",
        ),
        Label(
            "Undantagna ärenden (t.ex. där klienten visade sig vara våldsutövare) ingår inte.",
            "Excluded cases (e.g. where the client turned out to be the perpetrator) are left out.",
        ),
    ]
