"""Per-municipality keys, wrapped by the master key (envelope encryption).

Each municipality has a ``pseudonym`` key (HMAC for client pseudonyms; stable,
so the same person keeps the same pseudonym) and ``data`` keys (AES-GCM for
free text; a new version on every rotation). Unwrapped keys are cached per
process by the wrapped blob, so a rotation is picked up at once.

A writer takes a shared row lock on the key version it encrypts with
(:meth:`Keyring.current`; PostgreSQL ``FOR SHARE``, a no-op on SQLite where
write transactions are serialised anyway). ``isu keys rotate`` takes the
exclusive lock on the old versions before its last check, so a writer that
picked the old version just before the rotation has committed by then and its
row is re-encrypted too (see :mod:`app.security.rotation`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.clock import utcnow
from app.db import insert_ignoring_duplicate, transaction_cache
from app.models import MunicipalityKey
from app.security.crypto import (
    IntegrityFailure,
    KeyConfigurationError,
    MasterKey,
    new_data_key,
    unwrap_key,
    wrap_key,
)

PURPOSES = ("pseudonym", "data", "audit")
VERIFY_SAMPLE = 20


def key_context(municipality_code: str, purpose: str, version: int) -> str:
    return f"{municipality_code}:{purpose}:{version}"


@dataclass
class Keyring:
    master: MasterKey
    _cache: dict[bytes, bytes] = field(default_factory=dict, repr=False)

    def unwrap(self, row: MunicipalityKey) -> bytes:
        """The raw key of ``row``; raises :class:`IntegrityFailure` on a wrong master key."""
        cached = self._cache.get(row.wrapped_key)
        if cached is None:
            ctx = key_context(row.municipality_code, row.purpose, row.version)
            cached = unwrap_key(self.master, row.wrapped_key, context=ctx)
            self._cache[row.wrapped_key] = cached
        return cached

    def current(self, session: Session, municipality_code: str, purpose: str) -> tuple[int, bytes]:
        """The newest key of ``purpose``, share-locked until the transaction ends;
        created on first use. Looked up once per transaction."""
        cache = _transaction_cache(session)
        found = cache.get((municipality_code, purpose, None))
        if found is None:
            row = _newest(session, municipality_code, purpose, lock=True)
            if row is None:
                row = _create(session, self.master, municipality_code, purpose, 1)
            found = cache[(municipality_code, purpose, None)] = (row.version, self.unwrap(row))
        return found

    def preload(self, session: Session, municipalities: set[str]) -> None:
        """The newest keys of these municipalities in one statement (share-locked
        like :meth:`current`), for a batch that will ask for each of them."""
        cache = _transaction_cache(session)
        wanted = {m for m in municipalities if (m, "data", None) not in cache}
        if not wanted:
            return
        rows = session.scalars(
            select(MunicipalityKey)
            .where(
                MunicipalityKey.municipality_code.in_(wanted),
                MunicipalityKey.purpose.in_(("pseudonym", "data")),
            )
            .order_by(MunicipalityKey.version)
            .with_for_update(read=True)
        ).all()
        for row in rows:  # ascending: the newest version is set last
            cache[(row.municipality_code, row.purpose, None)] = (row.version, self.unwrap(row))

    def current_versions(self, session: Session) -> dict[tuple[str, str], int]:
        """(municipality, purpose) -> the version :meth:`current` gave in this transaction."""
        return {
            (m, purpose): found[0]
            for (m, purpose, version), found in _transaction_cache(session).items()
            if version is None
        }

    def still_current(self, session: Session, used: dict[tuple[str, str], int]) -> bool:
        """Whether every key version in ``used`` is still the newest, share-locking
        them until the transaction ends (a rotation waits for it)."""
        if not used:
            return True
        rows = session.execute(
            select(
                MunicipalityKey.municipality_code, MunicipalityKey.purpose, MunicipalityKey.version
            )
            .where(MunicipalityKey.municipality_code.in_({m for m, _ in used}))
            .with_for_update(read=True)
        ).all()
        newest: dict[tuple[str, str], int] = {}
        for municipality, purpose, version in rows:
            newest[(municipality, purpose)] = max(version, newest.get((municipality, purpose), 0))
        return all(newest.get(key) == version for key, version in used.items())

    def newest(self, session: Session, municipality_code: str, purpose: str) -> bytes | None:
        """The newest key of ``purpose`` if there is one (never creates, never locks)."""
        row = _newest(session, municipality_code, purpose)
        return None if row is None else self.unwrap(row)

    def version(
        self, session: Session, municipality_code: str, purpose: str, version: int
    ) -> bytes:
        cache = _transaction_cache(session)
        found = cache.get((municipality_code, purpose, version))
        if found is None:
            found = cache[(municipality_code, purpose, version)] = (
                version,
                self._load_version(session, municipality_code, purpose, version),
            )
        return found[1]

    def _load_version(
        self, session: Session, municipality_code: str, purpose: str, version: int
    ) -> bytes:
        row = session.scalar(
            select(MunicipalityKey).where(
                MunicipalityKey.municipality_code == municipality_code,
                MunicipalityKey.purpose == purpose,
                MunicipalityKey.version == version,
            )
        )
        if row is None:
            raise IntegrityFailure()
        return self.unwrap(row)

    def add_version(self, session: Session, municipality_code: str, purpose: str) -> int:
        newest = _newest(session, municipality_code, purpose)
        version = 1 if newest is None else newest.version + 1
        return _create(session, self.master, municipality_code, purpose, version).version

    def verify(self, session: Session) -> None:
        """Refuse a master key that cannot unwrap the stored keys (P6).

        Every row must name this master key; the newest rows are unwrapped.
        """
        foreign = session.scalar(
            select(func.count())
            .select_from(MunicipalityKey)
            .where(MunicipalityKey.master_key_id != self.master.key_id)
        )
        if foreign:
            raise KeyConfigurationError(
                "Huvudnyckeln stämmer inte med databasens nycklar. "
                "(The master key does not match the database's keys.)"
            )
        rows = session.scalars(
            select(MunicipalityKey).order_by(MunicipalityKey.id.desc()).limit(VERIFY_SAMPLE)
        ).all()
        for row in rows:
            try:
                self.unwrap(row)
            except IntegrityFailure:
                raise KeyConfigurationError(
                    "Databasens nycklar kan inte öppnas med huvudnyckeln. "
                    "(The database's keys cannot be opened with this master key.)"
                ) from None


_CACHE = "isu.keys"
_Cache = dict[tuple[str, str, int | None], tuple[int, bytes]]


def _transaction_cache(session: Session) -> _Cache:
    """Keys looked up in this session's current transaction (forgotten at its
    end: a rotation may have moved on by the next)."""
    cache: _Cache = transaction_cache(session, _CACHE)
    return cache


def _newest(
    session: Session, municipality_code: str, purpose: str, *, lock: bool = False
) -> MunicipalityKey | None:
    query = (
        select(MunicipalityKey)
        .where(
            MunicipalityKey.municipality_code == municipality_code,
            MunicipalityKey.purpose == purpose,
        )
        .order_by(MunicipalityKey.version.desc())
        .limit(1)
    )
    if lock:
        query = query.with_for_update(read=True)
    return session.scalar(query)


def _create(
    session: Session, master: MasterKey, municipality_code: str, purpose: str, version: int
) -> MunicipalityKey:
    values = {
        "municipality_code": municipality_code,
        "purpose": purpose,
        "version": version,
        "wrapped_key": wrap_key(
            master, new_data_key(), context=key_context(municipality_code, purpose, version)
        ),
        "master_key_id": master.key_id,
        "created_at": utcnow(),
    }
    unique = ["municipality_code", "purpose", "version"]
    insert_ignoring_duplicate(session, MunicipalityKey, values, unique)
    # Ours, or the one another transaction created first.
    row = session.scalar(
        select(MunicipalityKey).where(
            MunicipalityKey.municipality_code == municipality_code,
            MunicipalityKey.purpose == purpose,
            MunicipalityKey.version == version,
        )
    )
    if row is None:
        raise KeyConfigurationError("key row missing after insert")
    return row
