"""Areas and years: a municipality beside its county and the nation, over time.

Tables are built once per (year, municipality) and added up to counties and
the nation here, so every level comes from the same counts (n and N are
additive over disjoint areas). Disclosure control then protects the whole
hierarchy at once (``exporters.disclosure.protect`` with :func:`parents`), and
the requested areas are picked out afterwards: a county total and its
municipalities are protected together, so neither can be subtracted from the
other to reveal a small cell (ACCEPTANCE D1, D3).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from exporters.codebook import Label
from exporters.disclosure import Area
from exporters.spec import Table
from exporters.tables import mean, percent

NATION = ("nation", "SE")
LEVELS = ("nation", "county", "municipality")
LEVEL_LABELS = {
    "nation": Label("Riket", "Sweden"),
    "county": Label("Län", "County"),
    "municipality": Label("Kommun", "Municipality"),
}


def parents(county_of: Mapping[str, str]) -> dict[Area, Area]:
    """The hierarchy municipality -> county -> nation."""
    out: dict[Area, Area] = {("municipality", m): ("county", c) for m, c in county_of.items()}
    for county in set(county_of.values()):
        out[("county", county)] = NATION
    return out


def rollup(
    table: Table, county_of: Mapping[str, str], municipality: str = "municipality_code"
) -> Table:
    """Replace the municipality column of ``by`` with ``area_level`` and
    ``area_code``: per year (or other leading breakdown), one block per
    municipality, then per county, then the nation. Counts are added up with
    array arithmetic: every (breakdown, municipality) block of a table holds
    the same rows in the same order (all categories, ``observed=False``)."""
    data = table.data.reset_index(drop=True)
    if municipality not in table.by:
        raise ValueError("rollup needs a table built by municipality")
    other_by = [b for b in table.by if b != municipality]
    dims = list(table.spec.dims)
    extra = [c for c in ("n_key", "N_key") if c in data.columns]
    outer = pd.MultiIndex.from_frame(data[other_by]) if other_by else pd.Index([0] * len(data))
    outer_codes, outer_levels = pd.factorize(outer)
    muni_codes, munis = pd.factorize(data[municipality].astype(str))
    n_outer, n_muni = len(outer_levels), len(munis)
    value = "mean" if table.spec.kind == "mean" else "percent"
    by = (*other_by, "area_level", "area_code")
    if n_outer * n_muni == 0:
        empty = data.drop(columns=[municipality]).assign(area_level=[], area_code=[])
        return table.with_data(empty[[*by, *dims, "n", "N", value, *extra]], by=by)
    rows = len(data) // (n_outer * n_muni)
    block = data.loc[: rows - 1, [*dims, *extra]].reset_index(drop=True)
    expected = np.repeat(np.arange(n_outer * n_muni), rows)
    if rows * n_outer * n_muni != len(data) or not np.array_equal(
        outer_codes * n_muni + muni_codes, expected
    ):
        raise ValueError("rollup needs complete blocks per municipality")
    missing = [m for m in munis if m not in county_of]
    if missing:
        raise ValueError("a municipality without a county")
    counties = sorted({county_of[m] for m in munis})
    onehot = np.zeros((n_muni, len(counties)), dtype=np.int64)
    for i, m in enumerate(munis):
        onehot[i, counties.index(county_of[m])] = 1

    def levels(column: str) -> np.ndarray:
        values = data[column].astype("Int64").fillna(0).to_numpy(dtype=np.int64)
        by_muni = values.reshape(n_outer, n_muni, rows)
        by_county = np.einsum("omr,mc->ocr", by_muni, onehot)
        nation = by_muni.sum(axis=1, keepdims=True)
        return np.concatenate([by_muni, by_county, nation], axis=1)

    n = levels("n")
    big_n = levels("N")
    areas = [("municipality", m) for m in munis] + [("county", c) for c in counties] + [NATION]
    n_areas = len(areas)
    out = block.iloc[np.tile(np.arange(rows), n_outer * n_areas)].reset_index(drop=True)
    for dim in dims:
        out[dim] = pd.Categorical(out[dim], categories=data[dim].cat.categories)
    outer_rows = np.repeat(np.arange(n_outer), n_areas * rows)
    for i, name in enumerate(other_by):
        source = (
            outer_levels.get_level_values(i)
            if isinstance(outer_levels, pd.MultiIndex)
            else outer_levels
        )
        out.insert(i, name, np.asarray(source)[outer_rows])
    area_rows = np.tile(np.repeat(np.arange(n_areas), rows), n_outer)
    position = len(other_by)
    level_codes = np.array([LEVELS.index(level) for level, _code in areas], dtype=np.int64)
    out.insert(
        position,
        "area_level",
        pd.Series(
            pd.Categorical.from_codes(level_codes[area_rows], categories=pd.Index(list(LEVELS))),
            index=out.index,
        ),
    )
    area_codes = np.array([code for _level, code in areas], dtype=object)
    out.insert(position + 1, "area_code", pd.Series(area_codes[area_rows], dtype="str"))
    out["n"] = pd.array(n.reshape(-1), dtype="Int64")
    out["N"] = pd.array(big_n.reshape(-1), dtype="Int64")
    if value == "mean":
        out["mean"] = mean(out["n"], out["N"])
    else:
        out["percent"] = percent(out["n"], out["N"])
    return table.with_data(out[[*by, *dims, "n", "N", value, *extra]], by=by)


def area_positions(table: Table) -> dict[Area, np.ndarray]:
    """Row positions of each area of a rolled-up table (to select from it
    many times, as from a cached release)."""
    data = table.data
    levels = data["area_level"].astype("object").to_numpy()
    codes = data["area_code"].astype("object").to_numpy()
    keys, first = np.unique(
        np.char.add(np.char.add(levels.astype(str), "\x1f"), codes.astype(str)),
        return_inverse=True,
    )
    order = np.argsort(first, kind="stable")
    bounds = np.searchsorted(first[order], np.arange(len(keys) + 1))
    out: dict[Area, np.ndarray] = {}
    for i, key in enumerate(keys.tolist()):
        level, code = key.split("\x1f", 1)
        out[(level, code)] = order[bounds[i] : bounds[i + 1]]
    return out


def select_areas(
    table: Table, areas: Iterable[Area], positions: Mapping[Area, np.ndarray] | None = None
) -> Table:
    """Only the given areas, in the given order (``positions``: from
    :func:`area_positions`, when selecting from the same table repeatedly)."""
    wanted = list(areas)
    data = table.data
    found = positions if positions is not None else area_positions(table)
    rank_of: dict[Area, int] = {area: i for i, area in enumerate(wanted)}
    empty = np.zeros(0, dtype=np.int64)
    rows = np.concatenate([found.get(area, empty) for area in rank_of] or [empty])
    ranks = np.concatenate(
        [np.full(len(found.get(area, empty)), rank) for area, rank in rank_of.items()] or [empty]
    )
    order = np.argsort(rows, kind="stable")
    chosen = data.iloc[rows[order]].assign(_rank=ranks[order])
    other = [b for b in table.by if b not in ("area_level", "area_code")]
    chosen = chosen.sort_values([*other, "_rank", *table.spec.dims], kind="stable")
    return table.with_data(chosen.drop(columns="_rank").reset_index(drop=True))


def comparison_areas(
    municipality: str | None, county: str | None, county_of: Mapping[str, str]
) -> list[Area]:
    """A municipality with its county and the nation; a county with the nation."""
    if municipality is not None:
        return [("municipality", municipality), ("county", county_of[municipality]), NATION]
    if county is not None:
        return [("county", county), NATION]
    return [NATION]


def county_areas(county: str, county_of: Mapping[str, str]) -> list[Area]:
    """A county total followed by its municipalities (those with cases)."""
    munis = sorted(m for m, c in county_of.items() if c == county)
    return [("county", county), *(("municipality", m) for m in munis)]


def area_labels(areas: Sequence[Area], names: Mapping[Area, str] | None = None) -> dict[str, Label]:
    """Labels for ``area_code`` values (names from reference data, passed in)."""
    out: dict[str, Label] = {}
    for level, code in areas:
        name = (names or {}).get((level, code))
        if level == "nation":
            out[code] = LEVEL_LABELS["nation"]
        else:
            text = name or f"{LEVEL_LABELS[level].sv} {code}"
            out[code] = Label(text, name or f"{LEVEL_LABELS[level].en} {code}")
    return out
