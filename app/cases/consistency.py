"""Warnings: the catalogue's consistency checks (``variables/checks.yaml``)
evaluated on one case.

A warning never refuses a save. It is part of every case the API returns
(``warnings``), the web asks for a confirmation before a save that brings a
new one, and the data-quality report counts them (the same checks in SQL:
:mod:`app.quality.service`). Each names what is odd with the catalogue's
labels and dates, never free text.
"""

from __future__ import annotations

import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from app.catalogue.loader import Catalogue
from app.catalogue.spec import CheckKind, ConsistencyCheck, ExtraField, Variable, When
from app.models import Case, Intervention, RiskAssessment, SurveyResponse

# Where each group's records are in a case as the API returns it (CaseRead).
COLLECTIONS = {"intervention": "interventions", "risk_assessment": "risk_assessments"}
SURVEY = "survey"

INTERVENTION_FIELDS = {
    "intervention_start_on": "start_on",
    "intervention_type": "type_code",
    "intervention_grounds": "grounds_code",
}
RISK_FIELDS = {
    "assessed_on": "assessed_on",
    "assessment_phase": "phase_code",
    "risk_instrument": "instrument_code",
    "score": "score",
}
SURVEY_FIELDS = {"answered_on": "answered_on", "language": "language_code", "mode": "mode_code"}
"""A record's fields (catalogue keys) and the columns that hold them."""


@dataclass(frozen=True)
class CaseWarning:
    """One consistency check a case fails: ``code`` is the check's key,
    ``pointer`` a JSON pointer into the case as the API returns it."""

    pointer: str
    code: str
    detail: str
    detail_en: str

    def as_json(self) -> dict[str, str]:
        return {
            "pointer": self.pointer,
            "code": self.code,
            "detail": self.detail,
            "detail_en": self.detail_en,
        }

    @property
    def identity(self) -> tuple[str, str]:
        """What makes two warnings the same one, whatever the records' order."""
        return self.code, self.detail


def _columns(record: Any, fields: Mapping[str, str]) -> dict[str, Any]:
    return {key: getattr(record, column) for key, column in fields.items()}


def intervention_fields(item: Intervention) -> dict[str, Any]:
    return _columns(item, INTERVENTION_FIELDS)


def risk_fields(item: RiskAssessment) -> dict[str, Any]:
    return _columns(item, RISK_FIELDS)


def survey_fields(survey: SurveyResponse) -> dict[str, Any]:
    return {**_columns(survey, SURVEY_FIELDS), **(survey.values or {})}


def case_records(case: Case) -> dict[str, list[dict[str, Any]]]:
    """Each group's records as ``{field key: value}``, in the case's order."""
    return {
        "intervention": [intervention_fields(i) for i in case.interventions],
        "risk_assessment": [risk_fields(r) for r in case.risk_assessments],
        SURVEY: [survey_fields(case.survey)] if case.survey is not None else [],
    }


def _holds(when: When, fields: Mapping[str, Any], records: Mapping[str, list[Any]]) -> bool:
    if when.records is not None:
        return bool(records.get(when.records)) is when.present
    value = fields.get(when.variable or "")
    if when.present is not None:
        return (value is not None) is when.present
    if isinstance(value, list):
        return bool(set(value) & set(when.any_of))
    return value in when.any_of


def _shown(spec: Variable | ExtraField | None, value: Any, lang: str) -> str:
    if value is None:
        return "–"
    if isinstance(value, date):
        return value.isoformat()
    if spec is not None and spec.options:
        codes = value if isinstance(value, list) else [value]
        labels = []
        for code in codes:
            option = next((o for o in spec.options if o.code == code), None)
            labels.append(getattr(option.label, lang) if option else str(code))
        return ", ".join(labels)
    return str(value)


def _message(
    check: ConsistencyCheck,
    specs: Mapping[str, Variable | ExtraField],
    fields: Mapping[str, Any],
    lang: str,
) -> str:
    template: str = getattr(check.message, lang)
    names = {name for _, name, _, _ in string.Formatter().parse(template) if name}
    return template.format(**{n: _shown(specs.get(n), fields.get(n), lang) for n in names})


def _warning(
    check: ConsistencyCheck,
    pointer: str,
    specs: Mapping[str, Variable | ExtraField],
    fields: Mapping[str, Any],
) -> CaseWarning:
    return CaseWarning(
        pointer,
        check.key,
        _message(check, specs, fields, "sv"),
        _message(check, specs, fields, "en"),
    )


def _record_pointer(group: str, index: int, key: str) -> str:
    if group == SURVEY:
        return f"/{SURVEY}/{key}"
    return f"/{COLLECTIONS.get(group, group)}/{index}/{key}"


def check_case(
    catalogue: Catalogue,
    values: Mapping[str, Any],
    records: Mapping[str, list[dict[str, Any]]],
    checks: Iterable[ConsistencyCheck] | None = None,
) -> list[CaseWarning]:
    """The warnings of a case given as its values and its records per group."""
    warnings: list[CaseWarning] = []
    for check in catalogue.checks.values() if checks is None else checks:
        if check.kind is CheckKind.values:
            if all(_holds(w, values, records) for w in check.when):
                specs: dict[str, Variable | ExtraField] = dict(catalogue.variables)
                pointer = f"/values/{check.points_at}"
                warnings.append(_warning(check, pointer, specs, values))
            continue
        group = check.group or ""
        specs = catalogue.group_fields(group)
        items = records.get(group, [])
        if check.kind is CheckKind.record:
            for index, item in enumerate(items):
                if all(_holds(w, item, records) for w in check.when):
                    pointer = _record_pointer(group, index, check.points_at)
                    warnings.append(_warning(check, pointer, specs, item))
            continue
        seen: set[tuple[Any, ...]] = set()
        for index, item in enumerate(items):
            same = tuple(item.get(key) for key in check.same)
            if None in same:
                continue
            if same in seen:
                pointer = _record_pointer(group, index, check.points_at)
                warnings.append(_warning(check, pointer, specs, item))
            seen.add(same)
    return warnings


def case_warnings(catalogue: Catalogue, case: Case) -> list[CaseWarning]:
    """The warnings of a stored (or about to be stored) case."""
    return check_case(catalogue, case.values, case_records(case))


def new_warnings(before: Iterable[CaseWarning], after: Iterable[CaseWarning]) -> list[CaseWarning]:
    """The warnings a change brings (those the case did not have before)."""
    known = {w.identity for w in before}
    return [w for w in after if w.identity not in known]
