"""POST /api/v1/imports and its status resource (both engines)."""

from __future__ import annotations

import json
import logging
import uuid
from datetime import date
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.db import transaction
from app.models import AuditEvent, Case, ImportJob, Unit
from app.synthetic.generator import GeneratorConfig, generate_cases
from app.synthetic.identity import units_for
from tests.factories import Account, make_account, make_unit

MUNICIPALITY = "0117"  # one synthetic unit
TODAY = date(2025, 11, 25)


def jsonl(rows: list[dict[str, Any]]) -> bytes:
    return "\n".join(json.dumps(r, ensure_ascii=False) for r in rows).encode()


def generated(n: int, seed: int = 21) -> list[dict[str, Any]]:
    config = GeneratorConfig(today=TODAY, cases=n, seed=seed, municipalities=(MUNICIPALITY,))
    return list(generate_cases(config))


def demo_unit(session: Session) -> Unit:
    synthetic = units_for(MUNICIPALITY)[0]
    return make_unit(session, MUNICIPALITY, name=synthetic.name, kind="bada")


def post(client: TestClient, account: Account, body: bytes, **params: Any) -> Any:
    return client.post(
        "/api/v1/imports",
        content=body,
        params=params,
        headers={**account.headers, "Content-Type": "application/x-ndjson"},
    )


def count(session: Session, model: Any) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(model)) or 0


def test_coordinator_imports_a_small_file_and_reimport_changes_nothing(
    client: TestClient, session: Session, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)  # the job's log lines are written, and hold no values
    demo_unit(session)
    coordinator = make_account(session, "coordinator", municipality=MUNICIPALITY)
    rows = generated(6)
    r = post(client, coordinator, jsonl(rows))
    assert r.status_code == 201, r.text
    job = r.json()
    assert r.headers["location"] == f"/api/v1/imports/{job['id']}"
    assert (job["state"], job["lines"], job["created"], job["unchanged"], job["errors"]) == (
        "done",
        6,
        6,
        0,
        [],
    )
    assert count(session, Case) == 6
    status = client.get(f"/api/v1/imports/{job['id']}", headers=coordinator.headers)
    assert status.status_code == 200
    assert status.json() == job
    listed = client.get("/api/v1/cases", headers=coordinator.headers).json()
    assert (len(listed["items"]), listed["next_cursor"]) == (6, None)
    events = session.scalars(
        select(AuditEvent.action).where(AuditEvent.action == "import.create")
    ).all()
    assert len(events) == 1

    again = post(client, coordinator, jsonl(rows))
    assert again.status_code == 201
    assert (again.json()["created"], again.json()["unchanged"]) == (0, 6)
    assert count(session, Case) == 6
    assert "import_finished" in caplog.text
    for row in rows:
        assert row["client_id"] not in caplog.text


def test_file_with_broken_lines_is_rejected_whole(client: TestClient, session: Session) -> None:
    demo_unit(session)
    coordinator = make_account(session, "coordinator", municipality=MUNICIPALITY)
    rows = generated(3)
    rows[1]["values"]["origin"] = 42
    rows[2]["municipality"] = "0180"
    r = post(client, coordinator, jsonl(rows) + b"\n[1, 2]\n")
    assert r.status_code == 201, r.text
    job = r.json()
    assert job["state"] == "rejected"
    assert [(e["line"], e["pointer"], e["code"]) for e in job["errors"]] == [
        (2, "/values/origin", "unknown_code"),
        (3, "/municipality", "other_municipality"),
        (4, "", "wrong_type"),
    ]
    assert (job["created"], job["invalid"]) == (0, 3)
    assert count(session, Case) == 0


def test_caseworker_imports_only_into_their_own_unit(client: TestClient, session: Session) -> None:
    unit = demo_unit(session)
    other = make_unit(session, MUNICIPALITY, name="Annan enhet")
    worker = make_account(session, "caseworker", unit=unit)
    rows = generated(2)
    rows[1]["unit"] = other.name
    del rows[0]["unit"]  # a caseworker's lines may leave out the unit
    r = post(client, worker, jsonl(rows), skip_invalid="true")
    assert r.status_code == 201, r.text
    job = r.json()
    assert (job["state"], job["created"]) == ("done", 1)
    assert [(e["line"], e["pointer"], e["code"]) for e in job["errors"]] == [
        (2, "/unit", "unknown_unit")
    ]
    session.expire_all()
    assert session.scalars(select(Case.unit_id)).all() == [unit.id]


def test_status_is_hidden_from_other_municipalities_and_roles(
    client: TestClient, session: Session
) -> None:
    demo_unit(session)
    coordinator = make_account(session, "coordinator", municipality=MUNICIPALITY)
    job = post(client, coordinator, jsonl(generated(1))).json()
    outsider = make_account(session, "coordinator", municipality="0180")
    missing = client.get(f"/api/v1/imports/{uuid.uuid4()}", headers=outsider.headers)
    hidden = client.get(f"/api/v1/imports/{job['id']}", headers=outsider.headers)
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json()["type"] == missing.json()["type"] == "/problems/not-found"
    national = make_account(session, "national")
    assert client.get(f"/api/v1/imports/{job['id']}", headers=national.headers).status_code == 403
    r = post(client, national, jsonl(generated(1)))
    assert r.status_code == 403
    assert count(session, ImportJob) == 1


def test_empty_or_undecodable_body_is_a_problem(client: TestClient, session: Session) -> None:
    coordinator = make_account(session, "coordinator", municipality=MUNICIPALITY)
    for body, code in ((b"\n  \n", "empty"), (b"\xff\xfe{", "string_unicode")):
        r = post(client, coordinator, body)
        assert r.status_code == 422
        assert r.headers["content-type"] == "application/problem+json"
        assert [e["code"] for e in r.json()["errors"]] == [code]
    assert count(session, ImportJob) == 0


def test_large_file_is_imported_in_the_background(committing_app: FastAPI) -> None:
    committing_app.state.import_sync_max_lines = 4  # instead of 100: a small "large" file
    factory = committing_app.state.session_factory
    with transaction(factory) as session:
        demo_unit(session)
        coordinator = make_account(session, "coordinator", municipality=MUNICIPALITY)
    rows = generated(12)
    with TestClient(committing_app) as client:
        r = post(client, coordinator, jsonl(rows))
        assert r.status_code == 202, r.text
        job_id = uuid.UUID(r.json()["id"])
        assert r.json()["state"] in ("queued", "running", "done")
        assert committing_app.state.import_runner.join(job_id, timeout=300)
        job = client.get(f"/api/v1/imports/{job_id}", headers=coordinator.headers).json()
    assert (job["state"], job["created"], job["invalid"]) == ("done", 12, 0)
    assert job["finished_at"] is not None
    with factory() as session:
        assert session.scalar(select(func.count()).select_from(Case)) == 12
        marked = session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(
                AuditEvent.request_id == f"import:{job_id.hex}", AuditEvent.action == "case.create"
            )
        )
        assert marked == 12
