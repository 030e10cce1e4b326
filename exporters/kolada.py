"""The three SU-Kvinnofrid key ratios in Kolada's shape, and the coordinator's
CSV and Excel files (pure: results in, a document or bytes out).

Kolada's API v3 answers ``/data/kpi/{kpi}/year/{year}`` with entries
``{kpi, municipality, period, values: [{gender, count, status, value}]}``,
where ``count`` is the number of units behind the value (1 for a
municipality; for Stockholm and Göteborg, whose value is the mean of the
participating districts, the number of districts). :func:`kolada_document`
writes exactly that for the total (T) in ``values`` and the districts in
``ou_values``, and adds what Kolada does not publish apart, clearly marked:

* each entry's ``isu`` object: the count (numerator), the adult population,
  its reference year, the method and, for an empty value, the reason;
* ``isu_values_by_sex``: the register's own split into women (K) and men (M),
  which Kolada does not publish for these key ratios (``ours: true``).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import pandas as pd
import xlsxwriter

from exporters.codebook import Label
from exporters.indicators import REASONS, IndicatorResult, records

KOLADA_KPIS = ("U30750", "U30751", "U30752")
FORMAT = "isu-kolada"
FORMAT_VERSION = 1
OURS_NOTE = Label(
    "K och M är ISU-registrets egen uppdelning; Kolada redovisar dessa nyckeltal bara som "
    "totalt (T).",
    "K and M are the ISU register's own split; Kolada publishes these key ratios as a total "
    "(T) only.",
)
DISTRICT_NOTE = Label(
    "Stockholms (0180) och Göteborgs (1480) kommunvärden är medelvärdet av de deltagande "
    "stadsdelarnas värden, som i Kolada; count är antalet stadsdelar. Stadsdelskoderna är "
    "registrets egna.",
    "Stockholm's (0180) and Göteborg's (1480) municipality values are the mean of the "
    "participating districts' values, as in Kolada; count is the number of districts. The "
    "district codes are the register's own.",
)
EMPTY_NOTE = Label(
    "Ett nyckeltal som inte kan redovisas är tomt (null) med en orsak, aldrig 0.",
    "A ratio that cannot be reported is empty (null) with a reason, never 0.",
)
SOURCE = Label(
    "Egen beräkning ur ISU-registret (individbaserad systematisk uppföljning). Befolkning: SCB.",
    "Own calculation from the ISU register (individual-based systematic follow-up). "
    "Population: SCB.",
)


@dataclass(frozen=True)
class KoladaReport:
    results: Sequence[IndicatorResult]
    area_names: Mapping[str, str]
    """Area code -> name (municipalities and districts)."""
    generated_on: date
    population_sources: Mapping[int, str]
    """Reference year -> where the population figures come from."""
    catalogue_version: str

    @property
    def year(self) -> int:
        years = {r.period.year for r in self.results}
        if len(years) != 1:
            raise ValueError("a Kolada report covers one calendar year")
        (year,) = years
        if year is None:
            raise ValueError("a Kolada report covers a calendar year")
        return year


def _clean(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, float) and pd.isna(value):
        return None
    if value is pd.NA:
        return None
    if hasattr(value, "item"):
        return value.item()
    return value


def _entry(row: Mapping[str, Any]) -> dict[str, Any]:
    value = _clean(row["value"])
    reason = _clean(row["reason"])
    label = REASONS.get(reason) if reason else None
    return {
        "gender": row["sex"],
        "count": int(_clean(row["count"]) or 0),
        "status": "" if value is not None else "missing",
        "value": value,
        "isu": {
            "numerator": _clean(row["numerator"]),
            "population": _clean(row["denominator"]),
            "population_year": _clean(row["population_year"]),
            "method": row["method"],
            "ours": bool(row["ours"]),
            "reason": reason,
            "reason_sv": label.sv if label else None,
            "reason_en": label.en if label else None,
        },
    }


def kolada_document(report: KoladaReport) -> dict[str, Any]:
    """The report as Kolada API v3-shaped JSON (see the module docstring)."""
    values: list[dict[str, Any]] = []
    ou_values: list[dict[str, Any]] = []
    by_sex: list[dict[str, Any]] = []
    kpis = []
    for result in report.results:
        definition = result.definition
        kpis.append(
            {
                "id": definition.id,
                "title": definition.title.as_json(),
                "choices": dict(result.choices),
                "choice_labels": {
                    c.key: {
                        "label": c.label.as_json(),
                        "value": c.values[result.choices[c.key]].as_json(),
                    }
                    for c in definition.choices
                },
            }
        )
        rows = result.rows
        for (level, code), block in rows.groupby(["level", "area_code"], sort=False):
            rows_of_area = records(block)
            total = [_entry(r) for r in rows_of_area if r["sex"] == "T"]
            split = [_entry(r) for r in rows_of_area if r["sex"] != "T"]
            municipality = str(rows_of_area[0]["municipality_code"])
            head: dict[str, Any] = {"kpi": definition.id}
            if level == "district":
                head["ou"] = str(code)
                head["ou_title"] = report.area_names.get(str(code), str(code))
            head["municipality"] = municipality
            head["period"] = result.period.year
            (ou_values if level == "district" else values).append({**head, "values": total})
            by_sex.append({**head, "ours": True, "values": split})
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "count": len(values),
        "values": values,
        "ou_values": ou_values,
        "isu_values_by_sex": by_sex,
        "meta": {
            "period": report.year,
            "generated_on": report.generated_on.isoformat(),
            "catalogue_version": report.catalogue_version,
            "kpis": kpis,
            "population_sources": {str(k): v for k, v in report.population_sources.items()},
            "notes": [n.as_json() for n in (OURS_NOTE, DISTRICT_NOTE, EMPTY_NOTE)],
            "source": SOURCE.as_json(),
        },
    }


CSV_COLUMNS = (
    "kpi",
    "level",
    "area_code",
    "area_name",
    "municipality_code",
    "period",
    "gender",
    "ours",
    "numerator",
    "population",
    "population_year",
    "value",
    "count",
    "method",
    "status",
    "reason",
    "reason_sv",
)
SWEDISH_HEADERS = {
    "kpi": "Nyckeltal",
    "level": "Nivå",
    "area_code": "Områdeskod",
    "area_name": "Område",
    "municipality_code": "Kommunkod",
    "period": "År",
    "gender": "Kön",
    "ours": "Registrets egen uppdelning",
    "numerator": "Antal (täljare)",
    "population": "Invånare 18+",
    "population_year": "Befolkningens år",
    "value": "Värde per 10 000",
    "count": "Antal enheter",
    "method": "Metod",
    "status": "Status",
    "reason": "Orsakskod",
    "reason_sv": "Orsak",
}


def kolada_rows(report: KoladaReport) -> list[dict[str, Any]]:
    """One flat row per key ratio, area and sex (municipality before districts)."""
    out = []
    for result in report.results:
        for row in records(result.rows):
            entry = _entry(row)
            out.append(
                {
                    "kpi": row["indicator"],
                    "level": row["level"],
                    "area_code": row["area_code"],
                    "area_name": report.area_names.get(str(row["area_code"]), ""),
                    "municipality_code": row["municipality_code"],
                    "period": result.period.year,
                    "gender": row["sex"],
                    "ours": "ja" if entry["isu"]["ours"] else "nej",
                    "numerator": entry["isu"]["numerator"],
                    "population": entry["isu"]["population"],
                    "population_year": entry["isu"]["population_year"],
                    "value": entry["value"],
                    "count": entry["count"],
                    "method": row["method"],
                    "status": entry["status"],
                    "reason": entry["isu"]["reason"],
                    "reason_sv": entry["isu"]["reason_sv"],
                }
            )
    return out


def kolada_csv(report: KoladaReport) -> bytes:
    """UTF-8 CSV, one row per key ratio, area and sex; empty cell = no value."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in kolada_rows(report):
        writer.writerow(["" if row[c] is None else row[c] for c in CSV_COLUMNS])
    return buffer.getvalue().encode("utf-8")


def kolada_xlsx(report: KoladaReport) -> bytes:
    """Excel for the coordinator's report to SKR: an "Om" sheet (definitions,
    choices, notes, sources) and a "Nyckeltal" sheet with every row."""
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    book.set_properties({"title": f"Kolada-nyckeltal {report.year}", "created": None})
    title = book.add_format({"bold": True, "font_size": 14})
    bold = book.add_format({"bold": True})
    wrap = book.add_format({"text_wrap": True, "valign": "top"})
    head = book.add_format({"bold": True, "bg_color": "#DDE6F0", "border": 1, "text_wrap": True})
    cell = book.add_format({"border": 1})
    ours = book.add_format({"border": 1, "italic": True, "font_color": "#555555"})

    about = book.add_worksheet("Om")
    about.set_column(0, 0, 26)
    about.set_column(1, 1, 110)
    about.write(0, 0, f"SU-Kvinnofrids nyckeltal i Kolada, {report.year}", title)
    line = 2
    facts: list[tuple[str, str]] = [
        ("År", str(report.year)),
        ("Framställd", report.generated_on.isoformat()),
        ("Katalogversion", report.catalogue_version),
    ]
    for year, source in sorted(report.population_sources.items()):
        facts.append((f"Befolkning {year}", source))
    for result in report.results:
        definition = result.definition
        facts.append((definition.id, definition.title.sv))
        for choice in definition.choices:
            facts.append((f"  {choice.label.sv}", choice.values[result.choices[choice.key]].sv))
    facts += [("Not", n.sv) for n in (OURS_NOTE, DISTRICT_NOTE, EMPTY_NOTE)]
    facts.append(("Källa", SOURCE.sv))
    for key, value in facts:
        about.write(line, 0, key, bold)
        about.write(line, 1, value, wrap)
        line += 1

    sheet = book.add_worksheet("Nyckeltal")
    for i, column in enumerate(CSV_COLUMNS):
        sheet.write(0, i, SWEDISH_HEADERS[column], head)
    sheet.set_column(0, len(CSV_COLUMNS) - 1, 14)
    sheet.set_column(CSV_COLUMNS.index("area_name"), CSV_COLUMNS.index("area_name"), 24)
    sheet.set_column(CSV_COLUMNS.index("reason_sv"), CSV_COLUMNS.index("reason_sv"), 60)
    for r, row in enumerate(kolada_rows(report), start=1):
        style = ours if row["ours"] == "ja" else cell
        for c, column in enumerate(CSV_COLUMNS):
            value = row[column]
            if value is None:
                sheet.write_blank(r, c, None, style)
            else:
                sheet.write(r, c, value, style)
    sheet.freeze_panes(1, 0)
    book.close()
    return buffer.getvalue()
