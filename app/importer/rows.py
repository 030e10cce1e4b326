"""An import batch's new objects as plain rows, written in one short transaction.

The services build a batch's cases, children, revisions and audit events as
ORM objects in a read transaction (no write lock on SQLite). :func:`pending_rows`
turns them into rows per table (column defaults applied as a flush would), and
:func:`write_rows` inserts them with one multi-row INSERT per table, in
foreign-key order, inside a write transaction that lasts only as long as the
inserts themselves.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import Table, insert, inspect
from sqlalchemy.orm import Session

from app.db import Base

Rows = dict[Table, list[dict[str, Any]]]


def _default(column: Any) -> Any:
    default = column.default
    if default is None or (not getattr(default, "is_scalar", False) and not default.is_callable):
        return None
    if default.is_callable:
        return default.arg(None)
    return default.arg


def pending_rows(session: Session) -> Rows:
    """The session's new objects as rows; only new objects (an import changes
    nothing that exists)."""
    if session.dirty or session.deleted:
        raise ValueError("an import batch may only add rows")
    rows: Rows = defaultdict(list)
    for obj in session.new:
        mapper = inspect(obj).mapper
        row: dict[str, Any] = {}
        for prop in mapper.column_attrs:
            column = prop.columns[0]
            value = getattr(obj, prop.key)
            if value is None:
                if (
                    column.primary_key
                    and column.autoincrement is not False
                    and column.default is None
                ):
                    continue  # the database numbers it (audit events)
                value = _default(column)
            row[column.key] = value
        rows[mapper.local_table].append(row)
    return rows


def write_rows(session: Session, rows: Rows) -> int:
    """Insert every row, parents before children; returns how many."""
    written = 0
    for table in Base.metadata.sorted_tables:
        batch = rows.get(table)
        if batch:
            session.execute(insert(table), batch)
            written += len(batch)
    return written
