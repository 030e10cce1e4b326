"""Creating units and users (admin work; no case content)."""

from __future__ import annotations

import uuid

from sqlalchemy.orm import Session

from app.auth.service import issue_token
from app.errors import FieldError, ValidationFailed
from app.models import ROLES, UNIT_KINDS, Unit, User
from app.reference import counties, districts, municipalities


def _error(pointer: str, sv: str, en: str) -> ValidationFailed:
    return ValidationFailed([FieldError(pointer, "invalid", sv, en)])


def create_unit(
    session: Session, *, name: str, kind: str, municipality_code: str, district_code: str | None
) -> Unit:
    if kind not in UNIT_KINDS:
        raise _error("/kind", "Okänd typ av verksamhet.", "Unknown unit kind.")
    if municipality_code not in municipalities():
        raise _error("/municipality_code", "Okänd kommunkod.", "Unknown municipality code.")
    if district_code is not None:
        district = districts().get(district_code)
        if district is None or district.municipality_code != municipality_code:
            raise _error("/district_code", "Okänd stadsdel för kommunen.", "Unknown district.")
    unit = Unit(
        name=name, kind=kind, municipality_code=municipality_code, district_code=district_code
    )
    session.add(unit)
    session.flush()
    return unit


def create_user(
    session: Session,
    *,
    username: str,
    role: str,
    municipality_code: str | None,
    unit_id: uuid.UUID | None,
    county_code: str | None,
    expires_in_days: int | None = 90,
) -> tuple[User, str]:
    if role not in ROLES:
        raise _error("/role", "Okänd roll.", "Unknown role.")
    if role in ("caseworker", "coordinator") and municipality_code not in municipalities():
        raise _error(
            "/municipality_code", "Rollen kräver en kommun.", "The role needs a municipality."
        )
    if role == "caseworker":
        unit = session.get(Unit, unit_id) if unit_id else None
        if unit is None or unit.municipality_code != municipality_code:
            raise _error(
                "/unit_id",
                "Handläggare behöver en verksamhet i kommunen.",
                "A caseworker needs a unit in the municipality.",
            )
    if role == "regional" and county_code not in counties():
        raise _error("/county_code", "Rollen kräver ett län.", "The role needs a county.")
    user = User(
        username=username,
        role=role,
        municipality_code=municipality_code if role in ("caseworker", "coordinator") else None,
        county_code=county_code if role == "regional" else None,
        unit_id=unit_id if role == "caseworker" else None,
    )
    session.add(user)
    session.flush()
    return user, issue_token(session, user, expires_in_days=expires_in_days)
