"""The server's background work, one thread per worker process.

- every ``audit_flush_interval_ms``: write spooled audit events and limiter
  rows (:mod:`app.audit.sink`);
- every ``audit_seal_interval_seconds``: seal new audit events into the keyed
  chain (one sealer at a time across workers);
- every ``PURGE_INTERVAL``: forget idempotency records past their TTL and
  limiter rows past their window.

A failed round (say, the database is busy) is logged and tried again at the
next tick; nothing is lost from the spool. :meth:`Maintenance.stop` drains the
spool and seals once more, so a clean shutdown leaves nothing unsealed.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from app import idempotency
from app.audit.service import seal_all
from app.audit.sink import AuditSink
from app.auth import limiter
from app.config import Settings
from app.db import transaction

log = logging.getLogger("isu.maintenance")

PURGE_INTERVAL = 600.0
SEAL_BATCH = 500
SEAL_ROUNDS = 8
"""Batches per sealing tick: a backlog (after a large import) is sealed over
several ticks, the requests writing in between."""
SEAL_PAUSE = 0.05


class Maintenance:
    def __init__(self, state: Any, settings: Settings) -> None:
        self.state = state
        self.settings = settings
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def sink(self) -> AuditSink:
        sink: AuditSink = self.state.audit_sink
        return sink

    def start(self) -> None:
        self.sink.spooling = True
        self._thread = threading.Thread(target=self._run, name="isu-maintenance", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        self.sink.spooling = False
        self._guarded("flush", self.flush)
        self._guarded("seal", self.seal_everything)

    def seal(self) -> int:
        # Small batches: each is one short write transaction, taken in turn with
        # the requests' (SQLite's one write lock: see app/deps.py).
        total = 0
        for _ in range(SEAL_ROUNDS):
            sealed = seal_all(
                self.state.session_factory, self.state.keyring, batch=SEAL_BATCH, rounds=1
            )
            total += sealed
            if sealed < SEAL_BATCH:
                break
            time.sleep(SEAL_PAUSE)  # let the waiting requests write first
        return total

    def seal_everything(self) -> int:
        """At shutdown: the whole backlog."""
        return seal_all(self.state.session_factory, self.state.keyring, batch=SEAL_BATCH)

    def flush(self) -> int:
        return self.sink.flush()

    def purge(self) -> None:
        settings = self.settings
        limit = limiter.Limit(settings.auth_failure_limit, settings.auth_failure_window_seconds)
        with transaction(self.state.session_factory) as session:
            idempotency.purge(session, timedelta(hours=settings.idempotency_ttl_hours))
            limiter.purge(session, limit)

    def _run(self) -> None:
        flush_every = self.settings.audit_flush_interval_ms / 1000
        seal_every = self.settings.audit_seal_interval_seconds
        next_seal = next_purge = time.monotonic()
        while not self._stop.wait(flush_every):
            self._guarded("flush", self.flush)
            now = time.monotonic()
            if now >= next_seal:
                self._guarded("seal", self.seal)
                next_seal = now + seal_every
            if now >= next_purge:
                self._guarded("purge", self.purge)
                next_purge = now + PURGE_INTERVAL

    @staticmethod
    def _guarded(task: str, work: Callable[[], object]) -> None:
        try:
            work()
        except Exception as exc:  # retried at the next tick
            log.warning(
                "maintenance_failed", extra={"task": task, "error_type": type(exc).__name__}
            )
