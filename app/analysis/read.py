"""Reading the analysis table columnar: the database's rows straight into Arrow.

Never ORM objects, never JSON. One ``SELECT`` of the needed columns of
``case_analysis`` (the per-code booleans are read as one bit mask per
variable), executed on the session's own connection, so a statistic sees the
transaction it runs in:

* PostgreSQL: ``COPY (SELECT …) TO STDOUT (FORMAT csv)`` on the session's
  psycopg connection, parsed by pyarrow's multi-threaded CSV reader with the
  column types given;
* SQLite: the ADBC SQLite driver (``adbc-driver-sqlite``) on the database
  file, which reads the last committed state — used when the session's
  transaction has written nothing yet (always so for a statistics request);
  otherwise the session's own cursor (a test that writes and reads in one
  transaction).

Both give the same Arrow table: ids as text, dates as ``date32``, codes and
counts as ``int64``, flags as ``bool``, missing as null.
"""

from __future__ import annotations

import io
import itertools
import uuid
from collections.abc import Collection, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from sqlalchemy import Connection, Select, event, func, literal_column, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement

from app.analysis.sync import UNIT_KIND_CODE
from app.analysis.table import case_analysis, shared_layout
from exporters.analysis import Layout

CHANGES_AT_BEGIN = "isu.analysis.changes_at_begin"
READ_THREADS = 2
SPLIT_FROM = 200_000
"""SQLite reads of tables with at least this many rows are split over threads."""

ARROW_TYPES: dict[str, pa.DataType] = {
    "id": pa.string(),
    "text": pa.string(),
    "code": pa.int16(),
    "int": pa.int32(),
    "count": pa.int32(),
    "bits": pa.int64(),
    "date": pa.date32(),
    "bool": pa.bool_(),
    "json": pa.string(),
}


@dataclass(frozen=True)
class CaseFilter:
    """Which cases: actualised within the period, in these municipalities
    (None = all), at this unit (None = all units), of this unit kind."""

    actualised_from: date
    actualised_to: date
    municipalities: Collection[str] | None = None
    unit_id: uuid.UUID | None = None
    unit_kind: str | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        t = case_analysis.c
        out: list[ColumnElement[bool]] = [
            t.actualised_on >= self.actualised_from,
            t.actualised_on <= self.actualised_to,
        ]
        if self.municipalities is not None:
            out.append(t.municipality_code.in_(sorted(self.municipalities)))
        if self.unit_id is not None:
            out.append(t.unit_id == self.unit_id)
        if self.unit_kind is not None:
            out.append(t.unit_kind == UNIT_KIND_CODE[self.unit_kind])
        return out


def _schema(layout: Layout, names: Sequence[str]) -> pa.Schema:
    return pa.schema([(n, ARROW_TYPES[layout.column(n).kind]) for n in names])


def query(names: Sequence[str], where: CaseFilter, *, excluded: bool | None = False) -> Select[Any]:
    """``excluded``: False = included cases, True = excluded ones, None = all."""
    statement = select(*(case_analysis.c[n] for n in names)).where(*where.conditions())
    if excluded is not None:
        statement = statement.where(case_analysis.c.is_excluded.is_(excluded))
    return statement


def _literal(connection: Connection, statement: Select[Any]) -> str:
    return str(statement.compile(connection, compile_kwargs={"literal_binds": True}))


# --- PostgreSQL: COPY into pyarrow ---------------------------------------------------


def _read_postgresql(connection: Connection, statement: Select[Any], schema: pa.Schema) -> pa.Table:
    sql = _literal(connection, statement)
    raw = connection.connection.dbapi_connection
    assert raw is not None
    buffer = io.BytesIO()
    with raw.cursor() as cursor, cursor.copy(f"COPY ({sql}) TO STDOUT (FORMAT csv)") as copy:  # type: ignore[attr-defined]
        for chunk in copy:
            buffer.write(chunk)
    if buffer.tell() == 0:
        return schema.empty_table()
    return pacsv.read_csv(
        pa.BufferReader(buffer.getbuffer()),
        read_options=pacsv.ReadOptions(column_names=schema.names, block_size=1 << 24),
        convert_options=pacsv.ConvertOptions(
            column_types=schema,
            null_values=[""],
            true_values=["t"],
            false_values=["f"],
            strings_can_be_null=True,
            quoted_strings_can_be_null=False,
        ),
    )


# --- SQLite: ADBC, or the session's cursor ------------------------------------------


@event.listens_for(Engine, "begin")
def _remember_changes(conn: Connection) -> None:
    """Note how many rows the SQLite connection had changed when its
    transaction began: more later means this transaction wrote something the
    ADBC driver (another connection) cannot see."""
    if conn.dialect.name == "sqlite":
        raw = conn.connection.dbapi_connection
        conn.info[CHANGES_AT_BEGIN] = getattr(raw, "total_changes", None)


def _clean_file(connection: Connection) -> str | None:
    """The database file when ADBC may read it for this transaction."""
    path = connection.engine.url.database
    if not path or path == ":memory:" or path.startswith("file:"):
        return None
    raw = connection.connection.dbapi_connection
    changes = getattr(raw, "total_changes", None)
    if changes is None or connection.info.get(CHANGES_AT_BEGIN) != changes:
        return None
    return path


def _sqlite_select(statement: Select[Any], layout: Layout) -> Select[Any]:
    """Every non-integer column as text, never NULL (the ADBC SQLite driver
    types a column by its first rows: a NULL there must not decide it)."""
    columns: list[ColumnElement[Any]] = []
    for column in statement.selected_columns:
        kind = layout.column(str(column.key)).kind
        if kind in ("id", "text", "date", "json"):
            columns.append(func.ifnull(column, "").label(column.key))
        else:
            columns.append(column)
    return statement.with_only_columns(*columns)


def _hyphenate(ids: pa.ChunkedArray) -> pa.ChunkedArray:
    """SQLite keeps UUIDs as 32 hex digits; the frame has the canonical form."""
    if len(ids) == 0 or pc.all(pc.equal(pc.utf8_length(ids), 36)).as_py():
        return ids
    parts = [
        pc.utf8_slice_codeunits(ids, a, b)
        for a, b in ((0, 8), (8, 12), (12, 16), (16, 20), (20, 32))
    ]
    return pc.binary_join_element_wise(*parts, "-")


def _normalise(table: pa.Table, schema: pa.Schema) -> pa.Table:
    columns = []
    for field in schema:
        column = table.column(field.name)
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            column = pc.if_else(pc.equal(column, ""), pa.scalar(None, column.type), column)
        if field.type == pa.date32() and not pa.types.is_date32(column.type):
            column = column.cast(pa.date32())
        elif field.type == pa.bool_() and not pa.types.is_boolean(column.type):
            column = pc.not_equal(column, 0)
        elif pa.types.is_integer(field.type) and column.type != field.type:
            column = column.cast(field.type)
        elif field.type == pa.string() and column.type != pa.string():
            column = column.cast(pa.string())
        if field.type == pa.string() and field.name in ("case_id", "unit_id"):
            column = _hyphenate(column)
        columns.append(column)
    return pa.table(columns, schema=schema)


def _read_sqlite(
    connection: Connection, statement: Select[Any], schema: pa.Schema, layout: Layout
) -> pa.Table:
    path = _clean_file(connection)
    if path is not None:
        import adbc_driver_sqlite.dbapi as adbc

        def part(sql: str) -> pa.Table:
            with adbc.connect(path) as conn, conn.cursor() as cursor:
                cursor.execute(sql)
                table = cursor.fetch_arrow_table()
            return _normalise(table, schema) if table.num_rows else schema.empty_table()

        # Large reads in slices of the table's rowid, one ADBC connection and
        # thread each: the driver releases the GIL, so both cores read.
        last = int(connection.execute(text("SELECT max(rowid) FROM case_analysis")).scalar() or 0)
        slices = READ_THREADS if last >= SPLIT_FROM else 1
        bounds = [last * i // slices for i in range(slices + 1)]
        rowid: ColumnElement[int] = literal_column("case_analysis.rowid")
        sqls = [
            _literal(
                connection,
                _sqlite_select(statement, layout).where(rowid > low, rowid <= high)
                if slices > 1
                else _sqlite_select(statement, layout),
            )
            for low, high in itertools.pairwise(bounds)
        ]
        if len(sqls) == 1:
            return part(sqls[0])
        with ThreadPoolExecutor(max_workers=len(sqls)) as pool:
            return pa.concat_tables(list(pool.map(part, sqls)))
    rows = connection.execute(statement).all()
    arrays = []
    for i, field in enumerate(schema):
        values = [r[i] for r in rows]
        if field.name in ("case_id", "unit_id"):
            values = [None if v is None else str(v) for v in values]
        arrays.append(pa.array(values, type=field.type))
    return pa.table(arrays, schema=schema)


def fingerprint(session: Session | Connection) -> tuple[int, int]:
    """(rows, sum of the rows' write tokens) of the analysis table: a change
    to any row draws a new random token, so this changes with every committed
    change, and a result computed from the table can be reused while it stays
    the same."""
    connection = session.connection() if isinstance(session, Session) else session
    row = connection.execute(
        select(func.count(), func.coalesce(func.sum(case_analysis.c.write_token), 0))
    ).one()
    return int(row[0]), int(row[1])


def read_arrow(
    session: Session | Connection,
    names: Sequence[str],
    where: CaseFilter,
    *,
    excluded: bool | None = False,
    layout: Layout | None = None,
) -> pa.Table:
    """Columns ``names`` of the analysis table for the cases ``where`` selects
    (the excluded ones with ``excluded=True``), as Arrow."""
    layout = layout or shared_layout()
    connection = session.connection() if isinstance(session, Session) else session
    schema = _schema(layout, names)
    statement = query(names, where, excluded=excluded)
    if connection.dialect.name == "postgresql":
        return _read_postgresql(connection, statement, schema)
    return _read_sqlite(connection, statement, schema, layout)
