"""Disclosure control (ACCEPTANCE D1–D3): primary and secondary suppression,
hierarchies of areas, multi-year periods, known cells. The property tests
attack the published tables with their own margins, independently of how
``protect`` chose what to hide."""

from __future__ import annotations

from typing import Any

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from exporters.codebook import Label
from exporters.compare import parents, rollup
from exporters.definitions import NOT_REGISTERED
from exporters.disclosure import protect
from exporters.spec import Table, TableSpec
from exporters.tables import keyed, multi_counts, single_counts

THRESHOLD = 7
CATS = ["a", "b", "c", "d"]
COUNTY_OF = {"0101": "01", "0102": "01", "0103": "01", "0201": "02"}
SPEC = TableSpec("t", Label("T", "T"), None, Label("N", "N"), "single", ("cat",), "cat")
MULTI = TableSpec("m", Label("M", "M"), None, Label("N", "N"), "multi", ("opt",), "opt")


def frame_from_counts(counts: dict[tuple[int, str], list[int]], missing: int = 0) -> pd.DataFrame:
    """Cases: for each (year, municipality), ``counts`` per category, plus
    ``missing`` cases without the variable in each."""
    records = []
    for (year, muni), per_cat in counts.items():
        for cat, k in zip(CATS, per_cat, strict=True):
            records += [{"year": year, "municipality_code": muni, "cat": cat}] * k
        records += [{"year": year, "municipality_code": muni, "cat": None}] * missing
    df = pd.DataFrame(records, columns=["year", "municipality_code", "cat"])
    df["cat"] = pd.Categorical(df["cat"], categories=CATS)
    return df


def single_table(df: pd.DataFrame, not_registered: bool = True) -> Table:
    by = ["year", "municipality_code"]
    data = single_counts(df, by, keyed(df["cat"]), "cat", not_registered=not_registered)
    return Table(SPEC, data, by=tuple(by))


def protected(df: pd.DataFrame, known: str | None = None, not_registered: bool = True) -> Table:
    rolled = rollup(single_table(df, not_registered), COUNTY_OF)
    return protect(
        rolled,
        THRESHOLD,
        parents=parents(COUNTY_OF),
        known=(lambda area: area == ("municipality", known)) if known else None,
    )


def cells(table: Table) -> dict[tuple[object, ...], tuple[int, bool]]:
    """(year, level, code, cat, 'n'|'N') -> (true value, hidden), from the
    unprotected values kept aside by the test."""
    out: dict[tuple[object, ...], tuple[int, bool]] = {}
    for r in table.data.to_dict("records"):
        base = (r["year"], str(r["area_level"]), str(r["area_code"]))
        out[(*base, str(r["cat"]), "n")] = (r["_n"], bool(r["suppressed"]))
        kind = "P" if str(r["cat"]) == NOT_REGISTERED else "N"
        out[(*base, kind)] = (r["_N"], bool(r["N_suppressed"]))
    return out


def at(table: Table, level: str, code: str, cat: str) -> dict[str, Any]:
    d = table.data
    mask = (
        (d["area_level"].astype(str) == level)
        & (d["area_code"].astype(str) == code)
        & (d["cat"].astype(str) == cat)
    )
    found: dict[str, Any] = {str(k): v for k, v in d[mask].iloc[0].to_dict().items()}
    return found


def relations(table: Table) -> list[tuple[tuple[object, ...], list[tuple[object, ...]]]]:
    """Every additive relation a reader of the table can write down."""
    keys = cells(table)
    out: list[tuple[tuple[object, ...], list[tuple[object, ...]]]] = []
    areas = {(k[0], k[1], k[2]) for k in keys}
    for base in areas:
        out.append(((*base, "N"), [(*base, c, "n") for c in CATS]))
        if (*base, "P") in keys:
            out.append(((*base, "P"), [(*base, "N"), (*base, NOT_REGISTERED, "n")]))
    hierarchy = parents(COUNTY_OF)
    children: dict[tuple[object, ...], list[tuple[object, ...]]] = {}
    for key in keys:
        parent = hierarchy.get((str(key[1]), str(key[2])))
        if parent is not None:
            children.setdefault((key[0], *parent, *key[3:]), []).append(key)
    for total, parts in children.items():
        if total in keys:
            out.append((total, parts))
    return out


def attack(table: Table) -> list[str]:
    """Problems a reader could exploit: a published count under the
    threshold, a hidden cell solved exactly from the margins (peeling), or a
    relation that bounds a hidden cell below the threshold."""
    truth = cells(table)
    problems = [
        f"small published {k}" for k, (v, h) in truth.items() if not h and 0 < v < THRESHOLD
    ]
    known = {k: v for k, (v, h) in truth.items() if not h}
    rels = relations(table)
    progress = True
    while progress:
        progress = False
        for total, parts in rels:
            members = [total, *parts]
            unknown = [m for m in members if m not in known]
            if len(unknown) == 1:
                m = unknown[0]
                rest = sum(known[p] for p in parts if p in known)
                known[m] = known[total] - rest if m != total else rest
                problems.append(f"recovered {m}")
                progress = True
    for total, parts in rels:
        if total not in known:
            continue
        hidden = [p for p in parts if p not in known]
        if hidden:
            room = known[total] - sum(known[p] for p in parts if p in known)
            if room - (len(hidden) - 1) < THRESHOLD:
                problems.append(f"bounded {hidden}")
    return problems


def with_truth(df: pd.DataFrame, known: str | None = None) -> Table:
    plain = rollup(single_table(df), COUNTY_OF)
    safe = protected(df, known)
    data = safe.data.assign(_n=plain.data["n"].astype(int), _N=plain.data["N"].astype(int))
    return safe.with_data(data)


counts_strategy = st.dictionaries(
    st.tuples(st.sampled_from([2022, 2023]), st.sampled_from(sorted(COUNTY_OF))),
    st.lists(st.integers(0, 30), min_size=4, max_size=4),
    min_size=1,
    max_size=8,
)


@settings(max_examples=30, deadline=None)
@given(counts=counts_strategy, missing=st.integers(0, 9))
def test_d2_no_hidden_cell_can_be_recovered(
    counts: dict[tuple[int, str], list[int]], missing: int
) -> None:
    table = with_truth(frame_from_counts(counts, missing))
    assert attack(table) == []


@settings(max_examples=10, deadline=None)
@given(counts=counts_strategy)
def test_d2_percent_hidden_with_its_count_and_every_percent_has_its_n(
    counts: dict[tuple[int, str], list[int]],
) -> None:
    data = protected(frame_from_counts(counts)).data
    shown = data["percent"].notna()
    assert data.loc[shown, "N"].notna().all()
    assert data.loc[shown, "n"].notna().all()
    assert data.loc[data["suppressed"], "n"].isna().all()
    assert data.loc[data["suppressed"], "percent"].isna().all()
    assert data.loc[data["N_suppressed"], "N"].isna().all()
    # A hidden count is marked, never a silent 0.
    assert not ((data["n"] == 0) & data["suppressed"]).any()


def test_d1_county_aggregate_hides_a_municipalitys_three_case_cell() -> None:
    counts = {(2023, "0101"): [3, 40, 20, 12], (2023, "0102"): [15, 30, 22, 9]}
    table = protected(frame_from_counts(counts))
    cell = at(table, "municipality", "0101", "a")
    assert bool(cell["suppressed"])
    assert pd.isna(cell["n"])
    assert pd.isna(cell["percent"])
    assert cell["N"] == 75
    assert not bool(cell["N_suppressed"])
    # Secondary: the municipality's next cell is hidden too, and across the county
    # another municipality's "a" cell, so the county total cannot be differenced.
    assert int(table.data["suppressed"][table.data["area_code"] == "0101"].sum()) >= 2
    assert bool(at(table, "municipality", "0102", "a")["suppressed"])
    county = at(table, "county", "01", "a")
    assert county["n"] == 18
    assert not bool(county["suppressed"])


def test_d3_county_with_one_municipality_cannot_be_differenced() -> None:
    # County 02 has one municipality: its total equals the municipality's cell.
    table = with_truth(
        frame_from_counts({(2023, "0201"): [2, 30, 30, 30], (2023, "0101"): [50, 50, 50, 50]})
    )
    assert bool(at(table, "municipality", "0201", "a")["suppressed"])
    assert bool(at(table, "county", "02", "a")["suppressed"])
    assert attack(table) == []


def test_known_municipality_is_never_hidden_and_others_stay_protected() -> None:
    counts = {(2023, "0101"): [3, 40, 20, 12], (2023, "0102"): [2, 30, 22, 9]}
    table = with_truth(frame_from_counts(counts), known="0101")
    own = table.data[table.data["area_code"] == "0101"]
    assert not own["suppressed"].any()
    assert not own["N_suppressed"].any()
    assert bool(at(table, "municipality", "0102", "a")["suppressed"])
    # With 0101 known, county "a" minus 0101's 3 would give 0102's 2: hidden.
    assert bool(at(table, "county", "01", "a")["suppressed"])


def test_multi_choice_hides_small_complements() -> None:
    df = pd.DataFrame({"x": [True] * 20 + [False] * 3, "y": [True] * 10 + [False] * 13})
    data = multi_counts(
        df,
        [],
        {"x": df["x"], "y": df["y"]},
        pd.Series(True, index=df.index),
        "opt",
        not_registered=False,
    )
    safe = protect(Table(MULTI, data), THRESHOLD).data.set_index("opt")
    assert bool(safe.loc["x", "suppressed"])  # 3 cases without x among N = 23
    assert not bool(safe.loc["y", "suppressed"])
    assert safe.loc["y", "n"] == 10


def test_threshold_is_configurable() -> None:
    counts = {(2023, "0101"): [3, 40, 20, 12]}
    df = frame_from_counts(counts)
    rolled = rollup(single_table(df), {"0101": "01"})
    lenient = protect(rolled, 3, parents=parents({"0101": "01"})).data
    assert not lenient["suppressed"].any()
