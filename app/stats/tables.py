"""Reading the table definitions (``variables/tables/*.yaml``) of the national
compilation; :mod:`exporters.tabledefs` checks them, :mod:`exporters.tables`
evaluates them. The format is described in variables/tables/README.md."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import yaml

from app.config import resource_path
from exporters.tabledefs import TableCatalogue, TableDefinitionError, catalogue_from_documents

TABLES_DIR = resource_path("variables") / "tables"


def load_tables(directory: Path = TABLES_DIR) -> TableCatalogue:
    """Every ``*.yaml`` of ``directory`` in file-name order (report order)."""
    documents = []
    for path in sorted(directory.glob("*.yaml")):
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            raise TableDefinitionError(f"{path.name}: not valid YAML ({exc})") from None
        if not isinstance(data, dict):
            raise TableDefinitionError(f"{path.name}: a mapping expected")
        documents.append((path.name, data))
    return catalogue_from_documents(documents)


@cache
def table_catalogue() -> TableCatalogue:
    """The packaged table definitions, read once."""
    return load_tables()
