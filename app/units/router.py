"""Routes: Användare, verksamheter och nycklar (users, units, keys).

Administration only: nothing here reads or returns case content. ``admin``
manages the installation; a ``coordinator`` lists units and manages the
caseworkers and coordinators of their own municipality. Every call is audited.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
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
    secret: str | None = None,
) -> JSONResponse:
    """201 with ``body``; the replay stored for the Idempotency-Key never holds
    the token (``secret``): a token is shown once and never written down."""
    headers = {"Location": location}
    stored = {**body, "token": None} if secret is not None else body
    idem.store(session, 201, {"body": stored, "headers": headers})
    return JSONResponse(body, status_code=201, headers=headers)


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
def create_unit(body: UnitCreate, ctx: AdminCtx, idem: IdempotencyDep) -> Any:
    if (again := idem.replayed()) is not None:
        return again
    unit = service.admin_create_unit(ctx, body.model_dump())
    payload = UnitRead.model_validate(service.unit_dict(unit)).model_dump(mode="json")
    return _created(ctx.session, idem, payload, f"/api/v1/units/{unit.id}")


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
def create_user(body: UserCreate, ctx: ManagerCtx, idem: IdempotencyDep) -> Any:
    """Svaret innehåller token en enda gång; spara den direkt. Vid omsändning med samma
    Idempotency-Key är `token` null (the token is never stored in clear)."""
    if (again := idem.replayed()) is not None:
        return again
    issued = service.admin_create_user(ctx, body.model_dump())
    payload = UserCreated.model_validate(
        {
            **service.read_user(ctx.session, issued.user),
            "token": issued.token,
            "token_expires_at": issued.expires_at,
        }
    ).model_dump(mode="json")
    return _created(
        ctx.session, idem, payload, f"/api/v1/users/{issued.user.id}", secret=issued.token
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
    user_id: uuid.UUID, body: TokenCreate, ctx: ManagerCtx, idem: IdempotencyDep
) -> Any:
    if (again := idem.replayed()) is not None:
        return again
    issued = service.admin_issue_token(ctx, user_id, body.expires_in_days)
    payload = TokenIssued(
        user_id=issued.user.id, token=issued.token, expires_at=issued.expires_at
    ).model_dump(mode="json")
    return _created(
        ctx.session, idem, payload, f"/api/v1/users/{issued.user.id}", secret=issued.token
    )


@router.post(
    "/users/{user_id}/revoke",
    response_model=RevokeResult,
    responses=USER_RESPONSES,
    summary="Spärra alla användarens token (revoke all of a user's tokens)",
)
def revoke_user(
    user_id: uuid.UUID, ctx: ManagerCtx, idem: IdempotencyDep, body: RevokeIn | None = None
) -> Any:
    """Gäller omedelbart. `deactivate: true` stänger också av användaren."""
    if (again := idem.replayed()) is not None:
        return again
    result = service.admin_revoke(ctx, user_id, deactivate=body.deactivate if body else False)
    payload = RevokeResult.model_validate(result).model_dump(mode="json")
    idem.store(ctx.session, 200, {"body": payload, "headers": {}})
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
