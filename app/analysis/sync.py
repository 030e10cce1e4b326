"""Keeping ``case_analysis`` in step with the cases: one hook on every flush.

``after_flush`` runs inside the flush's transaction, once per flush, for every
session of the application. It collects the cases whose analysis row a flush
changes — a case created or changed in a field statistics read, an
intervention, risk assessment or survey added, changed or removed — and
upserts their rows in one statement (``executemany`` when there are several,
as in an import). What is already in memory is used as it is: a case and its
loaded children are not read again; only a child collection that is not
loaded is read, in one query per child table for all cases of the flush.
Writes that bypass the ORM flush (Core ``UPDATE``/``INSERT`` on ``cases`` or
its children) must call :func:`sync_cases`; key rotation's Core updates touch
only ciphertexts, which the analysis row does not hold. ``isu analysis
check`` finds any row that is out of step.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import date
from secrets import randbits
from typing import Any

from sqlalchemy import (
    Connection,
    bindparam,
    case,
    delete,
    event,
    inspect,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, UOWTransaction
from sqlalchemy.sql import Insert

from app.analysis.table import case_analysis, shared_layout
from app.models import UNIT_KINDS, Case, Intervention, RiskAssessment, SurveyResponse, Unit
from app.reference import municipalities
from exporters.analysis import (
    CaseFacts,
    InterventionFacts,
    RiskFacts,
    SurveyFacts,
    analysis_row,
)

CASE_FIELDS = frozenset(
    {
        "unit_id",
        "municipality_code",
        "district_code",
        "actualised_on",
        "closed_on",
        "values",
        "is_excluded",
        "exclusion_reason",
    }
)
"""The case columns the analysis row is made of (a change elsewhere — a
comment, the version, a key version — changes nothing statistics read)."""
CHILD_FIELDS: Mapping[type, frozenset[str]] = {
    Intervention: frozenset({"case_id", "start_on", "type_code", "grounds_code"}),
    RiskAssessment: frozenset({"case_id", "assessed_on", "instrument_code", "score", "created_at"}),
    SurveyResponse: frozenset({"case_id", "answered_on", "language_code", "mode_code", "values"}),
}
RELATION = {
    Intervention: "interventions",
    RiskAssessment: "risk_assessments",
    SurveyResponse: "survey",
}
UNIT_KIND_CODE = {kind: i + 1 for i, kind in enumerate(UNIT_KINDS)}


def county_of(municipality_code: str) -> str | None:
    found = municipalities().get(municipality_code)
    return found.county_code if found is not None else None


def unit_kind_code(kind: str | None) -> int | None:
    return UNIT_KIND_CODE.get(kind or "")


def _changed(obj: object, fields: Collection[str]) -> bool:
    state = inspect(obj)
    return any(state.attrs[name].history.has_changes() for name in fields)


# --- facts from ORM objects ---------------------------------------------------------


def _interventions(items: Iterable[Intervention]) -> list[InterventionFacts]:
    return [InterventionFacts(i.start_on, i.type_code, i.grounds_code) for i in items]


def _risks(items: Iterable[RiskAssessment]) -> list[RiskFacts]:
    return [
        RiskFacts(r.assessed_on, r.instrument_code, r.score, (r.created_at, str(r.id)))
        for r in items
    ]


def _survey(item: SurveyResponse | None) -> SurveyFacts | None:
    if item is None:
        return None
    return SurveyFacts(item.answered_on, item.language_code, item.mode_code, item.values or {})


def _facts(
    case_row: Case,
    interventions: list[InterventionFacts],
    risks: list[RiskFacts],
    survey: SurveyFacts | None,
) -> CaseFacts:
    return CaseFacts(
        case_id=case_row.id,
        unit_id=case_row.unit_id,
        unit_kind=None,
        municipality_code=case_row.municipality_code,
        county_code=county_of(case_row.municipality_code),
        district_code=case_row.district_code,
        actualised_on=case_row.actualised_on,
        closed_on=case_row.closed_on,
        is_excluded=bool(case_row.is_excluded),
        exclusion_reason=case_row.exclusion_reason,
        values=case_row.values or {},
        interventions=interventions,
        risks=risks,
        survey=survey,
    )


# --- facts from the database --------------------------------------------------------


def child_facts(
    connection: Connection, case_ids: Sequence[uuid.UUID], kinds: Collection[str]
) -> tuple[
    dict[uuid.UUID, list[InterventionFacts]],
    dict[uuid.UUID, list[RiskFacts]],
    dict[uuid.UUID, SurveyFacts],
]:
    """The repeated records of these cases, one query per child table asked for."""
    interventions: dict[uuid.UUID, list[InterventionFacts]] = {}
    risks: dict[uuid.UUID, list[RiskFacts]] = {}
    surveys: dict[uuid.UUID, SurveyFacts] = {}
    ids = list(case_ids)
    if not ids:
        return interventions, risks, surveys
    if "interventions" in kinds:
        for case_id, start_on, type_code, grounds_code in connection.execute(
            select(
                Intervention.case_id,
                Intervention.start_on,
                Intervention.type_code,
                Intervention.grounds_code,
            ).where(Intervention.case_id.in_(ids))
        ):
            interventions.setdefault(case_id, []).append(
                InterventionFacts(start_on, type_code, grounds_code)
            )
    if "risk_assessments" in kinds:
        for case_id, assessed_on, instrument, score, created_at, risk_id in connection.execute(
            select(
                RiskAssessment.case_id,
                RiskAssessment.assessed_on,
                RiskAssessment.instrument_code,
                RiskAssessment.score,
                RiskAssessment.created_at,
                RiskAssessment.id,
            ).where(RiskAssessment.case_id.in_(ids))
        ):
            risks.setdefault(case_id, []).append(
                RiskFacts(assessed_on, instrument, score, (created_at, str(risk_id)))
            )
    if "survey" in kinds:
        for case_id, answered_on, language, mode, values in connection.execute(
            select(
                SurveyResponse.case_id,
                SurveyResponse.answered_on,
                SurveyResponse.language_code,
                SurveyResponse.mode_code,
                SurveyResponse.values,
            ).where(SurveyResponse.case_id.in_(ids))
        ):
            surveys[case_id] = SurveyFacts(answered_on, language, mode, values or {})
    return interventions, risks, surveys


CASE_COLUMNS = (
    Case.id,
    Case.unit_id,
    Unit.kind,
    Case.municipality_code,
    Case.district_code,
    Case.actualised_on,
    Case.closed_on,
    Case.is_excluded,
    Case.exclusion_reason,
    Case.values,
)


def facts_from_rows(connection: Connection, case_rows: Sequence[Any]) -> list[CaseFacts]:
    """Facts of cases read with :data:`CASE_COLUMNS`, their children read here."""
    ids = [r[0] for r in case_rows]
    interventions, risks, surveys = child_facts(
        connection, ids, ("interventions", "risk_assessments", "survey")
    )
    return [
        CaseFacts(
            case_id=case_id,
            unit_id=unit_id,
            unit_kind=unit_kind_code(kind),
            municipality_code=municipality,
            county_code=county_of(municipality),
            district_code=district,
            actualised_on=actualised,
            closed_on=closed,
            is_excluded=bool(excluded),
            exclusion_reason=reason,
            values=values or {},
            interventions=interventions.get(case_id, []),
            risks=risks.get(case_id, []),
            survey=surveys.get(case_id),
        )
        for (
            case_id,
            unit_id,
            kind,
            municipality,
            district,
            actualised,
            closed,
            excluded,
            reason,
            values,
        ) in case_rows
    ]


def facts_from_db(connection: Connection, case_ids: Collection[uuid.UUID]) -> list[CaseFacts]:
    if not case_ids:
        return []
    rows = connection.execute(
        select(*CASE_COLUMNS)
        .join(Unit, Unit.id == Case.unit_id)
        .where(Case.id.in_(sorted(case_ids)))
    ).all()
    return facts_from_rows(connection, rows)


# --- writing ------------------------------------------------------------------------


def upsert_statement(connection: Connection) -> Insert:
    """``INSERT … ON CONFLICT (case_id) DO UPDATE`` of every column; the unit
    kind is looked up from ``units`` by the statement itself. Built once per
    dialect (building and hashing a 125-column statement costs milliseconds)."""
    found = _UPSERTS.get(connection.dialect.name)
    if found is None:
        found = _UPSERTS[connection.dialect.name] = _upsert(connection.dialect.name)
    return found


_UPSERTS: dict[str, Insert] = {}


def _upsert(dialect: str) -> Insert:
    names = [c.name for c in case_analysis.columns]
    values: dict[str, Any] = {n: bindparam(n, type_=case_analysis.c[n].type) for n in names}
    whens = [(Unit.kind == kind, code) for kind, code in UNIT_KIND_CODE.items()]
    values["unit_kind"] = (
        select(case(*whens, else_=None))
        .where(Unit.id == bindparam("unit_id", type_=case_analysis.c.unit_id.type))
        .scalar_subquery()
    )
    if dialect == "postgresql":
        stmt = postgresql.insert(case_analysis).values(values)
        return stmt.on_conflict_do_update(
            index_elements=["case_id"],
            set_={n: stmt.excluded[n] for n in names if n != "case_id"},
        )
    if dialect == "sqlite":
        lite = sqlite.insert(case_analysis).values(values)
        return lite.on_conflict_do_update(
            index_elements=["case_id"],
            set_={n: lite.excluded[n] for n in names if n != "case_id"},
        )
    raise NotImplementedError(dialect)


def write_rows(connection: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
    """Upsert analysis rows (one statement; ``executemany`` for several)."""
    if not rows:
        return
    params = [
        {**{k: v for k, v in row.items() if k != "unit_kind"}, "write_token": randbits(31)}
        for row in rows
    ]
    stmt = upsert_statement(connection)
    if len(params) == 1:
        connection.execute(stmt, params[0])
    else:
        connection.execute(stmt, params)


def replace_rows(connection: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
    """Store whole rows of cases locked by the caller (the rebuild): delete
    their old rows and insert the new ones in bulk — cheaper than upserts."""
    if not rows:
        return
    connection.execute(
        delete(case_analysis).where(case_analysis.c.case_id.in_([r["case_id"] for r in rows]))
    )
    names = [c.name for c in case_analysis.columns]
    raw = connection.connection.dbapi_connection
    assert raw is not None
    if connection.dialect.name == "postgresql":
        from psycopg.types.json import Jsonb

        columns = ", ".join(f'"{n}"' for n in names)
        cursor: Any = raw.cursor()
        with cursor, cursor.copy(f"COPY {case_analysis.name} ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(
                    [Jsonb(row[n]) if n == "local_values" else row.get(n, None) for n in names[:-1]]
                    + [randbits(31)]
                )
        return
    # SQLite: the driver's own executemany over plain values (the ORM's bind
    # processing of 125 columns per row would cost more than the insert).
    marks = ", ".join("?" * len(names))
    statement = f"INSERT INTO {case_analysis.name} ({', '.join(names)}) VALUES ({marks})"  # noqa: S608  (our own column names)
    lite = raw.cursor()
    try:
        lite.executemany(
            statement,
            [[_sqlite_value(row.get(n)) for n in names[:-1]] + [randbits(31)] for row in rows],
        )
    finally:
        lite.close()


def _sqlite_value(value: Any) -> Any:
    """A value as SQLAlchemy stores it on SQLite (Uuid as 32 hex digits,
    dates as ISO text, JSON as text)."""
    if isinstance(value, uuid.UUID):
        return value.hex
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return json.dumps(value)
    return value


def sync_cases(connection: Connection, case_ids: Collection[uuid.UUID]) -> int:
    """Recompute and store the analysis rows of these cases from the database
    (for writes that bypass the ORM flush). Returns the number of rows."""
    layout = shared_layout()
    rows = [analysis_row(layout, f) for f in facts_from_db(connection, case_ids)]
    write_rows(connection, rows)
    return len(rows)


def rows_of_new_cases(session: Session) -> list[dict[str, Any]]:
    """The analysis rows of the cases ``session`` holds as new, from memory:
    for an import batch built in one transaction and written in another with
    plain INSERTs (no flush, so no hook); store them with :func:`write_rows`."""
    layout = shared_layout()
    return [
        analysis_row(
            layout,
            _facts(
                case_row,
                _interventions(_in_memory(session, case_row, "interventions")),
                _risks(_in_memory(session, case_row, "risk_assessments")),
                next(map(_survey, _in_memory(session, case_row, "survey")), None),
            ),
        )
        for case_row in session.new
        if isinstance(case_row, Case)
    ]


# --- the hook -----------------------------------------------------------------------


def _touched(session: Session) -> tuple[dict[uuid.UUID, set[str]], set[uuid.UUID], list[Unit]]:
    """Case id -> child relations that changed; ids of cases whose own fields
    changed (or that are new); units whose kind changed."""
    children: dict[uuid.UUID, set[str]] = {}
    own: set[uuid.UUID] = set()
    units: list[Unit] = []
    for obj in session.new:
        if isinstance(obj, Case):
            own.add(obj.id)
        elif type(obj) in RELATION:
            children.setdefault(obj.case_id, set()).add(RELATION[type(obj)])
    for obj in session.dirty:
        if isinstance(obj, Case):
            if _changed(obj, CASE_FIELDS):
                own.add(obj.id)
            state = inspect(obj)
            for relation in RELATION.values():
                # A child removed from a loaded collection (delete-orphan) is
                # only deleted during the flush: the collection's history shows it.
                if relation not in state.unloaded and state.attrs[relation].history.has_changes():
                    children.setdefault(obj.id, set()).add(relation)
        elif type(obj) in RELATION:
            if _changed(obj, CHILD_FIELDS[type(obj)]):
                children.setdefault(obj.case_id, set()).add(RELATION[type(obj)])
                old = inspect(obj).attrs["case_id"].history.deleted
                for previous in old or ():
                    if previous is not None:
                        children.setdefault(previous, set()).add(RELATION[type(obj)])
        elif isinstance(obj, Unit) and _changed(obj, ("kind",)):
            units.append(obj)
    for obj in session.deleted:
        if type(obj) in RELATION:
            children.setdefault(obj.case_id, set()).add(RELATION[type(obj)])
    return children, own, units


def _loaded_children(session: Session, case_row: Case, relation: str) -> bool:
    """The case's collection is loaded and agrees with this flush's changes."""
    state = inspect(case_row)
    if relation in state.unloaded:
        return False
    current = state.dict.get(relation)
    items = current if isinstance(current, list) else ([] if current is None else [current])
    for obj in session.new | session.dirty:
        if RELATION.get(type(obj)) == relation and obj.case_id == case_row.id and obj not in items:
            return False
    return not any(RELATION.get(type(obj)) == relation and obj in items for obj in session.deleted)


def after_flush(session: Session, _context: UOWTransaction) -> None:
    children, own, units = _touched(session)
    connection = session.connection()
    for unit in units:
        connection.execute(
            update(case_analysis)
            .where(case_analysis.c.unit_id == unit.id)
            .values(unit_kind=unit_kind_code(unit.kind))
        )
    affected = set(children) | own
    if not affected:
        return
    layout = shared_layout()
    mapper = inspect(Case)
    in_memory: dict[uuid.UUID, Case] = {}
    for case_id in affected:
        found = session.identity_map.get(mapper.identity_key_from_primary_key((case_id,)))
        if isinstance(found, Case):
            in_memory[case_id] = found
    gone = {o.id for o in session.deleted if isinstance(o, Case)}
    rows = [
        analysis_row(layout, f) for f in facts_from_db(connection, affected - set(in_memory) - gone)
    ]
    # Existing cases whose changed child collection is not (reliably) in memory.
    to_read: dict[uuid.UUID, set[str]] = {}
    for case_id, case_row in in_memory.items():
        if case_id in gone or case_row in session.new:
            continue
        for relation in ("interventions", "risk_assessments", "survey"):
            if not _loaded_children(session, case_row, relation):
                to_read.setdefault(case_id, set()).add(relation)
    kinds = {relation for relations in to_read.values() for relation in relations}
    read_iv, read_risks, read_surveys = child_facts(connection, sorted(to_read), kinds)
    for case_id, case_row in in_memory.items():
        if case_id in gone:
            continue
        reading = to_read.get(case_id, set())
        interventions = (
            read_iv.get(case_id, [])
            if "interventions" in reading
            else _interventions(_in_memory(session, case_row, "interventions"))
        )
        risks = (
            read_risks.get(case_id, [])
            if "risk_assessments" in reading
            else _risks(_in_memory(session, case_row, "risk_assessments"))
        )
        if "survey" in reading:
            survey = read_surveys.get(case_id)
        else:
            answers = _in_memory(session, case_row, "survey")
            survey = _survey(answers[0]) if answers else None
        rows.append(analysis_row(layout, _facts(case_row, interventions, risks, survey)))
    write_rows(connection, rows)


def _in_memory(session: Session, case_row: Case, relation: str) -> list[Any]:
    """A child collection from memory. A case created in this flush whose
    collection was never set has only this flush's new children."""
    if case_row in session.new and relation in inspect(case_row).unloaded:
        kind = next(k for k, r in RELATION.items() if r == relation)
        return [o for o in session.new if isinstance(o, kind) and o.case_id == case_row.id]  # type: ignore[attr-defined]
    value = getattr(case_row, relation)
    return value if isinstance(value, list) else ([] if value is None else [value])


def _install() -> None:
    if not event.contains(Session, "after_flush", after_flush):
        event.listen(Session, "after_flush", after_flush)


_install()
