"""Writing and verifying the hash-chained audit log.

Each event's hash covers its own fields and the previous event's hash; ids are
consecutive. Editing, deleting, reordering or truncating events breaks the
chain, and :func:`verify` names the first event where it breaks. Events carry
variable *names*, never values or identifiers.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.clock import utcnow
from app.models import AuditChainHead, AuditEvent

GENESIS_HASH = "0" * 64


@dataclass(frozen=True)
class Actor:
    user_id: uuid.UUID | None
    role: str | None
    municipality_code: str | None


def _digest(event: AuditEvent) -> str:
    payload = {
        "id": event.id,
        "occurred_at": event.occurred_at.isoformat(),
        "actor_user_id": str(event.actor_user_id) if event.actor_user_id else None,
        "actor_role": event.actor_role,
        "municipality_code": event.municipality_code,
        "action": event.action,
        "object_type": event.object_type,
        "object_id": event.object_id,
        "fields": sorted(event.fields),
        "outcome": event.outcome,
        "request_id": event.request_id,
        "prev_hash": event.prev_hash,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def record(
    session: Session,
    *,
    actor: Actor,
    action: str,
    object_type: str | None = None,
    object_id: str | uuid.UUID | None = None,
    fields: Iterable[str] = (),
    outcome: str = "ok",
    municipality_code: str | None = None,
    request_id: str | None = None,
) -> AuditEvent:
    """Append one event in the caller's transaction (commits or rolls back with it)."""
    head = session.scalar(select(AuditChainHead).where(AuditChainHead.id == 1).with_for_update())
    if head is None:
        raise RuntimeError("audit chain head missing; run the migrations")
    event = AuditEvent(
        id=head.last_event_id + 1,
        occurred_at=utcnow(),
        actor_user_id=actor.user_id,
        actor_role=actor.role,
        municipality_code=municipality_code or actor.municipality_code,
        action=action,
        object_type=object_type,
        object_id=str(object_id) if object_id is not None else None,
        fields=sorted(set(fields)),
        outcome=outcome,
        request_id=request_id,
        prev_hash=head.last_hash,
    )
    event.hash = _digest(event)
    session.add(event)
    head.last_event_id = event.id
    head.last_hash = event.hash
    session.flush()
    return event


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    events: int
    first_bad_id: int | None = None
    problem: str | None = None


def verify(session: Session, batch: int = 5000) -> VerifyResult:
    """Walk the chain in id order; stop at the first event that does not fit."""
    expected_id = 1
    prev_hash = GENESIS_HASH
    count = 0
    last_id = 0
    while True:
        rows = session.scalars(
            select(AuditEvent).where(AuditEvent.id > last_id).order_by(AuditEvent.id).limit(batch)
        ).all()
        if not rows:
            break
        for event in rows:
            if event.id != expected_id:
                return VerifyResult(False, count, expected_id, "missing event (gap)")
            if event.prev_hash != prev_hash:
                return VerifyResult(False, count, event.id, "chain broken (reordered or removed)")
            if _digest(event) != event.hash:
                return VerifyResult(False, count, event.id, "event altered")
            prev_hash = event.hash
            expected_id += 1
            count += 1
            last_id = event.id
    head = session.get(AuditChainHead, 1)
    if head is not None and (head.last_event_id != count or head.last_hash != prev_hash):
        return VerifyResult(False, count, count + 1, "events missing at the end (truncated)")
    return VerifyResult(True, count)
