"""Excel: one sheet per table with title, N, notes and source line, for people
(like Socialstyrelsen's result files), and a first sheet about the summary."""

from __future__ import annotations

import io

import xlsxwriter

from exporters.summary import Summary
from exporters.writers.common import display_rows, method_notes, period_text, suppression_note


def write_xlsx(summary: Summary) -> bytes:
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    book.set_properties({"title": f"ISU – {summary.scope.sv}", "created": None})
    title = book.add_format({"bold": True, "font_size": 14})
    bold = book.add_format({"bold": True})
    head = book.add_format({"bold": True, "bg_color": "#DDE6F0", "border": 1, "text_wrap": True})
    text = book.add_format({"border": 1})
    number = book.add_format({"border": 1, "align": "right"})
    small = book.add_format({"italic": True, "font_color": "#555555", "text_wrap": False})

    about = book.add_worksheet("Om")
    about.set_column(0, 0, 28)
    about.set_column(1, 1, 90)
    about.write(0, 0, "ISU-registret – nationell sammanställning", title)
    facts = [
        ("Omfattning", summary.scope.sv),
        ("Period (aktualiserade)", period_text(summary)),
        ("Katalogversion", summary.catalogue_version),
        ("Framställd", summary.generated_on.isoformat()),
        ("Antal ärenden", "..")
        if summary.n_cases is None
        else ("Antal ärenden", str(summary.n_cases)),
        ("Röjandeskydd", suppression_note(summary).sv),
    ]
    for reason, count in summary.excluded.items():
        facts.append((f"Undantagna: {reason}", ".." if count is None else str(count)))
    facts += [("Metod", note.sv) for note in method_notes()]
    facts.append(("Källa", summary.source.sv))
    for i, (key, value) in enumerate(facts, start=2):
        about.write(i, 0, key, bold)
        about.write(i, 1, value)
    row = len(facts) + 3
    about.write(row, 0, "Tabeller", bold)
    for i, table in enumerate(summary.tables, start=row + 1):
        about.write(i, 0, table.id)
        about.write(i, 1, table.spec.title.sv)

    for table in summary.tables:
        sheet = book.add_worksheet(table.id[:31])
        header, rows = display_rows(summary, table)
        sheet.write(0, 0, table.spec.title.sv, title)
        sheet.write(1, 0, table.spec.title.en, small)
        line = 2
        if table.spec.diagram:
            sheet.write(line, 0, f"Motsvarar {table.spec.diagram} i SU-Kvinnofrid 2021–2023", small)
            line += 1
        sheet.write(line, 0, f"N: {table.spec.denominator.sv}", small)
        line += 2
        for j, name in enumerate(header):
            sheet.write(line, j, name, head)
        for i, values in enumerate(rows, start=line + 1):
            for j, value in enumerate(values):
                sheet.write(i, j, value, number if j >= len(header) - 3 else text)
        end = line + len(rows) + 2
        notes = [*(n.sv for n in table.spec.notes), suppression_note(summary).sv, summary.source.sv]
        notes.insert(
            0, f"Period: {period_text(summary)}. Katalogversion {summary.catalogue_version}."
        )
        for k, note in enumerate(notes):
            sheet.write(end + k, 0, note, small)
        widths = [
            max(len(str(h)), *(len(r[j]) for r in rows)) if rows else len(str(h))
            for j, h in enumerate(header)
        ]
        for j, width in enumerate(widths):
            sheet.set_column(j, j, min(max(width + 2, 8), 60))
        sheet.freeze_panes(line + 1, 0)
        sheet.set_landscape()
        sheet.fit_to_pages(1, 0)
    book.close()
    return buffer.getvalue()
