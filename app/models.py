"""All ORM models.

Shape per DESIGN.md §5: structural columns (ids, unit, municipality, pseudonym,
key dates, status, version, timestamps), catalogue-validated values in a JSON
column, child tables for repeated records. Free text (comments, survey
suggestions) is only ever stored encrypted, in ``*_ciphertext`` columns.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
    Uuid,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import Base, UTCDateTime

ROLES = ("caseworker", "coordinator", "regional", "national", "admin")
UNIT_KINDS = ("myndighet", "utforare", "bada", "annat")
STATUSES = (
    "aktualiserad",
    "fatt_insats",
    "avslutad",
    "avslutsorsak_angiven",
    "maluppfoljning_angiven",
    "brukarenkat_genomford",
)


def _now() -> datetime:
    from app.clock import utcnow

    return utcnow()


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_now, onupdate=_now)


class Unit(TimestampMixin, Base):
    """A verksamhet: the unit that registers cases (SUV 1 and 2)."""

    __tablename__ = "units"
    __table_args__ = (
        CheckConstraint(f"kind IN {UNIT_KINDS!r}", name="kind"),
        UniqueConstraint("municipality_code", "name"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))
    municipality_code: Mapped[str] = mapped_column(String(4), index=True)
    district_code: Mapped[str | None] = mapped_column(String(10))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)


class User(TimestampMixin, Base):
    __tablename__ = "users"
    __table_args__ = (CheckConstraint(f"role IN {ROLES!r}", name="role"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    role: Mapped[str] = mapped_column(String(20))
    municipality_code: Mapped[str | None] = mapped_column(String(4), index=True)
    county_code: Mapped[str | None] = mapped_column(String(2))
    unit_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("units.id"))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    password_hash: Mapped[str | None] = mapped_column(String(200))


class ApiToken(Base):
    """An opaque bearer token; only its hash is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_now)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    user: Mapped[User] = relationship(lazy="raise")


class MunicipalityKey(Base):
    """A per-municipality key wrapped by the master key (envelope encryption).

    ``purpose`` is ``pseudonym`` (HMAC key for client pseudonyms; never rotated
    without re-identification) or ``data`` (AES-GCM key for free text; rotated
    by ``isu keys rotate``).
    """

    __tablename__ = "municipality_keys"
    __table_args__ = (
        UniqueConstraint("municipality_code", "purpose", "version"),
        CheckConstraint("purpose IN ('pseudonym', 'data', 'audit')", name="purpose"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    municipality_code: Mapped[str] = mapped_column(String(4))
    purpose: Mapped[str] = mapped_column(String(10))
    version: Mapped[int] = mapped_column(Integer)
    wrapped_key: Mapped[bytes] = mapped_column(LargeBinary)
    master_key_id: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_now)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Case(TimestampMixin, Base):
    """One period of support for one adult client at one unit (ärende)."""

    __tablename__ = "cases"
    __table_args__ = (
        CheckConstraint(f"status IN {STATUSES!r}", name="status"),
        Index("ix_cases_municipality_actualised", "municipality_code", "actualised_on"),
        Index("ix_cases_municipality_pseudonym", "municipality_code", "client_pseudonym"),
        # An index, not a constraint: SQLite adds it without rebuilding the table.
        # Per unit: a unit's import never learns of another unit's cases.
        Index("ix_cases_unit_source_ref", "unit_id", "source_ref", unique=True),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    unit_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("units.id"), index=True)
    municipality_code: Mapped[str] = mapped_column(String(4))
    district_code: Mapped[str | None] = mapped_column(String(10))
    client_pseudonym: Mapped[str] = mapped_column(String(64))
    client_id_kind: Mapped[str] = mapped_column(String(20))
    pseudonym_key_version: Mapped[int] = mapped_column(Integer)
    caseworker_ref: Mapped[str | None] = mapped_column(String(64))
    actualised_on: Mapped[date] = mapped_column(Date)
    closed_on: Mapped[date | None] = mapped_column(Date)
    first_intervention_on: Mapped[date | None] = mapped_column(Date)
    values: Mapped[dict[str, Any]] = mapped_column(default=dict)
    comments_ciphertext: Mapped[bytes | None] = mapped_column(LargeBinary)
    data_key_version: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(30), default="aktualiserad")
    is_excluded: Mapped[bool] = mapped_column(Boolean, default=False)
    exclusion_reason: Mapped[str | None] = mapped_column(String(30))
    catalogue_version: Mapped[str] = mapped_column(String(40))
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_by_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    source_ref: Mapped[str | None] = mapped_column(String(64))
    """The case-management system's own id of the case (bulk import); unique per
    unit, so a re-import finds the case instead of duplicating it."""

    # Optimistic locking: every UPDATE says ``WHERE version = <read>`` (a stale
    # write fails, C1). The services move the version themselves (``touch``), so
    # a case changed several times in one transaction (an import line) needs no
    # flush between the changes to number its revisions.
    __mapper_args__ = {"version_id_col": version, "version_id_generator": False}

    # Never loaded (``raise``): they tell the unit of work to insert a unit or
    # user made in the same transaction (an import) before the cases naming it.
    unit: Mapped[Unit] = relationship(lazy="raise")
    created_by: Mapped[User] = relationship(lazy="raise")
    interventions: Mapped[list[Intervention]] = relationship(
        lazy="raise", cascade="all, delete-orphan", order_by="Intervention.start_on"
    )
    risk_assessments: Mapped[list[RiskAssessment]] = relationship(
        lazy="raise", cascade="all, delete-orphan", order_by="RiskAssessment.assessed_on"
    )
    survey: Mapped[SurveyResponse | None] = relationship(lazy="raise", cascade="all, delete-orphan")


class Intervention(TimestampMixin, Base):
    """Stöd/insats: SUV 117 start date, 118 type, 126 grounds."""

    __tablename__ = "interventions"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    case_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("cases.id", ondelete="CASCADE"), index=True
    )
    start_on: Mapped[date] = mapped_column(Date)
    type_code: Mapped[int] = mapped_column(Integer)
    grounds_code: Mapped[int | None] = mapped_column(Integer)
    comments_ciphertext: Mapped[bytes | None] = mapped_column(LargeBinary)
    data_key_version: Mapped[int | None] = mapped_column(Integer)


class RiskAssessment(TimestampMixin, Base):
    """Upprepad skattning risk/farlighet (SUV 90)."""

    __tablename__ = "risk_assessments"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    case_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("cases.id", ondelete="CASCADE"), index=True
    )
    assessed_on: Mapped[date] = mapped_column(Date)
    phase_code: Mapped[int] = mapped_column(Integer)
    instrument_code: Mapped[int] = mapped_column(Integer)
    score: Mapped[int | None] = mapped_column(Integer)


class SurveyResponse(TimestampMixin, Base):
    """Brukarenkät: at most one per case (SUV 202-217)."""

    __tablename__ = "survey_responses"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    case_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("cases.id", ondelete="CASCADE"), unique=True
    )
    answered_on: Mapped[date] = mapped_column(Date)
    language_code: Mapped[int] = mapped_column(Integer)
    mode_code: Mapped[int] = mapped_column(Integer)
    values: Mapped[dict[str, Any]] = mapped_column(default=dict)
    text_ciphertext: Mapped[bytes | None] = mapped_column(LargeBinary)
    """Survey free text (217) and comments, encrypted."""
    data_key_version: Mapped[int | None] = mapped_column(Integer)


class CaseRevision(Base):
    """The case's history: who changed which fields when, with the coded values.

    Values are kept so a statistician can see that a perpetrator registered as
    current partner later became former partner; free text is not copied here.
    """

    __tablename__ = "case_revisions"
    __table_args__ = (UniqueConstraint("case_id", "version"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_now)
    changed_by_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    action: Mapped[str] = mapped_column(String(40))
    fields: Mapped[list[str]] = mapped_column(default=list)
    snapshot: Mapped[dict[str, Any]] = mapped_column(default=dict)

    # Insert order only (never loaded), as Case.unit.
    case: Mapped[Case] = relationship(lazy="raise")
    changed_by: Mapped[User] = relationship(lazy="raise")


class KodnyckelEntry(Base):
    """Optional code key: pseudonym -> identifier, encrypted, never exported."""

    __tablename__ = "kodnyckel"
    __table_args__ = (UniqueConstraint("municipality_code", "client_pseudonym"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    municipality_code: Mapped[str] = mapped_column(String(4))
    client_pseudonym: Mapped[str] = mapped_column(String(64))
    identifier_ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    data_key_version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_now)


class LocalVariableDefinition(TimestampMixin, Base):
    """A municipality's or county's own variable, as catalogue data."""

    __tablename__ = "local_variables"
    __table_args__ = (
        CheckConstraint("owner_kind IN ('municipality', 'county')", name="owner_kind"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    key: Mapped[str] = mapped_column(String(80), unique=True)
    owner_kind: Mapped[str] = mapped_column(String(12))
    owner_code: Mapped[str] = mapped_column(String(4), index=True)
    definition: Mapped[dict[str, Any]] = mapped_column()
    export_opt_in: Mapped[bool] = mapped_column(Boolean, default=False)
    is_retired: Mapped[bool] = mapped_column(Boolean, default=False)


class IdempotencyRecord(Base):
    """What a replay of a POST with an Idempotency-Key needs: never a body.

    Written in the request's own transaction (reserved at its start, completed
    at its end), so a crash leaves either both the work and this row or
    neither. A replay answers with the stored status and Location, and the
    object as it is now. Purged after ``idempotency_ttl_hours``."""

    __tablename__ = "idempotency_records"
    __table_args__ = (UniqueConstraint("user_id", "key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    key: Mapped[str] = mapped_column(String(200))
    request_hash: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(12))
    response_status: Mapped[int | None] = mapped_column(Integer)
    location: Mapped[str | None] = mapped_column(String(300))
    object_id: Mapped[str | None] = mapped_column(String(64))
    """The object the response showed (a case, unit, user, token …), re-read on replay."""
    facts: Mapped[dict[str, Any] | None] = mapped_column()
    """Counts a replay repeats (e.g. revoked tokens); never content or identifiers."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_now, index=True)


class AuditEvent(Base):
    """Append-only audit log, sealed into a keyed chain. Never values, only names.

    Requests only INSERT. The sealer (app/audit/service.py) later sets
    ``seal_seq`` and ``seal_mac`` once per event; a trigger refuses every other
    UPDATE and every DELETE."""

    __tablename__ = "audit_events"
    __table_args__ = (
        Index(
            "ix_audit_events_unsealed",
            "id",
            postgresql_where=text("seal_seq IS NULL"),
            sqlite_where=text("seal_seq IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor_user_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    actor_role: Mapped[str | None] = mapped_column(String(20))
    municipality_code: Mapped[str | None] = mapped_column(String(4), index=True)
    action: Mapped[str] = mapped_column(String(40))
    object_type: Mapped[str | None] = mapped_column(String(40))
    object_id: Mapped[str | None] = mapped_column(String(64))
    fields: Mapped[list[str]] = mapped_column(default=list)
    outcome: Mapped[str] = mapped_column(String(20), default="ok")
    request_id: Mapped[str | None] = mapped_column(String(64))
    seal_seq: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    """Position in the sealed chain (1, 2, …); None until sealed."""
    seal_mac: Mapped[str | None] = mapped_column(String(64))
    """HMAC-SHA256 (audit key) over the event, ``seal_seq`` and the previous MAC."""


class AuditSealHead(Base):
    """One row: where the sealed chain ends. Only the sealer updates it (never a
    request), so it is no global lock; ``mac`` keeps it from being forged."""

    __tablename__ = "audit_seal_head"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    last_mac: Mapped[str] = mapped_column(String(64))
    mac: Mapped[str | None] = mapped_column(String(64))
    sealed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class AuthFailure(Base):
    """A failed authentication, for the limiter every worker shares (429).

    ``client_hash`` is a SHA-256 of the client address, never the address; rows
    older than the limiter's window are purged."""

    __tablename__ = "auth_failures"
    __table_args__ = (Index("ix_auth_failures_client_failed", "client_hash", "failed_at"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    client_hash: Mapped[str] = mapped_column(String(64))
    failed_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


IMPORT_STATES = ("queued", "running", "done", "rejected", "failed")


class ImportJob(TimestampMixin, Base):
    """A bulk import sent over the API: its state and outcome, never its lines.

    ``errors`` holds line numbers, JSON pointers, codes and messages only (no
    submitted values). The lines themselves live only in the memory of the
    worker that imports them.
    """

    __tablename__ = "import_jobs"
    __table_args__ = (CheckConstraint(f"state IN {IMPORT_STATES!r}", name="state"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    municipality_code: Mapped[str] = mapped_column(String(4), index=True)
    created_by_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    state: Mapped[str] = mapped_column(String(20), default="queued")
    skip_invalid: Mapped[bool] = mapped_column(Boolean, default=False)
    lines: Mapped[int] = mapped_column(Integer, default=0)
    invalid: Mapped[int] = mapped_column(Integer, default=0)
    created: Mapped[int] = mapped_column(Integer, default=0)
    unchanged: Mapped[int] = mapped_column(Integer, default=0)
    errors: Mapped[list[str]] = mapped_column(default=list)
    """A list of ``{line, pointer, code, detail, detail_en}`` objects."""
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class WebSession(Base):
    """A person's signed-in browser session (the web interface, app/web).

    The cookie carries a random token; only its SHA-256 is stored, so a copy of
    the table cannot be replayed as cookies. A new session (and token) is made
    at every sign-in (no session fixation); ``ended_at`` is set at sign-out.
    """

    __tablename__ = "web_sessions"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    """Random per session; every form posts it back (synchroniser token)."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_now)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_now)
    """Moved on activity; a session idle for longer than the idle timeout is over."""
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    """Absolute end, however active the session is."""
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class SurveyLink(Base):
    """A one-time link to the client survey of one closed case.

    Only the SHA-256 of the link's 256-bit token is stored. The link dies when
    used, when it expires, or when the caseworker replaces or revokes it.
    """

    __tablename__ = "survey_links"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    case_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("cases.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    mode_code: Mapped[int] = mapped_column(Integer)
    """The survey's ``mode`` (catalogue code) recorded with the answer."""
    created_by_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_now)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class PopulationFigure(Base):
    """Adults (18+) on 31 December per area, year and sex, loaded by
    ``isu population import`` (SCB BE0101 or Kolada N02104). Takes precedence
    over the figures packaged with the product (app/reference/data). ``area_code``
    is a municipality code (``0180``) or a district code (``0180-01``)."""

    __tablename__ = "population_figures"
    __table_args__ = (
        UniqueConstraint("area_code", "year", "sex"),
        CheckConstraint("sex IN ('T', 'K', 'M')", name="sex"),
        CheckConstraint("population >= 0", name="population"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    area_code: Mapped[str] = mapped_column(String(10))
    year: Mapped[int] = mapped_column(Integer)
    sex: Mapped[str] = mapped_column(String(1))
    population: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(200))
    reference_date: Mapped[date] = mapped_column(Date)
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_now)


class Submission(Base):
    """A municipality's SKR package received by the national hub (one version).

    A new package for the same municipality and period is a new version; the
    history is kept and compilations read the latest accepted version. A resend
    of the same package (same package id and manifest digest) stores nothing."""

    __tablename__ = "submissions"
    __table_args__ = (
        UniqueConstraint("municipality_code", "period", "version"),
        UniqueConstraint("package_id"),
        CheckConstraint("status IN ('accepted')", name="status"),
        Index("ix_submissions_period_municipality", "period", "municipality_code"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    package_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    manifest_sha256: Mapped[str] = mapped_column(String(64))
    municipality_code: Mapped[str] = mapped_column(String(4))
    period: Mapped[str] = mapped_column(String(9))
    period_from: Mapped[date] = mapped_column(Date)
    period_to: Mapped[date] = mapped_column(Date)
    version: Mapped[int] = mapped_column(Integer)
    catalogue_version: Mapped[str] = mapped_column(String(40))
    manifest: Mapped[dict[str, Any]] = mapped_column()
    status: Mapped[str] = mapped_column(String(20), default="accepted")
    """Only accepted packages are stored; a rejected one is audited, never kept."""
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_now)
    received_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    """The municipality's hub account; None when the hub's operator loaded the
    file with ``isu submissions receive``."""


class SubmissionFile(Base):
    """One table of a received package, verified against its manifest
    checksum: UTF-8 CSV with the package's column names (SUV numbers)."""

    __tablename__ = "submission_files"
    __table_args__ = (UniqueConstraint("submission_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    submission_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("submissions.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(40))
    sha256: Mapped[str] = mapped_column(String(64))
    rows: Mapped[int] = mapped_column(Integer)
    content: Mapped[bytes] = mapped_column(LargeBinary)


import app.analysis  # noqa: E402, F401  (the analysis table and its write hook)
