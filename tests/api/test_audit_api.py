"""The audit log: what is written (ACCEPTANCE U1) and the audit API.

Every operation writes exactly one event naming the actor, the time, the
action, the object and the names of the changed variables, never their values;
the event commits or rolls back with the write it describes.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

import app.cases.context as case_context
import app.cases.service as case_service
from app.audit.service import as_utc, seal, verify
from app.cases.context import CaseContext
from app.clock import utcnow
from app.db import transaction
from app.models import AuditEvent, AuditSealHead, Case
from tests.factories import PNR, Account, case_body, create_case, make_account, make_unit

A, B = "0180", "1480"
COMMENT = "Förövaren hotade henne i trapphuset"
SUGGESTION = "Mer stöd på kvällarna önskas"
REASON = "Klienten har begärt registerutdrag enligt GDPR."
NAME = re.compile(r"^[a-z][a-z0-9_.:]*$")


def audit_mark(session: Session) -> int:
    return session.scalar(select(func.coalesce(func.max(AuditEvent.id), 0))) or 0


def events_after(session: Session, mark: int) -> list[AuditEvent]:
    session.expire_all()
    return list(
        session.scalars(select(AuditEvent).where(AuditEvent.id > mark).order_by(AuditEvent.id))
    )


def columns(event: AuditEvent) -> str:
    return repr([getattr(event, c.key) for c in AuditEvent.__table__.columns])


# --- U1: one event per operation, names never values --------------------------------


def test_each_operation_writes_exactly_one_event_without_values(
    app: FastAPI, client: TestClient, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(app.state.settings, "kodnyckel_municipalities", [A])
    unit = make_unit(session, A)
    worker = make_account(session, "caseworker", unit=unit)
    coordinator = make_account(session, "coordinator", municipality=A)
    started = utcnow()
    state: dict[str, Any] = {}

    def step(
        account: Account | None,
        method: str,
        url: str,
        body: dict[str, Any] | None,
        action: str,
        *,
        status: int = 200,
        fields: set[str] | None = None,
        object_id: str | None = None,
    ) -> Any:
        mark = audit_mark(session)
        headers = dict(account.headers) if account else {"Authorization": "Bearer nope"}
        if "version" in state:
            headers["If-Match"] = f'"{state["version"]}"'
        r = client.request(method, url, json=body, headers=headers)
        assert r.status_code == status, (action, r.text)
        if "etag" in r.headers:
            state["version"] = int(r.headers["etag"].strip('"'))
        new = events_after(session, mark)
        assert [e.action for e in new] == [action], (action, [e.action for e in new])
        event = new[0]
        actor = (account.user.id, account.user.role) if account else (None, None)
        assert (event.actor_user_id, event.actor_role) == actor, action
        assert event.request_id == r.headers["x-request-id"], action
        assert started <= as_utc(event.occurred_at) <= utcnow(), action
        assert all(NAME.match(f) for f in event.fields), (action, event.fields)
        if account is not None:
            assert (event.municipality_code, event.outcome) == (A, "ok"), action
        if fields is not None:
            assert fields <= set(event.fields), (action, event.fields)
        if object_id is not None:
            assert event.object_id == object_id, action
        return r

    r = step(worker, "POST", "/api/v1/cases", case_body(comments={"perpetrator": COMMENT}),
             "case.create", status=201,
             fields={"client_id", "actualised_on", "caseworker_ref", "sex", "comment:perpetrator"})  # fmt: skip
    case = r.json()
    url = f"/api/v1/cases/{case['id']}"
    assert events_after(session, 0)[-1].object_id == case["id"]
    step(worker, "GET", url, None, "case.read", object_id=case["id"])
    step(worker, "GET", "/api/v1/cases", None, "case.list")
    r = step(worker, "PATCH", url, {"values": {"perpetrator": [1]}, "comments": {"perpetrator": COMMENT + "!"}},
             "case.update", object_id=case["id"])  # fmt: skip
    assert events_after(session, 0)[-1].fields == ["comment:perpetrator", "perpetrator"]
    r = step(worker, "POST", f"{url}/interventions",
             {"intervention_start_on": "2025-03-05", "intervention_type": 4},
             "intervention.create", status=201, fields={"intervention_type"})  # fmt: skip
    assert events_after(session, 0)[-1].object_id == r.json()["interventions"][0]["id"]
    step(worker, "POST", f"{url}/risk-assessments",
         {"assessed_on": "2025-03-10", "assessment_phase": 1, "risk_instrument": 1, "score": 3},
         "risk_assessment.create", status=201, fields={"score", "risk_instrument"})  # fmt: skip
    step(worker, "POST", f"{url}/close",
         {"closed_on": "2025-06-01", "values": {"closing_reason": 1, "goal_followup": 1}},
         "case.close", fields={"closed_on", "closing_reason", "goal_followup"},
         object_id=case["id"])  # fmt: skip
    step(worker, "PUT", f"{url}/survey",
         {"answered_on": "2025-06-01", "language": 1, "mode": 2, "survey_violence_change": 1,
          "survey_suggestions": SUGGESTION},
         "survey.put", fields={"survey_suggestions", "survey_violence_change"})  # fmt: skip
    step(worker, "GET", f"{url}/history", None, "case.history", object_id=case["id"])
    step(coordinator, "POST", f"{url}/exclusion", {"reason": "duplicate"}, "case.exclude",
         fields={"is_excluded", "exclusion_reason"}, object_id=case["id"])  # fmt: skip
    state.pop("version")
    step(coordinator, "POST", "/api/v1/kodnyckel/lookup",
         {"pseudonym": case["client_pseudonym"], "reason": REASON},
         "kodnyckel.lookup", fields={"reason"})  # fmt: skip
    step(None, "GET", url, None, "auth.failed", status=401)
    # No value, identifier or free text in any column of any event.
    everything = " ".join(columns(e) for e in events_after(session, 0))
    digits = PNR.replace("-", "")
    for secret in (PNR, digits, digits[2:], PNR[2:], COMMENT, SUGGESTION, REASON, "HL-7",
                   "2025-03-01", "2025-06-01"):  # fmt: skip
        assert secret not in everything, secret


def test_a_write_and_its_audit_event_commit_or_roll_back_together(
    committing_app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    factory = committing_app.state.session_factory
    with transaction(factory) as session:
        worker = make_account(session, "caseworker", unit=make_unit(session, A))

    def persisted() -> tuple[int, int, int]:
        with factory() as session:
            return (
                session.scalar(select(func.count(Case.id))) or 0,
                session.scalar(
                    select(func.count(AuditEvent.id)).where(AuditEvent.action == "case.create")
                )
                or 0,
                session.scalar(select(func.count(AuditEvent.id))) or 0,
            )

    client = TestClient(committing_app, raise_server_exceptions=False)
    create_case(client, worker)
    assert persisted()[:2] == (1, 1)
    before = persisted()
    written: list[bool] = []
    real_serialise = case_service.serialise

    def fail_after_audit(ctx: CaseContext, case: Case) -> dict[str, Any]:
        ctx.session.flush()  # the event is in the transaction's writes
        event = ctx.session.scalar(
            select(AuditEvent).where(
                AuditEvent.action == "case.create", AuditEvent.object_id == str(case.id)
            )
        )
        written.append(event is not None)
        raise RuntimeError("simulated failure after the audit write")

    monkeypatch.setattr(case_service, "serialise", fail_after_audit)
    r = client.post("/api/v1/cases", json=case_body(), headers=worker.headers)
    assert r.status_code == 500
    assert written == [True]
    assert persisted() == before
    monkeypatch.setattr(case_service, "serialise", real_serialise)

    def failing_audit(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("simulated failure of the audit write")

    monkeypatch.setattr(case_context, "record", failing_audit)
    r = client.post("/api/v1/cases", json=case_body(), headers=worker.headers)
    assert r.status_code == 500
    assert persisted() == before
    keyring = committing_app.state.keyring
    with transaction(factory) as session:
        seal(session, keyring)
    with factory() as session:
        assert verify(session, keyring).ok


# --- the audit API ---------------------------------------------------------------------


@pytest.fixture
def two_municipalities(client: TestClient, session: Session) -> dict[str, Any]:
    worker_a = make_account(session, "caseworker", unit=make_unit(session, A))
    worker_b = make_account(session, "caseworker", unit=make_unit(session, B))
    return {
        "case_a": create_case(client, worker_a),
        "case_b": create_case(client, worker_b),
        "coordinator_a": make_account(session, "coordinator", municipality=A),
        "admin": make_account(session, "admin"),
        "worker_a": worker_a,
    }


def test_coordinator_reads_own_municipalitys_events_admin_all(
    client: TestClient, session: Session, two_municipalities: dict[str, Any]
) -> None:
    world = two_municipalities
    assert client.get("/api/v1/cases", headers={"Authorization": "Bearer x"}).status_code == 401
    mine = client.get("/api/v1/audit-events?limit=1000", headers=world["coordinator_a"].headers)
    assert mine.status_code == 200, mine.text
    items = mine.json()["items"]
    assert {e["municipality_code"] for e in items} == {A}
    assert world["case_a"]["id"] in {e["object_id"] for e in items}
    assert world["case_b"]["id"] not in mine.text
    assert "auth.failed" not in {e["action"] for e in items}
    in_a = select(func.count(AuditEvent.id)).where(AuditEvent.municipality_code == A)
    # The listing's own event is written after the read.
    assert mine.json()["total"] == (session.scalar(in_a) or 0) - 1
    everything = client.get("/api/v1/audit-events?limit=1000", headers=world["admin"].headers)
    actions = {(e["action"], e["object_id"]) for e in everything.json()["items"]}
    assert {
        ("case.create", world["case_a"]["id"]),
        ("case.create", world["case_b"]["id"]),
    } <= actions
    assert ("auth.failed", None) in actions
    ids = [e["id"] for e in everything.json()["items"]]
    assert ids == sorted(ids, reverse=True)
    # Listing is itself audited: one event each, with the caller.
    listings = session.scalars(
        select(AuditEvent).where(AuditEvent.action == "audit.list").order_by(AuditEvent.id)
    ).all()
    assert [(e.actor_user_id, e.municipality_code) for e in listings[-2:]] == [
        (world["coordinator_a"].user.id, A),
        (world["admin"].user.id, None),
    ]


def test_filters_and_pages(
    client: TestClient, session: Session, two_municipalities: dict[str, Any]
) -> None:
    world = two_municipalities
    admin = world["admin"].headers
    case_id = world["case_a"]["id"]
    r = client.get(f"/api/v1/audit-events?object_id={case_id}", headers=admin)
    assert [(e["action"], e["object_id"]) for e in r.json()["items"]] == [("case.create", case_id)]
    r = client.get("/api/v1/audit-events?action=case.create&limit=1000", headers=admin)
    assert {e["action"] for e in r.json()["items"]} == {"case.create"}
    assert r.json()["total"] >= 2
    # The listing's event names the filters used, never their values.
    [listing] = events_after(session, audit_mark(session) - 1)
    assert listing.action == "audit.list"
    assert listing.fields == ["action"]
    created = session.scalar(select(AuditEvent.occurred_at).where(AuditEvent.object_id == case_id))
    assert created is not None
    moment = as_utc(created)
    window = {
        "from": (moment - timedelta(microseconds=1)).isoformat(),
        "to": (moment + timedelta(microseconds=1)).isoformat(),
        "object_id": case_id,
    }
    r = client.get("/api/v1/audit-events", params=window, headers=admin)
    assert r.json()["total"] == 1
    later = {"from": (moment + timedelta(seconds=1)).isoformat(), "object_id": case_id}
    assert client.get("/api/v1/audit-events", params=later, headers=admin).json()["total"] == 0
    earlier = {"to": (moment - timedelta(seconds=1)).isoformat(), "object_id": case_id}
    assert client.get("/api/v1/audit-events", params=earlier, headers=admin).json()["total"] == 0
    [listing] = events_after(session, audit_mark(session) - 1)
    assert listing.fields == ["object_id", "occurred_to"]
    assert case_id not in columns(listing)
    first = client.get("/api/v1/audit-events?limit=2&offset=0", headers=admin).json()
    second = client.get("/api/v1/audit-events?limit=2&offset=2", headers=admin).json()
    # Newest first, ids consecutive; the first listing's own event pushed the rest down one.
    top = first["items"][0]["id"]
    assert [e["id"] for e in first["items"]] == [top, top - 1]
    assert [e["id"] for e in second["items"]] == [top - 1, top - 2]
    assert second["total"] == first["total"] + 1
    bad_queries = (
        ("limit=0", "/query/limit"),
        ("from=igår", "/query/from"),
        ("to=1700000000", "/query/to"),  # a number is not a date-time
        ("to=2026-01-01", "/query/to"),  # nor is a date without time and zone
    )
    for bad, pointer in bad_queries:
        r = client.get(f"/api/v1/audit-events?{bad}", headers=admin)
        assert r.status_code == 422
        assert [e["pointer"] for e in r.json()["errors"]] == [pointer]


def test_verify_endpoint_reports_the_chain_and_is_audited(
    app: FastAPI, client: TestClient, session: Session, two_municipalities: dict[str, Any]
) -> None:
    admin = two_municipalities["admin"]
    sealed = seal(session, app.state.keyring)
    assert sealed == session.scalar(select(func.count(AuditEvent.id)))
    head = session.get_one(AuditSealHead, 1)
    r = client.get("/api/v1/audit-events/verify", headers=admin.headers)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["ok"] is True, body
    assert body["first_bad_id"] is None
    assert body["problem"] is None
    assert (body["events"], body["unsealed"]) == (sealed, 0)  # its own event came after
    assert body["last_hash"] == head.last_mac
    event = session.scalar(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(1))
    assert event is not None
    assert (event.action, event.actor_user_id, event.outcome, event.seal_seq) == (
        "audit.verify",
        admin.user.id,
        "ok",
        None,
    )
    coordinator = two_municipalities["coordinator_a"]
    r = client.get("/api/v1/audit-events/verify", headers=coordinator.headers)
    assert r.status_code == 403


def test_audit_events_carry_utc_times(
    client: TestClient, two_municipalities: dict[str, Any]
) -> None:
    r = client.get("/api/v1/audit-events?limit=5", headers=two_municipalities["admin"].headers)
    for item in r.json()["items"]:
        assert item["occurred_at"].endswith(("Z", "+00:00")), item["occurred_at"]
