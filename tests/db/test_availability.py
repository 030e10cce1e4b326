"""No request waits on another's transaction (issue 11; ACCEPTANCE C8, C9), on
both engines:

(a) while another connection holds SQLite's write lock, or a PostgreSQL row
    lock on the case, a GET of the case answers 200 and a PATCH answers 503 with
    Retry-After within 5 s, writing nothing;
(b) a burst of 150 concurrent creates and 50 list requests against a real
    ``isu serve`` gives no 5xx;
(c) ``isu import`` of 3 000 cases while 4 clients write gives those clients no
    5xx and no request over 2 s;
(d) after ``kill -9`` of the server, every acknowledged case is there and the
    audit chain seals and verifies.

Latencies are asserted only where the issue makes them the behaviour (a
bounded wait instead of a hang); throughput is measured in bench/load.py.
"""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text
from typer.testing import CliRunner

from app.cli import app as cli
from app.config import get_settings
from app.db import make_engine, make_session_factory, transaction
from app.main import create_app
from app.models import Case, CaseRevision
from app.synthetic.generator import GeneratorConfig, generate_cases
from tests.conftest import TEST_MASTER_KEY, make_settings
from tests.factories import case_body
from tests.support.serve import caseworker, isu_serve, serve_environment

pytestmark = pytest.mark.concurrency

ISU = [sys.executable, "-c", "from app.cli import main; main()"]
BUSY_BOUND_SECONDS = 5  # the bound for answering 503 (lock timeout is 3 s)


@contextmanager
def lock_held(url: str, engine_name: str, case_id: str) -> Iterator[None]:
    """Another connection holds the write lock (SQLite) or the case's row (PostgreSQL)."""
    engine = make_engine(url)
    with engine.connect() as conn:
        if engine_name == "sqlite":
            conn.exec_driver_sql("UPDATE units SET name = name")  # BEGIN IMMEDIATE, then a write
        else:
            conn.execute(text("SELECT id FROM cases WHERE id = :i FOR UPDATE"), {"i": case_id})
        try:
            yield
        finally:
            conn.rollback()
    engine.dispose()


def test_a_held_lock_lets_reads_through_and_answers_writes_503(
    fresh_database_url: str, engine_name: str
) -> None:
    # As served: read audit events are spooled by the background thread.
    api = create_app(make_settings(fresh_database_url, background_tasks=True))
    worker = caseworker(fresh_database_url)
    headers = {"Authorization": f"Bearer {worker.token}"}
    try:
        with TestClient(api, raise_server_exceptions=False) as client:
            case = client.post("/api/v1/cases", json=case_body(), headers=headers).json()
            path = f"/api/v1/cases/{case['id']}"
            with lock_held(fresh_database_url, engine_name, case["id"]):
                started = time.monotonic()
                read = client.get(path, headers=headers)
                read_seconds = time.monotonic() - started
                started = time.monotonic()
                write = client.patch(
                    path, json={"values": {"sex": 2}}, headers={**headers, "If-Match": '"1"'}
                )
                write_seconds = time.monotonic() - started
            after = client.get(path, headers=headers).json()
    finally:
        api.state.engine.dispose()
    assert read.status_code == 200, read.text
    assert read_seconds < 1, read_seconds  # at once, not after the lock timeout
    assert write.status_code == 503, write.text
    assert write.json()["type"] == "/problems/busy"
    assert write.headers["content-type"].startswith("application/problem+json")
    assert int(write.headers["retry-after"]) >= 1
    assert write_seconds < BUSY_BOUND_SECONDS, write_seconds
    assert (after["version"], after["values"].get("sex")) == (1, case["values"]["sex"])
    engine = make_engine(fresh_database_url)
    with make_session_factory(engine)() as session:
        revisions = session.scalar(select(func.count(CaseRevision.id)))
    engine.dispose()
    assert revisions == 1  # the create only: the refused PATCH wrote nothing


async def _burst(url: str, token: str) -> list[int]:
    headers = {"Authorization": f"Bearer {token}"}
    limits = httpx.Limits(max_connections=200)
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as client:
        creates = [
            client.post("/api/v1/cases", json=case_body(), headers=headers) for _ in range(150)
        ]
        lists = [client.get("/api/v1/cases", headers=headers) for _ in range(50)]
        responses = await asyncio.gather(*creates, *lists)
    return [r.status_code for r in responses]


def test_a_burst_of_creates_and_lists_gets_no_5xx(fresh_database_url: str, tmp_path: Path) -> None:
    worker = caseworker(fresh_database_url)
    with isu_serve(fresh_database_url, tmp_path) as served:
        statuses = asyncio.run(_burst(served.url, worker.token))
    assert sorted(set(statuses)) == [200, 201], statuses
    assert statuses.count(201) == 150
    engine = make_engine(fresh_database_url)
    with make_session_factory(engine)() as session:
        assert session.scalar(select(func.count(Case.id))) == 150
    engine.dispose()


def _write_import_file(path: Path, cases: int) -> None:
    config = GeneratorConfig(
        today=date(2025, 6, 30), cases=cases, seed=11, municipalities=("0180",)
    )
    with path.open("w", encoding="utf-8") as handle:
        for line in generate_cases(config):
            handle.write(json.dumps(line, ensure_ascii=False) + "\n")


def test_an_import_does_not_hold_up_the_writers(fresh_database_url: str, tmp_path: Path) -> None:
    lines = tmp_path / "cases.jsonl"
    _write_import_file(lines, 3000)
    workers = [caseworker(fresh_database_url) for _ in range(4)]
    env = serve_environment(fresh_database_url, tmp_path)
    results: list[tuple[int, float]] = []
    done = threading.Event()

    def write(token: str, url: str) -> None:
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=url, timeout=60) as client:
            while not done.is_set():
                started = time.monotonic()
                r = client.post("/api/v1/cases", json=case_body(), headers=headers)
                results.append((r.status_code, time.monotonic() - started))

    with isu_serve(fresh_database_url, tmp_path) as served:
        clients = [threading.Thread(target=write, args=(w.token, served.url)) for w in workers]
        for thread in clients:
            thread.start()
        try:
            imported = subprocess.run(
                [*ISU, "import", str(lines), "--create-units"],
                env=env,
                capture_output=True,
                timeout=600,
                check=False,
            )
        finally:
            done.set()
            for thread in clients:
                thread.join(60)
    assert imported.returncode == 0, imported.stdout.decode()[-1500:]
    statuses = [status for status, _ in results]
    slowest = max(seconds for _, seconds in results)
    assert len(results) >= 20  # the clients wrote while the import ran
    assert set(statuses) == {201}, sorted(set(statuses))
    assert slowest < 2, slowest
    engine = make_engine(fresh_database_url)
    with make_session_factory(engine)() as session:
        imported_cases = session.scalar(
            select(func.count(Case.id)).where(Case.source_ref.is_not(None))
        )
    engine.dispose()
    assert imported_cases == 3000


def test_kill_9_keeps_every_acknowledged_case_and_a_verifiable_chain(
    fresh_database_url: str, tmp_path: Path
) -> None:
    worker = caseworker(fresh_database_url)
    headers = {"Authorization": f"Bearer {worker.token}"}
    acknowledged: list[str] = []
    with isu_serve(fresh_database_url, tmp_path) as served:
        with httpx.Client(base_url=served.url, timeout=60) as client:
            for _ in range(20):
                r = client.post("/api/v1/cases", json=case_body(), headers=headers)
                assert r.status_code == 201, r.text
                acknowledged.append(r.json()["id"])
                client.get(f"/api/v1/cases/{acknowledged[-1]}", headers=headers)
        served.process.send_signal(signal.SIGKILL)
        served.process.wait(30)
    engine = make_engine(fresh_database_url)
    with make_session_factory(engine)() as session:
        stored = {str(i) for i in session.scalars(select(Case.id))}
    engine.dispose()
    assert set(acknowledged) <= stored
    get_settings.cache_clear()
    env = {"ISU_DATABASE_URL": fresh_database_url, "ISU_MASTER_KEY": TEST_MASTER_KEY}
    try:
        sealed = CliRunner().invoke(cli, ["audit", "seal"], env=env)
        verified = CliRunner().invoke(cli, ["audit", "verify"], env=env)
    finally:
        get_settings.cache_clear()
    assert sealed.exit_code == 0, sealed.output
    assert verified.exit_code == 0, verified.output
    assert "0 ännu inte förseglade" in verified.output


@pytest.fixture
def spooling_app(fresh_database_url: str) -> Iterator[FastAPI]:
    api = create_app(make_settings(fresh_database_url, background_tasks=True))
    yield api
    api.state.engine.dispose()


def test_read_audit_events_are_written_by_the_spool_and_sealed_at_shutdown(
    spooling_app: FastAPI, fresh_database_url: str
) -> None:
    """A read's audit event reaches the database after the read (never in its
    transaction), and a clean shutdown leaves nothing unsealed."""
    worker = caseworker(fresh_database_url)
    headers = {"Authorization": f"Bearer {worker.token}"}
    with TestClient(spooling_app) as client:
        case = client.post("/api/v1/cases", json=case_body(), headers=headers).json()
        assert client.get(f"/api/v1/cases/{case['id']}", headers=headers).status_code == 200
    factory = make_session_factory(make_engine(fresh_database_url))
    with transaction(factory) as session:
        rows = session.execute(text("SELECT action, seal_seq FROM audit_events ORDER BY id")).all()
    assert [r.action for r in rows] == ["case.create", "case.read"]
    assert all(r.seal_seq is not None for r in rows)
