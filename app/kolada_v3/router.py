"""Routes: a Kolada API v3-compatible read API under ``/kolada/v3`` (DESIGN.md
§6), so that a script that reads Kolada reads the register by changing only
the base URL. Thin: parse, call the service, page, return.

Public like Kolada's (no token): only protected aggregates of closed years
are reachable (see :mod:`app.kolada_v3.service` and docs/kolada.md). Each
request holds one of the bounded database slots (503 with Retry-After when
all are busy) and the values are computed once per state of the data.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, ConfigDict

from app.clock import today
from app.deps import CatalogueDep, SessionDep, SettingsDep
from app.indicators.router import IndicatorsDep
from app.kolada_v3 import service

router = APIRouter(prefix="/kolada/v3", tags=["kolada"])

PROBLEM: dict[str, Any] = {"content": {"application/problem+json": {}}}
RESPONSES: dict[int | str, dict[str, Any]] = {
    422: {"description": "Ogiltig parameter; `errors[].pointer` pekar ut den", **PROBLEM},
    503: {"description": "Upptaget, försök igen (Retry-After)", **PROBLEM},
}

KPI_LIST = r"^[A-Za-z0-9-]{1,20}(,[A-Za-z0-9-]{1,20})*$"
MUNICIPALITY_LIST = r"^\d{4}(,\d{4})*$"
YEAR_LIST = r"^\d{4}(,\d{4})*$"

KpiIds = Annotated[
    str | None,
    Query(pattern=KPI_LIST, max_length=400, description="Nyckeltal, kommaseparerade (U30750,…)"),
]
MunicipalityIds = Annotated[
    str | None,
    Query(pattern=MUNICIPALITY_LIST, max_length=1500, description="Kommunkoder, kommaseparerade"),
]
Years = Annotated[
    str | None, Query(pattern=YEAR_LIST, max_length=300, description="År, kommaseparerade")
]
Title = Annotated[
    str | None, Query(min_length=1, max_length=100, description="Del av namnet (title)")
]
PageNumber = Annotated[int, Query(ge=1, le=1_000_000, description="Sida, från 1")]
PerPage = Annotated[
    int, Query(ge=1, le=service.MAX_PER_PAGE, description="Poster per sida (högst 5000)")
]


class KoladaModel(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Kpi(KoladaModel):
    id: str
    title: str
    description: str
    is_divided_by_gender: bool
    municipality_type: str
    auspice: str | None
    operating_area: str
    perspective: str | None
    prel_publication_date: str | None
    publication_date: str | None
    publ_period: str | None
    has_ou_data: bool
    ours: bool
    """The register's own KPI (not published by Kolada)."""
    source: str


class Municipality(KoladaModel):
    id: str
    title: str
    type: str


class Value(KoladaModel):
    gender: str
    count: int
    status: str
    value: float | None


class DataEntry(KoladaModel):
    kpi: str
    municipality: str
    period: int
    values: list[Value]


class Paged(KoladaModel):
    count: int
    next_url: str | None
    previous_url: str | None


class KpiList(Paged):
    values: list[Kpi]


class MunicipalityList(Paged):
    values: list[Municipality]


class DataList(Paged):
    values: list[DataEntry]


def _split(text: str | None) -> tuple[str, ...] | None:
    return tuple(text.split(",")) if text else None


def _paged(request: Request, rows: list[dict[str, Any]], page: int, per_page: int) -> Any:
    found = service.paginate(rows, page, per_page)
    url = request.url.include_query_params(per_page=per_page)
    return {
        "count": found.count,
        "next_url": str(url.include_query_params(page=page + 1)) if found.has_next else None,
        "previous_url": str(url.include_query_params(page=page - 1))
        if found.has_previous
        else None,
        "values": found.values,
    }


@router.get(
    "/kpi",
    response_model=KpiList,
    responses=RESPONSES,
    summary="Nyckeltalens metadata i Koladas form (Kolada v3 kpi)",
)
def kpi(
    request: Request,
    specs: IndicatorsDep,
    id: Annotated[
        str | None, Query(pattern=KPI_LIST, max_length=400, description="Id, kommaseparerade")
    ] = None,
    title: Title = None,
    page: PageNumber = 1,
    per_page: PerPage = service.MAX_PER_PAGE,
) -> Any:
    """Koladas tre SU-Kvinnofrid-nyckeltal (som Kolada beskriver dem) och
    registrets egna K/M-uppdelade (`ours: true`, id `ISU-…`). Öppet, ingen token."""
    rows = service.filter_metadata(service.kpi_metadata(specs), _split(id), title)
    return _paged(request, rows, page, per_page)


@router.get(
    "/municipality",
    response_model=MunicipalityList,
    responses=RESPONSES,
    summary="Kommuner och regioner i Koladas form (Kolada v3 municipality)",
)
def municipality(
    request: Request,
    id: Annotated[
        str | None,
        Query(pattern=MUNICIPALITY_LIST, max_length=1500, description="Id, kommaseparerade"),
    ] = None,
    title: Title = None,
    page: PageNumber = 1,
    per_page: PerPage = service.MAX_PER_PAGE,
) -> Any:
    """Kommuner (`type` K), län/regioner (L, `00` + länskod) och riket (`0000`).
    Öppet, ingen token."""
    rows = service.filter_metadata(service.municipality_metadata(), _split(id), title)
    return _paged(request, rows, page, per_page)


@dataclass(frozen=True)
class Published:
    """What a data route needs besides its filters (one dependency)."""

    request: Request
    session: SessionDep
    catalogue: CatalogueDep
    specs: IndicatorsDep
    settings: SettingsDep

    def page(
        self,
        kpis: str | None,
        municipalities: str | None,
        years: str | None,
        page: int,
        per_page: int,
    ) -> Any:
        query = service.DataQuery(
            _split(kpis),
            _split(municipalities),
            tuple(int(y) for y in years.split(",")) if years else None,
        )
        rows = service.published_data(
            self.session,
            self.catalogue,
            self.specs,
            query,
            threshold=self.settings.suppression_threshold,
            today=today(),
        )
        return _paged(self.request, rows, page, per_page)


PublishedDep = Annotated[Published, Depends()]


DATA_DOC = """Publicerade värden i Koladas form: avslutade kalenderår,
röjandeskyddade (T som Kolada publicerar det; K/M dolt när en del är liten,
`status: "suppressed"`). Ett år som inte är slut ger inga värden. Öppet, ingen token."""


@router.get(
    "/data",
    response_model=DataList,
    responses=RESPONSES,
    summary="Publicerade värden (Kolada v3 data)",
    description=DATA_DOC,
)
def data(
    published: PublishedDep,
    kpi_id: KpiIds = None,
    municipality_id: MunicipalityIds = None,
    year: Years = None,
    page: PageNumber = 1,
    per_page: PerPage = service.MAX_PER_PAGE,
) -> Any:
    return published.page(kpi_id, municipality_id, year, page, per_page)


KpiPath = Annotated[str, Path(pattern=KPI_LIST, max_length=400, description="Nyckeltal")]
MunicipalityPath = Annotated[
    str, Path(pattern=MUNICIPALITY_LIST, max_length=1500, description="Kommunkoder")
]
YearPath = Annotated[str, Path(pattern=YEAR_LIST, max_length=300, description="År")]


@router.get(
    "/data/kpi/{kpi_id}/municipality/{municipality_id}/year/{year}",
    response_model=DataList,
    responses=RESPONSES,
    summary="Publicerade värden per nyckeltal, kommun och år (Kolada v3 data)",
    description=DATA_DOC,
)
def data_kpi_municipality_year(
    published: PublishedDep,
    kpi_id: KpiPath,
    municipality_id: MunicipalityPath,
    year: YearPath,
    page: PageNumber = 1,
    per_page: PerPage = service.MAX_PER_PAGE,
) -> Any:
    return published.page(kpi_id, municipality_id, year, page, per_page)


@router.get(
    "/data/kpi/{kpi_id}/year/{year}",
    response_model=DataList,
    responses=RESPONSES,
    summary="Publicerade värden per nyckeltal och år (Kolada v3 data)",
    description=DATA_DOC,
)
def data_kpi_year(
    published: PublishedDep,
    kpi_id: KpiPath,
    year: YearPath,
    page: PageNumber = 1,
    per_page: PerPage = service.MAX_PER_PAGE,
) -> Any:
    return published.page(kpi_id, None, year, page, per_page)


@router.get(
    "/data/kpi/{kpi_id}/municipality/{municipality_id}",
    response_model=DataList,
    responses=RESPONSES,
    summary="Publicerade värden per nyckeltal och kommun (Kolada v3 data)",
    description=DATA_DOC,
)
def data_kpi_municipality(
    published: PublishedDep,
    kpi_id: KpiPath,
    municipality_id: MunicipalityPath,
    page: PageNumber = 1,
    per_page: PerPage = service.MAX_PER_PAGE,
) -> Any:
    return published.page(kpi_id, municipality_id, None, page, per_page)


@router.get(
    "/data/municipality/{municipality_id}/kpi/{kpi_id}",
    response_model=DataList,
    responses=RESPONSES,
    summary="Publicerade värden per kommun och nyckeltal (Kolada v3 data)",
    description=DATA_DOC,
)
def data_municipality_kpi(
    published: PublishedDep,
    municipality_id: MunicipalityPath,
    kpi_id: KpiPath,
    page: PageNumber = 1,
    per_page: PerPage = service.MAX_PER_PAGE,
) -> Any:
    return published.page(kpi_id, municipality_id, None, page, per_page)


@router.get(
    "/data/municipality/{municipality_id}/year/{year}",
    response_model=DataList,
    responses=RESPONSES,
    summary="Publicerade värden per kommun och år (Kolada v3 data)",
    description=DATA_DOC,
)
def data_municipality_year(
    published: PublishedDep,
    municipality_id: MunicipalityPath,
    year: YearPath,
    page: PageNumber = 1,
    per_page: PerPage = service.MAX_PER_PAGE,
) -> Any:
    return published.page(None, municipality_id, year, page, per_page)
