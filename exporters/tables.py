"""Every table of Kapitel 2, as pure functions of the analysis frame.

Each function takes the frame, the codebook, the definitions and ``by`` (extra
leading breakdown columns of the frame, e.g. ``("year", "municipality_code")``)
and returns a :class:`~exporters.spec.Table` whose data is tidy: ``by``, the
table's dimensions, then n, N and percent. Every category is a row, also when
its count is 0 (Categoricals, ``observed=False``). Percentages are over N, the
cases where the variable is registered; "not registered" is its own row
(``ej_registrerad``) whose N is the table's whole population. Multi-choice
percentages may sum to more than 100. The catalogue of tables is
:data:`TABLES`; docs/compilation.md describes each.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from exporters.codebook import Codebook, Label
from exporters.definitions import (
    AGE_BANDS,
    DEFAULT_DEFINITIONS,
    DURATION_BINS,
    DURATION_BINS_BY_REASON,
    NO,
    NO_LABEL,
    NOT_REGISTERED,
    NOT_REGISTERED_LABEL,
    OTHER,
    OTHER_LABEL,
    REGISTERED,
    REGISTERED_LABEL,
    YES,
    YES_LABEL,
    Condition,
    Definitions,
    GroupDef,
)
from exporters.frame import SCORE_CHANGES
from exporters.rounding import round_half_up
from exporters.spec import Table, TableSpec

ALL = "_all"

# --- Sections of the report -------------------------------------------------
S_FUNNEL = Label("Antal ärenden i olika faser", "Number of cases in each phase")
S_WHO = Label(
    "Vilka är de våldsutsatta vuxna i socialtjänsten?", "Who are the adults exposed to violence?"
)
S_VIOLENCE = Label("Vilket våld är de utsatta för?", "What violence are they exposed to?")
S_INTERVENTIONS = Label("Hur ser insatserna ut?", "What are the interventions?")
S_COLLABORATION = Label(
    "Vem samverkar socialtjänsten med?", "Who do the social services collaborate with?"
)
S_OUTCOME = Label("Utfallet vid avslutade ärenden", "Outcome of closed cases")
S_SURVEY = Label("Vad tycker klienterna?", "What do the clients think?")
S_TOP = Label("Vilka klienter går det bäst för?", "For which clients does it go best?")
S_HRV = Label("Fördjupning om hedersrelaterat våld", "Deep dive: honour-related violence")
S_MEN = Label("Fördjupning om våldsutsatta män", "Deep dive: men exposed to violence")
S_RISK = Label("Fördjupning om riskbedömningar", "Deep dive: risk assessments")

MULTI_NOTE = Label(
    "Flera alternativ kunde anges per ärende, därför blir summan av alternativen högre än 100 procent.",
    "Several options could be given per case, so the options may sum to more than 100 per cent.",
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
            values = self.levels[i].take(np.repeat(grid[i], repeat))
            if self.categorical[i]:
                columns[name] = pd.Categorical(values, categories=self.levels[i])
            else:
                columns[name] = np.asarray(values)
        return pd.DataFrame(columns, index=range(self.size * repeat))


def _groups(df: pd.DataFrame, by: Sequence[str]) -> _Groups:
    ids = np.zeros(len(df), dtype=np.int64)
    valid = np.ones(len(df), dtype=bool)
    levels: list[pd.Index] = []
    categorical: list[bool] = []
    for name in by:
        column = df[name]
        if isinstance(column.dtype, pd.CategoricalDtype):
            codes = np.asarray(column.cat.codes, dtype=np.int64)
            level = pd.Index(column.cat.categories)
            categorical.append(True)
        else:
            codes, level = pd.factorize(column, sort=True)
            codes = np.asarray(codes, dtype=np.int64)
            level = pd.Index(level)
            categorical.append(False)
        valid &= codes >= 0
        ids = ids * len(level) + np.where(codes >= 0, codes, 0)
        levels.append(level)
    return _Groups(np.where(valid, ids, -1), list(by), levels, categorical)


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


def percent_array(
    n: np.ndarray, big_n: np.ndarray, decimals: int = 1, scale: float = 100.0
) -> pd.array:  # type: ignore[valid-type]
    den = big_n.astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        raw = scale * n.astype(float) / den
        rounded = round_half_up(raw, decimals)
        valid = (den > 0) & ~np.isnan(raw)
    return pd.array(np.where(valid, rounded, np.nan), dtype="Float64")


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
    groups = _groups(df, by)
    keys = [str(c) for c in values.cat.categories]
    k = len(keys)
    codes = np.asarray(values.cat.codes, dtype=np.int64)
    member = groups.ids >= 0
    ids = groups.ids[member]
    cats = codes[member]
    registered = cats >= 0
    counts = np.bincount(ids[registered] * k + cats[registered], minlength=groups.size * k)
    counts = counts.reshape(groups.size, k)
    big_n = np.repeat(counts.sum(axis=1, keepdims=True), k, axis=1)
    if not_registered:
        population = np.bincount(ids, minlength=groups.size).reshape(-1, 1)
        counts = np.hstack([counts, population - big_n[:, :1]])
        big_n = np.hstack([big_n, population])
        keys = [*keys, NOT_REGISTERED]
    return _assemble(groups, dim, keys, counts, big_n)


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
    groups = _groups(df, by)
    member = groups.ids >= 0
    ids = groups.ids[member]
    reg = np.asarray(registered.fillna(False), dtype=bool)[member]
    names = list(indicators)
    size = groups.size
    columns = [
        np.bincount(
            ids,
            weights=(np.asarray(indicators[name].fillna(False), dtype=bool)[member] & reg),
            minlength=size,
        )
        for name in names
    ]
    counts = np.column_stack(columns).astype(np.int64) if columns else np.zeros((size, 0), np.int64)
    reg_n = np.bincount(ids, weights=reg, minlength=size).astype(np.int64).reshape(-1, 1)
    big_n = np.repeat(reg_n, len(names), axis=1)
    keys = list(names)
    if not_registered:
        population = np.bincount(ids, minlength=size).reshape(-1, 1)
        counts = np.hstack([counts, population - reg_n])
        big_n = np.hstack([big_n, population])
        keys.append(NOT_REGISTERED)
    return _assemble(groups, dim, keys, counts, big_n)


def mean_counts(
    df: pd.DataFrame, by: Sequence[str], measures: Mapping[str, pd.Series], dim: str
) -> pd.DataFrame:
    """Rows per group × measure: N (cases), n (sum of the measure), mean."""
    groups = _groups(df, by)
    member = groups.ids >= 0
    ids = groups.ids[member]
    names = list(measures)
    size = groups.size
    sums = np.column_stack(
        [
            np.bincount(
                ids, weights=np.asarray(measures[name], dtype=float)[member], minlength=size
            )
            for name in names
        ]
    ).astype(np.int64)
    population = np.bincount(ids, minlength=size).reshape(-1, 1)
    big_n = np.repeat(population, len(names), axis=1)
    frame = _assemble(groups, dim, names, sums, big_n)
    frame = frame.drop(columns="percent")
    frame["mean"] = percent_array(sums.reshape(-1), big_n.reshape(-1), decimals=2, scale=1.0)
    return frame


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
AGE_KEYS = [b[2] for b in AGE_BANDS]
DURATION_KEYS = [b[2] for b in DURATION_BINS]
DAYS = Label("dagar", "days")


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


def restricted(df: pd.DataFrame, column: str, codes: Sequence[int]) -> pd.Series:
    """The column as keyed groups, only the given codes (others become NaN)."""
    return keyed(df[column], [str(c) for c in codes]) if codes else keyed(df[column])


# --- The table catalogue -----------------------------------------------------

TableFn = Callable[[pd.DataFrame, Codebook, Definitions, Sequence[str]], Table]


@dataclass(frozen=True)
class Entry:
    spec: TableSpec
    build: TableFn


TABLES: dict[str, Entry] = {}


def register(spec: TableSpec) -> Callable[[TableFn], TableFn]:
    def wrap(fn: TableFn) -> TableFn:
        TABLES[spec.id] = Entry(spec, fn)
        return fn

    return wrap


def _table(
    spec: TableSpec,
    data: pd.DataFrame,
    by: Sequence[str],
    labels: Mapping[str, Mapping[str, Label]],
    dim_labels: Mapping[str, Label],
) -> Table:
    return Table(spec, data, labels, dim_labels, tuple(by))


def _var_single(
    spec: TableSpec,
    df: pd.DataFrame,
    cb: Codebook,
    by: Sequence[str],
    key: str,
    *,
    population: pd.Series | None = None,
) -> Table:
    if population is not None:
        df = df.loc[population.to_numpy(dtype=bool)]
    data = single_counts(df, by, keyed(df[key]), key)
    return _table(spec, data, by, {key: option_labels(cb, key)}, {key: cb[key].label})


def _var_multi(
    spec: TableSpec,
    df: pd.DataFrame,
    cb: Codebook,
    by: Sequence[str],
    key: str,
    *,
    population: pd.Series | None = None,
    registered: pd.Series | None = None,
    not_registered: bool = True,
) -> Table:
    if population is not None:
        mask = population.to_numpy(dtype=bool)
        df = df.loc[mask]
        registered = registered.loc[mask] if registered is not None else None
    codes = cb.codes(key)
    indicators = {str(c): df[f"{key}__{c}"] for c in codes}
    reg = registered if registered is not None else df[f"{key}__registered"]
    data = multi_counts(df, by, indicators, reg, key, not_registered=not_registered)
    labels = option_labels(cb, key, with_missing=not_registered)
    return _table(spec, data, by, {key: labels}, {key: cb[key].label})


def _by_group_single(
    spec: TableSpec,
    df: pd.DataFrame,
    cb: Codebook,
    by: Sequence[str],
    group: str,
    group_codes: Sequence[int],
    values: pd.Series,
    dim: str,
    labels: Mapping[str, Label],
    dim_label: Label,
    *,
    not_registered: bool = True,
) -> Table:
    work = df.assign(**{f"_g_{group}": restricted(df, group, group_codes)})
    data = single_counts(work, [*by, f"_g_{group}"], values, dim, not_registered=not_registered)
    data = data.rename(columns={f"_g_{group}": group})
    group_labels = {str(c): cb.label(group, c) for c in group_codes}
    return _table(
        spec, data, by, {group: group_labels, dim: labels}, {group: cb[group].label, dim: dim_label}
    )


def _by_group_multi(
    spec: TableSpec,
    df: pd.DataFrame,
    cb: Codebook,
    by: Sequence[str],
    group: str,
    group_codes: Sequence[int],
    key: str,
    *,
    population: pd.Series | None = None,
    registered: pd.Series | None = None,
    not_registered: bool = True,
) -> Table:
    if population is not None:
        mask = population.to_numpy(dtype=bool)
        df = df.loc[mask]
        registered = registered.loc[mask] if registered is not None else None
    work = df.assign(**{f"_g_{group}": restricted(df, group, group_codes)})
    codes = cb.codes(key)
    indicators = {str(c): work[f"{key}__{c}"] for c in codes}
    reg = registered if registered is not None else work[f"{key}__registered"]
    data = multi_counts(
        work, [*by, f"_g_{group}"], indicators, reg, key, not_registered=not_registered
    )
    data = data.rename(columns={f"_g_{group}": group})
    group_labels = {str(c): cb.label(group, c) for c in group_codes}
    labels = option_labels(cb, key, with_missing=not_registered)
    return _table(
        spec,
        data,
        by,
        {group: group_labels, key: labels},
        {group: cb[group].label, key: cb[key].label},
    )


def _yes_no(mask: pd.Series) -> pd.Series:
    values = np.where(mask.fillna(False).to_numpy(dtype=bool), YES, NO)
    return pd.Series(pd.Categorical(values, categories=[YES, NO]), index=mask.index)


def _spec(
    id: str,
    sv: str,
    en: str,
    diagram: str | None,
    denominator: tuple[str, str],
    kind: str,
    dims: tuple[str, ...],
    section: Label,
    *,
    category: str | None = None,
    notes: tuple[Label, ...] = (),
    chart: str = "bar",
) -> TableSpec:
    return TableSpec(
        id=id,
        title=Label(sv, en),
        diagram=diagram,
        denominator=Label(*denominator),
        kind=kind,  # type: ignore[arg-type]
        dims=dims,
        category=category or dims[-1],
        notes=notes,
        chart=chart,  # type: ignore[arg-type]
        section=section,
    )


ALL_CASES = (
    "Samtliga ärenden där uppgiften är registrerad",
    "All cases where the item is registered",
)

# Funnel (Diagram 1) ------------------------------------------------------------

FUNNEL_STEPS: tuple[tuple[str, Label, str, str], ...] = (
    # key, label, registered column, base
    ("aktualiserad", Label("Aktualiserade", "Opened"), "_all", "cases"),
    ("fatt_insats", Label("Fått insats", "Received an intervention"), "has_intervention", "cases"),
    ("avslutad", Label("Avslutade", "Closed"), "is_closed", "cases"),
    (
        "avslutsorsak_angiven",
        Label("Angiven avslutsorsak", "Closing reason given"),
        "has_closing_reason",
        "closed",
    ),
    (
        "maluppfoljning_angiven",
        Label("Måluppföljning", "Goal follow-up"),
        "has_goal_followup",
        "closed",
    ),
    (
        "brukarenkat_genomford",
        Label("Genomfört brukarenkät", "Client survey completed"),
        "survey_done",
        "closed",
    ),
)
BASE_KEY = {"cases": "aktualiserad:registrerad", "closed": "avslutad:registrerad"}


@register(
    _spec(
        "funnel",
        "Antal ärenden i olika faser",
        "Number of cases in each phase",
        "Diagram 1",
        (
            "Stegen Fått insats och Avslutade: samtliga aktualiserade ärenden; avslutsorsak, måluppföljning och brukarenkät: de avslutade ärendena",
            "Received an intervention and closed: all opened cases; closing reason, goal follow-up and survey: the closed cases",
        ),
        "single",
        ("step", "registered"),
        S_FUNNEL,
        chart="grouped",
    )
)
def funnel(df: pd.DataFrame, cb: Codebook, d: Definitions, by: Sequence[str]) -> Table:
    spec = TABLES["funnel"].spec
    parts = []
    for key, _label, column, base in FUNNEL_STEPS:
        population = df if base == "cases" else df.loc[df["is_closed"].to_numpy(dtype=bool)]
        flag = (
            pd.Series(True, index=population.index)
            if column == "_all"
            else population[column].astype(bool)
        )
        values = pd.Series(
            pd.Categorical(
                np.where(flag.to_numpy(), REGISTERED, NOT_REGISTERED),
                categories=[REGISTERED, NOT_REGISTERED],
            ),
            index=population.index,
        )
        data = single_counts(population, by, values, "registered", not_registered=False)
        data["n_key"] = [f"{key}:{r}" for r in data["registered"].astype(str)]
        data["N_key"] = BASE_KEY[base]
        parts.append((key, data))
    data = stack_groups(parts, "step", by)
    labels = {
        "step": {k: lab for k, lab, _c, _b in FUNNEL_STEPS},
        "registered": {REGISTERED: REGISTERED_LABEL, NOT_REGISTERED: NOT_REGISTERED_LABEL},
    }
    dim_labels = {
        "step": Label("Fas", "Phase"),
        "registered": Label("Registrering", "Registration"),
    }
    return _table(spec, data, by, labels, dim_labels)


# Who (Diagrams 2–6, disability) -------------------------------------------------


def _simple_single(
    id: str, sv: str, en: str, diagram: str | None, key: str, section: Label, chart: str = "pie"
) -> None:
    spec = _spec(id, sv, en, diagram, ALL_CASES, "single", (key,), section, chart=chart)

    def build(df: pd.DataFrame, cb: Codebook, d: Definitions, by: Sequence[str]) -> Table:
        return _var_single(spec, df, cb, by, key)

    TABLES[id] = Entry(spec, build)


def _simple_multi(id: str, sv: str, en: str, diagram: str | None, key: str, section: Label) -> None:
    spec = _spec(
        id, sv, en, diagram, ALL_CASES, "multi", (key,), section, notes=(MULTI_NOTE,), chart="barh"
    )

    def build(df: pd.DataFrame, cb: Codebook, d: Definitions, by: Sequence[str]) -> Table:
        return _var_multi(spec, df, cb, by, key)

    TABLES[id] = Entry(spec, build)


_simple_single(
    "sex",
    "Hur ser könsfördelningen ut?",
    "What is the distribution by sex?",
    "Diagram 2",
    "sex",
    S_WHO,
)


@register(
    _spec(
        "age_band",
        "Hur ser åldersfördelningen ut?",
        "What is the age distribution?",
        "Diagram 3",
        ("Samtliga ärenden där ålder är registrerad", "All cases where age is registered"),
        "single",
        ("age_band",),
        S_WHO,
        notes=(
            Label(
                "Åldersspannet för den yngsta åldersgruppen är kortare än för övriga.",
                "The youngest age band is narrower than the others.",
            ),
        ),
    )
)
def age_band(df: pd.DataFrame, cb: Codebook, d: Definitions, by: Sequence[str]) -> Table:
    spec = TABLES["age_band"].spec
    data = single_counts(df, by, keyed(df["age_band"]), "age_band")
    return _table(
        spec, data, by, {"age_band": band_labels(AGE_KEYS)}, {"age_band": cb["age"].label}
    )


_simple_single(
    "origin",
    "Vilket ursprung har klienterna?",
    "What is the clients' origin?",
    "Diagram 4",
    "origin",
    S_WHO,
)
_simple_single(
    "honour_context",
    "Har våldet utövats i en hederskontext?",
    "Was the violence used in an honour context?",
    "Diagram 5",
    "honour_context",
    S_WHO,
)
_simple_multi(
    "contact_initiative",
    "Vem har initierat kontakt?",
    "Who initiated the contact?",
    "Diagram 6",
    "contact_initiative",
    S_WHO,
)
_simple_multi("disability", "Funktionsnedsättning", "Disability", None, "disability", S_WHO)

# Violence (Diagrams 7–8) --------------------------------------------------------

_simple_single(
    "violence_severity",
    "Hur har våldet bedömts?",
    "How was the violence assessed?",
    "Diagram 7",
    "violence_severity",
    S_VIOLENCE,
)


@register(
    _spec(
        "violence_severity_by_honour",
        "Våldets grad efter hederskontext",
        "Severity of the violence by honour context",
        None,
        (
            "Ärenden i gruppen där våldets grad är registrerad",
            "Cases in the group where severity is registered",
        ),
        "single",
        ("honour_context", "violence_severity"),
        S_VIOLENCE,
        chart="grouped",
    )
)
def violence_severity_by_honour(
    df: pd.DataFrame, cb: Codebook, d: Definitions, by: Sequence[str]
) -> Table:
    spec = TABLES["violence_severity_by_honour"].spec
    key = "violence_severity"
    return _by_group_single(
        spec,
        df,
        cb,
        by,
        "honour_context",
        d.honour_groups,
        keyed(df[key]),
        key,
        option_labels(cb, key),
        cb[key].label,
    )


@register(
    _spec(
        "violence_severity_by_age_band",
        "Våldets grad efter åldersgrupp",
        "Severity of the violence by age band",
        None,
        (
            "Ärenden i åldersgruppen där våldets grad är registrerad",
            "Cases in the age band where severity is registered",
        ),
        "single",
        ("age_band", "violence_severity"),
        S_VIOLENCE,
        chart="grouped",
    )
)
def violence_severity_by_age_band(
    df: pd.DataFrame, cb: Codebook, d: Definitions, by: Sequence[str]
) -> Table:
    spec = TABLES["violence_severity_by_age_band"].spec
    key = "violence_severity"
    data = single_counts(df, [*by, "age_band"], keyed(df[key]), key)
    labels = {"age_band": band_labels(AGE_KEYS), key: option_labels(cb, key)}
    labels["age_band"] = {k: v for k, v in labels["age_band"].items() if k != NOT_REGISTERED}
    return _table(spec, data, by, labels, {"age_band": cb["age"].label, key: cb[key].label})


_simple_multi(
    "perpetrator",
    "Vem utövar våldet?",
    "Who uses the violence?",
    "Diagram 8",
    "perpetrator",
    S_VIOLENCE,
)


def _sex_multi(
    id: str, sv: str, en: str, diagram: str | None, key: str, intervention_population: bool = False
) -> None:
    denominator = (
        ("Ärenden med minst en insats, per kön", "Cases with at least one intervention, by sex")
        if intervention_population
        else (
            "Ärenden där uppgiften är registrerad, per kön",
            "Cases where the item is registered, by sex",
        )
    )
    spec = _spec(
        id,
        sv,
        en,
        diagram,
        denominator,
        "multi",
        ("sex", key),
        S_MEN,
        notes=(MULTI_NOTE,),
        chart="grouped",
    )

    def build(df: pd.DataFrame, cb: Codebook, d: Definitions, by: Sequence[str]) -> Table:
        if intervention_population:
            return _intervention_by_group(spec, df, cb, by, "sex", d.sex_groups)
        return _by_group_multi(spec, df, cb, by, "sex", d.sex_groups, key)

    TABLES[id] = Entry(spec, build)


# Interventions (Diagrams 9–11) ---------------------------------------------------

WITH_INTERVENTION = ("Ärenden med minst en insats", "Cases with at least one intervention")


@register(
    _spec(
        "interventions",
        "Vilka är de vanligaste insatserna?",
        "What are the most common interventions?",
        "Diagram 9",
        WITH_INTERVENTION,
        "multi",
        ("intervention_type",),
        S_INTERVENTIONS,
        notes=(MULTI_NOTE,),
        chart="barh",
    )
)
def interventions(df: pd.DataFrame, cb: Codebook, d: Definitions, by: Sequence[str]) -> Table:
    spec = TABLES["interventions"].spec
    return _var_multi(
        spec,
        df,
        cb,
        by,
        "intervention_type",
        population=df["has_intervention"],
        registered=df["has_intervention"],
        not_registered=False,
    )


def _intervention_by_group(
    spec: TableSpec,
    df: pd.DataFrame,
    cb: Codebook,
    by: Sequence[str],
    group: str,
    codes: Sequence[int],
) -> Table:
    return _by_group_multi(
        spec,
        df,
        cb,
        by,
        group,
        codes,
        "intervention_type",
        population=df["has_intervention"],
        registered=df["has_intervention"],
        not_registered=False,
    )


@register(
    _spec(
        "housing_interventions",
        "Insatser som rör boende",
        "Housing-related interventions",
        None,
        WITH_INTERVENTION,
        "single",
        ("housing",),
        S_INTERVENTIONS,
        notes=(
            Label(
                "Minst en av insatserna skyddat boende, hjälp med ny bostad, byte av kommun eller tillfälligt boende.",
                "At least one of sheltered housing, help with new housing, move to another municipality or temporary housing.",
            ),
        ),
        chart="pie",
    )
)
def housing_interventions(
    df: pd.DataFrame, cb: Codebook, d: Definitions, by: Sequence[str]
) -> Table:
    spec = TABLES["housing_interventions"].spec
    df = df.loc[df["has_intervention"].to_numpy(dtype=bool)]
    mask = pd.Series(False, index=df.index)
    for code in d.housing_intervention_codes:
        mask |= df[f"intervention_type__{code}"]
    data = single_counts(df, by, _yes_no(mask), "housing", not_registered=False)
    return _table(
        spec,
        data,
        by,
        {"housing": YES_NO},
        {"housing": Label("Insats som rör boende", "Housing-related intervention")},
    )


@register(
    _spec(
        "interventions_per_case",
        "Hur fördelar sig antalet insatser per ärende för olika kategorier?",
        "Number of interventions per case in different groups",
        "Diagram 10",
        (
            "Ärenden med minst en insats i gruppen; antal insatser = olika insatstyper (variabel 118) per ärende",
            "Cases with at least one intervention in the group; interventions = distinct intervention types (variable 118) per case",
        ),
        "mean",
        ("group", "measure"),
        S_INTERVENTIONS,
        notes=(
            Label(
                "Antal insatser räknar olika insatstyper per ärende, som rapportens 2,4; antal insatsposter redovisas separat.",
                "Interventions count distinct intervention types per case, as the report's 2.4; intervention records are a separate measure.",
            ),
        ),
        chart="barh",
    )
)
def interventions_per_case(
    df: pd.DataFrame, cb: Codebook, d: Definitions, by: Sequence[str]
) -> Table:
    spec = TABLES["interventions_per_case"].spec
    df = df.loc[df["has_intervention"].to_numpy(dtype=bool)]
    parts = []
    labels: dict[str, Label] = {}
    for group in d.diagram10_groups:
        sub = (
            df
            if group.condition is None
            else df.loc[condition_mask(df, group.condition).to_numpy()]
        )
        measures = {"types": sub["n_intervention_types"], "records": sub["n_intervention_records"]}
        parts.append((group.key, mean_counts(sub, by, measures, "measure")))
        labels[group.key] = group_label(cb, group)
    data = stack_groups(parts, "group", by)
    measure_labels = {
        "types": Label("Insatstyper per ärende", "Intervention types per case"),
        "records": Label("Insatsposter per ärende", "Intervention records per case"),
    }
    return _table(
        spec,
        data,
        by,
        {"group": labels, "measure": measure_labels},
        {"group": Label("Grupp", "Group"), "measure": Label("Mått", "Measure")},
    )


CLOSED = (
    "Avslutade ärenden där uppgiften är registrerad",
    "Closed cases where the item is registered",
)


def _closed_single(
    id: str, sv: str, en: str, diagram: str | None, key: str, section: Label, chart: str = "pie"
) -> None:
    spec = _spec(id, sv, en, diagram, CLOSED, "single", (key,), section, chart=chart)

    def build(df: pd.DataFrame, cb: Codebook, d: Definitions, by: Sequence[str]) -> Table:
        return _var_single(spec, df, cb, by, key, population=df["is_closed"])

    TABLES[id] = Entry(spec, build)


_closed_single(
    "implementation",
    "Genomförs de planerade insatserna?",
    "Are the planned interventions carried out?",
    "Diagram 11",
    "implementation",
    S_INTERVENTIONS,
)

# Collaboration (Diagrams 12–13) -------------------------------------------------


@register(
    _spec(
        "collaboration_partners",
        "Vilka samverkar man med?",
        "Who is there collaboration with?",
        "Diagram 12",
        ("Ärenden med minst en samverkanspart", "Cases with at least one collaboration partner"),
        "multi",
        ("collaboration",),
        S_COLLABORATION,
        notes=(MULTI_NOTE,),
        chart="barh",
    )
)
def collaboration_partners(
    df: pd.DataFrame, cb: Codebook, d: Definitions, by: Sequence[str]
) -> Table:
    spec = TABLES["collaboration_partners"].spec
    with_partner = (df["collaboration_count"].fillna(0) >= 1).astype(bool)
    return _var_multi(
        spec,
        df,
        cb,
        by,
        "collaboration",
        population=with_partner,
        registered=with_partner,
        not_registered=False,
    )


@register(
    _spec(
        "collaboration_count",
        "Hur många aktörer samverkar?",
        "How many partners collaborate?",
        "Diagram 13",
        (
            "Ärenden där samverkan är registrerad (också ingen samverkan)",
            "Cases where collaboration is registered (including none)",
        ),
        "single",
        ("collaboration_count",),
        S_COLLABORATION,
        chart="pie",
    )
)
def collaboration_count(df: pd.DataFrame, cb: Codebook, d: Definitions, by: Sequence[str]) -> Table:
    spec = TABLES["collaboration_count"].spec
    values = keyed(df["collaboration_count_band"])
    data = single_counts(df, by, values, "collaboration_count")
    keys = [str(c) for c in df["collaboration_count_band"].cat.categories]
    labels = {k: Label(f"{k} aktörer", f"{k} partners") for k in keys}
    labels[NOT_REGISTERED] = NOT_REGISTERED_LABEL
    return _table(
        spec,
        data,
        by,
        {"collaboration_count": labels},
        {
            "collaboration_count": Label(
                "Antal samverkansparter", "Number of collaboration partners"
            )
        },
    )


# Outcome (Diagrams 14–17) --------------------------------------------------------

_closed_single(
    "closing_reason",
    "Varför har ärendet avslutats?",
    "Why was the case closed?",
    "Diagram 14",
    "closing_reason",
    S_OUTCOME,
    chart="barh",
)
_closed_single(
    "goal_followup",
    "Hur ser måluppföljningen ut för det individuella förändringsmålet?",
    "What is the follow-up of the individual change goal?",
    "Diagram 15",
    "goal_followup",
    S_OUTCOME,
)


@register(
    _spec(
        "duration",
        "Hur många dagar varar kontakten?",
        "How many days does the contact last?",
        "Diagram 16",
        (
            "Avslutade ärenden; dagar från aktualisering till avslut, båda dagarna medräknade",
            "Closed cases; days from opening to closing, both days counted",
        ),
        "single",
        ("duration_bin",),
        S_OUTCOME,
    )
)
def duration(df: pd.DataFrame, cb: Codebook, d: Definitions, by: Sequence[str]) -> Table:
    spec = TABLES["duration"].spec
    df = df.loc[df["is_closed"].to_numpy(dtype=bool)]
    data = single_counts(df, by, keyed(df["duration_bin"]), "duration_bin")
    return _table(
        spec,
        data,
        by,
        {"duration_bin": band_labels(DURATION_KEYS, DAYS)},
        {"duration_bin": Label("Antal dagar", "Number of days")},
    )


@register(
    _spec(
        "duration_by_closing_reason",
        "Hur förhåller sig kontaktens längd till ärendets avslutsorsak?",
        "How does the length of contact relate to the closing reason?",
        "Diagram 17",
        (
            "Avslutade ärenden med avslutsorsak och 1–360 dagars längd, per tidsintervall",
            "Closed cases with a closing reason lasting 1–360 days, per interval",
        ),
        "single",
        ("duration_bin", "closing_reason"),
        S_OUTCOME,
        chart="grouped",
    )
)
def duration_by_closing_reason(
    df: pd.DataFrame, cb: Codebook, d: Definitions, by: Sequence[str]
) -> Table:
    spec = TABLES["duration_by_closing_reason"].spec
    df = df.loc[df["has_closing_reason"].to_numpy(dtype=bool)]
    main = [str(c) for c in d.main_closing_reasons]
    reason = df["closing_reason"].astype("object").map(lambda v: None if pd.isna(v) else str(v))
    reason = reason.where(reason.isin(main) | reason.isna(), OTHER)
    values = pd.Series(pd.Categorical(reason, categories=[*main, OTHER]), index=df.index)
    bins = keyed(df["duration_bin"], list(DURATION_BINS_BY_REASON))
    work = df.assign(_bin=bins)
    data = single_counts(work, [*by, "_bin"], values, "closing_reason", not_registered=False)
    data = data.rename(columns={"_bin": "duration_bin"})
    reason_labels = {k: cb.label("closing_reason", int(k)) for k in main}
    reason_labels[OTHER] = OTHER_LABEL
    bin_labels = {k: Label(f"{k} dagar", f"{k} days") for k in DURATION_BINS_BY_REASON}
    return _table(
        spec,
        data,
        by,
        {"duration_bin": bin_labels, "closing_reason": reason_labels},
        {
            "duration_bin": Label("Antal dagar", "Number of days"),
            "closing_reason": cb["closing_reason"].label,
        },
    )


# Survey (Diagrams 18–20, 206) ---------------------------------------------------

SURVEYED = (
    "Ärenden med brukarenkät där frågan är besvarad",
    "Cases with a client survey where the question is answered",
)


def _survey(id: str, sv: str, en: str, diagram: str | None, key: str) -> None:
    spec = _spec(id, sv, en, diagram, SURVEYED, "single", (key,), S_SURVEY, chart="pie")

    def build(df: pd.DataFrame, cb: Codebook, d: Definitions, by: Sequence[str]) -> Table:
        population = df["has_survey"].astype(bool)
        rule = cb[key].applies_when
        if rule is not None:
            population &= df[rule[0]].astype("object").isin(list(rule[1]))
        return _var_single(spec, df, cb, by, key, population=population)

    TABLES[id] = Entry(spec, build)


_survey(
    "survey_violence_change",
    "Vad visar brukarenkäten om förändring i våldsutsatthet?",
    "What does the survey show about change in exposure to violence?",
    "Diagram 18",
    "survey_violence_change",
)
_survey(
    "survey_support_importance",
    "Vad visar brukarenkäten om insatsernas betydelse för förbättrad situation?",
    "What does the survey show about the importance of the interventions for an improved situation?",
    "Diagram 19",
    "survey_support_importance",
)
_survey(
    "survey_influence",
    "Vad visar brukarenkäten om delaktighet i val av stöd/insatser?",
    "What does the survey show about participation in the choice of support?",
    "Diagram 20",
    "survey_influence",
)
_survey(
    "survey_positive",
    "Fanns det inslag i stödet som klienten upplevde som särskilt positiva?",
    "Were there elements of the support the client found particularly positive?",
    None,
    "survey_positive",
)

# Top group -------------------------------------------------------------------


@register(
    _spec(
        "top_group",
        "Toppgruppen: målet helt uppfyllt och våldsutsattheten mycket förbättrad",
        "The top group: goal fully met and exposure to violence much improved",
        None,
        ("Avslutade ärenden", "Closed cases"),
        "single",
        ("top_group",),
        S_TOP,
        chart="pie",
    )
)
def top_group(df: pd.DataFrame, cb: Codebook, d: Definitions, by: Sequence[str]) -> Table:
    spec = TABLES["top_group"].spec
    df = df.loc[df["is_closed"].to_numpy(dtype=bool)]
    data = single_counts(df, by, _yes_no(df["is_top_group"]), "top_group", not_registered=False)
    return _table(
        spec, data, by, {"top_group": YES_NO}, {"top_group": Label("Toppgruppen", "Top group")}
    )


@register(
    _spec(
        "top_group_profile",
        "Hur skiljer sig toppgruppen från samtliga ärenden?",
        "How does the top group differ from all cases?",
        None,
        (
            "Ärenden i gruppen där uppgiften är registrerad",
            "Cases in the group where the item is registered",
        ),
        "multi",
        ("indicator", "group"),
        S_TOP,
        chart="grouped",
    )
)
def top_group_profile(df: pd.DataFrame, cb: Codebook, d: Definitions, by: Sequence[str]) -> Table:
    spec = TABLES["top_group_profile"].spec
    groups = {"top": df["is_top_group"].astype(bool), "all": pd.Series(True, index=df.index)}
    parts = []
    labels: dict[str, Label] = {}
    for indicator in d.top_profile:
        assert indicator.condition is not None
        registered = condition_registered(df, indicator.condition)
        hit = condition_mask(df, indicator.condition)
        pieces = []
        for key, member in groups.items():
            sub = df.loc[member.to_numpy()]
            data = multi_counts(
                sub,
                by,
                {indicator.key: hit.loc[sub.index]},
                registered.loc[sub.index],
                "_x",
                not_registered=False,
            ).drop(columns=["_x"])
            pieces.append((key, data))
        parts.append((indicator.key, stack_groups(pieces, "group", by)))
        labels[indicator.key] = group_label(cb, indicator)
    data = stack_groups(parts, "indicator", by)
    group_labels = {
        "top": Label("Toppgruppen", "Top group"),
        "all": Label("Samtliga ärenden", "All cases"),
    }
    return _table(
        spec,
        data,
        by,
        {"indicator": labels, "group": group_labels},
        {"indicator": Label("Kännetecken", "Characteristic"), "group": Label("Grupp", "Group")},
    )


# HRV deep dive (Diagrams 21–23) --------------------------------------------------

BY_HONOUR = (
    "Ärenden i gruppen (HRV: Ja, Ej HRV: Nej) där uppgiften är registrerad",
    "Cases in the group (honour context yes / no) where the item is registered",
)


@register(
    _spec(
        "hrv_age_band",
        "Hur fördelar sig HRV i olika åldersgrupper?",
        "Honour-related violence by age band",
        "Diagram 21",
        BY_HONOUR,
        "single",
        ("honour_context", "age_band"),
        S_HRV,
        chart="grouped",
    )
)
def hrv_age_band(df: pd.DataFrame, cb: Codebook, d: Definitions, by: Sequence[str]) -> Table:
    return _by_group_single(
        TABLES["hrv_age_band"].spec,
        df,
        cb,
        by,
        "honour_context",
        d.honour_groups,
        keyed(df["age_band"]),
        "age_band",
        band_labels(AGE_KEYS),
        cb["age"].label,
    )


@register(
    _spec(
        "hrv_origin",
        "Hur fördelar sig HRV utifrån ursprung?",
        "Honour-related violence by origin",
        "Diagram 22",
        BY_HONOUR,
        "single",
        ("honour_context", "origin"),
        S_HRV,
        chart="grouped",
    )
)
def hrv_origin(df: pd.DataFrame, cb: Codebook, d: Definitions, by: Sequence[str]) -> Table:
    return _by_group_single(
        TABLES["hrv_origin"].spec,
        df,
        cb,
        by,
        "honour_context",
        d.honour_groups,
        keyed(df["origin"]),
        "origin",
        option_labels(cb, "origin"),
        cb["origin"].label,
    )


@register(
    _spec(
        "hrv_perpetrator",
        "Vem utövar våldet? HRV och Ej HRV",
        "Who uses the violence? Honour context yes / no",
        None,
        BY_HONOUR,
        "multi",
        ("honour_context", "perpetrator"),
        S_HRV,
        notes=(MULTI_NOTE,),
        chart="grouped",
    )
)
def hrv_perpetrator(df: pd.DataFrame, cb: Codebook, d: Definitions, by: Sequence[str]) -> Table:
    return _by_group_multi(
        TABLES["hrv_perpetrator"].spec, df, cb, by, "honour_context", d.honour_groups, "perpetrator"
    )


@register(
    _spec(
        "hrv_interventions",
        "Hur fördelar sig insatser till HRV-gruppen?",
        "Interventions to the honour-related group",
        "Diagram 23",
        (
            "Ärenden med minst en insats, HRV och Ej HRV",
            "Cases with at least one intervention, honour context yes / no",
        ),
        "multi",
        ("honour_context", "intervention_type"),
        S_HRV,
        notes=(MULTI_NOTE,),
        chart="grouped",
    )
)
def hrv_interventions(df: pd.DataFrame, cb: Codebook, d: Definitions, by: Sequence[str]) -> Table:
    return _intervention_by_group(
        TABLES["hrv_interventions"].spec, df, cb, by, "honour_context", d.honour_groups
    )


@register(
    _spec(
        "hrv_risk_assessed",
        "Riskbedömning gjord, HRV och Ej HRV",
        "Risk assessed, honour context yes / no",
        None,
        ("Samtliga ärenden i gruppen", "All cases in the group"),
        "single",
        ("honour_context", "risk_assessed"),
        S_HRV,
        chart="grouped",
    )
)
def hrv_risk_assessed(df: pd.DataFrame, cb: Codebook, d: Definitions, by: Sequence[str]) -> Table:
    return _by_group_single(
        TABLES["hrv_risk_assessed"].spec,
        df,
        cb,
        by,
        "honour_context",
        d.honour_groups,
        _yes_no(df["risk_assessed"]),
        "risk_assessed",
        YES_NO,
        RISK_ASSESSED,
        not_registered=False,
    )


RISK_ASSESSED = Label("Bedömningsmetod för risk använd", "Risk assessment method used")

# Men deep dive (Diagrams 24–25) ---------------------------------------------------

BY_SEX = (
    "Ärenden per kön där uppgiften är registrerad",
    "Cases by sex where the item is registered",
)


@register(
    _spec(
        "men_age_band",
        "Hur fördelar sig ålder utifrån kön?",
        "Age by sex",
        "Diagram 24",
        BY_SEX,
        "single",
        ("sex", "age_band"),
        S_MEN,
        chart="grouped",
    )
)
def men_age_band(df: pd.DataFrame, cb: Codebook, d: Definitions, by: Sequence[str]) -> Table:
    return _by_group_single(
        TABLES["men_age_band"].spec,
        df,
        cb,
        by,
        "sex",
        d.sex_groups,
        keyed(df["age_band"]),
        "age_band",
        band_labels(AGE_KEYS),
        cb["age"].label,
    )


_sex_multi(
    "perpetrator_by_sex",
    "Vem utövar våldet? Efter kön",
    "Who uses the violence? By sex",
    None,
    "perpetrator",
)
_sex_multi(
    "men_interventions",
    "Hur fördelas insatserna utifrån kön?",
    "Interventions by sex",
    "Diagram 25",
    "intervention_type",
    intervention_population=True,
)


@register(
    _spec(
        "men_violence_severity",
        "Våldets grad efter kön",
        "Severity of the violence by sex",
        None,
        BY_SEX,
        "single",
        ("sex", "violence_severity"),
        S_MEN,
        chart="grouped",
    )
)
def men_violence_severity(
    df: pd.DataFrame, cb: Codebook, d: Definitions, by: Sequence[str]
) -> Table:
    key = "violence_severity"
    return _by_group_single(
        TABLES["men_violence_severity"].spec,
        df,
        cb,
        by,
        "sex",
        d.sex_groups,
        keyed(df[key]),
        key,
        option_labels(cb, key),
        cb[key].label,
    )


# Risk deep dive (Diagrams 26–27) ------------------------------------------------


@register(
    _spec(
        "risk_assessed",
        "Har bedömningsmetod för risk använts?",
        "Was a risk assessment method used?",
        "Diagram 26",
        ("Samtliga ärenden", "All cases"),
        "single",
        ("risk_assessed",),
        S_RISK,
        notes=(
            Label(
                "Räknar varje registrerad riskbedömning, också samtal utan bedömningsmetod.",
                "Counts every registered risk assessment, including conversations without a method.",
            ),
        ),
        chart="pie",
    )
)
def risk_assessed(df: pd.DataFrame, cb: Codebook, d: Definitions, by: Sequence[str]) -> Table:
    spec = TABLES["risk_assessed"].spec
    data = single_counts(
        df, by, _yes_no(df["risk_assessed"]), "risk_assessed", not_registered=False
    )
    return _table(spec, data, by, {"risk_assessed": YES_NO}, {"risk_assessed": RISK_ASSESSED})


@register(
    _spec(
        "risk_instruments",
        "Vilka är de vanligaste bedömningsmetoderna för risk?",
        "Which risk assessment methods are most common?",
        "Diagram 27",
        ("Ärenden med minst en riskbedömning", "Cases with at least one risk assessment"),
        "multi",
        ("risk_instrument",),
        S_RISK,
        notes=(MULTI_NOTE,),
        chart="barh",
    )
)
def risk_instruments(df: pd.DataFrame, cb: Codebook, d: Definitions, by: Sequence[str]) -> Table:
    spec = TABLES["risk_instruments"].spec
    return _var_multi(
        spec,
        df,
        cb,
        by,
        "risk_instrument",
        population=df["risk_assessed"],
        registered=df["risk_assessed"],
        not_registered=False,
    )


@register(
    _spec(
        "risk_assessed_by_severity",
        "Riskbedömning efter våldets grad",
        "Risk assessment by severity of the violence",
        None,
        (
            "Ärenden där våldets grad är registrerad, per grad",
            "Cases where severity is registered, by severity",
        ),
        "single",
        ("violence_severity", "risk_assessed"),
        S_RISK,
        chart="grouped",
    )
)
def risk_assessed_by_severity(
    df: pd.DataFrame, cb: Codebook, d: Definitions, by: Sequence[str]
) -> Table:
    codes = cb.codes("violence_severity")
    return _by_group_single(
        TABLES["risk_assessed_by_severity"].spec,
        df,
        cb,
        by,
        "violence_severity",
        codes,
        _yes_no(df["risk_assessed"]),
        "risk_assessed",
        YES_NO,
        RISK_ASSESSED,
        not_registered=False,
    )


@register(
    _spec(
        "risk_score_change",
        "Förändring mellan första och sista riskskattningen",
        "Change between the first and the last risk score",
        None,
        (
            "Ärenden med två eller fler skattningar med värde",
            "Cases with two or more scored assessments",
        ),
        "single",
        ("risk_score_change",),
        S_RISK,
        chart="pie",
    )
)
def risk_score_change(df: pd.DataFrame, cb: Codebook, d: Definitions, by: Sequence[str]) -> Table:
    spec = TABLES["risk_score_change"].spec
    df = df.loc[(df["n_risk_scores"] >= 2).to_numpy(dtype=bool)]
    data = single_counts(
        df, by, keyed(df["risk_score_change"]), "risk_score_change", not_registered=False
    )
    labels = dict(
        zip(
            SCORE_CHANGES,
            (Label("Lägre", "Lower"), Label("Samma", "Same"), Label("Högre", "Higher")),
            strict=True,
        )
    )
    return _table(
        spec,
        data,
        by,
        {"risk_score_change": labels},
        {
            "risk_score_change": Label(
                "Sista jämfört med första skattningen", "Last compared with first score"
            )
        },
    )


# --- Running them -----------------------------------------------------------


def build_table(
    table_id: str,
    frame: pd.DataFrame,
    codebook: Codebook,
    definitions: Definitions = DEFAULT_DEFINITIONS,
    by: Sequence[str] = (),
) -> Table:
    return TABLES[table_id].build(frame, codebook, definitions, tuple(by))


def build_tables(
    frame: pd.DataFrame,
    codebook: Codebook,
    definitions: Definitions = DEFAULT_DEFINITIONS,
    by: Sequence[str] = (),
    ids: Sequence[str] | None = None,
) -> list[Table]:
    """Every table of the national summary, in report order."""
    chosen = list(TABLES) if ids is None else list(ids)
    return [build_table(i, frame, codebook, definitions, by) for i in chosen]
