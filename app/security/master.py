"""Loading the master key: from ISU_MASTER_KEY, or a key file.

Outside dev mode a missing or unreadable key stops the service with a clear
message and nothing is generated. Only dev mode (``make run``) creates a key
file when none exists — at ``ISU_MASTER_KEY_FILE`` if set, else
``var/master.key`` — and logs that it did; and only while the database holds
no municipality keys, since a new key could not open keys wrapped by another.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from sqlalchemy import inspect, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from app.config import Settings, default_data_dir
from app.security.crypto import KeyConfigurationError, MasterKey

log = logging.getLogger("isu.keys")

DEV_KEY_FILE = default_data_dir() / "master.key"


def load_master_key(settings: Settings) -> MasterKey:
    if settings.master_key:
        return MasterKey.from_text(settings.master_key)
    path = settings.master_key_file
    if settings.mode == "dev":
        path = path or DEV_KEY_FILE
        if not path.exists():
            _refuse_if_database_has_keys(settings, path)
            write_key_file(path, MasterKey.generate())
            log.warning("dev_master_key_created", extra={"path": str(path)})
    if path is None:
        raise KeyConfigurationError(
            "Huvudnyckel saknas: ange ISU_MASTER_KEY eller ISU_MASTER_KEY_FILE. "
            "(Master key missing: set ISU_MASTER_KEY or ISU_MASTER_KEY_FILE.)"
        )
    return read_key_file(path)


def read_key_file(path: Path) -> MasterKey:
    """A master key from a file holding its base64 text (surrounding whitespace ignored)."""
    try:
        text = Path(path).read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        raise KeyConfigurationError(
            "Nyckelfilen kan inte läsas. (The master key file cannot be read.)"
        ) from None
    return MasterKey.from_text(text)


def write_key_file(path: Path, key: MasterKey) -> None:
    """Write ``key`` to a new file readable by its owner only; never overwrites."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise KeyConfigurationError(
            "Nyckelfilen finns redan och skrivs inte över. "
            "(The key file already exists and is not overwritten.)"
        ) from None
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(key.to_text() + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def wrapping_key_ids(database_url: str) -> set[str]:
    """The master key ids the database's municipality keys are wrapped with
    (empty for a database that does not exist yet or has no keys)."""
    from app.db import make_engine
    from app.models import MunicipalityKey

    url = make_url(database_url)
    if url.get_backend_name() == "sqlite" and not (url.database and Path(url.database).exists()):
        return set()  # not created yet; opening it would create the file
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            if not inspect(conn).has_table(MunicipalityKey.__tablename__):
                return set()
            return set(conn.scalars(select(MunicipalityKey.master_key_id).distinct()))
    finally:
        engine.dispose()


def _refuse_if_database_has_keys(settings: Settings, path: Path) -> None:
    """Dev mode: a new key file is only made for a database without keys."""
    try:
        wrapped_with = wrapping_key_ids(settings.database_url)
    except SQLAlchemyError:
        raise KeyConfigurationError(
            f"Nyckelfilen {path} saknas och databasen kan inte läsas, så ingen ny nyckel skapas. "
            f"(The key file {path} is missing and the database cannot be read; "
            "no new key is created.)"
        ) from None
    if wrapped_with:
        ids = ", ".join(sorted(wrapped_with))
        raise KeyConfigurationError(
            f"Nyckelfilen {path} saknas, men databasen har redan kommunnycklar inslagna med "
            f"huvudnyckel {ids}. Ingen ny nyckel skapas: ange den huvudnyckeln "
            "(ISU_MASTER_KEY_FILE eller ISU_MASTER_KEY), eller börja om med en tom databas. "
            f"(The key file {path} is missing but the database already holds keys wrapped by "
            f"master key {ids}. No new key is created: configure that master key "
            "(ISU_MASTER_KEY_FILE or ISU_MASTER_KEY), or start again with an empty database.)"
        )
