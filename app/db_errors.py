"""Telling a busy database from a broken one: busy means 503 with Retry-After.

A request that waited its bound for a lock (SQLite ``database is locked``,
PostgreSQL ``lock_timeout`` or ``statement_timeout``), lost a deadlock or
serialisation race, found the pool exhausted, or lost its connection is asked
to retry; nothing it did was committed. Everything else stays a 500.
"""

from __future__ import annotations

import sqlite3

import psycopg.errors
from sqlalchemy import exc as sa_exc

RETRY_AFTER_SECONDS = 2

_PG_BUSY = (
    psycopg.errors.LockNotAvailable,
    psycopg.errors.QueryCanceled,
    psycopg.errors.DeadlockDetected,
    psycopg.errors.SerializationFailure,
    psycopg.errors.AdminShutdown,
    psycopg.errors.CannotConnectNow,
)
_SQLITE_BUSY = ("database is locked", "database table is locked", "database is busy")


def busy_reason(exc: BaseException) -> str | None:
    """A short name of why the database is busy, or None if ``exc`` is not that."""
    if isinstance(exc, sa_exc.TimeoutError):
        # The pool, or this process's queue for SQLite's write lock.
        return "writer_queue" if str(exc) == "writer queue" else "pool_exhausted"
    if not isinstance(exc, sa_exc.DBAPIError):
        return None
    if exc.connection_invalidated:
        return "connection_lost"
    original = exc.orig
    if isinstance(original, _PG_BUSY):
        return type(original).__name__
    if isinstance(original, psycopg.OperationalError) and not isinstance(
        original, psycopg.errors.DatabaseError
    ):
        return "connection_failed"
    if isinstance(original, sqlite3.OperationalError) and str(original) in _SQLITE_BUSY:
        return "sqlite_busy"
    return None
