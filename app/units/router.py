"""Routes: Användare, verksamheter och nycklar (users, units, keys).

Administration only: nothing here reads or returns case content. ``admin``
manages the installation; a ``coordinator`` lists units and manages the
caseworkers and coordinators of their own municipality. Every call is audited.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.orm import Session

from app.auth.deps import AdminCtx, ManagerCtx
from app.idempotency import Idempotency, IdempotencyDep
from app.units import service
from app.units.schemas import (
    KeyPage,
    MunicipalityCode,
    RevokeIn,
    RevokeResult,
    Role,
    TokenCreate,
    TokenIssued,
    UnitCreate,
    UnitPage,
    UnitRead,
    UserCreate,
    UserCreated,
    UserPage,
    UserRead,
)

router = APIRouter(tags=["units"])

PROBLEM: dict[str, Any] = {"content": {"application/problem+json": {}}}
READ_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"description": "Token saknas eller är ogiltig", **PROBLEM},
    403: {"description": "Rollen får inte göra detta", **PROBLEM},
    422: {"description": "Ogiltiga uppgifter; `errors[].pointer` pekar ut fältet", **PROBLEM},
    429: {"description": "För många misslyckade inloggningar (Retry-After)", **PROBLEM},
}
WRITE_RESPONSES: dict[int | str, dict[str, Any]] = {
    **READ_RESPONSES,
    409: {"description": "Samma Idempotency-Key pågår redan", **PROBLEM},
}
USER_RESPONSES: dict[int | str, dict[str, Any]] = {
    **WRITE_RESPONSES,
    404: {"description": "Användaren finns inte (eller ligger utanför din kommun)", **PROBLEM},
}
Limit = Annotated[int, Query(ge=1, le=1000)]
Offset = Annotated[int, Query(ge=0, le=10_000_000)]


def _created(
    session: Session,
    idem: Idempotency,
    body: dict[str, Any],
    location: str,
    *,
    object_id: object,
    facts: dict[str, Any] | None = None,
) -> JSONResponse:
    """201 with ``body``; the Idempotency-Key keeps only the status, Location,
    object id and ``facts`` (never the body: a token is shown once)."""
    idem.store(session, 201, location=location, object_id=object_id, facts=facts)
    return JSONResponse(body, status_code=201, headers={"Location": location})


def _again(status: int, location: str | None, body: BaseModel) -> JSONResponse:
    headers = {"Location": location} if location else None
    return JSONResponse(body.model_dump(mode="json"), status_code=status, headers=headers)


def _expires(facts: dict[str, Any]) -> datetime | None:
    raw = facts.get("expires_at")
    return datetime.fromisoformat(raw) if raw else None


# --- units -------------------------------------------------------------------


@router.get(
    "/units",
    response_model=UnitPage,
    responses=READ_RESPONSES,
    summary="Lista verksamheter (list units)",
)
def list_units(
    ctx: ManagerCtx,
    municipality_code: MunicipalityCode | None = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> Any:
    """Admin: alla verksamheter. Samordnare: den egna kommunens."""
    return service.list_units(ctx, municipality_code=municipality_code, limit=limit, offset=offset)


@router.get(
    "/units/{unit_id}",
    response_model=UnitRead,
    responses={
        **READ_RESPONSES,
        404: {
            "description": "Verksamheten finns inte (eller ligger utanför din kommun)",
            **PROBLEM,
        },
    },
    summary="Läs en verksamhet (read a unit)",
)
def read_unit(unit_id: uuid.UUID, ctx: ManagerCtx) -> Any:
    return service.admin_read_unit(ctx, unit_id)


@router.post(
    "/units",
    status_code=201,
    response_model=UnitRead,
    responses=WRITE_RESPONSES,
    summary="Skapa en verksamhet (create a unit)",
)
def create_unit(body: UnitCreate, idem: IdempotencyDep, ctx: AdminCtx) -> Any:
    if (again := idem.begin(ctx.session, ctx.principal)) is not None:
        unit_now = service.admin_read_unit(ctx, uuid.UUID(again.object_id or ""))
        return _again(again.status, again.location, UnitRead.model_validate(unit_now))
    unit = service.admin_create_unit(ctx, body.model_dump())
    payload = UnitRead.model_validate(service.unit_dict(unit)).model_dump(mode="json")
    return _created(ctx.session, idem, payload, f"/api/v1/units/{unit.id}", object_id=unit.id)


# --- users -------------------------------------------------------------------


@router.get(
    "/users",
    response_model=UserPage,
    responses=READ_RESPONSES,
    summary="Lista användare (list users)",
)
def list_users(
    ctx: ManagerCtx,
    role: Role | None = None,
    municipality_code: MunicipalityCode | None = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> Any:
    """Admin: alla. Samordnare: handläggare och samordnare i den egna kommunen."""
    return service.list_users(
        ctx, role=role, municipality_code=municipality_code, limit=limit, offset=offset
    )


@router.post(
    "/users",
    status_code=201,
    response_model=UserCreated,
    responses=WRITE_RESPONSES,
    summary="Skapa en användare och dess token (create a user; the token is shown once)",
)
def create_user(body: UserCreate, idem: IdempotencyDep, ctx: ManagerCtx) -> Any:
    """Svaret innehåller token en enda gång; spara den direkt. Vid omsändning med samma
    Idempotency-Key är `token` null (the token is never stored in clear)."""
    if (again := idem.begin(ctx.session, ctx.principal)) is not None:
        user_now = service.admin_read_user(ctx, uuid.UUID(again.object_id or ""))
        replay = {**user_now, "token": None, "token_expires_at": _expires(again.facts)}
        return _again(again.status, again.location, UserCreated.model_validate(replay))
    issued = service.admin_create_user(ctx, body.model_dump())
    payload = UserCreated.model_validate(
        {
            **service.read_user(ctx.session, issued.user),
            "token": issued.token,
            "token_expires_at": issued.expires_at,
        }
    ).model_dump(mode="json")
    return _created(
        ctx.session,
        idem,
        payload,
        f"/api/v1/users/{issued.user.id}",
        object_id=issued.user.id,
        facts={"expires_at": payload["token_expires_at"]},
    )


@router.get(
    "/users/{user_id}",
    response_model=UserRead,
    responses=USER_RESPONSES,
    summary="Läs en användare (read a user)",
)
def read_user(user_id: uuid.UUID, ctx: ManagerCtx) -> Any:
    return service.admin_read_user(ctx, user_id)


@router.post(
    "/users/{user_id}/tokens",
    status_code=201,
    response_model=TokenIssued,
    responses=USER_RESPONSES,
    summary="Ge användaren en ny token (issue a new token; shown once)",
)
def issue_token(
    user_id: uuid.UUID, body: TokenCreate, idem: IdempotencyDep, ctx: ManagerCtx
) -> Any:
    if (again := idem.begin(ctx.session, ctx.principal)) is not None:
        replay = TokenIssued(user_id=user_id, token=None, expires_at=_expires(again.facts))
        return _again(again.status, again.location, replay)
    issued = service.admin_issue_token(ctx, user_id, body.expires_in_days)
    payload = TokenIssued(
        user_id=issued.user.id, token=issued.token, expires_at=issued.expires_at
    ).model_dump(mode="json")
    return _created(
        ctx.session,
        idem,
        payload,
        f"/api/v1/users/{issued.user.id}",
        object_id=issued.user.id,
        facts={"expires_at": payload["expires_at"]},
    )


@router.post(
    "/users/{user_id}/revoke",
    response_model=RevokeResult,
    responses=USER_RESPONSES,
    summary="Spärra alla användarens token (revoke all of a user's tokens)",
)
def revoke_user(
    user_id: uuid.UUID, idem: IdempotencyDep, ctx: ManagerCtx, body: RevokeIn | None = None
) -> Any:
    """Gäller omedelbart. `deactivate: true` stänger också av användaren."""
    if (again := idem.begin(ctx.session, ctx.principal)) is not None:
        user_now = service.admin_read_user(ctx, user_id)
        replay = RevokeResult(
            user_id=user_id,
            revoked_tokens=again.facts.get("revoked_tokens", 0),
            is_active=user_now["is_active"],
        )
        return _again(again.status, None, replay)
    result = service.admin_revoke(ctx, user_id, deactivate=body.deactivate if body else False)
    payload = RevokeResult.model_validate(result).model_dump(mode="json")
    idem.store(
        ctx.session, 200, object_id=user_id, facts={"revoked_tokens": payload["revoked_tokens"]}
    )
    return JSONResponse(payload, status_code=200)


# --- keys --------------------------------------------------------------------


@router.get(
    "/keys",
    response_model=KeyPage,
    responses=READ_RESPONSES,
    summary="Nyckelversioner per kommun (key versions; never key material)",
)
def list_keys(
    ctx: AdminCtx,
    municipality_code: MunicipalityCode | None = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> Any:
    return service.list_keys(ctx, municipality_code=municipality_code, limit=limit, offset=offset)
