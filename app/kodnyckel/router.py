"""Routes: Kodnyckel (re-identification)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from app.deps import CoordinatorUser, KeyringDep, SessionDep, SettingsDep, request_id
from app.kodnyckel import service
from app.kodnyckel.schemas import LookupIn, LookupRead

router = APIRouter(tags=["kodnyckel"])

PROBLEM: dict[str, Any] = {"content": {"application/problem+json": {}}}


@router.post(
    "/kodnyckel/lookup",
    response_model=LookupRead,
    responses={
        403: {"description": "Bara kommunens samordnare (coordinators only)", **PROBLEM},
        404: {"description": "Pseudonymen finns inte i kommunens kodnyckel", **PROBLEM},
        422: {"description": "Skäl saknas eller ogiltig pseudonym", **PROBLEM},
        500: {"description": "Kodnyckeln kunde inte verifieras (integrity)", **PROBLEM},
    },
    summary="Återidentifiera en pseudonym (re-identify a pseudonym)",
)
def lookup(
    body: LookupIn,
    request: Request,
    response: Response,
    session: SessionDep,
    principal: CoordinatorUser,
    keyring: KeyringDep,
    settings: SettingsDep,
) -> Any:
    """Kommunens samordnare slår upp identiteten bakom en pseudonym. Skälet krävs men
    sparas inte; uppslaget loggas i granskningsloggen utan identitet."""
    found = service.lookup(
        session, keyring, settings, principal, body.pseudonym, request_id=request_id(request)
    )
    response.headers["Cache-Control"] = "no-store"
    return LookupRead(pseudonym=found.pseudonym, identifier=found.identifier, kind=found.kind)
