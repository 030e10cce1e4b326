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
from typing import Any

from exporters.codebook import Label
from exporters.spec import TableSpec

KINDS = ("single", "multi", "mean")
CHARTS = ("bar", "barh", "pie", "grouped", "none")
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
    "funnel",
    "interventions_per_case",
    "top_group_profile",
    "duration_by_closing_reason",
)
VALUE_KINDS = ("variable", "band", "flag", "any_of", "column")
BANDS = ("age", "duration")
COMPUTE_KEYS = {
    "counts": {"rule", "population", "values", "options", "group", "skip_logic"},
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
class TableCatalogue:
    tables: tuple[TableDef, ...] = ()
    _by_id: Mapping[str, TableDef] = field(default_factory=dict, compare=False, repr=False)

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


def _check_compute(compute: Any, where: str) -> Mapping[str, Any]:
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
        group = compute.get("group")
        if group is not None and not ({"variable", "band"} & set(group)):
            raise TableDefinitionError(f"{where}.compute.group: a variable or a band")
    for name, text in (compute.get("dim_labels") or {}).items():
        label(text, f"{where}.compute.dim_labels.{name}")
    return compute


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
    chart = table.get("chart", "bar")
    if chart not in CHARTS:
        raise TableDefinitionError(f"{where}.chart: one of {CHARTS}")
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


def catalogue_from_documents(documents: Sequence[tuple[str, Mapping[str, Any]]]) -> TableCatalogue:
    """Check and collect the tables of the parsed files, in the files' order
    (name, document); a document of kind ``isu-table-notes`` holds shared notes."""
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
            tables.append(TableDef(spec, _check_compute(table.get("compute"), where)))
    return TableCatalogue(tuple(tables))
