"""PostgreSQL: ``pg_dump --format=custom`` from an exported snapshot, and
``pg_restore`` into a staging database that is renamed into place."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Connection, create_engine, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError

from app.backup.manifest import BackupError

DUMP = "database.pgdump"
MAX_NAME = 63


def tool(name: str) -> str:
    """``pg_dump`` / ``pg_restore`` from PATH, else the newest /usr/lib/postgresql/*/bin."""
    found = shutil.which(name)
    if found:
        return found
    for directory in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        candidate = Path(directory) / name
        if candidate.exists():
            return str(candidate)
    raise BackupError(
        f"{name} hittas inte: installera PostgreSQL-klienten (t.ex. apt-get install "
        f"postgresql-client). ({name} not found: install the PostgreSQL client tools.)"
    )


def _libpq(url: URL) -> tuple[str, dict[str, str]]:
    """A libpq URL without the password, and an environment carrying it (never argv)."""
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    plain = url.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def _run(args: list[str], env: dict[str, str], what: str) -> subprocess.CompletedProcess[str]:
    # The program is pg_dump or pg_restore as found by tool(); no shell.
    result = subprocess.run(  # noqa: S603
        args, env=env, capture_output=True, text=True, check=False, umask=0o077
    )
    if result.returncode != 0:
        # pg_* messages name objects and settings, not row contents.
        detail = result.stderr.strip().splitlines()[-1:] or ["?"]
        raise BackupError(f"{what} misslyckades ({what} failed): {detail[0]}")
    return result


def dump(url: str, target: Path, snapshot: str) -> None:
    dsn, env = _libpq(make_url(url))
    _run(
        [
            tool("pg_dump"),
            "--format=custom",
            f"--snapshot={snapshot}",
            "--file",
            str(target),
            "--dbname",
            dsn,
        ],
        env,
        "pg_dump",
    )


def check_archive(path: Path) -> None:
    """The archive's table of contents can be read (``pg_restore --list``)."""
    _run([tool("pg_restore"), "--list", str(path)], dict(os.environ), "pg_restore --list")


def restore_into(path: Path, url: str) -> None:
    """All or nothing: one transaction; objects owned by the restoring role."""
    dsn, env = _libpq(make_url(url))
    _run(
        [
            tool("pg_restore"),
            "--no-owner",
            "--exit-on-error",
            "--single-transaction",
            "--dbname",
            dsn,
            str(path),
        ],
        env,
        "pg_restore",
    )


@contextmanager
def admin(url: str) -> Iterator[Connection]:
    """An autocommit connection to the server's ``postgres`` database."""
    engine = create_engine(make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            yield conn
    finally:
        engine.dispose()


def database_name(url: str) -> str:
    name = make_url(url).database
    if not name:
        raise BackupError("Adressen saknar databasnamn. (The URL names no database.)")
    return name


def with_database(url: str, name: str) -> str:
    return make_url(url).set(database=name).render_as_string(hide_password=False)


def exists(conn: Connection, name: str) -> bool:
    return bool(conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}))


def _quote(conn: Connection, name: str) -> str:
    return conn.dialect.identifier_preparer.quote_identifier(name)


def create(conn: Connection, name: str) -> None:
    conn.execute(text(f"CREATE DATABASE {_quote(conn, name)}"))


def drop(conn: Connection, name: str) -> None:
    try:
        conn.execute(text(f"DROP DATABASE IF EXISTS {_quote(conn, name)}"))
    except DBAPIError:
        raise BackupError(
            f"Databasen {name} kan inte tas bort; den används troligen: stoppa tjänsten först. "
            f"(Database {name} cannot be dropped, probably in use: stop the service first.)"
        ) from None


def rename(conn: Connection, old: str, new: str) -> None:
    try:
        conn.execute(text(f"ALTER DATABASE {_quote(conn, old)} RENAME TO {_quote(conn, new)}"))
    except DBAPIError:
        raise BackupError(
            f"Databasen {old} kan inte byta namn; den används troligen: stoppa tjänsten först. "
            f"(Database {old} cannot be renamed, probably in use: stop the service first.)"
        ) from None


def derived_name(base: str, suffix: str) -> str:
    return f"{base[: MAX_NAME - len(suffix) - 1]}_{suffix}"
