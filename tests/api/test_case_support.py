"""Helpers for the case API tests (no tests here).

``State`` captures everything a rejected request must leave untouched: row
counts of the case tables and the audit log, and each case's version and
stored content.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

from fastapi.testclient import TestClient
from httpx2 import Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.errors import PROBLEM_MEDIA_TYPE
from app.models import (
    AuditEvent,
    Case,
    CaseRevision,
    IdempotencyRecord,
    Intervention,
    RiskAssessment,
    SurveyResponse,
)
from tests.factories import Account, case_body, make_account, make_unit

API = "/api/v1/cases"
COUNTED = {
    "cases": Case,
    "interventions": Intervention,
    "risk_assessments": RiskAssessment,
    "survey_responses": SurveyResponse,
    "case_revisions": CaseRevision,
    "audit_events": AuditEvent,
}


@dataclass(frozen=True)
class State:
    counts: dict[str, int]
    cases: dict[uuid.UUID, tuple[Any, ...]]

    def version(self, case_id: str | uuid.UUID) -> int:
        row = self.cases[uuid.UUID(str(case_id))]
        version: int = row[0]
        return version


def counts(session: Session) -> dict[str, int]:
    row = session.execute(
        select(
            *(
                select(func.count()).select_from(model).scalar_subquery().label(name)
                for name, model in COUNTED.items()
            )
        )
    ).one()
    return dict(row._mapping)


def state(session: Session) -> State:
    rows = session.execute(
        select(
            Case.id,
            Case.version,
            Case.values,
            Case.actualised_on,
            Case.closed_on,
            Case.status,
            Case.is_excluded,
            Case.caseworker_ref,
            Case.comments_ciphertext,
        )
    ).all()
    children = session.execute(
        select(Intervention.id, Intervention.start_on, Intervention.type_code)
    ).all()
    risks = session.execute(select(RiskAssessment.id, RiskAssessment.score)).all()
    cases = {r[0]: tuple(r[1:]) for r in rows}
    cases[uuid.UUID(int=0)] = (0, sorted(map(tuple, children)), sorted(map(tuple, risks)))
    return State(counts(session), cases)


def idempotency_rows(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(IdempotencyRecord)) or 0


def problem(
    response: Response, status: int, slug: str, pointers: list[str] | None = None
) -> dict[str, Any]:
    """Assert an RFC 9457 problem: status, type and (if given) the error pointers."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_MEDIA_TYPE), response.headers
    body: dict[str, Any] = response.json()
    assert body["type"] == f"/problems/{slug}", body
    assert body["status"] == status
    assert body["detail"]
    assert body["detail_en"]
    if pointers is not None:
        assert sorted(e["pointer"] for e in body.get("errors", [])) == sorted(pointers), body
        for error in body["errors"]:
            assert error["detail"]
            assert error["detail_en"]
            assert error["code"]
    return body


def codes(response: Response) -> list[str]:
    return [e["code"] for e in response.json().get("errors", [])]


def personnummer(born: date, serial: str = "238") -> str:
    """A synthetic 12-digit personnummer with a valid check digit."""
    digits = born.strftime("%y%m%d") + serial
    total = 0
    for i, ch in enumerate(digits):
        n = int(ch) * (2 if i % 2 == 0 else 1)
        total += n - 9 if n > 9 else n
    check = (10 - total % 10) % 10
    return f"{born:%Y%m%d}-{serial}{check}"


@dataclass(frozen=True)
class World:
    worker: Account
    coordinator: Account
    outsider: Account
    """A caseworker of another municipality."""
    foreign_coordinator: Account
    """A coordinator of another municipality."""


def make_world(session: Session) -> World:
    unit = make_unit(session, "0180")
    other = make_unit(session, "1480")
    return World(
        worker=make_account(session, "caseworker", unit=unit),
        coordinator=make_account(session, "coordinator", municipality="0180"),
        outsider=make_account(session, "caseworker", unit=other),
        foreign_coordinator=make_account(session, "coordinator", municipality="1480"),
    )


def with_version(account: Account, version: int | str) -> dict[str, str]:
    return {**account.headers, "If-Match": f'"{version}"'}


def etag_version(response: Response) -> int:
    return int(response.headers["etag"].strip('"'))


def post_json_bytes(
    client: TestClient, path: str, raw: bytes, headers: dict[str, str], method: str = "POST"
) -> Response:
    return client.request(
        method, path, content=raw, headers={**headers, "Content-Type": "application/json"}
    )


INTERVENTION = {"intervention_start_on": "2025-03-10", "intervention_type": 4}
RISK = {"assessed_on": "2025-03-05", "assessment_phase": 1, "risk_instrument": 1, "score": 2}
SURVEY = {"answered_on": "2025-06-15", "language": 1, "mode": 2, "survey_violence_change": 3}


@dataclass
class Cases:
    world: World
    open_id: str
    intervention_id: str
    risk_id: str
    closed_id: str


def make_cases(client: TestClient, session: Session) -> Cases:
    """An open case with one intervention and one risk assessment (version 3)
    and a closed case (version 2)."""
    world = make_world(session)
    h = world.worker.headers
    open_case = client.post(API, json=case_body(), headers=h).json()
    r = client.post(f"{API}/{open_case['id']}/interventions", json=INTERVENTION, headers=h)
    intervention_id = r.json()["interventions"][0]["id"]
    r = client.post(f"{API}/{open_case['id']}/risk-assessments", json=RISK, headers=h)
    risk_id = r.json()["risk_assessments"][0]["id"]
    closed = client.post(API, json=case_body(), headers=h).json()
    r = client.post(
        f"{API}/{closed['id']}/close",
        json={"closed_on": "2025-06-01"},
        headers=with_version(world.worker, 1),
    )
    assert r.status_code == 200, r.text
    return Cases(world, open_case["id"], intervention_id, risk_id, closed["id"])
