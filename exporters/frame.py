"""The analysis frame: one flattened, typed row per case (pure pandas).

Input is four plain tables (cases with their catalogue values already split
into columns, interventions, risk assessments, survey responses), as read in
bulk from the database by ``app.stats.frame`` or built by hand in a test.
Output is one row per *included* case; excluded cases are left out and
counted by reason. Column reference: docs/analysis-frame.md.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from exporters.codebook import Codebook
from exporters.definitions import AGE_BANDS, DEFAULT_DEFINITIONS, DURATION_BINS, Definitions

STATUSES: tuple[str, ...] = (
    "aktualiserad",
    "fatt_insats",
    "avslutad",
    "avslutsorsak_angiven",
    "maluppfoljning_angiven",
    "brukarenkat_genomford",
)
SCORE_CHANGES: tuple[str, ...] = ("lower", "same", "higher")

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


def build_frame(
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
