"""Routes: Datakvalitet (data quality). Coordinators (own municipality) and
caseworkers (own unit); every call is audited."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from app.deps import CaseUser, CatalogueDep, SessionDep, request_id
from app.quality import service
from app.quality.schemas import LackingCasesPage, QualityReport, WarningCasesPage

router = APIRouter(prefix="/quality", tags=["quality"])

PROBLEM: dict[str, Any] = {"content": {"application/problem+json": {}}}
RESPONSES: dict[int | str, dict[str, Any]] = {
    403: {"description": "Rollen får inte se kvalitetsrapporten", **PROBLEM},
    404: {"description": "Verksamheten finns inte (eller är inte din)", **PROBLEM},
    422: {"description": "Ogiltig parameter; `errors[].pointer` pekar ut den", **PROBLEM},
}

From = Annotated[
    date | None, Query(alias="from", description="Aktualiserade från och med (ÅÅÅÅ-MM-DD)")
]
To = Annotated[date | None, Query(alias="to", description="Aktualiserade till och med")]
UnitFilter = Annotated[uuid.UUID | None, Query(description="Bara en verksamhet")]


@router.get(
    "",
    response_model=QualityReport,
    responses=RESPONSES,
    summary="Datakvalitet: saknade uppgifter (data-quality report)",
)
def quality_report(
    request: Request,
    session: SessionDep,
    principal: CaseUser,
    catalogue: CatalogueDep,
    unit_id: UnitFilter = None,
    actualised_from: From = None,
    actualised_to: To = None,
) -> Any:
    """Per fas och variabel: hur många ärenden som saknar uppgiften av dem där den
    gäller, och trattens steg med registrerat / ej registrerat (Diagram 1).
    Undantagna ärenden räknas separat."""
    return service.report(
        session,
        catalogue,
        principal,
        unit_id=unit_id,
        actualised_from=actualised_from,
        actualised_to=actualised_to,
        request_id=request_id(request),
    )


@router.get(
    "/cases",
    response_model=LackingCasesPage,
    responses=RESPONSES,
    summary="Ärenden som saknar en uppgift (cases lacking a variable)",
)
def lacking_cases(
    request: Request,
    session: SessionDep,
    principal: CaseUser,
    catalogue: CatalogueDep,
    variable: Annotated[str, Query(max_length=80, description="Variabelns nyckel")],
    unit_id: UnitFilter = None,
    actualised_from: From = None,
    actualised_to: To = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> Any:
    """Id, verksamhet, aktualiseringsdatum, status och version för de ärenden där
    variabeln gäller men saknas, så att registreringen kan kompletteras."""
    return service.cases_lacking(
        session,
        catalogue,
        principal,
        variable=variable,
        unit_id=unit_id,
        actualised_from=actualised_from,
        actualised_to=actualised_to,
        limit=limit,
        offset=offset,
        request_id=request_id(request),
    )


@router.get(
    "/warnings",
    response_model=WarningCasesPage,
    responses=RESPONSES,
    summary="Ärenden med en motsägelse (cases failing a consistency check)",
)
def warned_cases(
    request: Request,
    session: SessionDep,
    principal: CaseUser,
    catalogue: CatalogueDep,
    check: Annotated[
        str, Query(max_length=80, description="Kontrollens nyckel (variables/checks.yaml)")
    ],
    unit_id: UnitFilter = None,
    actualised_from: From = None,
    actualised_to: To = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> Any:
    """De ärenden som inte klarar en av katalogens rimlighetskontroller (t.ex. samma
    insats två gånger samma dag), så att uppgifterna kan kontrolleras."""
    return service.cases_warned(
        session,
        catalogue,
        principal,
        check=check,
        unit_id=unit_id,
        actualised_from=actualised_from,
        actualised_to=actualised_to,
        limit=limit,
        offset=offset,
        request_id=request_id(request),
    )
