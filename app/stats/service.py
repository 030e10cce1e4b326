"""The national compilation as a service: who may see which cases' tables,
read once, tabulate, protect, audit.

Scope by role (DESIGN.md §1):

* ``caseworker``: own unit, unprotected (the municipality's own staff);
* ``coordinator``: own municipality, unprotected; with ``compare`` also its
  county and the nation, which are protected (the own municipality's cells
  count as known to the coordinator, so they are never used to hide others);
* ``regional``: the own county's municipalities and the county total, protected;
  with ``compare`` also the nation as the comparison (a municipality of the
  county with ``compare``: it, its county and the nation), protected;
* ``national``: every area, protected;
* ``admin``: nothing (no case content, not even aggregates).

Protected summaries are built from the whole country's cases for whole
calendar years, so that every audience outside a municipality sees one
consistently protected release (ACCEPTANCE D1–D3): periods must then be whole
years, and the unit-kind filter is for unprotected summaries only.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from app.analysis.read import fingerprint
from app.audit.service import Actor, record
from app.auth.principal import Principal
from app.catalogue.loader import Catalogue
from app.errors import FieldError, Forbidden, ValidationFailed
from app.models import UNIT_KINDS, Unit
from app.reference import counties, county_of, municipalities
from app.stats.codebook import codebook_from_catalogue
from app.stats.frame import CaseFilter, load_frame
from app.stats.tables import table_catalogue
from exporters.codebook import Label
from exporters.compare import (
    NATION,
    area_labels,
    area_positions,
    comparison_areas,
    county_areas,
    select_areas,
)
from exporters.disclosure import Area
from exporters.spec import Table
from exporters.summary import (
    Mode,
    ProtectedRelease,
    Summary,
    compile_tables,
    hide_small,
    protected_release,
)

EXPORT_ACTION = "export.summary"
ROLES = ("caseworker", "coordinator", "regional", "national")


@dataclass(frozen=True)
class SummaryQuery:
    period_from: date
    period_to: date
    municipality: str | None = None
    county: str | None = None
    unit_kind: int | None = None
    compare: bool = False
    municipalities: bool = False
    """Regional and national: a county's total followed by each of its municipalities."""
    by_year: bool = False
    tables: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Plan:
    where: CaseFilter
    mode: Mode
    areas: list[Area] | None
    known_municipality: str | None
    scope: Label
    scope_code: str
    excluded_in: tuple[str | None, str | None]


def _invalid(pointer: str, code: str, sv: str, en: str) -> ValidationFailed:
    return ValidationFailed([FieldError(pointer, code, sv, en)])


def _forbidden() -> Forbidden:
    return Forbidden(
        "Din roll får inte se statistik för det urvalet.",
        "Your role may not see statistics for that selection.",
    )


def _check(query: SummaryQuery) -> None:
    if query.period_from > query.period_to:
        raise _invalid(
            "/query/from",
            "period_order",
            "Perioden börjar efter att den slutar.",
            "The period starts after it ends.",
        )
    if query.municipality is not None and query.municipality not in municipalities():
        raise _invalid(
            "/query/municipality",
            "unknown_municipality",
            "Okänd kommunkod.",
            "Unknown municipality code.",
        )
    if query.county is not None and query.county not in counties():
        raise _invalid("/query/county", "unknown_county", "Okänd länskod.", "Unknown county code.")
    if (
        query.municipality is not None
        and query.county is not None
        and municipalities()[query.municipality].county_code != query.county
    ):
        raise _invalid(
            "/query/municipality",
            "municipality_not_in_county",
            "Kommunen ligger inte i länet.",
            "The municipality is not in the county.",
        )
    if query.unit_kind is not None and not 1 <= query.unit_kind <= len(UNIT_KINDS):
        raise _invalid(
            "/query/unit_kind", "unknown_unit_kind", "Okänd verksamhetstyp.", "Unknown unit kind."
        )
    for table_id in query.tables or ():
        if table_id not in table_catalogue():
            raise _invalid("/query/tables", "unknown_table", "Okänd tabell.", "Unknown table.")


def _whole_years(query: SummaryQuery) -> None:
    if (query.period_from.month, query.period_from.day) != (1, 1):
        raise _invalid(
            "/query/from",
            "whole_years_only",
            "Röjandeskyddad statistik ges för hela kalenderår: börja den 1 januari.",
            "Protected statistics are given for whole calendar years: start on 1 January.",
        )
    if (query.period_to.month, query.period_to.day) != (12, 31):
        raise _invalid(
            "/query/to",
            "whole_years_only",
            "Röjandeskyddad statistik ges för hela kalenderår: sluta den 31 december.",
            "Protected statistics are given for whole calendar years: end on 31 December.",
        )
    if query.unit_kind is not None:
        raise _invalid(
            "/query/unit_kind",
            "not_for_protected",
            "Urval på verksamhetstyp ges bara inom kommunen.",
            "A unit-kind selection is only given within the municipality.",
        )


def _name(area: Area) -> Label:
    level, code = area
    if level == "municipality":
        name = municipalities()[code].name
        return Label(name, name)
    if level == "county":
        name = counties()[code].name
        return Label(name, name)
    return Label("Riket", "Sweden")


def _protected_areas(query: SummaryQuery, default_county: str | None) -> list[Area]:
    mapping = county_of()
    if query.municipalities and query.municipality is None:
        county = query.county or default_county
        if county is None:
            raise _invalid("/query/county", "county_required", "Ange ett län.", "Give a county.")
        return county_areas(county, mapping)
    if query.compare:
        return comparison_areas(query.municipality, query.county or default_county, mapping)
    if query.municipality is not None:
        return [("municipality", query.municipality)]
    if query.county is not None:
        return [("county", query.county)]
    if default_county is not None:
        return [("county", default_county)]
    return [NATION]


def _protected_plan(query: SummaryQuery, default_county: str | None) -> Plan:
    """A published (protected) selection: its areas, the first one named."""
    areas = _protected_areas(query, default_county)
    first = areas[0]
    excluded = (
        (first[1], None)
        if first[0] == "municipality"
        else (None, first[1])
        if first[0] == "county"
        else (None, None)
    )
    return Plan(
        CaseFilter(query.period_from, query.period_to),
        "protected",
        areas,
        None,
        _name(first),
        first[1],
        excluded,
    )


def plan_for(session: Session, principal: Principal, query: SummaryQuery) -> Plan:
    """What this principal may see of this query (403 outside the scope)."""
    _check(query)
    kind = UNIT_KINDS[query.unit_kind - 1] if query.unit_kind else None
    role = principal.role
    if role not in ROLES:
        raise _forbidden()
    if role in ("caseworker", "coordinator"):
        own = principal.municipality_code
        if own is None or query.county is not None or query.municipalities:
            raise _forbidden()
        if query.municipality is not None and query.municipality != own:
            raise _forbidden()
        if role == "caseworker":
            if query.compare or principal.unit_id is None:
                raise _forbidden()
            unit = session.get(Unit, principal.unit_id)
            name = unit.name if unit is not None else "Verksamheten"
            return Plan(
                CaseFilter(query.period_from, query.period_to, {own}, principal.unit_id, kind),
                "internal",
                None,
                None,
                Label(name, name),
                str(principal.unit_id),
                (own, None),
            )
        if not query.compare:
            return Plan(
                CaseFilter(query.period_from, query.period_to, {own}, None, kind),
                "internal",
                None,
                None,
                _name(("municipality", own)),
                own,
                (own, None),
            )
        _whole_years(query)
        areas = comparison_areas(own, None, county_of())
        return Plan(
            CaseFilter(query.period_from, query.period_to),
            "internal",
            areas,
            own,
            _name(("municipality", own)),
            own,
            (own, None),
        )
    _whole_years(query)
    default_county: str | None = None
    if role == "regional":
        own_county = principal.county_code
        if own_county is None:
            raise _forbidden()
        if query.county is not None and query.county != own_county:
            raise _forbidden()
        if query.municipality is not None and county_of()[query.municipality] != own_county:
            raise _forbidden()
        default_county = own_county
        if query.compare and query.municipality is None:
            return _regional_comparison(query, own_county)
    return _protected_plan(query, default_county)


def _regional_comparison(query: SummaryQuery, county: str) -> Plan:
    """A county's municipalities beside the county and the nation, protected
    together in one release: the nation is only the comparison, cut from the
    same protected release as every other published table."""
    areas = [*county_areas(county, county_of()), NATION]
    return Plan(
        CaseFilter(query.period_from, query.period_to),
        "protected",
        areas,
        None,
        _name(("county", county)),
        county,
        (None, county),
    )


@dataclass(frozen=True)
class Release:
    """A protected release of every area, ready to select areas from."""

    protected: ProtectedRelease
    """Every table for every area, with ``meta.excluded`` per area in the same cell store."""
    positions: list[dict[Area, Any]]
    """Per table: the row positions of each area (:func:`area_positions`)."""

    selected: dict[tuple[Area, ...], list[Table]] = field(default_factory=dict)
    """Selections already cut (the same county asked again is not cut again)."""

    def select(self, areas: Sequence[Area]) -> list[Table]:
        key = tuple(areas)
        found = self.selected.get(key)
        if found is None:
            found = [
                select_areas(table, areas, positions)
                for table, positions in zip(self.protected.tables, self.positions, strict=True)
            ]
            if len(self.selected) < MAX_SELECTIONS:
                self.selected[key] = found
        return found


class ReleaseCache:
    """The last few published (protected) releases, each valid while the
    analysis table's fingerprint is unchanged: every regional and national
    audience is served from the same release, so it is computed once per
    change of the data, not once per request."""

    def __init__(self, size: int = 4) -> None:
        self.size = size
        self._items: OrderedDict[tuple[object, ...], Release] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[object, ...]) -> Release | None:
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
            return found

    def put(self, key: tuple[object, ...], value: Release) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


RELEASES = ReleaseCache()
MAX_SELECTIONS = 64
"""Selections kept per release (an area list each: a county, the nation, …)."""


def _release(
    session: Session,
    catalogue: Catalogue,
    plan: Plan,
    by_year: bool,
    table_ids: Sequence[str] | None,
    threshold: int,
) -> Release:
    """The protected release of every area for the plan's period (cached)."""
    key = (
        fingerprint(session),
        catalogue.version,
        plan.where,
        by_year,
        tuple(table_ids or ()),
        threshold,
        plan.known_municipality,
    )
    found = RELEASES.get(key)
    if found is not None:
        return found
    analysis = load_frame(session, catalogue, plan.where, ids=False)
    release = protected_release(
        analysis.frame,
        codebook_from_catalogue(catalogue),
        threshold=threshold,
        county_of=county_of(),
        known_municipality=plan.known_municipality,
        by_year=by_year,
        table_ids=table_ids,
        excluded_cases=analysis.excluded_cases,
    )
    made = Release(release, [area_positions(t) for t in release.tables])
    RELEASES.put(key, made)
    return made


def build_summary(
    session: Session,
    catalogue: Catalogue,
    principal: Principal | None,
    query: SummaryQuery,
    *,
    threshold: int,
    today: date,
    plan: Plan | None = None,
) -> Summary:
    """The summary for a plan (from :func:`plan_for`, or given by the CLI)."""
    if plan is None:
        if principal is None:
            raise ValueError("a plan or a principal is needed")
        plan = plan_for(session, principal, query)
    codebook = codebook_from_catalogue(catalogue)
    protected = plan.mode == "protected" or plan.areas is not None
    table_ids = None if query.tables is None else sorted({*query.tables, "funnel"})
    if plan.areas is None:
        analysis = load_frame(session, catalogue, plan.where, ids=False)
        tables = compile_tables(
            analysis.frame,
            codebook,
            mode=plan.mode,
            threshold=threshold,
            by_year=query.by_year,
            table_ids=table_ids,
        )
        own_only = plan.mode == "internal"
        excluded = {r: hide_small(c, threshold, not own_only) for r, c in analysis.excluded.items()}
    else:
        release = _release(session, catalogue, plan, query.by_year, table_ids, threshold)
        tables = release.select(plan.areas)
        # Cells of the protected release, secondary suppression included.
        excluded = release.protected.excluded_in(plan.areas[0])
    funnel = next(t for t in tables if t.id == "funnel").data
    first_rows = funnel
    if "area_code" in funnel.columns and plan.areas:
        first_rows = funnel[funnel["area_code"].astype(str) == plan.areas[0][1]]
    opened = first_rows[
        (first_rows["step"].astype(str) == "aktualiserad")
        & (first_rows["registered"].astype(str) == "registrerad")
    ]
    hidden = bool(opened["suppressed"].any()) if "suppressed" in opened.columns else False
    n_cases = None if hidden else int(opened["n"].astype("Int64").fillna(0).sum())
    if query.tables is not None:
        tables = [t for t in tables if t.id in query.tables]
    names = {area: _name(area).sv for area in (plan.areas or [])}
    notes: tuple[Label, ...] = ()
    if plan.areas is not None and plan.known_municipality is not None:
        notes = (
            Label(
                "Kommunens egna värden visas utan röjandeskydd; län och riket är röjandeskyddade.",
                "The municipality's own values are shown unprotected; county and nation are protected.",
            ),
        )
    return Summary(
        tables=tables,
        period_from=query.period_from,
        period_to=query.period_to,
        scope=plan.scope,
        catalogue_version=catalogue.version,
        generated_on=today,
        protected=protected,
        threshold=threshold,
        n_cases=n_cases,
        excluded=excluded,
        area_labels=area_labels(list(names), names),
        by_year=query.by_year,
        notes=notes,
    )


def audit_export(
    session: Session,
    actor: Actor,
    plan: Plan,
    table_ids: Sequence[str],
    *,
    request_id: str | None = None,
) -> None:
    """One audit event per export: who, which scope, which tables (never values)."""
    record(
        session,
        actor=actor,
        action=EXPORT_ACTION,
        object_type="stats_summary",
        object_id=plan.scope_code,
        fields=list(table_ids),
        request_id=request_id,
    )


def summary_for(
    session: Session,
    catalogue: Catalogue,
    principal: Principal,
    query: SummaryQuery,
    *,
    threshold: int,
    today: date,
    request_id: str | None = None,
) -> Summary:
    """Plan, build and audit (the API's entry point)."""
    plan = plan_for(session, principal, query)
    summary = build_summary(
        session, catalogue, principal, query, threshold=threshold, today=today, plan=plan
    )
    audit_export(
        session, principal.actor, plan, [t.id for t in summary.tables], request_id=request_id
    )
    return summary


def cli_plan(query: SummaryQuery, *, publish: bool) -> Plan:
    """The CLI's plan: a municipality's own tables unprotected unless
    ``publish``; a county or the nation always protected (whole years, as in
    the API, so every published file is cut from the same protected release)."""
    _check(query)
    kind = UNIT_KINDS[query.unit_kind - 1] if query.unit_kind else None
    if query.municipality is not None and not publish and not query.compare:
        own = query.municipality
        return Plan(
            CaseFilter(query.period_from, query.period_to, {own}, None, kind),
            "internal",
            None,
            None,
            _name(("municipality", own)),
            own,
            (own, None),
        )
    _whole_years(query)
    return _protected_plan(query, None)
