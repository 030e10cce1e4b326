"""Key rotation (``isu keys rotate``): new data-key versions, re-encryption, re-wrapping.

Data-key rotation runs while the service writes, per municipality:

1. A new data-key version is added (own transaction). From then on every
   writer encrypts with it: :meth:`Keyring.current` returns the newest version.
2. Every ciphertext under an older version is re-encrypted, in small batches,
   each in its own transaction. A row is updated with a Core ``UPDATE`` whose
   ``WHERE`` names the old key version *and* the old ciphertext
   (compare-and-swap), so a writer's newer text is never overwritten; a case's
   optimistic-lock ``version`` (its ETag) and ``updated_at`` are not touched.
3. Under an exclusive lock on the old key rows — which waits for any writer
   still holding the old version (PostgreSQL ``FOR SHARE`` in
   :meth:`Keyring.current`; SQLite serialises writers anyway) — the rotation
   checks that no row uses an old version any more and marks the old versions
   retired (``retired_at``). A retired key is referenced by nothing and can be
   deleted. If rows appeared meanwhile, steps 2–3 repeat.

A ciphertext that fails authentication cannot be re-encrypted: it is left as
it is, reported (table and row id, never content), audited as
``integrity.failed``, and its key version is not retired.

Master-key rotation re-wraps every municipality key (pseudonym and data) with
the new master key in one transaction; the service must then be restarted
with the new key (docs/keys.md).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, FromClause, Table, func, select, update
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql.elements import KeyedColumnElement

from app.audit.service import Actor, record
from app.cases.records import intervention_context, survey_context
from app.cases.service import case_comments_context, kodnyckel_context
from app.clock import utcnow
from app.db import Base, transaction
from app.models import MunicipalityKey
from app.security.crypto import (
    IntegrityFailure,
    KeyConfigurationError,
    MasterKey,
    decrypt_text,
    encrypt_text,
    unwrap_key,
    wrap_key,
)
from app.security.keyring import Keyring, key_context

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "KeyStatus",
    "MunicipalityRotation",
    "RotationError",
    "encrypted_columns",
    "key_status",
    "municipalities_with_data_keys",
    "pending",
    "reencrypt_row",
    "rewrap_master",
    "rotate_municipality",
]

DEFAULT_BATCH_SIZE = 200
MAX_PASSES = 5
SYSTEM = Actor(None, None, None)

Factory = sessionmaker[Session]


class RotationError(RuntimeError):
    """The rotation could not finish; the message names no personal data."""


@dataclass(frozen=True)
class EncryptedColumn:
    """One ciphertext column, how to scope it to a municipality and its AAD context."""

    label: str
    table: Table
    source: FromClause
    municipality: KeyedColumnElement[Any]
    pk: KeyedColumnElement[Any]
    blob: KeyedColumnElement[Any]
    version: KeyedColumnElement[Any]
    context_columns: tuple[KeyedColumnElement[Any], ...]
    context: Callable[[str, tuple[Any, ...]], str]
    keep: tuple[str, ...] = ()
    """Columns set to themselves so that their ``onupdate`` does not fire."""

    def old(self, municipality: str, new_version: int) -> ColumnElement[bool]:
        return (
            (self.municipality == municipality)
            & (self.version < new_version)
            & self.blob.is_not(None)
        )


def encrypted_columns() -> tuple[EncryptedColumn, ...]:
    tables = Base.metadata.tables
    cases, interventions = tables["cases"], tables["interventions"]
    surveys, kodnyckel = tables["survey_responses"], tables["kodnyckel"]
    return (
        EncryptedColumn(
            label="cases",
            table=cases,
            source=cases,
            municipality=cases.c.municipality_code,
            pk=cases.c.id,
            blob=cases.c.comments_ciphertext,
            version=cases.c.data_key_version,
            context_columns=(),
            context=lambda _m, row: case_comments_context(row[0]),
            keep=("updated_at",),
        ),
        EncryptedColumn(
            label="interventions",
            table=interventions,
            source=interventions.join(cases, interventions.c.case_id == cases.c.id),
            municipality=cases.c.municipality_code,
            pk=interventions.c.id,
            blob=interventions.c.comments_ciphertext,
            version=interventions.c.data_key_version,
            context_columns=(),
            context=lambda _m, row: intervention_context(row[0]),
            keep=("updated_at",),
        ),
        EncryptedColumn(
            label="survey_responses",
            table=surveys,
            source=surveys.join(cases, surveys.c.case_id == cases.c.id),
            municipality=cases.c.municipality_code,
            pk=surveys.c.id,
            blob=surveys.c.text_ciphertext,
            version=surveys.c.data_key_version,
            context_columns=(surveys.c.case_id,),
            context=lambda _m, row: survey_context(row[3]),
            keep=("updated_at",),
        ),
        EncryptedColumn(
            label="kodnyckel",
            table=kodnyckel,
            source=kodnyckel,
            municipality=kodnyckel.c.municipality_code,
            pk=kodnyckel.c.id,
            blob=kodnyckel.c.identifier_ciphertext,
            version=kodnyckel.c.data_key_version,
            context_columns=(kodnyckel.c.client_pseudonym,),
            context=lambda m, row: kodnyckel_context(m, row[3]),
        ),
    )


@dataclass
class MunicipalityRotation:
    municipality_code: str
    new_version: int
    reencrypted: Counter[str] = field(default_factory=Counter)
    retired_versions: list[int] = field(default_factory=list)
    unreadable: set[tuple[str, str]] = field(default_factory=set)
    """(table, row id) of ciphertexts that failed authentication."""

    @property
    def complete(self) -> bool:
        return not self.unreadable


BatchHook = Callable[[int], None]


def municipalities_with_data_keys(factory: Factory) -> list[str]:
    with factory() as session:
        return list(
            session.scalars(
                select(MunicipalityKey.municipality_code)
                .where(MunicipalityKey.purpose == "data")
                .distinct()
                .order_by(MunicipalityKey.municipality_code)
            )
        )


def pending(factory: Factory, municipality: str, below_version: int | None = None) -> Counter[str]:
    """Rows per table whose ciphertext uses a data key older than ``below_version``
    (default: older than the newest plus one, i.e. every encrypted row)."""
    counts: Counter[str] = Counter()
    with factory() as session:
        if below_version is None:
            newest = session.scalar(
                select(func.max(MunicipalityKey.version)).where(
                    MunicipalityKey.municipality_code == municipality,
                    MunicipalityKey.purpose == "data",
                )
            )
            below_version = (newest or 0) + 1
        for col in encrypted_columns():
            counts[col.label] = (
                session.scalar(
                    select(func.count())
                    .select_from(col.source)
                    .where(col.old(municipality, below_version))
                )
                or 0
            )
    return counts


def rotate_municipality(
    factory: Factory,
    keyring: Keyring,
    municipality: str,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    on_batch: BatchHook | None = None,
    on_version_added: Callable[[int], None] | None = None,
) -> MunicipalityRotation:
    """Add a data-key version for ``municipality``, re-encrypt, retire the old versions."""
    if batch_size < 1:
        raise ValueError("batch_size must be positive")
    with transaction(factory) as session:
        new_version = keyring.add_version(session, municipality, "data")
        record(
            session,
            actor=SYSTEM,
            action="keys.rotate",
            object_type="municipality_key",
            object_id=key_context(municipality, "data", new_version),
            municipality_code=municipality,
        )
    if on_version_added is not None:
        on_version_added(new_version)
    result = MunicipalityRotation(municipality, new_version)
    for _ in range(MAX_PASSES):
        for col in encrypted_columns():
            _reencrypt_column(factory, keyring, col, result, batch_size, on_batch)
        if _retire_if_done(factory, result):
            return result
    raise RotationError(
        f"Kommun {municipality}: rader med äldre nyckelversion dök upp under hela rotationen; "
        "kör om kommandot. (Rows under an older key version kept appearing; run it again.)"
    )


def _reencrypt_column(
    factory: Factory,
    keyring: Keyring,
    col: EncryptedColumn,
    result: MunicipalityRotation,
    batch_size: int,
    on_batch: BatchHook | None,
) -> None:
    municipality, new_version = result.municipality_code, result.new_version
    last: Any = None
    while True:
        with transaction(factory) as session:
            # Share-locks the target version like a writer does, and notices a
            # newer rotation started meanwhile.
            version, new_key = keyring.current(session, municipality, "data")
            if version != new_version:
                raise RotationError(
                    f"Kommun {municipality}: en annan rotation pågår. "
                    "(Another rotation is running.)"
                )
            query = (
                select(col.pk, col.blob, col.version, *col.context_columns)
                .select_from(col.source)
                .where(col.old(municipality, new_version))
                .order_by(col.pk)
                .limit(batch_size)
            )
            if last is not None:
                query = query.where(col.pk > last)
            rows = session.execute(query).all()
            if not rows:
                return
            updated = 0
            for row in rows:
                updated += reencrypt_row(session, keyring, col, result, tuple(row), new_key)
            last = rows[-1][0]
        result.reencrypted[col.label] += updated
        if on_batch is not None:
            on_batch(len(rows))


def reencrypt_row(
    session: Session,
    keyring: Keyring,
    col: EncryptedColumn,
    result: MunicipalityRotation,
    row: tuple[Any, ...],
    new_key: bytes,
) -> int:
    """Re-encrypt one ``row`` (pk, blob, version, *context columns) under ``new_key``.

    Compare-and-swap: the row is updated only if it still holds this blob under
    this version; returns the number of rows updated (0 if a writer got there
    first, or if the blob fails authentication — then it is recorded as unreadable).
    """
    municipality = result.municipality_code
    pk, blob, old_version = row[0], row[1], row[2]
    context = col.context(municipality, row)
    try:
        old_key = keyring.version(session, municipality, "data", old_version)
        plaintext = decrypt_text(old_key, blob, context=context)
    except (IntegrityFailure, UnicodeDecodeError):
        marker = (col.label, str(pk))
        if marker not in result.unreadable:
            result.unreadable.add(marker)
            record(
                session,
                actor=SYSTEM,
                action="integrity.failed",
                object_type=col.label,
                object_id=str(pk),
                outcome="integrity_failure",
                municipality_code=municipality,
            )
        return 0
    values: dict[str, Any] = {
        col.blob.key: encrypt_text(new_key, plaintext, context=context),
        col.version.key: result.new_version,
    }
    values.update({name: col.table.c[name] for name in col.keep})
    statement = (
        update(col.table)
        .where(
            col.table.c[col.pk.key] == pk,
            col.table.c[col.version.key] == old_version,
            col.table.c[col.blob.key] == blob,
        )
        .values(values)
    )
    # 0 rows: a writer changed the row meanwhile; it is looked at again below.
    return session.connection().execute(statement).rowcount


def _retire_if_done(factory: Factory, result: MunicipalityRotation) -> bool:
    """Retire the old versions if nothing uses them; False if another pass is needed."""
    municipality, new_version = result.municipality_code, result.new_version
    with transaction(factory) as session:
        old_keys = session.scalars(
            select(MunicipalityKey)
            .where(
                MunicipalityKey.municipality_code == municipality,
                MunicipalityKey.purpose == "data",
                MunicipalityKey.version < new_version,
            )
            .order_by(MunicipalityKey.version)
            .with_for_update()
        ).all()
        remaining: set[tuple[str, str]] = set()
        for col in encrypted_columns():
            ids = session.scalars(
                select(col.pk)
                .select_from(col.source)
                .where(col.old(municipality, new_version))
                .limit(len(result.unreadable) + 1)
            ).all()
            remaining |= {(col.label, str(pk)) for pk in ids}
            if not remaining <= result.unreadable:
                return False
        if remaining:
            return True  # only unreadable rows are left: keep their key version
        now = utcnow()
        for key in old_keys:
            if key.retired_at is None:
                key.retired_at = now
                result.retired_versions.append(key.version)
        if result.retired_versions:
            record(
                session,
                actor=SYSTEM,
                action="keys.retire",
                object_type="municipality_key",
                object_id=key_context(municipality, "data", max(result.retired_versions)),
                municipality_code=municipality,
            )
    return True


def rewrap_master(factory: Factory, keyring: Keyring, new_master: MasterKey) -> int:
    """Re-wrap every municipality key with ``new_master`` in one transaction.

    Returns the number of keys. Afterwards only ``new_master`` opens the
    database: restart the service with it.
    """
    if new_master.key_id == keyring.master.key_id:
        raise KeyConfigurationError(
            "Den nya huvudnyckeln är samma som den nuvarande. "
            "(The new master key is the same as the current one.)"
        )
    with transaction(factory) as session:
        rows = session.scalars(
            select(MunicipalityKey).order_by(MunicipalityKey.id).with_for_update()
        ).all()
        for row in rows:
            context = key_context(row.municipality_code, row.purpose, row.version)
            try:
                raw = unwrap_key(keyring.master, row.wrapped_key, context=context)
            except IntegrityFailure:
                raise KeyConfigurationError(
                    "En lagrad nyckel kan inte öppnas med nuvarande huvudnyckel; inget ändrades. "
                    "(A stored key cannot be opened with the current master key; nothing changed.)"
                ) from None
            row.wrapped_key = wrap_key(new_master, raw, context=context)
            row.master_key_id = new_master.key_id
        record(
            session,
            actor=SYSTEM,
            action="keys.rewrap",
            object_type="master_key",
            object_id=new_master.key_id,
        )
    return len(rows)


@dataclass(frozen=True)
class KeyStatus:
    municipality_code: str
    purpose: str
    version: int
    master_key_id: str
    created_at: datetime
    retired_at: datetime | None
    rows: int | None
    """Ciphertexts using this data key (None for pseudonym keys)."""


def key_status(factory: Factory) -> list[KeyStatus]:
    with factory() as session:
        usage: Counter[tuple[str, int]] = Counter()
        for col in encrypted_columns():
            for municipality, version, count in session.execute(
                select(col.municipality, col.version, func.count())
                .select_from(col.source)
                .where(col.blob.is_not(None))
                .group_by(col.municipality, col.version)
            ):
                usage[(municipality, version)] += count
        keys = session.scalars(
            select(MunicipalityKey).order_by(
                MunicipalityKey.municipality_code, MunicipalityKey.purpose, MunicipalityKey.version
            )
        ).all()
        return [
            KeyStatus(
                municipality_code=k.municipality_code,
                purpose=k.purpose,
                version=k.version,
                master_key_id=k.master_key_id,
                created_at=k.created_at,
                retired_at=k.retired_at,
                rows=usage[(k.municipality_code, k.version)] if k.purpose == "data" else None,
            )
            for k in keys
        ]
