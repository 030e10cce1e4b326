"""Concurrent writers append without a global lock; sealed, the chain has no
fork and no gap (ACCEPTANCE U3)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from app.audit.service import seal_all, verify
from app.db import transaction
from app.models import AuditEvent, AuditSealHead, Case
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

    keyring = committing_app.state.keyring
    assert seal_all(factory, keyring) > 0
    with factory() as session:
        result = verify(session, keyring)
        events = session.execute(
            select(AuditEvent.seal_seq, AuditEvent.seal_mac, AuditEvent.action).order_by(
                AuditEvent.seal_seq
            )
        ).all()
        head = session.get_one(AuditSealHead, 1)
        cases = session.scalar(select(func.count(Case.id)))
    assert result.ok, result
    positions = [e.seal_seq for e in events]
    assert positions == list(range(1, len(events) + 1))  # every event sealed, no gap
    assert len({e.seal_mac for e in events}) == len(events)  # no fork
    assert head.last_seq == len(events) == result.events
    actions = [e.action for e in events]
    assert actions.count("case.create") == cases == WRITERS - failures + 1
    assert actions.count("auth.failed") == failures
