"""ACCEPTANCE C1, C2, C3 and C5 with real commits: requests from several
threads against an app on a database of its own (one per engine and module;
each test has its own unit, users and keys).

C1: two writers of the same version → one 200, one 412, no lost update. On
PostgreSQL both are held until each has passed the version check, so the loser
fails at its UPDATE (SQLAlchemy's StaleDataError → 412); on SQLite the first
writer's lock makes the second see the new version at its check.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx2 import Response
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

import app.cases.service as case_service
from app.db import transaction
from app.main import create_app
from app.models import AuditEvent, Case, CaseRevision, IdempotencyRecord
from tests.conftest import make_settings, new_database_url
from tests.factories import Account, case_body, make_account, make_unit

pytestmark = pytest.mark.concurrency

API = "/api/v1/cases"
TIMEOUT = 20


@pytest.fixture(scope="module")
def live_app(
    engine_name: str, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[FastAPI]:
    url = new_database_url(engine_name, request, Path(tmp_path_factory.mktemp("live")))
    api = create_app(make_settings(url))
    yield api
    api.state.engine.dispose()


@pytest.fixture
def worker(live_app: FastAPI) -> Account:
    with transaction(live_app.state.session_factory) as session:
        return make_account(session, "caseworker", unit=make_unit(session))


def fresh_client(api: FastAPI) -> TestClient:
    """A client of its own (no lifespan, so no shared portal): one per thread."""
    return TestClient(api, raise_server_exceptions=False)


def in_threads(*calls: Callable[[], Response]) -> list[Response]:
    results: list[Response | BaseException] = [RuntimeError("no result")] * len(calls)

    def run(i: int) -> None:
        try:
            results[i] = calls[i]()
        except BaseException as exc:
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(TIMEOUT)
        assert not t.is_alive(), "a request hung"
    responses = []
    for result in results:
        if isinstance(result, BaseException):
            raise result
        responses.append(result)
    return responses


def sessions(api: FastAPI) -> sessionmaker[Session]:
    """Read sessions: on SQLite they never wait for a writer holding the lock."""
    factory: sessionmaker[Session] = api.state.read_session_factory
    return factory


def count(api: FastAPI, model: Any, *where: Any) -> int:
    with sessions(api)() as session:
        return session.scalar(select(func.count()).select_from(model).where(*where)) or 0


def case_of(api: FastAPI, case_id: str) -> Case:
    with sessions(api)() as session:
        return session.get_one(Case, uuid.UUID(case_id))


def unit_cases(api: FastAPI, account: Account) -> list[uuid.UUID]:
    with sessions(api)() as session:
        return list(
            session.scalars(select(Case.id).where(Case.unit_id == account.user.unit_id)).all()
        )


# --- C1 --------------------------------------------------------------------------


def test_two_writers_of_one_version_one_wins(
    live_app: FastAPI, worker: Account, engine_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = fresh_client(live_app)
    case_id = client.post(API, json=case_body(), headers=worker.headers).json()["id"]
    for version in (1, 2):  # to version 3, as in the acceptance test
        r = client.patch(
            f"{API}/{case_id}",
            json={"values": {"sex": version}},
            headers={**worker.headers, "If-Match": f'"{version}"'},
        )
        assert r.status_code == 200, r.text
    if engine_name == "postgresql":
        both_checked = threading.Barrier(2, timeout=TIMEOUT)
        real_check = case_service.check_version

        def check_then_wait(case: Case, expected: int) -> None:
            real_check(case, expected)
            both_checked.wait()

        monkeypatch.setattr(case_service, "check_version", check_then_wait)
    start = threading.Barrier(2, timeout=TIMEOUT)

    def write(severity: int) -> Callable[[], Response]:
        def call() -> Response:
            c = fresh_client(live_app)
            start.wait()
            return c.patch(
                f"{API}/{case_id}",
                json={"values": {"violence_severity": severity}},
                headers={**worker.headers, "If-Match": '"3"'},
            )

        return call

    responses = in_threads(write(1), write(2))
    assert sorted(r.status_code for r in responses) == [200, 412], [r.text for r in responses]
    winner = next(r for r in responses if r.status_code == 200)
    loser = next(r for r in responses if r.status_code == 412)
    assert winner.headers["etag"] == '"4"'
    assert loser.json()["type"] == "/problems/stale-version"
    if engine_name == "postgresql":  # failed at its UPDATE, after passing the check
        assert loser.json()["detail_en"] == "The case was changed by someone else. Fetch it again."
    else:  # waited for the lock, then saw version 4
        assert loser.json()["detail_en"].startswith("The case changed since you read it.")
    stored = case_of(live_app, case_id)
    assert stored.version == 4
    assert stored.values["violence_severity"] == winner.json()["values"]["violence_severity"]
    assert count(live_app, CaseRevision, CaseRevision.case_id == stored.id) == 4
    updates = count(
        live_app,
        AuditEvent,
        AuditEvent.object_id == case_id,
        AuditEvent.action == "case.update",
    )
    assert updates == 3


# --- C2 --------------------------------------------------------------------------


def test_concurrent_posts_with_one_key_make_one_case(live_app: FastAPI, worker: Account) -> None:
    start = threading.Barrier(3, timeout=TIMEOUT)
    headers = {**worker.headers, "Idempotency-Key": "samtidig-1"}

    def post() -> Response:
        c = fresh_client(live_app)
        start.wait()
        return c.post(API, json=case_body(), headers=headers)

    responses = in_threads(post, post, post)
    statuses = sorted(r.status_code for r in responses)
    assert set(statuses) <= {201, 409}, [r.text for r in responses]
    assert 201 in statuses
    ids = {r.json()["id"] for r in responses if r.status_code == 201}
    assert len(ids) == 1
    for r in responses:
        if r.status_code == 409:
            assert r.json()["type"] == "/problems/conflict"
    assert [str(i) for i in unit_cases(live_app, worker)] == list(ids)
    # Once the first has finished, a retry replays it.
    again = fresh_client(live_app).post(API, json=case_body(), headers=headers)
    assert (again.status_code, again.json()["id"]) == (201, ids.pop())
    assert len(unit_cases(live_app, worker)) == 1


def test_same_key_while_the_first_runs_is_409(
    live_app: FastAPI, worker: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    entered, release = threading.Event(), threading.Event()
    real_create = case_service.create_case

    def held(ctx: Any, data: dict[str, Any]) -> Case:
        entered.set()
        assert release.wait(TIMEOUT)
        return real_create(ctx, data)

    monkeypatch.setattr(case_service, "create_case", held)
    headers = {**worker.headers, "Idempotency-Key": "pagaende-1"}
    first: list[Response] = []
    thread = threading.Thread(
        target=lambda: first.append(
            fresh_client(live_app).post(API, json=case_body(), headers=headers)
        )
    )
    thread.start()
    try:
        assert entered.wait(TIMEOUT)
        client = fresh_client(live_app)
        r = client.post(API, json=case_body(), headers=headers)
        assert r.status_code == 409, r.text
        assert r.json()["type"] == "/problems/conflict"
        assert r.headers["content-type"].startswith("application/problem+json")
        # Another body under the running key is still a different request.
        r = client.post(API, json=case_body(caseworker_ref="HL-8"), headers=headers)
        assert r.status_code == 422, r.text
        assert unit_cases(live_app, worker) == []
    finally:
        release.set()
        thread.join(TIMEOUT)
    assert first[0].status_code == 201, first[0].text
    again = fresh_client(live_app).post(API, json=case_body(), headers=headers)
    assert again.status_code == 201
    assert again.json()["id"] == first[0].json()["id"]
    assert again.headers["etag"] == first[0].headers["etag"]
    assert len(unit_cases(live_app, worker)) == 1


# --- C3 --------------------------------------------------------------------------


def test_retry_after_a_lost_response_returns_the_original(
    live_app: FastAPI, worker: Account
) -> None:
    headers = {**worker.headers, "Idempotency-Key": "tappad-1"}
    # The request runs to completion; the client never reads the answer
    # (the connection dropped after sending).
    fresh_client(live_app).post(API, json=case_body(), headers=headers)
    [stored_id] = unit_cases(live_app, worker)  # committed: durable before the reply
    retry = fresh_client(live_app).post(API, json=case_body(), headers=headers)
    assert retry.status_code == 201
    assert retry.json()["id"] == str(stored_id)
    assert retry.headers["etag"] == '"1"'
    assert retry.headers["location"] == f"{API}/{stored_id}"
    assert unit_cases(live_app, worker) == [stored_id]
    creates = count(
        live_app,
        AuditEvent,
        AuditEvent.object_id == str(stored_id),
        AuditEvent.action == "case.create",
    )
    assert creates == 1


# --- C5 --------------------------------------------------------------------------


def test_failure_at_commit_is_a_problem_and_nothing_is_kept(
    live_app: FastAPI, worker: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_commit = Session.commit
    failed: list[bool] = []

    def commit_fails_once(self: Session) -> None:
        if not failed:
            failed.append(True)
            self.flush()  # the work reached the database; the COMMIT does not
            raise OperationalError("COMMIT", {}, Exception("disk I/O error"))
        real_commit(self)

    headers = {**worker.headers, "Idempotency-Key": "commit-1"}
    audit_before = count(live_app, AuditEvent)
    monkeypatch.setattr(Session, "commit", commit_fails_once)
    r = fresh_client(live_app).post(API, json=case_body(), headers=headers)
    assert failed == [True]
    assert r.status_code == 500, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["type"] == "/problems/internal"
    assert unit_cases(live_app, worker) == []
    assert count(live_app, AuditEvent) == audit_before
    # The reservation was released, so the retry runs (not 409) and succeeds.
    assert count(live_app, IdempotencyRecord, IdempotencyRecord.user_id == worker.user.id) == 0
    retry = fresh_client(live_app).post(API, json=case_body(), headers=headers)
    assert retry.status_code == 201, retry.text
    assert unit_cases(live_app, worker) == [uuid.UUID(retry.json()["id"])]
