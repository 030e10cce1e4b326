"""A prototype of a columnar DB -> RawData read, to size a proposed change.

NOT used by the application. ``app.stats.frame.read_raw`` is the read the
benchmark measures; this module reads the same four tables with the same
SQL, but

* on PostgreSQL through ``COPY (SELECT ...) TO STDOUT`` (CSV) parsed by
  pyarrow's multithreaded CSV reader, as DESIGN.md §5 recommends;
* on SQLite through the DB-API cursor directly (plain tuples), without the
  ORM session's row processing;

and in both cases ids come back as text (no ``uuid.UUID`` per row) and dates
are parsed column-wise. ``bench.measure --prototype`` times it next to
``read_raw`` and checks that every table compiled from it equals the
reference, so the Findings in docs/benchmarks.md rest on a measured change.
"""

from __future__ import annotations

import io
import sqlite3
from typing import Any

import pandas as pd
import psycopg
import pyarrow as pa
from pyarrow import csv as pa_csv
from sqlalchemy import Select, String, select, type_coerce
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect

from app.models import Case, Intervention, RiskAssessment, SurveyResponse, Unit
from app.reference import municipalities
from app.stats.frame import UNIT_KIND_CODES, CaseFilter
from bench.loader import libpq, sqlite_path
from exporters.codebook import Codebook
from exporters.frame import INTERVENTION_COLUMNS, RISK_COLUMNS, SURVEY_COLUMNS, RawData


def _queries(codebook: Codebook, where: CaseFilter) -> dict[str, Select[Any]]:
    """The SELECTs of ``app.stats.frame.read_raw``, ids as text."""
    values: list[Any] = []
    for key, info in codebook.variables.items():
        if info.source != "values":
            continue
        if info.kind in ("single", "integer"):
            values.append(Case.values[key].as_integer().label(key))
        elif info.kind == "multi":
            values.append(Case.values[key].as_string().label(key))
    case_id = type_coerce(Case.id, String).label("case_id")
    cases = where.apply(
        select(
            case_id,
            type_coerce(Case.unit_id, String).label("unit_id"),
            Unit.kind.label("unit_kind_name"),
            Case.municipality_code,
            Case.district_code,
            Case.actualised_on,
            Case.closed_on,
            Case.is_excluded,
            Case.exclusion_reason,
            *values,
        ).join(Unit, Unit.id == Case.unit_id)
    ).order_by(Case.actualised_on, Case.id)

    def child(query: Any) -> Select[Any]:
        return where.apply(query.join(Unit, Unit.id == Case.unit_id))

    survey_values = [
        SurveyResponse.values[key].as_integer().label(key)
        for key, info in codebook.variables.items()
        if info.source == "survey" and info.kind == "single" and "." not in key
    ]
    return {
        "cases": cases,
        "interventions": child(
            select(
                type_coerce(Intervention.case_id, String).label("case_id"),
                Intervention.start_on,
                Intervention.type_code,
                Intervention.grounds_code,
            )
            .join(Case, Case.id == Intervention.case_id)
            .order_by(Intervention.case_id, Intervention.start_on, Intervention.created_at)
        ),
        "risk_assessments": child(
            select(
                type_coerce(RiskAssessment.case_id, String).label("case_id"),
                RiskAssessment.assessed_on,
                RiskAssessment.phase_code,
                RiskAssessment.instrument_code,
                RiskAssessment.score,
            )
            .join(Case, Case.id == RiskAssessment.case_id)
            .order_by(RiskAssessment.case_id, RiskAssessment.assessed_on, RiskAssessment.created_at)
        ),
        "surveys": child(
            select(
                type_coerce(SurveyResponse.case_id, String).label("case_id"),
                SurveyResponse.answered_on,
                SurveyResponse.language_code,
                SurveyResponse.mode_code,
                *survey_values,
            ).join(Case, Case.id == SurveyResponse.case_id)
        ),
    }


def _sql(query: Select[Any], dialect: Dialect) -> str:
    return str(query.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))


def _finish(frames: dict[str, pd.DataFrame]) -> RawData:
    cases = frames["cases"]
    county_of = {code: m.county_code for code, m in municipalities().items()}
    cases["unit_kind"] = cases.pop("unit_kind_name").map(UNIT_KIND_CODES)
    cases["county_code"] = cases["municipality_code"].map(county_of)
    return RawData(cases, frames["interventions"], frames["risk_assessments"], frames["surveys"])


def _empty(columns: tuple[str, ...], frame: pd.DataFrame) -> pd.DataFrame:
    return frame if len(frame) else pd.DataFrame(columns=list(frame.columns) or list(columns))


CHILD_COLUMNS = {
    "interventions": INTERVENTION_COLUMNS,
    "risk_assessments": RISK_COLUMNS,
    "surveys": SURVEY_COLUMNS,
}


def read_postgresql(url: str, codebook: Codebook, where: CaseFilter) -> RawData:
    """COPY each query out as CSV; pyarrow parses it (text stays text, codes
    become numbers, dates dates)."""
    frames: dict[str, pd.DataFrame] = {}
    dialect: Dialect = postgresql.dialect()  # type: ignore[no-untyped-call]
    with psycopg.connect(libpq(url)) as conn, conn.cursor() as cursor:
        for name, query in _queries(codebook, where).items():
            buffer = io.BytesIO()
            statement = f"COPY ({_sql(query, dialect)}) TO STDOUT WITH (FORMAT csv, HEADER true)"
            with cursor.copy(statement) as copy:
                for chunk in copy:
                    buffer.write(chunk)
            buffer.seek(0)
            text_columns = {
                c.name: pa.string()
                for c in query.selected_columns
                if isinstance(c.type, String) or c.name in ("municipality_code", "district_code")
            }
            table = pa_csv.read_csv(
                buffer,
                convert_options=pa_csv.ConvertOptions(
                    column_types=text_columns,
                    true_values=["t"],
                    false_values=["f"],
                    strings_can_be_null=True,
                    quoted_strings_can_be_null=False,
                ),
            )
            frame = table.to_pandas(date_as_object=False)
            frames[name] = frame if name == "cases" else _empty(CHILD_COLUMNS[name], frame)
    return _finish(frames)


def read_sqlite(url: str, codebook: Codebook, where: CaseFilter) -> RawData:
    """The DB-API cursor's plain tuples, one DataFrame per query."""
    frames: dict[str, pd.DataFrame] = {}
    dialect: Dialect = sqlite.dialect()
    conn = sqlite3.connect(sqlite_path(url))
    try:
        for name, query in _queries(codebook, where).items():
            cursor = conn.execute(_sql(query, dialect))
            columns = [d[0] for d in cursor.description]
            frame = pd.DataFrame.from_records(cursor.fetchall(), columns=columns)
            frames[name] = frame if name == "cases" else _empty(CHILD_COLUMNS[name], frame)
    finally:
        conn.close()
    return _finish(frames)


def read_raw_columnar(url: str, codebook: Codebook, where: CaseFilter) -> RawData:
    if url.startswith("postgresql"):
        return read_postgresql(url, codebook, where)
    return read_sqlite(url, codebook, where)
