"""Declarative base, engine and session factories.

SQLite is the embedded default and runs in WAL mode with ``synchronous=FULL`` so
that every acknowledged write survives a crash; PostgreSQL is the production
database.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import anyio
from sqlalchemy import JSON, DateTime, Dialect, MetaData, TypeDecorator, create_engine, event
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Session, SessionTransaction, sessionmaker

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that is always timezone-aware UTC in Python.

    SQLite stores no zone and hands back naive datetimes; every timestamp this
    application writes is UTC, so the zone is put back on load (and API
    responses always carry an offset, as their schema says).
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is not None:
            value = value.astimezone(UTC)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


# JSON on SQLite, JSONB on PostgreSQL.
JSONType = JSON().with_variant(JSONB(), "postgresql")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {dict[str, Any]: JSONType, list[str]: JSONType}


SQLITE_BUSY_TIMEOUT_MS = 30_000
"""Command-line work waits this long for SQLite's write lock; the API far less
(``api_engine``), answering 503 instead."""
READ_ONLY = "isu_read_only"
"""Execution option: begin a deferred (read) transaction on SQLite."""


def _sqlite_pragmas(busy_timeout_ms: int) -> Any:
    def connect(dbapi_connection: Any, _record: Any) -> None:
        # pysqlite's own transaction handling breaks SAVEPOINT; let SQLAlchemy emit BEGIN.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        # Freed pages (an overwritten comment's old ciphertext) are zeroed.
        cursor.execute("PRAGMA secure_delete=ON")
        cursor.close()

    return connect


class WriterTurnTimeout(sa_exc.TimeoutError):
    """This process's writers queued longer than the lock timeout (busy: 503)."""


class WriterTurns:
    """SQLite has one write lock for the whole database. The server's write
    transactions take it in turn, first come first served, through this
    semaphore, held exactly as long as the transaction (taken at BEGIN, given
    back at COMMIT or ROLLBACK): no two of them poll SQLite's busy handler for
    it, and its busy timeout is left for other processes (an import, a backup,
    another worker)."""

    KEY = "isu_writer_turn"

    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        self._semaphore = threading.Semaphore(1)

    def take(self, info: dict[str, Any]) -> None:
        if not self._semaphore.acquire(timeout=self.timeout_s):
            raise WriterTurnTimeout("writer queue")
        info[self.KEY] = True

    def give_back(self, info: dict[str, Any]) -> None:
        if info.pop(self.KEY, False):
            self._semaphore.release()

    def install(self, engine: Engine) -> None:
        event.listen(engine, "commit", lambda conn: self.give_back(conn.info))
        event.listen(engine, "rollback", lambda conn: self.give_back(conn.info))
        # A connection that goes back to the pool or away mid-transaction.
        event.listen(engine, "checkin", lambda _dbapi, record: self.give_back(record.info))
        event.listen(engine, "invalidate", lambda _dbapi, record, _e: self.give_back(record.info))


def _sqlite_begin(turns: WriterTurns | None) -> Any:
    def begin(conn: Any) -> None:
        # A write transaction takes the write lock at BEGIN (IMMEDIATE), so two
        # writers queue instead of failing on a lock upgrade; a read (DEFERRED,
        # in WAL mode) never waits for a writer.
        if conn.get_execution_options().get(READ_ONLY):
            conn.exec_driver_sql("BEGIN")
            return
        if turns is not None:
            turns.take(conn.info)
        try:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            if turns is not None:
                turns.give_back(conn.info)
            raise

    return begin


def create_owner_only(database: str | None) -> None:
    """Create a new SQLite file readable by its owner only (0600) before SQLite
    would create it 0644; its -wal and -shm files take the same mode."""
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    with suppress(FileExistsError, FileNotFoundError):  # exists, or no such directory
        os.close(os.open(database, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def make_engine(
    url: str,
    *,
    busy_timeout_ms: int = SQLITE_BUSY_TIMEOUT_MS,
    writer_turns: WriterTurns | None = None,
    **kwargs: Any,
) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False}, **kwargs)
        event.listen(engine, "do_connect", lambda *_: create_owner_only(engine.url.database))
        event.listen(engine, "connect", _sqlite_pragmas(busy_timeout_ms))
        event.listen(engine, "begin", _sqlite_begin(writer_turns))
        if writer_turns is not None:
            writer_turns.install(engine)
        return engine
    return create_engine(url, **kwargs)


@dataclass(frozen=True)
class ApiLimits:
    """How long an API request waits for the database before answering 503."""

    lock_timeout_ms: int = 3_000
    statement_timeout_ms: int = 30_000
    pool_size: int = 10
    max_overflow: int = 10
    pool_timeout_s: float = 5.0

    @property
    def connections(self) -> int:
        return self.pool_size + self.max_overflow


class DatabaseSlots:
    """At most ``size`` requests use the database at once; the others wait on the
    event loop (polling: works from any loop, e.g. the test client's), never in
    a worker thread holding nothing while the holders wait for a thread."""

    def __init__(self, size: int) -> None:
        self._free = threading.BoundedSemaphore(size)

    async def acquire(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        delay = 0.001
        while not self._free.acquire(blocking=False):
            if time.monotonic() >= deadline:
                return False
            await anyio.sleep(delay)
            delay = min(delay * 2, 0.02)
        return True

    def release(self) -> None:
        self._free.release()


def api_engine(url: str, limits: ApiLimits) -> Engine:
    """The engine the server uses: short lock waits (SQLite busy_timeout,
    PostgreSQL lock_timeout and statement_timeout), a bounded pool."""
    pool: dict[str, Any] = {
        "pool_size": limits.pool_size,
        "max_overflow": limits.max_overflow,
        "pool_timeout": limits.pool_timeout_s,
    }
    if url.startswith("sqlite"):
        turns = WriterTurns(timeout_s=limits.lock_timeout_ms / 1000)
        return make_engine(url, busy_timeout_ms=limits.lock_timeout_ms, writer_turns=turns, **pool)
    options = (
        f"-c lock_timeout={limits.lock_timeout_ms} "
        f"-c statement_timeout={limits.statement_timeout_ms} "
        "-c idle_in_transaction_session_timeout=60000"
    )
    return make_engine(url, connect_args={"options": options}, **pool)


def make_session_factory(engine: Engine, *, read_only: bool = False) -> sessionmaker[Session]:
    """Sessions on ``engine``; ``read_only`` ones begin a deferred transaction on SQLite."""
    bind = engine.execution_options(**{READ_ONLY: True}) if read_only else engine
    return sessionmaker(bind=bind, expire_on_commit=False, autoflush=False)


_TRANSACTION_CACHES = "isu.transaction_caches"


def transaction_cache(session: Session, name: str) -> dict[Any, Any]:
    """A dict kept in ``session.info`` for the current transaction only (keys
    looked up, cases created but not flushed yet); forgotten when it ends."""
    caches: dict[str, dict[Any, Any]] = session.info.setdefault(_TRANSACTION_CACHES, {})
    return caches.setdefault(name, {})


@event.listens_for(Session, "after_transaction_end")
def _forget_transaction_caches(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:
        session.info.pop(_TRANSACTION_CACHES, None)


def insert_ignoring_duplicate(
    session: Session, model: Any, values: dict[str, Any], unique: list[str]
) -> Any:
    """``INSERT … ON CONFLICT (unique) DO NOTHING RETURNING id``: the new row's
    id, or None when a row with the same unique values exists (perhaps just
    committed by a concurrent transaction). A plain statement: it flushes
    nothing else the session holds."""
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = (
        insert(model).values(**values).on_conflict_do_nothing(index_elements=unique)
    ).returning(model.id)
    return session.scalar(statement)


_NEW = "isu.new"
T = TypeVar("T")


def remember_new(session: Session, obj: Any) -> None:
    """An object added in this transaction, not flushed yet (the services flush
    once per request, an import once per batch), found by :func:`new_object`."""
    transaction_cache(session, _NEW)[(type(obj), obj.id)] = obj


def new_object(session: Session, cls: type[T], object_id: Any) -> T | None:
    found: T | None = transaction_cache(session, _NEW).get((cls, object_id))
    return found


def forget_new(session: Session) -> None:
    """After the session let go of its objects (a flushed import batch)."""
    transaction_cache(session, _NEW).clear()


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session that commits on success and rolls back on any exception."""
    with factory() as session, session.begin():
        yield session
