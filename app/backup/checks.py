"""Checks on a restored copy before it replaces anything: schema revision,
the audit chain and its anchor, a decrypt sample under the configured master
key, and row counts — each against the manifest."""

from __future__ import annotations

from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.backup.facts import collect
from app.backup.manifest import BackupError, Manifest
from app.security.crypto import IntegrityFailure, KeyConfigurationError, decrypt_text
from app.security.keyring import Keyring

SAMPLE_PER_COLUMN = 5
EXIT_KEYS = 2


def known_revision(revision: str | None) -> None:
    """The copy's schema is one this version of the program has migrations for."""
    from app.cli import alembic_config

    if revision is None:
        raise BackupError("Kopian saknar schemarevision. (The copy has no schema revision.)")
    try:
        found = ScriptDirectory.from_config(alembic_config("sqlite://")).get_revision(revision)
    except CommandError:
        found = None
    if found is None:
        raise BackupError(
            f"Säkerhetskopian har schemarevision {revision}, som denna version av ISU-registret "
            "inte känner till: återställ med en nyare version. "
            f"(Schema revision {revision} is unknown to this version: restore with a newer one.)"
        )


def decrypt_sample(session: Session, keyring: Keyring, per_column: int = SAMPLE_PER_COLUMN) -> int:
    """Decrypt a few ciphertexts of every encrypted column; returns how many."""
    from app.security.rotation import encrypted_columns

    opened = 0
    for col in encrypted_columns():
        rows = session.execute(
            select(col.municipality, col.pk, col.blob, col.version, *col.context_columns)
            .select_from(col.source)
            .where(col.blob.is_not(None))
            .order_by(col.pk)
            .limit(per_column)
        ).all()
        for municipality, *row in rows:
            pk, blob, version = row[0], row[1], row[2]
            try:
                key = keyring.version(session, municipality, "data", version)
                decrypt_text(key, blob, context=col.context(municipality, tuple(row)))
            except (IntegrityFailure, UnicodeDecodeError):
                raise BackupError(
                    f"En krypterad text ({col.label} {pk}) kan inte öppnas med den konfigurerade "
                    "huvudnyckeln. Inget har ändrats. "
                    f"(An encrypted text ({col.label} {pk}) cannot be opened with the configured "
                    "master key. Nothing was changed.)",
                    EXIT_KEYS,
                ) from None
            opened += 1
    return opened


def check_copy(session: Session, manifest: Manifest, keyring: Keyring) -> int:
    """Raise :class:`BackupError` unless the copy is what the manifest describes
    and opens under ``keyring``; returns the number of texts decrypted."""
    expected = manifest.facts
    found = collect(session, keyring)
    if found.schema_revision != expected.schema_revision:
        raise BackupError(
            f"Kopians schemarevision {found.schema_revision} är inte manifestets "
            f"{expected.schema_revision}. (Schema revision differs from the manifest.)"
        )
    known_revision(found.schema_revision)
    if not found.audit_intact:
        raise BackupError(
            "Granskningsloggens kedja är bruten i kopian (isu audit verify). "
            "(The audit chain of the copy is broken.)"
        )
    if (found.audit_events, found.audit_last_hash) != (
        expected.audit_events,
        expected.audit_last_hash,
    ):
        raise BackupError(
            "Granskningsloggens ankare stämmer inte med manifestet. "
            "(The audit anchor differs from the manifest.)"
        )
    try:
        keyring.verify(session)
    except KeyConfigurationError as exc:
        raise BackupError(f"{exc} Inget har ändrats. (Nothing was changed.)", EXIT_KEYS) from None
    opened = decrypt_sample(session, keyring)
    if found.row_counts != expected.row_counts:
        differing = sorted(
            name
            for name in set(found.row_counts) | set(expected.row_counts)
            if found.row_counts.get(name) != expected.row_counts.get(name)
        )
        raise BackupError(
            f"Antalet rader skiljer sig från manifestet i {', '.join(differing)}. "
            "(Row counts differ from the manifest.)"
        )
    return opened
