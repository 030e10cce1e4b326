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
    seal_seq: int | None = Field(description="Plats i den förseglade kedjan; null tills förseglad")


class AuditEventPage(BaseModel):
    items: list[AuditEventRead]
    total: int
    limit: int
    offset: int


class ChainVerification(BaseModel):
    ok: bool
    events: int = Field(
        description="Antal förseglade händelser i följd (sealed events verified in order)"
    )
    first_bad_id: int | None = Field(
        description="Första platsen i kedjan som inte stämmer (first bad position)"
    )
    problem: str | None
    last_hash: str | None = Field(
        description="MAC för sista hela händelsen; anteckna den (med antalet) utanför "
        "databasen (note it, with the count, outside the database as an anchor)"
    )
    unsealed: int = Field(
        0, description="Händelser som ännu inte förseglats (events not sealed yet)"
    )
