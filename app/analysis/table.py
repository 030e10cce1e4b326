"""The ``case_analysis`` table, its columns derived from the shared catalogue.

The layout (:func:`exporters.analysis.layout_from_codebook`) comes from the
catalogue packaged with the product (``variables/``), the same files the
catalogue lock freezes: a new shared variable or code changes this table, so
the migration test (no drift between models and migrations) demands a
migration for it. Local variables never become columns (``local_values``).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Table,
    Uuid,
)
from sqlalchemy.types import TypeEngine

from app.catalogue.loader import load_catalogue
from app.config import resource_path
from app.db import Base, JSONType
from app.stats.codebook import codebook_from_catalogue
from exporters.analysis import Column as LayoutColumn
from exporters.analysis import Layout, layout_from_codebook

TABLE_NAME = "case_analysis"


@lru_cache(maxsize=1)
def shared_layout() -> Layout:
    """The layout of the packaged shared catalogue."""
    catalogue = load_catalogue(resource_path("variables"))
    return layout_from_codebook(codebook_from_catalogue(catalogue))


def _type(column: LayoutColumn) -> TypeEngine[Any]:
    types: dict[str, TypeEngine[Any]] = {
        "id": Uuid(),
        "code": SmallInteger(),
        "int": Integer(),
        "count": Integer(),
        "date": Date(),
        "bool": Boolean(),
        "bits": BigInteger(),
        "json": JSONType,
    }
    if column.kind == "text":
        return String(column.length)
    return types[column.kind]


def _table() -> Table:
    columns: list[Column[Any]] = []
    for spec in shared_layout().columns():
        if spec.name == "case_id":
            columns.append(
                Column(
                    "case_id",
                    Uuid(),
                    ForeignKey("cases.id", ondelete="CASCADE"),
                    primary_key=True,
                )
            )
            continue
        columns.append(Column(spec.name, _type(spec), nullable=spec.nullable))
    # Not part of the row: a random number drawn at every write of it, so the
    # table's (count, sum) changes with any committed change — a cheap
    # fingerprint for reusing a published release (app.stats.service).
    columns.append(Column("write_token", BigInteger(), nullable=False, server_default="0"))
    return Table(
        TABLE_NAME,
        Base.metadata,
        *columns,
        Index("ix_case_analysis_municipality_actualised", "municipality_code", "actualised_on"),
        Index("ix_case_analysis_actualised_on", "actualised_on"),
        Index("ix_case_analysis_unit_id", "unit_id"),
    )


case_analysis = _table()
