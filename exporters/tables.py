"""The one engine that turns the analysis frame into the tables of Kapitel 2.

What the tables are — title, diagram, denominator, notes, chart, section and
which cases they count — is data (``variables/tables/*.yaml``, parsed by
:mod:`exporters.tabledefs`; the codebook carries it as ``codebook.tables``).
This module evaluates those definitions with numpy on the frame's columns:
a population is a boolean mask, never a copy of the frame, and the breakdown
(``by``: year, municipality, …) is factorised once per call, not per table.

Every table's data is tidy: ``by``, the table's dimensions, then n, N and
percent. Every category is a row, also when its count is 0. Percentages are
over N, the cases where the variable is registered; "not registered" is its
own row (``ej_registrerad``) whose N is the table's whole population.
Multi-choice percentages may sum to more than 100. Rounding is half up
(:mod:`exporters.rounding`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from exporters.codebook import Codebook, Label
from exporters.definitions import (
    AGE_BANDS,
    DEFAULT_DEFINITIONS,
    DURATION_BINS,
    NO,
    NO_LABEL,
    NOT_REGISTERED,
    NOT_REGISTERED_LABEL,
    OTHER,
    REGISTERED,
    REGISTERED_LABEL,
    YES,
    YES_LABEL,
    Condition,
    Definitions,
    GroupDef,
)
from exporters.rounding import round_half_up
from exporters.spec import Table
from exporters.tabledefs import (
    AreaGrouping,
    TableCatalogue,
    TableDef,
    TableDefinitionError,
    group_specs,
    label,
)

# --- Primitives ---------------------------------------------------------------


def percent(n: pd.Series, big_n: pd.Series, decimals: int = 1) -> pd.Series:
    """100·n/N rounded half up; <NA> where N is 0 or either is missing."""
    return _ratio(n, big_n, decimals, 100.0)


def mean(n: pd.Series, big_n: pd.Series, decimals: int = 2) -> pd.Series:
    return _ratio(n, big_n, decimals, 1.0)


def _ratio(n: pd.Series, big_n: pd.Series, decimals: int, scale: float) -> pd.Series:
    num = pd.to_numeric(n).astype("Float64").to_numpy(dtype=float, na_value=np.nan)
    den = pd.to_numeric(big_n).astype("Float64").to_numpy(dtype=float, na_value=np.nan)
    return pd.Series(percent_array(num, den, decimals, scale), index=n.index)


def percent_array(
    n: np.ndarray, big_n: np.ndarray, decimals: int = 1, scale: float = 100.0
) -> pd.array:  # type: ignore[valid-type]
    den = big_n.astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        raw = scale * n.astype(float) / den
        rounded = round_half_up(raw, decimals)
        valid = (den > 0) & ~np.isnan(raw)
    return pd.array(np.where(valid, rounded, np.nan), dtype="Float64")


def keyed(series: pd.Series, keys: Sequence[object] | None = None) -> pd.Series:
    """A Categorical whose categories are string keys ("1", "18–24", …)."""
    if isinstance(series.dtype, pd.CategoricalDtype):
        cats = [str(c) for c in series.cat.categories]
        out = series.cat.rename_categories(cats)
        if keys is not None:
            out = out.cat.set_categories([str(k) for k in keys])
        return out
    values = series.astype("object").map(lambda v: None if pd.isna(v) else str(v))
    categories = [str(k) for k in keys] if keys is not None else sorted(set(values.dropna()))
    return pd.Series(pd.Categorical(values, categories=categories), index=series.index)


@dataclass(frozen=True)
class _Groups:
    """Rows of the frame mapped to the cartesian product of the ``by`` levels
    (every category of a Categorical, the observed values of anything else);
    -1 where a ``by`` value is missing (the row belongs to no group)."""

    ids: np.ndarray
    names: list[str]
    levels: list[pd.Index]
    categorical: list[bool]

    @property
    def size(self) -> int:
        return int(np.prod([len(level) for level in self.levels])) if self.levels else 1

    def frame(self, repeat: int) -> pd.DataFrame:
        """The group columns, each group repeated ``repeat`` times."""
        columns: dict[str, object] = {}
        shape = [len(level) for level in self.levels]
        grid = np.indices(shape).reshape(len(shape), -1) if shape else np.zeros((0, 1), int)
        for i, name in enumerate(self.names):
            positions = np.repeat(grid[i], repeat)
            if self.categorical[i]:
                columns[name] = pd.Categorical.from_codes(positions, categories=self.levels[i])
            else:
                columns[name] = np.asarray(self.levels[i].take(positions))
        return pd.DataFrame(columns, index=range(self.size * repeat))

    def extend(self, name: str, codes: np.ndarray, level: pd.Index) -> _Groups:
        """One more breakdown (a categorical: ``codes`` index ``level``, -1 = none)."""
        valid = (self.ids >= 0) & (codes >= 0)
        ids = np.where(valid, self.ids * len(level) + np.where(codes >= 0, codes, 0), -1)
        return _Groups(ids, [*self.names, name], [*self.levels, level], [*self.categorical, True])


def _factorised(column: pd.Series) -> tuple[np.ndarray, pd.Index, bool]:
    if isinstance(column.dtype, pd.CategoricalDtype):
        return (
            np.asarray(column.cat.codes, dtype=np.int64),
            pd.Index(column.cat.categories),
            True,
        )
    codes, level = pd.factorize(column, sort=True)
    return np.asarray(codes, dtype=np.int64), pd.Index(level), False


def _combine(parts: Sequence[tuple[np.ndarray, pd.Index, bool]], names: Sequence[str]) -> _Groups:
    n = len(parts[0][0]) if parts else 0
    ids = np.zeros(n, dtype=np.int64)
    valid = np.ones(n, dtype=bool)
    for codes, level, _categorical in parts:
        valid &= codes >= 0
        ids = ids * len(level) + np.where(codes >= 0, codes, 0)
    return _Groups(
        np.where(valid, ids, -1),
        list(names),
        [level for _c, level, _k in parts],
        [categorical for _c, _l, categorical in parts],
    )


def _groups(df: pd.DataFrame, by: Sequence[str]) -> _Groups:
    if not by:
        return _Groups(np.zeros(len(df), dtype=np.int64), [], [], [])
    return _combine([_factorised(df[name]) for name in by], by)


def _assemble(
    groups: _Groups, dim: str, keys: list[str], n: np.ndarray, big_n: np.ndarray
) -> pd.DataFrame:
    """Group columns, the category column, n, N, percent; n and N are
    (groups × keys) arrays."""
    frame = groups.frame(len(keys))
    frame[dim] = pd.Categorical(np.tile(np.array(keys, dtype=object), groups.size), categories=keys)
    frame["n"] = pd.array(n.reshape(-1), dtype="Int64")
    frame["N"] = pd.array(big_n.reshape(-1), dtype="Int64")
    frame["percent"] = percent_array(n.reshape(-1), big_n.reshape(-1))
    return frame


def _count(groups: _Groups, rows: np.ndarray) -> np.ndarray:
    """Rows (a mask over the frame, all in some group) per group."""
    if groups.size == 1:
        return np.array([np.count_nonzero(rows)], dtype=np.int64)
    return np.bincount(groups.ids[rows], minlength=groups.size).astype(np.int64)


def _single(
    groups: _Groups,
    member: np.ndarray,
    codes: np.ndarray,
    keys: Sequence[str],
    dim: str,
    not_registered: bool,
) -> pd.DataFrame:
    keys = list(keys)
    k = len(keys)
    inside = member & (groups.ids >= 0)
    registered = inside & (codes >= 0)
    cells = (
        codes[registered] if groups.size == 1 else groups.ids[registered] * k + codes[registered]
    )
    counts = np.bincount(cells, minlength=groups.size * k).astype(np.int64)
    counts = counts.reshape(groups.size, k)
    big_n = np.repeat(counts.sum(axis=1, keepdims=True), k, axis=1)
    if not_registered:
        population = _count(groups, inside).reshape(-1, 1)
        counts = np.hstack([counts, population - big_n[:, :1]])
        big_n = np.hstack([big_n, population])
        keys = [*keys, NOT_REGISTERED]
    return _assemble(groups, dim, keys, counts, big_n)


def _multi(
    groups: _Groups,
    member: np.ndarray,
    indicators: Mapping[str, np.ndarray],
    registered: np.ndarray,
    dim: str,
    not_registered: bool,
) -> pd.DataFrame:
    inside = member & (groups.ids >= 0)
    base = inside & registered
    names = list(indicators)
    size = groups.size
    columns = [_count(groups, indicators[name] & base) for name in names]
    counts = np.column_stack(columns) if columns else np.zeros((size, 0), np.int64)
    reg_n = _count(groups, base).reshape(-1, 1)
    big_n = np.repeat(reg_n, len(names), axis=1)
    keys = list(names)
    if not_registered:
        population = _count(groups, inside).reshape(-1, 1)
        counts = np.hstack([counts, population - reg_n])
        big_n = np.hstack([big_n, population])
        keys.append(NOT_REGISTERED)
    return _assemble(groups, dim, keys, counts, big_n)


def _mean(
    groups: _Groups, member: np.ndarray, measures: Mapping[str, np.ndarray], dim: str
) -> pd.DataFrame:
    inside = member & (groups.ids >= 0)
    ids = groups.ids[inside]
    names = list(measures)
    size = groups.size
    sums = np.column_stack(
        [np.bincount(ids, weights=measures[name][inside], minlength=size) for name in names]
    ).astype(np.int64)
    population = _count(groups, inside).reshape(-1, 1)
    big_n = np.repeat(population, len(names), axis=1)
    frame = _assemble(groups, dim, names, sums, big_n)
    frame = frame.drop(columns="percent")
    frame["mean"] = percent_array(sums.reshape(-1), big_n.reshape(-1), decimals=2, scale=1.0)
    return frame


def _bools(series: pd.Series) -> np.ndarray:
    return np.asarray(series.fillna(False), dtype=bool)


def single_counts(
    df: pd.DataFrame,
    by: Sequence[str],
    values: pd.Series,
    dim: str,
    *,
    not_registered: bool = True,
) -> pd.DataFrame:
    """Rows per group × category (``values``: a keyed Categorical, NaN = not
    registered): n, N (registered in the group), percent; plus a
    not-registered row per group whose N is the group's population."""
    codes = np.asarray(values.cat.codes, dtype=np.int64)
    keys = [str(c) for c in values.cat.categories]
    member = np.ones(len(df), dtype=bool)
    return _single(_groups(df, by), member, codes, keys, dim, not_registered)


def multi_counts(
    df: pd.DataFrame,
    by: Sequence[str],
    indicators: Mapping[str, pd.Series],
    registered: pd.Series,
    dim: str,
    *,
    not_registered: bool = True,
) -> pd.DataFrame:
    """Rows per group × option: n (cases with the option), N (cases where the
    variable is registered); plus a not-registered row per group."""
    member = np.ones(len(df), dtype=bool)
    arrays = {name: _bools(s) for name, s in indicators.items()}
    return _multi(_groups(df, by), member, arrays, _bools(registered), dim, not_registered)


def stack_groups(
    parts: Sequence[tuple[str, pd.DataFrame]], dim: str, by: Sequence[str]
) -> pd.DataFrame:
    """Concatenate per-group frames under a new leading dimension ``dim``."""
    frames = []
    for key, frame in parts:
        frame = frame.copy()
        frame.insert(len(by), dim, key)
        frames.append(frame)
    out = pd.concat(frames, ignore_index=True)
    out[dim] = pd.Categorical(out[dim], categories=[k for k, _ in parts])
    rest = [c for c in out.columns if c not in (*by, dim)]
    first = rest[0]
    out = out.sort_values([*by, dim], kind="stable").reset_index(drop=True)
    return out[[*by, dim, first, *rest[1:]]]


# --- Labels ---------------------------------------------------------------


def option_labels(cb: Codebook, key: str, *, with_missing: bool = True) -> dict[str, Label]:
    labels = {str(o.code): o.label for o in cb[key].options}
    if with_missing:
        labels[NOT_REGISTERED] = NOT_REGISTERED_LABEL
    return labels


def band_labels(keys: Sequence[str], unit: Label | None = None) -> dict[str, Label]:
    out = {k: Label(f"{k} {unit.sv}", f"{k} {unit.en}") if unit else Label(k, k) for k in keys}
    out[NOT_REGISTERED] = NOT_REGISTERED_LABEL
    return out


YES_NO = {YES: YES_LABEL, NO: NO_LABEL}
BAND_KEYS = {"age": [b[2] for b in AGE_BANDS], "duration": [b[2] for b in DURATION_BINS]}
BAND_COLUMNS = {"age": "age_band", "duration": "duration_bin"}
DAYS = Label("dagar", "days")
BAND_UNITS = {"age": None, "duration": DAYS}
BAND_VARIABLE = {"age": "age"}
"""The catalogue variable whose label a band's dimension carries."""


CHILD_POPULATION = {
    "intervention_type": "has_intervention",
    "intervention_grounds": "has_intervention",
    "risk_instrument": "risk_assessed",
}
"""Indicators from child records are registered where a record exists."""


def condition_mask(df: pd.DataFrame, cond: Condition) -> pd.Series:
    column = df[cond.column]
    if cond.codes:
        if isinstance(column.dtype, pd.CategoricalDtype):
            mask = column.astype("object").isin(list(cond.codes))
        else:
            mask = column.isin(list(cond.codes))
    else:
        mask = column.fillna(False).astype(bool)
    mask = mask.fillna(False).astype(bool)
    return ~mask if cond.negate else mask


def condition_registered(df: pd.DataFrame, cond: Condition) -> pd.Series:
    """Where the variable behind a condition is registered."""
    if "__" in cond.column:
        var = cond.column.split("__")[0]
        if var in CHILD_POPULATION:
            return df[CHILD_POPULATION[var]].astype(bool)
        if f"{var}__registered" in df.columns:
            return df[f"{var}__registered"].astype(bool)
        return pd.Series(True, index=df.index)
    column = df[cond.column]
    if cond.column == "collaboration_count":
        return df["collaboration__registered"].astype(bool)
    if column.dtype == bool:
        return pd.Series(True, index=df.index)
    return column.notna()


def group_label(cb: Codebook, group: GroupDef) -> Label:
    if group.label is not None:
        return group.label
    cond = group.condition
    if cond is None:
        return Label(group.key, group.key)
    if "__" in cond.column:
        var, code = cond.column.split("__")
        info = cb[var]
        option = info.option_label(int(code))
        return Label(f"{info.label.sv}: {option.sv}", f"{info.label.en}: {option.en}")
    info = cb[cond.column]
    options = [info.option_label(int(c)) for c in cond.codes]
    sv = ", ".join(o.sv for o in options)
    en = ", ".join(o.en for o in options)
    return Label(f"{info.label.sv}: {sv}", f"{info.label.en}: {en}")


# --- What a count counts (cell names for disclosure control) -------------------

POPULATION_ATOMS: dict[str, frozenset[str]] = {
    "all": frozenset(),
    "closed": frozenset({"flag:is_closed"}),
    "closed_with_reason": frozenset({"flag:is_closed", "flag:has_closing_reason"}),
    "has_intervention": frozenset({"flag:has_intervention"}),
    "has_survey": frozenset({"flag:has_survey"}),
    "risk_assessed": frozenset({"flag:risk_assessed"}),
}
"""A population as the conditions its cases meet, so that the same set of
cases has the same name in every table (a funnel step and a table's base)."""

Atoms = frozenset[str]


def population_atoms(name: str) -> Atoms:
    return POPULATION_ATOMS.get(name, frozenset({f"population:{name}"}))


def condition_atom(cond: Condition) -> str:
    if cond.codes:
        codes = ",".join(str(c) for c in cond.codes)
        return f"{cond.column}{'∉' if cond.negate else '∈'}[{codes}]"
    return f"{'¬' if cond.negate else ''}flag:{cond.column}"


def cell_name(atoms: Atoms) -> str:
    """A count's name: the conditions its cases meet, sorted ("*": every case)."""
    return "&".join(sorted(atoms)) or "*"


def name_cells(
    data: pd.DataFrame,
    dims: Sequence[str],
    n_atoms: Any,
    big_atoms: Any,
) -> pd.DataFrame:
    """``data`` with ``n_key`` and ``N_key``: each row's counts named by
    ``n_atoms(values)`` / ``big_atoms(values)`` (``values``: the row's
    dimension values as strings), computed once per distinct combination."""
    parts = [_factorised(data[d].astype("category")) for d in dims]
    key = np.zeros(len(data), dtype=np.int64)
    for codes, level, _categorical in parts:
        key = key * (len(level) + 1) + (codes + 1)
    found, uniques = pd.factorize(key, sort=False)
    first = np.full(len(uniques), len(data), dtype=np.int64)
    np.minimum.at(first, found, np.arange(len(data)))
    n_names, big_names = [], []
    for row in first.tolist():
        values = {d: str(data[d].iat[row]) for d in dims}
        n_names.append(cell_name(n_atoms(values)))
        big_names.append(cell_name(big_atoms(values)))
    out = data.copy()
    for column, names in (("n_key", n_names), ("N_key", big_names)):
        categories, codes = np.unique(np.array(names, dtype=object), return_inverse=True)
        out[column] = pd.Categorical.from_codes(
            np.asarray(codes, dtype=np.int64)[found], categories=pd.Index(list(categories))
        )
    return out


def _dims_atoms(values: Mapping[str, str], dims: Sequence[str]) -> Atoms:
    return frozenset(f"{d}={values[d]}" for d in dims)


# --- The frame as arrays, for one call -------------------------------------------


@dataclass
class Source:
    """The frame's columns as numpy arrays, each converted once per call, and
    the breakdown ``by`` factorised once."""

    df: pd.DataFrame
    codebook: Codebook
    definitions: Definitions
    by: tuple[str, ...]
    cell_keys: bool = False
    """Name every count by what it counts (``n_key``/``N_key``, for disclosure control)."""
    _codes: dict[str, tuple[np.ndarray, list[str]]] = field(default_factory=dict)
    _flags: dict[str, np.ndarray] = field(default_factory=dict)
    _by: list[tuple[np.ndarray, pd.Index, bool]] | None = None
    _groups: dict[bytes, _Groups] = field(default_factory=dict)

    @property
    def n(self) -> int:
        return len(self.df)

    def codes(self, column: str) -> tuple[np.ndarray, list[str]]:
        """A categorical column as codes (-1 = missing) and string keys."""
        found = self._codes.get(column)
        if found is None:
            series = self.df[column]
            if not isinstance(series.dtype, pd.CategoricalDtype):
                series = keyed(series)
            found = (
                np.asarray(series.cat.codes, dtype=np.int64),
                [str(c) for c in series.cat.categories],
            )
            self._codes[column] = found
        return found

    def restricted(self, column: str, keys: Sequence[str]) -> np.ndarray:
        """Codes of ``column`` against ``keys`` only (anything else -1)."""
        codes, own = self.codes(column)
        position = {k: i for i, k in enumerate(keys)}
        lut = np.array([position.get(k, -1) for k in own] + [-1], dtype=np.int64)
        return lut[np.where(codes >= 0, codes, len(own))]

    def area_group(self, name: str) -> tuple[np.ndarray, list[str], AreaGrouping]:
        """Each case's group in the municipality classification ``name``
        (codes into its group keys, -1 = a municipality outside it)."""
        grouping = catalogue_of(self.codebook).groupings[name]
        keys = [key for key, _label in grouping.groups]
        position = {k: i for i, k in enumerate(keys)}
        codes, municipalities = self.codes("municipality_code")
        lut = np.array(
            [position.get(grouping.of.get(m, ""), -1) for m in municipalities] + [-1],
            dtype=np.int64,
        )
        return lut[np.where(codes >= 0, codes, len(municipalities))], keys, grouping

    def flag(self, column: str) -> np.ndarray:
        found = self._flags.get(column)
        if found is None:
            found = _bools(self.df[column])
            self._flags[column] = found
        return found

    def population(self, name: str) -> np.ndarray:
        if name == "all":
            return np.ones(self.n, dtype=bool)
        if name == "closed":
            return self.flag("is_closed")
        if name == "closed_with_reason":
            return self.flag("has_closing_reason")
        if name == "has_intervention":
            return self.flag("has_intervention")
        if name == "has_survey":
            return self.flag("has_survey")
        if name == "risk_assessed":
            return self.flag("risk_assessed")
        if name == "collaboration_partner":
            counts = self.df["collaboration_count"].astype("Float64").fillna(0)
            return np.asarray(counts >= 1, dtype=bool)
        if name == "scored_twice":
            return np.asarray(self.df["n_risk_scores"] >= 2, dtype=bool)
        raise TableDefinitionError(f"unknown population {name!r}")

    def groups(self, member: np.ndarray) -> _Groups:
        """The ``by`` breakdown of the rows in ``member``. Categorical columns
        keep every category; anything else the values observed among them."""
        key = np.packbits(member).tobytes()
        found = self._groups.get(key)
        if found is not None:
            return found
        if self._by is None:
            self._by = [_factorised(self.df[name]) for name in self.by]
        parts = []
        for codes, level, categorical in self._by:
            if categorical:
                parts.append((codes, level, True))
                continue
            seen = np.bincount(codes[member & (codes >= 0)], minlength=len(level)) > 0
            remap = np.where(seen, np.cumsum(seen) - 1, -1)
            parts.append(
                (np.where(codes >= 0, remap[np.maximum(codes, 0)], -1), level[seen], False)
            )
        found = (
            _combine(parts, self.by)
            if parts
            else _Groups(np.zeros(self.n, dtype=np.int64), [], [], [])
        )
        self._groups[key] = found
        return found


def _yes_no(mask: np.ndarray) -> tuple[np.ndarray, list[str]]:
    return np.where(mask, 0, 1).astype(np.int64), [YES, NO]


def _definition_codes(d: Definitions, name: str) -> tuple[Any, ...]:
    value = getattr(d, name, None)
    if not isinstance(value, tuple):
        raise TableDefinitionError(f"definitions have no {name!r}")
    return value


# --- The rules --------------------------------------------------------------------


@dataclass(frozen=True)
class _Values:
    codes: np.ndarray
    keys: list[str]
    dim: str
    labels: dict[str, Label]
    dim_label: Label
    not_registered: bool


def _values(src: Source, spec: Mapping[str, Any]) -> _Values:
    cb = src.codebook
    not_registered = spec.get("not_registered")
    if "variable" in spec:
        key = spec["variable"]
        codes, keys = src.codes(key)
        nr = True if not_registered is None else bool(not_registered)
        return _Values(codes, keys, key, option_labels(cb, key, with_missing=nr), cb[key].label, nr)
    if "band" in spec:
        band = spec["band"]
        keys = BAND_KEYS[band]
        codes = src.restricted(BAND_COLUMNS[band], keys)
        dim_label = (
            label(spec["label"], "values.label")
            if "label" in spec
            else cb[BAND_VARIABLE[band]].label
        )
        nr = True if not_registered is None else bool(not_registered)
        return _Values(
            codes, keys, BAND_COLUMNS[band], band_labels(keys, BAND_UNITS[band]), dim_label, nr
        )
    if "flag" in spec:
        codes, keys = _yes_no(src.flag(spec["flag"]))
        dim = spec.get("dim", spec["flag"])
        return _Values(codes, keys, dim, dict(YES_NO), label(spec["label"], "label"), False)
    if "any_of" in spec:
        rule = spec["any_of"]
        hit = np.zeros(src.n, dtype=bool)
        for code in _definition_codes(src.definitions, rule["codes"]):
            hit |= src.flag(f"{rule['variable']}__{code}")
        codes, keys = _yes_no(hit)
        return _Values(codes, keys, spec["dim"], dict(YES_NO), label(spec["label"], "label"), False)
    if "area_group" in spec:
        codes, keys, grouping = src.area_group(spec["area_group"])
        nr = bool(not_registered)
        labels = dict(grouping.groups)
        if nr:
            labels[NOT_REGISTERED] = NOT_REGISTERED_LABEL
        return _Values(codes, keys, grouping.key, labels, grouping.label, nr)
    column = spec["column"]
    dim = spec.get("dim", column)
    if "keys" in spec:
        keys = list(spec["keys"])
        labels = {k: label(v, f"keys.{k}") for k, v in spec["keys"].items()}
        codes = src.restricted(column, keys)
    else:
        codes, keys = src.codes(column)
        template = label(spec["key_label"], "key_label")
        labels = {k: Label(template.sv.format(key=k), template.en.format(key=k)) for k in keys}
    nr = ("keys" not in spec) if not_registered is None else bool(not_registered)
    if nr:
        labels[NOT_REGISTERED] = NOT_REGISTERED_LABEL
    return _Values(codes, keys, dim, labels, label(spec["label"], "label"), nr)


def _group(
    src: Source, spec: Mapping[str, Any]
) -> tuple[str, np.ndarray, pd.Index, dict[str, Label], Label]:
    cb = src.codebook
    if "area_group" in spec:
        area_codes, area_keys, grouping = src.area_group(spec["area_group"])
        return grouping.key, area_codes, pd.Index(area_keys), dict(grouping.groups), grouping.label
    if "band" in spec:
        band = spec["band"]
        keys = BAND_KEYS[band]
        labels = {k: v for k, v in band_labels(keys).items() if k != NOT_REGISTERED}
        column = BAND_COLUMNS[band]
        return (
            column,
            src.restricted(column, keys),
            pd.Index(keys),
            labels,
            cb[BAND_VARIABLE[band]].label,
        )
    variable = spec["variable"]
    wanted = spec.get("codes", "all")
    codes = (
        cb.codes(variable) if wanted == "all" else list(_definition_codes(src.definitions, wanted))
    )
    keys = [str(c) for c in codes]
    labels = {str(c): cb.label(variable, c) for c in codes}
    return variable, src.restricted(variable, keys), pd.Index(keys), labels, cb[variable].label


def _extended(
    src: Source,
    groups: _Groups,
    compute: Mapping[str, Any],
    labels: dict[str, Mapping[str, Label]],
    dim_labels: dict[str, Label],
) -> _Groups:
    """The breakdown extended by the table's own ``group`` (one or a list)."""
    for spec in group_specs(compute):
        name, codes, level, group_labels, group_dim_label = _group(src, spec)
        groups = groups.extend(name, codes, level)
        labels[name] = group_labels
        dim_labels[name] = group_dim_label
    return groups


def _counts(src: Source, d: TableDef) -> Table:
    c = d.compute
    cb = src.codebook
    member = src.population(c.get("population", "all"))
    labels: dict[str, Mapping[str, Label]] = {}
    dim_labels: dict[str, Label] = {}
    if c.get("skip_logic"):
        variable = (c.get("values") or c.get("options") or {})["variable"]
        rule = cb[variable].applies_when
        if rule is not None:
            member = member & np.asarray(
                src.df[rule[0]].astype("object").isin(list(rule[1])), dtype=bool
            )
    groups = _extended(src, src.groups(member), c, labels, dim_labels)
    own_groups = [name for name in groups.names if name not in src.by]
    base = population_atoms(c.get("population", "all"))
    if c.get("skip_logic"):
        base = base | {f"applies:{(c.get('values') or c.get('options') or {})['variable']}"}
    if "values" in c:
        v = _values(src, c["values"])
        data = _single(groups, member, v.codes, v.keys, v.dim, v.not_registered)
        labels[v.dim] = v.labels
        dim_labels[v.dim] = v.dim_label
        if src.cell_keys:
            known_code = f"{v.dim}∈[{','.join(v.keys)}]"

            def single_n(values: Mapping[str, str]) -> Atoms:
                code = values[v.dim]
                own = f"¬{known_code}" if code == NOT_REGISTERED else f"{v.dim}={code}"
                return base | _dims_atoms(values, own_groups) | {own}

            def single_big(values: Mapping[str, str]) -> Atoms:
                reg = set() if values[v.dim] == NOT_REGISTERED else {known_code}
                return base | _dims_atoms(values, own_groups) | reg

            data = name_cells(data, [*own_groups, v.dim], single_n, single_big)
    else:
        options = c["options"]
        key = options["variable"]
        registered = (
            src.population(options["registered"])
            if "registered" in options
            else src.flag(f"{key}__registered")
        )
        nr = bool(options.get("not_registered", "registered" not in options))
        indicators = {str(code): src.flag(f"{key}__{code}") for code in cb.codes(key)}
        data = _multi(groups, member, indicators, registered, key, nr)
        labels[key] = option_labels(cb, key, with_missing=nr)
        dim_labels[key] = cb[key].label
        if src.cell_keys:
            reg_atoms = (
                population_atoms(options["registered"])
                if "registered" in options
                else frozenset({f"registered:{key}"})
            )
            unreg = frozenset({"¬(" + cell_name(reg_atoms) + ")"})

            def multi_n(values: Mapping[str, str]) -> Atoms:
                code = values[key]
                own = unreg if code == NOT_REGISTERED else reg_atoms | {f"{key}∋{code}"}
                return base | _dims_atoms(values, own_groups) | own

            def multi_big(values: Mapping[str, str]) -> Atoms:
                reg = frozenset() if values[key] == NOT_REGISTERED else reg_atoms
                return base | _dims_atoms(values, own_groups) | reg

            data = name_cells(data, [*own_groups, key], multi_n, multi_big)
    return Table(d.spec, data, labels, dim_labels, src.by)


def _funnel(src: Source, d: TableDef) -> Table:
    parts = []
    steps = d.compute["steps"]
    closed = src.population("closed")
    everyone = src.population("all")
    for step in steps:
        member = everyone if step["base"] == "cases" else closed
        flag = everyone if step.get("flag") is None else src.flag(step["flag"])
        codes = np.where(flag, 0, 1).astype(np.int64)
        data = _single(
            src.groups(member), member, codes, [REGISTERED, NOT_REGISTERED], "registered", False
        )
        base = frozenset() if step["base"] == "cases" else population_atoms("closed")
        flag = step.get("flag")
        yes = base | ({f"flag:{flag}"} if flag else set())
        no = base | {f"¬flag:{flag}" if flag else "∅"}
        names = {REGISTERED: cell_name(yes), NOT_REGISTERED: cell_name(no)}
        data["n_key"] = [names[r] for r in data["registered"].astype(str)]
        data["N_key"] = cell_name(base)
        parts.append((step["key"], data))
    data = stack_groups(parts, "step", src.by)
    labels = {
        "step": {s["key"]: label(s["label"], f"steps.{s['key']}") for s in steps},
        "registered": {REGISTERED: REGISTERED_LABEL, NOT_REGISTERED: NOT_REGISTERED_LABEL},
    }
    return Table(d.spec, data, labels, _dim_labels(d), src.by)


def _dim_labels(d: TableDef) -> dict[str, Label]:
    return {k: label(v, f"dim_labels.{k}") for k, v in (d.compute.get("dim_labels") or {}).items()}


def _interventions_per_case(src: Source, d: TableDef) -> Table:
    c = d.compute
    base = src.population(c.get("population", "all"))
    measures = {
        key: np.asarray(src.df[m["column"]], dtype=float) for key, m in c["measures"].items()
    }
    parts = []
    labels: dict[str, Label] = {}
    groups: tuple[GroupDef, ...] = getattr(src.definitions, c["groups"])
    for group in groups:
        member = base
        if group.condition is not None:
            member = base & np.asarray(condition_mask(src.df, group.condition), dtype=bool)
        parts.append((group.key, _mean(src.groups(member), member, measures, "measure")))
        labels[group.key] = group_label(src.codebook, group)
    data = stack_groups(parts, "group", src.by)
    if src.cell_keys:
        everyone = population_atoms(c.get("population", "all"))
        conditions = {
            g.key: frozenset() if g.condition is None else frozenset({condition_atom(g.condition)})
            for g in groups
        }
        columns = {k: m["column"] for k, m in c["measures"].items()}

        def ipc_big(values: Mapping[str, str]) -> Atoms:
            return everyone | conditions[values["group"]]

        def ipc_n(values: Mapping[str, str]) -> Atoms:
            return ipc_big(values) | {f"Σ{columns[values['measure']]}"}

        data = name_cells(data, ["group", "measure"], ipc_n, ipc_big)
    measure_labels = {k: label(m["label"], f"measures.{k}") for k, m in c["measures"].items()}
    return Table(d.spec, data, {"group": labels, "measure": measure_labels}, _dim_labels(d), src.by)


def _means(src: Source, d: TableDef) -> Table:
    """Means of integer columns over a population (cases where every measure
    is registered), optionally per ``group`` like ``counts``."""
    c = d.compute
    measures = {
        key: np.asarray(pd.to_numeric(src.df[m["column"]]).astype("Float64"), dtype=float)
        for key, m in c["measures"].items()
    }
    member = src.population(c.get("population", "all")).copy()
    for values in measures.values():
        member &= ~np.isnan(values)
    labels: dict[str, Mapping[str, Label]] = {}
    dim_labels = _dim_labels(d)
    groups = _extended(src, src.groups(member), c, labels, dim_labels)
    data = _mean(groups, member, {k: np.nan_to_num(v) for k, v in measures.items()}, "measure")
    labels["measure"] = {k: label(m["label"], f"measures.{k}") for k, m in c["measures"].items()}
    if src.cell_keys:
        own_groups = [name for name in groups.names if name not in src.by]
        columns = {k: m["column"] for k, m in c["measures"].items()}
        base = population_atoms(c.get("population", "all")) | {
            f"known:{column}" for column in columns.values()
        }

        def means_big(values: Mapping[str, str]) -> Atoms:
            return base | _dims_atoms(values, own_groups)

        def means_n(values: Mapping[str, str]) -> Atoms:
            return means_big(values) | {f"Σ{columns[values['measure']]}"}

        data = name_cells(data, [*own_groups, "measure"], means_n, means_big)
    return Table(d.spec, data, labels, dim_labels, src.by)


def _top_group_profile(src: Source, d: TableDef) -> Table:
    c = d.compute
    members = {"top": src.flag("is_top_group"), "all": src.population("all")}
    parts = []
    labels: dict[str, Label] = {}
    for indicator in getattr(src.definitions, c["indicators"]):
        assert indicator.condition is not None
        registered = np.asarray(condition_registered(src.df, indicator.condition), dtype=bool)
        hit = np.asarray(condition_mask(src.df, indicator.condition), dtype=bool)
        pieces = []
        for key, member in members.items():
            data = _multi(src.groups(member), member, {indicator.key: hit}, registered, "_x", False)
            pieces.append((key, data.drop(columns=["_x"])))
        parts.append((indicator.key, stack_groups(pieces, "group", src.by)))
        labels[indicator.key] = group_label(src.codebook, indicator)
    data = stack_groups(parts, "indicator", src.by)
    if src.cell_keys:
        hits = {
            i.key: condition_atom(i.condition)
            for i in getattr(src.definitions, c["indicators"])
            if i.condition is not None
        }
        group_atoms = {"top": frozenset({"flag:is_top_group"}), "all": frozenset()}

        def profile_big(values: Mapping[str, str]) -> Atoms:
            return group_atoms[values["group"]] | {f"registered({hits[values['indicator']]})"}

        def profile_n(values: Mapping[str, str]) -> Atoms:
            return profile_big(values) | {hits[values["indicator"]]}

        data = name_cells(data, ["indicator", "group"], profile_n, profile_big)
    group_labels = {k: label(v, f"group_labels.{k}") for k, v in c["group_labels"].items()}
    return Table(d.spec, data, {"indicator": labels, "group": group_labels}, _dim_labels(d), src.by)


def _duration_by_closing_reason(src: Source, d: TableDef) -> Table:
    c = d.compute
    cb = src.codebook
    member = src.population(c.get("population", "all"))
    main = [str(code) for code in _definition_codes(src.definitions, c["reasons"])]
    reason_codes, reason_keys = src.codes("closing_reason")
    position = {k: i for i, k in enumerate(main)}
    lut = np.array([position.get(k, len(main)) for k in reason_keys] + [-1], dtype=np.int64)
    codes = lut[np.where(reason_codes >= 0, reason_codes, len(reason_keys))]
    bins = BAND_KEYS["duration"][: int(c["bins"])]
    groups = src.groups(member).extend(
        "duration_bin", src.restricted("duration_bin", bins), pd.Index(bins)
    )
    data = _single(groups, member, codes, [*main, OTHER], "closing_reason", False)
    if src.cell_keys:
        base = population_atoms(c.get("population", "all"))
        registered = "closing_reason∈[*]"

        def reason_big(values: Mapping[str, str]) -> Atoms:
            return base | {f"duration_bin={values['duration_bin']}", registered}

        def reason_n(values: Mapping[str, str]) -> Atoms:
            code = values["closing_reason"]
            own = (
                f"closing_reason∉[{','.join(main)}]" if code == OTHER else f"closing_reason={code}"
            )
            return reason_big(values) | {own}

        data = name_cells(data, ["duration_bin", "closing_reason"], reason_n, reason_big)
    reason_labels = {k: cb.label("closing_reason", int(k)) for k in main}
    reason_labels[OTHER] = label(c["other_label"], "other_label")
    template = label(c["bin_label"], "bin_label")
    bin_labels = {k: Label(template.sv.format(key=k), template.en.format(key=k)) for k in bins}
    dim_labels = {**_dim_labels(d), "closing_reason": cb["closing_reason"].label}
    return Table(
        d.spec,
        data,
        {"duration_bin": bin_labels, "closing_reason": reason_labels},
        dim_labels,
        src.by,
    )


RULES = {
    "counts": _counts,
    "means": _means,
    "funnel": _funnel,
    "interventions_per_case": _interventions_per_case,
    "top_group_profile": _top_group_profile,
    "duration_by_closing_reason": _duration_by_closing_reason,
}


# --- Running them -----------------------------------------------------------


def catalogue_of(codebook: Codebook) -> TableCatalogue:
    if codebook.tables is None:
        raise TableDefinitionError("the codebook carries no table definitions")
    return codebook.tables


def build_tables(
    frame: pd.DataFrame,
    codebook: Codebook,
    definitions: Definitions = DEFAULT_DEFINITIONS,
    by: Sequence[str] = (),
    ids: Sequence[str] | None = None,
    *,
    cell_keys: bool = False,
) -> list[Table]:
    """Every table of the national summary (or those of ``ids``), in report order.

    ``cell_keys``: name each row's counts (``n_key``, ``N_key``) by what they
    count, for disclosure control of the tables together."""
    tables = catalogue_of(codebook)
    chosen = tables.ids() if ids is None else list(ids)
    src = Source(frame, codebook, definitions, tuple(by), cell_keys)
    return [RULES[tables[i].rule](src, tables[i]) for i in chosen]


def build_table(
    table_id: str,
    frame: pd.DataFrame,
    codebook: Codebook,
    definitions: Definitions = DEFAULT_DEFINITIONS,
    by: Sequence[str] = (),
) -> Table:
    return build_tables(frame, codebook, definitions, by, [table_id])[0]
