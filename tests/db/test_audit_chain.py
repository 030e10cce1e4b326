"""Tampering with the audit log is detected (ACCEPTANCE U2; issue 11 (d)).

Requests only append events; the sealer chains them with an HMAC under the
audit key. The application cannot UPDATE or DELETE audit rows (a trigger lets
only the sealer's one-time seal through). Someone who can disable the
triggers but has no key can edit, delete, reorder, truncate or re-chain
events, and ``isu audit verify`` then exits non-zero naming the first bad
position.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import pytest
from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from app.audit.service import GENESIS_MAC, Actor, record, seal, seal_all, verify
from app.cli import app as cli
from app.config import get_settings
from app.db import make_engine, make_session_factory, transaction
from app.security.crypto import MasterKey
from app.security.keyring import Keyring
from tests.conftest import TEST_MASTER_KEY, new_database_url

EVENTS = 8
KEYRING = Keyring(MasterKey.from_text(TEST_MASTER_KEY))


@pytest.fixture(scope="module")
def audit_database_url(
    engine_name: str, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> str:
    """One database per engine for this module; each test starts a new chain in it."""
    return new_database_url(engine_name, request, tmp_path_factory.mktemp("audit"))


@pytest.fixture
def url(audit_database_url: str, engine_name: str) -> str:
    """The module's database with a new chain of ``EVENTS`` sealed events."""
    with without_guard(audit_database_url, engine_name) as conn:
        conn.execute(text("DELETE FROM audit_events"))
        conn.execute(text("DELETE FROM audit_seal_head"))
        conn.execute(
            text("INSERT INTO audit_seal_head (id, last_seq, last_mac) VALUES (1, 0, :g)"),
            {"g": GENESIS_MAC},
        )
        if engine_name == "postgresql":  # ids from 1 again (SQLite: max + 1), id = position
            conn.execute(text("ALTER SEQUENCE audit_events_id_seq RESTART WITH 1"))
    write_events(audit_database_url)
    assert run_cli("seal", audit_database_url)[0] == 0
    return audit_database_url


def write_events(url: str, count: int = EVENTS) -> None:
    """``count`` events, each committed in its own transaction like real requests."""
    engine = make_engine(url)
    factory = make_session_factory(engine)
    actor = Actor(uuid.uuid4(), "caseworker", "0180")
    for i in range(count):
        with transaction(factory) as session:
            record(
                session,
                actor=actor,
                action="case.update" if i % 2 else "case.read",
                object_type="case",
                object_id=uuid.uuid4(),
                fields=["perpetrator"] if i % 2 else [],
                request_id=uuid.uuid4().hex,
            )
    engine.dispose()


@contextmanager
def without_guard(url: str, engine_name: str) -> Iterator[Connection]:
    """A connection that may change audit rows: what an attacker with DBA rights has."""
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            if engine_name == "sqlite":
                triggers = conn.execute(
                    text(
                        "SELECT name, sql FROM sqlite_master "
                        "WHERE type = 'trigger' AND tbl_name = 'audit_events'"
                    )
                ).all()
                assert len(triggers) == 2
                for name, _ in triggers:
                    conn.exec_driver_sql(f"DROP TRIGGER {name}")
                yield conn
                for _, sql in triggers:
                    conn.exec_driver_sql(sql)
            else:
                conn.exec_driver_sql("ALTER TABLE audit_events DISABLE TRIGGER USER")
                yield conn
                conn.exec_driver_sql("ALTER TABLE audit_events ENABLE TRIGGER USER")
    finally:
        engine.dispose()


def run_cli(command: str, url: str) -> tuple[int, str]:
    get_settings.cache_clear()
    env = {"ISU_DATABASE_URL": url, "ISU_MASTER_KEY": TEST_MASTER_KEY}
    try:
        result = CliRunner().invoke(cli, ["audit", command], env=env)
    finally:
        get_settings.cache_clear()
    return result.exit_code, result.output


def _plain(mac: str) -> str:
    return hashlib.sha256(mac.encode()).hexdigest()


TAMPERING: dict[str, tuple[list[str], int]] = {
    "edit one row": (["UPDATE audit_events SET action = 'case.read' WHERE id = 4"], 4),
    "edit the fields of one row": (["UPDATE audit_events SET fields = '[]' WHERE id = 6"], 6),
    "delete one row": (["DELETE FROM audit_events WHERE id = 3"], 3),
    "swap two rows": (
        [
            "UPDATE audit_events SET id = -5 WHERE id = 5",
            "UPDATE audit_events SET id = 5 WHERE id = 6",
            "UPDATE audit_events SET id = 6 WHERE id = -5",
        ],
        5,
    ),
    "truncate the tail": ([f"DELETE FROM audit_events WHERE id > {EVENTS - 2}"], EVENTS - 1),
    "delete the seal head": (["DELETE FROM audit_seal_head"], EVENTS + 1),
    "rewind the seal head": ([f"UPDATE audit_seal_head SET last_seq = {EVENTS - 3}"], EVENTS + 1),
    # Without the key, a consistent rewrite of the whole chain is impossible:
    # a plain hash in place of the MAC, or a MAC under a guessed key, fails at once.
    "re-chain with plain hashes": (
        ["UPDATE audit_events SET seal_mac = lower(hex(randomblob(32)))"],
        1,
    ),
    "forge a sealed event": (
        [
            "INSERT INTO audit_events (occurred_at, action, fields, outcome, seal_seq, seal_mac) "
            f"VALUES (CURRENT_TIMESTAMP, 'case.read', '[]', 'ok', {EVENTS + 1}, '{'ab' * 32}')"
        ],
        EVENTS + 1,
    ),
}


def _for_engine(statement: str, engine_name: str) -> str:
    if engine_name == "postgresql":
        return statement.replace(
            "lower(hex(randomblob(32)))", "encode(sha256(random()::text::bytea), 'hex')"
        )
    return statement


@pytest.mark.parametrize("how", list(TAMPERING))
def test_verify_names_the_first_bad_event(how: str, url: str, engine_name: str) -> None:
    code, output = run_cli("verify", url)
    assert code == 0, output
    assert f"{EVENTS} förseglade händelser" in output
    statements, first_bad = TAMPERING[how]
    with without_guard(url, engine_name) as conn:
        for statement in statements:
            changed = conn.exec_driver_sql(_for_engine(statement, engine_name))
            assert changed.rowcount >= 1, statement
    code, output = run_cli("verify", url)
    assert code == 1, output
    assert re.search(rf"bruten vid händelse\s+{first_bad}\b", output), output
    engine = make_engine(url)
    with make_session_factory(engine)() as session:
        result = verify(session, KEYRING)
    engine.dispose()
    assert (result.ok, result.first_bad_id) == (False, first_bad)


def test_a_wrong_master_key_cannot_verify(url: str) -> None:
    get_settings.cache_clear()
    env = {"ISU_DATABASE_URL": url, "ISU_MASTER_KEY": MasterKey.generate().to_text()}
    try:
        result = CliRunner().invoke(cli, ["audit", "verify"], env=env)
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 2, result.output


def test_an_external_anchor_catches_a_rolled_back_chain(url: str, engine_name: str) -> None:
    """Deleting the newest events and putting back an older copy of the seal
    head passes the chain check alone; the anchor noted earlier outside the
    database (count and last MAC) does not match."""
    engine = make_engine(url)
    factory = make_session_factory(engine)
    with factory() as session:
        old_head = session.execute(
            text("SELECT last_seq, last_mac, mac FROM audit_seal_head")
        ).one()
    write_events(url, 3)
    seal_all(factory, KEYRING)
    with factory() as session:
        anchor = verify(session, KEYRING)
    with without_guard(url, engine_name) as conn:
        conn.execute(text(f"DELETE FROM audit_events WHERE id > {EVENTS}"))
        conn.execute(
            text("UPDATE audit_seal_head SET last_seq = :s, last_mac = :l, mac = :m"),
            {"s": old_head.last_seq, "l": old_head.last_mac, "m": old_head.mac},
        )
    with factory() as session:
        after = verify(session, KEYRING)
    engine.dispose()
    assert (anchor.ok, anchor.events) == (True, EVENTS + 3)
    assert (after.ok, after.events) == (True, EVENTS)
    assert after.last_hash != anchor.last_hash


def test_an_event_left_unsealed_too_long_fails_verification(url: str) -> None:
    write_events(url, 1)
    engine = make_engine(url)
    with make_session_factory(engine)() as session:
        fresh = verify(session, KEYRING, max_unsealed_age=timedelta(minutes=5))
        stale = verify(session, KEYRING, max_unsealed_age=timedelta(0))
    engine.dispose()
    assert (fresh.ok, fresh.unsealed) == (True, 1)
    assert (stale.ok, stale.first_bad_id, stale.problem) == (
        False,
        EVENTS + 1,
        "event not sealed in time",
    )


def test_the_application_cannot_update_or_delete_audit_rows(
    session: Session, engine_name: str
) -> None:
    event = record(session, actor=Actor(None, None, None), action="auth.failed", outcome="denied")
    session.flush()
    statements = [
        f"UPDATE audit_events SET action = 'case.read' WHERE id = {event.id}",
        # Sealing and editing in one go is not the sealer's update.
        f"UPDATE audit_events SET seal_seq = 999, action = 'x' WHERE id = {event.id}",
        f"DELETE FROM audit_events WHERE id = {event.id}",
    ]
    if engine_name == "postgresql":
        statements.append("TRUNCATE audit_events")
    for statement in statements:
        with pytest.raises(DBAPIError, match="append-only"), session.begin_nested():
            session.execute(text(statement))
    assert seal(session, KEYRING) >= 1
    session.expire_all()
    sealed = session.execute(
        text("SELECT action, seal_seq FROM audit_events WHERE id = :id"), {"id": event.id}
    ).one()
    assert (sealed.action, sealed.seal_seq is not None) == ("auth.failed", True)
    # Once sealed, not even the seal columns change again.
    with pytest.raises(DBAPIError, match="append-only"), session.begin_nested():
        session.execute(
            text("UPDATE audit_events SET seal_seq = NULL WHERE id = :id"), {"id": event.id}
        )
