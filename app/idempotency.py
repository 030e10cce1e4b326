"""Idempotency-Key on POST: a retry returns the first result, never a duplicate.

The key is recorded in the request's own transaction: reserved at the start
(an INSERT that a concurrent duplicate in another process waits on), completed
at the end with what a replay needs — the status, the Location and the id of
the object the response showed. Never a body: a replay shows the object as it
is now (a case's comments are only ever stored encrypted, in the case). A
crash rolls the reservation back with the work, so a retry simply runs again.

A duplicate that arrives while the first still runs in the same process gets
409 at once. Records are purged after ``idempotency_ttl_hours``
(:func:`purge`, run by the server's maintenance loop).
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Annotated, Any

from fastapi import Depends, Header, Request
from sqlalchemy import delete, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from app.auth.principal import Principal
from app.clock import utcnow
from app.db import insert_ignoring_duplicate
from app.db_errors import busy_reason
from app.errors import Conflict, FieldError, ValidationFailed
from app.models import IdempotencyRecord

KEY_POINTER = "/headers/Idempotency-Key"


def _in_progress() -> Conflict:
    return Conflict(
        "En begäran med samma nyckel pågår. Försök igen om en stund.",
        "A request with the same key is in progress. Retry shortly.",
    )


@dataclass(frozen=True)
class Replay:
    """What the first request answered: the route renders the object again."""

    status: int
    location: str | None
    object_id: str | None
    facts: dict[str, Any]


class InFlight:
    """Keys whose first request is running in this process, by caller (a digest
    of the Authorization header: checked before the database is touched, so a
    double-click never waits for the first click's lock)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: dict[tuple[str, str], str] = {}

    def enter(self, caller: str, key: str, digest: str) -> None:
        with self._lock:
            running = self._running.get((caller, key))
            if running is None:
                self._running[(caller, key)] = digest
                return
        if running != digest:
            raise _mismatch()
        raise _in_progress()

    def leave(self, caller: str, key: str) -> None:
        with self._lock:
            self._running.pop((caller, key), None)


def _mismatch() -> ValidationFailed:
    return ValidationFailed(
        [
            FieldError(
                KEY_POINTER,
                "idempotency_mismatch",
                "Nyckeln har redan använts för en annan begäran.",
                "This key was already used for a different request.",
            )
        ]
    )


@dataclass
class Idempotency:
    key: str | None
    request_hash: str
    caller: str
    in_flight: InFlight
    _record_id: int | None = field(default=None, repr=False)
    _entered: bool = field(default=False, repr=False)

    def enter(self) -> None:
        if self.key is not None:
            self.in_flight.enter(self.caller, self.key, self.request_hash)
            self._entered = True

    def begin(self, session: Session, principal: Principal) -> Replay | None:
        """Reserve the key in the request's transaction; the first result if
        this is a retry (then the route answers it again and does no work)."""
        if self.key is None:
            return None
        user_id = principal.user_id
        values = {
            "user_id": user_id,
            "key": self.key,
            "request_hash": self.request_hash,
            "state": "running",
            "created_at": utcnow(),
        }
        try:
            self._record_id = insert_ignoring_duplicate(
                session, IdempotencyRecord, values, ["user_id", "key"]
            )
        except OperationalError as exc:
            if busy_reason(exc) == "LockNotAvailable":
                # Another process runs the first request and holds the key.
                raise _in_progress() from None
            raise
        if self._record_id is not None:
            return None
        record = session.scalar(
            select(IdempotencyRecord).where(
                IdempotencyRecord.user_id == user_id, IdempotencyRecord.key == self.key
            )
        )
        if record is None or record.response_status is None:
            raise _in_progress()
        if record.request_hash != self.request_hash:
            raise _mismatch()
        return Replay(record.response_status, record.location, record.object_id, record.facts or {})

    def store(
        self,
        session: Session,
        status: int,
        *,
        location: str | None = None,
        object_id: object = None,
        facts: dict[str, Any] | None = None,
    ) -> None:
        """Complete the reservation, in the request's transaction."""
        if self._record_id is None:
            return
        session.execute(
            update(IdempotencyRecord)
            .where(IdempotencyRecord.id == self._record_id)
            .values(
                state="done",
                response_status=status,
                location=location,
                object_id=None if object_id is None else str(object_id),
                facts=facts,
            )
        )

    def done(self) -> None:
        """The request is over (either way): a retry may run."""
        if self._entered and self.key is not None:
            self.in_flight.leave(self.caller, self.key)
            self._entered = False


def purge(session: Session, ttl: timedelta) -> int:
    """Forget records older than ``ttl``: a retry after that runs again."""
    result = session.execute(
        delete(IdempotencyRecord).where(IdempotencyRecord.created_at < utcnow() - ttl)
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def request_hash(request: Request) -> str:
    """Digest of the route and the canonical JSON body (key order ignored)."""
    body = await request.body()
    try:
        canonical = json.dumps(json.loads(body or b"null"), sort_keys=True).encode()
    except (ValueError, RecursionError):
        canonical = body
    return hashlib.sha256(request.url.path.encode() + b"\n" + canonical).hexdigest()


async def get_idempotency(
    request: Request,
    digest: Annotated[str, Depends(request_hash)],
    idempotency_key: Annotated[
        str | None,
        Header(
            min_length=1,
            max_length=200,
            description="Unik nyckel per POST; en omsändning ger samma svar "
            "(unique key per POST; a retry returns the same response).",
            openapi_examples={
                "uuid": {
                    "summary": "En ny slumpad nyckel per registrering (a fresh random key)",
                    "value": "5f0c1d3e-8a4b-4c2d-9e7f-0a1b2c3d4e5f",
                }
            },
        ),
    ] = None,
) -> AsyncIterator[Idempotency]:
    """The key and the request's digest, checked against the keys running in
    this process (409 at once). Routes declare it before anything that touches
    the database; they call :meth:`Idempotency.begin` inside their transaction."""
    authorization = request.headers.get("authorization", "")
    caller = hashlib.sha256(authorization.encode()).hexdigest()
    idem = Idempotency(idempotency_key, digest, caller, request.app.state.in_flight)
    idem.enter()
    try:
        yield idem
    finally:
        idem.done()


IdempotencyDep = Annotated[Idempotency, Depends(get_idempotency, scope="function")]
