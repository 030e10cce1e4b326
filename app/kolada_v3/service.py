"""A Kolada API v3-compatible read API: metadata and published values.

Only what the register publishes is reachable: closed calendar years (a year
that has ended), computed with the documented default choices and protected
as for every audience outside the municipality (``exporters.published``: T as
Kolada publishes it, the K/M split hidden where a part is small, no
districts). These are the same values as ``isu export kolada --publish``.

KPIs: Kolada's three SU-Kvinnofrid key ratios (T only, as Kolada publishes
them) and the register's own K/M-split ones, marked ``ours``: ``ISU-U30750``–
``ISU-U30752`` (the key ratios split into women and men) and ``ISU-A``
(Socialstyrelsen's indicator A, the 12 months to 31 December).

The published values of a year are computed once per state of the analysis
table and of the loaded population figures (:class:`PublishedCache`), so the
public API costs a few small queries per request while the data is unchanged.

Our indicator A (a share Kolada does not publish) is protected as a whole on
this public API: its T is hidden too when a count behind it is small
(``status: "suppressed"``, the entry kept so that the hiding shows).
"""

from __future__ import annotations

import json
import math
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from functools import cache, partial
from importlib import resources
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.analysis.read import fingerprint
from app.catalogue.loader import Catalogue
from app.indicators import service as indicators
from app.indicators.spec import IndicatorSpec
from app.models import Case, PopulationFigure
from app.reference import counties, municipalities
from exporters.indicators import IndicatorResult, records
from exporters.kolada import KOLADA_KPIS
from exporters.published import SUPPRESSED, published_result

MAX_PER_PAGE = 5000
OURS_PREFIX = "ISU-"
SPLIT_KPIS = {f"{OURS_PREFIX}{k}": k for k in KOLADA_KPIS}
INDICATOR_KPIS = {f"{OURS_PREFIX}A": "A"}
NATION_ID = "0000"


@cache
def _kolada_metadata() -> dict[str, dict[str, Any]]:
    text = (
        resources.files("app.reference")
        .joinpath("data", "kolada_kpi_metadata.json")
        .read_text(encoding="utf-8")
    )
    return {row["id"]: row for row in json.loads(text)["values"]}


def _none(value: Any) -> Any:
    return None if value in (None, "None", "") else value


def _kolada_kpi(kpi: str) -> dict[str, Any]:
    row = _kolada_metadata()[kpi]
    return {
        "id": kpi,
        "title": row["title"],
        "description": row["description"],
        "is_divided_by_gender": bool(row["is_divided_by_gender"]),
        "municipality_type": row["municipality_type"],
        "auspice": _none(row.get("auspice")),
        "operating_area": row["operating_area"],
        "perspective": _none(row.get("perspective")),
        "prel_publication_date": _none(row.get("prel_publication_date")),
        "publication_date": _none(row.get("publication_date")),
        "publ_period": _none(row.get("publ_period")),
        "has_ou_data": False,
        "ours": False,
        "source": "Kolada",
    }


OURS_NOTE_SV = (
    " ISU-registrets egen uppdelning på kvinnor (K) och män (M), publiceras inte av Kolada; "
    "K och M döljs tillsammans när någon del är färre än röjandeskyddets tröskelvärde. "
    "Källa: egen beräkning ur ISU-registret."
)


def kpi_metadata(specs: Mapping[str, IndicatorSpec]) -> list[dict[str, Any]]:
    """Every KPI the API serves, in Kolada's ``/kpi`` shape (``ours`` marks ours)."""
    out = [_kolada_kpi(k) for k in KOLADA_KPIS]
    for ours, kpi in SPLIT_KPIS.items():
        base = _kolada_kpi(kpi)
        out.append(
            {
                **base,
                "id": ours,
                "title": f"{base['title']}, kvinnor och män (ISU)",
                "description": f"Som {kpi}, uppdelat på kön.{OURS_NOTE_SV}",
                "is_divided_by_gender": True,
                "auspice": None,
                "prel_publication_date": None,
                "publication_date": None,
                "publ_period": None,
                "ours": True,
                "source": "ISU",
            }
        )
    for ours, indicator in INDICATOR_KPIS.items():
        spec = specs[indicator]
        out.append(
            {
                "id": ours,
                "title": spec.title.sv,
                "description": (
                    f"{spec.description.sv if spec.description else ''} Perioden är de 12 "
                    "månaderna till och med den 31 december.".strip()
                    + OURS_NOTE_SV
                ),
                "is_divided_by_gender": True,
                "municipality_type": "K",
                "auspice": None,
                "operating_area": "Individ- och familjeomsorg",
                "perspective": "Kvalitet",
                "prel_publication_date": None,
                "publication_date": None,
                "publ_period": None,
                "has_ou_data": False,
                "ours": True,
                "source": "ISU",
            }
        )
    return out


def municipality_metadata() -> list[dict[str, Any]]:
    """Municipalities (type K) and counties (type L, Kolada's ``00`` + county
    code), and the nation (``0000``), in Kolada's ``/municipality`` shape."""
    out = [{"id": NATION_ID, "title": "Riket", "type": "L"}]
    out += [
        {"id": f"00{code}", "title": county.name, "type": "L"}
        for code, county in sorted(counties().items())
    ]
    out += [
        {"id": code, "title": m.name, "type": "K"} for code, m in sorted(municipalities().items())
    ]
    return out


def filter_metadata(
    rows: Sequence[dict[str, Any]], ids: Sequence[str] | None, title: str | None
) -> list[dict[str, Any]]:
    """Kolada's metadata filters: ``id`` (a list) and ``title`` (a part of the
    title, any case)."""
    wanted = set(ids) if ids else None
    needle = title.casefold() if title else None
    return [
        r
        for r in rows
        if (wanted is None or r["id"] in wanted)
        and (needle is None or needle in str(r["title"]).casefold())
    ]


@dataclass(frozen=True)
class DataQuery:
    kpis: tuple[str, ...] | None = None
    municipalities: tuple[str, ...] | None = None
    years: tuple[int, ...] | None = None


def closed_years(session: Session, today: date) -> list[int]:
    """Every calendar year that has ended since the first case (none: [])."""
    first = session.scalar(select(func.min(Case.actualised_on)))
    if first is None:
        return []
    return list(range(first.year, today.year))


def _population_state(session: Session) -> tuple[int, int]:
    """Changes when loaded population figures change (a new denominator)."""
    row = session.execute(
        select(func.count(), func.coalesce(func.sum(PopulationFigure.population), 0))
    ).one()
    return int(row[0]), int(row[1])


def _municipalities_with_cases(session: Session) -> list[str]:
    return sorted(session.scalars(select(Case.municipality_code).distinct()).all())


def _entry(kpi: str, row: Mapping[str, Any], year: int) -> dict[str, Any]:
    return {"kpi": kpi, "municipality": str(row["municipality_code"]), "period": year}


def _value(row: Mapping[str, Any]) -> dict[str, Any]:
    value = row["value"]
    missing = value is None or (isinstance(value, float) and math.isnan(value))
    reason = row["reason"] if isinstance(row["reason"], str) else None
    count = row["count"]
    return {
        "gender": str(row["sex"]),
        "count": 0 if missing or count is None else int(count),
        "status": "" if not missing else (SUPPRESSED if reason == SUPPRESSED else "missing"),
        "value": None if missing else float(value),
    }


def _plain(frame_rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for row in frame_rows:
        clean: dict[str, Any] = {}
        for key, value in row.items():
            if value is None or (not isinstance(value, str) and _is_na(value)):
                clean[key] = None
            else:
                clean[key] = value.item() if hasattr(value, "item") else value
        out.append(clean)
    return out


def _is_na(value: Any) -> bool:
    try:
        return bool(value != value)  # NaN and pandas' NA
    except TypeError:
        return True


def entries(results: Mapping[str, IndicatorResult], year: int) -> list[dict[str, Any]]:
    """Kolada ``/data`` entries of one year: one per KPI and municipality with
    a published total (a municipality without a value has no entry, as in
    Kolada). Kolada's KPIs carry T only; ours T, K and M."""
    out: list[dict[str, Any]] = []
    plans: list[tuple[str, str, bool]] = [(k, k, False) for k in KOLADA_KPIS]
    plans += [(ours, kpi, True) for ours, kpi in SPLIT_KPIS.items()]
    plans += [(ours, kpi, True) for ours, kpi in INDICATOR_KPIS.items()]
    for kpi_id, source, split in plans:
        result = results[source]
        by_area: dict[str, dict[str, dict[str, Any]]] = {}
        for row in _plain(records(result.rows)):
            by_area.setdefault(str(row["area_code"]), {})[str(row["sex"])] = row
        for _code, rows in sorted(by_area.items()):
            total = rows.get("T")
            if total is None or (total["value"] is None and total["reason"] != SUPPRESSED):
                continue  # no value (no cases, no population): no entry, as in Kolada
            sexes = ("T", "K", "M") if split else ("T",)
            values = [_value(rows[s]) for s in sexes if s in rows]
            out.append({**_entry(kpi_id, total, year), "values": values})
    return out


def compute_year(
    session: Session,
    catalogue: Catalogue,
    specs: Mapping[str, IndicatorSpec],
    year: int,
    threshold: int,
    today: date,
) -> list[dict[str, Any]]:
    """Every published entry of one closed year (all municipalities with cases)."""
    codes = _municipalities_with_cases(session)
    if not codes:
        return []
    report = indicators.build_kolada(session, catalogue, specs, codes, year, {}, today=today)
    results = {r.definition.id: published_result(r, threshold) for r in report.results}
    for indicator in INDICATOR_KPIS.values():
        query = indicators.IndicatorQuery(indicator, None, date(year, 12, 31), {})
        result = indicators.build_indicator(session, catalogue, specs, codes, query)
        results[indicator] = published_result(result, threshold, protect_total=True)
    return entries(results, year)


class PublishedCache:
    """The published entries of a year, kept while the analysis table's
    fingerprint is unchanged (a few years and states at most)."""

    def __init__(self, size: int = 16) -> None:
        self.size = size
        self._items: OrderedDict[tuple[object, ...], list[dict[str, Any]]] = OrderedDict()
        self._lock = threading.Lock()

    def get_or_compute(
        self, key: tuple[object, ...], compute: Callable[[], list[dict[str, Any]]]
    ) -> list[dict[str, Any]]:
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
                return found
        made = compute()
        with self._lock:
            self._items[key] = made
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return made

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


PUBLISHED = PublishedCache()


def published_data(
    session: Session,
    catalogue: Catalogue,
    specs: Mapping[str, IndicatorSpec],
    query: DataQuery,
    *,
    threshold: int,
    today: date,
) -> list[dict[str, Any]]:
    """The published entries matching the query: KPI, then municipality, then
    year. A year that has not ended yet is never published (no entries)."""
    closed = closed_years(session, today)
    years = [y for y in (query.years or closed) if y in closed]
    state = (fingerprint(session), _population_state(session))
    out: list[dict[str, Any]] = []
    for year in sorted(set(years)):
        key = (state, catalogue.version, year, threshold)
        out += PUBLISHED.get_or_compute(
            key, partial(compute_year, session, catalogue, specs, year, threshold, today)
        )
    kpis = set(query.kpis) if query.kpis else None
    wanted = set(query.municipalities) if query.municipalities else None
    order = {k["id"]: i for i, k in enumerate(kpi_metadata(specs))}
    chosen = [
        e
        for e in out
        if (kpis is None or e["kpi"] in kpis) and (wanted is None or e["municipality"] in wanted)
    ]
    chosen.sort(key=lambda e: (order.get(e["kpi"], len(order)), e["municipality"], e["period"]))
    return chosen


@dataclass(frozen=True)
class Page:
    values: list[dict[str, Any]]
    count: int
    has_next: bool
    has_previous: bool


def paginate(rows: Sequence[dict[str, Any]], page: int, per_page: int) -> Page:
    """Kolada's paging: ``count`` is every matching item, a page is ``per_page``
    of them from ``(page − 1) × per_page``."""
    start = (page - 1) * per_page
    return Page(
        list(rows[start : start + per_page]),
        len(rows),
        start + per_page < len(rows),
        page > 1,
    )
