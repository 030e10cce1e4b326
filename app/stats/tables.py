"""Reading the table definitions (``variables/tables/*.yaml``) of the national
compilation; :mod:`exporters.tabledefs` checks them, :mod:`exporters.tables`
evaluates them. The format is described in variables/tables/README.md.

The classifications of municipalities that tables may count by (``area_group``)
come from the packaged reference data (:mod:`app.reference`)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import yaml

from app.config import resource_path
from app.reference import SIZE_CLASSES, TOTAL_POPULATION_DATE, municipalities, size_class
from app.yaml_data import load_yaml
from exporters.codebook import Label
from exporters.tabledefs import (
    AreaGrouping,
    TableCatalogue,
    TableDefinitionError,
    catalogue_from_documents,
)

TABLES_DIR = resource_path("variables") / "tables"


@cache
def area_groupings() -> dict[str, AreaGrouping]:
    """``municipality_size``: the municipalities by total population."""
    of = {code: key for code in municipalities() if (key := size_class(code)) is not None}
    size = AreaGrouping(
        key="municipality_size",
        label=Label("Kommunstorlek (invånare)", "Municipality size (residents)"),
        groups=tuple((key, Label(sv, en)) for key, _low, _high, sv, en in SIZE_CLASSES),
        of=of,
        source=Label(
            f"Folkmängd {TOTAL_POPULATION_DATE} (SCB, Kolada N01951).",
            f"Population on {TOTAL_POPULATION_DATE} (Statistics Sweden, Kolada N01951).",
        ),
    )
    return {size.key: size}


def load_tables(directory: Path = TABLES_DIR) -> TableCatalogue:
    """Every ``*.yaml`` of ``directory`` in file-name order (report order)."""
    documents = []
    for path in sorted(directory.glob("*.yaml")):
        try:
            data = load_yaml(path)
        except yaml.YAMLError as exc:
            raise TableDefinitionError(f"{path.name}: not valid YAML ({exc})") from None
        if not isinstance(data, dict):
            raise TableDefinitionError(f"{path.name}: a mapping expected")
        documents.append((path.name, data))
    return catalogue_from_documents(documents, area_groupings())


@cache
def table_catalogue() -> TableCatalogue:
    """The packaged table definitions, read once."""
    return load_tables()
