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


def swedish_number(value: Any, decimals: int | None = 0) -> str:
    """``3 070``, ``94,1``: a no-break space between thousands, a decimal
    comma. ``decimals=None``: none for a whole number, else one."""
    number = float(value)
    if decimals is None:
        decimals = 0 if number.is_integer() else 1
    return f"{number:,.{decimals}f}".replace(",", "\u00a0").replace(".", ",")


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


Value = int | float | str
"""A cell for a person: a label, a number, ``..`` (hidden) or ``–`` (undefined)."""


def display_values(
    summary: Summary, table: Table, lang: str = "sv"
) -> tuple[list[str], list[list[Value]], int]:
    """Header and rows for a person: labels, then n and N as ints and the
    percent (or mean) as a float; ``..`` for a hidden cell, ``–`` where a
    share is undefined (N = 0). Also the number of leading label columns."""
    data = table.data
    dims = [c for c in (*table.by, *table.spec.dims) if c != "area_level"]
    is_mean = table.spec.kind == "mean"
    value_header = ("Antal (summa)", "Medelvärde") if is_mean else ("Antal (n)", "Andel (%)")
    if lang == "en":
        value_header = ("Total (sum)", "Mean") if is_mean else ("Count (n)", "Share (%)")
    header = [column_label(table, c, lang) for c in dims] + [value_header[0], "N", value_header[1]]
    rows: list[list[Value]] = []
    has_flags = "suppressed" in data.columns
    value_col = "mean" if is_mean else "percent"
    for record in data.to_dict("records"):
        hidden_n = bool(record.get("suppressed", False)) if has_flags else False
        hidden_big = bool(record.get("N_suppressed", False)) if has_flags else False
        row: list[Value] = [dim_value_label(summary, table, c, record[c], lang) for c in dims]
        row.append(_value(record["n"], hidden_n, int))
        row.append(_value(record["N"], hidden_big, int))
        row.append(_value(record[value_col], hidden_n or hidden_big, float))
        rows.append(row)
    return header, rows, len(dims)


def _value(value: Any, hidden: bool, kind: type[int] | type[float]) -> Value:
    if hidden:
        return SUPPRESSED_MARK
    if value is None or value is pd.NA or (isinstance(value, float) and value != value):
        return NOT_APPLICABLE
    return kind(value)


def display_rows(
    summary: Summary, table: Table, lang: str = "sv"
) -> tuple[list[str], list[list[str]]]:
    """Header and rows of text for a person: labels, Swedish numbers
    (``1 146``, ``94,1``), ``..`` for hidden cells."""
    header, rows, labels = display_values(summary, table, lang)
    decimals = 2 if table.spec.kind == "mean" else 1
    text_rows = []
    for row in rows:
        text = [str(v) for v in row[:labels]]
        for i, value in enumerate(row[labels:]):
            if isinstance(value, str):
                text.append(value)
            else:
                text.append(swedish_number(value, 0 if i < 2 else decimals))
        text_rows.append(text)
    return header, text_rows


def file_stem(table: Table) -> str:
    """``diagram-09-interventions``: the report's diagram number first, so that
    files sort in the report's order; a table the report gives only in its
    text is its id."""
    number = (table.spec.diagram or "").removeprefix("Diagram ").strip()
    return f"diagram-{int(number):02d}-{table.id}" if number.isdigit() else table.id


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
