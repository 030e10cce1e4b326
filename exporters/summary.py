"""The national summary: every table for one audience, and what to say about it.

:func:`compile_summary` is the whole pipeline, pure: tables from the frame,
areas added up, disclosure control as the last step when the audience is
outside the municipality, then the requested areas and years picked out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Literal

import numpy as np
import pandas as pd

from exporters.codebook import Codebook, Label
from exporters.compare import parents, rollup, select_areas
from exporters.definitions import DEFAULT_DEFINITIONS, Definitions
from exporters.disclosure import DEFAULT_THRESHOLD, Area, protect_release
from exporters.spec import Table, TableSpec
from exporters.tables import build_tables

Mode = Literal["internal", "protected"]
SOURCE = Label(
    "Källa: ISU-registret, individbaserad systematisk uppföljning (SU-Kvinnofrid).",
    "Source: the ISU register, individual-based systematic follow-up (SU-Kvinnofrid).",
)


@dataclass(frozen=True)
class Summary:
    tables: list[Table]
    period_from: date
    period_to: date
    scope: Label
    """Whose cases, e.g. "Stockholms kommun", "Stockholms län", "Riket"."""
    catalogue_version: str
    generated_on: date
    protected: bool
    threshold: int
    n_cases: int | None
    """Cases in the summary (None when hidden by disclosure control)."""
    excluded: Mapping[str, int | None]
    """Excluded cases by reason (None = hidden)."""
    area_labels: Mapping[str, Label] = field(default_factory=dict)
    by_year: bool = False
    source: Label = SOURCE
    notes: tuple[Label, ...] = ()

    def table(self, table_id: str) -> Table:
        for t in self.tables:
            if t.id == table_id:
                return t
        raise KeyError(table_id)


def compile_tables(
    frame: pd.DataFrame,
    codebook: Codebook,
    *,
    mode: Mode,
    definitions: Definitions = DEFAULT_DEFINITIONS,
    threshold: int = DEFAULT_THRESHOLD,
    county_of: Mapping[str, str] | None = None,
    areas: Sequence[Area] | None = None,
    known_municipality: str | None = None,
    by_year: bool = False,
    table_ids: Sequence[str] | None = None,
) -> list[Table]:
    """Tables for one audience.

    ``internal`` without ``areas``: the frame as given, no suppression (the
    municipality's own staff). Otherwise the frame is tabulated per
    municipality (and year, with ``by_year``), added up to counties and the
    nation, protected as one publication (cells of ``known_municipality``
    count as known to the audience and are never hidden; in ``internal`` mode
    only that municipality is exempt, everything else is protected), and
    ``areas`` are picked out.
    """
    if mode == "internal" and areas is None:
        by = ("year",) if by_year else ()
        return build_tables(frame, codebook, definitions, by, table_ids)
    if county_of is None or areas is None:
        raise ValueError("protected tables need county_of and areas")
    release = protected_release(
        frame,
        codebook,
        definitions=definitions,
        threshold=threshold,
        county_of=county_of,
        known_municipality=known_municipality,
        by_year=by_year,
        table_ids=table_ids,
    )
    return [select_areas(table, areas) for table in release.tables]


EXCLUDED = TableSpec(
    "excluded",
    Label("Exkluderade ärenden", "Excluded cases"),
    None,
    Label("Exkluderade ärenden", "Excluded cases"),
    "count",
    ("reason",),
    "reason",
)
"""``meta.excluded`` as a table: excluded cases per area and reason."""


@dataclass(frozen=True)
class ProtectedRelease:
    """Every table for every area, protected as one publication, and the
    excluded cases per area and reason (``meta.excluded``) in the same store."""

    tables: list[Table]
    excluded: Table | None = None

    def excluded_in(self, area: Area) -> dict[str, int | None]:
        """Excluded cases of one area by reason (reasons with cases; None = hidden)."""
        if self.excluded is None:
            return {}
        data = self.excluded.data
        rows = data[
            (data["area_level"].astype(str) == area[0]) & (data["area_code"].astype(str) == area[1])
        ]
        out: dict[str, int | None] = {}
        for reason, n, hidden, true in zip(
            rows["reason"].astype(str),
            rows["n"],
            rows["suppressed"],
            rows["_count"],
            strict=True,
        ):
            if int(true) > 0:
                out[reason] = None if bool(hidden) else int(n)
        return out


def exclusion_table(excluded_cases: pd.DataFrame, municipalities: Sequence[str]) -> Table:
    """Excluded cases per municipality and reason, every reason in every
    municipality (zeros included), named ``excluded:<reason>``."""
    reasons = sorted({str(r) for r in excluded_cases["reason"]})
    munis = list(municipalities)
    counts = (
        excluded_cases.groupby(["municipality_code", "reason"]).size()
        if len(excluded_cases)
        else pd.Series(dtype="int64")
    )
    index = pd.MultiIndex.from_product([munis, reasons], names=["municipality_code", "reason"])
    n = (
        counts.reindex(index, fill_value=0).to_numpy(dtype="int64")
        if reasons
        else np.zeros(0, dtype=np.int64)
    )
    data = pd.DataFrame(
        {
            "municipality_code": pd.Categorical(
                [m for m in munis for _r in reasons], categories=munis
            ),
            "reason": pd.Categorical([r for _m in munis for r in reasons], categories=reasons),
            "n": pd.array(n, dtype="Int64"),
        }
    )
    data["N"] = data["n"]
    data["percent"] = pd.array([pd.NA] * len(data), dtype="Float64")
    names = [f"excluded:{r}" for r in reasons]
    data["n_key"] = pd.Categorical([f"excluded:{r}" for r in data["reason"]], categories=names)
    data["N_key"] = data["n_key"]
    return Table(EXCLUDED, data, by=("municipality_code",))


def protected_release(
    frame: pd.DataFrame,
    codebook: Codebook,
    *,
    definitions: Definitions = DEFAULT_DEFINITIONS,
    threshold: int = DEFAULT_THRESHOLD,
    county_of: Mapping[str, str],
    known_municipality: str | None = None,
    by_year: bool = False,
    table_ids: Sequence[str] | None = None,
    excluded_cases: pd.DataFrame | None = None,
) -> ProtectedRelease:
    """Every table for every area (municipalities, counties, the nation),
    protected as one publication: the release that any selection of areas is
    cut from (:func:`exporters.compare.select_areas`).

    With ``by_year`` the output shows the years of a period that the
    whole-period output shows too: the years are protected together with the
    whole period as one store (the years add up to the whole period). Its
    whole-period cells are not part of this output; they only make sure that
    the years cannot be combined with the whole period's totals.
    """
    hierarchy = parents(county_of)
    own = ("municipality", known_municipality) if known_municipality else None

    def known(area: Area) -> bool:
        return own is not None and area == own

    munis = sorted(
        {str(m) for m in frame["municipality_code"]}
        | (
            {str(m) for m in excluded_cases["municipality_code"]}
            if excluded_cases is not None
            else set()
        )
    )
    # Categoricals, so that a table built from a subset of the cases (a group,
    # the top group) still has a block for every year and municipality: rollup
    # needs complete, identically ordered blocks.
    frame = frame.assign(
        year=pd.Categorical(frame["year"]),
        municipality_code=pd.Categorical(frame["municipality_code"].astype(str), categories=munis),
    )

    def tabulate(by: tuple[str, ...]) -> list[Table]:
        built = build_tables(frame, codebook, definitions, by, table_ids, cell_keys=True)
        return [rollup(table, county_of) for table in built]

    whole = tabulate(("municipality_code",))
    exclusions = None
    if excluded_cases is not None:
        exclusions = rollup(exclusion_table(excluded_cases, munis), county_of)
        whole.append(exclusions)
    yearly = tabulate(("year", "municipality_code")) if by_year else []
    safe = protect_release([*whole, *yearly], threshold, parents=hierarchy, known=known)
    safe_whole, safe_yearly = safe[: len(whole)], safe[len(whole) :]
    safe_exclusions = None
    if exclusions is not None:
        last = safe_whole.pop()
        safe_exclusions = last.with_data(last.data.assign(_count=exclusions.data["n"].to_numpy()))
    return ProtectedRelease(safe_yearly if by_year else safe_whole, safe_exclusions)


def hide_small(count: int, threshold: int, protected: bool) -> int | None:
    """A single published count under the primary rule only (a summary
    without areas, the K/M split of a key ratio; a release's
    ``meta.excluded`` comes from its cell store)."""
    if protected and 0 < count < threshold:
        return None
    return count
