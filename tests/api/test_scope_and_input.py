"""Issue 10's scope and input findings, each pinned by a test (both engines).

- ``previous_cases`` counts only cases the caller may see (ACCEPTANCE A7): a
  caseworker cannot test whether a personnummer has a case at another unit.
- An import by unit B never reports a case of unit A as "unchanged".
- NUL (and other text no database stores) in a query parameter, a path or a
  posted form is 422 naming it, never 500.
- ``caseworker_ref`` refuses a personnummer (it is stored in clear).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from app import idempotency
from app.clock import utcnow
from app.models import AuditEvent, Case, IdempotencyRecord
from tests.api.test_case_support import problem
from tests.factories import case_body, create_case, make_account, make_unit

PNR = "19121212-1212"


def test_previous_cases_count_only_what_the_caller_may_see(
    client: TestClient, session: Session
) -> None:
    unit_a, unit_b = make_unit(session, "0180"), make_unit(session, "0180")
    worker_a = make_account(session, "caseworker", unit=unit_a)
    worker_b = make_account(session, "caseworker", unit=unit_b)
    coordinator = make_account(session, "coordinator", municipality="0180")
    for day in ("2025-01-10", "2025-02-10"):
        create_case(client, worker_a, client_id=PNR, actualised_on=day)
    at_b = create_case(client, worker_b, client_id=PNR, actualised_on="2025-03-10")
    # Unit B sees none of unit A's two cases of the same client.
    assert at_b["previous_cases"] == 0
    again = client.get(f"/api/v1/cases/{at_b['id']}", headers=worker_b.headers).json()
    assert again["previous_cases"] == 0
    # The municipality's coordinator sees all of them.
    seen = client.get(f"/api/v1/cases/{at_b['id']}", headers=coordinator.headers).json()
    assert seen["previous_cases"] == 2
    second_at_b = create_case(client, worker_b, client_id=PNR, actualised_on="2025-04-10")
    assert second_at_b["previous_cases"] == 1


def _import(client: TestClient, headers: dict[str, str], *lines: Mapping[str, object]) -> dict:  # type: ignore[type-arg]
    body = "\n".join(json.dumps(line) for line in lines).encode()
    r = client.post(
        "/api/v1/imports",
        content=body,
        headers={**headers, "Content-Type": "application/x-ndjson"},
    )
    assert r.status_code == 201, r.text
    result: dict = r.json()  # type: ignore[type-arg]
    return result


def test_an_import_never_learns_of_another_units_case(client: TestClient, session: Session) -> None:
    unit_a, unit_b = make_unit(session, "0180"), make_unit(session, "0180")
    worker_a = make_account(session, "caseworker", unit=unit_a)
    worker_b = make_account(session, "caseworker", unit=unit_b)
    line = {"source_ref": "TRE-1", "client_id": PNR, "actualised_on": "2025-01-10"}
    assert _import(client, worker_a.headers, line)["created"] == 1
    # The same system id at unit B is B's own case: created, not "unchanged".
    at_b = _import(client, worker_b.headers, line)
    assert (at_b["created"], at_b["unchanged"]) == (1, 0)
    # Re-importing at B finds B's case.
    again = _import(client, worker_b.headers, line)
    assert (again["created"], again["unchanged"]) == (0, 1)
    units = session.scalars(select(Case.unit_id).where(Case.source_ref == "TRE-1")).all()
    assert sorted(map(str, units)) == sorted([str(unit_a.id), str(unit_b.id)])


def test_nul_in_a_query_parameter_is_422_not_500(client: TestClient, session: Session) -> None:
    admin = make_account(session, "admin")
    worker = make_account(session, "caseworker", unit=make_unit(session, "0180"))
    before = session.scalar(select(func.count(AuditEvent.id)))
    for path, headers, pointer in (
        ("/api/v1/audit-events?action=%00", admin.headers, "/query/action"),
        ("/api/v1/audit-events?object_id=a%00b", admin.headers, "/query/object_id"),
        ("/api/v1/cases?status=%ED%A0%80", worker.headers, "/query/status"),  # a lone surrogate
        ("/api/v1/cases/%00", worker.headers, "/path"),
    ):
        r = client.get(path, headers=headers)
        problem(r, 422, "validation", [pointer])
        assert r.json()["errors"][0]["code"] == "nul_character"
    assert session.scalar(select(func.count(AuditEvent.id))) == before


def test_caseworker_ref_refuses_a_personnummer(client: TestClient, session: Session) -> None:
    worker = make_account(session, "caseworker", unit=make_unit(session, "0180"))
    before = session.scalar(select(func.count(Case.id)))
    for ref in (PNR, "121212-1212", "HL 191212121212", "198505059999"):
        r = client.post("/api/v1/cases", json=case_body(caseworker_ref=ref), headers=worker.headers)
        problem(r, 422, "validation", ["/caseworker_ref"])
        assert r.json()["errors"][0]["code"] == "personal_number"
        assert ref not in r.text
    assert session.scalar(select(func.count(Case.id))) == before
    ok = client.post(
        "/api/v1/cases", json=case_body(caseworker_ref="HL-17"), headers=worker.headers
    )
    assert ok.status_code == 201, ok.text


def test_idempotency_records_are_purged_after_their_ttl(
    client: TestClient, session: Session
) -> None:
    worker = make_account(session, "caseworker", unit=make_unit(session, "0180"))
    headers = {**worker.headers, "Idempotency-Key": "gammal-1"}
    first = client.post("/api/v1/cases", json=case_body(), headers=headers)
    assert first.status_code == 201
    record = session.scalars(select(IdempotencyRecord)).one()
    assert (record.response_status, record.object_id) == (201, first.json()["id"])
    session.execute(update(IdempotencyRecord).values(created_at=utcnow() - timedelta(hours=25)))
    assert idempotency.purge(session, timedelta(hours=24)) == 1
    # After the TTL the key is forgotten: the same key makes a new case.
    again = client.post("/api/v1/cases", json=case_body(), headers=headers)
    assert again.status_code == 201
    assert again.json()["id"] != first.json()["id"]
