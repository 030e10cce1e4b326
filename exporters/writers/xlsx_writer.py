"""Excel for people: a contents sheet, then one sheet per table named like the
report ("Diagram 9 Vilka är de vanligaste…"), each with its title, area,
period and catalogue version, who N counts, the table and its notes.

Numbers are stored as numbers with number formats (counts ``#,##0``, shares
``0.0``, means ``0.00``), so that they can be summed and charted; Excel shows
them with the reader's separators (``1 146`` and ``94,1`` in Swedish). A
hidden value is the text ``..``, an undefined share (N = 0) the text ``–``.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass

import xlsxwriter
from xlsxwriter.format import Format
from xlsxwriter.worksheet import Worksheet

from exporters.spec import Table
from exporters.summary import Summary
from exporters.writers.common import (
    display_values,
    method_notes,
    period_text,
    suppression_note,
)

CONTENTS = "Innehåll"
SHEET_NAME_LIMIT = 31
"""Excel's limit on a sheet name's length."""
FORBIDDEN = re.compile(r"[\[\]:*?/\\]")
"""Characters Excel does not allow in a sheet name."""
COUNT_FORMAT = "#,##0"
SHARE_FORMAT = "0.0"
MEAN_FORMAT = "0.00"


def sheet_title(table: Table) -> str:
    """ "Diagram 9: Vilka är de vanligaste insatserna?" or the title alone."""
    title = table.spec.title.sv
    return f"{table.spec.diagram}: {title}" if table.spec.diagram else title


def sheet_names(tables: list[Table]) -> list[str]:
    """One Excel-valid, unique name per table: "Diagram 2 Hur ser könsfördelni…",
    at most 31 characters, without the characters Excel refuses."""
    names: list[str] = []
    taken = {CONTENTS.lower()}
    for table in tables:
        cleaned = FORBIDDEN.sub(" ", sheet_title(table).replace(": ", " "))
        name = " ".join(cleaned.split()).strip("'")
        if len(name) > SHEET_NAME_LIMIT:
            name = name[: SHEET_NAME_LIMIT - 1].rstrip(" ,.–-") + "…"
        unique, k = name, 2
        while unique.lower() in taken:
            suffix = f" ({k})"
            unique = name[: SHEET_NAME_LIMIT - len(suffix)].rstrip(" …") + suffix
            k += 1
        taken.add(unique.lower())
        names.append(unique)
    return names


def about_line(summary: Summary) -> str:
    """Area, period and catalogue version: on every sheet."""
    return (
        f"Område: {summary.scope.sv} · Period (aktualiserade ärenden): {period_text(summary)} · "
        f"Katalogversion: {summary.catalogue_version}"
    )


@dataclass(frozen=True)
class _Formats:
    """The workbook's cell formats, made once."""

    title: Format
    bold: Format
    head: Format
    text: Format
    mark: Format
    count: Format
    share: Format
    mean: Format
    plain_count: Format
    small: Format
    link: Format

    @classmethod
    def of(cls, book: xlsxwriter.Workbook) -> _Formats:
        return cls(
            title=book.add_format({"bold": True, "font_size": 14}),
            bold=book.add_format({"bold": True}),
            head=book.add_format(
                {"bold": True, "bg_color": "#DDE6F0", "border": 1, "text_wrap": True}
            ),
            text=book.add_format({"border": 1}),
            mark=book.add_format({"border": 1, "align": "right"}),
            count=book.add_format({"border": 1, "num_format": COUNT_FORMAT}),
            share=book.add_format({"border": 1, "num_format": SHARE_FORMAT}),
            mean=book.add_format({"border": 1, "num_format": MEAN_FORMAT}),
            plain_count=book.add_format({"num_format": COUNT_FORMAT, "align": "left"}),
            small=book.add_format({"italic": True, "font_color": "#555555"}),
            link=book.add_format({"font_color": "#1F4E79", "underline": 1}),
        )


def write_xlsx(summary: Summary) -> bytes:
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    book.set_properties({"title": f"ISU – {summary.scope.sv}", "created": None})
    f = _Formats.of(book)
    names = sheet_names(summary.tables)
    _contents(book.add_worksheet(CONTENTS), summary, names, f)
    for name, table in zip(names, summary.tables, strict=True):
        _table_sheet(book.add_worksheet(name), summary, table, f)
    book.close()
    return buffer.getvalue()


def _contents(sheet: Worksheet, summary: Summary, names: list[str], f: _Formats) -> None:
    sheet.set_column(0, 0, 34)
    sheet.set_column(1, 1, 70)
    sheet.set_column(2, 2, 60)
    sheet.write_string(0, 0, "ISU-registret – nationell sammanställning", f.title)
    sheet.write_string(1, 0, about_line(summary), f.small)
    facts: list[tuple[str, str | int]] = [
        ("Område", summary.scope.sv),
        ("Period (aktualiserade ärenden)", period_text(summary)),
        ("Katalogversion", summary.catalogue_version),
        ("Framställd", summary.generated_on.isoformat()),
        ("Antal ärenden", ".." if summary.n_cases is None else summary.n_cases),
        ("Röjandeskydd", suppression_note(summary).sv),
    ]
    for reason, count in summary.excluded.items():
        facts.append((f"Undantagna: {reason}", ".." if count is None else count))
    facts += [("Metod", note.sv) for note in method_notes()]
    facts.append(("Källa", summary.source.sv))
    row = 3
    for key, value in facts:
        sheet.write_string(row, 0, key, f.bold)
        if isinstance(value, int):
            sheet.write_number(row, 1, value, f.plain_count)
        else:
            sheet.write_string(row, 1, value)
        row += 1
    row += 1
    for j, name in enumerate(("Blad", "Rubrik", "N (vem som räknas)")):
        sheet.write_string(row, j, name, f.head)
    for name, table in zip(names, summary.tables, strict=True):
        row += 1
        sheet.write_url(row, 0, f"internal:'{name}'!A1", f.link, string=name)
        sheet.write_string(row, 1, table.spec.title.sv)
        sheet.write_string(row, 2, table.spec.denominator.sv)


def _table_sheet(sheet: Worksheet, summary: Summary, table: Table, f: _Formats) -> None:
    header, rows, labels = display_values(summary, table)
    sheet.write_string(0, 0, sheet_title(table), f.title)
    sheet.write_string(1, 0, table.spec.title.en, f.small)
    sheet.write_string(2, 0, about_line(summary), f.small)
    sheet.write_string(3, 0, f"N: {table.spec.denominator.sv}", f.small)
    first = 5
    for j, name in enumerate(header):
        sheet.write_string(first, j, name, f.head)
    value_format = f.mean if table.spec.kind == "mean" else f.share
    for i, values in enumerate(rows, start=first + 1):
        for j, value in enumerate(values):
            if j < labels:
                sheet.write_string(i, j, str(value), f.text)
            elif isinstance(value, str):
                sheet.write_string(i, j, value, f.mark)
            else:
                sheet.write_number(i, j, value, f.count if j < labels + 2 else value_format)
    if rows:
        sheet.autofilter(first, 0, first + len(rows), len(header) - 1)
    end = first + len(rows) + 2
    notes = [*(n.sv for n in table.spec.notes), suppression_note(summary).sv, summary.source.sv]
    for k, note in enumerate(notes):
        sheet.write_string(end + k, 0, note, f.small)
    sheet.write_url(
        end + len(notes) + 1, 0, f"internal:'{CONTENTS}'!A1", f.link, string="Till innehållet"
    )
    widths = [max([len(str(h)), *(len(str(r[j])) for r in rows)]) + 2 for j, h in enumerate(header)]
    for j, width in enumerate(widths):
        sheet.set_column(j, j, min(max(width, 9), 60))
    sheet.freeze_panes(first + 1, 0)
    sheet.set_landscape()
    sheet.fit_to_pages(1, 0)
