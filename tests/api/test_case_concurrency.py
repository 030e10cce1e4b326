"""ACCEPTANCE C1 and C2, one request after another: optimistic locking with
ETag/If-Match, and Idempotency-Key replays. The races themselves (threads,
real commits), C3 and C5 are in tests/db/test_concurrency_cases.py."""

from __future__ import annotations

import uuid

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import AuditEvent, Case, Intervention
from tests.api.test_case_support import (
    API,
    INTERVENTION,
    make_world,
    problem,
    state,
    with_version,
)
from tests.factories import PNR_OTHER, case_body


def test_stale_write_is_412_and_not_applied(client: TestClient, session: Session) -> None:
    world = make_world(session)
    a, b = world.worker, world.coordinator  # two users of the same municipality
    case_id = client.post(API, json=case_body(), headers=a.headers).json()["id"]
    for version, sex in ((1, 2), (2, 1)):  # bring the case to version 3
        r = client.patch(
            f"{API}/{case_id}", json={"values": {"sex": sex}}, headers=with_version(a, version)
        )
        assert r.status_code == 200, r.text
    # A and B both read version 3.
    read_a = client.get(f"{API}/{case_id}", headers=a.headers)
    read_b = client.get(f"{API}/{case_id}", headers=b.headers)
    assert read_a.headers["etag"] == read_b.headers["etag"] == '"3"'
    r = client.patch(
        f"{API}/{case_id}",
        json={"values": {"violence_severity": 2}},
        headers={**a.headers, "If-Match": read_a.headers["etag"]},
    )
    assert r.status_code == 200, r.text
    assert r.headers["etag"] == '"4"'
    before = state(session)
    r = client.patch(
        f"{API}/{case_id}",
        json={"values": {"violence_severity": 3, "honour_context": 1}},
        headers={**b.headers, "If-Match": read_b.headers["etag"]},
    )
    problem(r, 412, "stale-version")
    assert state(session) == before
    stored = session.scalars(select(Case.values).where(Case.id == uuid.UUID(case_id))).one()
    assert stored["violence_severity"] == 2
    assert "honour_context" not in stored
    r = client.patch(f"{API}/{case_id}", json={"values": {"honour_context": 1}}, headers=b.headers)
    problem(r, 428, "if-match-required")
    assert state(session) == before
    # B fetches again and redoes the change.
    fresh = client.get(f"{API}/{case_id}", headers=b.headers)
    r = client.patch(
        f"{API}/{case_id}",
        json={"values": {"honour_context": 1}},
        headers={**b.headers, "If-Match": fresh.headers["etag"]},
    )
    assert (r.status_code, r.headers["etag"]) == (200, '"5"')


def _cases_of(session: Session, unit_id: uuid.UUID) -> int:
    return (
        session.scalar(select(func.count()).select_from(Case).where(Case.unit_id == unit_id)) or 0
    )


def _creates(session: Session) -> int:
    return (
        session.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "case.create")
        )
        or 0
    )


def test_same_key_twice_replays_the_first_response(client: TestClient, session: Session) -> None:
    world = make_world(session)
    unit_id = world.worker.user.unit_id
    assert unit_id is not None
    headers = {**world.worker.headers, "Idempotency-Key": "reg-2025-001"}
    first = client.post(API, json=case_body(), headers=headers)
    assert first.status_code == 201, first.text
    creates = _creates(session)
    before = state(session)
    # Key order does not make it a different request.
    body = dict(reversed(list(case_body().items())))
    again = client.post(API, json=body, headers=headers)
    assert again.status_code == 201
    assert again.json() == first.json()
    for header in ("etag", "location"):
        assert again.headers[header] == first.headers[header]
    # Nothing is written again; showing the case once more is audited as a read.
    after = state(session).counts
    assert after == {**before.counts, "audit_events": before.counts["audit_events"] + 1}
    assert (_cases_of(session, unit_id), _creates(session)) == (1, creates)
    last = session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(1)).one()
    assert (last.action, last.object_id) == ("case.read", first.json()["id"])


def test_same_key_with_another_body_is_422(client: TestClient, session: Session) -> None:
    world = make_world(session)
    headers = {**world.worker.headers, "Idempotency-Key": "reg-2025-002"}
    assert client.post(API, json=case_body(), headers=headers).status_code == 201
    before = state(session)
    r = client.post(API, json=case_body(client_id=PNR_OTHER), headers=headers)
    problem(r, 422, "validation", ["/headers/Idempotency-Key"])
    # The same key on another route is another request too.
    case_id = client.get(API, headers=world.worker.headers).json()["items"][0]["id"]
    r = client.post(f"{API}/{case_id}/interventions", json=INTERVENTION, headers=headers)
    problem(r, 422, "validation", ["/headers/Idempotency-Key"])
    after = state(session)
    assert after.cases == before.cases
    assert after.counts["cases"] == before.counts["cases"]


def test_keys_belong_to_their_user(client: TestClient, session: Session) -> None:
    world = make_world(session)
    other = world.coordinator
    mine = client.post(
        API, json=case_body(), headers={**world.worker.headers, "Idempotency-Key": "k"}
    )
    unit = str(world.worker.user.unit_id)
    theirs = client.post(
        API, json=case_body(unit_id=unit), headers={**other.headers, "Idempotency-Key": "k"}
    )
    assert (mine.status_code, theirs.status_code) == (201, 201)
    assert mine.json()["id"] != theirs.json()["id"]


def test_rejected_request_releases_its_key(client: TestClient, session: Session) -> None:
    world = make_world(session)
    headers = {**world.worker.headers, "Idempotency-Key": "reg-2025-003"}
    before = state(session)
    problem(client.post(API, json=case_body(values={"sex": 9}), headers=headers), 422, "validation")
    problem(
        client.post(API, json=case_body(actualised_on="2999-01-01"), headers=headers),
        422,
        "validation",
        ["/actualised_on"],
    )
    assert state(session) == before
    r = client.post(API, json=case_body(), headers=headers)
    assert r.status_code == 201, r.text


def test_child_and_close_replays_write_once(client: TestClient, session: Session) -> None:
    world = make_world(session)
    case_id = client.post(API, json=case_body(), headers=world.worker.headers).json()["id"]
    headers = {**world.worker.headers, "Idempotency-Key": "insats-1"}
    first = client.post(f"{API}/{case_id}/interventions", json=INTERVENTION, headers=headers)
    again = client.post(f"{API}/{case_id}/interventions", json=INTERVENTION, headers=headers)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    assert again.headers["location"] == first.headers["location"]
    count = session.scalar(
        select(func.count())
        .select_from(Intervention)
        .where(Intervention.case_id == uuid.UUID(case_id))
    )
    assert count == 1
    close = {**with_version(world.worker, 2), "Idempotency-Key": "avslut-1"}
    first = client.post(f"{API}/{case_id}/close", json={"closed_on": "2025-06-01"}, headers=close)
    again = client.post(f"{API}/{case_id}/close", json={"closed_on": "2025-06-01"}, headers=close)
    # The retry is the first answer, not "closed twice" (409) nor "stale" (412).
    assert (first.status_code, again.status_code) == (200, 200)
    assert again.json() == first.json()
    assert again.headers["etag"] == '"3"'
