"""Adult population (18+ on 31 December): the packaged figures and newer imports.

The product ships SCB's figures for one year (``app/reference/data``, see
SOURCES.md there). ``isu population import`` loads a newer extract into the
``population_figures`` table, which takes precedence for the areas and years
it holds. Two formats are read:

* **CSV** with a header: an area column (``kommunkod``, ``municipality_code``,
  ``area_code`` or ``district_code``), ``year`` (or ``år``), ``sex`` (or
  ``kön``: T, K, M) and ``population_18plus`` (or ``population``, ``antal``,
  ``value``). The packaged ``population_18plus.csv`` is one such file; a
  district's figures use its district code (``0180-01``).
* **Kolada JSON** for N02104 (Invånare 18+, antal), as ``/v3/data/kpi/N02104``
  answers: ``{"values": [{"kpi": "N02104", "municipality": "0180",
  "period": 2024, "values": [{"gender": "T", "value": 800000}, ...]}]}``.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.clock import utcnow
from app.models import PopulationFigure
from app.reference import adult_population, is_reporting_unit_code, municipalities
from app.reference import population_years as packaged_years
from exporters.indicators import Population

PACKAGED_SOURCE = "SCB (BE0101), folkbokförda 18+ den 31/12; paketerat med produkten"
AREA_COLUMNS = ("kommunkod", "municipality_code", "area_code", "district_code", "region")
YEAR_COLUMNS = ("year", "år", "period")
SEX_COLUMNS = ("sex", "kön", "gender")
VALUE_COLUMNS = ("population_18plus", "population", "antal", "value")
SEX_ALIASES = {"T": "T", "K": "K", "M": "M", "F": "K", "TOTALT": "T", "KVINNOR": "K", "MÄN": "M"}


class PopulationFileError(ValueError):
    """The file cannot be read; the message names the line and the problem (no values)."""


@dataclass(frozen=True)
class Figure:
    area_code: str
    year: int
    sex: str
    population: int


def population_table(session: Session) -> Population:
    """Packaged figures overlaid by imported ones, with a source per year."""
    figures: dict[tuple[str, int, str], int] = {}
    sources: dict[int, str] = {}
    for year in packaged_years():
        for code in municipalities():
            for sex in ("T", "K", "M"):
                value = adult_population(code, year, sex)
                if value is not None:
                    figures[(code, year, sex)] = value
        sources[year] = f"{PACKAGED_SOURCE} ({year})"
    for row in session.scalars(select(PopulationFigure)).all():
        figures[(row.area_code, row.year, row.sex)] = row.population
        sources[row.year] = f"{row.source} (referensdatum {row.reference_date.isoformat()})"
    return Population(figures, sources)


def _pick(header: Iterable[str], names: tuple[str, ...], what: str) -> str:
    lowered = {h.strip().lower(): h for h in header}
    for name in names:
        if name in lowered:
            return lowered[name]
    raise PopulationFileError(f"kolumn saknas / missing column: {what} ({', '.join(names)})")


def _figure(line: int, area: Any, year: Any, sex: Any, value: Any) -> Figure:
    code = str(area).strip()
    if code.isdigit() and len(code) < 4:
        code = code.zfill(4)  # a spreadsheet dropped the leading zero
    if not is_reporting_unit_code(code):
        raise PopulationFileError(f"rad {line}: okänd kommun- eller stadsdelskod / unknown area")
    try:
        year_number = int(str(year).strip())
        count = int(str(value).strip().replace(" ", ""))
    except ValueError:
        raise PopulationFileError(
            f"rad {line}: år och antal ska vara heltal / year and count must be integers"
        ) from None
    if not 1900 <= year_number <= 2200:
        raise PopulationFileError(f"rad {line}: orimligt år / implausible year")
    if count < 0:
        raise PopulationFileError(f"rad {line}: negativt antal / negative count")
    sex_code = SEX_ALIASES.get(str(sex).strip().upper())
    if sex_code is None:
        raise PopulationFileError(f"rad {line}: kön ska vara T, K eller M / sex must be T, K or M")
    return Figure(code, year_number, sex_code, count)


def parse_csv(text: str) -> list[Figure]:
    sample = text[:2048]
    delimiter = ";" if sample.count(";") > sample.count(",") else ","
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")), delimiter=delimiter)
    header = reader.fieldnames or []
    area = _pick(header, AREA_COLUMNS, "area")
    year = _pick(header, YEAR_COLUMNS, "year")
    sex = _pick(header, SEX_COLUMNS, "sex")
    value = _pick(header, VALUE_COLUMNS, "population")
    return [
        _figure(i, row[area], row[year], row[sex], row[value])
        for i, row in enumerate(reader, start=2)
    ]


def parse_kolada(text: str) -> list[Figure]:
    try:
        document = json.loads(text)
    except ValueError:
        raise PopulationFileError("ogiltig JSON / invalid JSON") from None
    entries = document.get("values") if isinstance(document, dict) else document
    if not isinstance(entries, list):
        raise PopulationFileError("'values' saknas / 'values' missing")
    out = []
    for i, entry in enumerate(entries, start=1):
        if not isinstance(entry, dict) or not isinstance(entry.get("values"), list):
            raise PopulationFileError(f"post {i}: fel form / wrong shape")
        if entry.get("kpi", "N02104") != "N02104":
            raise PopulationFileError(f"post {i}: inte N02104 / not N02104")
        for value in entry["values"]:
            if not isinstance(value, dict) or value.get("value") is None:
                continue
            out.append(
                _figure(
                    i,
                    entry.get("municipality"),
                    entry.get("period"),
                    value.get("gender"),
                    int(float(value["value"])),
                )
            )
    return out


def parse(text: str, fmt: str = "auto") -> list[Figure]:
    """Figures from a file's text; ``fmt`` is ``csv``, ``kolada`` or ``auto``."""
    if fmt == "auto":
        fmt = "kolada" if text.lstrip("\ufeff \n\r\t")[:1] in ("{", "[") else "csv"
    figures = parse_kolada(text) if fmt == "kolada" else parse_csv(text)
    if not figures:
        raise PopulationFileError("filen har inga befolkningsuppgifter / no figures in the file")
    check_totals(figures)
    return figures


def check_totals(figures: Iterable[Figure]) -> None:
    """Where T, K and M are all given, T must equal K + M (catches mixed-up columns)."""
    by_key: dict[tuple[str, int], dict[str, int]] = {}
    for f in figures:
        seen = by_key.setdefault((f.area_code, f.year), {})
        if f.sex in seen and seen[f.sex] != f.population:
            raise PopulationFileError(
                f"{f.area_code} {f.year}: två olika värden för {f.sex} / two values for {f.sex}"
            )
        seen[f.sex] = f.population
    for (area, year), values in by_key.items():
        if set(values) == {"T", "K", "M"} and values["T"] != values["K"] + values["M"]:
            raise PopulationFileError(f"{area} {year}: T ≠ K + M")


def import_figures(
    session: Session, figures: Iterable[Figure], *, source: str, reference_dates: Mapping[int, date]
) -> tuple[int, int]:
    """Insert or replace figures; returns (inserted, replaced)."""
    existing = {
        (r.area_code, r.year, r.sex): r for r in session.scalars(select(PopulationFigure)).all()
    }
    inserted = replaced = 0
    for f in figures:
        reference = reference_dates.get(f.year, date(f.year, 12, 31))
        row = existing.get((f.area_code, f.year, f.sex))
        if row is None:
            row = PopulationFigure(
                area_code=f.area_code,
                year=f.year,
                sex=f.sex,
                population=f.population,
                source=source,
                reference_date=reference,
            )
            session.add(row)
            existing[(f.area_code, f.year, f.sex)] = row
            inserted += 1
        else:
            row.population = f.population
            row.source = source
            row.reference_date = reference
            row.imported_at = utcnow()
            replaced += 1
    session.flush()
    return inserted, replaced
