"""Data-key rotation and master-key re-wrapping (ACCEPTANCE P7).

Rotation re-encrypts every ciphertext column under the new data-key version,
never moves a case's version (ETag), never overwrites a writer's newer text,
and leaves the old key unreferenced so that it can be deleted.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import delete, func, insert, select, text, update
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from app.audit.service import seal, seal_all, verify
from app.cases.records import intervention_context
from app.cases.service import case_comments_context
from app.cli import app as cli
from app.config import get_settings
from app.db import Base, make_engine, make_session_factory, transaction
from app.main import create_app
from app.models import AuditEvent, Case, Intervention, KodnyckelEntry, MunicipalityKey
from app.security.crypto import KeyConfigurationError, MasterKey, encrypt_text
from app.security.keyring import Keyring
from app.security.master import read_key_file
from app.security.rotation import (
    MunicipalityRotation,
    encrypted_columns,
    key_status,
    pending,
    reencrypt_row,
    rewrap_master,
    rotate_municipality,
)
from tests.conftest import TEST_MASTER_KEY, make_settings, new_database_url
from tests.factories import Account, create_case, make_account, make_unit

REASON = "Kontroll efter nyckelrotation i test"
AGE = {"sex": 1, "age": 40, "age_basis": 1}
CASES = Base.metadata.tables["cases"]
INTERVENTIONS = Base.metadata.tables["interventions"]


@dataclass
class Data:
    worker: Account
    coordinator: Account
    cases: list[dict[str, Any]] = field(default_factory=list)
    interventions: dict[str, str] = field(default_factory=dict)
    """case id -> intervention id"""


def populate(client: TestClient, worker: Account, coordinator: Account, n: int) -> Data:
    """``n`` cases with comments and an intervention with a comment; the last one
    closed with a survey. Local codes, so every case is another client."""
    data = Data(worker, coordinator)
    for i in range(n):
        case = create_case(
            client,
            worker,
            client_id=f"klient-{i}",
            values=AGE,
            comments={"origin": f"start {i}"},
        )
        r = client.post(
            f"/api/v1/cases/{case['id']}/interventions",
            json={
                "intervention_start_on": "2025-03-05",
                "intervention_type": 4,
                "comments": {"intervention_type": f"insats {i}"},
            },
            headers=worker.headers,
        )
        assert r.status_code == 201, r.text
        data.interventions[case["id"]] = r.json()["interventions"][0]["id"]
        data.cases.append(r.json())
    last = data.cases[-1]
    r = client.post(
        f"/api/v1/cases/{last['id']}/close",
        json={"closed_on": "2025-06-01", "values": {"closing_reason": 1, "goal_followup": 1}},
        headers={**worker.headers, "If-Match": f'"{last["version"]}"'},
    )
    assert r.status_code == 200, r.text
    r = client.put(
        f"/api/v1/cases/{last['id']}/survey",
        json={
            "answered_on": "2025-06-02",
            "language": 1,
            "mode": 2,
            "survey_violence_change": 1,
            "survey_support_importance": 4,
            "survey_suggestions": "mer stöd",
            "comments": {"survey_positive": "bra bemötande"},
        },
        headers={**worker.headers, "If-Match": r.headers["etag"]},
    )
    assert r.status_code == 200, r.text
    data.cases[-1] = r.json()
    return data


def row_versions(session: Session) -> dict[str, tuple[int, Any]]:
    session.expire_all()
    return {str(c.id): (c.version, c.updated_at) for c in session.scalars(select(Case))}


def key_versions_in_use(session: Session, municipality: str) -> set[int | None]:
    session.expire_all()
    used: set[int | None] = set()
    used |= set(
        session.scalars(
            select(Case.data_key_version).where(
                Case.municipality_code == municipality, Case.comments_ciphertext.is_not(None)
            )
        )
    )
    used |= set(
        session.scalars(
            select(Intervention.data_key_version)
            .join(Case, Case.id == Intervention.case_id)
            .where(Case.municipality_code == municipality)
        )
    )
    used |= set(
        session.scalars(
            select(KodnyckelEntry.data_key_version).where(
                KodnyckelEntry.municipality_code == municipality
            )
        )
    )
    return used


def assert_everything_reads(client: TestClient, data: Data) -> None:
    for case in data.cases:
        r = client.get(f"/api/v1/cases/{case['id']}", headers=data.worker.headers)
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["comments"] == case["comments"]
        assert body["interventions"][0]["comments"] == case["interventions"][0]["comments"]
        assert body["survey"] == case["survey"]
        assert body["version"] == case["version"]
        found = client.post(
            "/api/v1/kodnyckel/lookup",
            json={"pseudonym": case["client_pseudonym"], "reason": REASON},
            headers=data.coordinator.headers,
        )
        assert found.status_code == 200, found.text
        assert found.json()["identifier"].startswith("klient-")


@pytest.fixture
def kodnyckel_app(app: FastAPI) -> Iterator[FastAPI]:
    original = app.state.settings
    app.state.settings = original.model_copy(update={"kodnyckel_municipalities": ["0180"]})
    yield app
    app.state.settings = original


# --- rotation in the test's transaction ----------------------------------------


def test_rotation_reencrypts_every_column_and_retires_the_old_key(
    client: TestClient,
    session: Session,
    session_factory: sessionmaker[Session],
    kodnyckel_app: FastAPI,
) -> None:
    worker = make_account(session, "caseworker", unit=make_unit(session, "0180"))
    coordinator = make_account(session, "coordinator", municipality="0180")
    data = populate(client, worker, coordinator, 3)
    other_worker = make_account(session, "caseworker", unit=make_unit(session, "1480"))
    other = create_case(client, other_worker, comments={"origin": "göteborg"})
    assert key_versions_in_use(session, "0180") == {1}
    before = row_versions(session)
    keyring: Keyring = kodnyckel_app.state.keyring
    batches: list[int] = []

    result = rotate_municipality(
        session_factory, keyring, "0180", batch_size=2, on_batch=batches.append
    )

    assert result.new_version == 2
    assert dict(result.reencrypted) == {
        "cases": 3,
        "interventions": 3,
        "survey_responses": 1,
        "kodnyckel": 3,
    }
    assert result.retired_versions == [1]
    assert result.complete
    assert sum(batches) == 10
    assert max(batches) <= 2
    assert key_versions_in_use(session, "0180") == {2}
    assert sum(pending(session_factory, "0180", below_version=2).values()) == 0
    # Not a write of the case: versions (ETags) and updated_at unchanged.
    assert row_versions(session) == before
    keys = {
        (k.municipality_code, k.purpose, k.version): k.retired_at
        for k in session.scalars(select(MunicipalityKey))
    }
    assert keys[("0180", "data", 1)] is not None
    assert keys[("0180", "data", 2)] is None
    assert keys[("0180", "pseudonym", 1)] is None  # pseudonyms are never re-keyed
    assert keys[("1480", "data", 1)] is None  # other municipalities untouched
    assert key_versions_in_use(session, "1480") == {1}
    status = {
        (s.municipality_code, s.purpose, s.version): s.rows for s in key_status(session_factory)
    }
    assert status[("0180", "data", 1)] == 0
    assert status[("0180", "data", 2)] == 10
    assert status[("1480", "data", 1)] == 1
    assert status[("0180", "pseudonym", 1)] is None

    # The old key can go: nothing reads it any more.
    session.execute(
        delete(MunicipalityKey).where(
            MunicipalityKey.municipality_code == "0180",
            MunicipalityKey.purpose == "data",
            MunicipalityKey.version == 1,
        )
    )
    assert_everything_reads(client, data)
    r = client.get(f"/api/v1/cases/{other['id']}", headers=other_worker.headers)
    assert r.json()["comments"]["origin"] == "göteborg"
    actions = [e.action for e in session.scalars(select(AuditEvent).order_by(AuditEvent.id))]
    assert actions.count("keys.rotate") == 1
    assert actions.count("keys.retire") == 1
    seal(session, keyring)
    assert verify(session, keyring).ok


def test_rotating_again_moves_to_the_next_version(
    client: TestClient,
    session: Session,
    session_factory: sessionmaker[Session],
    kodnyckel_app: FastAPI,
) -> None:
    worker = make_account(session, "caseworker", unit=make_unit(session, "0180"))
    data = populate(client, worker, make_account(session, "coordinator", municipality="0180"), 2)
    keyring: Keyring = kodnyckel_app.state.keyring
    rotate_municipality(session_factory, keyring, "0180")
    second = rotate_municipality(session_factory, keyring, "0180")
    assert second.new_version == 3
    assert second.retired_versions == [2]
    assert key_versions_in_use(session, "0180") == {3}
    assert_everything_reads(client, data)


def test_unreadable_ciphertext_is_reported_and_its_key_kept(
    client: TestClient,
    session: Session,
    session_factory: sessionmaker[Session],
    kodnyckel_app: FastAPI,
) -> None:
    worker = make_account(session, "caseworker", unit=make_unit(session, "0180"))
    data = populate(client, worker, make_account(session, "coordinator", municipality="0180"), 2)
    bad_id = uuid.UUID(data.cases[0]["id"])
    blob = session.scalar(select(Case.comments_ciphertext).where(Case.id == bad_id))
    assert blob is not None
    session.execute(
        update(CASES).where(CASES.c.id == bad_id).values(comments_ciphertext=blob[:-1] + b"\x00")
    )
    result = rotate_municipality(session_factory, kodnyckel_app.state.keyring, "0180")
    assert result.unreadable == {("cases", str(bad_id))}
    assert not result.complete
    assert result.retired_versions == []
    assert result.reencrypted["cases"] == 1
    assert key_versions_in_use(session, "0180") == {1, 2}
    old = session.scalar(
        select(MunicipalityKey).where(
            MunicipalityKey.municipality_code == "0180",
            MunicipalityKey.purpose == "data",
            MunicipalityKey.version == 1,
        )
    )
    assert old is not None
    assert old.retired_at is None
    failed = session.scalars(
        select(AuditEvent).where(AuditEvent.action == "integrity.failed")
    ).all()
    assert [(e.object_type, e.object_id) for e in failed] == [("cases", str(bad_id))]


def test_rewrap_with_a_new_master_key(
    client: TestClient,
    session: Session,
    session_factory: sessionmaker[Session],
    kodnyckel_app: FastAPI,
) -> None:
    worker = make_account(session, "caseworker", unit=make_unit(session, "0180"))
    populate(client, worker, make_account(session, "coordinator", municipality="0180"), 1)
    old: Keyring = kodnyckel_app.state.keyring
    new_master = MasterKey.generate()
    assert rewrap_master(session_factory, old, new_master) == 2  # pseudonym + data
    session.expire_all()
    assert set(session.scalars(select(MunicipalityKey.master_key_id))) == {new_master.key_id}
    with pytest.raises(KeyConfigurationError):
        Keyring(old.master).verify(session)
    Keyring(new_master).verify(session)
    with pytest.raises(KeyConfigurationError, match="same"):
        rewrap_master(session_factory, Keyring(new_master), new_master)


# --- P7: rotation while writers run ----------------------------------------------

WRITERS = 3
CASES_PER_WRITER = 2
MIN_ITERATIONS = 4
MAX_ITERATIONS = 400


@dataclass
class WriteLog:
    condition: threading.Condition = field(default_factory=threading.Condition)
    writes: int = 0
    finished: int = 0
    statuses: list[int] = field(default_factory=list)
    retries: int = 0
    failures: list[str] = field(default_factory=list)
    case_text: dict[str, str] = field(default_factory=dict)
    intervention_text: dict[str, str] = field(default_factory=dict)
    successes: dict[str, int] = field(default_factory=dict)


def writer(
    api: FastAPI,
    worker: Account,
    data: Data,
    case_ids: list[str],
    index: int,
    log: WriteLog,
    rotation_done: threading.Event,
) -> None:
    client = TestClient(api, raise_server_exceptions=False)
    try:
        for iteration in range(MAX_ITERATIONS):
            if rotation_done.is_set() and iteration >= MIN_ITERATIONS:
                return
            case_id = case_ids[iteration % len(case_ids)]
            words = f"skribent {index} varv {iteration}"
            for _attempt in range(20):
                r = client.get(f"/api/v1/cases/{case_id}", headers=worker.headers)
                if r.status_code != 200:
                    log.failures.append(f"GET {r.status_code}")
                    return
                headers = {**worker.headers, "If-Match": r.headers["etag"]}
                if iteration % 2 == 0:
                    r = client.patch(
                        f"/api/v1/cases/{case_id}",
                        json={"comments": {"perpetrator": words}},
                        headers=headers,
                    )
                else:
                    r = client.patch(
                        f"/api/v1/cases/{case_id}/interventions/{data.interventions[case_id]}",
                        json={"comments": {"intervention_type": words}},
                        headers=headers,
                    )
                log.statuses.append(r.status_code)
                if r.status_code == 412:
                    log.retries += 1
                    continue
                if r.status_code != 200:
                    log.failures.append(f"PATCH {r.status_code}: {r.json().get('type')}")
                    return
                with log.condition:
                    if iteration % 2 == 0:
                        log.case_text[case_id] = words
                    else:
                        log.intervention_text[case_id] = words
                    log.successes[case_id] = log.successes.get(case_id, 0) + 1
                    log.writes += 1
                    log.condition.notify_all()
                break
            else:
                log.failures.append("412 twenty times in a row")
                return
    finally:
        with log.condition:
            log.finished += 1
            log.condition.notify_all()


def wait_for_a_write(log: WriteLog, seen: list[int]) -> None:
    """Block until a writer acknowledged a write after the previous call."""
    with log.condition:
        assert log.condition.wait_for(
            lambda: log.writes > seen[0] or log.finished == WRITERS, timeout=60
        ), "writers stalled"
        seen[0] = log.writes


@pytest.fixture
def rotation_app(fresh_database_url: str) -> Iterator[FastAPI]:
    api = create_app(make_settings(fresh_database_url, kodnyckel_municipalities=["0180"]))
    yield api
    api.state.engine.dispose()


def accounts(api: FastAPI) -> tuple[Account, Account]:
    with transaction(api.state.session_factory) as session:
        worker = make_account(session, "caseworker", unit=make_unit(session, "0180"))
        coordinator = make_account(session, "coordinator", municipality="0180")
    return worker, coordinator


def test_p7_rotate_while_writers_run(rotation_app: FastAPI, fresh_database_url: str) -> None:
    api = rotation_app
    worker, coordinator = accounts(api)
    client = TestClient(api, raise_server_exceptions=False)
    data = populate(client, worker, coordinator, WRITERS * CASES_PER_WRITER + 1)
    untouched = data.cases[-1]  # closed, with a survey; no writer touches it
    untouched_before = client.get(f"/api/v1/cases/{untouched['id']}", headers=worker.headers)
    initial_versions = {c["id"]: c["version"] for c in data.cases}

    log = WriteLog()
    rotation_done = threading.Event()
    threads = [
        threading.Thread(
            target=writer,
            args=(
                api,
                worker,
                data,
                [c["id"] for c in data.cases[i * CASES_PER_WRITER : (i + 1) * CASES_PER_WRITER]],
                i,
                log,
                rotation_done,
            ),
        )
        for i in range(WRITERS)
    ]
    for t in threads:
        t.start()

    engine = make_engine(fresh_database_url)
    seen = [0]
    try:
        wait_for_a_write(log, seen)
        writes_before = log.writes
        batches: list[int] = []

        def after_batch(rows: int) -> None:
            batches.append(rows)
            wait_for_a_write(log, seen)

        result = rotate_municipality(
            make_session_factory(engine),
            Keyring(MasterKey.from_text(TEST_MASTER_KEY)),
            "0180",
            batch_size=3,
            on_batch=after_batch,
            on_version_added=lambda _v: wait_for_a_write(log, seen),
        )
        writes_during = log.writes - writes_before
    finally:
        rotation_done.set()
        for t in threads:
            t.join(timeout=120)
        engine.dispose()
    assert not any(t.is_alive() for t in threads)

    # No request failed, and rotation never moved a version: no 412 at all.
    assert log.failures == []
    assert set(log.statuses) == {200}
    assert log.retries == 0
    assert len(batches) >= 5
    assert writes_during >= len(batches) + 1  # writes interleaved with every batch
    assert result.complete
    assert result.retired_versions == [1]

    factory = api.state.session_factory
    assert sum(pending(factory, "0180", below_version=result.new_version).values()) == 0
    with transaction(factory) as session:
        assert key_versions_in_use(session, "0180") == {result.new_version}
        # The old key can be dropped without breaking any read.
        session.execute(
            delete(MunicipalityKey).where(
                MunicipalityKey.purpose == "data", MunicipalityKey.version < result.new_version
            )
        )

    for case in data.cases:
        r = client.get(f"/api/v1/cases/{case['id']}", headers=worker.headers)
        assert r.status_code == 200, r.text
        body = r.json()
        # Every acknowledged write is there: rotation never overwrote newer text.
        assert body["comments"]["origin"] == case["comments"]["origin"]
        assert body["comments"]["perpetrator"] == log.case_text.get(case["id"])
        expected_intervention = log.intervention_text.get(
            case["id"], case["interventions"][0]["comments"]["intervention_type"]
        )
        assert body["interventions"][0]["comments"]["intervention_type"] == expected_intervention
        assert body["version"] == initial_versions[case["id"]] + log.successes.get(case["id"], 0)
        found = client.post(
            "/api/v1/kodnyckel/lookup",
            json={"pseudonym": case["client_pseudonym"], "reason": REASON},
            headers=coordinator.headers,
        )
        assert found.status_code == 200, found.text
    final = client.get(f"/api/v1/cases/{untouched['id']}", headers=worker.headers)
    assert final.json() == untouched_before.json()  # incl. version, updated_at, survey
    assert final.headers["etag"] == untouched_before.headers["etag"]
    keyring = Keyring(MasterKey.from_text(TEST_MASTER_KEY))
    seal_all(factory, keyring)
    with factory() as session:
        assert verify(session, keyring).ok


def test_writer_holding_the_old_key_is_waited_for(
    pg_server: Any, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """PostgreSQL only: there a writer can pick the old key version just before
    the new one is committed, and commit after the re-encryption passes. The
    rotation must wait for it (on SQLite every write transaction, rotation's
    included, holds the database write lock, so this interleaving cannot occur).
    """
    url = new_database_url("postgresql", request, tmp_path)
    api = create_app(make_settings(url))
    engine = make_engine(url)
    factory = make_session_factory(engine)
    keyring = Keyring(MasterKey.from_text(TEST_MASTER_KEY))
    try:
        worker, _ = accounts(api)
        case = create_case(
            TestClient(api, raise_server_exceptions=False), worker, comments={"origin": "x"}
        )
        # A request in flight: it took the data key (version 1) and wrote a new
        # intervention under it, not yet committed.
        straggler = factory()
        version, key = keyring.current(straggler, "0180", "data")
        assert version == 1
        item_id = uuid.uuid4()
        straggler.execute(
            insert(INTERVENTIONS).values(
                id=item_id,
                case_id=uuid.UUID(case["id"]),
                start_on=date(2025, 3, 5),
                type_code=4,
                comments_ciphertext=encrypt_text(
                    key, '{"intervention_type": "sen"}', context=intervention_context(item_id)
                ),
                data_key_version=1,
            )
        )
        outcome: list[Any] = []
        rotation = threading.Thread(
            target=lambda: outcome.append(rotate_municipality(factory, keyring, "0180"))
        )
        rotation.start()
        # Poll the server until the rotation waits for a lock (or has finished).
        blocked = False
        with factory() as observer:
            deadline = time.monotonic() + 30
            while rotation.is_alive() and time.monotonic() < deadline:
                blocked = bool(
                    observer.scalar(
                        text(
                            "SELECT count(*) FROM pg_stat_activity "
                            "WHERE datname = current_database() AND wait_event_type = 'Lock'"
                        )
                    )
                )
                observer.rollback()
                if blocked:
                    break
                time.sleep(0.02)
        straggler.commit()
        straggler.close()
        rotation.join(timeout=60)
        assert blocked, "the rotation did not wait for the writer holding the old key"
        assert not rotation.is_alive()
        (result,) = outcome
        assert result.retired_versions == [1]
        with factory() as session:
            assert key_versions_in_use(session, "0180") == {2}
        client = TestClient(api, raise_server_exceptions=False)
        body = client.get(f"/api/v1/cases/{case['id']}", headers=worker.headers).json()
        assert body["interventions"][0]["comments"]["intervention_type"] == "sen"
    finally:
        engine.dispose()
        api.state.engine.dispose()


# --- the command line --------------------------------------------------------------


@pytest.fixture
def cli_env(fresh_database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("ISU_DATABASE_URL", fresh_database_url)
    monkeypatch.setenv("ISU_MASTER_KEY", TEST_MASTER_KEY)
    monkeypatch.setenv("ISU_MODE", "production")
    monkeypatch.delenv("ISU_MASTER_KEY_FILE", raising=False)
    get_settings.cache_clear()
    yield fresh_database_url
    get_settings.cache_clear()


def test_cli_rotate_status_and_new_master_key(
    cli_env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = cli_env
    api = create_app(make_settings(url, kodnyckel_municipalities=["0180"]))
    worker, coordinator = accounts(api)
    data = populate(TestClient(api, raise_server_exceptions=False), worker, coordinator, 2)
    api.state.engine.dispose()
    runner = CliRunner()

    status = runner.invoke(cli, ["keys", "status"])
    assert status.exit_code == 0, status.output
    assert "0180" in status.output
    assert "pseudonym" in status.output

    rotated = runner.invoke(cli, ["keys", "rotate", "--batch-size", "2"])
    assert rotated.exit_code == 0, rotated.output
    assert "Kommun 0180: datanyckel v2" in " ".join(rotated.output.split())
    assert "cases 2, interventions 2, survey_responses 1, kodnyckel 2" in " ".join(
        rotated.output.split()
    )

    unknown = runner.invoke(cli, ["keys", "rotate", "--municipality", "9999"])
    assert unknown.exit_code == 1

    key_file = tmp_path / "new-master.key"
    made = runner.invoke(cli, ["keys", "new-master-key", str(key_file)])
    assert made.exit_code == 0, made.output
    assert key_file.stat().st_mode & 0o777 == 0o600
    new_master = read_key_file(key_file)
    assert new_master.to_text() not in made.output
    assert runner.invoke(cli, ["keys", "new-master-key", str(key_file)]).exit_code == 2

    rewrapped = runner.invoke(
        cli, ["keys", "rotate", "--municipality", "0180", "--new-master-key-file", str(key_file)]
    )
    assert rewrapped.exit_code == 0, rewrapped.output
    assert new_master.key_id in rewrapped.output

    # The old master key no longer opens the database, for the service or the CLI.
    with pytest.raises(KeyConfigurationError):
        create_app(make_settings(url))
    assert runner.invoke(cli, ["keys", "rotate"]).exit_code == 2

    api = create_app(
        make_settings(url, master_key=new_master.to_text(), kodnyckel_municipalities=["0180"])
    )
    try:
        with api.state.session_factory() as session:
            assert key_versions_in_use(session, "0180") == {3}
            retired = session.scalar(
                select(func.count())
                .select_from(MunicipalityKey)
                .where(MunicipalityKey.retired_at.is_not(None))
            )
            assert retired == 2
        assert_everything_reads(TestClient(api, raise_server_exceptions=False), data)
    finally:
        api.state.engine.dispose()

    monkeypatch.setenv("ISU_MASTER_KEY", new_master.to_text())
    get_settings.cache_clear()
    again = runner.invoke(cli, ["keys", "status"])
    assert again.exit_code == 0, again.output
    assert "NEJ" not in again.output
    assert new_master.key_id in again.output


# --- compare-and-swap ----------------------------------------------------------------


def test_reencryption_never_overwrites_a_newer_write(
    client: TestClient,
    session: Session,
    session_factory: sessionmaker[Session],
    kodnyckel_app: FastAPI,
) -> None:
    """A batch read a row, then a writer changed it before the batch's UPDATE:
    whether the writer used the new key version or (a straggler) the old one,
    the rotation's update matches nothing and the writer's text stays."""
    keyring: Keyring = kodnyckel_app.state.keyring
    worker = make_account(session, "caseworker", unit=make_unit(session, "0180"))
    case = create_case(
        client, worker, client_id="klient-cas", values=AGE, comments={"origin": "gammal"}
    )
    case_id = uuid.UUID(case["id"])
    cases_column = next(c for c in encrypted_columns() if c.label == "cases")

    def stale_row() -> tuple[Any, ...]:
        row = session.execute(
            select(CASES.c.id, CASES.c.comments_ciphertext, CASES.c.data_key_version).where(
                CASES.c.id == case_id
            )
        ).one()
        return tuple(row)

    def comment() -> str:
        r = client.get(f"/api/v1/cases/{case_id}", headers=worker.headers)
        assert r.status_code == 200, r.text
        text_: str = r.json()["comments"]["origin"]
        return text_

    # A straggler: same (old) key version, different ciphertext.
    stale = stale_row()
    assert stale[2] == 1
    old_key = keyring.version(session, "0180", "data", 1)
    straggler_blob = encrypt_text(
        old_key, '{"origin": "straggler"}', context=case_comments_context(case_id)
    )
    session.execute(
        update(CASES).where(CASES.c.id == case_id).values(comments_ciphertext=straggler_blob)
    )
    with transaction(session_factory) as s:
        new_version = keyring.add_version(s, "0180", "data")
    result = MunicipalityRotation("0180", new_version)
    new_key = keyring.version(session, "0180", "data", new_version)
    assert reencrypt_row(session, keyring, cases_column, result, stale, new_key) == 0
    assert comment() == "straggler"

    # A writer under the new version.
    stale = stale_row()
    r = client.patch(
        f"/api/v1/cases/{case_id}",
        json={"comments": {"origin": "nyare"}},
        headers={**worker.headers, "If-Match": f'"{case["version"]}"'},
    )
    assert r.status_code == 200, r.text
    assert reencrypt_row(session, keyring, cases_column, result, stale, new_key) == 0
    assert comment() == "nyare"

    # Unchanged since read: re-encrypted, text and version (ETag) kept.
    stale = stale_row()
    with transaction(session_factory) as s:
        newest = keyring.add_version(s, "0180", "data")
    result = MunicipalityRotation("0180", newest)
    newest_key = keyring.version(session, "0180", "data", newest)
    assert reencrypt_row(session, keyring, cases_column, result, stale, newest_key) == 1
    assert stale_row()[2] == newest
    assert comment() == "nyare"
    assert row_versions(session)[str(case_id)][0] == case["version"] + 1
