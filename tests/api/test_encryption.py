"""Free text at rest: tampering is detected and audited, never shown (ACCEPTANCE P5);
the service refuses to start without the right master key (P6)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Uuid, bindparam, select, text, update
from sqlalchemy.orm import Session

from app.db import Base, make_engine, make_session_factory, transaction
from app.main import create_app
from app.models import AuditEvent, Case, Intervention, MunicipalityKey
from app.security.crypto import KeyConfigurationError, MasterKey
from app.security.keyring import Keyring
from app.security.master import read_key_file
from tests.conftest import TEST_MASTER_KEY, make_settings
from tests.factories import Account, create_case, make_account, make_unit

COMMENT = "Hemlig kommentar XQ7 om klientens situation"
CASES = Base.metadata.tables["cases"]
INTERVENTIONS = Base.metadata.tables["interventions"]


def audit_actions(session: Session) -> list[tuple[str, str]]:
    session.expire_all()
    return [
        (e.action, e.outcome) for e in session.scalars(select(AuditEvent).order_by(AuditEvent.id))
    ]


def flip(blob: bytes, index: int) -> bytes:
    changed = bytearray(blob)
    changed[index] ^= 0x01
    return bytes(changed)


def case_with_comment(client: TestClient, session: Session) -> tuple[Account, dict[str, Any]]:
    worker = make_account(session, "caseworker", unit=make_unit(session))
    case = create_case(client, worker, comments={"origin": COMMENT})
    assert case["comments"]["origin"] == COMMENT
    return worker, case


def stored_blob(session: Session, case_id: str) -> bytes:
    blob = session.scalar(select(Case.comments_ciphertext).where(Case.id == uuid.UUID(case_id)))
    assert blob is not None
    return bytes(blob)


def assert_integrity_problem(
    client: TestClient, session: Session, worker: Account, case_id: str
) -> None:
    before = audit_actions(session)
    r = client.get(f"/api/v1/cases/{case_id}", headers=worker.headers)
    assert r.status_code == 500
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["type"] == "/problems/integrity"
    assert set(body) == {"type", "title", "title_en", "status", "detail", "detail_en", "instance"}
    assert COMMENT not in r.text
    assert "XQ7" not in r.text
    # The failed read is rolled back (no case.read); the integrity event survives it.
    assert audit_actions(session) == [*before, ("integrity.failed", "integrity_failure")]
    event = session.scalar(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(1))
    assert event is not None
    assert event.actor_user_id == worker.user.id


# --- P5 ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "index", [0, 5, 13, 20, -1], ids=["format", "nonce", "first-byte", "ciphertext", "tag"]
)
def test_p5_flipped_byte_in_a_case_comment(
    client: TestClient, session: Session, index: int
) -> None:
    worker, case = case_with_comment(client, session)
    blob = stored_blob(session, case["id"])
    session.execute(
        text("UPDATE cases SET comments_ciphertext = :blob WHERE id = :id").bindparams(
            bindparam("id", type_=Uuid())
        ),
        {"blob": flip(blob, index), "id": uuid.UUID(case["id"])},
    )
    session.expire_all()
    assert stored_blob(session, case["id"]) == flip(blob, index)
    assert_integrity_problem(client, session, worker, case["id"])


def test_p5_flipped_byte_in_an_intervention_comment(client: TestClient, session: Session) -> None:
    worker, case = case_with_comment(client, session)
    r = client.post(
        f"/api/v1/cases/{case['id']}/interventions",
        json={
            "intervention_start_on": "2025-03-05",
            "intervention_type": 4,
            "comments": {"intervention_type": COMMENT},
        },
        headers=worker.headers,
    )
    assert r.status_code == 201, r.text
    item = session.scalar(select(Intervention).where(Intervention.case_id == uuid.UUID(case["id"])))
    assert item is not None
    assert item.comments_ciphertext is not None
    session.execute(
        update(INTERVENTIONS)
        .where(INTERVENTIONS.c.id == item.id)
        .values(comments_ciphertext=flip(item.comments_ciphertext, 30))
    )
    assert_integrity_problem(client, session, worker, case["id"])


def test_p5_ciphertext_moved_to_another_case_does_not_open(
    client: TestClient, session: Session
) -> None:
    worker, case = case_with_comment(client, session)
    other = create_case(client, worker, comments={"origin": "annan text"})
    session.execute(
        update(CASES)
        .where(CASES.c.id == uuid.UUID(other["id"]))
        .values(comments_ciphertext=stored_blob(session, case["id"]))
    )
    assert_integrity_problem(client, session, worker, other["id"])
    # The original is untouched and still reads.
    r = client.get(f"/api/v1/cases/{case['id']}", headers=worker.headers)
    assert r.status_code == 200
    assert r.json()["comments"]["origin"] == COMMENT


def test_p5_missing_key_version_is_an_integrity_problem(
    client: TestClient, session: Session
) -> None:
    worker, case = case_with_comment(client, session)
    session.execute(
        update(CASES).where(CASES.c.id == uuid.UUID(case["id"])).values(data_key_version=99)
    )
    assert_integrity_problem(client, session, worker, case["id"])


# --- P6 ------------------------------------------------------------------------


def test_p6_production_without_master_key_refuses(database_url: str, tmp_path: Path) -> None:
    settings = make_settings(database_url, master_key=None, master_key_file=None)
    with pytest.raises(KeyConfigurationError, match="ISU_MASTER_KEY"):
        create_app(settings)
    missing = tmp_path / "master.key"
    with pytest.raises(KeyConfigurationError, match="cannot be read"):
        create_app(make_settings(database_url, master_key=None, master_key_file=missing))
    assert not missing.exists()  # nothing is generated outside dev mode


def test_p6_malformed_master_key_refuses_without_echoing_it(database_url: str) -> None:
    secret = "not-a-key-but-a-secret-value"
    with pytest.raises(KeyConfigurationError) as caught:
        create_app(make_settings(database_url, master_key=secret))
    assert secret not in str(caught.value)
    assert "base64" in str(caught.value)


def seed_keys(url: str, master: MasterKey) -> None:
    engine = make_engine(url)
    try:
        with transaction(make_session_factory(engine)) as session:
            keyring = Keyring(master)
            keyring.current(session, "0180", "pseudonym")
            keyring.current(session, "0180", "data")
    finally:
        engine.dispose()


def test_p6_wrong_master_key_or_damaged_key_rows_refuse(fresh_database_url: str) -> None:
    seed_keys(fresh_database_url, MasterKey.from_text(TEST_MASTER_KEY))
    create_app(make_settings(fresh_database_url)).state.engine.dispose()  # the right key works
    wrong = MasterKey.generate().to_text()
    with pytest.raises(KeyConfigurationError, match="does not match"):
        create_app(make_settings(fresh_database_url, master_key=wrong))
    # A key row that no longer opens (right master key id, altered blob).
    engine = make_engine(fresh_database_url)
    try:
        with transaction(make_session_factory(engine)) as session:
            row = session.scalar(select(MunicipalityKey).where(MunicipalityKey.purpose == "data"))
            assert row is not None
            row.wrapped_key = flip(row.wrapped_key, 20)
    finally:
        engine.dispose()
    with pytest.raises(KeyConfigurationError, match="cannot be opened"):
        create_app(make_settings(fresh_database_url))


def test_p6_dev_mode_creates_a_key_file_once(fresh_database_url: str, tmp_path: Path) -> None:
    path = tmp_path / "keys" / "master.key"
    api = create_app(
        make_settings(fresh_database_url, mode="dev", master_key=None, master_key_file=path)
    )
    api.state.engine.dispose()
    assert path.exists()
    assert path.stat().st_mode & 0o777 == 0o600
    created = read_key_file(path)
    assert api.state.keyring.master == created
    # A second start reuses it rather than generating another.
    again = create_app(
        make_settings(fresh_database_url, mode="dev", master_key=None, master_key_file=path)
    )
    again.state.engine.dispose()
    assert again.state.keyring.master == created
