"""CSV: one file per table (tidy, machine-readable: keys and labels, ``..``
for hidden cells), plus a README, in one zip archive."""

from __future__ import annotations

import csv
import io
import zipfile

from exporters.summary import Summary
from exporters.writers.common import period_text, suppression_note
from exporters.writers.json_writer import table_json

# A fixed timestamp inside the archive, so the same summary gives the same bytes.
ZIP_TIME = (2000, 1, 1, 0, 0, 0)


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


def write_csv_zip(summary: Summary) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        readme = "\n".join(
            [
                f"ISU-registret – nationell sammanställning ({summary.scope.sv})",
                f"Period: {period_text(summary)}",
                f"Katalogversion: {summary.catalogue_version}",
                suppression_note(summary).sv,
                "En fil per tabell; .. = dolt värde (röjandeskydd).",
                "",
            ]
        )
        entries = [("README.txt", readme)]
        entries += [(f"{t.id}.csv", table_csv(summary, t.id)) for t in summary.tables]
        for name, text in entries:
            info = zipfile.ZipInfo(name, date_time=ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, text.encode("utf-8-sig" if name.endswith(".csv") else "utf-8"))
    return buffer.getvalue()
