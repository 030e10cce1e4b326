"""Kodnyckel re-identification: coordinators of the municipality only, a reason
required, every look-up audited without the identifier (ACCEPTANCE A4)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from app.db import Base
from app.models import AuditEvent, KodnyckelEntry
from tests.factories import PNR, Account, create_case, make_account, make_unit

URL = "/api/v1/kodnyckel/lookup"
REASON = "Klienten begär utdrag; kontroll av identitet inför svar"


@pytest.fixture
def kodnyckel_app(app: FastAPI) -> Iterator[FastAPI]:
    """Stockholm (0180) and Göteborg (1480) keep a kodnyckel in this app."""
    original = app.state.settings
    app.state.settings = original.model_copy(update={"kodnyckel_municipalities": ["0180", "1480"]})
    yield app
    app.state.settings = original


def audit_rows(session: Session, action: str | None = None) -> list[AuditEvent]:
    session.expire_all()
    query = select(AuditEvent).order_by(AuditEvent.id)
    if action is not None:
        query = query.where(AuditEvent.action == action)
    return list(session.scalars(query))


def audit_count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(AuditEvent)) or 0


def ask(client: TestClient, account: Account, body: dict[str, Any]) -> Any:
    return client.post(URL, json=body, headers=account.headers)


@pytest.fixture
def kod(client: TestClient, session: Session, kodnyckel_app: FastAPI) -> dict[str, Any]:
    unit_a = make_unit(session, "0180")
    worker_a = make_account(session, "caseworker", unit=unit_a)
    case = create_case(client, worker_a)
    return {
        "case": case,
        "pseudonym": case["client_pseudonym"],
        "worker_a": worker_a,
        "coordinator_a": make_account(session, "coordinator", municipality="0180"),
        "coordinator_b": make_account(session, "coordinator", municipality="1480"),
    }


def test_a4_coordinator_with_reason_gets_identifier_and_one_audit_event(
    client: TestClient, session: Session, kod: dict[str, Any]
) -> None:
    before = audit_count(session)
    r = ask(client, kod["coordinator_a"], {"pseudonym": kod["pseudonym"], "reason": REASON})
    assert r.status_code == 200, r.text
    assert r.json() == {"pseudonym": kod["pseudonym"], "identifier": PNR, "kind": "personnummer"}
    assert r.headers["cache-control"] == "no-store"

    assert audit_count(session) == before + 1
    (event,) = audit_rows(session, "kodnyckel.lookup")
    assert event.actor_user_id == kod["coordinator_a"].user.id
    assert event.actor_role == "coordinator"
    assert event.municipality_code == "0180"
    assert (event.object_type, event.object_id) == ("kodnyckel", kod["pseudonym"])
    assert event.fields == ["reason"]  # that a reason was given, not the reason
    assert event.outcome == "ok"
    text = json.dumps(
        [str(getattr(e, c.key)) for e in audit_rows(session) for c in AuditEvent.__table__.c]
    )
    for secret in (PNR, PNR.replace("-", ""), PNR[2:], REASON, "utdrag"):
        assert secret not in text


def test_a4_uppercase_pseudonym_is_the_same_pseudonym(
    client: TestClient, kod: dict[str, Any]
) -> None:
    r = ask(
        client,
        kod["coordinator_a"],
        {"pseudonym": kod["pseudonym"].upper(), "reason": REASON},
    )
    assert r.status_code == 200, r.text
    assert r.json()["identifier"] == PNR


@pytest.mark.parametrize("role", ["caseworker", "regional", "national", "admin"])
def test_a4_other_roles_are_forbidden(
    client: TestClient, session: Session, kod: dict[str, Any], role: str
) -> None:
    if role == "caseworker":
        account = kod["worker_a"]
    else:
        account = make_account(session, role, county="01" if role == "regional" else None)
    before = audit_count(session)
    r = ask(client, account, {"pseudonym": kod["pseudonym"], "reason": REASON})
    assert r.status_code == 403, r.text
    assert r.json()["type"] == "/problems/forbidden"
    assert PNR not in r.text
    # Forbidden regardless of the body: no reason, or a pseudonym that does not exist.
    assert ask(client, account, {"pseudonym": kod["pseudonym"]}).status_code == 403
    assert ask(client, account, {"pseudonym": "0" * 64, "reason": REASON}).status_code == 403
    assert audit_count(session) == before


def test_a4_other_municipality_gets_the_same_404_as_an_unknown_pseudonym(
    client: TestClient, session: Session, kod: dict[str, Any]
) -> None:
    before = audit_count(session)
    foreign = ask(client, kod["coordinator_b"], {"pseudonym": kod["pseudonym"], "reason": REASON})
    unknown = ask(client, kod["coordinator_a"], {"pseudonym": "ab" * 32, "reason": REASON})
    assert foreign.status_code == unknown.status_code == 404
    assert foreign.json()["type"] == "/problems/not-found"
    assert foreign.json() == unknown.json()
    assert audit_count(session) == before


@pytest.mark.parametrize(
    "reason",
    [None, "", "för kort", " " * 20 + "kort" + " " * 20, "x" * 501],
    ids=["missing", "empty", "nine-chars", "short-after-strip", "too-long"],
)
def test_a4_reason_is_required_10_to_500_chars(
    client: TestClient, session: Session, kod: dict[str, Any], reason: str | None
) -> None:
    body: dict[str, Any] = {"pseudonym": kod["pseudonym"]}
    if reason is not None:
        body["reason"] = reason
    before = audit_count(session)
    r = ask(client, kod["coordinator_a"], body)
    assert r.status_code == 422, r.text
    problem = r.json()
    assert problem["type"] == "/problems/validation"
    assert [e["pointer"] for e in problem["errors"]] == ["/reason"]
    assert PNR not in r.text
    assert audit_count(session) == before


def test_a4_reason_limits_are_inclusive(client: TestClient, kod: dict[str, Any]) -> None:
    for reason in ("x" * 10, "x" * 500):
        r = ask(client, kod["coordinator_a"], {"pseudonym": kod["pseudonym"], "reason": reason})
        assert r.status_code == 200, r.text


@pytest.mark.parametrize("pseudonym", ["", "abc", "g" * 64, "a" * 65])
def test_malformed_pseudonym_is_422(
    client: TestClient, kod: dict[str, Any], pseudonym: str
) -> None:
    r = ask(client, kod["coordinator_a"], {"pseudonym": pseudonym, "reason": REASON})
    assert r.status_code == 422, r.text
    assert [e["pointer"] for e in r.json()["errors"]] == ["/pseudonym"]


def test_unknown_field_is_rejected(client: TestClient, kod: dict[str, Any]) -> None:
    body = {"pseudonym": kod["pseudonym"], "reason": REASON, "identifier": PNR}
    r = ask(client, kod["coordinator_a"], body)
    assert r.status_code == 422
    assert [e["pointer"] for e in r.json()["errors"]] == ["/identifier"]
    assert PNR not in r.text


def test_municipality_without_kodnyckel_keeps_none_and_finds_none(
    client: TestClient, session: Session, app: FastAPI
) -> None:
    assert app.state.settings.kodnyckel_municipalities == []
    worker = make_account(session, "caseworker", unit=make_unit(session, "0180"))
    coordinator = make_account(session, "coordinator", municipality="0180")
    case = create_case(client, worker)
    assert session.scalar(select(func.count()).select_from(KodnyckelEntry)) == 0
    r = ask(client, coordinator, {"pseudonym": case["client_pseudonym"], "reason": REASON})
    assert r.status_code == 404


def test_local_code_is_returned_normalised(
    client: TestClient, session: Session, kod: dict[str, Any]
) -> None:
    case = create_case(
        client, kod["worker_a"], client_id="  Klient  ÅB-17 ", values={"sex": 1, "age": 40}
    )
    r = ask(client, kod["coordinator_a"], {"pseudonym": case["client_pseudonym"], "reason": REASON})
    assert r.json() == {
        "pseudonym": case["client_pseudonym"],
        "identifier": "klient åb-17",
        "kind": "local",
    }


def test_tampered_kodnyckel_is_an_integrity_problem_not_an_identifier(
    client: TestClient, session: Session, kod: dict[str, Any]
) -> None:
    entry = session.scalar(
        select(KodnyckelEntry).where(KodnyckelEntry.client_pseudonym == kod["pseudonym"])
    )
    assert entry is not None
    blob = bytearray(entry.identifier_ciphertext)
    blob[20] ^= 0x01
    session.execute(
        update(Base.metadata.tables["kodnyckel"])
        .where(Base.metadata.tables["kodnyckel"].c.id == entry.id)
        .values(identifier_ciphertext=bytes(blob))
    )
    before = audit_count(session)
    r = ask(client, kod["coordinator_a"], {"pseudonym": kod["pseudonym"], "reason": REASON})
    assert r.status_code == 500
    assert r.json()["type"] == "/problems/integrity"
    assert PNR not in r.text
    assert "identifier" not in r.json()
    events = audit_rows(session)[before:]
    assert [(e.action, e.outcome) for e in events] == [("integrity.failed", "integrity_failure")]
    assert events[0].actor_user_id == kod["coordinator_a"].user.id
