"""What a table is: a declared spec and tidy data.

``Table.data`` columns, in order: the leading breakdown columns (``by``: e.g.
``year``, ``area_level``, ``area_code``), the table's own dimensions
(``spec.dims``), then ``n``, ``N`` and ``percent`` (``mean`` for mean tables).
After disclosure control two flags follow: ``suppressed`` (n and percent are
hidden) and ``N_suppressed``. A hidden value is ``<NA>`` with its flag set and
is written as ``..``; it is never a 0.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Literal

import pandas as pd

from exporters.codebook import Label

RESULTS = Label("Resultat", "Results")
TableKind = Literal["single", "multi", "mean", "count"]
"""single: the categories of ``spec.category`` add up to N (a relation
disclosure control protects); multi: several options per case, each n ≤ N;
mean: ``n`` is a sum over the N cases and ``mean`` = n / N; count: counts
that add up to nothing within the table (``meta.excluded``), N = n."""
ChartKind = Literal["columns", "bars", "pie", "none"]
ChartValue = Literal["percent", "count", "mean"]
ChartSort = Literal["catalogue", "descending"]

COUNT_COLUMNS = ("n", "N", "percent")
FLAG_COLUMNS = ("suppressed", "N_suppressed")
KEY_COLUMNS = ("n_key", "N_key")
"""Optional: a table may name its cells so that the same count in two rows is
protected as one cell (the funnel's step bases)."""


@dataclass(frozen=True)
class ChartSpec:
    """How a table is drawn, where the report differs per diagram."""

    kind: ChartKind = "bars"
    """columns (vertical), bars (horizontal), pie (single-choice tables only;
    drawn as bars when it cannot be a pie: several series, or a hidden value)."""
    value: ChartValue = "percent"
    """What the bars show: percent of N, the count n, or (mean tables) the mean."""
    axis: str | None = None
    """The dimension along the axis (default: the table's category); the other
    dimensions, areas and years are the series."""
    sort: ChartSort = "catalogue"
    """descending: the categories by size (the first series' value), largest first."""
    stacked: bool = False
    """The series stacked in one column (Diagram 1: registered + not registered)."""
    not_registered: bool = False
    """Show the not-registered category or series ("Ej registrerat")."""
    measure: str | None = None
    """Mean tables: the measure drawn (a key of the ``measure`` dimension)."""
    categories: tuple[str, ...] = ()
    """Only these keys of the category dimension are drawn (e.g. HRV "Ja" of
    a share by age band); empty: every category."""
    labels: Mapping[str, Mapping[str, Label]] = field(default_factory=dict)
    """Per dimension, key -> its name in the chart (the report's "HRV" /
    "Ej HRV" for honour context Ja / Nej)."""
    value_label: Label | None = None
    """The value axis' label instead of "Andel (%)" / "Antal ärenden"."""


@dataclass(frozen=True)
class TableSpec:
    id: str
    title: Label
    diagram: str | None
    """The report's diagram it mirrors, e.g. "Diagram 3"; None for a text figure."""
    denominator: Label
    """Who N counts."""
    kind: TableKind
    dims: tuple[str, ...]
    category: str
    """The dimension whose values are the categories (the rest group the rows)."""
    notes: tuple[Label, ...] = ()
    chart: ChartSpec = field(default_factory=ChartSpec)
    section: Label = RESULTS


@dataclass(frozen=True)
class Table:
    spec: TableSpec
    data: pd.DataFrame
    labels: Mapping[str, Mapping[str, Label]] = field(default_factory=dict)
    """Per dimension: value key -> label."""
    dim_labels: Mapping[str, Label] = field(default_factory=dict)
    by: tuple[str, ...] = ()
    """Leading breakdown columns of ``data`` (year, area, …)."""

    @property
    def id(self) -> str:
        return self.spec.id

    @property
    def is_protected(self) -> bool:
        return "suppressed" in self.data.columns

    def with_data(self, data: pd.DataFrame, by: tuple[str, ...] | None = None) -> Table:
        return replace(self, data=data, by=self.by if by is None else by)

    def label(self, dim: str, key: object) -> Label:
        found = self.labels.get(dim, {}).get(str(key))
        return found if found is not None else Label(str(key), str(key))

    def value_columns(self) -> tuple[str, ...]:
        return ("n", "N", "mean") if self.spec.kind == "mean" else COUNT_COLUMNS
