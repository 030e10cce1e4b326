"""The tables of the national compilation as data (``variables/tables/*.yaml``).

Each table is declared, not programmed: its title, diagram, denominator,
notes, chart kind and section, and in ``compute`` which cases it counts and
how (see variables/tables/README.md). The application reads the files
(``app.stats.tables``) and hands the parsed documents to
:func:`catalogue_from_documents`, which checks every field and names the file,
table and field of any mistake. :mod:`exporters.tables` evaluates them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from exporters.codebook import Label
from exporters.spec import ChartKind, ChartSort, ChartSpec, ChartValue, TableSpec

KINDS = ("single", "multi", "mean")
CHARTS = ("columns", "bars", "pie", "none")
CHART_VALUES = ("percent", "count", "mean")
CHART_SORTS = ("catalogue", "descending")
CHART_KEYS = {
    "kind",
    "value",
    "axis",
    "sort",
    "stacked",
    "not_registered",
    "measure",
    "categories",
    "labels",
    "value_label",
}
POPULATIONS = (
    "all",
    "closed",
    "closed_with_reason",
    "has_intervention",
    "has_survey",
    "risk_assessed",
    "collaboration_partner",
    "scored_twice",
)
"""Who a table counts: every case, or the cases with that property."""
RULES = (
    "counts",
    "means",
    "funnel",
    "interventions_per_case",
    "top_group_profile",
    "duration_by_closing_reason",
)
VALUE_KINDS = ("variable", "band", "flag", "any_of", "column", "area_group")
BANDS = ("age", "duration")
COMPUTE_KEYS = {
    "counts": {"rule", "population", "values", "options", "group", "skip_logic"},
    "means": {"rule", "population", "measures", "group", "dim_labels"},
    "funnel": {"rule", "steps", "dim_labels"},
    "interventions_per_case": {"rule", "population", "measures", "groups", "dim_labels"},
    "top_group_profile": {"rule", "indicators", "group_labels", "dim_labels"},
    "duration_by_closing_reason": {
        "rule",
        "population",
        "bins",
        "reasons",
        "other_label",
        "bin_label",
        "dim_labels",
    },
}


class TableDefinitionError(ValueError):
    """A table definition is malformed; the message names file, table and field."""


@dataclass(frozen=True)
class TableDef:
    spec: TableSpec
    compute: Mapping[str, Any]

    @property
    def rule(self) -> str:
        return str(self.compute.get("rule", "counts"))


@dataclass(frozen=True)
class AreaGrouping:
    """A classification of the municipalities (reference data, e.g. by size):
    the groups in order with their labels, and each municipality's group."""

    key: str
    label: Label
    groups: tuple[tuple[str, Label], ...]
    of: Mapping[str, str]
    """Municipality code -> group key; a municipality not listed is in no group."""
    source: Label | None = None


@dataclass(frozen=True)
class TableCatalogue:
    tables: tuple[TableDef, ...] = ()
    _by_id: Mapping[str, TableDef] = field(default_factory=dict, compare=False, repr=False)
    groupings: Mapping[str, AreaGrouping] = field(default_factory=dict)
    """Classifications of municipalities that tables may count by (``area_group``)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_id", {t.spec.id: t for t in self.tables})

    def __getitem__(self, table_id: str) -> TableDef:
        return self._by_id[table_id]

    def __contains__(self, table_id: object) -> bool:
        return table_id in self._by_id

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_id)

    def __len__(self) -> int:
        return len(self.tables)

    def ids(self) -> list[str]:
        return list(self._by_id)


def label(value: Any, where: str) -> Label:
    if not isinstance(value, Mapping) or set(value) != {"sv", "en"}:
        raise TableDefinitionError(f"{where}: a text needs exactly sv and en")
    if not all(isinstance(v, str) and v for v in value.values()):
        raise TableDefinitionError(f"{where}: sv and en must be non-empty texts")
    return Label(value["sv"], value["en"])


def group_specs(compute: Mapping[str, Any]) -> list[Any]:
    """``group``: one breakdown or a list of them (outermost first)."""
    group = compute.get("group")
    if group is None:
        return []
    return list(group) if isinstance(group, list) else [group]


def _check_compute(
    compute: Any, where: str, groupings: Mapping[str, AreaGrouping]
) -> Mapping[str, Any]:
    if not isinstance(compute, Mapping):
        raise TableDefinitionError(f"{where}.compute: missing or not a mapping")
    rule = compute.get("rule", "counts")
    if rule not in RULES:
        raise TableDefinitionError(f"{where}.compute.rule: unknown rule {rule!r}")
    unknown = set(compute) - COMPUTE_KEYS[rule]
    if unknown:
        raise TableDefinitionError(f"{where}.compute: unknown field(s) {sorted(unknown)}")
    population = compute.get("population", "all")
    if population not in POPULATIONS:
        raise TableDefinitionError(f"{where}.compute.population: unknown {population!r}")
    if rule == "counts":
        if ("values" in compute) == ("options" in compute):
            raise TableDefinitionError(f"{where}.compute: give values (single) or options (multi)")
        values = compute.get("values")
        if values is not None:
            kinds = [k for k in VALUE_KINDS if k in values]
            if len(kinds) != 1:
                raise TableDefinitionError(
                    f"{where}.compute.values: exactly one of {', '.join(VALUE_KINDS)}"
                )
            if "band" in values and values["band"] not in BANDS:
                raise TableDefinitionError(f"{where}.compute.values.band: one of {BANDS}")
            for key in ("label",):
                if key in values:
                    label(values[key], f"{where}.compute.values.{key}")
        options = compute.get("options")
        if options is not None and "variable" not in options:
            raise TableDefinitionError(f"{where}.compute.options.variable: missing")
    if rule == "means":
        measures = compute.get("measures")
        if not isinstance(measures, Mapping) or not measures:
            raise TableDefinitionError(f"{where}.compute.measures: a mapping key -> column, label")
        for key, measure in measures.items():
            if not isinstance(measure, Mapping) or not isinstance(measure.get("column"), str):
                raise TableDefinitionError(f"{where}.compute.measures.{key}.column: missing")
            label(measure.get("label"), f"{where}.compute.measures.{key}.label")
    groups = group_specs(compute)
    for group in groups:
        if not isinstance(group, Mapping) or (
            len({"variable", "band", "area_group"} & set(group)) != 1
        ):
            raise TableDefinitionError(
                f"{where}.compute.group: one of a variable, a band or an area_group "
                "(or a list of them)"
            )
    for spec in (compute.get("values"), *groups):
        name = spec.get("area_group") if isinstance(spec, Mapping) else None
        if name is not None and name not in groupings:
            raise TableDefinitionError(f"{where}.compute: unknown area_group {name!r}")
    for name, text in (compute.get("dim_labels") or {}).items():
        label(text, f"{where}.compute.dim_labels.{name}")
    return compute


def _chart(value: Any, where: str, kind: str, dims: list[str], category: str) -> ChartSpec:
    """``chart: pie`` (a kind) or a mapping of :class:`~exporters.spec.ChartSpec` fields."""
    fields = {"kind": value} if isinstance(value, str) else value
    if not isinstance(fields, Mapping):
        raise TableDefinitionError(f"{where}: a chart kind or a mapping")
    unknown = set(fields) - CHART_KEYS
    if unknown:
        raise TableDefinitionError(f"{where}: unknown field(s) {sorted(unknown)}")
    chart_kind = fields.get("kind", "bars")
    if chart_kind not in CHARTS:
        raise TableDefinitionError(f"{where}.kind: one of {CHARTS}")
    default_value = "mean" if kind == "mean" else "percent"
    chart_value = fields.get("value", default_value)
    if chart_value not in CHART_VALUES or (chart_value == "mean") != (kind == "mean"):
        raise TableDefinitionError(
            f"{where}.value: mean for mean tables, otherwise percent or count"
        )
    if chart_kind == "pie" and kind != "single":
        raise TableDefinitionError(f"{where}.kind: a pie needs a single-choice table")
    axis = fields.get("axis", category)
    if axis not in dims:
        raise TableDefinitionError(f"{where}.axis: must be one of dims")
    sort = fields.get("sort", "catalogue")
    if sort not in CHART_SORTS:
        raise TableDefinitionError(f"{where}.sort: one of {CHART_SORTS}")
    flags = {}
    for name in ("stacked", "not_registered"):
        flag = fields.get(name, False)
        if not isinstance(flag, bool):
            raise TableDefinitionError(f"{where}.{name}: true or false")
        flags[name] = flag
    measure = fields.get("measure")
    if measure is not None and (kind != "mean" or not isinstance(measure, str)):
        raise TableDefinitionError(f"{where}.measure: a measure key, for mean tables only")
    categories = fields.get("categories", [])
    if not isinstance(categories, list) or not all(isinstance(c, str) for c in categories):
        raise TableDefinitionError(f"{where}.categories: a list of category keys (texts)")
    labels_spec = fields.get("labels", {})
    if not isinstance(labels_spec, Mapping) or not all(
        dim in dims and isinstance(keys, Mapping) for dim, keys in labels_spec.items()
    ):
        raise TableDefinitionError(f"{where}.labels: dimension -> key -> text")
    value_label = fields.get("value_label")
    return ChartSpec(
        categories=tuple(categories),
        labels={
            dim: {str(k): label(v, f"{where}.labels.{dim}.{k}") for k, v in keys.items()}
            for dim, keys in labels_spec.items()
        },
        value_label=None if value_label is None else label(value_label, f"{where}.value_label"),
        kind=cast(ChartKind, chart_kind),
        value=cast(ChartValue, chart_value),
        axis=axis,
        sort=cast(ChartSort, sort),
        stacked=flags["stacked"],
        not_registered=flags["not_registered"],
        measure=measure,
    )


def _spec(
    table: Mapping[str, Any], where: str, section: Label, notes: Mapping[str, Label]
) -> TableSpec:
    known = {
        "id",
        "title",
        "diagram",
        "kind",
        "dims",
        "category",
        "denominator",
        "notes",
        "chart",
        "compute",
    }
    unknown = set(table) - known
    if unknown:
        raise TableDefinitionError(f"{where}: unknown field(s) {sorted(unknown)}")
    kind = table.get("kind")
    if kind not in KINDS:
        raise TableDefinitionError(f"{where}.kind: one of {KINDS}")
    dims = table.get("dims")
    if not isinstance(dims, list) or not dims or not all(isinstance(d, str) for d in dims):
        raise TableDefinitionError(f"{where}.dims: a list of dimension names")
    category = table.get("category", dims[-1])
    if category not in dims:
        raise TableDefinitionError(f"{where}.category: must be one of dims")
    chart = _chart(table.get("chart", "bars"), f"{where}.chart", kind, dims, category)
    table_notes = []
    for i, note in enumerate(table.get("notes") or []):
        if isinstance(note, str):
            if note not in notes:
                raise TableDefinitionError(f"{where}.notes[{i}]: unknown shared note {note!r}")
            table_notes.append(notes[note])
        else:
            table_notes.append(label(note, f"{where}.notes[{i}]"))
    return TableSpec(
        id=str(table["id"]),
        title=label(table.get("title"), f"{where}.title"),
        diagram=table.get("diagram"),
        denominator=label(table.get("denominator"), f"{where}.denominator"),
        kind=kind,
        dims=tuple(dims),
        category=category,
        notes=tuple(table_notes),
        chart=chart,
        section=section,
    )


def catalogue_from_documents(
    documents: Sequence[tuple[str, Mapping[str, Any]]],
    groupings: Mapping[str, AreaGrouping] | None = None,
) -> TableCatalogue:
    """Check and collect the tables of the parsed files, in the files' order
    (name, document); a document of kind ``isu-table-notes`` holds shared notes.
    ``groupings``: the classifications of municipalities tables may name."""
    groupings = dict(groupings or {})
    notes: dict[str, Label] = {}
    for name, doc in documents:
        if doc.get("kind") == "isu-table-notes":
            for key, text in (doc.get("notes") or {}).items():
                notes[str(key)] = label(text, f"{name}: notes.{key}")
    tables: list[TableDef] = []
    seen: set[str] = set()
    for name, doc in documents:
        if doc.get("kind") == "isu-table-notes":
            continue
        if doc.get("kind") != "isu-tables" or doc.get("format_version") != 1:
            raise TableDefinitionError(f"{name}: kind isu-tables, format_version 1 expected")
        section = label((doc.get("section") or {}).get("label"), f"{name}: section.label")
        for i, table in enumerate(doc.get("tables") or []):
            where = f"{name}: tables[{i}] ({table.get('id', '?')})"
            table_id = table.get("id")
            if not isinstance(table_id, str) or not table_id:
                raise TableDefinitionError(f"{where}.id: missing")
            if table_id in seen:
                raise TableDefinitionError(f"{where}.id: {table_id!r} is defined twice")
            seen.add(table_id)
            spec = _spec(table, where, section, notes)
            compute = _check_compute(table.get("compute"), where, groupings)
            tables.append(TableDef(spec, compute))
    return TableCatalogue(tuple(tables), groupings=groupings)
