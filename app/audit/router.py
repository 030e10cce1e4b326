"""Routes: Granskningslogg (audit log).

Coordinators read their own municipality's events, admins all of them; every
listing is itself audited. Events hold names, never values or identifiers.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BeforeValidator

from app.audit.schemas import AuditEventPage, AuditEventRead, ChainVerification
from app.audit.service import EventFilter, as_utc, list_events, verify
from app.auth.deps import AdminCtx, ManagerCtx
from app.deps import KeyringDep, SettingsDep
from app.models import AuditEvent

router = APIRouter(prefix="/audit-events", tags=["audit"])

_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$")


def _rfc3339(value: object) -> object:
    """Only what the schema promises (an RFC 3339 date-time with a zone); pydantic
    would also take a bare number as seconds since 1970."""
    if isinstance(value, str) and not _RFC3339.match(value):
        raise ValueError("not an RFC 3339 date-time")
    return value


Moment = Annotated[datetime, BeforeValidator(_rfc3339)]

PROBLEM: dict[str, Any] = {"content": {"application/problem+json": {}}}
RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"description": "Token saknas eller är ogiltig", **PROBLEM},
    403: {"description": "Rollen får inte läsa granskningsloggen", **PROBLEM},
    422: {"description": "Ogiltig parameter; `errors[].pointer` pekar ut den", **PROBLEM},
    429: {"description": "För många misslyckade inloggningar (Retry-After)", **PROBLEM},
}


def _event(row: AuditEvent) -> AuditEventRead:
    event = AuditEventRead.model_validate(row, from_attributes=True)
    return event.model_copy(update={"occurred_at": as_utc(row.occurred_at)})


@router.get(
    "",
    response_model=AuditEventPage,
    responses=RESPONSES,
    summary="Granskningsloggen (the audit log), nyast först",
)
def list_audit_events(
    ctx: ManagerCtx,
    action: Annotated[
        str | None, Query(max_length=40, description="t.ex. case.read, auth.failed")
    ] = None,
    object_id: Annotated[str | None, Query(max_length=64)] = None,
    municipality_code: Annotated[str | None, Query(pattern=r"^[0-9]{4}$")] = None,
    occurred_from: Annotated[
        Moment | None,
        Query(alias="from", description="Från och med, t.ex. 2026-01-01T00:00:00Z"),
    ] = None,
    occurred_to: Annotated[
        Moment | None, Query(alias="to", description="Till och med, t.ex. 2026-12-31T23:59:59Z")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> Any:
    """Admin: alla händelser. Samordnare: händelser i den egna kommunen."""
    principal = ctx.principal
    scope = None if principal.role == "admin" else principal.municipality_code
    where = EventFilter(
        municipality_code=municipality_code,
        action=action,
        object_id=object_id,
        occurred_from=occurred_from,
        occurred_to=occurred_to,
    )
    rows, total = list_events(ctx.session, where, scope=scope, limit=limit, offset=offset)
    ctx.audit("audit.list", object_type="audit_event", fields=where.used())
    return {
        "items": [_event(row) for row in rows],
        "total": total,
        "limit": limit,
        "offset": offset,
    }


@router.get(
    "/verify",
    response_model=ChainVerification,
    responses=RESPONSES,
    summary="Kontrollera kedjan (verify the hash chain)",
)
def verify_chain(ctx: AdminCtx, keyring: KeyringDep, settings: SettingsDep) -> Any:
    """Samma kontroll som `isu audit verify`. Läser hela loggen."""
    max_age = timedelta(seconds=settings.audit_seal_max_age_seconds)
    result = verify(ctx.session, keyring, max_unsealed_age=max_age)
    ctx.audit(
        "audit.verify",
        object_type="audit_event",
        object_id=str(result.first_bad_id) if result.first_bad_id is not None else None,
        outcome="ok" if result.ok else "chain_broken",
    )
    return {
        "ok": result.ok,
        "events": result.events,
        "first_bad_id": result.first_bad_id,
        "problem": result.problem,
        "last_hash": result.last_hash,
        "unsealed": result.unsealed,
    }
