"""``isu analysis rebuild`` and ``isu analysis check``.

Both walk the cases in batches ordered by id (keyset pagination), compute each
case's analysis row from the source of truth (the case's JSON values and its
child tables) with the same :func:`exporters.analysis.analysis_row` the write
hook uses, and then either store the rows (rebuild) or compare them with the
stored ones (check). A rebuild batch is one short transaction during which
writers of cases wait (``LOCK TABLE cases IN SHARE MODE`` on PostgreSQL;
SQLite serialises writers anyway), so a case written meanwhile by the API is
never overwritten with an older row.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, delete, func, select, text
from sqlalchemy.engine import Engine

from app.analysis.sync import CASE_COLUMNS, facts_from_rows, replace_rows
from app.analysis.table import case_analysis, shared_layout
from app.models import Case, Unit
from exporters.analysis import analysis_row

DEFAULT_BATCH = 2000
Progress = Callable[[int], None]


def count_cases(connection: Connection) -> int:
    return int(connection.scalar(select(func.count()).select_from(Case)) or 0)


def count_rows(connection: Connection) -> int:
    return int(connection.scalar(select(func.count()).select_from(case_analysis)) or 0)


def _batch(connection: Connection, after: uuid.UUID | None, size: int, lock: bool) -> list[Any]:
    query = select(*CASE_COLUMNS).join(Unit, Unit.id == Case.unit_id).order_by(Case.id).limit(size)
    if after is not None:
        query = query.where(Case.id > after)
    if lock and connection.dialect.name == "postgresql":
        # Writers wait for this short batch (SHARE conflicts with the ROW
        # EXCLUSIVE every write of a case takes), so no case changes between
        # reading it and storing its row. Row locks (FOR SHARE) would do the
        # same at the price of writing a lock into every row read.
        connection.execute(text("LOCK TABLE cases IN SHARE MODE"))
    return list(connection.execute(query).all())


def computed_batches(
    connection: Connection, size: int = DEFAULT_BATCH, *, lock: bool = False
) -> Iterator[list[dict[str, Any]]]:
    """The analysis rows of every case, computed from the cases, batch by batch."""
    layout = shared_layout()
    after: uuid.UUID | None = None
    while True:
        rows = _batch(connection, after, size, lock)
        if not rows:
            return
        after = rows[-1][0]
        yield [analysis_row(layout, f) for f in facts_from_rows(connection, rows)]


def rebuild(engine: Engine, *, batch: int = DEFAULT_BATCH, progress: Progress | None = None) -> int:
    """Recompute every case's row, one transaction per batch; rows of cases
    that no longer exist are removed. Returns the number of rows written."""
    layout = shared_layout()
    written = 0
    after: uuid.UUID | None = None
    while True:
        with engine.begin() as connection:
            rows = _batch(connection, after, batch, lock=True)
            if not rows:
                break
            after = rows[-1][0]
            computed = [analysis_row(layout, f) for f in facts_from_rows(connection, rows)]
            replace_rows(connection, computed)
        written += len(computed)
        if progress is not None:
            progress(len(computed))
    with engine.begin() as connection:
        connection.execute(
            delete(case_analysis).where(
                ~select(Case.id).where(Case.id == case_analysis.c.case_id).exists()
            )
        )
    return written


@dataclass
class CheckResult:
    cases: int = 0
    differences: list[tuple[str, str]] = field(default_factory=list)
    """(case id, column) per difference; column ``(row)`` = a row missing or extra."""

    @property
    def ok(self) -> bool:
        return not self.differences


def _stored(connection: Connection, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Mapping[str, Any]]:
    rows = connection.execute(
        select(case_analysis).where(case_analysis.c.case_id.in_(list(ids)))
    ).mappings()
    return {row["case_id"]: dict(row) for row in rows}


def differing_columns(expected: Mapping[str, Any], stored: Mapping[str, Any]) -> list[str]:
    return [name for name, value in expected.items() if stored.get(name) != value]


def check(
    connection: Connection, *, batch: int = DEFAULT_BATCH, progress: Progress | None = None
) -> CheckResult:
    """Compare the stored rows with a rebuild (nothing is written)."""
    result = CheckResult()
    for rows in computed_batches(connection, batch):
        stored = _stored(connection, [r["case_id"] for r in rows])
        for row in rows:
            found = stored.get(row["case_id"])
            if found is None:
                result.differences.append((str(row["case_id"]), "(row)"))
                continue
            for name in differing_columns(row, found):
                result.differences.append((str(row["case_id"]), name))
        result.cases += len(rows)
        if progress is not None:
            progress(len(rows))
    extra = connection.execute(
        select(case_analysis.c.case_id).where(
            ~select(Case.id).where(Case.id == case_analysis.c.case_id).exists()
        )
    ).scalars()
    result.differences += [(str(case_id), "(row)") for case_id in extra]
    return result
