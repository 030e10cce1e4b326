"""Small deterministic factories. Synthetic identifiers only (Skatteverket's
test personnummer style; never a real person)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import delete
from sqlalchemy.orm import Session

from app.models import AuthFailure, Unit, User
from app.units.service import create_unit, create_user

# Synthetic personnummer with valid check digits (19121212-1212 is Skatteverket's classic example).
PNR = "19121212-1212"
PNR_OTHER = "19900101-0017"


@dataclass(frozen=True)
class Account:
    user: User
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def make_unit(
    session: Session, municipality: str = "0180", name: str | None = None, **kw: Any
) -> Unit:
    return create_unit(
        session,
        name=name or f"Enhet {uuid.uuid4().hex[:6]}",
        kind=kw.get("kind", "myndighet"),
        municipality_code=municipality,
        district_code=kw.get("district"),
    )


def make_account(
    session: Session,
    role: str,
    *,
    unit: Unit | None = None,
    municipality: str | None = None,
    county: str | None = None,
) -> Account:
    user, token = create_user(
        session,
        username=f"{role}-{uuid.uuid4().hex[:8]}",
        role=role,
        municipality_code=municipality or (unit.municipality_code if unit else None),
        unit_id=unit.id if unit else None,
        county_code=county,
    )
    session.flush()
    return Account(user, token)


def case_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "client_id": PNR,
        "actualised_on": "2025-03-01",
        "caseworker_ref": "HL-7",
        "values": {"sex": 1, "origin": 1, "disability": [4], "contact_initiative": [1, 8]},
    }
    body.update(overrides)
    return body


def create_case(client: TestClient, account: Account, **overrides: Any) -> dict[str, Any]:
    response = client.post("/api/v1/cases", json=case_body(**overrides), headers=account.headers)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def forget_auth_failures(session: Session) -> None:
    """Clear the shared limiter (one test client makes more failures than it allows)."""
    session.execute(delete(AuthFailure))
