"""Disclosure control: a separate last step (ACCEPTANCE D1–D3).

Applied whenever the audience is outside the municipality. Counts under the
threshold (default 7, the Öppna jämförelser rule) are hidden (*primary*
suppression); then, so that a hidden count cannot be recovered from what is
published, more cells are hidden (*secondary* suppression) until every
additive relation of the table is safe:

* a single-choice table's categories add up to N, and N plus the
  not-registered count adds up to the population;
* with areas, the municipalities add up to their county and the counties to
  the nation (same year, same cell);
* a count that is published in two rows (the funnel's step bases) is one cell.

A relation is safe when none of its cells is hidden, or when at least two are
and, while its total is published, the hidden parts leave an attacker an
interval at least as wide as the threshold for each of them (zeros are
published, so a hidden part is known to be ≥ 1). A multi-choice option is
also hidden when the cases *without* it are fewer than the threshold
(N − n). Percentages built on a hidden n or N are hidden. Cells the audience
already knows (a coordinator's own municipality) are never hidden, and never
chosen to protect another cell.

A hidden value becomes ``<NA>`` with its flag set (``suppressed`` for n and
percent, ``N_suppressed`` for N); writers show it as ``..``. Never a 0.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from typing import cast

import numpy as np
import pandas as pd

from exporters.definitions import NOT_REGISTERED
from exporters.spec import Table
from exporters.tables import mean as mean_of
from exporters.tables import percent as percent_of

DEFAULT_THRESHOLD = 7
SUPPRESSED_MARK = ".."

Area = tuple[str, str]
"""(area_level, area_code), e.g. ("municipality", "0180"), ("county", "01"), ("nation", "SE")."""


@dataclass
class _Cells:
    index: dict[Hashable, int]
    values: list[int]
    fixed: list[bool]

    def add(self, key: Hashable, value: int, fixed: bool) -> int:
        found = self.index.get(key)
        if found is not None:
            return found
        self.index[key] = len(self.values)
        self.values.append(value)
        self.fixed.append(fixed)
        return self.index[key]


def _text(value: object) -> str:
    return str(value)


def protect(
    table: Table,
    threshold: int = DEFAULT_THRESHOLD,
    *,
    parents: Mapping[Area, Area] | None = None,
    known: Callable[[Area], bool] | None = None,
) -> Table:
    """Hide small counts and whatever would reveal them; returns a new table.

    ``parents``: the area hierarchy (child -> parent) when the table has
    ``area_level``/``area_code`` columns (see :func:`exporters.compare.rollup`).
    ``known``: areas whose cells the audience knows anyway (never hidden).
    """
    if threshold < 1:
        raise ValueError("threshold must be at least 1")
    data = table.data.reset_index(drop=True)
    spec = table.spec
    has_area = parents is not None and "area_level" in data.columns
    other_by = [b for b in table.by if b not in ("area_level", "area_code")]
    dims = list(spec.dims)
    group_dims = [d for d in dims if d != spec.category]
    n_rows = len(data)

    if has_area:
        areas: list[Area] = list(
            zip(data["area_level"].astype(str), data["area_code"].astype(str), strict=True)
        )
    else:
        areas = [("", "")] * n_rows
    prefix_cols = [data[c].map(_text).tolist() for c in other_by]
    prefixes = list(zip(*prefix_cols, strict=True)) if prefix_cols else [()] * n_rows
    dim_cols = {d: data[d].map(_text).tolist() for d in dims}
    category = dim_cols[spec.category]
    has_keys = "n_key" in data.columns and "N_key" in data.columns
    n_values = data["n"].astype("Int64").fillna(0).astype(int).tolist()
    big_values = data["N"].astype("Int64").fillna(0).astype(int).tolist()

    cells = _Cells({}, [], [])
    n_idx = np.zeros(n_rows, dtype=int)
    big_idx = np.zeros(n_rows, dtype=int)
    local_n: list[tuple[str, ...]] = []
    local_big: list[tuple[str, ...]] = []
    for i in range(n_rows):
        group = tuple(dim_cols[d][i] for d in group_dims)
        if has_keys:
            ln: tuple[str, ...] = ("k", str(data.at[i, "n_key"]))
            lb: tuple[str, ...] = ("k", str(data.at[i, "N_key"]))
        else:
            ln = ("n", *(dim_cols[d][i] for d in dims))
            lb = ("P" if category[i] == NOT_REGISTERED else "N", *group)
        local_n.append(ln)
        local_big.append(lb)
        is_known = bool(known(areas[i])) if known is not None and has_area else False
        n_idx[i] = cells.add((areas[i], prefixes[i], ln), n_values[i], is_known)
        big_idx[i] = cells.add((areas[i], prefixes[i], lb), big_values[i], is_known)

    relations: list[tuple[int, list[int]]] = []
    if spec.kind in ("single", "multi"):
        by_group: dict[Hashable, dict[str, list[int]]] = {}
        for i in range(n_rows):
            key = (areas[i], prefixes[i], tuple(dim_cols[d][i] for d in group_dims))
            slot = by_group.setdefault(key, {"reg": [], "missing": []})
            slot["missing" if category[i] == NOT_REGISTERED else "reg"].append(i)
        for slot in by_group.values():
            reg, missing = slot["reg"], slot["missing"]
            if spec.kind == "single" and reg:
                total = int(big_idx[reg[0]])
                parts = sorted({int(n_idx[i]) for i in reg} - {total})
                if parts:
                    relations.append((total, parts))
            if missing and reg:
                total = int(big_idx[missing[0]])
                parts = sorted({int(big_idx[reg[0]]), int(n_idx[missing[0]])} - {total})
                relations.append((total, parts))
    if has_area and parents is not None:
        children: dict[tuple[Area, tuple[str, ...], tuple[str, ...]], list[int]] = {}
        for cell_key, idx in cells.index.items():
            area, prefix, local = cast(tuple[Area, tuple[str, ...], tuple[str, ...]], cell_key)
            parent = parents.get(area)
            if parent is not None:
                children.setdefault((parent, prefix, local), []).append(idx)
        for parent_key, parts in children.items():
            found = cells.index.get(parent_key)
            if found is not None:
                relations.append((found, sorted(parts)))

    values = np.array(cells.values, dtype=np.int64)
    fixed = np.array(cells.fixed, dtype=bool)
    hidden = (values > 0) & (values < threshold) & ~fixed
    if spec.kind == "mean":
        # n is a sum over the N cases, not a count of people: only N is tested.
        hidden[n_idx] = False
        hidden[big_idx] = (values[big_idx] > 0) & (values[big_idx] < threshold) & ~fixed[big_idx]
    if spec.kind == "multi":
        rest = np.array(big_values) - np.array(n_values)
        options = np.array([c != NOT_REGISTERED for c in category], dtype=bool)
        small_rest = options & (rest > 0) & (rest < threshold) & ~fixed[n_idx]
        hidden[n_idx[small_rest]] = True
    links = list(zip(n_idx.tolist(), big_idx.tolist(), strict=True)) if spec.kind == "mean" else []

    changed = True
    while changed:
        changed = False
        for total, parts in relations:
            if _settle(total, parts, values, hidden, fixed, threshold):
                changed = True
        for a, b in links:
            if hidden[a] != hidden[b]:
                for c in (a, b):
                    if not hidden[c] and not fixed[c]:
                        hidden[c] = True
                        changed = True

    out = data.copy()
    n_hidden = hidden[n_idx]
    big_hidden = hidden[big_idx]
    out["n"] = out["n"].astype("Int64").mask(n_hidden)
    out["N"] = out["N"].astype("Int64").mask(big_hidden)
    value = "mean" if spec.kind == "mean" else "percent"
    out[value] = out[value].astype("Float64").mask(n_hidden | big_hidden)
    out["suppressed"] = n_hidden
    out["N_suppressed"] = big_hidden
    return table.with_data(out)


def _settle(
    total: int,
    parts: list[int],
    values: np.ndarray,
    hidden: np.ndarray,
    fixed: np.ndarray,
    threshold: int,
) -> bool:
    """Hide one more cell of the relation if it is not yet safe."""
    hidden_parts = [p for p in parts if hidden[p]]
    count = len(hidden_parts) + int(hidden[total])
    if count == 0:
        return False
    unsafe = count == 1
    if not unsafe and not hidden[total]:
        room = int(values[hidden_parts].sum()) - len(hidden_parts)
        unsafe = room < threshold
    if not unsafe:
        return False
    candidates = [p for p in parts if not hidden[p] and not fixed[p] and values[p] > 0]
    if candidates:
        pick = min(candidates, key=lambda p: (values[p], p))
        hidden[pick] = True
        return True
    if not hidden[total] and not fixed[total]:
        hidden[total] = True
        return True
    return False


def combine_years(table: Table, year: str = "year") -> Table:
    """Several protected years as one period: each cell is the sum of the
    yearly cells and is hidden when any of them is, so a period reveals
    nothing the single years do not."""
    data = table.data
    if year not in data.columns:
        return table
    by = tuple(b for b in table.by if b != year)
    keys = [*by, *table.spec.dims]
    extra = [c for c in ("n_key", "N_key") if c in data.columns]
    fast = _combine_blocks(table, year, by, keys, extra)
    if fast is not None:
        return fast
    work = data.assign(
        _n=data["n"].astype("Int64").fillna(0).astype("int64"),
        _N=data["N"].astype("Int64").fillna(0).astype("int64"),
    )
    aggregations: dict[str, tuple[str, str]] = {
        "n": ("_n", "sum"),
        "N": ("_N", "sum"),
    }
    if "suppressed" in data.columns:
        aggregations["suppressed"] = ("suppressed", "any")
        aggregations["N_suppressed"] = ("N_suppressed", "any")
    for column in extra:
        aggregations[column] = (column, "first")
    out = work.groupby(keys, observed=True, sort=True).agg(**aggregations).reset_index()
    out["n"] = out["n"].astype("Int64")
    out["N"] = out["N"].astype("Int64")
    if table.spec.kind == "mean":
        out["mean"] = mean_of(out["n"], out["N"])
        value = "mean"
    else:
        out["percent"] = percent_of(out["n"], out["N"])
        value = "percent"
    if "suppressed" in out.columns:
        n_hidden = out["suppressed"].astype(bool)
        big_hidden = out["N_suppressed"].astype(bool)
        out["n"] = out["n"].mask(n_hidden)
        out["N"] = out["N"].mask(big_hidden)
        out[value] = out[value].mask(n_hidden | big_hidden)
        columns = [*keys, "n", "N", value, "suppressed", "N_suppressed", *extra]
    else:
        columns = [*keys, "n", "N", value, *extra]
    return table.with_data(out[columns], by=by)


def _combine_blocks(
    table: Table, year: str, by: tuple[str, ...], keys: list[str], extra: list[str]
) -> Table | None:
    """Fast path: years as equal, identically ordered blocks (what rollup makes)."""
    data = table.data.reset_index(drop=True)
    codes, years = pd.factorize(data[year])
    count = len(years)
    if count == 0 or len(data) % count:
        return None
    rows = len(data) // count
    if not np.array_equal(codes, np.repeat(np.arange(count), rows)):
        return None
    block = data.loc[: rows - 1, [*keys, *extra]].reset_index(drop=True)
    for key in keys:
        key_codes = pd.factorize(data[key])[0].reshape(count, rows)
        if not (key_codes == key_codes[0]).all():
            return None

    def summed(column: str) -> np.ndarray:
        values = data[column].astype("Int64").fillna(0).to_numpy(dtype=np.int64)
        result: np.ndarray = values.reshape(count, rows).sum(axis=0)
        return result

    out = block
    out["n"] = pd.array(summed("n"), dtype="Int64")
    out["N"] = pd.array(summed("N"), dtype="Int64")
    value = "mean" if table.spec.kind == "mean" else "percent"
    out[value] = (mean_of if value == "mean" else percent_of)(out["n"], out["N"])
    columns = [*keys, "n", "N", value]
    if "suppressed" in data.columns:
        n_hidden = pd.Series(
            data["suppressed"].to_numpy(dtype=bool).reshape(count, rows).any(axis=0),
            index=out.index,
        )
        big_hidden = pd.Series(
            data["N_suppressed"].to_numpy(dtype=bool).reshape(count, rows).any(axis=0),
            index=out.index,
        )
        out["n"] = out["n"].mask(n_hidden)
        out["N"] = out["N"].mask(big_hidden)
        out[value] = out[value].mask(n_hidden | big_hidden)
        out["suppressed"] = n_hidden
        out["N_suppressed"] = big_hidden
        columns += ["suppressed", "N_suppressed"]
    return table.with_data(out[[*columns, *extra]], by=by)
