"""BENCH-ONLY: the read every statistic used before the analysis table.

Kept so that ``bench.compilation`` measures the old path (every case's JSON
values, row by row) beside the new columnar read in the same run. The
application reads ``case_analysis`` instead (``app.stats.frame``).

Reading the analysis frame from the database: one query per table, no ORM objects.

``cases``, ``interventions``, ``risk_assessments`` and ``survey_responses`` are
each read with one Core ``SELECT`` (rows, not mapped objects) into pandas.
Catalogue values are extracted from the JSON column by the database itself
(``->>`` on PostgreSQL, ``json_extract`` on SQLite), one column per variable;
multi-choice arrays arrive as JSON text and each distinct text is parsed once
(``exporters.frame.multi_indicators``). The pure flattening is
``exporters.frame.build_frame``; columns are documented in
docs/analysis-frame.md.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date
from typing import Any

import pandas as pd
from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from app.catalogue.loader import Catalogue
from app.models import UNIT_KINDS, Case, Intervention, RiskAssessment, SurveyResponse, Unit
from app.reference import municipalities
from app.stats.codebook import codebook_from_catalogue
from exporters.codebook import Codebook
from exporters.definitions import DEFAULT_DEFINITIONS, Definitions
from exporters.frame import (
    INTERVENTION_COLUMNS,
    RISK_COLUMNS,
    SURVEY_COLUMNS,
    AnalysisFrame,
    RawData,
    build_frame,
)

UNIT_KIND_CODES = {kind: i + 1 for i, kind in enumerate(UNIT_KINDS)}
"""Unit.kind -> SUV 1 code (myndighet 1, utförare 2, både 3, annat 4)."""


@dataclass(frozen=True)
class CaseFilter:
    """Which cases: actualised within the period, in these municipalities
    (None = all), at this unit (None = all units), of this unit kind."""

    actualised_from: date
    actualised_to: date
    municipalities: Collection[str] | None = None
    unit_id: uuid.UUID | None = None
    unit_kind: str | None = None

    def apply(self, query: Select[Any]) -> Select[Any]:
        query = query.where(
            Case.actualised_on >= self.actualised_from, Case.actualised_on <= self.actualised_to
        )
        if self.municipalities is not None:
            query = query.where(Case.municipality_code.in_(sorted(self.municipalities)))
        if self.unit_id is not None:
            query = query.where(Case.unit_id == self.unit_id)
        if self.unit_kind is not None:
            query = query.where(Unit.kind == self.unit_kind)
        return query


def _frame(session: Session, query: Select[Any]) -> pd.DataFrame:
    result = session.execute(query)
    return pd.DataFrame(result.fetchall(), columns=list(result.keys()))


def _value_columns(codebook: Codebook) -> list[Any]:
    columns = []
    for key, info in codebook.variables.items():
        if info.source != "values":
            continue
        element = Case.values[key]
        if info.kind in ("single", "integer"):
            columns.append(element.as_integer().label(key))
        elif info.kind == "multi":
            columns.append(element.as_string().label(key))
    return columns


def read_raw(session: Session, codebook: Codebook, where: CaseFilter) -> RawData:
    """Four bulk reads (cases with their values split by the database,
    interventions, risk assessments, survey responses)."""
    cases_query = where.apply(
        select(
            Case.id.label("case_id"),
            Case.unit_id,
            Unit.kind.label("unit_kind_name"),
            Case.municipality_code,
            Case.district_code,
            Case.actualised_on,
            Case.closed_on,
            Case.is_excluded,
            Case.exclusion_reason,
            *_value_columns(codebook),
        ).join(Unit, Unit.id == Case.unit_id)
    ).order_by(Case.actualised_on, Case.id)
    cases = _frame(session, cases_query)
    county_of = {code: m.county_code for code, m in municipalities().items()}
    cases["case_id"] = cases["case_id"].astype(str)
    cases["unit_id"] = cases["unit_id"].astype(str)
    cases["unit_kind"] = cases.pop("unit_kind_name").map(UNIT_KIND_CODES)
    cases["county_code"] = cases["municipality_code"].map(county_of)

    def child(query: Any, columns: tuple[str, ...]) -> pd.DataFrame:
        frame = _frame(session, where.apply(query.join(Unit, Unit.id == Case.unit_id)))
        if frame.empty:
            return pd.DataFrame(columns=list(frame.columns) or list(columns))
        frame["case_id"] = frame["case_id"].astype(str)
        return frame

    interventions = child(
        select(
            Intervention.case_id,
            Intervention.start_on,
            Intervention.type_code,
            Intervention.grounds_code,
        )
        .join(Case, Case.id == Intervention.case_id)
        .order_by(Intervention.case_id, Intervention.start_on, Intervention.created_at),
        INTERVENTION_COLUMNS,
    )
    risks = child(
        select(
            RiskAssessment.case_id,
            RiskAssessment.assessed_on,
            RiskAssessment.phase_code,
            RiskAssessment.instrument_code,
            RiskAssessment.score,
        )
        .join(Case, Case.id == RiskAssessment.case_id)
        .order_by(RiskAssessment.case_id, RiskAssessment.assessed_on, RiskAssessment.created_at),
        RISK_COLUMNS,
    )
    survey_values = [
        SurveyResponse.values[key].as_integer().label(key)
        for key, info in codebook.variables.items()
        if info.source == "survey" and info.kind == "single" and "." not in key
    ]
    surveys = child(
        select(
            SurveyResponse.case_id,
            SurveyResponse.answered_on,
            SurveyResponse.language_code,
            SurveyResponse.mode_code,
            *survey_values,
        ).join(Case, Case.id == SurveyResponse.case_id),
        SURVEY_COLUMNS,
    )
    return RawData(cases, interventions, risks, surveys)


def load_frame(
    session: Session,
    catalogue: Catalogue,
    where: CaseFilter,
    definitions: Definitions = DEFAULT_DEFINITIONS,
) -> AnalysisFrame:
    """The analysis frame of the cases ``where`` selects (excluded ones counted
    and left out)."""
    codebook = codebook_from_catalogue(catalogue)
    return build_frame(read_raw(session, codebook, where), codebook, definitions)
