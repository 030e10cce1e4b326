"""Client identifiers through the API: never stored in clear, one pseudonym per
person and municipality (ACCEPTANCE P1–P4)."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, inspect, select, text
from sqlalchemy.orm import Session

from app.models import AuditEvent, Case
from tests.factories import PNR, PNR_OTHER, Account, create_case, make_account, make_unit

# Synthetic identifiers (valid Luhn check digits unless named otherwise).
SAMORDNINGSNUMMER = "900161-0014"  # born 1990-01-01, day + 60
WRONG_CHECK_DIGIT = "19121212-1213"
FEBRUARY_31 = "19900231-1232"
FUTURE_BIRTH = "20990101-1230"
COMMENT = "Hemlig kommentar XQ7 om klientens situation"


@pytest.fixture
def kodnyckel_app(app: FastAPI) -> Iterator[FastAPI]:
    """The test app with a kodnyckel kept for Stockholm (0180)."""
    original = app.state.settings
    app.state.settings = original.model_copy(update={"kodnyckel_municipalities": ["0180"]})
    yield app
    app.state.settings = original


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """DEBUG capture on every logger, set before the test's connection exists, so
    SQLAlchemy logs statements and their parameters too."""
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="sqlalchemy.engine")  # SQLAlchemy defaults to WARN
    return caplog


def table_counts(session: Session) -> dict[str, int]:
    names = inspect(session.connection()).get_table_names()
    return {
        name: session.execute(text(f'SELECT COUNT(*) FROM "{name}"')).scalar_one() for name in names
    }


def dump_database(session: Session) -> tuple[str, set[str]]:
    """Every column of every row of every table as text (bytes as hex and latin-1)."""
    parts: list[str] = []
    names = inspect(session.connection()).get_table_names()
    for name in names:
        for row in session.execute(text(f'SELECT * FROM "{name}"')):
            for value in row:
                if isinstance(value, memoryview):
                    value = value.tobytes()
                if isinstance(value, bytes):
                    parts += [value.hex(), value.decode("latin-1")]
                elif isinstance(value, dict | list):
                    parts.append(json.dumps(value, ensure_ascii=False))
                else:
                    parts.append(str(value))
    return "\n".join(parts).lower(), set(names)


def forbidden_strings(identifier: str, comment: str) -> list[str]:
    """The identifier in every normalised form, their unkeyed hashes, and the comment."""
    digits = identifier.replace("-", "")
    twelve = digits if len(digits) == 12 else "19" + digits
    ten = twelve[2:]
    forms = [twelve, ten, f"{twelve[:8]}-{twelve[8:]}", f"{ten[:6]}-{ten[6:]}"]
    needles = [*forms, comment, comment.encode().hex()]
    for form in forms:
        needles += [
            hashlib.sha256(form.encode()).hexdigest(),
            hashlib.md5(form.encode()).hexdigest(),
        ]
    return [n.lower() for n in needles]


# --- P1 ------------------------------------------------------------------------


def test_p1_identifier_and_comment_never_stored_or_logged(
    debug_logs: pytest.LogCaptureFixture,
    client: TestClient,
    session: Session,
    kodnyckel_app: FastAPI,
) -> None:
    unit = make_unit(session)
    worker = make_account(session, "caseworker", unit=unit)
    case = create_case(client, worker, client_id=PNR_OTHER, comments={"origin": COMMENT})
    assert case["comments"]["origin"] == COMMENT
    r = client.patch(
        f"/api/v1/cases/{case['id']}",
        json={"comments": {"perpetrator": COMMENT}},
        headers={**worker.headers, "If-Match": '"1"'},
    )
    assert r.status_code == 200, r.text
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
    assert client.get(f"/api/v1/cases/{case['id']}", headers=worker.headers).status_code == 200
    session.expire_all()

    haystack, tables = dump_database(session)
    # The dump really covers the case, its encrypted texts, its history, the
    # kodnyckel and the audit log.
    assert {"cases", "interventions", "case_revisions", "audit_events", "kodnyckel"} <= tables
    assert case["client_pseudonym"] in haystack
    assert case["id"].replace("-", "") in haystack.replace("-", "")
    stored = session.scalar(select(Case).where(Case.client_pseudonym == case["client_pseudonym"]))
    assert stored is not None
    assert stored.comments_ciphertext is not None
    assert (session.scalar(select(func.count()).select_from(AuditEvent)) or 0) >= 4

    logs = "\n".join(f"{rec.getMessage()} {rec.__dict__!r}" for rec in debug_logs.records).lower()
    assert "request" in logs
    assert "select" in logs

    for needle in forbidden_strings(PNR_OTHER, COMMENT):
        assert needle not in haystack, "identifier or comment found in the database"
        assert needle not in logs, "identifier or comment found in the logs"


# --- P2 ------------------------------------------------------------------------


def test_p2_one_person_one_pseudonym_and_recognised_again(
    client: TestClient, session: Session
) -> None:
    unit = make_unit(session)
    worker = make_account(session, "caseworker", unit=unit)
    forms = ["19121212-1212", "121212-1212", "191212121212", " 1212121212 "]
    cases = [
        create_case(client, worker, client_id=form, actualised_on=f"2025-0{i + 1}-10")
        for i, form in enumerate(forms)
    ]
    assert len({c["client_pseudonym"] for c in cases}) == 1
    assert [c["previous_cases"] for c in cases] == [0, 1, 2, 3]
    assert all(c["client_id_kind"] == "personnummer" for c in cases)
    # Read back later, the first case still counts no earlier case; the last counts three.
    first = client.get(f"/api/v1/cases/{cases[0]['id']}", headers=worker.headers).json()
    last = client.get(f"/api/v1/cases/{cases[-1]['id']}", headers=worker.headers).json()
    assert (first["previous_cases"], last["previous_cases"]) == (0, 3)

    other = create_case(client, worker, client_id=PNR_OTHER, actualised_on="2025-05-10")
    assert other["client_pseudonym"] != cases[0]["client_pseudonym"]
    assert other["previous_cases"] == 0
    assert len(cases[0]["client_pseudonym"]) == 64


# --- P3 ------------------------------------------------------------------------


def lookup(client: TestClient, coordinator: Account, pseudonym: str) -> dict[str, Any]:
    r = client.post(
        "/api/v1/kodnyckel/lookup",
        json={"pseudonym": pseudonym, "reason": "Kontroll av normalisering i test"},
        headers=coordinator.headers,
    )
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def test_p3_centenarian_and_samordningsnummer_are_normalised_to_the_right_century(
    client: TestClient, session: Session, kodnyckel_app: FastAPI
) -> None:
    unit = make_unit(session)
    worker = make_account(session, "caseworker", unit=unit)
    coordinator = make_account(session, "coordinator", municipality="0180")

    plus = create_case(client, worker, client_id="121212+1212")
    assert plus["client_id_kind"] == "personnummer"
    assert plus["values"]["age"] == 112  # 1912, not 2012
    assert plus["client_pseudonym"] == create_case(client, worker)["client_pseudonym"]  # == PNR
    assert lookup(client, coordinator, plus["client_pseudonym"])["identifier"] == PNR

    samordning = create_case(client, worker, client_id=SAMORDNINGSNUMMER)
    assert samordning["client_id_kind"] == "samordningsnummer"
    found = lookup(client, coordinator, samordning["client_pseudonym"])
    assert found == {
        "pseudonym": samordning["client_pseudonym"],
        "identifier": "19900161-0014",
        "kind": "samordningsnummer",
    }
    twelve = create_case(client, worker, client_id="19900161-0014")
    assert twelve["client_pseudonym"] == samordning["client_pseudonym"]


@pytest.mark.parametrize(
    ("client_id", "code"),
    [
        (WRONG_CHECK_DIGIT, "client_id_checksum"),
        (FEBRUARY_31, "client_id_date"),
        (FUTURE_BIRTH, "client_id_future"),
    ],
)
def test_p3_invalid_numbers_are_rejected_and_nothing_is_written(
    client: TestClient, session: Session, kodnyckel_app: FastAPI, client_id: str, code: str
) -> None:
    unit = make_unit(session)
    worker = make_account(session, "caseworker", unit=unit)
    create_case(client, worker, client_id=PNR_OTHER)  # keys and chain exist already
    before = table_counts(session)
    r = client.post(
        "/api/v1/cases",
        json={
            "client_id": client_id,
            "actualised_on": "2025-03-01",
            "comments": {"origin": COMMENT},
        },
        headers=worker.headers,
    )
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["type"] == "/problems/validation"
    assert [(e["pointer"], e["code"]) for e in body["errors"]] == [("/client_id", code)]
    assert client_id not in r.text
    assert client_id.replace("-", "") not in r.text
    assert table_counts(session) == before


def test_p3_a_units_own_code_is_accepted_as_such(client: TestClient, session: Session) -> None:
    unit = make_unit(session)
    worker = make_account(session, "caseworker", unit=unit)
    values = {"sex": 1, "age": 40, "age_basis": 1}
    first = create_case(client, worker, client_id="Klient ÅB-17", values=values)
    assert first["client_id_kind"] == "local"
    # Case and spacing do not make another client; a different code does.
    again = create_case(client, worker, client_id="  klient   åb-17 ", values=values)
    assert again["client_pseudonym"] == first["client_pseudonym"]
    assert again["previous_cases"] == 1
    other = create_case(client, worker, client_id="Klient ÅB-18", values=values)
    assert other["client_pseudonym"] != first["client_pseudonym"]
    # Digits that are not shaped like a personnummer are a local code too.
    short = create_case(client, worker, client_id="12345", values=values)
    assert short["client_id_kind"] == "local"


# --- P4 ------------------------------------------------------------------------


def test_p4_same_identifier_other_municipality_other_pseudonym(
    client: TestClient, session: Session
) -> None:
    worker_a = make_account(session, "caseworker", unit=make_unit(session, "0180"))
    worker_b = make_account(session, "caseworker", unit=make_unit(session, "1480"))
    case_a = create_case(client, worker_a, actualised_on="2025-01-10")
    case_b = create_case(client, worker_b, actualised_on="2025-02-10")
    assert case_a["client_pseudonym"] != case_b["client_pseudonym"]
    assert case_b["previous_cases"] == 0  # A's earlier case is not B's client history
    listed = client.get("/api/v1/cases", headers=worker_b.headers).json()
    assert [item["id"] for item in listed["items"]] == [case_b["id"]]
    assert client.get(f"/api/v1/cases/{case_a['id']}", headers=worker_b.headers).status_code == 404
    # Pseudonym keys are per municipality: both rows exist, neither reused.
    stored = session.scalars(select(Case.client_pseudonym).order_by(Case.municipality_code)).all()
    assert stored == [case_a["client_pseudonym"], case_b["client_pseudonym"]]
