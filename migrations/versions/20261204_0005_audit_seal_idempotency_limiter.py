"""sealed audit chain, idempotency records without bodies, shared auth limiter

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04 12:00:00

- audit_events: the per-request hash chain (prev_hash, hash and the one-row
  audit_chain_head every request locked) becomes ``seal_seq``/``seal_mac``,
  set once per event by the sealer under the audit key (HMAC). Existing events
  are left unsealed; the first seal run chains them in id order. The trigger
  now lets only the sealer's one-time UPDATE through.
- municipality_keys: purpose ``audit`` (the installation's audit key).
- idempotency_records: ``response_body`` held whole decrypted cases, comments
  included. It is emptied and dropped; what a replay needs (status, Location,
  the object id) is kept in columns. On SQLite ``secure_delete`` zeroes the
  freed pages.
- cases: ``source_ref`` unique per unit instead of per municipality, so a
  unit's import never learns of another unit's case.
- auth_failures: failed authentications, shared by every worker (429).

Downgrade recomputes the plain hash chain of revision 0001 over every event
(nothing is lost), forgets idempotency records (they only serve retries) and,
should two units share a ``source_ref``, keeps it on the oldest case only.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

GENESIS = "0" * 64
SEAL_COLUMNS = ("seal_seq", "seal_mac")
EVENT_COLUMNS = (
    "id",
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

PG_GUARD = """
CREATE FUNCTION isu_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  -- The sealer's one-time UPDATE: only the seal columns, only from NULL.
  IF TG_OP = 'UPDATE' AND OLD.seal_seq IS NULL AND NEW.seal_seq IS NOT NULL
     AND (NEW.id, NEW.occurred_at, NEW.actor_user_id, NEW.actor_role,
          NEW.municipality_code, NEW.action, NEW.object_type, NEW.object_id,
          NEW.fields, NEW.outcome, NEW.request_id)
         IS NOT DISTINCT FROM
         (OLD.id, OLD.occurred_at, OLD.actor_user_id, OLD.actor_role,
          OLD.municipality_code, OLD.action, OLD.object_type, OLD.object_id,
          OLD.fields, OLD.outcome, OLD.request_id)
  THEN
    RETURN NEW;
  END IF;
  RAISE EXCEPTION 'audit_events is append-only';
END $$;
CREATE TRIGGER audit_events_no_update BEFORE UPDATE OR DELETE ON audit_events
  FOR EACH ROW EXECUTE FUNCTION isu_audit_append_only();
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
  FOR EACH STATEMENT EXECUTE FUNCTION isu_audit_append_only();
"""
_SAME = " AND ".join(f"NEW.{c} IS OLD.{c}" for c in EVENT_COLUMNS)
SQLITE_GUARD = [
    f"""CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
       WHEN NOT (OLD.seal_seq IS NULL AND NEW.seal_seq IS NOT NULL AND {_SAME})
       BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END""",
    """CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
       BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END""",
]
# Revision 0001's guard, for the downgrade.
PG_GUARD_0001 = """
CREATE FUNCTION isu_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit_events is append-only';
END $$;
CREATE TRIGGER audit_events_no_update BEFORE UPDATE OR DELETE ON audit_events
  FOR EACH ROW EXECUTE FUNCTION isu_audit_append_only();
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
  FOR EACH STATEMENT EXECUTE FUNCTION isu_audit_append_only();
"""
SQLITE_GUARD_0001 = [
    """CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
       BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END""",
    """CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
       BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END""",
]

JSON_TYPE = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def _is_pg() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def _drop_guard() -> None:
    if _is_pg():
        op.execute("DROP TRIGGER IF EXISTS audit_events_no_update ON audit_events")
        op.execute("DROP TRIGGER IF EXISTS audit_events_no_truncate ON audit_events")
        op.execute("DROP FUNCTION IF EXISTS isu_audit_append_only()")
    else:
        op.execute("DROP TRIGGER IF EXISTS audit_events_no_update")
        op.execute("DROP TRIGGER IF EXISTS audit_events_no_delete")


def _create_guard(pg: str, sqlite: list[str]) -> None:
    if _is_pg():
        op.execute(pg)
    else:
        for statement in sqlite:
            op.execute(statement)


def upgrade() -> None:
    if not _is_pg():
        # Pages freed below (the old bodies, the rebuilt tables) are zeroed.
        op.execute("PRAGMA secure_delete = ON")

    # --- audit ---------------------------------------------------------------------
    _drop_guard()
    with op.batch_alter_table("audit_events") as batch_op:
        batch_op.drop_constraint(op.f("uq_audit_events_hash"), type_="unique")
        batch_op.drop_column("prev_hash")
        batch_op.drop_column("hash")
        batch_op.add_column(sa.Column("seal_seq", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("seal_mac", sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint(op.f("uq_audit_events_seal_seq"), ["seal_seq"])
    op.create_index(
        "ix_audit_events_unsealed",
        "audit_events",
        ["id"],
        postgresql_where=sa.text("seal_seq IS NULL"),
        sqlite_where=sa.text("seal_seq IS NULL"),
    )
    _create_guard(PG_GUARD, SQLITE_GUARD)
    op.drop_table("audit_chain_head")
    op.create_table(
        "audit_seal_head",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.Column("last_mac", sa.String(length=64), nullable=False),
        sa.Column("mac", sa.String(length=64), nullable=True),
        sa.Column("sealed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("id = 1", name=op.f("ck_audit_seal_head_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_seal_head")),
    )
    op.execute(
        sa.text(
            "INSERT INTO audit_seal_head (id, last_seq, last_mac) VALUES (1, 0, :g)"
        ).bindparams(g=GENESIS)
    )

    # --- keys ----------------------------------------------------------------------
    with op.batch_alter_table("municipality_keys") as batch_op:
        batch_op.drop_constraint(op.f("ck_municipality_keys_purpose"), type_="check")
        batch_op.create_check_constraint(
            op.f("ck_municipality_keys_purpose"), "purpose IN ('pseudonym', 'data', 'audit')"
        )

    # --- idempotency ---------------------------------------------------------------
    with op.batch_alter_table("idempotency_records", recreate="never") as batch_op:
        batch_op.add_column(sa.Column("location", sa.String(length=300), nullable=True))
        batch_op.add_column(sa.Column("object_id", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("facts", JSON_TYPE, nullable=True))
    _keep_replay_facts()
    op.execute("UPDATE idempotency_records SET response_body = NULL")
    with op.batch_alter_table("idempotency_records") as batch_op:
        batch_op.drop_column("response_body")
    op.create_index(
        op.f("ix_idempotency_records_created_at"), "idempotency_records", ["created_at"]
    )

    # --- cases.source_ref per unit --------------------------------------------------
    op.drop_index("ix_cases_municipality_source_ref", table_name="cases")
    op.create_index("ix_cases_unit_source_ref", "cases", ["unit_id", "source_ref"], unique=True)

    # --- limiter --------------------------------------------------------------------
    op.create_table(
        "auth_failures",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("client_hash", sa.String(length=64), nullable=False),
        sa.Column("failed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_auth_failures")),
    )
    op.create_index("ix_auth_failures_client_failed", "auth_failures", ["client_hash", "failed_at"])
    op.create_index(op.f("ix_auth_failures_failed_at"), "auth_failures", ["failed_at"])


def _keep_replay_facts() -> None:
    """Status, Location and case id of finished records survive; unfinished ones go."""
    bind = op.get_bind()
    op.execute("DELETE FROM idempotency_records WHERE state <> 'done' OR response_body IS NULL")
    rows = bind.execute(sa.text("SELECT id, response_body FROM idempotency_records")).all()
    table = sa.table(
        "idempotency_records",
        sa.column("id", sa.Integer()),
        sa.column("location", sa.String()),
        sa.column("object_id", sa.String()),
    )
    for row_id, body in rows:
        stored = json.loads(body) if isinstance(body, str) else (body or {})
        headers = stored.get("headers") or {}
        object_id = (stored.get("body") or {}).get("id") or (stored.get("body") or {}).get(
            "user_id"
        )
        bind.execute(
            table.update()
            .where(table.c.id == row_id)
            .values(location=headers.get("Location"), object_id=_text(object_id))
        )


def _text(value: Any) -> str | None:
    return None if value is None else str(value)[:64]


def _uuid(value: Any) -> Any:
    import uuid

    try:
        return uuid.UUID(str(value)) if value else None
    except ValueError:
        return None


# --- downgrade ---------------------------------------------------------------------


def _plain_digest(row: Any, prev_hash: str) -> str:
    """Revision 0001's unkeyed event hash."""
    occurred = row.occurred_at
    if isinstance(occurred, str):
        occurred = datetime.fromisoformat(occurred)
    occurred = occurred.replace(tzinfo=UTC) if occurred.tzinfo is None else occurred.astimezone(UTC)
    fields = row.fields if not isinstance(row.fields, str) else json.loads(row.fields)
    actor = row.actor_user_id
    payload = {
        "id": row.id,
        "occurred_at": occurred.isoformat(),
        "actor_user_id": str(_uuid(actor)) if actor else None,
        "actor_role": row.actor_role,
        "municipality_code": row.municipality_code,
        "action": row.action,
        "object_type": row.object_type,
        "object_id": row.object_id,
        "fields": sorted(fields or []),
        "outcome": row.outcome,
        "request_id": row.request_id,
        "prev_hash": prev_hash,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def downgrade() -> None:
    bind = op.get_bind()
    op.drop_index(op.f("ix_auth_failures_failed_at"), table_name="auth_failures")
    op.drop_index("ix_auth_failures_client_failed", table_name="auth_failures")
    op.drop_table("auth_failures")

    op.execute(
        "UPDATE cases SET source_ref = NULL WHERE source_ref IS NOT NULL AND EXISTS ("
        " SELECT 1 FROM cases AS older WHERE older.municipality_code = cases.municipality_code"
        " AND older.source_ref = cases.source_ref AND older.created_at < cases.created_at)"
    )
    op.drop_index("ix_cases_unit_source_ref", table_name="cases")
    op.create_index(
        "ix_cases_municipality_source_ref",
        "cases",
        ["municipality_code", "source_ref"],
        unique=True,
    )

    op.drop_index(op.f("ix_idempotency_records_created_at"), table_name="idempotency_records")
    op.execute("DELETE FROM idempotency_records")
    with op.batch_alter_table("idempotency_records") as batch_op:
        batch_op.drop_column("facts")
        batch_op.drop_column("object_id")
        batch_op.drop_column("location")
        batch_op.add_column(sa.Column("response_body", JSON_TYPE, nullable=True))

    op.execute("DELETE FROM municipality_keys WHERE purpose = 'audit'")
    with op.batch_alter_table("municipality_keys") as batch_op:
        batch_op.drop_constraint(op.f("ck_municipality_keys_purpose"), type_="check")
        batch_op.create_check_constraint(
            op.f("ck_municipality_keys_purpose"), "purpose IN ('pseudonym', 'data')"
        )

    _drop_guard()
    op.drop_table("audit_seal_head")
    op.drop_index("ix_audit_events_unsealed", table_name="audit_events")
    with op.batch_alter_table("audit_events") as batch_op:
        batch_op.drop_constraint(op.f("uq_audit_events_seal_seq"), type_="unique")
        batch_op.drop_column("seal_mac")
        batch_op.drop_column("seal_seq")
        batch_op.add_column(sa.Column("prev_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("hash", sa.String(length=64), nullable=True))
    events = sa.table(
        "audit_events",
        sa.column("id", sa.BigInteger()),
        sa.column("prev_hash", sa.String()),
        sa.column("hash", sa.String()),
    )
    prev, last_id = GENESIS, 0
    rows: Sequence[Any] = bind.execute(
        sa.select(*(sa.column(c) for c in EVENT_COLUMNS))
        .select_from(sa.table("audit_events"))
        .order_by(sa.column("id"))
    ).all()
    for row in rows:
        digest = _plain_digest(row, prev)
        bind.execute(
            events.update().where(events.c.id == row.id).values(prev_hash=prev, hash=digest)
        )
        prev, last_id = digest, row.id
    with op.batch_alter_table("audit_events") as batch_op:
        batch_op.alter_column("prev_hash", existing_type=sa.String(length=64), nullable=False)
        batch_op.alter_column("hash", existing_type=sa.String(length=64), nullable=False)
        batch_op.create_unique_constraint(op.f("uq_audit_events_hash"), ["hash"])
    op.create_table(
        "audit_chain_head",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("last_event_id", sa.BigInteger(), nullable=False),
        sa.Column("last_hash", sa.String(length=64), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_audit_chain_head_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_chain_head")),
    )
    op.execute(
        sa.text(
            "INSERT INTO audit_chain_head (id, last_event_id, last_hash) VALUES (1, :i, :h)"
        ).bindparams(i=last_id, h=prev)
    )
    _create_guard(PG_GUARD_0001, SQLITE_GUARD_0001)
