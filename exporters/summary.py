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

import pandas as pd

from exporters.codebook import Codebook, Label
from exporters.compare import parents, rollup, select_areas
from exporters.definitions import DEFAULT_DEFINITIONS, Definitions
from exporters.disclosure import DEFAULT_THRESHOLD, Area, combine_years, protect
from exporters.spec import Table
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
    municipality's own staff). Otherwise the frame is tabulated per year and
    municipality, added up to counties and the nation, protected as one
    hierarchy (cells of ``known_municipality`` count as known to the audience
    and are never hidden; in ``internal`` mode only that municipality is
    exempt, everything else is protected), and ``areas`` are picked out.
    Without ``by_year`` the years are combined after protection.
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
    return [select_areas(table, areas) for table in release]


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
) -> list[Table]:
    """Every table for every area (municipalities, counties, the nation),
    protected as one hierarchy: the release that any selection of areas is
    cut from (:func:`exporters.compare.select_areas`)."""
    hierarchy = parents(county_of)
    own = ("municipality", known_municipality) if known_municipality else None

    def known(area: Area) -> bool:
        return own is not None and area == own

    # Categoricals, so that a table built from a subset of the cases (a group,
    # the top group) still has a block for every year and municipality: rollup
    # needs complete, identically ordered blocks.
    frame = frame.assign(
        year=pd.Categorical(frame["year"]),
        municipality_code=pd.Categorical(frame["municipality_code"]),
    )
    out = []
    for table in build_tables(
        frame, codebook, definitions, ("year", "municipality_code"), table_ids
    ):
        rolled = rollup(table, county_of)
        safe = protect(rolled, threshold, parents=hierarchy, known=known)
        out.append(safe if by_year else combine_years(safe))
    return out


def hide_small(count: int, threshold: int, protected: bool) -> int | None:
    """A single published count (cases, exclusions) under the same rule."""
    if protected and 0 < count < threshold:
        return None
    return count
