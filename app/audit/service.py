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
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.clock import utcnow
from app.models import AuditChainHead, AuditEvent

GENESIS_HASH = "0" * 64


@dataclass(frozen=True)
class Actor:
    user_id: uuid.UUID | None
    role: str | None
    municipality_code: str | None


def as_utc(moment: datetime) -> datetime:
    """Every stored time is UTC; SQLite hands it back naive, PostgreSQL in the
    session's time zone. The hash must not depend on either."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _digest(event: AuditEvent) -> str:
    payload = {
        "id": event.id,
        "occurred_at": as_utc(event.occurred_at).isoformat(),
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
    # No flush here: the event is written with the transaction's next flush or
    # commit (batched); the head stays locked and current in this session.
    return event


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    events: int
    first_bad_id: int | None = None
    problem: str | None = None
    last_hash: str | None = None
    """The hash of the last good event: note it outside the database (an anchor)
    so that a later rewrite of the whole chain is detectable too."""


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
                return VerifyResult(False, count, expected_id, "missing event (gap)", prev_hash)
            if event.prev_hash != prev_hash:
                return VerifyResult(
                    False, count, event.id, "chain broken (reordered or removed)", prev_hash
                )
            if _digest(event) != event.hash:
                return VerifyResult(False, count, event.id, "event altered", prev_hash)
            prev_hash = event.hash
            expected_id += 1
            count += 1
            last_id = event.id
    head = session.get(AuditChainHead, 1)
    if head is None:
        return VerifyResult(False, count, count + 1, "chain head missing", prev_hash)
    if head.last_event_id > count:
        return VerifyResult(
            False, count, count + 1, "events missing at the end (truncated)", prev_hash
        )
    if head.last_event_id < count:
        bad = head.last_event_id + 1
        return VerifyResult(False, count, bad, "events beyond the chain head", prev_hash)
    if head.last_hash != prev_hash:
        return VerifyResult(False, count, count, "chain head does not match", prev_hash)
    return VerifyResult(True, count, last_hash=prev_hash)


@dataclass(frozen=True)
class EventFilter:
    """What the caller asks for (names of the filters used are audited)."""

    municipality_code: str | None = None
    action: str | None = None
    object_id: str | None = None
    occurred_from: datetime | None = None
    occurred_to: datetime | None = None

    def used(self) -> list[str]:
        """Names of the filters given (for the audit event of the listing)."""
        names = ("municipality_code", "action", "object_id", "occurred_from", "occurred_to")
        return [name for name in names if getattr(self, name) is not None]


def list_events(
    session: Session, where: EventFilter, *, scope: str | None, limit: int, offset: int
) -> tuple[Sequence[AuditEvent], int]:
    """Events newest first, and how many match in all.

    ``scope`` is the one municipality the caller may see, or None for all
    (admin): the caller decides, from the principal.
    """
    query = select(AuditEvent)
    if scope is not None:
        query = query.where(AuditEvent.municipality_code == scope)
    if where.municipality_code is not None:
        query = query.where(AuditEvent.municipality_code == where.municipality_code)
    if where.action is not None:
        query = query.where(AuditEvent.action == where.action)
    if where.object_id is not None:
        query = query.where(AuditEvent.object_id == where.object_id)
    # Compared in UTC, like every stored time.
    if where.occurred_from is not None:
        query = query.where(AuditEvent.occurred_at >= as_utc(where.occurred_from))
    if where.occurred_to is not None:
        query = query.where(AuditEvent.occurred_at <= as_utc(where.occurred_to))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(AuditEvent.id.desc()).limit(limit).offset(offset)).all()
    return rows, total
