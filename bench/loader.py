"""The benchmark's bulk loader. BENCH-ONLY: never use it to load real data.

Loading cases through the API services costs about 50 ms a case (validation,
history, audit chain, one flush per step), so a million cases would take
half a day. The benchmark measures reading and compiling, not writing, so it
generates cases with the seeded generator (:mod:`app.synthetic`) and writes
the rows the services *would* have stored straight into a freshly migrated
database: COPY on PostgreSQL, ``executemany`` on SQLite.

What is the same as the services (``tests/unit/test_bench_loader.py``
checks it against a real import of the same cases):

* ``cases``: unit, municipality, district, pseudonym kind, dates, the
  ``values`` JSON as the services merge it (multi-choice codes sorted, ``[]``
  kept as "registered as none", the age from the personnummer with
  ``age_basis`` 1, the efter values of the close), ``first_intervention_on``,
  ``status`` by :func:`app.cases.status.derive_status`, ``version`` (one per
  service call), ``source_ref``;
* ``interventions``, ``risk_assessments`` and ``survey_responses`` field by
  field, rows created in registration order (``created_at`` one microsecond
  apart, so "first" and "last" score ties break as they would).

What it leaves out, on purpose: free text (comments and survey suggestions:
nothing is encrypted, the ``*_ciphertext`` columns are NULL), the case
history (``case_revisions``), audit events and municipality keys. The client
pseudonym is an HMAC-SHA256 of the normalised identifier, as in the services,
but under a fixed *bench* key. None of these are read by the compilation.

The generated rows are written once per size to tab-separated files in
PostgreSQL's COPY text format (shared by both engines, so a run generates each
size once) and loaded from there.
"""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import IO, Any, cast

import numpy as np
import psycopg
from alembic import command

from app.cases.status import derive_status
from app.catalogue.loader import Catalogue
from app.catalogue.spec import VariableType
from app.cli import alembic_config
from app.models import UNIT_KINDS, Case
from app.security.crypto import pseudonym
from app.security.identifiers import age_on, normalise_client_identifier
from app.synthetic.generator import GeneratorConfig, generate_cases

BENCH_PSEUDONYM_KEY = bytes(range(32))
"""A fixed, public key: bench pseudonyms protect nothing (synthetic data)."""
PSEUDONYM_KEY_VERSION = 1
BENCH_TODAY = date(2025, 6, 30)
"""The generator's as-of date: fixed, so that every run loads the same data."""
CREATED_AT = datetime(2025, 6, 30, 8, 0, 0)
"""UTC; each row is one microsecond after the previous one (registration order)."""
NULL = "\\N"

TABLE_COLUMNS: dict[str, tuple[str, ...]] = {
    "units": (
        "id",
        "name",
        "kind",
        "municipality_code",
        "district_code",
        "is_active",
        "created_at",
        "updated_at",
    ),
    "users": (
        "id",
        "username",
        "role",
        "municipality_code",
        "is_active",
        "created_at",
        "updated_at",
    ),
    "cases": (
        "id",
        "unit_id",
        "municipality_code",
        "district_code",
        "client_pseudonym",
        "client_id_kind",
        "pseudonym_key_version",
        "caseworker_ref",
        "actualised_on",
        "closed_on",
        "first_intervention_on",
        "values",
        "status",
        "is_excluded",
        "catalogue_version",
        "version",
        "created_by_id",
        "created_at",
        "updated_at",
        "source_ref",
    ),
    "interventions": (
        "id",
        "case_id",
        "start_on",
        "type_code",
        "grounds_code",
        "created_at",
        "updated_at",
    ),
    "risk_assessments": (
        "id",
        "case_id",
        "assessed_on",
        "phase_code",
        "instrument_code",
        "score",
        "created_at",
        "updated_at",
    ),
    "survey_responses": (
        "id",
        "case_id",
        "answered_on",
        "language_code",
        "mode_code",
        "values",
        "created_at",
        "updated_at",
    ),
}
"""Columns written per table, in load order (parents first). Columns left out
are NULL or have no bench value (free text, exclusion)."""


@dataclass(frozen=True)
class BenchData:
    """Generated rows on disk, ready to load into any number of databases."""

    directory: Path
    cases: int
    seed: int
    today: date
    rows: Mapping[str, int]
    seconds: float
    """Time to generate and write the rows."""

    def path(self, table: str) -> Path:
        return self.directory / f"{table}.tsv"


class _Ids:
    """Deterministic version-4 UUIDs as 32 hex digits (SQLite's storage form;
    PostgreSQL accepts it too), drawn in blocks from a seeded generator."""

    def __init__(self, seed: int, block: int = 65_536) -> None:
        self._rng = np.random.default_rng(seed)
        self._block = block
        self._hex = ""
        self._next = 0
        self._size = 0

    def __call__(self) -> str:
        if self._next == self._size:
            raw = self._rng.integers(0, 256, size=(self._block, 16), dtype=np.uint8)
            raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40
            raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80
            self._hex = raw.tobytes().hex()
            self._next, self._size = 0, self._block
        i = self._next
        self._next += 1
        return self._hex[32 * i : 32 * i + 32]


def _safe(text: str) -> str:
    """A generated text (unit name, reference) as a COPY text-format field: no
    tab, newline or backslash may occur in it (they would need escaping)."""
    if "\t" in text or "\n" in text or "\\" in text:
        raise ValueError("a generated field holds a character COPY would need escaped")
    return text


def _opt(value: object) -> str:
    return NULL if value is None else str(value)


@dataclass
class RowWriter:
    """Turns generated import lines into the rows the services would store."""

    files: Mapping[str, IO[str]]
    catalogue_version: str
    survey_keys: Sequence[str]
    """The survey's question keys in catalogue order (``put_survey`` stores
    those answered, in that order)."""
    multi_keys: frozenset[str]
    today: date
    ids: _Ids
    rows: dict[str, int] = field(default_factory=dict)
    _units: dict[tuple[str, str], tuple[str, int, str | None]] = field(default_factory=dict)
    _users: dict[str, str] = field(default_factory=dict)
    _sequence: int = 0

    def _stamp(self) -> str:
        """``created_at``: :data:`CREATED_AT` plus one microsecond per row."""
        self._sequence += 1
        seconds, micro = divmod(self._sequence, 1_000_000)
        minutes, seconds = divmod(seconds + CREATED_AT.second, 60)
        hours, minutes = divmod(minutes + CREATED_AT.minute, 60)
        if hours + CREATED_AT.hour > 23:
            raise ValueError("too many rows for one bench day")
        day = CREATED_AT.date().isoformat()
        return f"{day} {hours + CREATED_AT.hour:02d}:{minutes:02d}:{seconds:02d}.{micro:06d}"

    def _values(self, stored: dict[str, Any], incoming: Mapping[str, Any]) -> None:
        """``merge_values``: ``null`` clears, multi-choice lists are sorted."""
        for key, value in incoming.items():
            if value is None:
                stored.pop(key, None)
            elif key in self.multi_keys and isinstance(value, list):
                stored[key] = sorted(value)
            else:
                stored[key] = value

    def add(self, line: Mapping[str, Any]) -> None:
        municipality: str = line["municipality"]
        unit_key = (municipality, line["unit"])
        unit = self._units.get(unit_key)
        if unit is None:
            district = line.get("district")
            _safe(unit_key[1])
            unit = self._units[unit_key] = (self.ids(), line.get("unit_kind") or 4, district)
        user = self._users.get(municipality)
        if user is None:
            user = self._users[municipality] = self.ids()

        actualised = line["actualised_on"]
        identifier = normalise_client_identifier(line["client_id"], today=self.today)
        values: dict[str, Any] = {}
        incoming = dict(line.get("values") or {})
        if identifier.birth_date is not None and incoming.get("age") is None:
            incoming["age"] = age_on(identifier.birth_date, date.fromisoformat(actualised))
            incoming.setdefault("age_basis", 1)
        self._values(values, incoming)

        interventions = line.get("interventions") or []
        risks = line.get("risk_assessments") or []
        close = line.get("close")
        survey = line.get("survey")
        closed_on = None
        if close is not None:
            closed_on = close["closed_on"]
            self._values(values, close.get("values") or {})
        starts = [i["intervention_start_on"] for i in interventions]
        status = derive_status(
            cast(
                Case,
                SimpleNamespace(
                    survey=survey, closed_on=closed_on, values=values, interventions=interventions
                ),
            )
        )
        version = 1 + len(interventions) + len(risks) + (close is not None) + (survey is not None)

        case_id = self.ids()
        stamp = self._stamp()
        self.files["cases"].write(
            f"{case_id}\t{unit[0]}\t{municipality}\t{_opt(unit[2])}\t"
            f"{pseudonym(BENCH_PSEUDONYM_KEY, identifier.canonical)}\t{identifier.kind}\t"
            f"{PSEUDONYM_KEY_VERSION}\t{_safe(_opt(line.get('caseworker_ref')))}\t"
            f"{actualised}\t{_opt(closed_on)}\t{min(starts) if starts else NULL}\t"
            f"{json.dumps(values)}\t{status}\t0\t{self.catalogue_version}\t{version}\t"
            f"{user}\t{stamp}\t{stamp}\t{_safe(line['source_ref'])}\n"
        )
        if interventions:
            out = []
            for item in interventions:
                stamp = self._stamp()
                out.append(
                    f"{self.ids()}\t{case_id}\t{item['intervention_start_on']}\t"
                    f"{item['intervention_type']}\t{_opt(item.get('intervention_grounds'))}\t"
                    f"{stamp}\t{stamp}\n"
                )
            self.files["interventions"].write("".join(out))
        if risks:
            out = []
            for item in risks:
                stamp = self._stamp()
                out.append(
                    f"{self.ids()}\t{case_id}\t{item['assessed_on']}\t"
                    f"{item['assessment_phase']}\t{item['risk_instrument']}\t"
                    f"{_opt(item.get('score'))}\t{stamp}\t{stamp}\n"
                )
            self.files["risk_assessments"].write("".join(out))
        if survey is not None:
            answers = {k: survey[k] for k in self.survey_keys if survey.get(k) is not None}
            stamp = self._stamp()
            self.files["survey_responses"].write(
                f"{self.ids()}\t{case_id}\t{survey['answered_on']}\t{survey['language']}\t"
                f"{survey['mode']}\t{json.dumps(answers)}\t{stamp}\t{stamp}\n"
            )
        rows = self.rows
        rows["cases"] = rows.get("cases", 0) + 1
        rows["interventions"] = rows.get("interventions", 0) + len(interventions)
        rows["risk_assessments"] = rows.get("risk_assessments", 0) + len(risks)
        rows["survey_responses"] = rows.get("survey_responses", 0) + (survey is not None)

    def finish(self) -> None:
        """The units the cases name and each municipality's import user."""
        stamp = self._stamp()
        for (municipality, name), (unit_id, kind, district) in self._units.items():
            self.files["units"].write(
                f"{unit_id}\t{name}\t{UNIT_KINDS[kind - 1]}\t{municipality}\t"
                f"{_opt(district)}\t1\t{stamp}\t{stamp}\n"
            )
        for municipality, user_id in self._users.items():
            self.files["users"].write(
                f"{user_id}\timport-{municipality}\tcoordinator\t{municipality}\t1\t"
                f"{stamp}\t{stamp}\n"
            )
        self.rows["units"] = len(self._units)
        self.rows["users"] = len(self._users)


def survey_question_keys(catalogue: Catalogue) -> list[str]:
    return [v.key for v in catalogue.group_variables("survey") if v.type is not VariableType.text]


def generate_lines(cases: int, seed: int, today: date = BENCH_TODAY) -> Iterator[dict[str, Any]]:
    """The generated import lines of a bench run (all municipalities)."""
    return generate_cases(GeneratorConfig(today=today, cases=cases, seed=seed))


def write_rows(
    lines: Iterator[Mapping[str, Any]] | Sequence[Mapping[str, Any]],
    directory: Path,
    catalogue: Catalogue,
    *,
    seed: int,
    today: date = BENCH_TODAY,
) -> dict[str, int]:
    """Write the rows of ``lines`` to ``directory`` (one file per table)."""
    directory.mkdir(parents=True, exist_ok=True)
    handles = {t: (directory / f"{t}.tsv").open("w", encoding="utf-8") for t in TABLE_COLUMNS}
    try:
        writer = RowWriter(
            files=handles,
            catalogue_version=catalogue.version,
            survey_keys=survey_question_keys(catalogue),
            multi_keys=frozenset(
                k for k, v in catalogue.variables.items() if v.type is VariableType.multi
            ),
            today=today,
            ids=_Ids(seed),
        )
        for line in lines:
            writer.add(line)
        writer.finish()
    finally:
        for handle in handles.values():
            handle.close()
    return {t: writer.rows.get(t, 0) for t in TABLE_COLUMNS}


FORMAT = 1
"""Bumped whenever the rows written change, so that a kept cache is not reused."""


def generate_data(
    directory: Path, catalogue: Catalogue, *, cases: int, seed: int, today: date = BENCH_TODAY
) -> BenchData:
    """Generate and write the rows, or reuse those already in ``directory``
    when they were made with the same size, seed, date and catalogue."""
    manifest = {
        "format": FORMAT,
        "cases": cases,
        "seed": seed,
        "today": today.isoformat(),
        "catalogue_version": catalogue.version,
    }
    stored = directory / "manifest.json"
    if stored.exists():
        kept = json.loads(stored.read_text(encoding="utf-8"))
        if {k: kept.get(k) for k in manifest} == manifest:
            return BenchData(directory, cases, seed, today, kept["rows"], kept["seconds"])
        stored.unlink()
    started = time.perf_counter()
    rows = write_rows(
        generate_lines(cases, seed, today), directory, catalogue, seed=seed, today=today
    )
    seconds = time.perf_counter() - started
    stored.write_text(json.dumps({**manifest, "rows": rows, "seconds": seconds}), encoding="utf-8")
    return BenchData(directory, cases, seed, today, rows, seconds)


# --- databases ----------------------------------------------------------------


def libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def create_postgresql(admin_url: str) -> str:
    """A new, empty database on the server of ``admin_url``; its URL."""
    name = f"isu_bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(libpq(admin_url), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"{admin_url.rpartition('/')[0]}/{name}"


def drop_postgresql(admin_url: str, url: str) -> None:
    name = url.rpartition("/")[2]
    if not name.startswith("isu_bench_"):
        raise ValueError("not a bench database")
    with psycopg.connect(libpq(admin_url), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def migrate(url: str) -> None:
    command.upgrade(alembic_config(url), "head")


def _columns(table: str) -> str:
    return ", ".join(f'"{c}"' for c in TABLE_COLUMNS[table])


def load_postgresql(url: str, data: BenchData) -> None:
    """COPY every file in, in one transaction; for speed, and only here, the
    secondary indexes are dropped first and created again afterwards (their
    own ``pg_indexes`` definitions; primary keys and unique constraints stay).
    Then VACUUM ANALYZE, so that the first timed read neither sets hint bits
    nor races autovacuum."""
    tables = list(TABLE_COLUMNS)
    with psycopg.connect(libpq(url)) as conn:
        conn.execute("SET TIME ZONE 'UTC'")
        conn.execute("SET maintenance_work_mem = '512MB'")
        indexes = conn.execute(
            "SELECT i.indexname, i.indexdef FROM pg_indexes AS i "
            "WHERE i.schemaname = current_schema() AND i.tablename = ANY(%s) "
            "AND NOT EXISTS (SELECT 1 FROM pg_constraint AS c WHERE c.conname = i.indexname)",
            (tables,),
        ).fetchall()
        for name, _definition in indexes:
            conn.execute(f'DROP INDEX "{name}"')
        with conn.cursor() as cursor:
            for table in tables:
                statement = f"COPY {table} ({_columns(table)}) FROM STDIN"
                with cursor.copy(statement) as copy, data.path(table).open("rb") as handle:
                    while chunk := handle.read(1 << 20):
                        copy.write(chunk)
        for _name, definition in indexes:
            conn.execute(definition)
        conn.commit()
    with psycopg.connect(libpq(url), autocommit=True) as conn:
        for table in tables:
            conn.execute(f"VACUUM ANALYZE {table}")


def _tsv_rows(path: Path) -> Iterator[tuple[str | None, ...]]:
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            yield tuple(None if v == NULL else v for v in line.rstrip("\n").split("\t"))


def sqlite_path(url: str) -> str:
    return url.removeprefix("sqlite:///")


def load_sqlite(url: str, data: BenchData) -> None:
    """``executemany`` per table in one transaction (column affinity turns the
    integer texts into integers). For speed, and only here: no WAL and no
    fsync during the load, a 1 GB page cache, and the secondary indexes
    dropped first and created again afterwards (the same statements, from
    ``sqlite_master``). Then ANALYZE, and the database is left in WAL mode
    as the application keeps it."""
    conn = sqlite3.connect(sqlite_path(url), isolation_level=None)
    tables = tuple(TABLE_COLUMNS)
    try:
        conn.execute("PRAGMA journal_mode=DELETE")
        conn.execute("PRAGMA synchronous=OFF")
        conn.execute("PRAGMA cache_size=-1048576")
        marks = ", ".join("?" * len(tables))
        indexes = conn.execute(
            f"SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
            f"AND tbl_name IN ({marks})",
            tables,
        ).fetchall()
        conn.execute("BEGIN")
        for name, _sql in indexes:
            conn.execute(f'DROP INDEX "{name}"')
        for table in tables:
            values = ", ".join("?" * len(TABLE_COLUMNS[table]))
            conn.executemany(
                f"INSERT INTO {table} ({_columns(table)}) VALUES ({values})",
                _tsv_rows(data.path(table)),
            )
        for _name, sql in indexes:
            conn.execute(sql)
        conn.execute("COMMIT")
        conn.execute("ANALYZE")
        conn.execute("PRAGMA journal_mode=WAL")
    finally:
        conn.close()


def load_rows(engine: str, url: str, data: BenchData) -> None:
    """The bulk load of the case tables (COPY / executemany)."""
    if engine == "postgresql":
        load_postgresql(url, data)
    elif engine == "sqlite":
        load_sqlite(url, data)
    else:
        raise ValueError(f"unknown engine {engine!r}")


def fill_analysis(url: str) -> int:
    """Fill ``case_analysis`` from the loaded cases with the application's own
    rebuild (``isu analysis rebuild``), then refresh the planner's statistics."""
    from app.analysis.rebuild import rebuild
    from app.db import make_engine

    engine = make_engine(url)
    try:
        written = rebuild(engine, batch=5000)
    finally:
        engine.dispose()
    if url.startswith("postgresql"):
        with psycopg.connect(libpq(url), autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE case_analysis")
    else:
        lite = sqlite3.connect(sqlite_path(url), isolation_level=None)
        try:
            lite.execute("ANALYZE case_analysis")
        finally:
            lite.close()
    return written


def load(engine: str, url: str, data: BenchData) -> None:
    """The bulk load, then the analysis table filled by the rebuild."""
    load_rows(engine, url, data)
    fill_analysis(url)
