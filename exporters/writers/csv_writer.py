"""CSV in one zip archive, two kinds per table:

* ``<id>.csv`` for machines: tidy, keys and labels, ``.`` decimals, comma
  separated, ``..`` for hidden cells (a stable interface, documented in
  docs/compilation.md);
* ``excel/<diagram-09-id>.csv`` for Swedish Excel: semicolon separated,
  decimal comma, no thousands separator (so that Excel reads numbers as
  numbers), UTF-8 with a byte-order mark, Swedish headers and labels, as the
  Excel and HTML tables show them;

plus a README.
"""

from __future__ import annotations

import csv
import io
import zipfile

from exporters.spec import Table
from exporters.summary import Summary
from exporters.writers.common import display_values, file_stem, period_text, suppression_note
from exporters.writers.json_writer import table_json

# A fixed timestamp inside the archive, so the same summary gives the same bytes.
ZIP_TIME = (2000, 1, 1, 0, 0, 0)
EXCEL_DIR = "excel"


def table_csv(summary: Summary, table_id: str) -> str:
    doc = table_json(summary, summary.table(table_id))
    value = doc["value"]
    columns: list[str] = []
    for dim in doc["dimensions"]:
        columns.append(dim["name"])
        if dim["name"] != "year":
            columns.append(f"{dim['name']}_label")
    columns += ["n", "N", value, "suppressed", "N_suppressed"]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for row in doc["rows"]:
        writer.writerow(["" if row.get(c) is None else row.get(c) for c in columns])
    return out.getvalue()


def table_csv_excel(summary: Summary, table: Table) -> str:
    """One table for Swedish Excel (without the byte-order mark; the caller
    encodes with ``utf-8-sig``)."""
    header, rows, labels = display_values(summary, table)
    decimals = 2 if table.spec.kind == "mean" else 1
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        cells = [str(v) for v in row[:labels]]
        for i, value in enumerate(row[labels:]):
            if isinstance(value, str):
                cells.append(value)
            elif i < 2:
                cells.append(str(int(value)))
            else:
                cells.append(f"{float(value):.{decimals}f}".replace(".", ","))
        writer.writerow(cells)
    return out.getvalue()


def write_csv_zip(summary: Summary) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        readme = "\n".join(
            [
                f"ISU-registret – nationell sammanställning ({summary.scope.sv})",
                f"Period: {period_text(summary)}",
                f"Katalogversion: {summary.catalogue_version}",
                suppression_note(summary).sv,
                "<tabell>.csv: en fil per tabell för maskinläsning (komma, punkt som "
                "decimaltecken, nycklar och etiketter).",
                f"{EXCEL_DIR}/: samma tabeller för svenskt Excel (semikolon, decimalkomma, "
                "svenska rubriker).",
                ".. = dolt värde (röjandeskydd); – = andel saknas (N = 0).",
                "",
            ]
        )
        entries = [("README.txt", readme.encode("utf-8"))]
        entries += [
            (f"{t.id}.csv", table_csv(summary, t.id).encode("utf-8-sig")) for t in summary.tables
        ]
        entries += [
            (
                f"{EXCEL_DIR}/{file_stem(t)}.csv",
                table_csv_excel(summary, t).encode("utf-8-sig"),
            )
            for t in summary.tables
        ]
        for name, data in entries:
            info = zipfile.ZipInfo(name, date_time=ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    return buffer.getvalue()
