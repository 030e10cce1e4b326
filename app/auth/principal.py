"""Who is calling, and what they may see."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from app.audit.service import Actor

CASE_ROLES = frozenset({"caseworker", "coordinator"})


@dataclass(frozen=True)
class Principal:
    user_id: uuid.UUID
    role: str
    municipality_code: str | None
    county_code: str | None
    unit_id: uuid.UUID | None

    @property
    def actor(self) -> Actor:
        return Actor(self.user_id, self.role, self.municipality_code)

    @property
    def may_see_cases(self) -> bool:
        return self.role in CASE_ROLES
