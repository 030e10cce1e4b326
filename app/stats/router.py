"""Routes: Statistik (the national compilation). Thin: parse, call the service,
render. Scope by role is decided in :mod:`app.stats.service`; every call is
audited (``export.summary``)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from app.clock import today
from app.deps import CatalogueDep, CurrentUser, SessionDep, SettingsDep, request_id
from app.errors import NotFound
from app.stats import service
from app.stats.tables import table_catalogue
from exporters.writers.csv_writer import table_csv, write_csv_zip
from exporters.writers.html import write_html
from exporters.writers.json_writer import summary_json, table_json
from exporters.writers.xlsx_writer import write_xlsx

router = APIRouter(prefix="/stats", tags=["stats"])

PROBLEM: dict[str, Any] = {"content": {"application/problem+json": {}}}
RESPONSES: dict[int | str, dict[str, Any]] = {
    403: {"description": "Rollen får inte se statistik för urvalet", **PROBLEM},
    404: {"description": "Tabellen finns inte", **PROBLEM},
    422: {"description": "Ogiltig parameter; `errors[].pointer` pekar ut den", **PROBLEM},
}


class TableOut(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str
    title: dict[str, str]
    diagram: str | None
    denominator: dict[str, str]
    kind: str
    rows: list[dict[str, Any]]


class SummaryOut(BaseModel):
    format: str
    format_version: int
    meta: dict[str, Any]
    tables: list[TableOut]


From = Annotated[date, Query(alias="from", description="Aktualiserade från och med (ÅÅÅÅ-MM-DD)")]
To = Annotated[date, Query(alias="to", description="Aktualiserade till och med (ÅÅÅÅ-MM-DD)")]
Municipality = Annotated[
    str | None, Query(pattern=r"^\d{4}$", description="Kommunkod (fyra siffror)")
]
County = Annotated[str | None, Query(pattern=r"^\d{2}$", description="Länskod (två siffror)")]
UnitKind = Annotated[
    int | None, Query(ge=1, le=4, description="Verksamhetstyp (SUV 1), bara inom kommunen")
]
Compare = Annotated[bool, Query(description="Jämför med län och riket")]
PerMunicipality = Annotated[
    bool, Query(description="Länet och vart och ett av dess kommuner (regional, nationell)")
]
ByYear = Annotated[bool, Query(description="Per år")]
Format = Literal["json", "csv", "xlsx", "html"]
MEDIA = {
    "csv": ("application/zip", "zip"),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx"),
    "html": ("text/html; charset=utf-8", "html"),
}


def _query(
    period_from: date,
    period_to: date,
    municipality: str | None,
    county: str | None,
    unit_kind: int | None,
    compare: bool,
    per_municipality: bool,
    by_year: bool,
    tables: tuple[str, ...] | None = None,
) -> service.SummaryQuery:
    return service.SummaryQuery(
        period_from,
        period_to,
        municipality,
        county,
        unit_kind,
        compare,
        per_municipality,
        by_year,
        tables,
    )


@router.get(
    "/summary",
    response_model=SummaryOut,
    responses={**RESPONSES, 200: {"content": {m: {} for m, _ in MEDIA.values()}}},
    summary="Nationell sammanställning: alla tabeller i Kapitel 2 (national summary)",
)
def summary(
    request: Request,
    session: SessionDep,
    principal: CurrentUser,
    catalogue: CatalogueDep,
    settings: SettingsDep,
    period_from: From,
    period_to: To,
    municipality: Municipality = None,
    county: County = None,
    unit_kind: UnitKind = None,
    compare: Compare = False,
    municipalities: PerMunicipality = False,
    by_year: ByYear = False,
    format: Annotated[Format, Query(description="json, csv (zip), xlsx eller html")] = "json",
) -> Any:
    """Alla tabeller för rollens område: handläggare den egna verksamheten,
    samordnare den egna kommunen (med `compare` också län och riket,
    röjandeskyddat), regional det egna länet och dess kommuner (med `compare`
    också riket som jämförelse) och nationell alla, röjandeskyddat (`..` = dolt
    värde). Varje anrop loggas."""
    query = _query(
        period_from, period_to, municipality, county, unit_kind, compare, municipalities, by_year
    )
    result = service.summary_for(
        session,
        catalogue,
        principal,
        query,
        threshold=settings.suppression_threshold,
        today=today(),
        request_id=request_id(request),
    )
    if format == "json":
        return summary_json(result)
    media, suffix = MEDIA[format]
    body = {"csv": write_csv_zip, "xlsx": write_xlsx, "html": write_html}[format](result)
    name = f"isu-sammanstallning-{result.period_from.isoformat()}-{result.period_to.isoformat()}"
    return Response(
        body,
        media_type=media,
        headers={"Content-Disposition": f'attachment; filename="{name}.{suffix}"'},
    )


class TableDocument(BaseModel):
    format: str = Field(default="isu-summary-table")
    format_version: int
    meta: dict[str, Any]
    table: TableOut


@router.get(
    "/tables/{table_id}",
    response_model=TableDocument,
    responses={**RESPONSES, 200: {"content": {"text/csv": {}}}},
    summary="En tabell ur sammanställningen (one table of the summary)",
)
def table(
    request: Request,
    table_id: str,
    session: SessionDep,
    principal: CurrentUser,
    catalogue: CatalogueDep,
    settings: SettingsDep,
    period_from: From,
    period_to: To,
    municipality: Municipality = None,
    county: County = None,
    unit_kind: UnitKind = None,
    compare: Compare = False,
    municipalities: PerMunicipality = False,
    by_year: ByYear = False,
    format: Annotated[Literal["json", "csv"], Query(description="json eller csv")] = "json",
) -> Any:
    """En tabell (se `GET /stats/summary` för urval och röjandeskydd)."""
    if table_id not in table_catalogue():
        raise NotFound()
    query = _query(
        period_from,
        period_to,
        municipality,
        county,
        unit_kind,
        compare,
        municipalities,
        by_year,
        (table_id,),
    )
    result = service.summary_for(
        session,
        catalogue,
        principal,
        query,
        threshold=settings.suppression_threshold,
        today=today(),
        request_id=request_id(request),
    )
    if format == "csv":
        return Response(table_csv(result, table_id), media_type="text/csv; charset=utf-8")
    document = summary_json(result)
    return {
        "format": "isu-summary-table",
        "format_version": document["format_version"],
        "meta": document["meta"],
        "table": table_json(result, result.table(table_id)),
    }
