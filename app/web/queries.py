"""Read-only look-ups the pages need beyond the case services: the case list
with the web's filters, who changed a case since a version, names of units and
users. Scope comes from :func:`app.cases.scope.scoped` (the same object-level
authorisation as the API), and listing cases is audited like the API's list.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from app.auth.principal import Principal
from app.cases.context import CaseContext
from app.cases.scope import scoped
from app.models import Case, CaseRevision, Unit, User

PAGE_SIZE = 50

# The phase a case is in, by its funnel status (DESIGN.md §2).
PHASE_STATUSES: dict[str, tuple[str, ...]] = {
    "fore": ("aktualiserad",),
    "under": ("fatt_insats",),
    "efter": ("avslutad", "avslutsorsak_angiven", "maluppfoljning_angiven"),
    "brukarenkat": ("brukarenkat_genomford",),
}


@dataclass(frozen=True)
class CaseRow:
    id: uuid.UUID
    unit_id: uuid.UUID
    actualised_on: date
    closed_on: date | None
    caseworker_ref: str | None
    status: str
    is_excluded: bool
    version: int


def _like(text: str) -> str:
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def list_cases(
    ctx: CaseContext,
    *,
    status: str | None,
    phase: str | None,
    reference: str | None,
    excluded: bool | None,
    unit_id: uuid.UUID | None,
    page: int,
) -> tuple[list[CaseRow], int]:
    """The caller's cases, newest first; ``reference`` searches the unit's own
    references (handläggarreferens, SUV 3, and the case-management system's id)."""
    query = scoped(select(Case), ctx.principal)
    used: list[str] = []
    if status is not None:
        query = query.where(Case.status == status)
        used.append("status")
    if phase is not None:
        query = query.where(Case.status.in_(PHASE_STATUSES[phase]))
        used.append("phase")
    if reference:
        pattern = _like(reference)
        query = query.where(
            or_(
                func.lower(Case.caseworker_ref).like(pattern, escape="\\"),
                func.lower(Case.source_ref).like(pattern, escape="\\"),
            )
        )
        used.append("reference")
    if excluded is not None:
        query = query.where(Case.is_excluded.is_(excluded))
        used.append("is_excluded")
    if unit_id is not None:
        query = query.where(Case.unit_id == unit_id)
        used.append("unit_id")
    total = ctx.session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = ctx.session.scalars(
        query.order_by(Case.actualised_on.desc(), Case.id)
        .limit(PAGE_SIZE)
        .offset(max(page - 1, 0) * PAGE_SIZE)
    ).all()
    ctx.audit("case.list", object_type="case", fields=used)
    return [
        CaseRow(
            c.id,
            c.unit_id,
            c.actualised_on,
            c.closed_on,
            c.caseworker_ref,
            c.status,
            c.is_excluded,
            c.version,
        )
        for c in rows
    ], total


def changes_since(session: Session, case_id: uuid.UUID, version: int) -> list[str]:
    """Names of the fields changed after ``version`` (for "someone else changed …").
    The caller has already read the case within its scope."""
    rows = session.scalars(
        select(CaseRevision.fields)
        .where(CaseRevision.case_id == case_id, CaseRevision.version > version)
        .order_by(CaseRevision.version)
    ).all()
    names: list[str] = []
    for fields in rows:
        for name in fields:
            if name not in names:
                names.append(name)
    return names


def units_of(session: Session, principal: Principal) -> list[Unit]:
    """Active units of the caller's municipality (a caseworker: their own)."""
    query = select(Unit).where(
        Unit.municipality_code == principal.municipality_code, Unit.is_active.is_(True)
    )
    if principal.role == "caseworker":
        query = query.where(Unit.id == principal.unit_id)
    return list(session.scalars(query.order_by(Unit.name)).all())


def unit_names(session: Session, principal: Principal) -> dict[uuid.UUID, str]:
    rows = session.execute(
        select(Unit.id, Unit.name).where(Unit.municipality_code == principal.municipality_code)
    ).all()
    return {r.id: r.name for r in rows}


def usernames(session: Session, user_ids: set[uuid.UUID], principal: Principal) -> dict[Any, str]:
    """Usernames of the caller's municipality (history: who changed what)."""
    if not user_ids:
        return {}
    rows = session.execute(
        select(User.id, User.username).where(
            User.id.in_(user_ids), User.municipality_code == principal.municipality_code
        )
    ).all()
    return {r.id: r.username for r in rows}
