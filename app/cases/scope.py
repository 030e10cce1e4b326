"""Object-level authorisation, enforced in the queries themselves.

A case outside the caller's scope is indistinguishable from a missing one.
"""

from __future__ import annotations

import uuid
from typing import Any, TypeVar

from sqlalchemy import Select, false, inspect, select
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.orm.util import identity_key

from app.auth.principal import Principal
from app.db import new_object
from app.errors import NotFound
from app.models import Case

Q = TypeVar("Q", bound=Select[Any])


def scoped(query: Q, principal: Principal) -> Q:
    if principal.role == "coordinator":
        return query.where(Case.municipality_code == principal.municipality_code)
    if principal.role == "caseworker":
        return query.where(
            Case.municipality_code == principal.municipality_code,
            Case.unit_id == principal.unit_id,
        )
    return query.where(false())


def in_scope(case: Case, principal: Principal) -> bool:
    """The same rule as :func:`scoped`, for a case already in memory."""
    if principal.role == "coordinator":
        return case.municipality_code == principal.municipality_code
    if principal.role == "caseworker":
        return (
            case.municipality_code == principal.municipality_code
            and case.unit_id == principal.unit_id
        )
    return False


CHILDREN = frozenset({"interventions", "risk_assessments", "survey"})


def _loaded(session: Session, case_id: uuid.UUID, with_children: bool) -> Case | None:
    """The case if this session already holds it fully loaded (e.g. several
    service calls in one import transaction), so it is not read again."""
    new = new_object(session, Case, case_id)
    if new is not None:
        return new
    cached = session.identity_map.get(identity_key(Case, case_id))
    if not isinstance(cached, Case):
        return None
    # Unloaded columns load on access; unloaded children would raise (lazy="raise").
    if with_children and inspect(cached).unloaded & CHILDREN:
        return None
    return cached


def get_case(
    session: Session, principal: Principal, case_id: uuid.UUID, *, with_children: bool = True
) -> Case:
    cached = _loaded(session, case_id, with_children)
    if cached is not None:
        if not in_scope(cached, principal):
            raise NotFound()
        return cached
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
