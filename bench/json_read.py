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
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from app.catalogue.loader import Catalogue
from app.models import UNIT_KINDS, Case, Intervention, RiskAssessment, SurveyResponse, Unit
from app.reference import municipalities
from app.stats.codebook import codebook_from_catalogue
from exporters.analysis import STATUSES
from exporters.codebook import Codebook
from exporters.definitions import AGE_BANDS, DEFAULT_DEFINITIONS, DURATION_BINS, Definitions
from exporters.frame import (
    INTERVENTION_COLUMNS,
    RISK_COLUMNS,
    SCORE_CHANGES,
    SURVEY_COLUMNS,
    AnalysisFrame,
    RawData,
    band,
    categorical,
    multi_indicators,
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
    return build_frame_json(read_raw(session, codebook, where), codebook, definitions)


# --- the flattening every statistic used before (exporters/frame.py then) ---


def _positions(case_ids: pd.Index, child_case_ids: pd.Series) -> np.ndarray:
    return np.asarray(case_ids.get_indexer(pd.Index(child_case_ids.astype(str))))


def _child_indicators(
    n_cases: int, pos: np.ndarray, codes_col: pd.Series, codes: Sequence[int], prefix: str
) -> dict[str, np.ndarray]:
    values = pd.to_numeric(codes_col, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    out: dict[str, np.ndarray] = {}
    for code in codes:
        hit = np.zeros(n_cases, dtype=bool)
        hit[pos[values == code]] = True
        out[f"{prefix}__{code}"] = hit
    return out


def _dates(series: pd.Series) -> pd.Series:
    return pd.to_datetime(series, errors="coerce").astype("datetime64[s]")


def build_frame_json(
    raw: RawData, codebook: Codebook, definitions: Definitions = DEFAULT_DEFINITIONS
) -> AnalysisFrame:
    """Flatten the raw tables into the analysis frame (see docs/analysis-frame.md)."""
    all_cases = raw.cases
    excluded_mask = all_cases["is_excluded"].fillna(False).astype(bool).to_numpy()
    reasons = all_cases.loc[excluded_mask, "exclusion_reason"].fillna("unknown").astype(str)
    excluded = {str(k): int(v) for k, v in sorted(reasons.value_counts().items())}
    excluded_cases = pd.DataFrame(
        {
            "municipality_code": all_cases.loc[excluded_mask, "municipality_code"].astype(str),
            "county_code": all_cases.loc[excluded_mask, "county_code"].astype(str),
            "reason": reasons,
        }
    ).reset_index(drop=True)
    cases = all_cases.loc[~excluded_mask].reset_index(drop=True)
    n = len(cases)
    case_ids = pd.Index(cases["case_id"].astype(str))

    cols: dict[str, Any] = {
        "case_id": pd.Series(case_ids, dtype="object"),
        "unit_id": cases["unit_id"].astype(str),
        "municipality_code": cases["municipality_code"].astype(str),
        "county_code": cases["county_code"].astype(str),
        "district_code": cases["district_code"].astype("object"),
        "unit_kind": categorical(cases["unit_kind"], codebook.codes("unit_kind")),
    }
    actualised = _dates(cases["actualised_on"])
    closed = _dates(cases["closed_on"])
    cols["actualised_on"] = actualised
    cols["closed_on"] = closed
    cols["year"] = actualised.dt.year.astype("int64")

    for key in codebook.keys_of("single"):
        source = cases[key] if key in cases else pd.Series([None] * n, dtype="object")
        cols[key] = categorical(source, codebook.codes(key))
    for key in codebook.keys_of("integer"):
        source = cases[key] if key in cases else pd.Series([None] * n, dtype="object")
        cols[key] = pd.to_numeric(source, errors="coerce").astype("Float64").astype("Int64")
    for key in codebook.keys_of("multi"):
        info = codebook[key]
        source = cases[key] if key in cases else pd.Series([None] * n, dtype="object")
        exclusive = [o.code for o in info.options if o.exclusive]
        cols.update(multi_indicators(source, info.codes, exclusive, key))

    # Interventions (SUV 117, 118, 126): one query's rows, pivoted per case.
    iv = raw.interventions
    pos = _positions(case_ids, iv["case_id"]) if len(iv) else np.array([], dtype=int)
    keep = pos >= 0
    iv, pos = iv.loc[keep], pos[keep]
    records = np.bincount(pos, minlength=n) if len(pos) else np.zeros(n, dtype=int)
    type_ind = _child_indicators(
        n, pos, iv["type_code"], codebook.codes("intervention_type"), "intervention_type"
    )
    grounds_ind = _child_indicators(
        n, pos, iv["grounds_code"], codebook.codes("intervention_grounds"), "intervention_grounds"
    )
    cols["n_intervention_records"] = pd.Series(records, dtype="int64")
    cols["n_intervention_types"] = pd.Series(
        np.sum(np.column_stack(list(type_ind.values())), axis=1) if n else np.zeros(0, int),
        dtype="int64",
    )
    cols["has_intervention"] = pd.Series(records > 0)
    cols.update({k: pd.Series(v) for k, v in type_ind.items()})
    cols.update({k: pd.Series(v) for k, v in grounds_ind.items()})
    starts = pd.Series(_dates(iv["start_on"]).to_numpy(), index=pos)
    first_start = starts.groupby(level=0).min() if len(starts) else pd.Series(dtype="datetime64[s]")
    cols["first_intervention_on"] = pd.Series(
        first_start.reindex(range(n)).to_numpy(), dtype="datetime64[s]"
    )

    # Risk assessments (SUV 90): instruments used, first and last score.
    ra = raw.risk_assessments
    rpos = _positions(case_ids, ra["case_id"]) if len(ra) else np.array([], dtype=int)
    rkeep = rpos >= 0
    ra, rpos = ra.loc[rkeep].reset_index(drop=True), rpos[rkeep]
    n_risk = np.bincount(rpos, minlength=n) if len(rpos) else np.zeros(n, dtype=int)
    inst = _child_indicators(
        n, rpos, ra["instrument_code"], codebook.codes("risk_instrument"), "risk_instrument"
    )
    cols["n_risk_assessments"] = pd.Series(n_risk, dtype="int64")
    cols["risk_assessed"] = pd.Series(n_risk > 0)
    cols.update({k: pd.Series(v) for k, v in inst.items()})
    method_codes = [
        c for c in codebook.codes("risk_instrument") if c not in definitions.risk_no_method_codes
    ]
    method = np.zeros(n, dtype=bool)
    for code in method_codes:
        method |= inst[f"risk_instrument__{code}"]
    cols["risk_method_used"] = pd.Series(method)
    scored = pd.DataFrame(
        {
            "pos": rpos,
            "on": _dates(ra["assessed_on"]).to_numpy(),
            "order": np.arange(len(ra)),
            "score": pd.to_numeric(ra["score"], errors="coerce").to_numpy(),
        }
    ).dropna(subset=["score"])
    scored = scored.sort_values(["pos", "on", "order"], kind="stable")
    by_case = scored.groupby("pos")["score"]
    first = by_case.first().reindex(range(n))
    last = by_case.last().reindex(range(n))
    n_scored = by_case.size().reindex(range(n)).fillna(0).astype(int)
    score_codes = codebook.codes("risk_assessment.score")
    cols["risk_first_score"] = categorical(first.to_numpy(), score_codes)
    cols["risk_last_score"] = categorical(last.to_numpy(), score_codes)
    cols["n_risk_scores"] = pd.Series(n_scored.to_numpy(), dtype="int64")
    change = pd.Series(pd.NA, index=range(n), dtype="object")
    two = (n_scored >= 2).to_numpy()
    diff = (last - first).to_numpy()
    change[two & (diff < 0)] = "lower"
    change[two & (diff == 0)] = "same"
    change[two & (diff > 0)] = "higher"
    cols["risk_score_change"] = pd.Series(pd.Categorical(change, categories=list(SCORE_CHANGES)))

    # Survey (SUV 202–212): at most one per case.
    sv = raw.surveys
    spos = _positions(case_ids, sv["case_id"]) if len(sv) else np.array([], dtype=int)
    skeep = spos >= 0
    sv, spos = sv.loc[skeep].reset_index(drop=True), spos[skeep]
    has_survey = np.zeros(n, dtype=bool)
    has_survey[spos] = True
    cols["has_survey"] = pd.Series(has_survey)
    for key in codebook.keys_of("single", "survey"):
        if "." in key:
            continue
        values = pd.Series([None] * n, dtype="object")
        if key in sv:
            values.iloc[spos] = sv[key].to_numpy()
        cols[key] = categorical(values, codebook.codes(key))
    for field_key, column in (("survey.language", "language_code"), ("survey.mode", "mode_code")):
        values = pd.Series([None] * n, dtype="object")
        if len(sv):
            values.iloc[spos] = sv[column].to_numpy()
        cols[field_key.replace(".", "_")] = categorical(values, codebook.codes(field_key))

    frame = pd.DataFrame(cols)
    frame["age_band"] = band(frame["age"], AGE_BANDS)
    is_closed = frame["closed_on"].notna()
    frame["is_closed"] = is_closed
    duration = (frame["closed_on"] - frame["actualised_on"]).dt.days + 1
    frame["duration_days"] = duration.astype("Float64").astype("Int64")
    frame["duration_bin"] = band(frame["duration_days"], DURATION_BINS)
    frame["has_closing_reason"] = is_closed & frame["closing_reason"].notna()
    frame["has_goal_followup"] = is_closed & frame["goal_followup"].notna()
    frame["survey_done"] = is_closed & frame["has_survey"]
    cap = definitions.collaboration_count_cap
    count_keys = [str(i) for i in range(cap)] + [f"{cap}+"]
    capped = frame["collaboration_count"].clip(upper=cap).astype("Float64")
    count_band = capped.map(lambda v: count_keys[int(v)] if pd.notna(v) else None, na_action=None)
    frame["collaboration_count_band"] = pd.Categorical(count_band, categories=count_keys)
    frame["is_top_group"] = (
        is_closed
        & frame["goal_followup"].isin(definitions.top_goal_codes)
        & frame["survey_violence_change"].isin(definitions.top_survey_codes)
    )
    status = np.select(
        [
            frame["has_survey"].to_numpy(),
            (is_closed & frame["goal_followup"].notna()).to_numpy(),
            (is_closed & frame["closing_reason"].notna()).to_numpy(),
            is_closed.to_numpy(),
            frame["has_intervention"].to_numpy(),
        ],
        list(STATUSES[::-1][:5]),
        default=STATUSES[0],
    )
    frame["status"] = pd.Categorical(status, categories=list(STATUSES))
    return AnalysisFrame(frame, excluded, codebook.version, excluded_cases)
