"""What an administrative service function needs, passed as one value."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy.orm import Session

from app.audit.service import record
from app.auth.principal import Principal


@dataclass(frozen=True)
class AdminContext:
    """The request's session, the caller and the request id (for the audit log)."""

    session: Session
    principal: Principal
    request_id: str | None = None

    def audit(
        self,
        action: str,
        *,
        object_type: str | None,
        object_id: str | uuid.UUID | None = None,
        fields: Iterable[str] = (),
        municipality_code: str | None = None,
        outcome: str = "ok",
    ) -> None:
        """One event in the request's transaction: names only, never values."""
        record(
            self.session,
            actor=self.principal.actor,
            action=action,
            object_type=object_type,
            object_id=object_id,
            fields=fields,
            municipality_code=municipality_code,
            outcome=outcome,
            request_id=self.request_id,
        )
