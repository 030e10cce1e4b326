"""Writes that must not ride on the request's own transaction.

- The audit events of a **read-only** request: a read never takes the write
  lock (SQLite) nor waits on a commit, so its events are written after it.
- A **failed authentication** (its audit event and its limiter row): the
  request is rolled back, its failure must stay.

While the server runs (:mod:`app.maintenance` started), these are spooled in
memory and written in batches every ``audit_flush_interval_ms`` by one thread:
a crash can lose at most that much of read events (docs/security.md). Without
the background thread (command line, tests) they are written at once, each in
a short transaction of its own.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import insert
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from app.models import AuditEvent, AuthFailure

log = logging.getLogger("isu.audit")

_EVENT_FIELDS = (
    "occurred_at",
    "actor_user_id",
    "actor_role",
    "municipality_code",
    "action",
    "object_type",
    "object_id",
    "fields",
    "outcome",
    "request_id",
)


def event_row(event: AuditEvent) -> dict[str, Any]:
    return {name: getattr(event, name) for name in _EVENT_FIELDS}


class AuditSink:
    def __init__(self, factory: Callable[[], sessionmaker[Session]]) -> None:
        self._factory = factory
        """Looked up at each write: tests swap the app's session factory."""
        self._lock = threading.Lock()
        self._events: list[dict[str, Any]] = []
        self._failures: list[dict[str, Any]] = []
        self.spooling = False

    def submit(
        self, events: Iterable[AuditEvent] = (), failures: Iterable[AuthFailure] = ()
    ) -> None:
        """Spool (while the server runs) or write now. Failed authentications are
        written now either way, so that every worker's limiter counts them at
        once; if the database is busy they are spooled instead."""
        rows = [event_row(e) for e in events]
        misses = [{"client_hash": f.client_hash, "failed_at": f.failed_at} for f in failures]
        if not rows and not misses:
            return
        if self.spooling and misses:
            try:
                self._write(rows, misses)
                return
            except SQLAlchemyError as exc:
                log.warning("auth_failure_spooled", extra={"error_type": type(exc).__name__})
        if self.spooling:
            with self._lock:
                self._events += rows
                self._failures += misses
            return
        self._write(rows, misses)

    def pending(self) -> int:
        with self._lock:
            return len(self._events) + len(self._failures)

    def flush(self) -> int:
        """Write what is spooled in one transaction; on failure it stays spooled."""
        with self._lock:
            rows, misses = self._events, self._failures
            self._events, self._failures = [], []
        if not rows and not misses:
            return 0
        try:
            self._write(rows, misses)
        except Exception:
            with self._lock:  # keep order: the failed batch goes first again
                self._events = rows + self._events
                self._failures = misses + self._failures
            raise
        return len(rows) + len(misses)

    def _write(self, rows: list[dict[str, Any]], misses: list[dict[str, Any]]) -> None:
        with self._factory()() as session, session.begin():
            if rows:
                session.execute(insert(AuditEvent), rows)
            if misses:
                session.execute(insert(AuthFailure), misses)
