"""The analysis record: one flat, typed row per case (pure).

This is the single definition of what a case contributes to statistics. The
application writes one such row per case into the ``case_analysis`` table in
the same transaction as the case (``app.analysis``), and every statistic is
read from there, columnar. :func:`analysis_row` turns one case's facts (its
structural columns, catalogue values and repeated records) into the row;
:func:`layout_from_codebook` says which columns exist. The column reference is
docs/analysis-frame.md.

Multi-choice variables are stored three ways, all derived here: one boolean
column per code (``perpetrator__2``; NULL when the variable is not
registered, False when registered without that code), the number of options
chosen (``perpetrator_count``; exclusive options such as "Nej" not counted)
and a bit mask (``perpetrator__bits``: bit ``code − 1``; 0 = registered as
none, NULL = not registered) that the columnar reader uses, because reading
one integer is much cheaper than reading a dozen booleans. A code added to
the catalogue later only adds a bit: stored masks stay right.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal

from exporters.codebook import Codebook
from exporters.definitions import AGE_BANDS, DURATION_BINS

ColumnKind = Literal["id", "text", "code", "int", "count", "date", "bool", "bits", "json"]


@dataclass(frozen=True)
class Column:
    name: str
    kind: ColumnKind
    nullable: bool = True
    length: int | None = None
    """Maximum length of a text column."""


STATUSES: tuple[str, ...] = (
    "aktualiserad",
    "fatt_insats",
    "avslutad",
    "avslutsorsak_angiven",
    "maluppfoljning_angiven",
    "brukarenkat_genomford",
)
SCORE_CHANGES: tuple[str, ...] = ("lower", "same", "higher")
CHILD_FAMILIES: tuple[tuple[str, str], ...] = (
    ("intervention_type", "intervention"),
    ("intervention_grounds", "intervention"),
    ("risk_instrument", "risk_assessment"),
)
"""Indicator families from repeated records: (key, group)."""


@dataclass(frozen=True)
class MultiVariable:
    key: str
    codes: tuple[int, ...]
    exclusive: tuple[int, ...] = ()

    @property
    def counted(self) -> frozenset[int]:
        return frozenset(self.codes) - frozenset(self.exclusive)


@dataclass(frozen=True)
class Layout:
    """Which columns the analysis table has, from the shared catalogue."""

    singles: tuple[str, ...]
    integers: tuple[str, ...]
    multis: tuple[MultiVariable, ...]
    children: Mapping[str, tuple[int, ...]]
    """Codes of each child indicator family (:data:`CHILD_FAMILIES`)."""
    survey_questions: tuple[str, ...]
    _columns: tuple[Column, ...] = field(default=(), compare=False)

    def columns(self) -> tuple[Column, ...]:
        return self._columns or _columns(self)

    def names(self) -> list[str]:
        return [c.name for c in self.columns()]

    def column(self, name: str) -> Column:
        return next(c for c in self.columns() if c.name == name)

    def frame_columns(self, *, ids: bool = True) -> list[str]:
        """What the analysis frame is made of: every column but the per-code
        booleans (the ``__bits`` masks carry them), the exclusion (excluded
        cases are read apart) and the local values."""
        skip = {"is_excluded", "exclusion_reason", "local_values", "survey_answered_on"}
        if not ids:
            skip |= {"case_id", "unit_id"}
        booleans = {
            f"{key}__{code}"
            for key, codes in (
                *((m.key, m.codes) for m in self.multis),
                *self.children.items(),
            )
            for code in codes
        }
        return [c.name for c in self.columns() if c.name not in skip | booleans]


KEY_COLUMNS: tuple[Column, ...] = (
    Column("case_id", "id", nullable=False),
    Column("unit_id", "id", nullable=False),
    Column("unit_kind", "code"),
    Column("municipality_code", "text", nullable=False, length=4),
    Column("county_code", "text", length=2),
    Column("district_code", "text", length=10),
    Column("actualised_on", "date", nullable=False),
    Column("year", "int", nullable=False),
    Column("closed_on", "date"),
    Column("is_excluded", "bool", nullable=False),
    Column("exclusion_reason", "text", length=30),
)


def _columns(layout: Layout) -> tuple[Column, ...]:
    out = list(KEY_COLUMNS)
    out += [Column(key, "code") for key in layout.singles]
    out += [Column(key, "int") for key in layout.integers]
    for multi in layout.multis:
        out += [Column(f"{multi.key}__{code}", "bool") for code in multi.codes]
        out.append(Column(f"{multi.key}_count", "count"))
        out.append(Column(f"{multi.key}__bits", "bits"))
    out += [
        Column("n_intervention_records", "count", nullable=False),
        Column("n_intervention_types", "count", nullable=False),
        Column("first_intervention_on", "date"),
    ]
    out += [Column("n_risk_assessments", "count", nullable=False)]
    for key, _group in CHILD_FAMILIES:
        out += [Column(f"{key}__{code}", "bool", nullable=False) for code in layout.children[key]]
        out.append(Column(f"{key}__bits", "bits", nullable=False))
    out += [
        Column("risk_first_score", "code"),
        Column("risk_last_score", "code"),
        Column("n_risk_scores", "count", nullable=False),
        Column("risk_score_change", "text", length=6),
        Column("has_survey", "bool", nullable=False),
        Column("survey_answered_on", "date"),
        Column("survey_language", "code"),
        Column("survey_mode", "code"),
    ]
    out += [Column(key, "code") for key in layout.survey_questions]
    out += [
        Column("age_band", "text", length=8),
        Column("duration_days", "int"),
        Column("duration_bin", "text", length=10),
        Column("status", "text", nullable=False, length=30),
        Column("local_values", "json", nullable=False),
    ]
    return tuple(out)


def layout_from_codebook(codebook: Codebook) -> Layout:
    """The layout of the shared catalogue (local variables are never columns:
    they go to ``local_values``, so a new one needs no migration)."""
    multis = tuple(
        MultiVariable(
            key,
            tuple(codebook.codes(key)),
            tuple(o.code for o in codebook[key].options if o.exclusive),
        )
        for key in codebook.keys_of("multi")
    )
    layout = Layout(
        singles=tuple(codebook.keys_of("single")),
        integers=tuple(codebook.keys_of("integer")),
        multis=multis,
        children={key: tuple(codebook.codes(key)) for key, _group in CHILD_FAMILIES},
        survey_questions=tuple(k for k in codebook.keys_of("single", "survey") if "." not in k),
    )
    return Layout(
        layout.singles,
        layout.integers,
        layout.multis,
        layout.children,
        layout.survey_questions,
        _columns(layout),
    )


# --- the facts of one case ----------------------------------------------------


@dataclass(frozen=True)
class InterventionFacts:
    start_on: date
    type_code: int
    grounds_code: int | None


@dataclass(frozen=True)
class RiskFacts:
    assessed_on: date
    instrument_code: int
    score: int | None
    order: Any = 0
    """Registration order (``created_at``, then id): breaks ties of the date."""


@dataclass(frozen=True)
class SurveyFacts:
    answered_on: date
    language_code: int | None
    mode_code: int | None
    values: Mapping[str, Any]


@dataclass(frozen=True)
class CaseFacts:
    case_id: Any
    unit_id: Any
    unit_kind: int | None
    municipality_code: str
    county_code: str | None
    district_code: str | None
    actualised_on: date
    closed_on: date | None
    is_excluded: bool
    exclusion_reason: str | None
    values: Mapping[str, Any]
    interventions: Sequence[InterventionFacts] = ()
    risks: Sequence[RiskFacts] = ()
    survey: SurveyFacts | None = None


def _code(value: Any) -> int | None:
    """A stored code as an int; anything that is not one is not registered."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return int(number) if number == number and number.is_integer() else None


def _chosen(value: Any) -> list[int] | None:
    """A multi-choice value (a list, or its JSON text) as codes; None when absent."""
    if value is None:
        return None
    if isinstance(value, str):
        value = json.loads(value)
    if isinstance(value, float) and value != value:
        return None
    return [int(v) for v in value]


def _band(value: int | None, bins: Iterable[tuple[int, int | None, str]]) -> str | None:
    if value is None:
        return None
    for low, high, key in bins:
        if value >= low and (high is None or value <= high):
            return key
    return None


def _day(value: date | datetime | None) -> date | None:
    return value.date() if isinstance(value, datetime) else value


def local_values(values: Mapping[str, Any]) -> dict[str, Any]:
    """The local (municipal or regional) variables of a case: keyed ``owner.key``."""
    return {k: v for k, v in sorted(values.items()) if "." in k}


def analysis_row(layout: Layout, facts: CaseFacts) -> dict[str, Any]:
    """The analysis row of one case (every column of ``layout``)."""
    values = facts.values
    actualised = _day(facts.actualised_on)
    closed = _day(facts.closed_on)
    assert actualised is not None
    row: dict[str, Any] = {
        "case_id": facts.case_id,
        "unit_id": facts.unit_id,
        "unit_kind": facts.unit_kind,
        "municipality_code": facts.municipality_code,
        "county_code": facts.county_code,
        "district_code": facts.district_code,
        "actualised_on": actualised,
        "year": actualised.year,
        "closed_on": closed,
        "is_excluded": bool(facts.is_excluded),
        "exclusion_reason": facts.exclusion_reason,
    }
    for key in layout.singles:
        row[key] = _code(values.get(key))
    for key in layout.integers:
        row[key] = _code(values.get(key))
    for multi in layout.multis:
        chosen = _chosen(values.get(multi.key))
        if chosen is None:
            for code in multi.codes:
                row[f"{multi.key}__{code}"] = None
            row[f"{multi.key}_count"] = None
            row[f"{multi.key}__bits"] = None
            continue
        known = set(chosen) & set(multi.codes)
        for code in multi.codes:
            row[f"{multi.key}__{code}"] = code in known
        row[f"{multi.key}_count"] = len(known & multi.counted)
        row[f"{multi.key}__bits"] = _bits(known)

    interventions = facts.interventions
    types = {_code(i.type_code) for i in interventions} & set(layout.children["intervention_type"])
    grounds = {_code(i.grounds_code) for i in interventions} & set(
        layout.children["intervention_grounds"]
    )
    row["n_intervention_records"] = len(interventions)
    row["n_intervention_types"] = len(types)
    row["first_intervention_on"] = (
        min(_day(i.start_on) for i in interventions) if interventions else None  # type: ignore[type-var]
    )
    row["n_risk_assessments"] = len(facts.risks)
    instruments = {_code(r.instrument_code) for r in facts.risks} & set(
        layout.children["risk_instrument"]
    )
    for key, found in (
        ("intervention_type", types),
        ("intervention_grounds", grounds),
        ("risk_instrument", instruments),
    ):
        for code in layout.children[key]:
            row[f"{key}__{code}"] = code in found
        row[f"{key}__bits"] = _bits(found)

    scored = sorted(
        (r for r in facts.risks if _code(r.score) is not None),
        key=lambda r: (_day(r.assessed_on), r.order),
    )
    first = _code(scored[0].score) if scored else None
    last = _code(scored[-1].score) if scored else None
    row["risk_first_score"] = first
    row["risk_last_score"] = last
    row["n_risk_scores"] = len(scored)
    change = None
    if len(scored) >= 2 and first is not None and last is not None:
        change = SCORE_CHANGES[(last > first) - (last < first) + 1]
    row["risk_score_change"] = change

    survey = facts.survey
    row["has_survey"] = survey is not None
    row["survey_answered_on"] = _day(survey.answered_on) if survey else None
    row["survey_language"] = _code(survey.language_code) if survey else None
    row["survey_mode"] = _code(survey.mode_code) if survey else None
    for key in layout.survey_questions:
        row[key] = _code(survey.values.get(key)) if survey else None

    row["age_band"] = _band(row.get("age"), AGE_BANDS)
    duration = (closed - actualised).days + 1 if closed is not None else None
    row["duration_days"] = duration
    row["duration_bin"] = _band(duration, DURATION_BINS)
    row["status"] = _status(closed, values, bool(interventions), survey is not None)
    row["local_values"] = local_values(values)
    return row


def _bits(codes: Iterable[int | None]) -> int:
    mask = 0
    for code in codes:
        if code is not None:
            mask |= 1 << (code - 1)
    return mask


def _status(
    closed: date | None, values: Mapping[str, Any], intervened: bool, surveyed: bool
) -> str:
    """The funnel status, as ``app.cases.status.derive_status``."""
    if surveyed:
        return "brukarenkat_genomford"
    if closed is not None:
        if values.get("goal_followup") is not None:
            return "maluppfoljning_angiven"
        if values.get("closing_reason") is not None:
            return "avslutsorsak_angiven"
        return "avslutad"
    return "fatt_insats" if intervened else "aktualiserad"
