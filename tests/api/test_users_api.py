"""The administration API: units, users, tokens, key versions.

Admin manages everything; a coordinator manages the caseworkers and
coordinators of their own municipality; nobody else anything. Every write is
audited; a rejected request writes nothing; a token is shown once and only its
hash is stored.
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.idempotency import KEY_POINTER
from app.models import ApiToken, AuditEvent, MunicipalityKey, Unit, User
from tests.factories import Account, create_case, make_account, make_unit

A, B = "0180", "1480"


def audit_mark(session: Session) -> int:
    return session.scalar(select(func.coalesce(func.max(AuditEvent.id), 0))) or 0


def events_after(session: Session, mark: int) -> list[AuditEvent]:
    session.expire_all()
    return list(
        session.scalars(select(AuditEvent).where(AuditEvent.id > mark).order_by(AuditEvent.id))
    )


def counts(session: Session) -> tuple[int, int, int, int]:
    session.expire_all()
    return (
        session.scalar(select(func.count(Unit.id))) or 0,
        session.scalar(select(func.count(User.id))) or 0,
        session.scalar(select(func.count(ApiToken.id))) or 0,
        session.scalar(select(func.count(AuditEvent.id))) or 0,
    )


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def pointers(response: Any) -> list[str]:
    return [e["pointer"] for e in response.json()["errors"]]


# --- units ---------------------------------------------------------------------


def test_admin_creates_a_unit_once_and_it_is_audited(client: TestClient, session: Session) -> None:
    admin = make_account(session, "admin")
    mark = audit_mark(session)
    body = {"name": "Kvinnofridsenheten", "kind": "myndighet", "municipality_code": A}
    r = client.post(
        "/api/v1/units", json=body, headers={**admin.headers, "Idempotency-Key": "unit-1"}
    )
    assert r.status_code == 201, r.text
    unit_id = uuid.UUID(r.json()["id"])
    assert r.headers["location"] == f"/api/v1/units/{unit_id}"
    assert r.json()["municipality_code"] == A
    assert r.json()["is_active"] is True
    again = client.post(
        "/api/v1/units", json=body, headers={**admin.headers, "Idempotency-Key": "unit-1"}
    )
    assert again.status_code == 201
    assert again.json()["id"] == str(unit_id)
    assert session.scalar(select(func.count(Unit.id)).where(Unit.name == body["name"])) == 1
    # The replay shows the unit again: audited as a read, nothing else written.
    event, replay = events_after(session, mark)
    assert (replay.action, replay.object_id) == ("unit.read", str(unit_id))
    assert (event.action, event.object_type, event.object_id) == (
        "unit.create",
        "unit",
        str(unit_id),
    )
    assert (event.actor_user_id, event.actor_role) == (admin.user.id, "admin")
    assert event.municipality_code == A
    assert event.fields == ["kind", "municipality_code", "name"]


def test_rejected_unit_writes_nothing(client: TestClient, session: Session) -> None:
    admin = make_account(session, "admin")
    coordinator = make_account(session, "coordinator", municipality=A)
    make_unit(session, A, name="Finns redan")
    before = counts(session)
    cases: list[tuple[Account, dict[str, Any], int, list[str]]] = [
        (admin, {"name": "Finns redan", "municipality_code": A}, 422, ["/name"]),
        (admin, {"name": "X", "municipality_code": "9999"}, 422, ["/municipality_code"]),
        (admin, {"name": "X", "municipality_code": A, "kind": "okänd"}, 422, ["/kind"]),
        (admin, {"name": "X", "municipality_code": A, "district_code": "1480-01"}, 422,
         ["/district_code"]),
        (admin, {"name": "X", "municipality_code": A, "is_active": False}, 422, ["/is_active"]),
        (coordinator, {"name": "X", "municipality_code": A}, 403, []),
    ]  # fmt: skip
    for account, body, status, expected in cases:
        r = client.post("/api/v1/units", json=body, headers=account.headers)
        assert r.status_code == status, (body, r.text)
        assert r.headers["content-type"] == "application/problem+json"
        if expected:
            assert pointers(r) == expected
        else:
            assert r.json()["type"] == "/problems/forbidden"
    assert counts(session) == before


def test_unit_list_is_scoped(client: TestClient, session: Session) -> None:
    unit_a, unit_b = make_unit(session, A), make_unit(session, B)
    admin = make_account(session, "admin")
    coordinator_b = make_account(session, "coordinator", municipality=B)
    seen = {
        u["id"]
        for u in client.get("/api/v1/units?limit=1000", headers=admin.headers).json()["items"]
    }
    assert {str(unit_a.id), str(unit_b.id)} <= seen
    page = client.get("/api/v1/units", headers=coordinator_b.headers).json()
    assert {u["municipality_code"] for u in page["items"]} == {B}
    assert str(unit_b.id) in {u["id"] for u in page["items"]}
    r = client.get(f"/api/v1/units/{unit_b.id}", headers=coordinator_b.headers)
    assert r.status_code == 200
    assert r.json()["name"] == unit_b.name
    assert client.get(f"/api/v1/units/{unit_a.id}", headers=admin.headers).status_code == 200
    asked_for_a = client.get(f"/api/v1/units?municipality_code={A}", headers=coordinator_b.headers)
    assert asked_for_a.json()["items"] == []
    assert asked_for_a.json()["total"] == 0


# --- users -------------------------------------------------------------------------


def test_admin_creates_a_user_whose_token_is_shown_once(
    client: TestClient, session: Session
) -> None:
    unit = make_unit(session, A)
    admin = make_account(session, "admin")
    mark = audit_mark(session)
    body: dict[str, Any] = {"username": "anna.handlaggare", "role": "caseworker", "municipality_code": A,
            "unit_id": str(unit.id), "expires_in_days": 30}  # fmt: skip
    r = client.post("/api/v1/users", json=body, headers={**admin.headers, "Idempotency-Key": "u1"})
    assert r.status_code == 201, r.text
    created = r.json()
    token = created["token"]
    assert isinstance(token, str)
    assert len(token) >= 32
    assert created["token_expires_at"] is not None
    assert (created["role"], created["municipality_code"], created["unit_id"]) == (
        "caseworker", A, str(unit.id)
    )  # fmt: skip
    assert created["active_tokens"] == 1
    assert r.headers["location"] == f"/api/v1/users/{created['id']}"
    # The token works, and only its hash is stored.
    assert client.get("/api/v1/cases", headers=bearer(token)).status_code == 200
    stored = session.scalars(
        select(ApiToken).where(ApiToken.user_id == uuid.UUID(created["id"]))
    ).all()
    assert len(stored) == 1
    assert stored[0].token_hash != token
    assert token not in repr([(t.token_hash, t.label) for t in stored])
    # A replay returns the same user but never the token again.
    again = client.post(
        "/api/v1/users", json=body, headers={**admin.headers, "Idempotency-Key": "u1"}
    )
    assert again.status_code == 201
    assert again.json()["id"] == created["id"]
    assert again.json()["token"] is None
    assert session.scalar(select(func.count(User.id)).where(User.username == body["username"])) == 1
    creates = [e for e in events_after(session, mark) if e.action == "user.create"]
    assert len(creates) == 1
    event = creates[0]
    assert event.object_id == created["id"]
    assert event.municipality_code == A
    assert event.fields == ["municipality_code", "role", "token", "unit_id", "username"]
    columns = [getattr(event, c.key) for c in AuditEvent.__table__.columns]
    assert token not in repr(columns)
    assert body["username"] not in repr(columns)


def test_same_idempotency_key_with_another_body_is_rejected(
    client: TestClient, session: Session
) -> None:
    admin = make_account(session, "admin")
    headers = {**admin.headers, "Idempotency-Key": "k-users"}
    first = {"username": "nationell-1", "role": "national"}
    assert client.post("/api/v1/users", json=first, headers=headers).status_code == 201
    before = counts(session)
    r = client.post("/api/v1/users", json={**first, "username": "nationell-2"}, headers=headers)
    assert r.status_code == 422
    assert pointers(r) == [KEY_POINTER]
    assert counts(session) == before


def test_rejected_user_writes_nothing(client: TestClient, session: Session) -> None:
    unit_a, unit_b = make_unit(session, A), make_unit(session, B)
    admin = make_account(session, "admin")
    coordinator = make_account(session, "coordinator", municipality=A)
    taken = make_account(session, "national")
    before = counts(session)
    invalid: list[tuple[Account, dict[str, Any], list[str]]] = [
        (admin, {"username": taken.user.username, "role": "national"}, ["/username"]),
        (admin, {"username": "a b", "role": "national"}, ["/username"]),
        (admin, {"username": "ny-anv", "role": "superuser"}, ["/role"]),
        (admin, {"username": "ny-anv", "role": "caseworker", "municipality_code": A}, ["/unit_id"]),
        (admin, {"username": "ny-anv", "role": "coordinator"}, ["/municipality_code"]),
        (admin, {"username": "ny-anv", "role": "regional", "county_code": "99"}, ["/county_code"]),
        (admin, {"username": "ny-anv", "role": "national", "expires_in_days": 0}, ["/expires_in_days"]),
        (admin, {"username": "ny-anv", "role": "national", "password": "x"}, ["/password"]),
        # A coordinator's caseworker needs a unit of the coordinator's own municipality.
        (coordinator, {"username": "ny-anv", "role": "caseworker", "unit_id": str(unit_b.id)},
         ["/unit_id"]),
    ]  # fmt: skip
    for account, body, expected in invalid:
        r = client.post("/api/v1/users", json=body, headers=account.headers)
        assert r.status_code == 422, (body, r.text)
        assert r.json()["type"] == "/problems/validation"
        assert pointers(r) == expected, body
    forbidden = [
        {"username": "ny-anv", "role": "admin"},
        {"username": "ny-anv", "role": "national"},
        {"username": "ny-anv", "role": "regional", "county_code": "01"},
        {"username": "ny-anv", "role": "coordinator", "municipality_code": B},
        {"username": "ny-anv", "role": "caseworker", "municipality_code": B,
         "unit_id": str(unit_b.id)},
    ]  # fmt: skip
    for body in forbidden:
        r = client.post("/api/v1/users", json=body, headers=coordinator.headers)
        assert r.status_code == 403, (body, r.text)
        assert r.json()["type"] == "/problems/forbidden"
    assert counts(session) == before
    ok = {"username": "ny-anv", "role": "caseworker", "unit_id": str(unit_a.id)}
    r = client.post("/api/v1/users", json=ok, headers=coordinator.headers)
    assert r.status_code == 201, r.text
    assert r.json()["municipality_code"] == A


def test_user_list_is_scoped_and_counts_active_tokens(client: TestClient, session: Session) -> None:
    unit_a, unit_b = make_unit(session, A), make_unit(session, B)
    admin = make_account(session, "admin")
    coordinator_a = make_account(session, "coordinator", municipality=A)
    worker_a = make_account(session, "caseworker", unit=unit_a)
    worker_b = make_account(session, "caseworker", unit=unit_b)
    regional = make_account(session, "regional", county="01")
    mark = audit_mark(session)
    everyone = client.get("/api/v1/users?limit=1000", headers=admin.headers).json()
    names = {u["username"] for u in everyone["items"]}
    accounts = (admin, coordinator_a, worker_a, worker_b, regional)
    assert {a.user.username for a in accounts} <= names
    assert everyone["total"] >= len(accounts)
    mine = client.get("/api/v1/users", headers=coordinator_a.headers).json()
    assert {u["username"] for u in mine["items"]} == {
        coordinator_a.user.username,
        worker_a.user.username,
    }
    assert mine["total"] == 2
    assert {u["active_tokens"] for u in mine["items"]} == {1}
    filtered = client.get("/api/v1/users?role=caseworker", headers=coordinator_a.headers).json()
    assert [u["username"] for u in filtered["items"]] == [worker_a.user.username]
    other = client.get(f"/api/v1/users?municipality_code={B}", headers=coordinator_a.headers)
    assert other.json()["items"] == []
    lists = [e for e in events_after(session, mark) if e.action == "user.list"]
    assert [e.fields for e in lists] == [[], [], ["role"], ["municipality_code"]]


def test_read_user_in_scope(client: TestClient, session: Session) -> None:
    unit_a = make_unit(session, A)
    coordinator_a = make_account(session, "coordinator", municipality=A)
    worker_a = make_account(session, "caseworker", unit=unit_a)
    admin = make_account(session, "admin")
    r = client.get(f"/api/v1/users/{worker_a.user.id}", headers=coordinator_a.headers)
    assert r.status_code == 200, r.text
    assert r.json()["username"] == worker_a.user.username
    assert "token" not in r.json()
    # An admin is outside a coordinator's scope: as if missing.
    r = client.get(f"/api/v1/users/{admin.user.id}", headers=coordinator_a.headers)
    assert r.status_code == 404


def test_revoke_and_reissue(client: TestClient, session: Session) -> None:
    unit_a = make_unit(session, A)
    admin = make_account(session, "admin")
    worker = make_account(session, "caseworker", unit=unit_a)
    coordinator = make_account(session, "coordinator", municipality=A)
    r = client.post(
        f"/api/v1/users/{worker.user.id}/tokens",
        json={"expires_in_days": 7},
        headers=coordinator.headers,
    )
    assert r.status_code == 201, r.text
    second = r.json()["token"]
    assert r.json()["user_id"] == str(worker.user.id)
    for token in (worker.token, second):
        assert client.get("/api/v1/cases", headers=bearer(token)).status_code == 200
    mark = audit_mark(session)
    r = client.post(f"/api/v1/users/{worker.user.id}/revoke", headers=coordinator.headers)
    assert r.status_code == 200, r.text
    assert r.json() == {"user_id": str(worker.user.id), "revoked_tokens": 2, "is_active": True}
    [event] = events_after(session, mark)
    assert (event.action, event.object_id, event.fields) == (
        "user.revoke", str(worker.user.id), ["tokens"]
    )  # fmt: skip
    for token in (worker.token, second):
        assert client.get("/api/v1/cases", headers=bearer(token)).status_code == 401
    r = client.post(
        f"/api/v1/users/{worker.user.id}/revoke", json={"deactivate": True}, headers=admin.headers
    )
    assert r.json() == {"user_id": str(worker.user.id), "revoked_tokens": 0, "is_active": False}
    before = counts(session)
    r = client.post(f"/api/v1/users/{worker.user.id}/tokens", json={}, headers=admin.headers)
    assert r.status_code == 409
    assert r.json()["type"] == "/problems/conflict"
    assert counts(session) == before


# --- keys ----------------------------------------------------------------------------


def test_keys_list_versions_never_key_material(client: TestClient, session: Session) -> None:
    worker = make_account(session, "caseworker", unit=make_unit(session, A))
    admin = make_account(session, "admin")
    create_case(client, worker)  # creates the municipality's keys on first use
    r = client.get(f"/api/v1/keys?municipality_code={A}", headers=admin.headers)
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    assert {(k["municipality_code"], k["purpose"], k["version"]) for k in items} >= {
        (A, "pseudonym", 1),
        (A, "data", 1),
    }
    assert all(
        set(k) == {"municipality_code", "purpose", "version", "created_at", "retired_at"}
        for k in items
    )
    for row in session.scalars(select(MunicipalityKey)):
        for form in (row.wrapped_key.hex(), row.master_key_id):
            assert form not in r.text
    assert client.get("/api/v1/keys", headers=worker.headers).status_code == 403
