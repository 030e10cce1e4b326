"""Routes: bulk import (asynchronous, with a status resource).

``POST /imports`` takes a JSON Lines body (the format of ``isu import``,
``docs/data.md``). A file of at most ``SYNC_MAX_LINES`` lines is imported
within the request (201); a larger one by a background worker (202), whose
progress ``GET /imports/{id}`` shows. The caller imports into their own
municipality (a caseworker into their own unit) through the same services as
``POST /cases``; a file with an invalid line is imported not at all unless
``skip_invalid=true``; a line whose ``source_ref`` is already imported is
skipped as unchanged.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from app.audit.service import record
from app.auth.principal import Principal
from app.cases.schemas import build_case_schemas
from app.db import transaction
from app.deps import CatalogueDep, KeyringDep, SettingsDep, request_id, require_role
from app.errors import FieldError, ValidationFailed
from app.importer.format import build_line_model
from app.importer.jobs import SYNC_MAX_LINES, ImportRunner, JobWork, create_job, get_job, job_dict

router = APIRouter(prefix="/imports", tags=["import"])

PROBLEM: dict[str, Any] = {"content": {"application/problem+json": {}}}


class LineErrorRead(BaseModel):
    line: int
    pointer: str
    code: str
    detail: str
    detail_en: str


class ImportJobRead(BaseModel):
    id: uuid.UUID
    state: str
    municipality_code: str
    skip_invalid: bool
    lines: int
    invalid: int
    created: int
    unchanged: int
    errors: list[LineErrorRead]
    created_at: datetime
    finished_at: datetime | None


def _runner(request: Request) -> ImportRunner:
    runner: ImportRunner | None = getattr(request.app.state, "import_runner", None)
    if runner is None:
        runner = request.app.state.import_runner = ImportRunner()
    return runner


ImportUser = Annotated[
    Principal, Depends(require_role("caseworker", "coordinator", standalone=True))
]
"""Imports run their own transactions (in batches), so the caller is checked
in a transaction of its own, not the request's."""


def _line_model(request: Request, catalogue: Any) -> Any:
    model = getattr(request.app.state, "import_line_model", None)
    if model is None:
        model = request.app.state.import_line_model = build_line_model(
            build_case_schemas(catalogue)
        )
    return model


def _lines(body: bytes) -> list[str]:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise ValidationFailed(
            [
                FieldError(
                    "",
                    "string_unicode",
                    "Filen är inte giltig UTF-8.",
                    "The file is not valid UTF-8.",
                )
            ]
        ) from None
    lines = text.splitlines()
    if not any(line.strip() for line in lines):
        raise ValidationFailed(
            [FieldError("", "empty", "Filen har inga rader.", "The file has no lines.")]
        )
    return lines


@router.post(
    "",
    status_code=201,
    response_model=ImportJobRead,
    responses={
        202: {
            "description": "Importen körs i bakgrunden (running in the background)",
            "model": ImportJobRead,
        },
        413: {"description": "Filen är för stor; dela upp den", **PROBLEM},
        422: {"description": "Tom fil eller ogiltig UTF-8", **PROBLEM},
    },
    summary="Importera ärenden (bulk import, JSON Lines)",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/x-ndjson": {"schema": {"type": "string"}}},
        }
    },
)
async def create_import(
    request: Request,
    principal: ImportUser,
    catalogue: CatalogueDep,
    keyring: KeyringDep,
    settings: SettingsDep,
    skip_invalid: Annotated[
        bool, Query(description="Importera giltiga rader trots fel (import the valid lines).")
    ] = False,
) -> Any:
    """En rad per ärende; varje rad kontrolleras med samma regler som `POST /cases`."""
    lines = _lines(await request.body())
    count = sum(1 for line in lines if line.strip())
    factory = request.app.state.session_factory
    in_request = count <= getattr(request.app.state, "import_sync_max_lines", SYNC_MAX_LINES)

    def submit() -> tuple[int, dict[str, Any]]:
        with transaction(factory) as session:
            job = create_job(session, principal, lines=count, skip_invalid=skip_invalid)
            record(
                session,
                actor=principal.actor,
                action="import.create",
                object_type="import_job",
                object_id=job.id,
                municipality_code=job.municipality_code,
                request_id=request_id(request),
            )
            job_id = job.id
        work = JobWork(
            job_id=job_id,
            lines=lines,
            principal=principal,
            factory=factory,
            read_factory=request.app.state.read_session_factory,
            catalogue=catalogue,
            keyring=keyring,
            settings=settings,
            line_model=_line_model(request, catalogue),
            skip_invalid=skip_invalid,
            atomic=in_request,
        )
        if in_request:
            work()
            status = 201
        else:
            _runner(request).submit(job_id, work)
            status = 202
        with factory() as session:
            body = ImportJobRead.model_validate(job_dict(get_job(session, principal, job_id)))
        return status, body.model_dump(mode="json")

    status, body = await run_in_threadpool(submit)
    return JSONResponse(
        body, status_code=status, headers={"Location": f"/api/v1/imports/{body['id']}"}
    )


@router.get(
    "/{job_id}",
    response_model=ImportJobRead,
    responses={404: {"description": "Importen finns inte", **PROBLEM}},
    summary="Status för en import (import status)",
)
def read_import(job_id: uuid.UUID, request: Request, principal: ImportUser) -> Any:
    with request.app.state.session_factory() as session:
        return ImportJobRead.model_validate(job_dict(get_job(session, principal, job_id)))
