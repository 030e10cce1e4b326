"""Alembic environment: the URL comes from the caller's connection or app settings."""

from __future__ import annotations

import sqlite3
from contextlib import suppress

from alembic import context
from sqlalchemy.engine import Connection

from app import models  # noqa: F401  (registers the tables)
from app.config import get_settings
from app.db import Base, make_engine

target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = context.config.get_main_option("sqlalchemy.url") or get_settings().database_url
    engine = make_engine(url)
    with engine.connect() as conn:
        _run(conn)
    if engine.dialect.name == "sqlite":
        with engine.connect() as conn:
            # Old page images of what a migration removed stay in the write-ahead
            # log until a checkpoint; copy the (zeroed) pages home and empty it.
            # (On the driver's connection: outside any transaction.)
            driver = conn.connection.driver_connection
            assert driver is not None
            with suppress(sqlite3.OperationalError):  # busy: the next checkpoint does it
                driver.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
    engine.dispose()


if context.is_offline_mode():
    raise SystemExit("Offline migrations are not supported; run against a database.")
run_migrations_online()
