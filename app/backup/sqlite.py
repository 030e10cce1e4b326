"""SQLite: the online backup API, and an atomic swap on restore.

``sqlite3.Connection.backup`` with ``pages=-1`` copies the whole database in
one step, inside one read transaction: a consistent snapshot that includes
every commit acknowledged before it started, while writers keep committing to
the WAL (a plain ``cp`` of the file alone misses what is still in the WAL).
A page-by-page backup would restart whenever another connection writes.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager, suppress
from pathlib import Path

from sqlalchemy import create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from app.backup.manifest import BackupError

DUMP = "database.sqlite3"
BUSY_TIMEOUT_SECONDS = 30


def database_path(url: str) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:":
        raise BackupError("Ingen databasfil i adressen. (The SQLite URL names no file.)")
    return Path(database)


def _new_private_file(path: Path) -> None:
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def online_copy(source: Path, target: Path) -> None:
    """A consistent copy of ``source`` (live, WAL) into the new file ``target`` (0600)."""
    if not source.is_file():
        raise BackupError(f"Databasfilen {source} finns inte. (The database file does not exist.)")
    _new_private_file(target)
    with (
        closing(sqlite3.connect(source, timeout=BUSY_TIMEOUT_SECONDS)) as src,
        closing(sqlite3.connect(target)) as dst,
    ):
        src.backup(dst, pages=-1)
        # One self-contained file: no -wal beside the copy.
        dst.execute("PRAGMA journal_mode=DELETE")


def integrity_check(path: Path) -> None:
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
        try:
            problems = [row[0] for row in conn.execute("PRAGMA integrity_check")]
        except sqlite3.DatabaseError:
            problems = ["not a database"]
    if problems != ["ok"]:
        raise BackupError(
            f"SQLite-filen {path.name} är skadad (integrity_check). "
            f"(The SQLite file fails PRAGMA integrity_check: {problems[:3]}.)"
        )


@contextmanager
def read_only_session(path: Path) -> Iterator[Session]:
    """A session on ``path`` that cannot write to it (no WAL switch, no -wal file)."""
    engine = create_engine(f"sqlite:///file:{path}?mode=ro&uri=true")
    try:
        with Session(engine) as session:
            yield session
    finally:
        engine.dispose()


def stage(dump: Path, target: Path) -> Path:
    """Copy the backup beside ``target`` (same file system, for the atomic rename)."""
    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    staging = target.with_name(f".{target.name}.restore-{os.urandom(4).hex()}")
    _new_private_file(staging)
    with dump.open("rb") as src, staging.open("r+b") as dst:
        shutil.copyfileobj(src, dst, 1 << 20)
        dst.flush()
        os.fsync(dst.fileno())
    return staging


def ensure_not_in_use(target: Path) -> None:
    """Fold the target's WAL into it and make sure nobody else has it open:
    SQLite removes the -wal when the last connection closes."""
    if not target.exists():
        return
    with closing(sqlite3.connect(target, timeout=BUSY_TIMEOUT_SECONDS)) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    if Path(f"{target}-wal").exists():
        raise BackupError(
            f"{target.name} används (den har en -wal-fil): stoppa tjänsten först. "
            f"({target.name} is in use: stop the service first.)"
        )


def swap_in(staging: Path, target: Path) -> None:
    """Atomically replace ``target`` with the checked ``staging`` file."""
    for leftover in (Path(f"{target}-wal"), Path(f"{target}-shm")):
        with suppress(FileNotFoundError):
            leftover.unlink()  # would be replayed onto the restored file otherwise
    os.replace(staging, target)
    directory = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
