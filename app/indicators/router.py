"""Routes: Kolada key ratios and indicators (``/stats/kolada``,
``/stats/indicators``). Thin: parse, call the service, render."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response

from app.clock import today
from app.deps import CatalogueDep, CurrentUser, SessionDep, SettingsDep, request_id
from app.errors import FieldError, ValidationFailed
from app.indicators import service
from app.indicators.loader import indicators_dir, load_indicators
from app.indicators.spec import IndicatorSpec
from exporters.indicators import indicator_document
from exporters.kolada import kolada_csv, kolada_document, kolada_xlsx

router = APIRouter(prefix="/stats", tags=["stats"])

PROBLEM: dict[str, Any] = {"content": {"application/problem+json": {}}}
RESPONSES: dict[int | str, dict[str, Any]] = {
    403: {"description": "Samordnaren: egen kommun; regional: eget län", **PROBLEM},
    404: {"description": "Indikatorn finns inte", **PROBLEM},
    422: {"description": "Ogiltig parameter; `errors[].pointer` pekar ut den", **PROBLEM},
}
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def get_indicators(request: Request) -> dict[str, IndicatorSpec]:
    """The definitions, loaded once per app (``variables/indicators``)."""
    specs: dict[str, IndicatorSpec] | None = getattr(request.app.state, "indicators", None)
    if specs is None:
        settings = request.app.state.settings
        specs = load_indicators(indicators_dir(settings.catalogue_dir), request.app.state.catalogue)
        request.app.state.indicators = specs
    return specs


IndicatorsDep = Annotated[dict[str, IndicatorSpec], Depends(get_indicators)]
Compare = Annotated[
    bool,
    Query(description="Regional: också länet och riket (röjandeskyddat), som jämförelse"),
]
County = Annotated[
    str | None,
    Query(pattern=r"^\d{2}$", description="Länskod (regional: det egna länet, standard)"),
]
Choices = Annotated[
    list[str] | None,
    Query(
        description="Dokumenterade val, `nyckel=värde` (t.ex. `counting=cases`, "
        "`goal_rule=goal_and_reason`, `population_year=latest`); se GET /stats/indicators",
        max_length=10,
    ),
]


def parse_choices(raw: list[str] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in raw or []:
        key, sep, value = item.partition("=")
        if not sep or not key or not value or len(item) > 80:
            raise ValidationFailed(
                [
                    FieldError(
                        "/query/choice",
                        "choice_format",
                        "Ange valet som nyckel=värde.",
                        "Give the choice as key=value.",
                    )
                ]
            )
        out[key] = value
    return out


@router.get(
    "/kolada",
    responses={**RESPONSES, 200: {"content": {"text/csv": {}, XLSX: {}}}},
    summary="Kolada-nyckeltalen U30750–U30752 för ett år (key ratios)",
)
def kolada(
    request: Request,
    session: SessionDep,
    principal: CurrentUser,
    catalogue: CatalogueDep,
    specs: IndicatorsDep,
    settings: SettingsDep,
    year: Annotated[int, Query(ge=2000, le=2100, description="Kalenderår")],
    choice: Choices = None,
    county: County = None,
    compare: Compare = False,
    format: Annotated[Literal["json", "csv", "xlsx"], Query()] = "json",
) -> Any:
    """Kommunens tre nyckeltal per 10 000 vuxna invånare i Koladas form (samordnare,
    egen kommun och dess stadsdelar; regional: varje kommun i det egna länet, T som
    Kolada publicerar det och K/M röjandeskyddat, med `compare` också länet (`00` +
    länskod) och riket (`0000`)). Ett värde som inte kan redovisas
    är `null` med en orsak, aldrig 0. K/M är registrets egen uppdelning. Loggas."""
    report = service.kolada_for(
        session,
        catalogue,
        specs,
        principal,
        year,
        parse_choices(choice),
        today=today(),
        request_id=request_id(request),
        county=county,
        compare=compare,
        threshold=settings.suppression_threshold,
    )
    if format == "json":
        return kolada_document(report)
    name = f"kolada-{report.year}"
    if format == "csv":
        return Response(
            kolada_csv(report),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
        )
    return Response(
        kolada_xlsx(report),
        media_type=XLSX,
        headers={"Content-Disposition": f'attachment; filename="{name}.xlsx"'},
    )


@router.get("/indicators", summary="Indikator- och nyckeltalsdefinitioner (definitions)")
def list_indicators(principal: CurrentUser, specs: IndicatorsDep) -> list[dict[str, Any]]:
    """Alla definitioner som data (täljare, nämnare, enhet, riktning, val)."""
    return [spec.model_dump(mode="json", exclude_none=True) for spec in specs.values()]


@router.get(
    "/indicators/{indicator_id}",
    responses=RESPONSES,
    summary="En indikator för den egna kommunen (one indicator)",
)
def indicator(
    request: Request,
    indicator_id: str,
    session: SessionDep,
    principal: CurrentUser,
    catalogue: CatalogueDep,
    specs: IndicatorsDep,
    settings: SettingsDep,
    year: Annotated[int | None, Query(ge=2000, le=2100, description="Kalenderår")] = None,
    as_of: Annotated[
        date | None, Query(description="Sista dagen i 12-månadersperioden (ÅÅÅÅ-MM-DD)")
    ] = None,
    choice: Choices = None,
    county: County = None,
    compare: Compare = False,
) -> dict[str, Any]:
    """T, K och M för kommunen (samordnare) eller för varje kommun i det egna länet
    (regional: K/M röjandeskyddat; med `compare` också länet och riket). Indikator A
    räknar unika personer
    (pseudonymer), inte ärenden. Loggas."""
    result = service.indicator_for(
        session,
        catalogue,
        specs,
        principal,
        service.IndicatorQuery(indicator_id, year, as_of, parse_choices(choice)),
        request_id=request_id(request),
        county=county,
        compare=compare,
        threshold=settings.suppression_threshold,
    )
    names = service.area_names(set(result.rows["municipality_code"].astype(str)))
    return indicator_document(result, names)
