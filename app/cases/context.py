"""What every case service function needs, passed as one value."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from app.audit.service import record
from app.auth.principal import Principal
from app.catalogue.loader import Catalogue
from app.config import Settings
from app.security.keyring import Keyring


@dataclass(frozen=True)
class CaseContext:
    session: Session
    principal: Principal
    catalogue: Catalogue
    keyring: Keyring
    settings: Settings
    request_id: str | None = None

    def audit(
        self,
        action: str,
        *,
        object_type: str | None = "case",
        object_id: object = None,
        fields: list[str] | tuple[str, ...] = (),
        municipality_code: str | None = None,
    ) -> None:
        record(
            self.session,
            actor=self.principal.actor,
            action=action,
            object_type=object_type,
            object_id=str(object_id) if object_id is not None else None,
            fields=fields,
            municipality_code=municipality_code,
            request_id=self.request_id,
        )
