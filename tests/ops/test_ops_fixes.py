"""Small operational defects of issue 10, each reproduced first: demo tokens
beside the database, dev mode and a stray master key, `isu keys status` with a
wrong key, import jobs left running by a stopped process, SQLite file modes."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select, text
from typer.testing import CliRunner

from app.cli import app as cli
from app.config import get_settings
from app.db import make_engine, make_session_factory, transaction
from app.main import create_app
from app.models import ImportJob
from app.security.crypto import KeyConfigurationError, MasterKey
from app.security.keyring import Keyring
from tests.conftest import TEST_MASTER_KEY, make_settings, new_database_url
from tests.factories import make_account, make_unit

runner = CliRunner()


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """The CLI reads ISU_* from the environment; each test sets its own."""
    for name in ("ISU_MASTER_KEY", "ISU_MASTER_KEY_FILE", "ISU_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ISU_MODE", "production")
    get_settings.cache_clear()
    yield monkeypatch
    get_settings.cache_clear()


def _wrap_keys_with(url: str, master: MasterKey) -> None:
    engine = make_engine(url)
    try:
        with transaction(make_session_factory(engine)) as session:
            Keyring(master).current(session, "0180", "data")
    finally:
        engine.dispose()


# --- isu demo: the tokens file ------------------------------------------------


def test_demo_tokens_are_written_beside_the_sqlite_database(
    request: pytest.FixtureRequest, tmp_path: Path, cli_env: pytest.MonkeyPatch
) -> None:
    (tmp_path / "elsewhere").mkdir()
    url = new_database_url("sqlite", request, tmp_path / "elsewhere")
    cli_env.setenv("ISU_DATABASE_URL", url)
    cli_env.setenv("ISU_MODE", "dev")
    cli_env.setenv("ISU_MASTER_KEY_FILE", str(tmp_path / "elsewhere" / "master.key"))
    get_settings.cache_clear()
    result = runner.invoke(cli, ["demo", "--cases", "3"])
    assert result.exit_code == 0, result.output
    tokens = tmp_path / "elsewhere" / "demo-tokens.json"
    assert tokens.is_file()
    assert tokens.stat().st_mode & 0o777 == 0o600
    assert "demo-handlaggare" in tokens.read_text(encoding="utf-8")


# --- dev mode and a missing key file --------------------------------------------


def test_dev_mode_creates_no_key_for_a_database_with_keys(
    fresh_database_url: str, tmp_path: Path
) -> None:
    other = MasterKey.generate()
    _wrap_keys_with(fresh_database_url, other)
    key_file = tmp_path / "var" / "master.key"
    settings = make_settings(
        fresh_database_url, mode="dev", master_key=None, master_key_file=key_file
    )
    with pytest.raises(KeyConfigurationError) as caught:
        create_app(settings)
    message = str(caught.value)
    assert other.key_id in message
    assert "ISU_MASTER_KEY_FILE" in message
    assert "Ingen ny nyckel skapas" in message
    assert not key_file.exists()


def test_dev_mode_still_creates_a_key_for_an_empty_database(
    fresh_database_url: str, tmp_path: Path
) -> None:
    key_file = tmp_path / "var" / "master.key"
    settings = make_settings(
        fresh_database_url, mode="dev", master_key=None, master_key_file=key_file
    )
    api = create_app(settings)
    api.state.engine.dispose()
    assert key_file.stat().st_mode & 0o777 == 0o600


# --- isu keys status ---------------------------------------------------------------


def test_keys_status_refuses_a_wrong_or_missing_master_key(
    fresh_database_url: str, cli_env: pytest.MonkeyPatch
) -> None:
    right = MasterKey.from_text(TEST_MASTER_KEY)
    _wrap_keys_with(fresh_database_url, right)
    cli_env.setenv("ISU_DATABASE_URL", fresh_database_url)
    cli_env.setenv("ISU_MASTER_KEY", MasterKey.generate().to_text())
    get_settings.cache_clear()
    wrong = runner.invoke(cli, ["keys", "status"])
    assert wrong.exit_code == 2, wrong.output
    assert "Huvudnyckeln stämmer inte" in wrong.output
    assert right.key_id in wrong.output  # which key to fetch from escrow
    assert "Kommunnycklar" not in wrong.output  # no table

    cli_env.delenv("ISU_MASTER_KEY")
    get_settings.cache_clear()
    missing = runner.invoke(cli, ["keys", "status"])
    assert missing.exit_code == 2, missing.output
    assert "Huvudnyckel saknas" in missing.output

    cli_env.setenv("ISU_MASTER_KEY", TEST_MASTER_KEY)
    get_settings.cache_clear()
    ok = runner.invoke(cli, ["keys", "status"])
    assert ok.exit_code == 0, ok.output
    assert "0180" in ok.output


# --- import jobs after a restart ---------------------------------------------------


def test_jobs_left_running_by_a_stopped_process_are_failed_at_start(
    fresh_database_url: str,
) -> None:
    engine = make_engine(fresh_database_url)
    ids: dict[str, uuid.UUID] = {}
    try:
        with transaction(make_session_factory(engine)) as session:
            account = make_account(session, "caseworker", unit=make_unit(session))
            for state in ("queued", "running", "done"):
                job = ImportJob(
                    municipality_code="0180",
                    created_by_id=account.user.id,
                    state=state,
                    skip_invalid=False,
                    lines=500,
                    invalid=0,
                    created=0,
                    unchanged=0,
                    errors=[],
                )
                session.add(job)
                session.flush()
                ids[state] = job.id

        api = create_app(make_settings(fresh_database_url))
        api.state.engine.dispose()

        with make_session_factory(engine)() as session:
            jobs = {
                job.id: job
                for job in session.scalars(select(ImportJob).where(ImportJob.id.in_(ids.values())))
            }
        for state in ("queued", "running"):
            job = jobs[ids[state]]
            assert job.state == "failed"
            assert job.finished_at is not None
            [error] = job.errors
            assert error["code"] == "interrupted"  # type: ignore[index]
            assert "avbröts" in error["detail"]  # type: ignore[index]
            assert "interrupted" in error["detail_en"]  # type: ignore[index]
        assert jobs[ids["done"]].state == "done"
        assert jobs[ids["done"]].errors == []
    finally:
        engine.dispose()


# --- SQLite file modes ---------------------------------------------------------------


def test_sqlite_database_and_wal_are_owner_only(
    tmp_path: Path, cli_env: pytest.MonkeyPatch
) -> None:
    database = tmp_path / "data" / "isu.sqlite3"
    cli_env.setenv("ISU_DATABASE_URL", f"sqlite:///{database}")
    get_settings.cache_clear()
    result = runner.invoke(cli, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    engine = make_engine(f"sqlite:///{database}")
    try:
        with engine.connect() as conn:
            conn.execute(text("CREATE TABLE scratch (x INTEGER)"))
            conn.execute(text("INSERT INTO scratch VALUES (1)"))
            conn.commit()
            for path in (database, Path(f"{database}-wal"), Path(f"{database}-shm")):
                assert path.stat().st_mode & 0o777 == 0o600, path.name
    finally:
        engine.dispose()
    assert database.parent.stat().st_mode & 0o777 == 0o700


def test_db_upgrade_makes_an_existing_readable_database_owner_only(
    tmp_path: Path, cli_env: pytest.MonkeyPatch
) -> None:
    database = tmp_path / "isu.sqlite3"
    database.touch(mode=0o644)
    database.chmod(0o644)
    cli_env.setenv("ISU_DATABASE_URL", f"sqlite:///{database}")
    get_settings.cache_clear()
    result = runner.invoke(cli, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert database.stat().st_mode & 0o777 == 0o600
