"""Units, users, tokens and key versions: administration, never case content.

``create_unit`` and ``create_user`` are the plain building blocks (the CLI and
the test factories use them); the ``admin_*`` functions are what the API calls:
they check the caller's scope and write exactly one audit event each, in the
request's transaction.

Scope: an ``admin`` manages everything; a ``coordinator`` manages the
caseworkers and coordinators of their own municipality (a user outside that is
indistinguishable from a missing one: 404). Everyone else: nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, false, func, or_, select
from sqlalchemy.exc import IntegrityError as DbIntegrityError
from sqlalchemy.orm import Session

from app.audit.service import as_utc
from app.auth.context import AdminContext
from app.auth.passwords import end_web_sessions, generate_password, set_password
from app.auth.principal import Principal
from app.auth.service import issue_token, revoke_user_tokens
from app.clock import utcnow
from app.errors import Conflict, FieldError, Forbidden, NotFound, ValidationFailed
from app.models import ROLES, UNIT_KINDS, ApiToken, MunicipalityKey, Unit, User
from app.reference import counties, districts, municipalities
from app.security.crypto import hash_token

MUNICIPAL_ROLES = ("caseworker", "coordinator")
"""The roles a coordinator may manage, in their own municipality."""


def _error(pointer: str, sv: str, en: str, code: str = "invalid") -> ValidationFailed:
    return ValidationFailed([FieldError(pointer, code, sv, en)])


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
    taken = session.scalar(
        select(Unit.id).where(Unit.municipality_code == municipality_code, Unit.name == name)
    )
    if taken is not None:
        raise _error(
            "/name",
            "Kommunen har redan en verksamhet med det namnet.",
            "The municipality already has a unit of that name.",
            "name_taken",
        )
    unit = Unit(
        name=name, kind=kind, municipality_code=municipality_code, district_code=district_code
    )
    _insert(session, unit, "/name")
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
    """A user and their first token (the plaintext is returned once, never stored)."""
    if role not in ROLES:
        raise _error("/role", "Okänd roll.", "Unknown role.")
    if role in MUNICIPAL_ROLES and municipality_code not in municipalities():
        raise _error(
            "/municipality_code", "Rollen kräver en kommun.", "The role needs a municipality."
        )
    if role == "caseworker":
        unit = session.get(Unit, unit_id) if unit_id else None
        if unit is None or unit.municipality_code != municipality_code or not unit.is_active:
            raise _error(
                "/unit_id",
                "Handläggare behöver en verksamhet i kommunen.",
                "A caseworker needs a unit in the municipality.",
            )
    if role == "regional" and county_code not in counties():
        raise _error("/county_code", "Rollen kräver ett län.", "The role needs a county.")
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise _error(
            "/username", "Användarnamnet är upptaget.", "The username is taken.", "username_taken"
        )
    user = User(
        username=username,
        role=role,
        municipality_code=municipality_code if role in MUNICIPAL_ROLES else None,
        county_code=county_code if role == "regional" else None,
        unit_id=unit_id if role == "caseworker" else None,
    )
    _insert(session, user, "/username")
    return user, issue_token(session, user, expires_in_days=expires_in_days)


def _insert(session: Session, row: Unit | User, pointer: str) -> None:
    """Add ``row``; a concurrent duplicate of its unique name is a 422, not a 500."""
    try:
        with session.begin_nested():
            session.add(row)
    except DbIntegrityError:
        raise _error(pointer, "Namnet är upptaget.", "The name is taken.", "name_taken") from None


# --- scope -------------------------------------------------------------------


def _users_in_scope(query: Select[Any], principal: Principal) -> Select[Any]:
    if principal.role == "admin":
        return query
    if principal.role == "coordinator":
        return query.where(
            User.municipality_code == principal.municipality_code, User.role.in_(MUNICIPAL_ROLES)
        )
    return query.where(false())


def _units_in_scope(query: Select[Any], principal: Principal) -> Select[Any]:
    if principal.role == "admin":
        return query
    if principal.role == "coordinator":
        return query.where(Unit.municipality_code == principal.municipality_code)
    return query.where(false())


def _user_in_scope(ctx: AdminContext, user_id: uuid.UUID) -> User:
    user: User | None = ctx.session.scalar(
        _users_in_scope(select(User).where(User.id == user_id), ctx.principal)
    )
    if user is None:
        raise NotFound()
    return user


def _may_create(principal: Principal, role: str, municipality_code: str | None) -> None:
    if principal.role == "admin":
        return
    if (
        principal.role == "coordinator"
        and role in MUNICIPAL_ROLES
        and municipality_code == principal.municipality_code
    ):
        return
    raise Forbidden(
        "Du får bara skapa handläggare och samordnare i din egen kommun.",
        "You may only create caseworkers and coordinators in your own municipality.",
    )


# --- units -------------------------------------------------------------------


def unit_dict(unit: Unit) -> dict[str, Any]:
    return {
        "id": unit.id,
        "name": unit.name,
        "kind": unit.kind,
        "municipality_code": unit.municipality_code,
        "district_code": unit.district_code,
        "is_active": unit.is_active,
        "created_at": as_utc(unit.created_at),
    }


def admin_read_unit(ctx: AdminContext, unit_id: uuid.UUID) -> dict[str, Any]:
    unit: Unit | None = ctx.session.scalar(
        _units_in_scope(select(Unit).where(Unit.id == unit_id), ctx.principal)
    )
    if unit is None:
        raise NotFound()
    ctx.audit(
        "unit.read",
        object_type="unit",
        object_id=unit.id,
        municipality_code=unit.municipality_code,
    )
    return unit_dict(unit)


def admin_create_unit(ctx: AdminContext, data: dict[str, Any]) -> Unit:
    unit = create_unit(
        ctx.session,
        name=data["name"],
        kind=data["kind"],
        municipality_code=data["municipality_code"],
        district_code=data.get("district_code"),
    )
    ctx.audit(
        "unit.create",
        object_type="unit",
        object_id=unit.id,
        fields=[k for k in ("name", "kind", "municipality_code", "district_code") if data.get(k)],
        municipality_code=unit.municipality_code,
    )
    return unit


def list_units(
    ctx: AdminContext, *, municipality_code: str | None, limit: int, offset: int
) -> dict[str, Any]:
    query = _units_in_scope(select(Unit), ctx.principal)
    if municipality_code is not None:
        query = query.where(Unit.municipality_code == municipality_code)
    total = ctx.session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = ctx.session.scalars(
        query.order_by(Unit.municipality_code, Unit.name, Unit.id).limit(limit).offset(offset)
    ).all()
    ctx.audit(
        "unit.list",
        object_type="unit",
        fields=["municipality_code"] if municipality_code is not None else [],
    )
    return {"items": [unit_dict(u) for u in rows], "total": total, "limit": limit, "offset": offset}


# --- users and tokens --------------------------------------------------------


def _active_tokens(now: datetime) -> Any:
    return (
        select(func.count(ApiToken.id))
        .where(
            ApiToken.user_id == User.id,
            ApiToken.revoked_at.is_(None),
            or_(ApiToken.expires_at.is_(None), ApiToken.expires_at > now),
        )
        .correlate(User)
        .scalar_subquery()
    )


def user_dict(user: User, active_tokens: int) -> dict[str, Any]:
    return {
        "id": user.id,
        "username": user.username,
        "role": user.role,
        "municipality_code": user.municipality_code,
        "county_code": user.county_code,
        "unit_id": user.unit_id,
        "is_active": user.is_active,
        "active_tokens": active_tokens,
        "has_web_password": bool(user.password_hash),
        "created_at": as_utc(user.created_at),
    }


def _count_active(session: Session, user: User) -> int:
    return (
        session.scalar(select(_active_tokens(utcnow())).select_from(User).where(User.id == user.id))
        or 0
    )


def list_users(
    ctx: AdminContext,
    *,
    role: str | None,
    municipality_code: str | None,
    limit: int,
    offset: int,
) -> dict[str, Any]:
    query = _users_in_scope(select(User, _active_tokens(utcnow())), ctx.principal)
    if role is not None:
        query = query.where(User.role == role)
    if municipality_code is not None:
        query = query.where(User.municipality_code == municipality_code)
    total = ctx.session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = ctx.session.execute(query.order_by(User.username).limit(limit).offset(offset)).all()
    given = (("role", role), ("municipality_code", municipality_code))
    ctx.audit("user.list", object_type="user", fields=[n for n, v in given if v is not None])
    return {
        "items": [user_dict(user, count or 0) for user, count in rows],
        "total": total,
        "limit": limit,
        "offset": offset,
    }


@dataclass(frozen=True)
class IssuedToken:
    user: User
    token: str
    expires_at: datetime | None


def _expiry(session: Session, token: str) -> datetime | None:
    expires_at = session.scalar(
        select(ApiToken.expires_at).where(ApiToken.token_hash == hash_token(token))
    )
    return as_utc(expires_at) if expires_at is not None else None


def admin_create_user(ctx: AdminContext, data: dict[str, Any]) -> IssuedToken:
    role = data["role"]
    municipality_code = data.get("municipality_code")
    if ctx.principal.role == "coordinator" and municipality_code is None:
        municipality_code = ctx.principal.municipality_code
    _may_create(ctx.principal, role, municipality_code)
    user, token = create_user(
        ctx.session,
        username=data["username"],
        role=role,
        municipality_code=municipality_code,
        unit_id=data.get("unit_id"),
        county_code=data.get("county_code"),
        expires_in_days=data["expires_in_days"],
    )
    fields = ["username", "role", "token"]
    fields += [k for k in ("municipality_code", "county_code", "unit_id") if getattr(user, k)]
    ctx.audit(
        "user.create",
        object_type="user",
        object_id=user.id,
        fields=fields,
        municipality_code=user.municipality_code,
    )
    return IssuedToken(user, token, _expiry(ctx.session, token))


def admin_issue_token(ctx: AdminContext, user_id: uuid.UUID, expires_in_days: int) -> IssuedToken:
    user = _user_in_scope(ctx, user_id)
    if not user.is_active:
        raise Conflict(
            "Användaren är avstängd och kan inte få någon token.",
            "The user is deactivated and cannot be given a token.",
        )
    token = issue_token(ctx.session, user, expires_in_days=expires_in_days)
    ctx.audit(
        "user.token_create",
        object_type="user",
        object_id=user.id,
        fields=["token"],
        municipality_code=user.municipality_code,
    )
    return IssuedToken(user, token, _expiry(ctx.session, token))


def admin_revoke(ctx: AdminContext, user_id: uuid.UUID, *, deactivate: bool) -> dict[str, Any]:
    """Revoke all of the user's tokens; optionally deactivate the user too."""
    user = _user_in_scope(ctx, user_id)
    revoked = revoke_user_tokens(ctx.session, user)
    fields = ["tokens"]
    if deactivate and user.is_active:
        user.is_active = False
        end_web_sessions(ctx.session, user.id)
        fields.append("is_active")
    ctx.session.flush()
    ctx.audit(
        "user.revoke",
        object_type="user",
        object_id=user.id,
        fields=fields,
        municipality_code=user.municipality_code,
    )
    return {"user_id": user.id, "revoked_tokens": revoked, "is_active": user.is_active}


@dataclass(frozen=True)
class TemporaryPassword:
    user: User
    password: str
    """Shown once to the coordinator, never stored or logged."""


def admin_set_temporary_password(
    ctx: AdminContext, user_id: uuid.UUID, *, first: bool = False
) -> TemporaryPassword:
    """A generated web password for a user in the caller's scope (their other
    browser sessions end). ``first``: given at creation (``user.password_set``),
    else a reset (``user.password_reset``)."""
    user = _user_in_scope(ctx, user_id)
    if not user.is_active:
        raise Conflict(
            "Användaren är avstängd och kan inte få något lösenord.",
            "The user is deactivated and cannot be given a password.",
        )
    password = generate_password()
    set_password(ctx.session, user, password)
    ctx.audit(
        "user.password_set" if first else "user.password_reset",
        object_type="user",
        object_id=user.id,
        fields=["password"],
        municipality_code=user.municipality_code,
    )
    return TemporaryPassword(user, password)


def read_user(session: Session, user: User) -> dict[str, Any]:
    return user_dict(user, _count_active(session, user))


def admin_read_user(ctx: AdminContext, user_id: uuid.UUID) -> dict[str, Any]:
    user = _user_in_scope(ctx, user_id)
    ctx.audit(
        "user.read",
        object_type="user",
        object_id=user.id,
        municipality_code=user.municipality_code,
    )
    return read_user(ctx.session, user)


# --- names for pages (not audited: no more than the caller's own lists show) ---


def active_units(session: Session, principal: Principal) -> list[Unit]:
    """Active units of the caller's municipality (a caseworker: their own)."""
    query = select(Unit).where(
        Unit.municipality_code == principal.municipality_code, Unit.is_active.is_(True)
    )
    if principal.role == "caseworker":
        query = query.where(Unit.id == principal.unit_id)
    return list(session.scalars(query.order_by(Unit.name)).all())


def unit_names(session: Session, principal: Principal) -> dict[uuid.UUID, str]:
    """Names of the units of the caller's municipality."""
    rows = session.execute(
        select(Unit.id, Unit.name).where(Unit.municipality_code == principal.municipality_code)
    ).all()
    return {r.id: r.name for r in rows}


def usernames(
    session: Session, principal: Principal, user_ids: set[uuid.UUID]
) -> dict[uuid.UUID, str]:
    """Usernames of people of the caller's municipality (a case's history)."""
    if not user_ids:
        return {}
    rows = session.execute(
        select(User.id, User.username).where(
            User.id.in_(user_ids), User.municipality_code == principal.municipality_code
        )
    ).all()
    return {r.id: r.username for r in rows}


# --- keys --------------------------------------------------------------------


def list_keys(
    ctx: AdminContext, *, municipality_code: str | None, limit: int, offset: int
) -> dict[str, Any]:
    """Key versions per municipality: never key material, wrapped or not."""
    query = select(
        MunicipalityKey.municipality_code,
        MunicipalityKey.purpose,
        MunicipalityKey.version,
        MunicipalityKey.created_at,
        MunicipalityKey.retired_at,
    )
    if municipality_code is not None:
        query = query.where(MunicipalityKey.municipality_code == municipality_code)
    total = ctx.session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows: Sequence[Any] = ctx.session.execute(
        query.order_by(
            MunicipalityKey.municipality_code, MunicipalityKey.purpose, MunicipalityKey.version
        )
        .limit(limit)
        .offset(offset)
    ).all()
    ctx.audit(
        "key.list",
        object_type="municipality_key",
        fields=["municipality_code"] if municipality_code is not None else [],
    )
    return {
        "items": [
            {
                **row._mapping,
                "created_at": as_utc(row.created_at),
                "retired_at": as_utc(row.retired_at) if row.retired_at else None,
            }
            for row in rows
        ],
        "total": total,
        "limit": limit,
        "offset": offset,
    }
