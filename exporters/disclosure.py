"""Disclosure control (röjandeskydd): a separate last step (ACCEPTANCE D1–D4).

Applied whenever the audience is outside the municipality, to a whole
publication at once (:func:`protect_release`): every count that appears in
any table, area or period of the output, and ``meta.excluded``, is one
*cell* of one store, keyed by what it counts — period, area, and the name in
the rows' ``n_key``/``N_key`` (the set of cases: population, group, variable,
code; see :func:`exporters.tables.name_cells`). The same count in two tables
is one cell; different counts never share one. A table without names has
cells of its own (its dimensions).

Relations between cells (what a reader can add up):

* a single-choice table's categories add up to N (the funnel's "ej
  registrerad" is a category of its step), and N plus the not-registered
  count adds up to the population;
* a multi-choice option's n ≤ N (and N − n is a count of its own);
* municipalities add up to their county and counties to the nation;
* with tables of the whole period and of its years in one publication,
  the years add up to the whole period.

*Primary* suppression hides counts 1 … threshold−1 (zeros are published, so
a hidden count is known to be ≥ 1), and a multi-choice option whose cases
without it (N − n) are that few. *Secondary* suppression is greedy: every
relation must have no hidden cell or at least two, and while its total is
published the hidden parts must leave each an interval at least as wide as
the threshold; the complement is the smallest published part (the total
only when no part can be; between two counties the nation's cell rather
than the other county's). Then an *audit* bounds every small hidden count
from all relations together (interval propagation) and gives one bounded
narrower than the threshold one more complement — the smallest published
cell within reach — and settles again. Percentages built on a hidden n or N
are hidden. Cells the audience already knows (a coordinator's own
municipality) are never hidden, and never chosen to protect another cell.

A hidden value becomes ``<NA>`` with its flag set (``suppressed`` for n and
percent, ``N_suppressed`` for N); writers show it as ``..``. Never a 0.
``tests/unit/test_disclosure_attack.py`` attacks a release with exact
integer bounds (see docs/compilation.md for what it checks, and the limits).
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from exporters.definitions import NOT_REGISTERED
from exporters.spec import Table

DEFAULT_THRESHOLD = 7
SUPPRESSED_MARK = ".."

Area = tuple[str, str]
"""(area_level, area_code), e.g. ("municipality", "0180"), ("county", "01"), ("nation", "SE")."""


def _codes(values: pd.Series) -> tuple[np.ndarray, int]:
    """Dense integer codes of a column (equal values, equal codes; a missing
    value is a value of its own) and how many there are."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        size = len(values.cat.categories) + 1
        codes = np.asarray(values.cat.codes, dtype=np.int64)
        return np.where(codes < 0, size - 1, codes), size
    found, uniques = pd.factorize(values, use_na_sentinel=False)
    return np.asarray(found, dtype=np.int64), max(len(uniques), 1)


def _combined(parts: list[tuple[np.ndarray, int]]) -> np.ndarray:
    """One int64 key from several coded columns (mixed radix)."""
    key = np.zeros(len(parts[0][0]) if parts else 0, dtype=np.int64)
    for codes, size in parts:
        key = key * size + codes
    return key


@dataclass
class _Relations:
    """Additive relations (a total and its parts) as flat arrays, in the
    order they are settled."""

    totals: np.ndarray
    starts: np.ndarray
    parts: np.ndarray
    total_first: np.ndarray | None = None
    """Where a complement is taken from the total before the parts (a county
    with a single other county: hiding it would hide a whole region's
    count to protect one cell of another; the nation's is hidden instead)."""

    def prefers_total(self) -> np.ndarray:
        if self.total_first is None:
            return np.zeros(len(self.totals), dtype=bool)
        return self.total_first

    @staticmethod
    def concat(items: list[_Relations]) -> _Relations:
        totals = np.concatenate([r.totals for r in items])
        parts = np.concatenate([r.parts for r in items])
        starts = [np.zeros(1, dtype=np.int64)]
        offset = 0
        for r in items:
            starts.append(r.starts[1:] + offset)
            offset += int(r.starts[-1])
        first = np.concatenate([r.prefers_total() for r in items])
        return _Relations(totals, np.concatenate(starts), parts, first)


def _csr(group: np.ndarray, members: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray]:
    """Members sorted by (group, member), and each group's start offset."""
    order = np.lexsort((members, group))
    sizes = np.bincount(group, minlength=count)
    return members[order], np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)


def protect(
    table: Table,
    threshold: int = DEFAULT_THRESHOLD,
    *,
    parents: Mapping[Area, Area] | None = None,
    known: Callable[[Area], bool] | None = None,
) -> Table:
    """One table as a publication of its own (see :func:`protect_release`)."""
    return protect_release([table], threshold, parents=parents, known=known)[0]


@dataclass
class _Rows:
    """One table's rows in the cell store."""

    data: pd.DataFrame
    area: np.ndarray
    period: np.ndarray
    n_what: np.ndarray
    big_what: np.ndarray
    n_idx: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    big_idx: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))


def _first_rows(codes: np.ndarray, count: int) -> np.ndarray:
    first = np.full(count, len(codes), dtype=np.int64)
    np.minimum.at(first, codes, np.arange(len(codes)))
    return first


def _index(
    frame: pd.DataFrame, columns: list[str], index: dict[tuple[str, ...], int]
) -> np.ndarray:
    """Each row's entry in ``index`` (added when new) for the values of ``columns``."""
    if not columns:
        return np.full(len(frame), index.setdefault((), len(index)), dtype=np.int64)
    local, uniques = pd.factorize(_combined([_codes(frame[c]) for c in columns]), sort=False)
    local = np.asarray(local, dtype=np.int64)
    first = _first_rows(local, len(uniques))
    values = [frame[c].astype("object").to_numpy()[first] for c in columns]
    lut = np.array(
        [index.setdefault(tuple(str(v[i]) for v in values), len(index)) for i in range(len(first))],
        dtype=np.int64,
    )
    return lut[local] if len(lut) else np.zeros(0, np.int64)


def _whats(
    table: Table, data: pd.DataFrame, number: int, index: dict[object, int]
) -> tuple[np.ndarray, np.ndarray]:
    """Each row's n and N: what they count, as ids in ``index`` (shared by
    every table). Named cells (``n_key``/``N_key``) are shared between tables;
    a table without names has cells of its own (its dimensions)."""
    n_rows = len(data)
    if "n_key" in data.columns and "N_key" in data.columns:
        named = []
        for column in ("n_key", "N_key"):
            codes, names = pd.factorize(data[column], sort=False)
            lut = np.array([index.setdefault(str(u), len(index)) for u in names], dtype=np.int64)
            named.append(lut[np.asarray(codes, dtype=np.int64)] if len(lut) else codes)
        return named[0], named[1]
    spec = table.spec
    dims = list(spec.dims)
    dim_codes = {d: _codes(data[d]) for d in dims}
    missing_row = np.asarray(data[spec.category].astype("object") == NOT_REGISTERED, dtype=bool)
    zero = np.zeros(n_rows, dtype=np.int64)
    # n: every dimension; N (or the population P): the group's dimensions,
    # the category's place held by 0. The last digit tells n, P and N apart.
    n_local = _combined([*(dim_codes[d] for d in dims), (zero, 3)])
    big_local = _combined(
        [
            *((zero, dim_codes[d][1]) if d == spec.category else dim_codes[d] for d in dims),
            (np.where(missing_row, 1, 2).astype(np.int64), 3),
        ]
    )
    local, local_keys = pd.factorize(np.concatenate([n_local, big_local]), sort=False)
    lut = np.array(
        [index.setdefault((number, int(u)), len(index)) for u in local_keys], dtype=np.int64
    )
    ids = lut[np.asarray(local, dtype=np.int64)] if len(lut) else np.zeros(0, np.int64)
    return ids[:n_rows], ids[n_rows:]


def protect_release(
    tables: Sequence[Table],
    threshold: int = DEFAULT_THRESHOLD,
    *,
    parents: Mapping[Area, Area] | None = None,
    known: Callable[[Area], bool] | None = None,
) -> list[Table]:
    """Protect the tables of one publication together; returns new tables.

    ``parents``: the area hierarchy (child -> parent) for tables with
    ``area_level``/``area_code`` columns (:func:`exporters.compare.rollup`).
    ``known``: areas whose cells the audience knows anyway (never hidden).
    Tables of the whole period (no period column) and of its years (a
    ``year`` in ``by``) are related: the years add up to the whole period.
    """
    if threshold < 1:
        raise ValueError("threshold must be at least 1")
    areas: dict[tuple[str, ...], int] = {}
    periods: dict[tuple[str, ...], int] = {}
    whats: dict[object, int] = {}
    rows: list[_Rows] = []
    for number, table in enumerate(tables):
        data = table.data.reset_index(drop=True)
        has_area = "area_level" in data.columns and "area_code" in data.columns
        area = _index(data, ["area_level", "area_code"] if has_area else [], areas)
        other_by = [b for b in table.by if b not in ("area_level", "area_code")]
        period = _index(data, other_by, periods)
        n_what, big_what = _whats(table, data, number, whats)
        rows.append(_Rows(data, area, period, n_what, big_what))
    n_areas, n_whats = max(len(areas), 1), max(len(whats), 1)

    def cell_key(r: _Rows, what: np.ndarray) -> np.ndarray:
        key: np.ndarray = (r.period * n_areas + r.area) * n_whats + what
        return key

    all_keys = np.concatenate(
        [
            np.stack([cell_key(r, r.n_what), cell_key(r, r.big_what)], axis=1).reshape(-1)
            for r in rows
        ]
        or [np.zeros(0, np.int64)]
    )
    all_values = np.concatenate(
        [
            np.stack(
                [
                    r.data["n"].astype("Int64").fillna(0).to_numpy(dtype=np.int64),
                    r.data["N"].astype("Int64").fillna(0).to_numpy(dtype=np.int64),
                ],
                axis=1,
            ).reshape(-1)
            for r in rows
        ]
        or [np.zeros(0, np.int64)]
    )
    ids, cell_keys = pd.factorize(all_keys, sort=False)
    ids = np.asarray(ids, dtype=np.int64)
    cell_keys = np.asarray(cell_keys, dtype=np.int64)
    n_cells = len(cell_keys)
    values = all_values[_first_rows(ids, n_cells)] if n_cells else np.zeros(0, np.int64)
    highest = np.full(n_cells, np.iinfo(np.int64).min, dtype=np.int64)
    np.maximum.at(highest, ids, all_values)
    lowest = np.full(n_cells, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(lowest, ids, all_values)
    if (highest != lowest).any():
        raise ValueError("two different counts have the same name (n_key/N_key)")
    offset = 0
    for r in rows:
        count = len(r.data)
        r.n_idx = ids[offset : offset + 2 * count : 2]
        r.big_idx = ids[offset + 1 : offset + 2 * count : 2]
        offset += 2 * count

    area_list = sorted(areas, key=areas.__getitem__)
    area_known = np.array(
        [
            bool(known((a[0], a[1]))) if known is not None and len(a) == 2 else False
            for a in area_list
        ]
        or [False],
        dtype=bool,
    )
    cell_area = (cell_keys // n_whats) % n_areas
    cell_period = cell_keys // (n_whats * n_areas)
    fixed = area_known[cell_area]
    hidden = (values > 0) & (values < threshold) & ~fixed
    links_a: list[np.ndarray] = []
    links_b: list[np.ndarray] = []
    options_n: list[np.ndarray] = [np.zeros(0, np.int64)]
    options_big: list[np.ndarray] = [np.zeros(0, np.int64)]
    relations: list[_Relations] = []
    for table, r in zip(tables, rows, strict=True):
        kind = table.spec.kind
        if kind == "mean":
            # n is a sum over the N cases, not a count of people: only N is
            # tested, and n is hidden with N.
            hidden[r.n_idx] = False
            links_a.append(r.n_idx)
            links_b.append(r.big_idx)
        if kind == "multi":
            options = np.asarray(
                r.data[table.spec.category].astype("object") != NOT_REGISTERED, dtype=bool
            )
            rest = values[r.big_idx] - values[r.n_idx]
            small_rest = (
                options & (values[r.n_idx] > 0) & (rest > 0) & (rest < threshold) & ~fixed[r.n_idx]
            )
            hidden[r.n_idx[small_rest]] = True
            options_n.append(r.n_idx[options & (values[r.n_idx] > 0)])
            options_big.append(r.big_idx[options & (values[r.n_idx] > 0)])
        if kind in ("single", "multi") and len(r.data):
            relations.append(_table_relations(table, r))
    if parents is not None and n_cells:
        index = {a: i for i, a in enumerate(area_list)}
        parent_area = np.array(
            [
                index.get(tuple(parents[(a[0], a[1])]), -1)
                if len(a) == 2 and (a[0], a[1]) in parents
                else -1
                for a in area_list
            ]
            or [-1],
            dtype=np.int64,
        )
        # Counties with a single other county: the nation's cell is hidden
        # rather than the other county's (a region's whole publication).
        county = np.array([len(a) == 2 and a[0] == "county" for a in area_list] or [False])
        relations.append(
            _hierarchy(cell_keys, parent_area[cell_area], cell_area, n_whats, county[cell_area])
        )
    if len(periods) > 1 and n_cells:
        whole = periods.get(())
        if whole is not None:
            parent_period = np.array(
                [whole if len(p) else -1 for p in sorted(periods, key=periods.__getitem__)],
                dtype=np.int64,
            )
            relations.append(
                _hierarchy(cell_keys, parent_period[cell_period], cell_period, n_whats * n_areas)
            )
    rel = (
        _Relations.concat(relations)
        if relations
        else _Relations(np.zeros(0, np.int64), np.zeros(1, np.int64), np.zeros(0, np.int64))
    )
    links = (
        (np.concatenate(links_a), np.concatenate(links_b))
        if links_a
        else (np.zeros(0, np.int64), np.zeros(0, np.int64))
    )
    # What must stay uncertain: the small counts hidden so far (primary,
    # multi-choice complements).
    sensitive = hidden.copy()
    at_most = (np.concatenate(options_n), np.concatenate(options_big))
    _settle_all(rel, links, values, hidden, fixed, threshold)
    _audit(rel, links, at_most, values, hidden, fixed, sensitive, threshold)

    out = []
    for table, r in zip(tables, rows, strict=True):
        data = r.data.copy()
        n_hidden = hidden[r.n_idx]
        big_hidden = hidden[r.big_idx]
        data["n"] = data["n"].astype("Int64").mask(n_hidden)
        data["N"] = data["N"].astype("Int64").mask(big_hidden)
        value = "mean" if table.spec.kind == "mean" else "percent"
        if value in data.columns:
            data[value] = data[value].astype("Float64").mask(n_hidden | big_hidden)
        data["suppressed"] = n_hidden
        data["N_suppressed"] = big_hidden
        out.append(table.with_data(data))
    return out


def _hierarchy(
    cell_keys: np.ndarray,
    parent_of_cell: np.ndarray,
    level_of_cell: np.ndarray,
    stride: int,
    total_first: np.ndarray | None = None,
) -> _Relations:
    """Parent cell = the sum of its children: the same key with the parent's
    area (or period) in place of the child's; ``stride`` is the place value
    of that part of the key."""
    n_cells = len(cell_keys)
    parent_key = cell_keys + (np.maximum(parent_of_cell, 0) - level_of_cell) * stride
    found = pd.Index(cell_keys).get_indexer(pd.Index(parent_key))
    found = np.where(parent_of_cell >= 0, found, -1)
    child = np.flatnonzero(found >= 0)
    if not len(child):
        return _Relations(np.zeros(0, np.int64), np.zeros(1, np.int64), np.zeros(0, np.int64))
    parent_cells = found[child]
    order_rel, rel_ids = np.unique(parent_cells, return_inverse=True)
    first_child = np.full(len(order_rel), n_cells, dtype=np.int64)
    np.minimum.at(first_child, rel_ids, child)
    rank = np.argsort(np.argsort(first_child, kind="stable"), kind="stable")
    members, starts = _csr(rank[rel_ids], child, len(order_rel))
    totals = np.empty(len(order_rel), dtype=np.int64)
    totals[rank] = order_rel
    first = None
    if total_first is not None:
        first = (np.diff(starts) == 2) & total_first[members[starts[:-1]]]
    return _Relations(totals, starts, members, first)


def _table_relations(table: Table, r: _Rows) -> _Relations:
    """Within a table, per group of rows (same period, area and group
    dimensions): a single-choice table's categories add up to N, and N plus
    the not-registered count adds up to the population."""
    data = r.data
    spec = table.spec
    n_rows = len(data)
    group_dims = [d for d in spec.dims if d != spec.category]
    missing_row = np.asarray(data[spec.category].astype("object") == NOT_REGISTERED, dtype=bool)
    n_idx, big_idx = r.n_idx, r.big_idx
    scope = [
        (r.period, int(r.period.max(initial=0)) + 1),
        (r.area, int(r.area.max(initial=0)) + 1),
    ]
    slot_key = _combined([*scope, *(_codes(data[d]) for d in group_dims)])
    slots, slot_uniques = pd.factorize(slot_key, sort=False)
    slots = np.asarray(slots, dtype=np.int64)
    n_slots = len(slot_uniques)
    rows = np.arange(n_rows)
    first_reg = np.full(n_slots, n_rows, dtype=np.int64)
    np.minimum.at(first_reg, slots[~missing_row], rows[~missing_row])
    first_missing = np.full(n_slots, n_rows, dtype=np.int64)
    np.minimum.at(first_missing, slots[missing_row], rows[missing_row])
    has_reg = first_reg < n_rows
    has_missing = first_missing < n_rows
    per_slot: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    if spec.kind == "single":
        total = np.where(has_reg, big_idx[np.minimum(first_reg, n_rows - 1)], -1)
        # A not-registered row with the categories' N is a category (the
        # funnel's "ej registrerad" of a step).
        reg_rows = rows[~missing_row | (big_idx == total[slots])]
        pairs = (
            np.unique(np.stack([slots[reg_rows], n_idx[reg_rows]], axis=1), axis=0)
            if len(reg_rows)
            else np.zeros((0, 2), dtype=np.int64)
        )
        # A category that is its own N (the funnel's first step) says nothing.
        selfish = pairs[:, 1] == total[pairs[:, 0]] if len(pairs) else np.zeros(0, bool)
        pairs = pairs[~np.isin(pairs[:, 0], pairs[selfish, 0])]
        sizes = np.bincount(pairs[:, 0], minlength=n_slots)
        per_slot.append((np.where(sizes > 0, total, -1), pairs[:, 0], pairs[:, 1]))
    cand_a = big_idx[np.minimum(first_reg, n_rows - 1)]
    # N + not registered = the population, where the not-registered row's N
    # is a population (the funnel's "ej registrerad" shares its step's N).
    both = has_reg & has_missing & (cand_a != big_idx[np.minimum(first_missing, n_rows - 1)])
    total_m = np.where(both, big_idx[np.minimum(first_missing, n_rows - 1)], -1)
    cand_b = n_idx[np.minimum(first_missing, n_rows - 1)]
    slot_ids = np.arange(n_slots)
    m_slots = np.concatenate([slot_ids[both], slot_ids[both]])
    m_parts = np.concatenate([cand_a[both], cand_b[both]])
    keep = m_parts != total_m[m_slots]
    m_pairs = (
        np.unique(np.stack([m_slots[keep], m_parts[keep]], axis=1), axis=0)
        if keep.any()
        else np.zeros((0, 2), dtype=np.int64)
    )
    per_slot.append((total_m, m_pairs[:, 0], m_pairs[:, 1]))
    # Interleave: relation 2·slot (+0 single, +1 missing), kept where it exists.
    count = len(per_slot)
    all_totals = np.full(n_slots * count, -1, dtype=np.int64)
    group_of, member_of = [], []
    for j, (totals, pslots, pcells) in enumerate(per_slot):
        all_totals[slot_ids * count + j] = totals
        group_of.append(pslots * count + j)
        member_of.append(pcells)
    exists = all_totals >= 0
    renumber = np.cumsum(exists) - 1
    group = np.concatenate(group_of)
    member = np.concatenate(member_of)
    members, starts = _csr(renumber[group], member, int(exists.sum()))
    return _Relations(all_totals[exists], starts, members)


def _intervals(
    rel: _Relations,
    at_most: tuple[np.ndarray, np.ndarray],
    values: np.ndarray,
    hidden: np.ndarray,
) -> np.ndarray:
    """What a reader can bound each cell to from the published cells and the
    relations (interval propagation until nothing changes): (lo, hi) per
    cell, hidden cells at least 1. Every value agreeing with what is
    published lies inside, so an interval narrower than the threshold here
    is at least as narrow for the reader."""
    lo = np.where(hidden, 1.0, values.astype(float))
    hi = np.where(hidden, np.inf, values.astype(float))
    # Only relations with a hidden cell can tell anything new.
    sizes = np.diff(rel.starts)
    all_segments = np.repeat(np.arange(len(rel.totals)), sizes)
    open_rel = hidden[rel.totals].copy()
    np.logical_or.at(open_rel, all_segments, hidden[rel.parts])
    keep_parts = open_rel[all_segments]
    totals, parts = rel.totals[open_rel], rel.parts[keep_parts]
    segment = (np.cumsum(open_rel) - 1)[all_segments[keep_parts]]
    for _round in range(64):
        before_lo, before_hi = lo.copy(), hi.copy()
        sum_lo = np.bincount(segment, weights=lo[parts], minlength=len(totals))
        finite = np.isfinite(hi[parts])
        sum_hi = np.bincount(
            segment, weights=np.where(finite, hi[parts], 0.0), minlength=len(totals)
        )
        open_parts = np.bincount(segment, weights=~finite, minlength=len(totals))
        np.maximum.at(lo, totals, sum_lo)
        np.minimum.at(hi, totals, np.where(open_parts > 0, np.inf, sum_hi))
        others_lo = sum_lo[segment] - lo[parts]
        part_hi = hi[totals][segment] - others_lo
        others_open = open_parts[segment] - ~finite
        others_hi = sum_hi[segment] - np.where(finite, hi[parts], 0.0)
        part_lo = np.where(others_open > 0, -np.inf, lo[totals][segment] - others_hi)
        np.minimum.at(hi, parts, part_hi)
        np.maximum.at(lo, parts, part_lo)
        # A multi-choice option: n ≤ N.
        np.minimum.at(hi, at_most[0], hi[at_most[1]])
        np.maximum.at(lo, at_most[1], lo[at_most[0]])
        if np.array_equal(lo, before_lo) and np.array_equal(hi, before_hi):
            break
    return np.stack([lo, hi])


def _audit(
    rel: _Relations,
    links: tuple[np.ndarray, np.ndarray],
    at_most: tuple[np.ndarray, np.ndarray],
    values: np.ndarray,
    hidden: np.ndarray,
    fixed: np.ndarray,
    sensitive: np.ndarray,
    threshold: int,
) -> None:
    """Check the greedy result against all relations at once: a small
    hidden count that the relations together bound to an interval narrower
    than the threshold gets one more complement, the smallest published
    cell within reach (relations linked through hidden cells), then the
    relations are settled again; until none is left (or none can help)."""
    # Within reach: the relations, and an option's n with its N.
    reach = _Relations.concat(
        [
            rel,
            _Relations(at_most[1], np.arange(len(at_most[0]) + 1, dtype=np.int64), at_most[0]),
        ]
    )
    n_rel = len(reach.totals)
    member_cells = np.concatenate([reach.totals, reach.parts])
    member_items = np.concatenate(
        [np.arange(n_rel), np.repeat(np.arange(n_rel), np.diff(reach.starts))]
    ).astype(np.int64)
    order = np.argsort(member_cells, kind="stable")
    items_of = member_items[order].tolist()
    bounds = np.searchsorted(member_cells[order], np.arange(len(values) + 1)).tolist()
    reach_totals = reach.totals.tolist()
    reach_parts = reach.parts.tolist()
    reach_starts = reach.starts.tolist()
    value_list = values.tolist()
    fixed_list = fixed.tolist()
    for _round in range(32):
        lo, hi = _intervals(rel, at_most, values, hidden)
        narrow_cells = sensitive & hidden & (hi - lo < threshold)
        # An option hidden for its small complement N − n: that difference's interval.
        rest = values[at_most[1]] - values[at_most[0]]
        rest_width = (hi[at_most[1]] - lo[at_most[0]]) - (lo[at_most[1]] - hi[at_most[0]])
        small_rest = (rest > 0) & (rest < threshold) & hidden[at_most[0]]
        narrow_cells[at_most[0][small_rest & (rest_width < threshold)]] = True
        narrow = np.flatnonzero(narrow_cells)
        if not len(narrow):
            return
        chosen: set[int] = set()
        hidden_list = hidden.tolist()
        for cell in narrow.tolist():
            seen_cells = {cell}
            frontier = [cell]
            best: tuple[int, int] | None = None
            for _depth in range(8):
                reached: list[int] = []
                for c in frontier:
                    for item in items_of[bounds[c] : bounds[c + 1]]:
                        members = [
                            reach_totals[item],
                            *reach_parts[reach_starts[item] : reach_starts[item + 1]],
                        ]
                        for m in members:
                            if m in seen_cells:
                                continue
                            seen_cells.add(m)
                            if hidden_list[m]:
                                reached.append(m)
                            elif (
                                not fixed_list[m]
                                and value_list[m] > 0
                                and (best is None or (value_list[m], m) < best)
                            ):
                                best = (value_list[m], m)
                if best is not None or not reached:
                    break
                frontier = reached
            if best is not None:
                chosen.add(best[1])
        if not chosen:
            return
        added = np.array(sorted(chosen), dtype=np.int64)
        hidden[added] = True
        _settle_all(rel, links, values, hidden, fixed, threshold, added)


def _settle_all(
    rel: _Relations,
    links: tuple[np.ndarray, np.ndarray],
    values_array: np.ndarray,
    hidden_array: np.ndarray,
    fixed_array: np.ndarray,
    threshold: int,
    changed: np.ndarray | None = None,
) -> None:
    """Settle every relation until all are safe, in passes over the relations
    in order and then the links (a mean's n and N are hidden together).

    Equivalent to re-checking every relation in every pass: a relation none
    of whose cells changed since it was last found safe is safe still, so
    only relations (and links) with a changed cell are checked again — in this
    pass when they come later in it, in the next pass otherwise."""
    n_rel = len(rel.totals)
    n_links = len(links[0])
    values = values_array.tolist()
    hidden = hidden_array.tolist()
    fixed = fixed_array.tolist()
    totals = rel.totals.tolist()
    total_first = rel.prefers_total().tolist()
    starts = rel.starts.tolist()
    parts_flat = rel.parts.tolist()
    link_a = links[0].tolist()
    link_b = links[1].tolist()
    # Cell -> the relations and links it is in.
    member_cells = np.concatenate([rel.totals, rel.parts, links[0], links[1]])
    member_items = np.concatenate(
        [
            np.arange(n_rel),
            np.repeat(np.arange(n_rel), np.diff(rel.starts)),
            n_rel + np.arange(n_links),
            n_rel + np.arange(n_links),
        ]
    ).astype(np.int64)
    order = np.argsort(member_cells, kind="stable")
    cells_sorted = member_cells[order]
    items_sorted = member_items[order].tolist()
    bounds = np.searchsorted(cells_sorted, np.arange(len(values) + 1)).tolist()

    # Pass 1 checks what could be unsafe: items with a hidden cell, unequal links.
    touched = np.zeros(n_rel + n_links, dtype=bool)
    # (``changed``: only these cells were hidden since the last settle.)
    hidden_cells = np.flatnonzero(hidden_array) if changed is None else changed
    if len(hidden_cells):
        mask = np.isin(member_cells, hidden_cells)
        touched[member_items[mask]] = True
    if n_links:
        touched[n_rel:] |= hidden_array[links[0]] != hidden_array[links[1]]
    current = [int(i) for i in np.flatnonzero(touched)]
    heapq.heapify(current)
    queued = set(current)
    following: set[int] = set()

    def hide(cell: int, position: int) -> None:
        hidden[cell] = True
        for item in items_sorted[bounds[cell] : bounds[cell + 1]]:
            if item > position:
                if item not in queued:
                    queued.add(item)
                    heapq.heappush(current, item)
            else:
                following.add(item)

    while current:
        while current:
            item = heapq.heappop(current)
            queued.discard(item)
            if item < n_rel:
                total = totals[item]
                parts = parts_flat[starts[item] : starts[item + 1]]
                hidden_parts = [p for p in parts if hidden[p]]
                count = len(hidden_parts) + hidden[total]
                if count == 0:
                    continue
                unsafe = count == 1
                if not unsafe and not hidden[total]:
                    room = sum(values[p] for p in hidden_parts) - len(hidden_parts)
                    unsafe = room < threshold
                if not unsafe:
                    continue
                candidates = [p for p in parts if not hidden[p] and not fixed[p] and values[p] > 0]
                if total_first[item] and not hidden[total] and not fixed[total]:
                    hide(total, item)
                elif candidates:
                    hide(min(candidates, key=lambda p: (values[p], p)), item)
                elif not hidden[total] and not fixed[total]:
                    hide(total, item)
            else:
                a, b = link_a[item - n_rel], link_b[item - n_rel]
                if hidden[a] != hidden[b]:
                    for c in (a, b):
                        if not hidden[c] and not fixed[c]:
                            hide(c, item)
        current = sorted(following)
        queued = set(current)
        following = set()
    hidden_array[:] = hidden
