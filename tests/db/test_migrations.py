"""Migrations go up, down and up again on both engines, with no drift (C7)."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, inspect, text

from app.audit.service import seal_all, verify
from app.cli import alembic_config
from app.db import Base, make_engine, make_session_factory
from app.security.crypto import MasterKey
from app.security.keyring import Keyring
from tests.conftest import TEST_MASTER_KEY, new_database_url

EXPECTED_TABLES = {
    "units",
    "users",
    "api_tokens",
    "municipality_keys",
    "cases",
    "interventions",
    "risk_assessments",
    "survey_responses",
    "case_revisions",
    "kodnyckel",
    "local_variables",
    "idempotency_records",
    "audit_events",
    "audit_seal_head",
    "auth_failures",
}


def test_upgrade_downgrade_upgrade_without_drift(
    engine_name: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    url = new_database_url(engine_name, request, tmp_path)
    cfg = alembic_config(url)
    engine = make_engine(url)
    try:
        assert set(inspect(engine).get_table_names()) >= EXPECTED_TABLES
        command.downgrade(cfg, "base")
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
        command.upgrade(cfg, "head")
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        assert diff == []
    finally:
        engine.dispose()


LEGACY_COMMENT = "Legacy kommentar som aldrig far finnas i klartext"  # ASCII: JSON escapes å


def _legacy_chain(conn: Connection, count: int) -> list[str]:
    """Events as revision 0004 wrote them: a plain hash chain and its head row."""
    prev, hashes = "0" * 64, []
    for i in range(1, count + 1):
        occurred = datetime(2026, 11, 30, 12, 0, i, tzinfo=UTC)
        payload = {
            "id": i,
            "occurred_at": occurred.isoformat(),
            "actor_user_id": None,
            "actor_role": "caseworker",
            "municipality_code": "0180",
            "action": "case.read",
            "object_type": "case",
            "object_id": f"case-{i}",
            "fields": [],
            "outcome": "ok",
            "request_id": None,
            "prev_hash": prev,
        }
        digest = hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()
        conn.execute(
            text(
                "INSERT INTO audit_events (id, occurred_at, actor_role, municipality_code, action,"
                " object_type, object_id, fields, outcome, prev_hash, hash) VALUES (:i, :t,"
                " 'caseworker', '0180', 'case.read', 'case', :o, '[]', 'ok', :p, :h)"
            ),
            {"i": i, "t": occurred, "o": f"case-{i}", "p": prev, "h": digest},
        )
        prev = digest
        hashes.append(digest)
    conn.execute(
        text("UPDATE audit_chain_head SET last_event_id = :i, last_hash = :h"),
        {"i": count, "h": prev},
    )
    return hashes


def _raw_sqlite(url: str) -> bytes:
    """The database file and its write-ahead log, as bytes on disk."""
    path = url.removeprefix("sqlite:///")
    return b"".join(
        Path(path + suffix).read_bytes() for suffix in ("", "-wal") if Path(path + suffix).exists()
    )


def test_0005_seals_the_old_chain_and_drops_stored_bodies(
    engine_name: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """Idempotency bodies (whole decrypted cases) are gone after the upgrade;
    the old audit events are sealed into the keyed chain; the downgrade gives
    back exactly the old hash chain."""
    url = new_database_url(engine_name, request, tmp_path)
    cfg = alembic_config(url)
    command.downgrade(cfg, "0004")
    engine = make_engine(url)
    user_id = uuid.uuid4()
    case_id = uuid.uuid4()
    try:
        with engine.begin() as conn:
            hashes = _legacy_chain(conn, 5)
            conn.execute(
                text(
                    "INSERT INTO users (id, username, role, is_active, created_at, updated_at)"
                    " VALUES (:u, 'hl', 'caseworker', true, :t, :t)"
                ),
                {
                    "u": user_id if engine_name == "postgresql" else user_id.hex,
                    "t": datetime.now(UTC),
                },
            )
            body = {
                "body": {"id": str(case_id), "comments": {"perpetrator": LEGACY_COMMENT}},
                "headers": {"Location": f"/api/v1/cases/{case_id}", "ETag": '"1"'},
            }
            conn.execute(
                text(
                    "INSERT INTO idempotency_records (user_id, key, request_hash, state,"
                    " response_status, response_body, created_at)"
                    " VALUES (:u, 'k1', :h, 'done', 201, :b, :t)"
                ),
                {
                    "u": user_id if engine_name == "postgresql" else user_id.hex,
                    "h": "0" * 64,
                    "b": json.dumps(body),
                    "t": datetime.now(UTC),
                },
            )
        if engine_name == "sqlite":
            assert LEGACY_COMMENT.encode() in _raw_sqlite(url)  # it was there before
        command.upgrade(cfg, "head")
        with engine.connect() as conn:
            row = conn.execute(
                text("SELECT response_status, location, object_id FROM idempotency_records")
            ).one()
            assert tuple(row) == (201, f"/api/v1/cases/{case_id}", str(case_id))
            columns = {c["name"] for c in inspect(conn).get_columns("idempotency_records")}
            assert "response_body" not in columns
        if engine_name == "sqlite":
            assert LEGACY_COMMENT.encode() not in _raw_sqlite(url)
        keyring = Keyring(MasterKey.from_text(TEST_MASTER_KEY))
        factory = make_session_factory(engine)
        assert seal_all(factory, keyring) == 5
        with factory() as session:
            result = verify(session, keyring)
        assert (result.ok, result.events) == (True, 5)

        command.downgrade(cfg, "0004")
        with engine.connect() as conn:
            again = conn.execute(text("SELECT hash FROM audit_events ORDER BY id")).scalars()
            assert list(again) == hashes
            head = conn.execute(text("SELECT last_event_id, last_hash FROM audit_chain_head")).one()
            assert tuple(head) == (5, hashes[-1])
        command.upgrade(cfg, "head")
    finally:
        engine.dispose()
