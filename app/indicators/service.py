"""Key ratios and indicators for a municipality: read, compute, audit.

Reading is two bulk queries (the analysis inputs of ``app.stats.frame`` and the
cases' pseudonyms, for counting unique persons); the computation is pure
(``exporters.indicators``). A coordinator sees their own municipality's ratios
and indicators as computed; a regional user every municipality of the own
county, published as outside the municipality (T as Kolada publishes it, the
K/M split protected: ``exporters.published``) (DESIGN.md §1); the CLI runs as
the installation.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.audit.service import Actor, record
from app.auth.principal import Principal
from app.catalogue.loader import Catalogue
from app.errors import FieldError, Forbidden, NotFound, ValidationFailed
from app.indicators.population import population_table
from app.indicators.spec import IndicatorSpec
from app.models import Case
from app.reference import counties, county_of, districts, municipalities
from app.stats.frame import read_case_data as read_from_analysis
from exporters.disclosure import DEFAULT_THRESHOLD
from exporters.indicators import CaseData, IndicatorResult, compute, period_for
from exporters.kolada import KOLADA_KPIS, KoladaReport
from exporters.published import NATION_CODE, county_id, published_result, with_aggregates

EARLIEST = date(1900, 1, 1)
KOLADA_ACTION = "export.kolada"
INDICATOR_ACTION = "export.indicator"


def _invalid(pointer: str, code: str, sv: str, en: str) -> ValidationFailed:
    return ValidationFailed([FieldError(pointer, code, sv, en)])


def read_case_data(
    session: Session, catalogue: Catalogue, municipality_codes: Collection[str], until: date
) -> CaseData:
    """Every case of the municipalities opened on or before ``until`` (earlier
    years too: a case opened in 2024 may be closed, or get an intervention, in
    2025), with its client pseudonym; read columnar from the analysis table."""
    return read_from_analysis(session, municipality_codes, until, EARLIEST)


def districts_of(municipality_codes: Collection[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for code, district in sorted(districts().items()):
        if district.municipality_code in municipality_codes:
            out.setdefault(district.municipality_code, []).append(code)
    return out


def area_names(municipality_codes: Collection[str]) -> dict[str, str]:
    """Names of the areas (municipalities, their districts, and the counties
    and the nation by Kolada's ids)."""
    names = {c: m.name for c, m in municipalities().items() if c in municipality_codes}
    names.update({c: n for c, n in aggregate_names().items() if c in municipality_codes})
    for code, district in districts().items():
        if district.municipality_code in municipality_codes:
            names[code] = district.name
    return names


def split_choices(
    specs: Sequence[IndicatorSpec], given: Mapping[str, str], pointer: str = "/query/choice"
) -> dict[str, dict[str, str]]:
    """Per definition, the given choices it declares. A choice no definition
    declares, or a value none accepts, is a 422 naming it."""
    out: dict[str, dict[str, str]] = {spec.id: {} for spec in specs}
    for key, value in given.items():
        declared = [s for s in specs if any(c.key == key for c in s.choices)]
        if not declared:
            raise _invalid(pointer, "unknown_choice", "Okänt val.", "Unknown choice.")
        for spec in declared:
            choice = next(c for c in spec.choices if c.key == key)
            if value not in choice.values:
                raise _invalid(
                    pointer, "unknown_choice_value", "Okänt värde för valet.", "Unknown value."
                )
            out[spec.id][key] = value
    return out


def build_kolada(
    session: Session,
    catalogue: Catalogue,
    specs: Mapping[str, IndicatorSpec],
    municipality_codes: Sequence[str],
    year: int,
    choices: Mapping[str, str],
    *,
    today: date,
) -> KoladaReport:
    """The three Kolada key ratios for one calendar year."""
    if not 2000 <= year <= 2100:
        raise _invalid("/query/year", "year_range", "Orimligt år.", "Implausible year.")
    kpis = [specs[k] for k in KOLADA_KPIS]
    per_kpi = split_choices(kpis, choices)
    data = read_case_data(session, catalogue, municipality_codes, date(year, 12, 31))
    population = population_table(session)
    results = [
        compute(
            spec.definition(),
            data,
            period_for(spec.definition(), year=year, as_of=None),
            municipalities=municipality_codes,
            population=population,
            districts=districts_of(municipality_codes),
            choices=per_kpi[spec.id],
        )
        for spec in kpis
    ]
    years = sorted({int(y) for r in results for y in r.rows["population_year"].dropna().tolist()})
    return KoladaReport(
        results=results,
        area_names=area_names(municipality_codes),
        generated_on=today,
        population_sources={y: population.sources.get(y, "") for y in years},
        catalogue_version=catalogue.version,
    )


def _coordinator_scope(principal: Principal) -> str:
    if principal.role != "coordinator" or principal.municipality_code is None:
        raise Forbidden(
            "Bara kommunens samordnare tar fram nyckeltal och indikatorer.",
            "Only the municipality's coordinator produces key ratios and indicators.",
        )
    return principal.municipality_code


@dataclass(frozen=True)
class Scope:
    municipality_codes: list[str]
    """The municipalities shown."""
    code: str
    """The audited scope: a municipality code, or a county code."""
    published: bool
    """Outside the municipality: T as Kolada publishes it, K/M protected."""
    compare: bool = False
    """Also the county and the nation (computed from every municipality with cases)."""


def county_municipalities(county: str) -> list[str]:
    return sorted(code for code, m in municipalities().items() if m.county_code == county)


def scope_for(principal: Principal, county: str | None = None, compare: bool = False) -> Scope:
    """A coordinator: the own municipality. A regional user: every municipality
    of the own county, published, with ``compare`` also the county and the
    nation. Any other county, or role: 403."""
    if principal.role == "regional":
        own = principal.county_code
        if own is None or (county is not None and county != own):
            raise Forbidden(
                "Regional användare ser bara det egna länets kommuner.",
                "A regional user sees only the own county's municipalities.",
            )
        return Scope(county_municipalities(own), own, True, compare)
    own_municipality = _coordinator_scope(principal)
    if county is not None or compare:
        raise Forbidden(
            "Samordnaren ser bara den egna kommunen; jämförelsen med län och riket finns i "
            "sammanställningen (GET /stats/summary?compare=true).",
            "The coordinator sees only the own municipality; the comparison with county and "
            "nation is in the summary (GET /stats/summary?compare=true).",
        )
    return Scope([own_municipality], own_municipality, False)


def _computed_codes(session: Session, scope: Scope) -> list[str]:
    """The municipalities to compute: the scope's, and for a comparison every
    municipality with cases (the nation is made of them)."""
    if not scope.compare:
        return scope.municipality_codes
    with_cases = session.scalars(select(Case.municipality_code).distinct()).all()
    return sorted({*scope.municipality_codes, *with_cases})


def published_for(result: IndicatorResult, scope: Scope, threshold: int) -> IndicatorResult:
    """A result as the scope's audience sees it: unchanged for a coordinator;
    published for a regional user, with the county and the nation when
    comparing (an aggregate's K/M hidden whenever a part's is)."""
    if not scope.published:
        return result
    if not scope.compare:
        return published_result(result, threshold)
    counties_of = county_of()
    combined, ancestors = with_aggregates(result, counties_of, [scope.code])
    shown = published_result(combined, threshold, ancestors=ancestors)
    keep = {*scope.municipality_codes, county_id(scope.code), NATION_CODE}
    rows = shown.rows[shown.rows["area_code"].astype(str).isin(keep)].reset_index(drop=True)
    return replace(shown, rows=rows)


def published_report(
    report: KoladaReport, threshold: int, scope: Scope | None = None
) -> KoladaReport:
    """The report as published outside the municipality (``exporters.published``)."""
    chosen = scope or Scope([], "", True)
    results = [published_for(r, chosen, threshold) for r in report.results]
    kept = {c for r in results for c in r.rows["area_code"].astype(str)}
    names = {k: v for k, v in report.area_names.items() if k in kept}
    names.update({c: n for c, n in aggregate_names().items() if c in kept})
    return replace(report, results=results, area_names=names)


def aggregate_names() -> dict[str, str]:
    """Names of the aggregates (Kolada's ids): the counties and the nation."""
    names = {county_id(code): county.name for code, county in counties().items()}
    names[NATION_CODE] = "Riket"
    return names


def kolada_for(
    session: Session,
    catalogue: Catalogue,
    specs: Mapping[str, IndicatorSpec],
    principal: Principal,
    year: int,
    choices: Mapping[str, str],
    *,
    today: date,
    request_id: str | None = None,
    county: str | None = None,
    compare: bool = False,
    threshold: int = DEFAULT_THRESHOLD,
) -> KoladaReport:
    """The coordinator's own municipality (and its districts), or a regional
    user's county (published), audited."""
    scope = scope_for(principal, county, compare)
    codes = _computed_codes(session, scope)
    report = build_kolada(session, catalogue, specs, codes, year, choices, today=today)
    if scope.published:
        report = published_report(report, threshold, scope)
    audit_kolada(session, principal.actor, scope.code, choices, request_id=request_id)
    return report


def audit_kolada(
    session: Session,
    actor: Actor,
    scope: str,
    choices: Mapping[str, str],
    *,
    request_id: str | None = None,
) -> None:
    record(
        session,
        actor=actor,
        action=KOLADA_ACTION,
        object_type="kolada",
        object_id=scope,
        fields=[*KOLADA_KPIS, *(f"choice:{k}" for k in choices)],
        municipality_code=scope if len(scope) == 4 else None,
        request_id=request_id,
    )


@dataclass(frozen=True)
class IndicatorQuery:
    indicator_id: str
    year: int | None = None
    as_of: date | None = None
    choices: Mapping[str, str] | None = None


def build_indicator(
    session: Session,
    catalogue: Catalogue,
    specs: Mapping[str, IndicatorSpec],
    municipality_codes: Sequence[str],
    query: IndicatorQuery,
) -> IndicatorResult:
    spec = specs.get(query.indicator_id)
    if spec is None:
        raise NotFound()
    definition = spec.definition()
    try:
        period = period_for(definition, year=query.year, as_of=query.as_of)
    except ValueError:
        pointer = "/query/year" if definition.period == "calendar_year" else "/query/as_of"
        raise _invalid(
            pointer, "period_missing", "Ange perioden för indikatorn.", "Give the period."
        ) from None
    per_spec = split_choices([spec], query.choices or {})
    data = read_case_data(session, catalogue, municipality_codes, period.end)
    population = population_table(session) if definition.unit == "per_inhabitants" else None
    return compute(
        definition,
        data,
        period,
        municipalities=municipality_codes,
        population=population,
        districts=districts_of(municipality_codes),
        choices=per_spec[spec.id],
    )


def indicator_for(
    session: Session,
    catalogue: Catalogue,
    specs: Mapping[str, IndicatorSpec],
    principal: Principal,
    query: IndicatorQuery,
    *,
    request_id: str | None = None,
    county: str | None = None,
    compare: bool = False,
    threshold: int = DEFAULT_THRESHOLD,
) -> IndicatorResult:
    scope = scope_for(principal, county, compare)
    result = build_indicator(session, catalogue, specs, _computed_codes(session, scope), query)
    result = published_for(result, scope, threshold)
    record(
        session,
        actor=principal.actor,
        action=INDICATOR_ACTION,
        object_type="indicator",
        object_id=query.indicator_id,
        fields=[f"choice:{k}" for k in (query.choices or {})],
        municipality_code=scope.code if len(scope.code) == 4 else None,
        request_id=request_id,
    )
    return result
