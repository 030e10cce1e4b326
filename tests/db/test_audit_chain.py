"""Tampering with the audit log is detected (ACCEPTANCE U2).

The application cannot UPDATE or DELETE audit rows (a trigger refuses, on both
engines). Someone who can disable the triggers can edit, delete, reorder or
truncate events, and ``isu audit verify`` then exits non-zero naming the first
bad event.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from app.audit.service import GENESIS_HASH, Actor, record, verify
from app.cli import app as cli
from app.config import get_settings
from app.db import make_engine, make_session_factory, transaction
from tests.conftest import new_database_url

EVENTS = 8


@pytest.fixture(scope="module")
def audit_database_url(
    engine_name: str, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> str:
    """One database per engine for this module; each test starts a new chain in it."""
    return new_database_url(engine_name, request, tmp_path_factory.mktemp("audit"))


@pytest.fixture
def url(audit_database_url: str, engine_name: str) -> str:
    """The module's database with a new, intact chain of ``EVENTS`` events."""
    with without_guard(audit_database_url, engine_name) as conn:
        conn.execute(text("DELETE FROM audit_events"))
        conn.execute(text("DELETE FROM audit_chain_head"))
        conn.execute(
            text("INSERT INTO audit_chain_head (id, last_event_id, last_hash) VALUES (1, 0, :g)"),
            {"g": GENESIS_HASH},
        )
    write_events(audit_database_url)
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


def run_verify(url: str) -> tuple[int, str]:
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(cli, ["audit", "verify"], env={"ISU_DATABASE_URL": url})
    finally:
        get_settings.cache_clear()
    return result.exit_code, result.output


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
    "delete the chain head": (["DELETE FROM audit_chain_head"], EVENTS + 1),
    "rewind the chain head": (
        [f"UPDATE audit_chain_head SET last_event_id = {EVENTS - 3}"],
        EVENTS - 2,
    ),
}


@pytest.mark.parametrize("how", list(TAMPERING))
def test_verify_names_the_first_bad_event(how: str, url: str, engine_name: str) -> None:
    code, output = run_verify(url)
    assert code == 0, output
    assert f"{EVENTS} händelser" in output
    statements, first_bad = TAMPERING[how]
    with without_guard(url, engine_name) as conn:
        for statement in statements:
            assert conn.exec_driver_sql(statement).rowcount >= 1, statement
    code, output = run_verify(url)
    assert code == 1, output
    assert re.search(rf"bruten vid händelse\s+{first_bad}\b", output), output
    engine = make_engine(url)
    with make_session_factory(engine)() as session:
        result = verify(session)
    engine.dispose()
    assert (result.ok, result.first_bad_id) == (False, first_bad)


def test_an_external_anchor_catches_a_rewound_chain(url: str, engine_name: str) -> None:
    """Truncating and also rewinding the chain head passes the chain check alone;
    the last hash noted earlier outside the database (the anchor) does not match."""
    engine = make_engine(url)
    factory = make_session_factory(engine)
    with factory() as session:
        anchor = verify(session)
    with without_guard(url, engine_name) as conn:
        kept = conn.execute(text("SELECT hash FROM audit_events WHERE id = 5")).scalar_one()
        conn.execute(text("DELETE FROM audit_events WHERE id > 5"))
        conn.execute(
            text("UPDATE audit_chain_head SET last_event_id = 5, last_hash = :h"), {"h": kept}
        )
    with factory() as session:
        after = verify(session)
    engine.dispose()
    assert anchor.ok
    assert anchor.events == EVENTS
    assert after.ok
    assert after.events == 5
    assert after.last_hash != anchor.last_hash


def test_the_application_cannot_update_or_delete_audit_rows(
    session: Session, engine_name: str
) -> None:
    event = record(session, actor=Actor(None, None, None), action="auth.failed", outcome="denied")
    statements = [
        f"UPDATE audit_events SET action = 'case.read' WHERE id = {event.id}",
        f"DELETE FROM audit_events WHERE id = {event.id}",
    ]
    if engine_name == "postgresql":
        statements.append("TRUNCATE audit_events")
    for statement in statements:
        with pytest.raises(DBAPIError, match="append-only"), session.begin_nested():
            session.execute(text(statement))
    session.expire_all()
    assert session.scalar(
        text("SELECT action FROM audit_events WHERE id = :id"), {"id": event.id}
    ) == ("auth.failed")
