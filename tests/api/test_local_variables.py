"""Local and regional variables: defined through the API at run time (no code
change, no migration), validated like shared ones, retired but never deleted."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, inspect, select
from sqlalchemy.orm import Session

from app.models import AuditEvent, Case, LocalVariableDefinition
from tests.factories import PNR_OTHER, Account, create_case, make_account, make_unit

API = "/api/v1/local-variables"


def definition(key: str, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "key": key,
        "phase": "bakgrund",
        "type": "single",
        "label": {"sv": "Boendesituation", "en": "Housing situation"},
        "question": {"sv": "Hur bor klienten?", "en": "How does the client live?"},
        "options": [
            {"code": 1, "label": {"sv": "Eget boende", "en": "Own home"}},
            {"code": 2, "label": {"sv": "Skyddat boende", "en": "Sheltered housing"}},
        ],
    }
    body.update(overrides)
    return body


def define(
    client: TestClient, account: Account, key: str, *, export_opt_in: bool = False, **kw: Any
) -> dict[str, Any]:
    response = client.post(
        API,
        json={"definition": definition(key, **kw), "export_opt_in": export_opt_in},
        headers=account.headers,
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def count(session: Session, model: Any, *where: Any) -> int:
    return session.scalar(select(func.count()).select_from(model).where(*where)) or 0


def audit_actions(session: Session, action: str) -> list[AuditEvent]:
    return list(
        session.scalars(
            select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
        ).all()
    )


def pointers(response: Any) -> list[str]:
    return [e["pointer"] for e in response.json().get("errors", [])]


@pytest.fixture
def stockholm(session: Session) -> dict[str, Account]:
    """Municipality 0180 (Stockholm, county 01) and 1480 (Göteborg, county 14)."""
    unit = make_unit(session, "0180")
    other_unit = make_unit(session, "1480")
    return {
        "worker": make_account(session, "caseworker", unit=unit),
        "coordinator": make_account(session, "coordinator", municipality="0180"),
        "regional": make_account(session, "regional", county="01"),
        "other_coordinator": make_account(session, "coordinator", municipality="1480"),
        "other_regional": make_account(session, "regional", county="14"),
        "other_worker": make_account(session, "caseworker", unit=other_unit),
        "national": make_account(session, "national"),
        "admin": make_account(session, "admin"),
    }


def test_defined_variable_is_accepted_on_cases_at_once(
    client: TestClient, session: Session, stockholm: dict[str, Account]
) -> None:
    columns_before = {c["name"] for c in inspect(session.connection()).get_columns("cases")}
    tables_before = set(inspect(session.connection()).get_table_names())
    created = define(client, stockholm["coordinator"], "k0180.housing")
    assert created["key"] == "k0180.housing"
    assert (created["owner_kind"], created["owner_code"]) == ("municipality", "0180")
    assert created["is_retired"] is False
    assert created["definition"]["options"][1]["code"] == 2
    events = audit_actions(session, "local_variable.create")
    assert [(e.object_id, e.fields) for e in events] == [(created["id"], ["k0180.housing"])]

    worker = stockholm["worker"]
    case = create_case(client, worker, local_values={"k0180.housing": 2})
    assert case["local_values"] == {"k0180.housing": 2}
    assert "k0180.housing" not in case["values"]
    read = client.get(f"/api/v1/cases/{case['id']}", headers=worker.headers)
    assert read.status_code == 200
    assert read.json()["local_values"] == {"k0180.housing": 2}

    # An unknown code is rejected with a pointer; nothing changes.
    response = client.patch(
        f"/api/v1/cases/{case['id']}",
        json={"local_values": {"k0180.housing": 9}},
        headers={**worker.headers, "If-Match": '"1"'},
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == "/problems/validation"
    assert pointers(response) == ["/local_values/k0180.housing"]
    assert response.json()["errors"][0]["code"] == "unknown_code"
    stored = session.get(Case, uuid.UUID(case["id"]))
    assert stored is not None
    session.refresh(stored)
    assert stored.version == 1
    assert stored.values["k0180.housing"] == 2

    # A valid change is accepted.
    response = client.patch(
        f"/api/v1/cases/{case['id']}",
        json={"local_values": {"k0180.housing": 1}},
        headers={**worker.headers, "If-Match": '"1"'},
    )
    assert response.status_code == 200, response.text
    assert response.json()["local_values"] == {"k0180.housing": 1}

    # No schema change was needed.
    assert {c["name"] for c in inspect(session.connection()).get_columns("cases")} == (
        columns_before
    )
    assert set(inspect(session.connection()).get_table_names()) == tables_before


def test_county_variables_apply_to_the_county_only(
    client: TestClient, session: Session, stockholm: dict[str, Account]
) -> None:
    define(client, stockholm["regional"], "l01.interpreter", phase="fore")
    define(client, stockholm["other_regional"], "l14.interpreter")
    define(client, stockholm["other_coordinator"], "k1480.housing")
    worker = stockholm["worker"]
    case = create_case(client, worker, local_values={"l01.interpreter": 1})
    assert case["local_values"] == {"l01.interpreter": 1}

    cases_before = count(session, Case)
    for key in ("k1480.housing", "l14.interpreter", "k0180.never_defined"):
        response = client.post(
            "/api/v1/cases",
            json={
                "client_id": PNR_OTHER,
                "actualised_on": "2025-03-01",
                "local_values": {key: 1},
            },
            headers=worker.headers,
        )
        assert response.status_code == 422, (key, response.text)
        assert pointers(response) == [f"/local_values/{key}"]
        assert response.json()["errors"][0]["code"] == "unknown_variable"
    assert count(session, Case) == cases_before

    # Göteborg's own variable works for Göteborg.
    other = create_case(client, stockholm["other_worker"], local_values={"k1480.housing": 1})
    assert other["local_values"] == {"k1480.housing": 1}


BAD_DEFINITIONS = [
    pytest.param({"label": None}, "/definition/label", id="label-null"),
    pytest.param({"key": "k0180.Bad Key"}, "/definition/key", id="key-pattern"),
    pytest.param({"key": "sex"}, "/definition/key", id="shared-key"),
    pytest.param({"key": "k1480.housing"}, "/definition/key", id="other-municipality"),
    pytest.param({"key": "l01.housing"}, "/definition/key", id="county-namespace"),
    pytest.param({"phase": "sometime"}, "/definition/phase", id="phase"),
    pytest.param({"type": "text", "options": []}, "/definition/type", id="free-text"),
    pytest.param({"options": []}, "/definition", id="single-without-options"),
    pytest.param(
        {"options": [{"code": 0, "label": {"sv": "Noll", "en": "Zero"}}]},
        "/definition/options/0/code",
        id="code-zero",
    ),
    pytest.param(
        {
            "options": [
                {"code": 1, "label": {"sv": "A", "en": "A"}},
                {"code": 1, "label": {"sv": "B", "en": "B"}},
            ]
        },
        "/definition",
        id="duplicate-codes",
    ),
    pytest.param({"storage": "group"}, "/definition/storage", id="storage"),
    pytest.param({"colour": "red"}, "/definition/colour", id="unknown-field"),
    pytest.param(
        {"comment": {"code": 9, "label": {"sv": "Kommentar", "en": "Comment"}}},
        "/definition/comment",
        id="comment",
    ),
    pytest.param(
        {"applies_when": {"variable": "sex", "any_of": [1]}},
        "/definition/applies_when",
        id="skip-logic",
    ),
    pytest.param({"retired": True}, "/definition/retired", id="retired"),
    pytest.param(
        {"label": {"sv": "Bo\x00ende", "en": "Housing"}}, "/definition/label/sv", id="nul"
    ),
    pytest.param({"note": "x" * 2001}, "/definition/note", id="long-text"),
    pytest.param(
        {"options": [{"code": i, "label": {"sv": "x", "en": "x"}} for i in range(1, 102)]},
        "/definition/options",
        id="too-many-options",
    ),
]


@pytest.mark.parametrize(("override", "pointer"), BAD_DEFINITIONS)
def test_bad_definition_is_rejected_with_pointer(
    client: TestClient,
    session: Session,
    stockholm: dict[str, Account],
    override: dict[str, Any],
    pointer: str,
) -> None:
    before = (count(session, LocalVariableDefinition), count(session, AuditEvent))
    response = client.post(
        API,
        json={"definition": {**definition("k0180.housing"), **override}},
        headers=stockholm["coordinator"].headers,
    )
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["type"] == "/problems/validation"
    assert pointer in pointers(response)
    assert all(p.startswith("/definition") for p in pointers(response))
    assert all(e["detail"] and e["detail_en"] for e in body["errors"])
    assert (count(session, LocalVariableDefinition), count(session, AuditEvent)) == before


def test_body_shape_errors(
    client: TestClient, session: Session, stockholm: dict[str, Account]
) -> None:
    headers = stockholm["coordinator"].headers
    response = client.post(API, json={"export_opt_in": True}, headers=headers)
    assert response.status_code == 422
    assert pointers(response) == ["/definition"]
    response = client.post(API, json={"definition": [], "export_opt_in": True}, headers=headers)
    assert response.status_code == 422
    assert pointers(response) == ["/definition"]
    assert count(session, LocalVariableDefinition) == 0


def test_lone_surrogate_is_rejected(
    client: TestClient, session: Session, stockholm: dict[str, Account]
) -> None:
    raw = (
        '{"definition": {"key": "k0180.housing", "phase": "bakgrund", "type": "single",'
        ' "label": {"sv": "\\ud800", "en": "x"}, "question": {"sv": "x", "en": "x"},'
        ' "options": [{"code": 1, "label": {"sv": "x", "en": "x"}}]}}'
    )
    response = client.post(
        API,
        content=raw.encode(),
        headers={**stockholm["coordinator"].headers, "Content-Type": "application/json"},
    )
    assert response.status_code == 422, response.text
    assert pointers(response) == ["/definition/label/sv"]
    assert response.json()["errors"][0]["code"] == "string_unicode"
    # … also as an object key (the pointer shows it replaced).
    response = client.post(
        API,
        content=raw.replace('"phase"', '"\\udc00"', 1).encode(),
        headers={**stockholm["coordinator"].headers, "Content-Type": "application/json"},
    )
    assert response.status_code == 422, response.text
    assert ("/definition/?", "string_unicode") in [
        (e["pointer"], e["code"]) for e in response.json()["errors"]
    ]
    assert count(session, LocalVariableDefinition) == 0


def test_keys_are_never_reused(
    client: TestClient, session: Session, stockholm: dict[str, Account]
) -> None:
    created = define(client, stockholm["coordinator"], "k0180.housing")
    response = client.post(
        f"{API}/{created['id']}/retire", headers=stockholm["coordinator"].headers
    )
    assert response.status_code == 200
    response = client.post(
        API,
        json={"definition": definition("k0180.housing", phase="fore")},
        headers=stockholm["coordinator"].headers,
    )
    assert response.status_code == 409
    assert response.json()["type"] == "/problems/conflict"
    assert count(session, LocalVariableDefinition) == 1


def test_idempotency_key(
    client: TestClient, session: Session, stockholm: dict[str, Account]
) -> None:
    headers = {**stockholm["coordinator"].headers, "Idempotency-Key": "lv-1"}
    body = {"definition": definition("k0180.housing"), "export_opt_in": True}
    first = client.post(API, json=body, headers=headers)
    again = client.post(API, json=body, headers=headers)
    assert (first.status_code, again.status_code) == (201, 201)
    assert first.json() == again.json()
    assert count(session, LocalVariableDefinition) == 1
    assert len(audit_actions(session, "local_variable.create")) == 1
    changed = client.post(API, json={**body, "export_opt_in": False}, headers=headers)
    assert changed.status_code == 422
    assert pointers(changed) == ["/headers/Idempotency-Key"]
    assert count(session, LocalVariableDefinition) == 1


@pytest.mark.parametrize("role", ["worker", "national", "admin"])
def test_only_coordinators_and_regional_define(
    client: TestClient, session: Session, stockholm: dict[str, Account], role: str
) -> None:
    response = client.post(
        API, json={"definition": definition("k0180.housing")}, headers=stockholm[role].headers
    )
    assert response.status_code == 403
    assert response.json()["type"] == "/problems/forbidden"
    assert count(session, LocalVariableDefinition) == 0


def test_regional_defines_in_county_namespace(
    client: TestClient, session: Session, stockholm: dict[str, Account]
) -> None:
    response = client.post(
        API, json={"definition": definition("k0180.housing")}, headers=stockholm["regional"].headers
    )
    assert response.status_code == 422
    assert pointers(response) == ["/definition/key"]
    created = define(client, stockholm["regional"], "l01.housing")
    assert (created["owner_kind"], created["owner_code"]) == ("county", "01")
    assert count(session, LocalVariableDefinition) == 1


def test_list_shows_what_the_caller_may_use_or_see(
    client: TestClient, session: Session, stockholm: dict[str, Account]
) -> None:
    define(client, stockholm["coordinator"], "k0180.opted", export_opt_in=True)
    define(client, stockholm["coordinator"], "k0180.internal")
    define(client, stockholm["regional"], "l01.county")
    define(client, stockholm["other_coordinator"], "k1480.opted", export_opt_in=True)
    define(client, stockholm["other_regional"], "l14.county")

    def keys(role: str) -> list[str]:
        response = client.get(API, headers=stockholm[role].headers)
        assert response.status_code == 200, response.text
        return [item["key"] for item in response.json()["items"]]

    assert keys("coordinator") == ["k0180.internal", "k0180.opted", "l01.county"]
    assert keys("worker") == ["k0180.internal", "k0180.opted", "l01.county"]
    assert keys("other_worker") == ["k1480.opted", "l14.county"]
    assert keys("regional") == ["k0180.opted", "l01.county"]
    assert keys("national") == ["k0180.opted", "k1480.opted"]
    assert len(keys("admin")) == 5
    assert len(audit_actions(session, "local_variable.list")) == 6


def test_retired_variable_takes_no_new_values_but_old_ones_stay(
    client: TestClient, session: Session, stockholm: dict[str, Account]
) -> None:
    coordinator, worker = stockholm["coordinator"], stockholm["worker"]
    created = define(client, coordinator, "k0180.housing")
    case = create_case(client, worker, local_values={"k0180.housing": 2})

    response = client.post(f"{API}/{created['id']}/retire", headers=coordinator.headers)
    assert response.status_code == 200, response.text
    assert response.json()["is_retired"] is True
    assert response.json()["definition"]["retired"] is True
    row = session.get(LocalVariableDefinition, uuid.UUID(created["id"]))
    assert row is not None
    session.refresh(row)
    assert row.is_retired is True
    retire_events = audit_actions(session, "local_variable.retire")
    assert [(e.object_id, e.fields) for e in retire_events] == [(created["id"], ["k0180.housing"])]

    # Existing value readable; the list still shows the variable, flagged.
    read = client.get(f"/api/v1/cases/{case['id']}", headers=worker.headers)
    assert read.json()["local_values"] == {"k0180.housing": 2}
    listed = client.get(API, headers=worker.headers).json()["items"]
    assert [(i["key"], i["is_retired"]) for i in listed] == [("k0180.housing", True)]

    # A new value is rejected, on an existing case and on a new one.
    response = client.patch(
        f"/api/v1/cases/{case['id']}",
        json={"local_values": {"k0180.housing": 1}},
        headers={**worker.headers, "If-Match": '"1"'},
    )
    assert response.status_code == 422
    assert pointers(response) == ["/local_values/k0180.housing"]
    cases_before = count(session, Case)
    response = client.post(
        "/api/v1/cases",
        json={
            "client_id": PNR_OTHER,
            "actualised_on": "2025-03-01",
            "local_values": {"k0180.housing": 1},
        },
        headers=worker.headers,
    )
    assert response.status_code == 422
    assert count(session, Case) == cases_before

    # Other changes to the case keep the retired value.
    response = client.patch(
        f"/api/v1/cases/{case['id']}",
        json={"values": {"perpetrator": [1]}},
        headers={**worker.headers, "If-Match": '"1"'},
    )
    assert response.status_code == 200, response.text
    assert response.json()["local_values"] == {"k0180.housing": 2}

    # Retiring again changes nothing.
    again = client.post(f"{API}/{created['id']}/retire", headers=coordinator.headers)
    assert again.status_code == 200
    assert again.json()["is_retired"] is True


def test_only_the_owner_retires(
    client: TestClient, session: Session, stockholm: dict[str, Account]
) -> None:
    county = define(client, stockholm["regional"], "l01.county")
    own = define(client, stockholm["coordinator"], "k0180.housing")
    # Visible but not owned: 403. Not visible, or unknown: 404 with one body.
    response = client.post(f"{API}/{county['id']}/retire", headers=stockholm["coordinator"].headers)
    assert response.status_code == 403
    foreign = client.post(
        f"{API}/{own['id']}/retire", headers=stockholm["other_coordinator"].headers
    )
    unknown = client.post(
        f"{API}/{uuid.uuid4()}/retire", headers=stockholm["other_coordinator"].headers
    )
    assert foreign.status_code == unknown.status_code == 404
    assert {k: v for k, v in foreign.json().items() if k != "instance"} == {
        k: v for k, v in unknown.json().items() if k != "instance"
    }
    for role in ("worker", "national", "admin"):
        response = client.post(f"{API}/{own['id']}/retire", headers=stockholm[role].headers)
        assert response.status_code == 403, role
    assert (
        count(session, LocalVariableDefinition, LocalVariableDefinition.is_retired.is_(True)) == 0
    )
    assert audit_actions(session, "local_variable.retire") == []
    # The regional owner may retire its own variable.
    response = client.post(f"{API}/{county['id']}/retire", headers=stockholm["regional"].headers)
    assert response.status_code == 200
    assert response.json()["is_retired"] is True
