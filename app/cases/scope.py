"""Object-level authorisation, enforced in the queries themselves.

A case outside the caller's scope is indistinguishable from a missing one.
"""

from __future__ import annotations

import uuid

from sqlalchemy import Select, false, select
from sqlalchemy.orm import Session, selectinload

from app.auth.principal import Principal
from app.errors import NotFound
from app.models import Case


def scoped(query: Select[Case], principal: Principal) -> Select[Case]:
    if principal.role == "coordinator":
        return query.where(Case.municipality_code == principal.municipality_code)
    if principal.role == "caseworker":
        return query.where(
            Case.municipality_code == principal.municipality_code,
            Case.unit_id == principal.unit_id,
        )
    return query.where(false())


def get_case(
    session: Session, principal: Principal, case_id: uuid.UUID, *, with_children: bool = True
) -> Case:
    query = scoped(select(Case).where(Case.id == case_id), principal)
    if with_children:
        query = query.options(
            selectinload(Case.interventions),
            selectinload(Case.risk_assessments),
            selectinload(Case.survey),
        )
    case = session.scalar(query)
    if case is None:
        raise NotFound()
    return case
