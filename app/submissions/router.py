"""Routes: the SKR package (``POST /exports/skr``) and the national hub
(``POST /submissions``, ``GET /submissions``, ``GET /submissions/compilation``).
Thin: parse, call the service, render."""

from __future__ import annotations

import uuid
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from fastapi import APIRouter, Body, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from app.clock import today, utcnow
from app.deps import (
    CatalogueDep,
    CoordinatorUser,
    CurrentUser,
    KeyringDep,
    SessionDep,
    SettingsDep,
    request_id,
)
from app.submissions import hub
from app.submissions.package import export_package
from app.submissions.sealing import load_private
from exporters.writers.csv_writer import write_csv_zip
from exporters.writers.html import write_html
from exporters.writers.json_writer import summary_json
from exporters.writers.xlsx_writer import write_xlsx

router = APIRouter(tags=["submissions"])

PROBLEM: dict[str, Any] = {"content": {"application/problem+json": {}}}
ZIP = "application/zip"
SEALED = "application/vnd.isu.sealed-package"


class SkrExportRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    period: str = Field(max_length=9, description="ÅÅÅÅ eller ÅÅÅÅ-ÅÅÅÅ, t.ex. 2025")
    recipient: str = Field(default="skr", max_length=40, description="Mottagarens namn")
    recipient_public_key: str | None = Field(
        default=None,
        max_length=1000,
        description="Mottagarens publika X25519-nyckel (PEM): paketet krypteras till den",
    )


class SubmissionRead(BaseModel):
    id: uuid.UUID
    package_id: uuid.UUID
    municipality_code: str
    period: str
    version: int
    status: str
    catalogue_version: str
    received_at: datetime
    counts: dict[str, int]
    key_version: int | None
    recipient: str | None
    resend: bool | None = None


@router.post(
    "/exports/skr",
    responses={
        200: {"content": {ZIP: {}, SEALED: {}}, "description": "Paketet (zip eller krypterat)"},
        403: {"description": "Bara kommunens samordnare", **PROBLEM},
        422: {"description": "Ogiltig period, mottagare eller nyckel", **PROBLEM},
    },
    response_class=Response,
    summary="SKR-paketet för kommunen (the municipality's SKR submission package)",
)
def export_skr(
    request: Request,
    body: SkrExportRequest,
    session: SessionDep,
    principal: CoordinatorUser,
    catalogue: CatalogueDep,
    keyring: KeyringDep,
) -> Response:
    """Pseudonymiserat mikrodatapaket (ärenden som aktualiserats under perioden) med
    manifest och kontrollsummor, nycklat för mottagaren; inga fritexter. Loggas."""
    content, package = export_package(
        session,
        catalogue,
        keyring,
        principal,
        period=body.period,
        recipient=body.recipient,
        recipient_public_key=body.recipient_public_key,
        generated_at=utcnow(),
        request_id=request_id(request),
    )
    sealed = body.recipient_public_key is not None
    name = f"skr-{package.manifest['municipality_code']}-{body.period}-{package.package_id[:8]}"
    return Response(
        content,
        media_type=SEALED if sealed else ZIP,
        headers={
            "Content-Disposition": f'attachment; filename="{name}.{"isupkg" if sealed else "zip"}"',
            "X-ISU-Package-Id": package.package_id,
        },
    )


def hub_private_key(request: Request) -> X25519PrivateKey | None:
    """The hub's private key for sealed packages: ``app.state.hub_private_key``,
    else the file named by the setting ``hub_private_key_file`` (if any)."""
    state = request.app.state
    key: X25519PrivateKey | None = getattr(state, "hub_private_key", None)
    if key is None:
        path = getattr(state.settings, "hub_private_key_file", None)
        if path is not None:
            key = load_private(Path(path).read_bytes())
            state.hub_private_key = key
    return key


@router.post(
    "/submissions",
    response_model=SubmissionRead,
    status_code=201,
    responses={
        200: {"description": "Samma paket redan mottaget: ingen ändring", "model": SubmissionRead},
        403: {"description": "Fel roll eller annan kommun än behörigheten", **PROBLEM},
        409: {"description": "Paket-id återanvänt med annat innehåll", **PROBLEM},
        422: {"description": "Felaktigt paket; `errors[].pointer` pekar ut felet", **PROBLEM},
    },
    summary="Ta emot ett SKR-paket (national hub: receive a package)",
)
def submit(
    request: Request,
    response: Response,
    package: Annotated[
        bytes,
        Body(media_type="application/octet-stream", description="Paketfilen (zip eller krypterad)"),
    ],
    session: SessionDep,
    principal: CoordinatorUser,
    catalogue: CatalogueDep,
) -> dict[str, Any]:
    """Kontrollerar manifest, kontrollsummor, katalogversion och behörighet och sparar
    allt eller inget. Samma paket igen ändrar inget (200); ett nytt paket för samma
    kommun och period blir en ny version (201). Avvisade paket loggas."""
    received = hub.submit(
        session,
        request.app.state.session_factory,
        catalogue,
        principal,
        package,
        private_key=hub_private_key(request),
        request_id=request_id(request),
    )
    if not received.created:
        response.status_code = 200
    return hub.submission_dict(received.submission, created=received.created)


@router.get(
    "/submissions",
    response_model=list[SubmissionRead],
    responses={403: {"description": "Fel roll", **PROBLEM}},
    summary="Mottagna paket (received packages, with history)",
)
def list_submissions(
    session: SessionDep,
    principal: CurrentUser,
    period: Annotated[str | None, Query(pattern=r"^\d{4}(-\d{4})?$")] = None,
    municipality: Annotated[str | None, Query(pattern=r"^\d{4}$")] = None,
) -> list[dict[str, Any]]:
    """Nationell roll: alla; en kommuns konto: kommunens egna versioner."""
    rows = hub.list_submissions(session, principal, period=period, municipality=municipality)
    return [hub.submission_dict(r) for r in rows]


MEDIA = {
    "csv": ("application/zip", "zip"),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx"),
    "html": ("text/html; charset=utf-8", "html"),
}


@router.get(
    "/submissions/compilation",
    responses={
        200: {"content": {m: {} for m, _ in MEDIA.values()}},
        403: {"description": "Fel roll eller urval", **PROBLEM},
        422: {"description": "Ogiltig parameter", **PROBLEM},
    },
    summary="Nationell sammanställning ur de senaste paketen (national compilation)",
)
def compilation(
    request: Request,
    session: SessionDep,
    principal: CurrentUser,
    catalogue: CatalogueDep,
    settings: SettingsDep,
    period: Annotated[str, Query(pattern=r"^\d{4}(-\d{4})?$", description="ÅÅÅÅ eller ÅÅÅÅ-ÅÅÅÅ")],
    municipality: Annotated[str | None, Query(pattern=r"^\d{4}$")] = None,
    county: Annotated[str | None, Query(pattern=r"^\d{2}$")] = None,
    format: Annotated[Literal["json", "csv", "xlsx", "html"], Query()] = "json",
) -> Any:
    """Nationell roll: riket och länen (eller ett län med dess kommuner, eller en
    kommun), röjandeskyddat. En kommuns konto: kommunens egna tabeller bredvid
    länet och riket (röjandeskyddade) — återkopplingen till kommunen. Loggas."""
    summary = hub.compile_period(
        session,
        catalogue,
        principal,
        hub.CompilationQuery(period, municipality, county),
        threshold=settings.suppression_threshold,
        today=today(),
        request_id=request_id(request),
    )
    if format == "json":
        return summary_json(summary)
    media, suffix = MEDIA[format]
    writer = {"csv": write_csv_zip, "xlsx": write_xlsx, "html": write_html}[format]
    return Response(
        writer(summary),
        media_type=media,
        headers={"Content-Disposition": f'attachment; filename="isu-nationell-{period}.{suffix}"'},
    )
