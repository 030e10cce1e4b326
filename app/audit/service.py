"""The audit log: events appended without a global lock, sealed into a keyed chain.

Appending an event is a plain INSERT in the caller's transaction: no row is
updated by every request, so audited requests never wait for one another.
Tamper evidence comes from **sealing** (:func:`seal`): a single sealer (the
server's background loop or ``isu audit seal``) takes the unsealed events in id
order, gives each the next sequence number and an HMAC-SHA256 over its content,
its sequence number and the previous event's MAC, under the installation's
audit key (a random key wrapped by the master key, like every data key). The
seal head row holds the last sequence number and MAC, itself MAC'd.

Someone with only database access cannot edit, delete, reorder or re-chain
sealed events without :func:`verify` naming the first bad one: they lack the
key. Unsealed events are younger than the sealing interval; :func:`verify`
reports how many there are and fails when one is older than the allowed age
(docs/security.md). Events carry variable *names*, never values or identifiers.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.orm import Session

from app.clock import utcnow
from app.models import AuditEvent, AuditSealHead
from app.security.keyring import Keyring

GENESIS_MAC = "0" * 64
AUDIT_KEY_SCOPE = "*"
"""The audit key is the installation's, not a municipality's (municipality_keys row)."""
AUDIT_KEY_PURPOSE = "audit"
DEFERRED = "isu.deferred_audit"
"""``session.info`` key: in a read-only request the events wait here and are
written after the request's transaction (see :mod:`app.audit.sink`)."""

_EVENT_COLUMNS = (
    AuditEvent.id,
    AuditEvent.occurred_at,
    AuditEvent.actor_user_id,
    AuditEvent.actor_role,
    AuditEvent.municipality_code,
    AuditEvent.action,
    AuditEvent.object_type,
    AuditEvent.object_id,
    AuditEvent.fields,
    AuditEvent.outcome,
    AuditEvent.request_id,
)


@dataclass(frozen=True)
class Actor:
    user_id: uuid.UUID | None
    role: str | None
    municipality_code: str | None


def as_utc(moment: datetime) -> datetime:
    """Every stored time is UTC; SQLite hands it back naive, PostgreSQL in the
    session's time zone. The MAC must not depend on either."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def new_event(
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
    """An event, not yet written anywhere."""
    return AuditEvent(
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
    )


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
    """Append one event in the caller's transaction (commits or rolls back with it).

    In a read-only request (``session.info[DEFERRED]`` is a list) the event is
    kept aside and written after the request succeeds, so that a read never
    takes a write lock."""
    event = new_event(
        actor=actor,
        action=action,
        object_type=object_type,
        object_id=object_id,
        fields=fields,
        outcome=outcome,
        municipality_code=municipality_code,
        request_id=request_id,
    )
    deferred = session.info.get(DEFERRED)
    if deferred is not None:
        deferred.append(event)
    else:
        # Written with the transaction's next flush or commit (batched).
        session.add(event)
    return event


# --- sealing ------------------------------------------------------------------------


def _content(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "occurred_at": as_utc(row.occurred_at).isoformat(),
        "actor_user_id": str(row.actor_user_id) if row.actor_user_id else None,
        "actor_role": row.actor_role,
        "municipality_code": row.municipality_code,
        "action": row.action,
        "object_type": row.object_type,
        "object_id": row.object_id,
        "fields": sorted(row.fields or []),
        "outcome": row.outcome,
        "request_id": row.request_id,
    }


def _mac(key: bytes, payload: dict[str, Any]) -> str:
    data = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
    return hmac.new(key, data, hashlib.sha256).hexdigest()


def event_mac(key: bytes, row: Any, seq: int, prev_mac: str) -> str:
    return _mac(key, {"event": _content(row), "seq": seq, "prev": prev_mac})


def head_mac(key: bytes, last_seq: int, last_mac: str) -> str:
    return _mac(key, {"head": True, "seq": last_seq, "mac": last_mac})


def audit_key(session: Session, keyring: Keyring) -> bytes:
    """The installation's audit key (created, wrapped by the master key, on first use)."""
    return keyring.current(session, AUDIT_KEY_SCOPE, AUDIT_KEY_PURPOSE)[1]


def _existing_audit_key(session: Session, keyring: Keyring) -> bytes | None:
    return keyring.newest(session, AUDIT_KEY_SCOPE, AUDIT_KEY_PURPOSE)


def _lock_sealer(session: Session) -> bool:
    """Only one sealer at a time. PostgreSQL: a transaction advisory lock (others
    skip this round); SQLite: the write transaction already serialises them."""
    if session.get_bind().dialect.name != "postgresql":
        return True
    return bool(session.scalar(select(func.pg_try_advisory_xact_lock(0x15A0D17))))


def seal(session: Session, keyring: Keyring, *, batch: int = 5000) -> int:
    """Seal up to ``batch`` unsealed events in id order; returns how many.

    Runs in the caller's transaction (commit it). Resumable: whatever was
    committed stays sealed, the rest is taken by the next call."""
    if not _lock_sealer(session):
        return 0
    head = session.get(AuditSealHead, 1, with_for_update=True)
    if head is None:
        raise RuntimeError("audit seal head missing; run the migrations")
    rows = session.execute(
        select(*_EVENT_COLUMNS)
        .where(AuditEvent.seal_seq.is_(None))
        .order_by(AuditEvent.id)
        .limit(batch)
    ).all()
    if not rows:
        return 0
    key = audit_key(session, keyring)
    seq, prev = head.last_seq, head.last_mac
    params = []
    for row in rows:
        seq += 1
        prev = event_mac(key, row, seq, prev)
        params.append({"b_id": row.id, "b_seq": seq, "b_mac": prev})
    table = AuditEvent.__table__
    session.connection().execute(
        update(table)  # type: ignore[arg-type]
        .where(table.c.id == bindparam("b_id"))
        .values(seal_seq=bindparam("b_seq"), seal_mac=bindparam("b_mac")),
        params,
    )
    head.last_seq, head.last_mac = seq, prev
    head.sealed_at = utcnow()
    head.mac = head_mac(key, seq, prev)
    session.flush()
    return len(rows)


def seal_all(
    session_factory: Any, keyring: Keyring, *, batch: int = 5000, rounds: int | None = None
) -> int:
    """Seal everything unsealed (or ``rounds`` batches), one committed
    transaction per batch."""
    total = 0
    while rounds is None or rounds > 0:
        with session_factory() as session, session.begin():
            sealed = seal(session, keyring, batch=batch)
        total += sealed
        if sealed < batch:
            break
        rounds = None if rounds is None else rounds - 1
    return total


def unsealed_count(session: Session) -> int:
    return (
        session.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.seal_seq.is_(None))
        )
        or 0
    )


# --- verification -------------------------------------------------------------------


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    events: int
    """Sealed events verified in sequence order."""
    first_bad_id: int | None = None
    """The sequence position where the chain first fails (= the event id while
    no event was ever committed out of order)."""
    problem: str | None = None
    last_hash: str | None = None
    """The MAC of the last good event: note it (with ``events``) outside the
    database as an anchor, so that rolling the whole database back is visible too."""
    unsealed: int = 0
    oldest_unsealed_at: datetime | None = None


def verify(
    session: Session,
    keyring: Keyring,
    *,
    max_unsealed_age: timedelta | None = None,
    batch: int = 5000,
) -> VerifyResult:
    """Walk the sealed chain in sequence order; stop at the first event that does
    not fit. Then check the head, and that no event waited too long for its seal."""
    # No key yet means nothing was ever sealed; a sealed row then fails below.
    key = _existing_audit_key(session, keyring) or b"\0" * 32
    expected = 1
    prev = GENESIS_MAC
    columns = (*_EVENT_COLUMNS, AuditEvent.seal_seq, AuditEvent.seal_mac)
    while True:
        rows = session.execute(
            select(*columns)
            .where(AuditEvent.seal_seq >= expected)
            .order_by(AuditEvent.seal_seq)
            .limit(batch)
        ).all()
        if not rows:
            break
        for row in rows:
            if row.seal_seq != expected:
                return VerifyResult(False, expected - 1, expected, "missing event (gap)", prev)
            if not hmac.compare_digest(event_mac(key, row, expected, prev), row.seal_mac):
                return VerifyResult(
                    False, expected - 1, expected, "event altered or re-chained", prev
                )
            prev = row.seal_mac
            expected += 1
    count = expected - 1
    head = session.get(AuditSealHead, 1)
    if head is None:
        return VerifyResult(False, count, count + 1, "seal head missing", prev)
    never_sealed = head.last_seq == 0 and head.mac is None
    if not never_sealed and not hmac.compare_digest(
        head_mac(key, head.last_seq, head.last_mac), head.mac or ""
    ):
        return VerifyResult(False, count, count + 1, "seal head altered", prev)
    if head.last_seq > count:
        return VerifyResult(False, count, count + 1, "events missing at the end (truncated)", prev)
    if head.last_seq < count or head.last_mac != prev:
        return VerifyResult(False, count, head.last_seq + 1, "events beyond the seal head", prev)
    unsealed = unsealed_count(session)
    oldest = session.scalar(
        select(func.min(AuditEvent.occurred_at)).where(AuditEvent.seal_seq.is_(None))
    )
    oldest = as_utc(oldest) if oldest is not None else None
    if oldest is not None and max_unsealed_age is not None and utcnow() - oldest > max_unsealed_age:
        first = session.scalar(select(func.min(AuditEvent.id)).where(AuditEvent.seal_seq.is_(None)))
        return VerifyResult(False, count, first, "event not sealed in time", prev, unsealed, oldest)
    return VerifyResult(True, count, last_hash=prev, unsealed=unsealed, oldest_unsealed_at=oldest)


# --- listing ------------------------------------------------------------------------


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
