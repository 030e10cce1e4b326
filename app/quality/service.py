"""Data-quality report: which cases lack which variables (the "Ej registrerat"
bars of Diagram 1), per unit and for the municipality.

Everything is counted in the database, in one aggregate query over the case
table (values JSON), left-joined to the survey and to one grouped sub-query per
repeated group (interventions, risk assessments): no case is loaded as an
object and the number of queries does not depend on the number of cases. The rules are in :mod:`app.quality.rules` and ``docs/quality.md``.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    String,
    and_,
    case,
    exists,
    false,
    func,
    literal,
    not_,
    or_,
    select,
    true,
)
from sqlalchemy.orm import Session
from sqlalchemy.sql.expression import Subquery

from app.audit.service import record
from app.auth.principal import Principal
from app.cases.consistency import INTERVENTION_FIELDS, RISK_FIELDS, SURVEY_FIELDS
from app.cases.scope import scoped
from app.catalogue.loader import Catalogue
from app.catalogue.spec import CheckKind, ConsistencyCheck, Phase, When
from app.errors import FieldError, NotFound, ValidationFailed
from app.local_variables.service import for_municipality
from app.models import Case, Intervention, RiskAssessment, SurveyResponse, Unit
from app.quality.rules import AppliesTo, Check, Source, build_checks
from exporters.rounding import round_half_up

# The variables behind two steps of the funnel; the same keys as app/cases/status.py.
CLOSING_REASON = "closing_reason"
GOAL_FOLLOWUP = "goal_followup"

# The field of each repeated record that holds a group variable.
RECORD_COLUMNS: dict[Source, tuple[Any, dict[str, Any]]] = {
    Source.intervention: (
        Intervention,
        {
            "intervention_start_on": Intervention.start_on,
            "intervention_type": Intervention.type_code,
            "intervention_grounds": Intervention.grounds_code,
        },
    ),
    Source.risk_assessment: (RiskAssessment, {"risk_instrument": RiskAssessment.instrument_code}),
}


@dataclass(frozen=True)
class FunnelStep:
    step: str
    sv: str
    en: str
    base: str | None
    """The step whose cases are the denominator ("registrerat" + "ej registrerat")."""


# Diagram 1: 3 070 aktualiserade; fått insats 2 623 + 447 = 3 070;
# avslutade 2 456 + 614 = 3 070; avslutsorsak 2 421 + 35, måluppföljning
# 2 082 + 374 and brukarenkät 878 + 1 578 each = 2 456 avslutade.
FUNNEL = (
    FunnelStep("aktualiserad", "Aktualiserade", "Actualised", None),
    FunnelStep("fatt_insats", "Fått insats", "Received an intervention", "aktualiserad"),
    FunnelStep("avslutad", "Avslutade", "Closed", "aktualiserad"),
    FunnelStep("avslutsorsak_angiven", "Angiven avslutsorsak", "Closing reason given", "avslutad"),
    FunnelStep("maluppfoljning_angiven", "Måluppföljning", "Goal follow-up given", "avslutad"),
    FunnelStep(
        "brukarenkat_genomford", "Genomfört brukarenkät", "Client survey completed", "avslutad"
    ),
)


@dataclass(frozen=True)
class Selection:
    """What the caller asked for, already checked against their scope."""

    principal: Principal
    unit: Unit | None
    actualised_from: date | None
    actualised_to: date | None


# --- SQL building blocks ---------------------------------------------------


def _path(key: str) -> str:
    # Keys match ^[a-z][a-z0-9_.]*$ (catalogue and local key patterns): no quoting issues.
    return f'$."{key}"'


def _has_key(dialect: str, column: Any, key: str) -> ColumnElement[bool]:
    """The JSON object ``column`` has ``key`` (any value, ``[]`` included)."""
    if dialect == "postgresql":
        return column.bool_op("?")(literal(key, String()))  # type: ignore[no-any-return]
    return func.json_type(column, literal(_path(key), String())).is_not(None)


def _value_in(dialect: str, column: Any, key: str, codes: Sequence[int]) -> ColumnElement[bool]:
    """The single-choice value under ``key`` is one of ``codes``. Never a cast:
    a value of another shape simply does not match."""
    if dialect == "postgresql":
        text = column.op("->>", return_type=String())(literal(key, String()))
        return text.in_([str(c) for c in codes])  # type: ignore[no-any-return]
    return func.json_extract(column, literal(_path(key), String())).in_(list(codes))


def _json_text(dialect: str, column: Any, key: str) -> Any:
    """The value under ``key`` as text (to compare records with each other)."""
    if dialect == "postgresql":
        return column.op("->>", return_type=String())(literal(key, String()))
    return func.json_extract(column, literal(_path(key), String()))


# The table of each repeated group and the columns of its fields (catalogue key
# -> attribute); survey answers not listed are in the survey's values JSON.
GROUP_TABLES: dict[str, tuple[Any, dict[str, str]]] = {
    "intervention": (Intervention, INTERVENTION_FIELDS),
    "risk_assessment": (RiskAssessment, RISK_FIELDS),
    "survey": (SurveyResponse, SURVEY_FIELDS),
}


def _in_scope(selection: Selection, *columns: Any) -> Select[Any]:
    """The caller's cases (app.cases.scope) in the selection, as ``columns``."""
    query = scoped(select(Case), selection.principal).with_only_columns(*columns)
    if selection.unit is not None:
        query = query.where(Case.unit_id == selection.unit.id)
    if selection.actualised_from is not None:
        query = query.where(Case.actualised_on >= selection.actualised_from)
    if selection.actualised_to is not None:
        query = query.where(Case.actualised_on <= selection.actualised_to)
    return query


def _records(selection: Selection, checks: list[Check]) -> tuple[list[Any], list[Any]]:
    """Per repeated group: one grouped sub-query (records per case, and records
    lacking each nullable field), joined to the cases. Returns (joins, columns)."""
    joins: list[Any] = []
    columns: list[Any] = []
    for source, (model, fields) in RECORD_COLUMNS.items():
        nullable = [
            (c.key, fields[c.key])
            for c in checks
            if c.source is source and c.key in fields and fields[c.key].nullable
        ]
        grouped = (
            select(
                model.case_id.label("case_id"),
                func.count().label("records"),
                *(
                    func.count(case((column.is_(None), 1))).label(f"lacks_{key}")
                    for key, column in nullable
                ),
            )
            .where(model.case_id.in_(_in_scope(selection, Case.id)))
            .group_by(model.case_id)
            .subquery(source.value)
        )
        joins.append((grouped, grouped.c.case_id == Case.id))
        columns.append(grouped.c.records.is_not(None).label(f"has_{source.value}"))
        columns += [
            (func.coalesce(grouped.c[f"lacks_{key}"], 0) > 0).label(f"lacks_{key}")
            for key, _ in nullable
        ]
    return joins, columns


def _base_query(selection: Selection, checks: list[Check]) -> Select[Any]:
    """One row per case in scope: structural columns, values, presence flags."""
    joins, record_columns = _records(selection, checks)
    columns: list[Any] = [
        Case.id.label("case_id"),
        Case.unit_id.label("unit_id"),
        Case.actualised_on.label("actualised_on"),
        Case.closed_on.label("closed_on"),
        Case.caseworker_ref.label("caseworker_ref"),
        Case.status.label("status"),
        Case.version.label("version"),
        Case.is_excluded.label("is_excluded"),
        Case.values.label("case_values"),
        SurveyResponse.id.is_not(None).label("has_survey"),
        SurveyResponse.values.label("survey_values"),
        *(
            getattr(Case, c.key).is_(None).label(f"lacks_{c.key}")
            for c in checks
            if c.source is Source.structural
        ),
        *record_columns,
    ]
    query = (
        _in_scope(selection, *columns)
        .select_from(Case)
        .outerjoin(SurveyResponse, SurveyResponse.case_id == Case.id)
    )
    for target, onclause in joins:
        query = query.outerjoin(target, onclause)
    return query


class _Frame:
    """Boolean expressions over the per-case sub-query."""

    def __init__(self, sub: Subquery, dialect: str) -> None:
        self.sub = sub
        self.dialect = dialect
        c = sub.c
        self.included = not_(c.is_excluded)
        self.closed = c.closed_on.is_not(None)
        self.has_intervention = c.has_intervention
        self.past_actualisation = or_(c.has_intervention, self.closed)

    def base(self, applies_to: AppliesTo) -> ColumnElement[bool]:
        if applies_to is AppliesTo.all:
            return true()
        if applies_to is AppliesTo.past_actualisation:
            return self.past_actualisation
        return self.closed

    def _json(self, source: Source | None) -> Any:
        return self.sub.c.survey_values if source is Source.survey else self.sub.c.case_values

    def applicable(self, check: Check) -> ColumnElement[bool]:
        base = self.base(check.applies_to)
        cond = check.condition
        if cond is None:
            return base
        if not check.condition_possible:
            return false()
        holds = _value_in(
            self.dialect, self._json(check.condition_source), cond.variable, cond.any_of
        )
        return and_(base, holds)

    def missing(self, check: Check) -> ColumnElement[bool]:
        c = self.sub.c
        if check.source is Source.values:
            return not_(_has_key(self.dialect, c.case_values, check.key))
        if check.source is Source.structural:
            return c[f"lacks_{check.key}"]
        if check.source is Source.survey:
            return or_(not_(c.has_survey), not_(_has_key(self.dialect, c.survey_values, check.key)))
        no_record = not_(c[f"has_{check.source.value}"])
        lacks = f"lacks_{check.key}"
        return or_(no_record, c[lacks]) if lacks in c else no_record

    def warned(self, check: ConsistencyCheck) -> ColumnElement[bool]:
        """The case fails the consistency check (the SQL twin of
        :func:`app.cases.consistency.check_case`)."""
        c = self.sub.c
        if check.kind is CheckKind.values:
            return and_(*(self._values_condition(w) for w in check.when))
        model, columns = GROUP_TABLES[check.group or ""]
        query = select(literal(1)).select_from(model).where(model.case_id == c.case_id)
        if check.kind is CheckKind.record:
            conditions = [self._field_condition(model, columns, w) for w in check.when]
            return exists(query.where(*conditions))
        same = [self._field(model, columns, key) for key in check.same]
        duplicates = query.where(*(f.is_not(None) for f in same)).group_by(*same)
        return exists(duplicates.having(func.count() > 1))

    def _values_condition(self, when: When) -> ColumnElement[bool]:
        c = self.sub.c
        if when.records is not None:
            has = c.has_survey if when.records == "survey" else c[f"has_{when.records}"]
            return has if when.present else not_(has)
        key = when.variable or ""
        if when.present is not None:
            has_key = _has_key(self.dialect, c.case_values, key)
            return has_key if when.present else not_(has_key)
        return _value_in(self.dialect, c.case_values, key, when.any_of)

    def _field(self, model: Any, columns: dict[str, str], key: str) -> Any:
        if key in columns:
            return getattr(model, columns[key])
        # A survey question: in the survey's values JSON.
        return _json_text(self.dialect, model.values, key)

    def _field_condition(self, model: Any, columns: dict[str, str], when: When) -> Any:
        key = when.variable or ""
        if key not in columns:
            if when.present is not None:
                has_key = _has_key(self.dialect, model.values, key)
                return has_key if when.present else not_(has_key)
            return _value_in(self.dialect, model.values, key, when.any_of)
        column = getattr(model, columns[key])
        if when.present is not None:
            return column.is_not(None) if when.present else column.is_(None)
        return column.in_(list(when.any_of))

    def registered(self, step: str) -> ColumnElement[bool]:
        c = self.sub.c
        if step == "aktualiserad":
            return true()
        if step == "fatt_insats":
            return self.has_intervention
        if step == "avslutad":
            return self.closed
        if step == "avslutsorsak_angiven":
            return and_(self.closed, _has_key(self.dialect, c.case_values, CLOSING_REASON))
        if step == "maluppfoljning_angiven":
            return and_(self.closed, _has_key(self.dialect, c.case_values, GOAL_FOLLOWUP))
        return and_(self.closed, c.has_survey)


def _count(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


# --- the report ------------------------------------------------------------


def resolve_unit(session: Session, principal: Principal, unit_id: uuid.UUID | None) -> Unit | None:
    """The unit filter, within the caller's scope. Unknown or foreign → 404.
    A caseworker is always limited to their own unit."""
    if principal.role == "caseworker":
        if unit_id is not None and unit_id != principal.unit_id:
            raise NotFound()
        unit_id = principal.unit_id
    if unit_id is None:
        return None
    unit = session.get(Unit, unit_id)
    if unit is None or unit.municipality_code != principal.municipality_code:
        raise NotFound()
    return unit


def check_period(actualised_from: date | None, actualised_to: date | None) -> None:
    if actualised_from and actualised_to and actualised_from > actualised_to:
        raise ValidationFailed(
            [
                FieldError(
                    "/query/from",
                    "period",
                    "Från-datum ligger efter till-datum.",
                    "The start date is after the end date.",
                )
            ]
        )


def checks_for(session: Session, catalogue: Catalogue, principal: Principal) -> list[Check]:
    local = for_municipality(session, principal.municipality_code or "")
    return build_checks(catalogue, list(local.values()))


def _empty_counts(checks: list[Check], warnings: list[ConsistencyCheck]) -> dict[str, Any]:
    return {
        "warnings": {w.key: 0 for w in warnings},
        "excluded": 0,
        "cases": 0,
        "funnel": {s.step: 0 for s in FUNNEL},
        "applicable": {c.key: 0 for c in checks},
        "missing": {c.key: 0 for c in checks},
        "phase_applicable": dict.fromkeys(Phase, 0),
        "phase_incomplete": dict.fromkeys(Phase, 0),
    }


def _aggregate(
    session: Session,
    selection: Selection,
    checks: list[Check],
    warnings: list[ConsistencyCheck],
) -> dict[uuid.UUID, dict[str, Any]]:
    dialect = session.get_bind().dialect.name
    frame = _Frame(_base_query(selection, checks).subquery("q"), dialect)
    inc = frame.included
    named: list[tuple[tuple[str, Any], ColumnElement[int]]] = [
        (("excluded", None), _count(frame.sub.c.is_excluded)),
        (("cases", None), _count(inc)),
    ]
    for step in FUNNEL:
        named.append((("funnel", step.step), _count(and_(inc, frame.registered(step.step)))))
    by_phase: dict[Phase, list[tuple[ColumnElement[bool], ColumnElement[bool]]]] = {}
    for check in checks:
        applicable = frame.applicable(check)
        missing = and_(applicable, frame.missing(check))
        by_phase.setdefault(check.phase, []).append((applicable, missing))
        named.append((("applicable", check.key), _count(and_(inc, applicable))))
        named.append((("missing", check.key), _count(and_(inc, missing))))
    for warning in warnings:
        named.append((("warnings", warning.key), _count(and_(inc, frame.warned(warning)))))
    for phase, pairs in by_phase.items():
        named.append((("phase_applicable", phase), _count(and_(inc, or_(*(a for a, _ in pairs))))))
        named.append((("phase_incomplete", phase), _count(and_(inc, or_(*(m for _, m in pairs))))))
    query = select(
        frame.sub.c.unit_id, *(expr.label(f"n{i}") for i, (_, expr) in enumerate(named))
    ).group_by(frame.sub.c.unit_id)
    result: dict[uuid.UUID, dict[str, Any]] = {}
    for row in session.execute(query):
        counts = _empty_counts(checks, warnings)
        for ((section, key), _), value in zip(named, row[1:], strict=True):
            if key is None:
                counts[section] = int(value)
            else:
                counts[section][key] = int(value)
        result[row[0]] = counts
    return result


def _add(total: dict[str, Any], part: dict[str, Any]) -> None:
    for name, value in part.items():
        if isinstance(value, dict):
            for key, n in value.items():
                total[name][key] += n
        else:
            total[name] += value


def _percent(part: int, whole: int) -> float | None:
    return round_half_up(100 * part / whole, 1) if whole else None


def _group(
    counts: dict[str, Any],
    checks: list[Check],
    warnings: list[ConsistencyCheck],
    unit: Unit | None,
) -> dict[str, Any]:
    funnel = counts["funnel"]
    steps = []
    for step in FUNNEL:
        registered = funnel[step.step]
        base = funnel[step.base] if step.base else None
        steps.append(
            {
                "step": step.step,
                "label": {"sv": step.sv, "en": step.en},
                "base": step.base,
                "registered": registered,
                "not_registered": base - registered if base is not None else None,
            }
        )
    phases = []
    for phase in Phase:
        variables = [
            {
                "key": c.key,
                "suv": c.suv,
                "label": {"sv": c.label.sv, "en": c.label.en},
                "is_local": c.is_local,
                "applies_to": c.applies_to.value,
                "applies_when": (
                    {"variable": c.condition.variable, "any_of": list(c.condition.any_of)}
                    if c.condition
                    else None
                ),
                "applicable": counts["applicable"][c.key],
                "missing": counts["missing"][c.key],
                "missing_percent": _percent(counts["missing"][c.key], counts["applicable"][c.key]),
            }
            for c in checks
            if c.phase is phase
        ]
        phases.append(
            {
                "phase": phase.value,
                "cases_applicable": counts["phase_applicable"][phase],
                "cases_incomplete": counts["phase_incomplete"][phase],
                "variables": variables,
            }
        )
    return {
        "unit_id": unit.id if unit else None,
        "unit_name": unit.name if unit else None,
        "cases": counts["cases"],
        "excluded_cases": counts["excluded"],
        "funnel": steps,
        "phases": phases,
        "warnings": [
            {
                "key": w.key,
                "label": {"sv": w.label.sv, "en": w.label.en},
                "cases": counts["warnings"][w.key],
            }
            for w in warnings
        ],
    }


def report(
    session: Session,
    catalogue: Catalogue,
    principal: Principal,
    *,
    unit_id: uuid.UUID | None,
    actualised_from: date | None,
    actualised_to: date | None,
    request_id: str | None = None,
) -> dict[str, Any]:
    """The report for the caller's scope: per unit and in total."""
    check_period(actualised_from, actualised_to)
    unit = resolve_unit(session, principal, unit_id)
    selection = Selection(principal, unit, actualised_from, actualised_to)
    checks = checks_for(session, catalogue, principal)
    warnings = list(catalogue.checks.values())
    per_unit = _aggregate(session, selection, checks, warnings)
    if unit is not None:
        units = [unit]
    else:
        units = list(
            session.scalars(
                select(Unit)
                .where(Unit.municipality_code == principal.municipality_code)
                .order_by(Unit.name)
            ).all()
        )
        units = [u for u in units if u.is_active or u.id in per_unit]
    total = _empty_counts(checks, warnings)
    for counts in per_unit.values():
        _add(total, counts)
    record(
        session,
        actor=principal.actor,
        action="quality.report",
        object_type="quality",
        object_id=unit.id if unit else None,
        request_id=request_id,
    )
    return {
        "catalogue_version": catalogue.version,
        "municipality_code": principal.municipality_code,
        "unit_id": unit.id if unit else None,
        "actualised_from": actualised_from,
        "actualised_to": actualised_to,
        "total": _group(total, checks, warnings, unit),
        "units": [
            _group(per_unit.get(u.id) or _empty_counts(checks, warnings), checks, warnings, u)
            for u in units
        ],
    }


def _case_page(
    session: Session,
    frame: _Frame,
    condition: ColumnElement[bool],
    *,
    limit: int,
    offset: int,
) -> tuple[list[dict[str, Any]], int]:
    c = frame.sub.c
    total = session.scalar(select(func.count()).select_from(frame.sub).where(condition)) or 0
    rows = session.execute(
        select(c.case_id, c.unit_id, c.actualised_on, c.caseworker_ref, c.status, c.version)
        .where(condition)
        .order_by(c.actualised_on, c.case_id)
        .limit(limit)
        .offset(offset)
    ).all()
    items = [
        {
            "id": r.case_id,
            "unit_id": r.unit_id,
            "actualised_on": r.actualised_on,
            "caseworker_ref": r.caseworker_ref,
            "status": r.status,
            "version": r.version,
        }
        for r in rows
    ]
    return items, total


def cases_lacking(
    session: Session,
    catalogue: Catalogue,
    principal: Principal,
    *,
    variable: str,
    unit_id: uuid.UUID | None,
    actualised_from: date | None,
    actualised_to: date | None,
    limit: int,
    offset: int,
    request_id: str | None = None,
) -> dict[str, Any]:
    """The cases (not excluded) the variable applies to but that lack it."""
    check_period(actualised_from, actualised_to)
    unit = resolve_unit(session, principal, unit_id)
    checks = {c.key: c for c in checks_for(session, catalogue, principal)}
    check = checks.get(variable)
    if check is None:
        raise ValidationFailed(
            [
                FieldError(
                    "/query/variable",
                    "unknown_variable",
                    "Variabeln finns inte i kvalitetsrapporten.",
                    "The variable is not part of the quality report.",
                )
            ]
        )
    selection = Selection(principal, unit, actualised_from, actualised_to)
    dialect = session.get_bind().dialect.name
    frame = _Frame(_base_query(selection, [check]).subquery("q"), dialect)
    condition = and_(frame.included, frame.applicable(check), frame.missing(check))
    items, total = _case_page(session, frame, condition, limit=limit, offset=offset)
    record(
        session,
        actor=principal.actor,
        action="quality.cases",
        object_type="quality",
        object_id=unit.id if unit else None,
        fields=[variable],
        request_id=request_id,
    )
    return {"variable": variable, "items": items, "total": total, "limit": limit, "offset": offset}


def cases_warned(
    session: Session,
    catalogue: Catalogue,
    principal: Principal,
    *,
    check: str,
    unit_id: uuid.UUID | None,
    actualised_from: date | None,
    actualised_to: date | None,
    limit: int,
    offset: int,
    request_id: str | None = None,
) -> dict[str, Any]:
    """The cases (not excluded) that fail one of the catalogue's consistency checks."""
    check_period(actualised_from, actualised_to)
    unit = resolve_unit(session, principal, unit_id)
    found = catalogue.checks.get(check)
    if found is None:
        raise ValidationFailed(
            [
                FieldError(
                    "/query/check",
                    "unknown_check",
                    "Kontrollen finns inte i katalogen.",
                    "The check is not in the catalogue.",
                )
            ]
        )
    selection = Selection(principal, unit, actualised_from, actualised_to)
    dialect = session.get_bind().dialect.name
    frame = _Frame(_base_query(selection, []).subquery("q"), dialect)
    condition = and_(frame.included, frame.warned(found))
    items, total = _case_page(session, frame, condition, limit=limit, offset=offset)
    record(
        session,
        actor=principal.actor,
        action="quality.warnings",
        object_type="quality",
        object_id=unit.id if unit else None,
        fields=[check],
        request_id=request_id,
    )
    return {"check": check, "items": items, "total": total, "limit": limit, "offset": offset}


def missing_by_case(
    session: Session, catalogue: Catalogue, principal: Principal, case_ids: list[uuid.UUID]
) -> dict[uuid.UUID, list[Check]]:
    """For each of these cases (within the caller's scope): the variables it
    lacks, by the report's rules (the case list's "Saknas" column). Read in
    one query; not audited apart: the list that shows it is."""
    if not case_ids:
        return {}
    checks = checks_for(session, catalogue, principal)
    selection = Selection(principal, None, None, None)
    dialect = session.get_bind().dialect.name
    base = _base_query(selection, checks).where(Case.id.in_(case_ids))
    frame = _Frame(base.subquery("q"), dialect)
    flags = [
        and_(frame.applicable(c), frame.missing(c)).label(f"m{i}") for i, c in enumerate(checks)
    ]
    result: dict[uuid.UUID, list[Check]] = {}
    for row in session.execute(select(frame.sub.c.case_id, *flags)):
        result[row[0]] = [c for c, lacks in zip(checks, row[1:], strict=True) if lacks]
    return result
