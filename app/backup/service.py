"""Taking a backup and restoring one (the CLI in :mod:`app.backup.cli`).

Backup: a new owner-only directory ``isu-backup-<UTC time>/`` holding the dump
and ``manifest.json``. The manifest's facts are read from exactly the state
the dump holds (SQLite: the copy itself; PostgreSQL: the snapshot pg_dump
uses), so they can be checked on restore.

Restore: manifest checksums → archive integrity → a staging copy → checks
(:mod:`app.backup.checks`) → only then the swap. Anything failing before the
swap leaves the target untouched and removes the staging copy.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from contextlib import AbstractContextManager, suppress
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from app.backup import postgres, sqlite
from app.backup.checks import EXIT_KEYS, check_copy
from app.backup.facts import collect, is_empty
from app.backup.manifest import (
    BackupError,
    DatabaseFacts,
    Manifest,
    describe,
    read_manifest,
    verify_checksums,
    write_manifest,
)
from app.clock import utcnow
from app.config import Settings
from app.db import make_engine
from app.security.crypto import KeyConfigurationError
from app.security.keyring import Keyring
from app.security.master import load_master_key

Step = Callable[[str, str], AbstractContextManager[None]]
"""``step(swedish, english)``: a context manager around one step (progress output)."""


def _engine_name(url: str) -> str:
    backend = make_url(url).get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise BackupError(f"Databasmotorn {backend} stöds inte. (Unsupported engine.)")
    return backend


def _application_version() -> str:
    try:
        return version("isu-register")
    except PackageNotFoundError:
        return "unknown"


# --- backup ----------------------------------------------------------------------


def _server_keyring(settings: Settings) -> Keyring:
    """The master key a backup needs to verify the keyed audit chain it records."""
    try:
        return Keyring(load_master_key(settings.model_copy(update={"mode": "production"})))
    except KeyConfigurationError as exc:
        raise BackupError(
            f"{exc} Säkerhetskopian behöver huvudnyckeln för att kontrollera "
            "granskningsloggen. (A backup needs the master key to verify the audit chain.)",
            EXIT_KEYS,
        ) from None


def create_backup(settings: Settings, parent: Path, step: Step) -> tuple[Path, Manifest]:
    engine = _engine_name(settings.database_url)
    keyring = _server_keyring(settings)
    started = utcnow()
    parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    directory = parent / f"isu-backup-{started:%Y%m%dT%H%M%SZ}"
    directory.mkdir(mode=0o700)
    try:
        if engine == "sqlite":
            dump = directory / sqlite.DUMP
            with step("Kopierar databasen (online backup)", "Copying the database"):
                sqlite.online_copy(sqlite.database_path(settings.database_url), dump)
            with step("Kontrollerar kopian", "Checking the copy (integrity_check)"):
                sqlite.integrity_check(dump)
                with sqlite.read_only_session(dump) as session:
                    facts = collect(session, keyring)
        else:
            dump = directory / postgres.DUMP
            facts = _pg_dump_with_facts(settings.database_url, dump, keyring, step)
        with step("Kontrollsummor och manifest", "Checksums and manifest"):
            manifest = Manifest(
                created_at=started.isoformat().replace("+00:00", "Z"),
                engine=engine,
                application_version=_application_version(),
                files={dump.name: describe(dump)},
                facts=facts,
            )
            write_manifest(directory, manifest)
    except BaseException:
        shutil.rmtree(directory, ignore_errors=True)
        raise
    return directory, manifest


def _pg_dump_with_facts(url: str, dump: Path, keyring: Keyring, step: Step) -> DatabaseFacts:
    """pg_dump from a snapshot exported by a transaction that reads the facts too."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                snapshot = conn.scalar(text("SELECT pg_export_snapshot()"))
                with step("pg_dump --format=custom", "Dumping the database"):
                    postgres.dump(url, dump, str(snapshot))
                with (
                    step("Läser manifestets uppgifter", "Reading the manifest's facts"),
                    Session(bind=conn) as session,
                ):
                    return collect(session, keyring)
    finally:
        engine.dispose()


# --- restore ---------------------------------------------------------------------


@dataclass(frozen=True)
class Restored:
    manifest: Manifest
    target: str
    decrypted: int
    replaced: str | None = None
    """PostgreSQL: the database kept aside under this name (``--force``)."""


def _keyring(settings: Settings, manifest: Manifest) -> Keyring:
    """The configured master key (never generated here, whatever ISU_MODE says)."""
    try:
        master = load_master_key(settings.model_copy(update={"mode": "production"}))
    except KeyConfigurationError as exc:
        raise BackupError(f"{exc} Inget har ändrats. (Nothing was changed.)", EXIT_KEYS) from None
    wrapped_with = {k.master_key_id for k in manifest.facts.keys}
    if wrapped_with and wrapped_with != {master.key_id}:
        raise BackupError(
            f"Säkerhetskopians nycklar är inslagna med huvudnyckel {', '.join(sorted(wrapped_with))}"
            f", den konfigurerade är {master.key_id}. Hämta rätt nyckel ur depositionen. "
            "Inget har ändrats. (The backup's keys are wrapped by another master key than the "
            "configured one; fetch the right key from escrow. Nothing was changed.)",
            EXIT_KEYS,
        )
    return Keyring(master)


def restore_backup(
    settings: Settings, backup: Path, target_url: str, *, force: bool, step: Step
) -> Restored:
    with step("Läser manifestet och kontrollsummor", "Manifest and checksums"):
        manifest = read_manifest(backup)
        verify_checksums(backup, manifest)
    engine = _engine_name(target_url)
    if engine != manifest.engine:
        raise BackupError(
            f"Säkerhetskopian är från {manifest.engine} och kan inte återställas i {engine}. "
            f"(A {manifest.engine} backup cannot be restored into {engine}.)"
        )
    keyring = _keyring(settings, manifest)
    if engine == "sqlite":
        return _restore_sqlite(backup, manifest, target_url, keyring, force=force, step=step)
    return _restore_postgres(backup, manifest, target_url, keyring, force=force, step=step)


def _refuse_non_empty(target: str) -> BackupError:
    return BackupError(
        f"Måldatabasen {target} är inte tom: ange --force för att ersätta den "
        "(ta en säkerhetskopia av den först). "
        f"(The target database is not empty: use --force to replace it; back it up first.)"
    )


def _restore_sqlite(
    backup: Path, manifest: Manifest, url: str, keyring: Keyring, *, force: bool, step: Step
) -> Restored:
    target = sqlite.database_path(url)
    if target.exists() and target.stat().st_size and not force:
        with sqlite.read_only_session(target) as session:
            if not is_empty(session):
                raise _refuse_non_empty(str(target))
    dump = backup / sqlite.DUMP
    with step("Kontrollerar filen (integrity_check)", "Checking the file"):
        sqlite.integrity_check(dump)
    staging = sqlite.stage(dump, target)
    try:
        with step("Kontrollerar den återställda kopian", "Checking the restored copy"):
            sqlite.integrity_check(staging)
            with sqlite.read_only_session(staging) as session:
                decrypted = check_copy(session, manifest, keyring)
        with step("Byter in kopian", "Swapping the copy in (atomic rename)"):
            sqlite.ensure_not_in_use(target)
            sqlite.swap_in(staging, target)
    finally:
        with suppress(FileNotFoundError):
            staging.unlink()
    return Restored(manifest, str(target), decrypted)


def _restore_postgres(
    backup: Path, manifest: Manifest, url: str, keyring: Keyring, *, force: bool, step: Step
) -> Restored:
    dump = backup / postgres.DUMP
    name = postgres.database_name(url)
    stamp = f"{utcnow():%Y%m%d%H%M%S}"
    staging = postgres.derived_name(name, f"restore_{stamp}")
    with postgres.admin(url) as conn:
        target_exists = postgres.exists(conn, name)
    target_empty = not target_exists or _pg_is_empty(url)
    if not target_empty and not force:
        raise _refuse_non_empty(name)
    with step("Kontrollerar arkivet (pg_restore --list)", "Checking the archive"):
        postgres.check_archive(dump)
    with postgres.admin(url) as conn:
        postgres.create(conn, staging)
    staging_url = postgres.with_database(url, staging)
    swapped = False
    replaced = None
    try:
        with step(f"pg_restore till {staging}", "Restoring into a staging database"):
            postgres.restore_into(dump, staging_url)
        with step("Kontrollerar den återställda kopian", "Checking the restored copy"):
            engine = make_engine(staging_url)
            try:
                with Session(engine) as session:
                    decrypted = check_copy(session, manifest, keyring)
            finally:
                engine.dispose()
        with (
            step("Byter in databasen (byter namn)", "Swapping the database in (rename)"),
            postgres.admin(url) as conn,
        ):
            if target_exists and target_empty:
                postgres.drop(conn, name)
            elif target_exists:
                replaced = postgres.derived_name(name, f"replaced_{stamp}")
                postgres.rename(conn, name, replaced)
            try:
                postgres.rename(conn, staging, name)
            except BackupError:
                if replaced:
                    postgres.rename(conn, replaced, name)
                raise
            swapped = True
    finally:
        if not swapped:
            with postgres.admin(url) as conn:
                postgres.drop(conn, staging)
    return Restored(manifest, name, decrypted, replaced)


def _pg_is_empty(url: str) -> bool:
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            return is_empty(session)
    finally:
        engine.dispose()
