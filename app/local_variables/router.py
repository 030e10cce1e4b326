"""Routes: Lokala variabler (local and regional variables)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from app.auth.principal import Principal
from app.deps import CurrentUser, SessionDep, request_id, require_role
from app.idempotency import IdempotencyDep
from app.local_variables import service
from app.local_variables.schemas import LocalVariableCreate, LocalVariableList, LocalVariableRead

router = APIRouter(prefix="/local-variables", tags=["local_variables"])

OwnerUser = Annotated[Principal, Depends(require_role("coordinator", "regional"))]

PROBLEM: dict[str, Any] = {"content": {"application/problem+json": {}}}
RESPONSES: dict[int | str, dict[str, Any]] = {
    403: {"description": "Rollen får inte göra detta", **PROBLEM},
    404: {"description": "Variabeln finns inte (eller syns inte för dig)", **PROBLEM},
    409: {"description": "Nyckeln finns redan, eller samma Idempotency-Key pågår", **PROBLEM},
    422: {
        "description": "Ogiltig definition; `errors[].pointer` pekar in i /definition",
        **PROBLEM,
    },
}


def _read(row: Any) -> dict[str, Any]:
    body: dict[str, Any] = LocalVariableRead.model_validate(service.as_dict(row)).model_dump(
        mode="json"
    )
    return body


@router.post(
    "",
    status_code=201,
    response_model=LocalVariableRead,
    responses=RESPONSES,
    summary="Definiera en lokal eller regional variabel (define a local variable)",
)
def define_local_variable(
    body: LocalVariableCreate,
    request: Request,
    idem: IdempotencyDep,
    session: SessionDep,
    principal: OwnerUser,
) -> Any:
    """Samordnare: `k<kommunkod>.<namn>`; regional utvecklingsledare: `l<länskod>.<namn>`.
    Ingen kodändring och ingen migrering: variabeln kan användas direkt."""
    if (again := idem.begin(session, principal)) is not None:
        existing = service.visible_by_id(session, principal, uuid.UUID(again.object_id or ""))
        return JSONResponse(_read(existing), status_code=again.status)
    row = service.define(
        session,
        principal,
        body.definition,
        export_opt_in=body.export_opt_in,
        request_id=request_id(request),
    )
    result = _read(row)
    idem.store(session, 201, object_id=row.id)
    return JSONResponse(result, status_code=201)


@router.get(
    "",
    response_model=LocalVariableList,
    summary="Lokala och regionala variabler du kan se (local variables visible to you)",
)
def list_local_variables(request: Request, session: SessionDep, principal: CurrentUser) -> Any:
    """Kommunens och länets variabler, även avregistrerade (`is_retired`)."""
    rows = service.list_visible(session, principal, request_id(request))
    return {"items": [_read(r) for r in rows]}


@router.post(
    "/{variable_id}/retire",
    response_model=LocalVariableRead,
    responses=RESPONSES,
    summary="Avregistrera en variabel (retire; koder tas aldrig bort)",
)
def retire_local_variable(
    variable_id: uuid.UUID, request: Request, session: SessionDep, principal: OwnerUser
) -> Any:
    """Bara ägaren. Variabeln tar inga nya värden; lagrade värden finns kvar och kan läsas."""
    return _read(service.retire(session, principal, variable_id, request_id(request)))
