"""Concurrent writers append to one chain: no fork, no gap (ACCEPTANCE U3)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from app.audit.service import verify
from app.db import transaction
from app.models import AuditChainHead, AuditEvent, Case
from tests.factories import case_body, create_case, make_account, make_unit

WRITERS = 50


@pytest.mark.concurrency
def test_fifty_concurrent_writers_leave_one_unbroken_chain(committing_app: FastAPI) -> None:
    factory = committing_app.state.session_factory
    with transaction(factory) as session:
        unit = make_unit(session, "0180")
        workers = [make_account(session, "caseworker", unit=unit) for _ in range(5)]
    create_case(TestClient(committing_app), workers[0])  # the municipality's keys exist now
    start = threading.Barrier(WRITERS, timeout=60)

    def write(i: int) -> int:
        client = TestClient(committing_app, raise_server_exceptions=False)
        if i % 10 == 9:  # a failed authentication is audited in a transaction of its own
            headers = {"Authorization": f"Bearer guess-{i}"}
        else:
            headers = workers[i % len(workers)].headers
        start.wait()
        response = client.post("/api/v1/cases", json=case_body(), headers=headers)
        return response.status_code

    with ThreadPoolExecutor(max_workers=WRITERS) as pool:
        statuses = list(pool.map(write, range(WRITERS)))
    failures = WRITERS // 10
    assert sorted(statuses) == [201] * (WRITERS - failures) + [401] * failures

    with factory() as session:
        result = verify(session)
        events = session.execute(
            select(AuditEvent.id, AuditEvent.prev_hash, AuditEvent.action).order_by(AuditEvent.id)
        ).all()
        head = session.get(AuditChainHead, 1)
        cases = session.scalar(select(func.count(Case.id)))
    assert result.ok, result
    ids = [e.id for e in events]
    assert ids == list(range(1, len(ids) + 1))  # no gap
    assert len({e.prev_hash for e in events}) == len(events)  # no fork
    assert head is not None
    assert head.last_event_id == len(events) == result.events
    actions = [e.action for e in events]
    assert actions.count("case.create") == cases == WRITERS - failures + 1
    assert actions.count("auth.failed") == failures
