"""Facts about one consistent view of a database: the same function describes
the snapshot a backup is taken from and checks the staging copy of a restore."""

from __future__ import annotations

from sqlalchemy import func, inspect, quoted_name, select, table, text
from sqlalchemy.orm import Session

from app.backup.manifest import DatabaseFacts, KeyId
from app.models import MunicipalityKey
from app.security.keyring import Keyring


def audit_anchor(session: Session, keyring: Keyring) -> tuple[bool, int, str | None]:
    """(sealed chain intact, sealed events, last MAC): the one call into the
    audit module. Events not sealed yet are copied as they are and sealed by the
    restored server."""
    from app.audit.service import verify

    result = verify(session, keyring)
    return result.ok, result.events, result.last_hash


def row_counts(session: Session) -> dict[str, int]:
    names = sorted(inspect(session.connection()).get_table_names())
    return {
        name: session.scalar(select(func.count()).select_from(table(quoted_name(name, True)))) or 0
        for name in names
    }


def key_ids(session: Session) -> list[KeyId]:
    rows = session.scalars(
        select(MunicipalityKey).order_by(
            MunicipalityKey.municipality_code, MunicipalityKey.purpose, MunicipalityKey.version
        )
    )
    return [KeyId(k.municipality_code, k.purpose, k.version, k.master_key_id) for k in rows]


def schema_revision(session: Session) -> str | None:
    if not inspect(session.connection()).has_table("alembic_version"):
        return None
    revisions = list(session.scalars(text("SELECT version_num FROM alembic_version")))
    return revisions[0] if len(revisions) == 1 else None


def collect(session: Session, keyring: Keyring) -> DatabaseFacts:
    """Everything the manifest records, read in the session's transaction."""
    ok, events, last_hash = audit_anchor(session, keyring)
    return DatabaseFacts(
        schema_revision=schema_revision(session),
        row_counts=row_counts(session),
        audit_events=events,
        audit_last_hash=last_hash,
        audit_intact=ok,
        keys=key_ids(session),
    )


def is_empty(session: Session) -> bool:
    """No rows but what ``isu db upgrade`` itself writes."""
    counts = row_counts(session)
    return all(n == 0 for name, n in counts.items() if name not in MIGRATION_ROWS)


MIGRATION_ROWS = {"alembic_version", "audit_chain_head"}
