"""Idempotency-Key on POST: a retry returns the first result, never a duplicate.

The key is reserved in its own short transaction before the work starts, so a
concurrent duplicate sees it at once (409 while running). The stored response
is written in the request's own transaction, so it commits together with the
work it describes: a crash leaves either both or neither. A failed request
releases the key. A reservation left behind by a crashed process is taken
over after ``STALE_AFTER``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any

from fastapi import Depends, Header, Request
from fastapi.responses import JSONResponse
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError as DbIntegrityError
from sqlalchemy.orm import Session, sessionmaker

from app.auth.principal import Principal
from app.clock import utcnow
from app.db import transaction
from app.deps import CurrentUser
from app.errors import Conflict, FieldError, ValidationFailed
from app.models import IdempotencyRecord

STALE_AFTER = timedelta(minutes=5)
KEY_POINTER = "/headers/Idempotency-Key"


@dataclass(frozen=True)
class Replay:
    status: int
    body: dict[str, Any]


@dataclass
class Idempotency:
    key: str | None
    request_hash: str
    principal: Principal
    factory: sessionmaker[Session]
    replay: Replay | None = None

    def replayed(self) -> JSONResponse | None:
        """The first response again (status, body, headers), when this is a retry."""
        if self.replay is None:
            return None
        stored = self.replay.body
        return JSONResponse(
            stored.get("body"), status_code=self.replay.status, headers=stored.get("headers")
        )

    def store(self, session: Session, status: int, body: dict[str, Any]) -> None:
        """Save the response in the request's transaction."""
        if self.key is None:
            return
        record = session.scalar(
            select(IdempotencyRecord).where(
                IdempotencyRecord.user_id == self.principal.user_id,
                IdempotencyRecord.key == self.key,
            )
        )
        if record is not None:
            record.state = "done"
            record.response_status = status
            record.response_body = body

    def release(self) -> None:
        """Forget an unfinished reservation so that a retry can run."""
        if self.key is None:
            return
        with transaction(self.factory) as session:
            session.execute(
                delete(IdempotencyRecord).where(
                    IdempotencyRecord.user_id == self.principal.user_id,
                    IdempotencyRecord.key == self.key,
                    IdempotencyRecord.state == "running",
                )
            )


def _aware_age(record: IdempotencyRecord) -> timedelta:
    created = record.created_at
    if created.tzinfo is None:
        created = created.replace(tzinfo=utcnow().tzinfo)
    return utcnow() - created


def _reserve(idem: Idempotency) -> None:
    assert idem.key is not None
    with transaction(idem.factory) as session:
        try:
            with session.begin_nested():
                session.add(
                    IdempotencyRecord(
                        user_id=idem.principal.user_id,
                        key=idem.key,
                        request_hash=idem.request_hash,
                        state="running",
                    )
                )
            return
        except DbIntegrityError:
            pass
        record = session.scalar(
            select(IdempotencyRecord)
            .where(
                IdempotencyRecord.user_id == idem.principal.user_id,
                IdempotencyRecord.key == idem.key,
            )
            .with_for_update()
        )
    if record is None:  # released between our insert and select: try once more
        return _reserve(idem)
    if record.request_hash != idem.request_hash:
        raise ValidationFailed(
            [
                FieldError(
                    KEY_POINTER,
                    "idempotency_mismatch",
                    "Nyckeln har redan använts för en annan begäran.",
                    "This key was already used for a different request.",
                )
            ]
        )
    if record.state == "done" and record.response_status is not None:
        idem.replay = Replay(record.response_status, record.response_body or {})
        return
    if _aware_age(record) < STALE_AFTER:
        raise Conflict(
            "En begäran med samma nyckel pågår. Försök igen om en stund.",
            "A request with the same key is in progress. Retry shortly.",
        )
    with transaction(idem.factory) as session:
        stale = session.get(IdempotencyRecord, record.id)
        if stale is not None:
            stale.created_at = utcnow()
    return None


async def request_hash(request: Request) -> str:
    """Digest of the route and the canonical JSON body (key order ignored)."""
    body = await request.body()
    try:
        canonical = json.dumps(json.loads(body or b"null"), sort_keys=True).encode()
    except (ValueError, RecursionError):
        canonical = body
    return hashlib.sha256(request.url.path.encode() + b"\n" + canonical).hexdigest()


def get_idempotency(
    request: Request,
    principal: CurrentUser,
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
) -> Idempotency:
    """Reserve the key before the work starts (a plain ``def``: the reservation
    is database I/O and runs in the thread pool, never on the event loop)."""
    idem = Idempotency(idempotency_key, digest, principal, request.app.state.session_factory)
    if idempotency_key is not None:
        _reserve(idem)
        if idem.replay is None:
            # Released by the session dependency if the request fails.
            request.state.idempotency = idem
    return idem


IdempotencyDep = Annotated[Idempotency, Depends(get_idempotency)]
