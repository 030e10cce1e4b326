"""Shared fixtures. Every database test runs on SQLite and on PostgreSQL.

The schema is built by ``alembic upgrade head``, never ``create_all``. Each
test runs inside a transaction that is rolled back at the end; the app under
test joins that transaction with savepoints.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Connection
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from app.cli import alembic_config
from app.config import Settings
from app.db import make_engine
from app.main import create_app
from app.security.crypto import MasterKey
from tests.support.postgres import Server, acquire_server, create_database, drop_database

ENGINES = ("sqlite", "postgresql")
# One master key for the whole run; tests never use a real key.
TEST_MASTER_KEY = MasterKey.generate().to_text()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--db",
        choices=(*ENGINES, "both"),
        default=os.environ.get("ISU_TEST_DB", "both"),
        help="Database engine(s) for database tests (default: both).",
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "engine_name" in metafunc.fixturenames:
        chosen = metafunc.config.getoption("--db")
        names = list(ENGINES) if chosen == "both" else [chosen]
        metafunc.parametrize("engine_name", names, scope="session")


@pytest.fixture(scope="session")
def pg_server() -> Iterator[Server]:
    server = acquire_server()
    yield server
    if server.stop is not None:
        server.stop()


def new_database_url(engine_name: str, request: pytest.FixtureRequest, tmp_dir: Path) -> str:
    """A fresh, migrated database of the given engine, dropped at teardown."""
    if engine_name == "sqlite":
        url = f"sqlite:///{tmp_dir / 'isu.sqlite3'}"
    else:
        server: Server = request.getfixturevalue("pg_server")
        url = create_database(server)
        request.addfinalizer(lambda: drop_database(server, url))
    command.upgrade(alembic_config(url), "head")
    return url


@pytest.fixture(scope="session")
def database_url(
    engine_name: str, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> str:
    return new_database_url(engine_name, request, tmp_path_factory.mktemp(engine_name))


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    eng = make_engine(database_url)
    yield eng
    eng.dispose()


def make_settings(database_url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "database_url": database_url,
        "master_key": TEST_MASTER_KEY,
        "mode": "production",
        # No maintenance thread: spooled writes would run beside the test's
        # transaction. Read audit events and failures are written at once.
        "background_tasks": False,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture
def connection(engine: Engine) -> Iterator[Connection]:
    with engine.connect() as conn:
        outer = conn.begin()
        yield conn
        if outer.is_active:
            outer.rollback()


@pytest.fixture
def session_factory(connection: Connection) -> sessionmaker[Session]:
    return sessionmaker(
        bind=connection,
        join_transaction_mode="create_savepoint",
        expire_on_commit=False,
        autoflush=False,
    )


@pytest.fixture
def session(session_factory: sessionmaker[Session]) -> Iterator[Session]:
    with session_factory() as s:
        yield s


@pytest.fixture(scope="session")
def shared_app(database_url: str) -> FastAPI:
    return create_app(make_settings(database_url))


@pytest.fixture
def app(shared_app: FastAPI, session_factory: sessionmaker[Session]) -> Iterator[FastAPI]:
    """The app, its sessions joined to the test's rolled-back transaction."""
    original = shared_app.state.session_factory, shared_app.state.read_session_factory
    shared_app.state.session_factory = session_factory
    shared_app.state.read_session_factory = session_factory
    yield shared_app
    shared_app.state.session_factory, shared_app.state.read_session_factory = original


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


@pytest.fixture
def fresh_database_url(engine_name: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A new migrated database for tests that commit for real (concurrency, crash)."""
    return new_database_url(engine_name, request, tmp_path)


@pytest.fixture
def committing_app(fresh_database_url: str) -> Iterator[FastAPI]:
    """An app whose requests really commit, on its own fresh database."""
    api = create_app(make_settings(fresh_database_url))
    yield api
    api.state.engine.dispose()
