"""Response models of the audit API."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, Field


class AuditEventRead(BaseModel):
    """One event: who, when, what and which fields, never values."""

    id: int
    occurred_at: datetime
    actor_user_id: uuid.UUID | None
    actor_role: str | None
    municipality_code: str | None
    action: str
    object_type: str | None
    object_id: str | None
    fields: list[str] = Field(description="Namn på ändrade uppgifter (names, never values)")
    outcome: str
    request_id: str | None
    prev_hash: str
    hash: str


class AuditEventPage(BaseModel):
    items: list[AuditEventRead]
    total: int
    limit: int
    offset: int


class ChainVerification(BaseModel):
    ok: bool
    events: int = Field(description="Antal hela händelser i följd (events verified in order)")
    first_bad_id: int | None = Field(description="Första händelsen som inte stämmer")
    problem: str | None
    last_hash: str | None = Field(
        description="Hash för sista hela händelsen; anteckna den utanför databasen "
        "(note it outside the database as an anchor)"
    )
