"""Operations over the app (both engines): the JSON request log line, database
busy errors, Cache-Control, /healthz, /readyz and /metrics."""

from __future__ import annotations

import io
import json
import logging
import sqlite3
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

import app.cases.service as case_service
from app.db import make_engine, make_session_factory
from app.errors import IntegrityError
from app.main import create_app
from app.ops.logging import JsonFormatter
from app.security.crypto import MasterKey
from app.security.keyring import Keyring
from tests.api.test_case_support import API, make_world
from tests.conftest import make_settings
from tests.factories import PNR, case_body, create_case

COMMENT = "Hemlig kommentar om klienten Qzxv"
METRICS_TOKEN = "metrics-token-" + "k" * 32


class JsonLog:
    def __init__(self) -> None:
        self.stream = io.StringIO()

    @property
    def text(self) -> str:
        return self.stream.getvalue()

    def lines(self, event: str | None = None) -> list[dict[str, Any]]:
        parsed = [json.loads(line) for line in self.text.splitlines()]
        return [line for line in parsed if event is None or line["event"] == event]


@pytest.fixture
def json_log() -> Iterator[JsonLog]:
    """The app's log lines (loggers under ``isu``) as the JSON formatter writes them."""
    log = JsonLog()
    handler = logging.StreamHandler(log.stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("isu")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield log
    logger.removeHandler(handler)
    logger.setLevel(level)


def test_one_json_line_per_request_with_route_templates_and_no_personal_data(
    client: TestClient,
    session: Session,
    json_log: JsonLog,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    world = make_world(session)
    case = create_case(client, world.worker)
    json_log.stream.truncate(0)
    json_log.stream.seek(0)
    worker = world.worker.headers

    ok = client.get("/api/v1/variables", headers={"X-Request-ID": "lb-req-0001"})
    read = client.get(f"{API}/{case['id']}", headers=worker)
    missing = client.get(f"{API}/{uuid.uuid4()}", headers=worker)
    unknown = client.get("/enkat-x/secret-survey-token-Wjkq")
    invalid = client.post(
        API,
        json=case_body(
            client_id=PNR, actualised_on="inte ett datum", comments={"disability": COMMENT}
        ),
        headers={**worker, "X-Request-ID": PNR},  # personnummer-shaped: not taken
    )

    def leaky(*_: Any, **__: Any) -> None:
        raise RuntimeError(f"could not handle {PNR} / {COMMENT}")

    monkeypatch.setattr(case_service, "create_case", leaky)
    crashed = client.post(API, json=case_body(comments={"disability": COMMENT}), headers=worker)
    responses = [ok, read, missing, unknown, invalid, crashed]
    assert [r.status_code for r in responses] == [200, 200, 404, 404, 422, 500]

    lines = json_log.lines("request")
    assert len(lines) == len(responses)
    for line, response in zip(lines, responses, strict=True):
        assert line["logger"] == "isu.request"
        assert line["request_id"] == response.headers["x-request-id"]
        assert line["status"] == response.status_code
        assert isinstance(line["latency_ms"], float)
        assert line["level"] == ("ERROR" if response.status_code >= 500 else "INFO")
    assert ok.headers["x-request-id"] == "lb-req-0001"
    assert invalid.headers["x-request-id"] != PNR
    assert [(line["method"], line["route"]) for line in lines] == [
        ("GET", "/api/v1/variables"),
        ("GET", "/api/v1/cases/{case_id}"),
        ("GET", "/api/v1/cases/{case_id}"),
        ("GET", "unmatched"),
        ("POST", "/api/v1/cases"),
        ("POST", "/api/v1/cases"),
    ]
    worker_id = str(world.worker.user.id)
    assert [line["user_id"] for line in lines] == [None, *[worker_id] * 2, None, *[worker_id] * 2]
    assert all("error_type" not in line for line in lines[:-1])
    assert lines[-1]["error_type"] == "RuntimeError"
    assert lines[-1]["traceback"].splitlines()[-1] == "RuntimeError"
    assert "in leaky" in lines[-1]["traceback"]
    assert "database_busy" not in lines[-1]

    logged = json_log.text
    for secret in (PNR, "191212121212", COMMENT, "Qzxv", world.worker.token, case["id"], "Wjkq"):
        assert secret not in logged


@contextmanager
def _database_held(url: str) -> Iterator[Callable[[], None]]:
    """Another connection holds a lock; yields an action that then fails as busy."""
    if url.startswith("sqlite"):
        holder = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        waiter = create_engine(url, connect_args={"timeout": 0})

        def busy() -> None:
            with waiter.connect() as conn:
                conn.exec_driver_sql("INSERT INTO units (id) VALUES ('x')")

        try:
            yield busy
        finally:
            holder.rollback()
            holder.close()
            waiter.dispose()
        return
    holder_engine = make_engine(url)
    with holder_engine.connect() as locker:
        locker.execute(text("LOCK TABLE units IN ACCESS EXCLUSIVE MODE"))
        pg_waiter = make_engine(url)

        def pg_busy() -> None:
            with pg_waiter.connect() as conn:
                conn.execute(text("SET lock_timeout = '50ms'"))
                conn.execute(text("SELECT count(*) FROM units"))

        try:
            yield pg_busy
        finally:
            locker.rollback()
            pg_waiter.dispose()
    holder_engine.dispose()


def test_a_database_busy_error_is_named_in_the_log(
    committing_app: FastAPI, fresh_database_url: str, json_log: JsonLog, engine_name: str
) -> None:
    with _database_held(fresh_database_url) as busy:
        committing_app.add_api_route("/api/v1/_test/busy/{token}", busy, methods=["POST"])
        with TestClient(committing_app, raise_server_exceptions=False) as client:
            response = client.post("/api/v1/_test/busy/secret-token-Wjkq")
    # Busy is a 503 to retry (issue 11), and the log line says why.
    assert response.status_code == 503
    assert response.json()["type"] == "/problems/busy"
    assert response.headers["retry-after"] == "2"
    (line,) = json_log.lines("request")
    assert line["route"] == "/api/v1/_test/busy/{token}"
    assert line["error_type"] == "sqlalchemy.exc.OperationalError"
    assert line["database_busy"] is True
    assert line["db_error"] == ("SQLITE_BUSY" if engine_name == "sqlite" else "55P03")
    assert "INSERT" not in json_log.text
    assert "Wjkq" not in json_log.text


def test_a_5xx_problem_a_handler_answered_names_its_error(
    committing_app: FastAPI, json_log: JsonLog
) -> None:
    def tampered() -> None:
        raise IntegrityError()  # stored ciphertext failed authentication: a 500 problem

    committing_app.add_api_route("/api/v1/_test/tampered", tampered)
    with TestClient(committing_app) as client:
        response = client.get("/api/v1/_test/tampered")
    assert response.status_code == 500
    assert response.json()["type"] == "/problems/integrity"
    (line,) = json_log.lines("request")
    assert line["level"] == "ERROR"
    assert line["error_type"] == "app.errors.IntegrityError"
    assert "in tampered" in line["traceback"]


def test_cache_control_no_store_on_api_and_pages_not_on_static_assets(
    client: TestClient, session: Session
) -> None:
    world = make_world(session)
    case = create_case(client, world.worker)
    read = client.get(f"{API}/{case['id']}", headers=world.worker.headers)
    listing = client.get(API, headers=world.worker.headers)
    problem = client.get(f"{API}/{uuid.uuid4()}", headers=world.worker.headers)
    unauthenticated = client.get(API)
    assert [read.status_code, listing.status_code, problem.status_code] == [200, 200, 404]
    assert unauthenticated.status_code == 401
    for response in (read, listing, problem, unauthenticated):
        assert response.headers.get_list("cache-control") == ["no-store"]
    assert problem.headers["content-type"].startswith("application/problem+json")
    page = client.get("/logga-in")
    assert page.status_code == 200
    assert page.headers.get_list("cache-control") == ["no-store"]
    asset = client.get("/static/isu.css")
    assert asset.status_code == 200
    assert asset.headers["cache-control"] == "public, max-age=86400"


def test_healthz_and_readyz_answer_without_authentication(client: TestClient) -> None:
    health = client.get("/healthz")
    ready = client.get("/readyz")
    assert (health.status_code, health.json()) == (200, {"status": "ok"})
    assert (ready.status_code, ready.json()) == (200, {"status": "ready"})


@contextmanager
def _replaced(app: FastAPI, name: str, value: object) -> Iterator[None]:
    """Swap one of the shared app's state values (monkeypatch would delete it
    on undo: Starlette's State hides its values from ``vars()``)."""
    original = getattr(app.state, name)
    setattr(app.state, name, value)
    try:
        yield
    finally:
        setattr(app.state, name, original)


def _not_ready(response: Any) -> None:
    assert response.status_code == 503
    body = response.json()
    assert response.headers["content-type"].startswith("application/problem+json")
    assert body["type"] == "/problems/not-ready"
    assert set(body) == {"type", "title", "title_en", "status", "detail", "detail_en", "instance"}


def test_readyz_is_503_when_the_master_key_does_not_open_the_stored_keys(
    app: FastAPI,
    client: TestClient,
    session: Session,
    json_log: JsonLog,
) -> None:
    app.state.keyring.current(session, "0180", "data")  # a stored municipality key
    session.flush()
    assert client.get("/readyz").status_code == 200
    with _replaced(app, "keyring", Keyring(MasterKey.generate())):
        _not_ready(client.get("/readyz"))
    (line,) = json_log.lines("not_ready")
    assert line["check"] == "keys"
    assert line["error_type"] == "app.security.crypto.KeyConfigurationError"


def test_readyz_is_503_when_the_database_does_not_answer(
    app: FastAPI,
    client: TestClient,
    json_log: JsonLog,
    engine_name: str,
) -> None:
    url = (
        "sqlite:////nonexistent-isu-dir/isu.sqlite3"
        if engine_name == "sqlite"
        else "postgresql+psycopg://postgres@127.0.0.1:1/isu"
    )
    unreachable = make_engine(url)
    with _replaced(app, "session_factory", make_session_factory(unreachable)):
        _not_ready(client.get("/readyz"))
    unreachable.dispose()
    (line,) = json_log.lines("not_ready")
    assert line["check"] == "database"
    assert line["error_type"] == "sqlalchemy.exc.OperationalError"
    assert client.get("/healthz").status_code == 200  # liveness never asks the database


def test_readyz_gives_up_after_its_timeout_when_the_database_is_locked(
    fresh_database_url: str,
) -> None:
    api = create_app(make_settings(fresh_database_url, readiness_timeout_seconds=0.3))
    try:
        with TestClient(api) as client:
            assert client.get("/readyz").status_code == 200
            with _lock_everything(fresh_database_url):
                _not_ready(client.get("/readyz"))
            assert client.get("/readyz").status_code == 200
    finally:
        api.state.engine.dispose()


@contextmanager
def _lock_everything(url: str) -> Iterator[None]:
    """A writer that holds the lock readiness needs (SQLite: the write lock;
    PostgreSQL: the municipality keys)."""
    if url.startswith("sqlite"):
        holder = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            holder.rollback()
            holder.close()
        return
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            conn.execute(text("LOCK TABLE municipality_keys IN ACCESS EXCLUSIVE MODE"))
            yield
            conn.rollback()
    finally:
        engine.dispose()


def _samples(body: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(body)
        for sample in family.samples
    }


def test_metrics_need_the_configured_token(
    app: FastAPI, client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert client.get("/metrics").status_code == 404  # not configured: not served
    monkeypatch.setattr(app.state.settings, "metrics_token", METRICS_TOKEN)
    assert client.get("/metrics").status_code == 401
    wrong = client.get("/metrics", headers={"Authorization": "Bearer " + "x" * 46})
    assert wrong.status_code == 401
    good = client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert good.status_code == 200
    assert good.headers["content-type"].startswith("text/plain")


def test_metrics_count_requests_by_route_template(fresh_database_url: str) -> None:
    api = create_app(make_settings(fresh_database_url, metrics_token=METRICS_TOKEN))
    auth = {"Authorization": f"Bearer {METRICS_TOKEN}"}
    try:
        with TestClient(api, raise_server_exceptions=False) as client:
            survey_path = "/enkat/secret-survey-token-Wjkq"
            statuses = [client.get(f"{API}/{uuid.uuid4()}").status_code for _ in range(3)]
            statuses.append(client.get(survey_path).status_code)
            statuses.append(client.get("/nowhere/Wjkq").status_code)
            held = api.state.engine.connect()  # a connection out of the pool
            try:
                body = client.get("/metrics", headers=auth).text
            finally:
                held.close()
            after = _samples(client.get("/metrics", headers=auth).text)
    finally:
        api.state.engine.dispose()
    assert statuses == [401, 401, 401, 404, 404]
    samples = _samples(body)
    route = (("method", "GET"), ("route", "/api/v1/cases/{case_id}"), ("status", "401"))
    assert samples[("isu_http_requests_total", route)] == 3
    survey = (("method", "GET"), ("route", "/enkat/{token}"), ("status", "404"))
    assert samples[("isu_http_requests_total", survey)] == 1
    unmatched = (("method", "GET"), ("route", "unmatched"), ("status", "404"))
    assert samples[("isu_http_requests_total", unmatched)] == 1
    latency = (("method", "GET"), ("route", "/api/v1/cases/{case_id}"))
    assert samples[("isu_http_request_duration_seconds_count", latency)] == 3
    assert samples[("isu_db_pool_connections_in_use", ())] == 1
    assert samples[("isu_db_pool_size", ())] == api.state.settings.db_pool_size
    # The three failed authentications, not sealed yet (no background sealer here).
    assert samples[("isu_audit_unsealed_events", ())] == 3
    assert after[("isu_db_pool_connections_in_use", ())] == 0
    assert "Wjkq" not in body
