"""The analysis frame: one flattened, typed row per case (pure pandas).

:func:`frame_from_table` types rows of the analysis table (``case_analysis``,
as read columnar by ``app.stats.frame``) for the exporters. :func:`build_frame`
makes the same frame from four plain tables (cases with their catalogue values
in columns, interventions, risk assessments, survey responses — built by hand
in a test, or from a submission package): each case's row by
:func:`exporters.analysis.analysis_row`, exactly what the application stores,
then :func:`frame_from_table`. Output is one row per *included* case; excluded
cases are left out and counted by reason. Column reference:
docs/analysis-frame.md. (``categorical``, ``band`` and ``multi_indicators``
are the former flattening's helpers, kept for the benchmark's "before" path,
``bench/json_read.py``.)
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd

from exporters.analysis import (
    CHILD_FAMILIES,
    STATUSES,
    CaseFacts,
    InterventionFacts,
    Layout,
    RiskFacts,
    SurveyFacts,
    analysis_row,
    layout_from_codebook,
)
from exporters.analysis import SCORE_CHANGES as SCORE_CHANGES
from exporters.codebook import Codebook
from exporters.definitions import AGE_BANDS, DEFAULT_DEFINITIONS, DURATION_BINS, Definitions

CASE_COLUMNS = (
    "case_id",
    "unit_id",
    "unit_kind",
    "municipality_code",
    "county_code",
    "district_code",
    "actualised_on",
    "closed_on",
    "is_excluded",
    "exclusion_reason",
)
INTERVENTION_COLUMNS = ("case_id", "start_on", "type_code", "grounds_code")
RISK_COLUMNS = ("case_id", "assessed_on", "phase_code", "instrument_code", "score")
SURVEY_COLUMNS = ("case_id", "answered_on", "language_code", "mode_code")


@dataclass(frozen=True)
class RawData:
    """The four inputs. ``cases`` has :data:`CASE_COLUMNS` plus one column per
    catalogue value it holds: a code or integer (NaN/None when not registered)
    for single and integer variables; a JSON array text or a list for
    multi-choice (``[]`` = registered as none, None = not registered).
    ``surveys`` has :data:`SURVEY_COLUMNS` plus one column per survey question."""

    cases: pd.DataFrame
    interventions: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=list(INTERVENTION_COLUMNS))
    )
    risk_assessments: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=list(RISK_COLUMNS))
    )
    surveys: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=list(SURVEY_COLUMNS))
    )


@dataclass(frozen=True)
class AnalysisFrame:
    frame: pd.DataFrame
    excluded: Mapping[str, int]
    """Excluded cases by exclusion reason (left out of every table)."""
    catalogue_version: str
    excluded_cases: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=["municipality_code", "county_code", "reason"])
    )
    """One row per excluded case: municipality, county, reason (no identifiers)."""

    def excluded_in(
        self, municipality: str | None = None, county: str | None = None
    ) -> dict[str, int]:
        rows = self.excluded_cases
        if municipality is not None:
            rows = rows[rows["municipality_code"] == municipality]
        if county is not None:
            rows = rows[rows["county_code"] == county]
        return {str(k): int(v) for k, v in sorted(rows["reason"].value_counts().items())}

    @property
    def n_cases(self) -> int:
        return len(self.frame)

    @property
    def n_excluded(self) -> int:
        return sum(self.excluded.values())


def categorical(values: Any, categories: Sequence[Any]) -> pd.Series:
    """A Categorical that keeps every category; anything else becomes NaN."""
    series = pd.Series(values)
    if len(categories) and isinstance(categories[0], int | np.integer):
        series = pd.to_numeric(series, errors="coerce").astype("Float64").astype("Int64")
    return pd.Series(pd.Categorical(series, categories=list(categories)), index=series.index)


def band(values: pd.Series, bins: Sequence[tuple[int, int | None, str]]) -> pd.Series:
    """Integers into labelled bands (lowest, highest or None, key)."""
    numbers = pd.to_numeric(values, errors="coerce").astype("Float64")
    keys = [b[2] for b in bins]
    out = pd.Series(pd.NA, index=values.index, dtype="object")
    for low, high, key in bins:
        mask = numbers >= low
        if high is not None:
            mask &= numbers <= high
        out[mask.fillna(False).to_numpy(dtype=bool)] = key
    return pd.Series(pd.Categorical(out, categories=keys), index=values.index)


def _as_json_text(series: pd.Series) -> pd.Series:
    def one(v: Any) -> Any:
        if v is None or (isinstance(v, float) and np.isnan(v)):
            return None
        if isinstance(v, str):
            return v
        return json.dumps(sorted(int(x) for x in v))

    return pd.Series([one(v) for v in series], index=series.index, dtype="object")


def multi_indicators(
    series: pd.Series, codes: Sequence[int], exclusive: Sequence[int], prefix: str
) -> dict[str, pd.Series]:
    """Indicator columns ``<prefix>__<code>``, ``<prefix>__registered`` and
    ``<prefix>_count`` (options chosen, exclusive ones not counted; NA when not
    registered). Distinct value texts are parsed once each, not row by row."""
    if series.dtype == object and any(isinstance(v, list | tuple) for v in series):
        series = _as_json_text(series)
    positions, uniques = pd.factorize(series, use_na_sentinel=True)
    matrix = np.zeros((len(uniques) + 1, len(codes)), dtype=bool)
    index = {code: i for i, code in enumerate(codes)}
    for row, text in enumerate(uniques):
        parsed = json.loads(text) if isinstance(text, str) else list(text)
        for code in parsed:
            if int(code) in index:
                matrix[row, index[int(code)]] = True
    rows = np.where(positions < 0, len(uniques), positions)
    registered = positions >= 0
    out: dict[str, pd.Series] = {}
    for code, i in index.items():
        out[f"{prefix}__{code}"] = pd.Series(matrix[rows, i], index=series.index)
    out[f"{prefix}__registered"] = pd.Series(registered, index=series.index)
    counting = [index[c] for c in codes if c not in set(exclusive)]
    count = matrix[rows][:, counting].sum(axis=1) if counting else np.zeros(len(rows), int)
    out[f"{prefix}_count"] = pd.Series(
        pd.array(np.where(registered, count, 0), dtype="Int64"), index=series.index
    ).mask(~registered)
    return out


def _plain(value: Any) -> Any:
    """None for every kind of missing (None, NaN, pd.NA, NaT)."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and np.isnan(value):
        return None
    if isinstance(value, np.generic):
        return value.item()
    return value


def _day(value: Any) -> date | None:
    value = _plain(value)
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    stamp = pd.to_datetime(value, errors="coerce")
    return None if pd.isna(stamp) else pd.Timestamp(stamp).date()


def _records(frame: pd.DataFrame) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for record in frame.to_dict("records"):
        out.setdefault(str(record["case_id"]), []).append({str(k): v for k, v in record.items()})
    return out


def analysis_rows(raw: RawData, layout: Layout) -> pd.DataFrame:
    """The analysis table's rows for the cases of ``raw`` (every case, the
    excluded ones too), as the application stores them."""
    interventions = _records(raw.interventions)
    risks = _records(raw.risk_assessments)
    surveys = _records(raw.surveys)
    structural = set(CASE_COLUMNS)
    rows = []
    for record in raw.cases.to_dict("records"):
        case_id = str(record["case_id"])
        values = {
            str(k): v
            for k, v in ((k, _plain(v)) for k, v in record.items() if k not in structural)
            if v is not None
        }
        survey_records = surveys.get(case_id, [])
        survey = None
        if survey_records:
            answer = survey_records[0]
            survey = SurveyFacts(
                answered_on=_day(answer.get("answered_on")) or date.min,
                language_code=_plain(answer.get("language_code")),
                mode_code=_plain(answer.get("mode_code")),
                values={k: _plain(v) for k, v in answer.items() if k not in SURVEY_COLUMNS},
            )
        facts = CaseFacts(
            case_id=case_id,
            unit_id=str(record["unit_id"]),
            unit_kind=_plain(record.get("unit_kind")),
            municipality_code=str(record["municipality_code"]),
            county_code=_plain(record.get("county_code")),
            district_code=_plain(record.get("district_code")),
            actualised_on=_day(record["actualised_on"]) or date.min,
            closed_on=_day(record.get("closed_on")),
            is_excluded=bool(_plain(record.get("is_excluded")) or False),
            exclusion_reason=_plain(record.get("exclusion_reason")),
            values=values,
            interventions=[
                InterventionFacts(
                    _day(i["start_on"]) or date.min,
                    int(i["type_code"]),
                    _plain(i.get("grounds_code")),
                )
                for i in interventions.get(case_id, [])
            ],
            risks=[
                RiskFacts(
                    _day(r["assessed_on"]) or date.min,
                    int(r["instrument_code"]),
                    None if _plain(r.get("score")) is None else int(r["score"]),
                    order,
                )
                for order, r in enumerate(risks.get(case_id, []))
            ],
            survey=survey,
        )
        rows.append(analysis_row(layout, facts))
    return pd.DataFrame(rows, columns=layout.names())


def build_frame(
    raw: RawData, codebook: Codebook, definitions: Definitions = DEFAULT_DEFINITIONS
) -> AnalysisFrame:
    """The analysis frame of ``raw``: each case's analysis row
    (:func:`exporters.analysis.analysis_row`, what the application stores),
    then :func:`frame_from_table`, exactly as the database read does."""
    layout = layout_from_codebook(codebook)
    table = analysis_rows(raw, layout)
    excluded_mask = table["is_excluded"].astype(bool).to_numpy()
    excluded = table.loc[
        excluded_mask, ["municipality_code", "county_code", "exclusion_reason"]
    ].reset_index(drop=True)
    included = table.loc[~excluded_mask].reset_index(drop=True)
    return frame_from_table(included, excluded, codebook, definitions)


# --- from the analysis table to the frame --------------------------------------


def _numbers(series: pd.Series) -> np.ndarray:
    """Any integer-like column (Int64, float with NaN, object) as float with NaN."""
    kind = getattr(series.dtype, "kind", "O")
    if isinstance(series.dtype, np.dtype) and kind in "fiub":
        return np.asarray(series.to_numpy(dtype=float, copy=False))
    if series.dtype == object:
        series = pd.to_numeric(series, errors="coerce")
    return np.asarray(
        pd.Series(series).astype("Float64").to_numpy(dtype=float, na_value=np.nan), dtype=float
    )


def coded(series: pd.Series, categories: Sequence[Any]) -> pd.Categorical:
    """Integer codes as a Categorical of ``categories`` (other values NaN)."""
    values = _numbers(series)
    cats = [int(c) for c in categories]
    size = max(cats, default=0) + 2
    lut = np.full(size, -1, dtype=np.int64)
    lut[cats] = np.arange(len(cats))
    whole = np.where(np.isnan(values), -1, values)
    valid = (whole >= 0) & (whole < size - 1) & (whole == np.floor(whole))
    codes = lut[np.where(valid, whole, size - 1).astype(np.int64)]
    return pd.Categorical.from_codes(codes, categories=pd.Index(cats, dtype="int64"))


def _dates(series: pd.Series) -> pd.Series:
    return pd.Series(pd.to_datetime(series, errors="coerce")).astype("datetime64[s]")


def labelled(series: pd.Series, categories: Sequence[str]) -> pd.Categorical:
    """Text keys (a Categorical, or strings; "" and None = missing) as a
    Categorical of ``categories``."""
    if isinstance(series.dtype, pd.CategoricalDtype):
        # Re-map the few categories, not the million values ("" -> missing).
        return pd.Categorical(series.cat.set_categories(list(categories)))
    return pd.Categorical(series, categories=list(categories))


def _int_array(series: pd.Series) -> np.ndarray:
    values = _numbers(series)
    return np.where(np.isnan(values), 0, values).astype(np.int64)


def _flags(series: pd.Series) -> np.ndarray:
    if series.dtype == bool:
        flags: np.ndarray = series.to_numpy(dtype=bool)
        return flags
    if series.dtype == object:
        return np.asarray(
            [bool(v) and v not in ("f", "false", "0") for v in series.fillna(False)], dtype=bool
        )
    nonzero: np.ndarray = _int_array(series) != 0
    return nonzero


def _optional_ints(series: pd.Series) -> pd.Series:
    return pd.Series(pd.array(_numbers(series), dtype="Float64").astype("Int64"))


def frame_from_table(
    table: pd.DataFrame,
    excluded: pd.DataFrame,
    codebook: Codebook,
    definitions: Definitions = DEFAULT_DEFINITIONS,
) -> AnalysisFrame:
    """The analysis frame from rows of the analysis table (included cases) and
    the excluded ones (municipality, county, reason). ``table`` needs the
    columns of :meth:`exporters.analysis.Layout.frame_columns`; per-code
    indicators are taken from the ``__bits`` masks. Column reference:
    docs/analysis-frame.md."""
    layout = layout_from_codebook(codebook)
    table = table.reset_index(drop=True)
    n = len(table)
    cols: dict[str, Any] = {}
    if "case_id" in table:
        cols["case_id"] = pd.Series(
            table["case_id"].astype(str).to_numpy(dtype=object), dtype=object
        )
    if "unit_id" in table:
        cols["unit_id"] = table["unit_id"].astype(str)
    cols["municipality_code"] = table["municipality_code"].astype(str)
    cols["county_code"] = table["county_code"].astype(str)
    district = table["district_code"].astype(object)
    cols["district_code"] = district.where(district.notna() & (district != ""), None)
    cols["unit_kind"] = coded(table["unit_kind"], codebook.codes("unit_kind"))
    actualised = _dates(table["actualised_on"])
    cols["actualised_on"] = actualised
    cols["closed_on"] = _dates(table["closed_on"])
    cols["year"] = pd.Series(_int_array(table["year"]), dtype="int64")
    for key in codebook.keys_of("single"):
        cols[key] = coded(table[key], codebook.codes(key))
    for key in codebook.keys_of("integer"):
        cols[key] = _optional_ints(table[key])
    for multi in layout.multis:
        bits = _numbers(table[f"{multi.key}__bits"])
        registered = ~np.isnan(bits)
        mask = np.where(registered, bits, 0).astype(np.int64)
        for code in multi.codes:
            cols[f"{multi.key}__{code}"] = pd.Series(((mask >> (code - 1)) & 1).astype(bool))
        cols[f"{multi.key}__registered"] = pd.Series(registered)
        cols[f"{multi.key}_count"] = _optional_ints(table[f"{multi.key}_count"])

    records = _int_array(table["n_intervention_records"])
    cols["n_intervention_records"] = pd.Series(records, dtype="int64")
    cols["n_intervention_types"] = pd.Series(
        _int_array(table["n_intervention_types"]), dtype="int64"
    )
    cols["has_intervention"] = pd.Series(records > 0)
    child: dict[str, np.ndarray] = {}
    for key, _group in CHILD_FAMILIES:
        mask = _int_array(table[f"{key}__bits"])
        for code in layout.children[key]:
            child[f"{key}__{code}"] = ((mask >> (code - 1)) & 1).astype(bool)
    for key in ("intervention_type", "intervention_grounds"):
        for code in layout.children[key]:
            cols[f"{key}__{code}"] = pd.Series(child[f"{key}__{code}"])
    cols["first_intervention_on"] = _dates(table["first_intervention_on"])
    n_risk = _int_array(table["n_risk_assessments"])
    cols["n_risk_assessments"] = pd.Series(n_risk, dtype="int64")
    cols["risk_assessed"] = pd.Series(n_risk > 0)
    method = np.zeros(n, dtype=bool)
    for code in layout.children["risk_instrument"]:
        cols[f"risk_instrument__{code}"] = pd.Series(child[f"risk_instrument__{code}"])
        if code not in definitions.risk_no_method_codes:
            method |= child[f"risk_instrument__{code}"]
    cols["risk_method_used"] = pd.Series(method)
    score_codes = codebook.codes("risk_assessment.score")
    cols["risk_first_score"] = coded(table["risk_first_score"], score_codes)
    cols["risk_last_score"] = coded(table["risk_last_score"], score_codes)
    cols["n_risk_scores"] = pd.Series(_int_array(table["n_risk_scores"]), dtype="int64")
    cols["risk_score_change"] = labelled(table["risk_score_change"], SCORE_CHANGES)

    has_survey = _flags(table["has_survey"])
    cols["has_survey"] = pd.Series(has_survey)
    for key in layout.survey_questions:
        cols[key] = coded(table[key], codebook.codes(key))
    cols["survey_language"] = coded(table["survey_language"], codebook.codes("survey.language"))
    cols["survey_mode"] = coded(table["survey_mode"], codebook.codes("survey.mode"))

    frame = pd.DataFrame(cols, index=pd.RangeIndex(n), copy=False)
    frame["age_band"] = labelled(table["age_band"], [b[2] for b in AGE_BANDS])
    is_closed = frame["closed_on"].notna()
    frame["is_closed"] = is_closed
    frame["duration_days"] = _optional_ints(table["duration_days"])
    frame["duration_bin"] = labelled(table["duration_bin"], [b[2] for b in DURATION_BINS])
    frame["has_closing_reason"] = is_closed & frame["closing_reason"].notna()
    frame["has_goal_followup"] = is_closed & frame["goal_followup"].notna()
    frame["survey_done"] = is_closed & frame["has_survey"]
    cap = definitions.collaboration_count_cap
    count_keys = [str(i) for i in range(cap)] + [f"{cap}+"]
    counts = _numbers(table["collaboration_count"])
    band_codes = np.where(np.isnan(counts), -1, np.minimum(np.nan_to_num(counts), cap)).astype(int)
    frame["collaboration_count_band"] = pd.Categorical.from_codes(
        band_codes, categories=pd.Index(count_keys)
    )
    frame["is_top_group"] = (
        is_closed
        & frame["goal_followup"].isin(definitions.top_goal_codes)
        & frame["survey_violence_change"].isin(definitions.top_survey_codes)
    )
    frame["status"] = labelled(table["status"], STATUSES)

    excluded = excluded.reset_index(drop=True)
    reasons = excluded["exclusion_reason"].fillna("unknown").astype(str)
    counted = {str(k): int(v) for k, v in sorted(reasons.value_counts().items())}
    excluded_cases = pd.DataFrame(
        {
            "municipality_code": excluded["municipality_code"].astype(str),
            "county_code": excluded["county_code"].astype(str),
            "reason": reasons,
        }
    )
    return AnalysisFrame(frame, counted, codebook.version, excluded_cases)
