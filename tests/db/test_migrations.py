"""Migrations go up, down and up again on both engines, with no drift (C7)."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, inspect, select, text
from typer.testing import CliRunner

from app.audit.service import seal_all, verify
from app.cli import alembic_config
from app.cli import app as cli
from app.config import get_settings
from app.db import Base, make_engine, make_session_factory, transaction
from app.models import (
    Case,
    ImportJob,
    PopulationFigure,
    Submission,
    SubmissionFile,
    SurveyLink,
    WebSession,
)
from app.security.crypto import MasterKey
from app.security.keyring import Keyring
from tests.conftest import TEST_MASTER_KEY, new_database_url
from tests.factories import make_account, make_unit

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


# --- downgrade keeps the data (C7) ------------------------------------------------

KEPT_TABLES = (
    "cases",
    "import_jobs",
    "survey_links",
    "population_figures",
    "submissions",
    "submission_files",
)


def _seed(url: str) -> None:
    """Real rows in every table a downgrade to 0001 used to drop."""
    engine = make_engine(url)
    now = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)
    try:
        with transaction(make_session_factory(engine)) as session:
            unit = make_unit(session)
            user = make_account(session, "caseworker", unit=unit).user
            cases = []
            for i, ref in enumerate(("KS-1", "KS-2", "KS-3", None)):
                case = Case(
                    unit_id=unit.id,
                    municipality_code=unit.municipality_code,
                    client_pseudonym=f"{i:064x}",
                    client_id_kind="personnummer",
                    pseudonym_key_version=1,
                    actualised_on=date(2025, 3, 1 + i),
                    values={"sex": 1},
                    catalogue_version="test",
                    created_by_id=user.id,
                    source_ref=ref,
                )
                session.add(case)
                cases.append(case)
            session.flush()
            session.add(
                ImportJob(
                    municipality_code="0180",
                    created_by_id=user.id,
                    state="done",
                    skip_invalid=False,
                    lines=3,
                    invalid=0,
                    created=3,
                    unchanged=0,
                    errors=[],
                )
            )
            session.add(
                SurveyLink(
                    case_id=cases[0].id,
                    token_hash="a" * 64,
                    mode_code=2,
                    created_by_id=user.id,
                    expires_at=now,
                )
            )
            session.add(
                WebSession(
                    user_id=user.id,
                    token_hash="b" * 64,
                    csrf_token="c" * 64,
                    last_seen_at=now,
                    expires_at=now,
                )
            )
            session.add(
                PopulationFigure(
                    area_code="0180",
                    year=2025,
                    sex="T",
                    population=800_000,
                    source="test",
                    reference_date=date(2025, 12, 31),
                )
            )
            submission = Submission(
                package_id=uuid.uuid4(),
                manifest_sha256="d" * 64,
                municipality_code="0180",
                period="2025",
                period_from=date(2025, 1, 1),
                period_to=date(2025, 12, 31),
                version=1,
                catalogue_version="test",
                manifest={"files": []},
            )
            session.add(submission)
            session.flush()
            session.add(
                SubmissionFile(
                    submission_id=submission.id,
                    name="cases.csv",
                    sha256="e" * 64,
                    rows=3,
                    content=b"id\n1\n",
                )
            )
    finally:
        engine.dispose()


def _snapshot(engine: Engine) -> dict[str, list[tuple[object, ...]]]:
    with engine.connect() as conn:
        return {
            name: [
                tuple(row)
                for row in conn.execute(
                    select(Base.metadata.tables[name]).order_by(
                        *Base.metadata.tables[name].primary_key
                    )
                )
            ]
            for name in KEPT_TABLES
        }


def test_downgrade_to_0001_and_upgrade_keeps_source_refs_and_tables(
    engine_name: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    url = new_database_url(engine_name, request, tmp_path)
    _seed(url)
    cfg = alembic_config(url)
    engine = make_engine(url)
    try:
        before = _snapshot(engine)
        assert sorted(str(r) for r in _column(engine, "cases", "source_ref") if r) == [
            "KS-1",
            "KS-2",
            "KS-3",
        ]
        command.downgrade(cfg, "0001")
        tables = set(inspect(engine).get_table_names())
        assert not {"import_jobs", "survey_links", "submissions"} & tables
        assert "source_ref" not in {c["name"] for c in inspect(engine).get_columns("cases")}
        with engine.connect() as conn:
            assert conn.scalar(text("SELECT count(*) FROM cases")) == 4

        command.upgrade(cfg, "head")
        assert _snapshot(engine) == before  # every source_ref, job, link, figure, submission
        assert _column(engine, "web_sessions", "id") == []  # sessions end: sign in again
        assert not [t for t in inspect(engine).get_table_names() if t.startswith("downgrade_")]
        with engine.connect() as conn:
            assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []

        command.downgrade(cfg, "0001")
        command.downgrade(cfg, "base")  # below 0001 the stashes go too
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    finally:
        engine.dispose()


def _column(engine: Engine, table: str, column: str) -> list[object]:
    with engine.connect() as conn:
        return list(conn.scalars(select(Base.metadata.tables[table].c[column])))


def test_cli_downgrade_asks_first_and_upgrade_returns(
    fresh_database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ISU_DATABASE_URL", fresh_database_url)
    get_settings.cache_clear()
    engine = make_engine(fresh_database_url)
    runner = CliRunner()
    try:
        declined = runner.invoke(cli, ["db", "downgrade", "0003"], input="n\n")
        assert declined.exit_code == 1
        assert _revision(engine) == HEAD

        done = runner.invoke(cli, ["db", "downgrade", "0003", "--yes"])
        assert done.exit_code == 0, done.output
        assert _revision(engine) == "0003"
        assert "population_figures" not in inspect(engine).get_table_names()

        again = runner.invoke(cli, ["db", "upgrade"])
        assert again.exit_code == 0, again.output
        assert _revision(engine) == HEAD
    finally:
        engine.dispose()
        get_settings.cache_clear()


HEAD = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def _revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()
