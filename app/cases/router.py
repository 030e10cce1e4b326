# mypy: disable-error-code="valid-type"
"""Case routes. Thin: parse, authorise, call one service function, respond.

Bodies are the catalogue-generated models of :mod:`app.cases.schemas`, so this
router is built per app by :func:`build_router`. No ``from __future__ import
annotations`` here: FastAPI must see the generated body models as real objects.
"""

import uuid
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, RootModel

from app.cases import records, service
from app.cases.bodies import Submitted, as_body, read_body
from app.cases.context import CaseContext
from app.cases.schemas import CaseSchemas, ExclusionIn, HistoryRead
from app.cases.status import PHASE_STATUSES
from app.deps import (
    CaseUser,
    CatalogueDep,
    CoordinatorUser,
    KeyringDep,
    SessionDep,
    SettingsDep,
    request_id,
)
from app.errors import FieldError, PreconditionFailed, PreconditionRequired, ValidationFailed
from app.http import IfMatch, etag, expected_version
from app.idempotency import Idempotency, IdempotencyDep
from app.models import STATUSES

RawBody = RootModel[dict[str, Any]]

PROBLEM: dict[str, Any] = {"content": {"application/problem+json": {}}}
WRITE_RESPONSES: dict[int | str, dict[str, Any]] = {
    404: {"description": "Ärendet finns inte (eller tillhör inte din verksamhet)", **PROBLEM},
    409: {"description": "Samma Idempotency-Key pågår redan", **PROBLEM},
    412: {"description": "If-Match matchar inte ärendets version", **PROBLEM},
    413: {"description": "Begäran är för stor (payload too large)", **PROBLEM},
    422: {"description": "Ogiltiga uppgifter; `errors[].pointer` pekar ut fältet", **PROBLEM},
    428: {"description": "If-Match saknas", **PROBLEM},
}


async def case_context(
    request: Request,
    session: SessionDep,
    principal: CaseUser,
    catalogue: CatalogueDep,
    keyring: KeyringDep,
    settings: SettingsDep,
) -> CaseContext:
    return CaseContext(session, principal, catalogue, keyring, settings, request_id(request))


async def coordinator_context(
    ctx: Annotated[CaseContext, Depends(case_context)], _: CoordinatorUser
) -> CaseContext:
    return ctx


Ctx = Annotated[CaseContext, Depends(case_context)]
CoordinatorCtx = Annotated[CaseContext, Depends(coordinator_context)]
Version = Annotated[IfMatch, Depends(expected_version)]


def build_router(schemas: CaseSchemas) -> APIRouter:
    router = APIRouter(prefix="/cases", tags=["cases"])
    read_model = schemas.read

    def respond(
        ctx: CaseContext,
        case: Any,
        status: int,
        idem: Idempotency | None = None,
        location: str | None = None,
    ) -> JSONResponse:
        body = read_model.model_validate(service.serialise(ctx, case)).model_dump(mode="json")
        headers = {"ETag": etag(case.version)}
        if location:
            headers["Location"] = location
        if idem is not None:
            idem.store(ctx.session, status, location=location, object_id=case.id)
        return JSONResponse(body, status_code=status, headers=headers)

    def replayed(ctx: CaseContext, idem: Idempotency) -> JSONResponse | None:
        """The first answer's status and Location, with the case as it is now."""
        again = idem.begin(ctx.session, ctx.principal)
        if again is None:
            return None
        case = service.read_case(ctx, uuid.UUID(again.object_id or ""))
        return respond(ctx, case, again.status, location=again.location)

    def checked(model: type[BaseModel], body: RawBody) -> Submitted:
        """The body read with its catalogue-generated model: the valid part
        and every type error, for the service to report with its own."""
        return read_body(model, body.root)

    def seen(version: IfMatch, submitted: Submitted) -> int:
        """The If-Match version; a body with type errors is a 422 whatever
        If-Match says (missing or malformed)."""
        try:
            return version.value
        except (PreconditionRequired, PreconditionFailed):
            if submitted.errors:
                raise ValidationFailed(submitted.errors) from None
            raise

    examples: dict[str, Any] = schemas.examples
    create_model = schemas.create
    update_model = schemas.update
    close_model = schemas.close
    intervention_in = schemas.intervention_in
    intervention_patch = schemas.intervention_patch
    risk_in = schemas.risk_in
    risk_patch = schemas.risk_patch
    survey_in = schemas.survey_in
    # Bodies with their examples, so that every route can be tried from /docs.
    # FastAPI takes any JSON object and documents the catalogue-generated
    # model; the handler reads it with that model (app.cases.bodies), so type
    # errors and rule errors come back together.
    Create = Annotated[as_body(create_model), Body(openapi_examples=examples["create"])]
    Update = Annotated[as_body(update_model), Body(openapi_examples=examples["update"])]
    Close = Annotated[as_body(close_model), Body(openapi_examples=examples["close"])]
    Exclusion = Annotated[ExclusionIn, Body(openapi_examples=examples["exclusion"])]
    InterventionIn = Annotated[
        as_body(intervention_in), Body(openapi_examples=examples["intervention_in"])
    ]
    InterventionPatch = Annotated[
        as_body(intervention_patch), Body(openapi_examples=examples["intervention_patch"])
    ]
    RiskIn = Annotated[as_body(risk_in), Body(openapi_examples=examples["risk_in"])]
    RiskPatch = Annotated[as_body(risk_patch), Body(openapi_examples=examples["risk_patch"])]
    SurveyIn = Annotated[as_body(survey_in), Body(openapi_examples=examples["survey_in"])]

    @router.post(
        "",
        status_code=201,
        response_model=read_model,
        responses=WRITE_RESPONSES,
        summary="Registrera ett ärende (register a case)",
    )
    def create_case(body: Create, idem: IdempotencyDep, ctx: Ctx) -> Any:
        """Aktualisering: bakgrundsuppgifter och klientens identitet (lagras bara som pseudonym)."""
        if (again := replayed(ctx, idem)) is not None:
            return again
        case = service.create_case(ctx, checked(create_model, body))
        return respond(ctx, case, 201, idem, location=f"/api/v1/cases/{case.id}")

    @router.get("", response_model=schemas.page, summary="Lista ärenden (list cases)")
    def list_cases(
        ctx: Ctx,
        status: Annotated[
            str | None,
            Query(description="Status i trattmodellen", json_schema_extra={"enum": list(STATUSES)}),
        ] = None,
        phase: Annotated[
            str | None,
            Query(
                description="Fasen ärendet är i (by status)",
                json_schema_extra={"enum": list(PHASE_STATUSES)},
            ),
        ] = None,
        unit_id: uuid.UUID | None = None,
        actualised_from: date | None = None,
        actualised_to: date | None = None,
        reference: Annotated[
            str | None,
            Query(
                max_length=64,
                description="Sök i handläggarens referens och verksamhetssystemets id",
            ),
        ] = None,
        excluded: Annotated[
            bool | None, Query(description="Bara undantagna (true) eller inte undantagna (false)")
        ] = None,
        mine: Annotated[bool, Query(description="Bara ärenden som du registrerade")] = False,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
        cursor: Annotated[
            str | None,
            Query(max_length=200, description="`next_cursor` från föregående sida"),
        ] = None,
    ) -> Any:
        """Nyaste aktualiseringsdatum först; bläddra med `next_cursor` (keyset pages)."""
        if status is not None and status not in STATUSES:
            raise ValidationFailed(
                [FieldError("/query/status", "unknown_status", "Okänd status.", "Unknown status.")]
            )
        if phase is not None and phase not in PHASE_STATUSES:
            raise ValidationFailed(
                [FieldError("/query/phase", "unknown_code", "Okänd fas.", "Unknown phase.")]
            )
        return service.list_cases(
            ctx,
            status=status,
            phase=phase,
            unit_id=unit_id,
            actualised_from=actualised_from,
            actualised_to=actualised_to,
            reference=(reference or "").strip() or None,
            excluded=excluded,
            mine=mine,
            limit=limit,
            cursor=cursor,
        )

    @router.get(
        "/{case_id}",
        response_model=read_model,
        responses={404: WRITE_RESPONSES[404]},
        summary="Läs ett ärende (read a case)",
    )
    def read_case(case_id: uuid.UUID, ctx: Ctx) -> Any:
        return respond(ctx, service.read_case(ctx, case_id), 200)

    @router.patch(
        "/{case_id}",
        response_model=read_model,
        responses=WRITE_RESPONSES,
        summary="Uppdatera uppgifter (update values)",
    )
    def update_case(case_id: uuid.UUID, body: Update, ctx: Ctx, version: Version) -> Any:
        """Värden för valfri fas; `null` tar bort ett värde, `[]` betyder "registrerat som inget"."""
        submitted = checked(update_model, body)
        case = service.update_case(ctx, case_id, seen(version, submitted), submitted)
        return respond(ctx, case, 200)

    @router.post(
        "/{case_id}/close",
        response_model=read_model,
        responses=WRITE_RESPONSES,
        summary="Avsluta ärendet (close the case)",
    )
    def close_case(
        case_id: uuid.UUID, body: Close, idem: IdempotencyDep, ctx: Ctx, version: Version
    ) -> Any:
        if (again := replayed(ctx, idem)) is not None:
            return again
        submitted = checked(close_model, body)
        case = service.close_case(ctx, case_id, seen(version, submitted), submitted)
        return respond(ctx, case, 200, idem)

    @router.post(
        "/{case_id}/exclusion",
        response_model=read_model,
        responses=WRITE_RESPONSES,
        summary="Undanta från statistiken (exclude from statistics)",
    )
    def exclude_case(
        case_id: uuid.UUID,
        body: Exclusion,
        idem: IdempotencyDep,
        ctx: CoordinatorCtx,
        version: Version,
    ) -> Any:
        if (again := replayed(ctx, idem)) is not None:
            return again
        return respond(
            ctx, service.set_exclusion(ctx, case_id, version.value, body.reason.value), 200, idem
        )

    @router.delete(
        "/{case_id}/exclusion",
        response_model=read_model,
        responses=WRITE_RESPONSES,
        summary="Ta med i statistiken igen (include again)",
    )
    def include_case(case_id: uuid.UUID, ctx: CoordinatorCtx, version: Version) -> Any:
        return respond(ctx, service.set_exclusion(ctx, case_id, version.value, None), 200)

    @router.get(
        "/{case_id}/history",
        response_model=HistoryRead,
        responses={404: WRITE_RESPONSES[404]},
        summary="Ändringshistorik (change history)",
    )
    def case_history(case_id: uuid.UUID, ctx: Ctx) -> Any:
        return service.history(ctx, case_id)

    @router.post(
        "/{case_id}/interventions",
        status_code=201,
        response_model=read_model,
        responses=WRITE_RESPONSES,
        summary="Lägg till stöd/insats",
    )
    def add_intervention(
        case_id: uuid.UUID, body: InterventionIn, idem: IdempotencyDep, ctx: Ctx
    ) -> Any:
        if (again := replayed(ctx, idem)) is not None:
            return again
        case, item = records.add_intervention(ctx, case_id, checked(intervention_in, body))
        return respond(
            ctx, case, 201, idem, location=f"/api/v1/cases/{case.id}/interventions/{item.id}"
        )

    @router.patch(
        "/{case_id}/interventions/{intervention_id}",
        response_model=read_model,
        responses=WRITE_RESPONSES,
        summary="Ändra stöd/insats",
    )
    def update_intervention(
        case_id: uuid.UUID,
        intervention_id: uuid.UUID,
        body: InterventionPatch,
        ctx: Ctx,
        version: Version,
    ) -> Any:
        submitted = checked(intervention_patch, body)
        case, _ = records.update_intervention(
            ctx, case_id, intervention_id, seen(version, submitted), submitted
        )
        return respond(ctx, case, 200)

    @router.delete(
        "/{case_id}/interventions/{intervention_id}",
        response_model=read_model,
        responses=WRITE_RESPONSES,
        summary="Ta bort stöd/insats",
    )
    def delete_intervention(
        case_id: uuid.UUID, intervention_id: uuid.UUID, ctx: Ctx, version: Version
    ) -> Any:
        return respond(
            ctx, records.delete_intervention(ctx, case_id, intervention_id, version.value), 200
        )

    @router.post(
        "/{case_id}/risk-assessments",
        status_code=201,
        response_model=read_model,
        responses=WRITE_RESPONSES,
        summary="Lägg till riskskattning",
    )
    def add_risk(case_id: uuid.UUID, body: RiskIn, idem: IdempotencyDep, ctx: Ctx) -> Any:
        if (again := replayed(ctx, idem)) is not None:
            return again
        case, item = records.add_risk(ctx, case_id, checked(risk_in, body))
        return respond(
            ctx, case, 201, idem, location=f"/api/v1/cases/{case.id}/risk-assessments/{item.id}"
        )

    @router.patch(
        "/{case_id}/risk-assessments/{assessment_id}",
        response_model=read_model,
        responses=WRITE_RESPONSES,
        summary="Ändra riskskattning",
    )
    def update_risk(
        case_id: uuid.UUID, assessment_id: uuid.UUID, body: RiskPatch, ctx: Ctx, version: Version
    ) -> Any:
        submitted = checked(risk_patch, body)
        case, _ = records.update_risk(
            ctx, case_id, assessment_id, seen(version, submitted), submitted
        )
        return respond(ctx, case, 200)

    @router.delete(
        "/{case_id}/risk-assessments/{assessment_id}",
        response_model=read_model,
        responses=WRITE_RESPONSES,
        summary="Ta bort riskskattning",
    )
    def delete_risk(
        case_id: uuid.UUID, assessment_id: uuid.UUID, ctx: Ctx, version: Version
    ) -> Any:
        return respond(ctx, records.delete_risk(ctx, case_id, assessment_id, version.value), 200)

    @router.put(
        "/{case_id}/survey",
        response_model=read_model,
        responses=WRITE_RESPONSES,
        summary="Registrera brukarenkät (client survey)",
    )
    def put_survey(case_id: uuid.UUID, body: SurveyIn, ctx: Ctx, version: Version) -> Any:
        """Bara för avslutade ärenden. Fråga 203 besvaras bara när 202 är en förbättring."""
        submitted = checked(survey_in, body)
        case = records.put_survey(ctx, case_id, seen(version, submitted), submitted)
        return respond(ctx, case, 200)

    return router
