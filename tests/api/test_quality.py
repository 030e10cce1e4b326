"""Data-quality report (GET /api/v1/quality) and the cases lacking a variable
(GET /api/v1/quality/cases): counts per phase, variable and funnel step,
scope per role, excluded cases apart, every call audited."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from app.models import AuditEvent, Unit
from tests.factories import PNR, PNR_OTHER, Account, case_body, make_account, make_unit

API = "/api/v1/quality"


def build_case(
    client: TestClient,
    worker: Account,
    actualised_on: str,
    *,
    values: dict[str, Any] | None = None,
    interventions: Sequence[dict[str, Any]] = (),
    risk: bool = False,
    close: dict[str, Any] | None = None,
    survey: dict[str, Any] | None = None,
    **overrides: Any,
) -> str:
    """A case driven through the API, as a caseworker would register it."""
    body = case_body(actualised_on=actualised_on, **overrides)
    body["values"] = {**body["values"], **(values or {})}
    response = client.post("/api/v1/cases", json=body, headers=worker.headers)
    assert response.status_code == 201, response.text
    case_id: str = response.json()["id"]
    etag = response.headers["etag"]
    url = f"/api/v1/cases/{case_id}"
    for item in interventions:
        response = client.post(f"{url}/interventions", json=item, headers=worker.headers)
        assert response.status_code == 201, response.text
        etag = response.headers["etag"]
    if risk:
        response = client.post(
            f"{url}/risk-assessments",
            json={
                "assessed_on": actualised_on,
                "assessment_phase": 1,
                "risk_instrument": 1,
            },
            headers=worker.headers,
        )
        assert response.status_code == 201, response.text
        etag = response.headers["etag"]
    if close is not None:
        response = client.post(
            f"{url}/close", json=close, headers={**worker.headers, "If-Match": etag}
        )
        assert response.status_code == 200, response.text
        etag = response.headers["etag"]
    if survey is not None:
        response = client.put(
            f"{url}/survey",
            json={
                "answered_on": close["closed_on"] if close else actualised_on,
                "language": 1,
                "mode": 2,
                **survey,
            },
            headers={**worker.headers, "If-Match": etag},
        )
        assert response.status_code == 200, response.text
    return case_id


def intervention(start: str, grounds: int | None = 1) -> dict[str, Any]:
    item: dict[str, Any] = {"intervention_start_on": start, "intervention_type": 4}
    if grounds is not None:
        item["intervention_grounds"] = grounds
    return item


@dataclass
class World:
    unit_a: Unit
    unit_b: Unit
    worker_a: Account
    worker_b: Account
    coordinator: Account
    other_coordinator: Account
    regional: Account
    national: Account
    admin: Account
    cases: dict[str, str]


@pytest.fixture
def world(client: TestClient, session: Session) -> World:
    """Municipality 0180 with units A and B, and municipality 1480 beside it.

    Unit A: c1 aktualiserad; c2 fått insats (no grounds, no collaboration);
    c3 closed without intervention; c4 complete; c5 closed, 203 missing;
    c6 excluded. Unit B: c7 without caseworker reference. 1480: c8.
    """
    unit_a = make_unit(session, "0180", name="A-enheten")
    unit_b = make_unit(session, "0180", name="B-enheten")
    other_unit = make_unit(session, "1480", name="Göteborgsenheten")
    worker_a = make_account(session, "caseworker", unit=unit_a)
    worker_b = make_account(session, "caseworker", unit=unit_b)
    other_worker = make_account(session, "caseworker", unit=other_unit)
    coordinator = make_account(session, "coordinator", municipality="0180")
    cases = {
        "c1": build_case(client, worker_a, "2025-01-10", values={"child_followup": []}),
        "c2": build_case(
            client, worker_a, "2025-01-20", interventions=[intervention("2025-01-25", None)]
        ),
        "c3": build_case(
            client,
            worker_a,
            "2025-02-01",
            close={"closed_on": "2025-02-10", "values": {"closing_reason": 2}},
        ),
        "c4": build_case(
            client,
            worker_a,
            "2025-02-10",
            values={"perpetrator": [2], "collaboration": []},
            interventions=[intervention("2025-02-11")],
            risk=True,
            close={
                "closed_on": "2025-03-01",
                "values": {"closing_reason": 1, "goal_followup": 1, "implementation": 1},
            },
            survey={"survey_violence_change": 3, "survey_positive": 1},
        ),
        "c5": build_case(
            client,
            worker_a,
            "2025-02-20",
            client_id=PNR_OTHER,
            values={"collaboration": [1, 5]},
            interventions=[intervention("2025-02-21", 2)],
            close={"closed_on": "2025-03-05", "values": {"closing_reason": 1, "goal_followup": 2}},
            survey={"survey_violence_change": 1},
        ),
        "c6": build_case(client, worker_a, "2025-03-01"),
        "c7": build_case(client, worker_b, "2025-03-02", caseworker_ref=None),
        "c8": build_case(client, other_worker, "2025-01-15"),
    }
    response = client.post(
        f"/api/v1/cases/{cases['c6']}/exclusion",
        json={"reason": "perpetrator"},
        headers={**coordinator.headers, "If-Match": '"1"'},
    )
    assert response.status_code == 200, response.text
    return World(
        unit_a=unit_a,
        unit_b=unit_b,
        worker_a=worker_a,
        worker_b=worker_b,
        coordinator=coordinator,
        other_coordinator=make_account(session, "coordinator", municipality="1480"),
        regional=make_account(session, "regional", county="01"),
        national=make_account(session, "national"),
        admin=make_account(session, "admin"),
        cases=cases,
    )


def variables(group: dict[str, Any]) -> dict[str, tuple[int, int]]:
    """key -> (missing, applicable) over all phases."""
    return {
        v["key"]: (v["missing"], v["applicable"])
        for phase in group["phases"]
        for v in phase["variables"]
    }


def funnel(group: dict[str, Any]) -> list[tuple[str, int, int | None]]:
    return [(s["step"], s["registered"], s["not_registered"]) for s in group["funnel"]]


def audit_events(session: Session, action: str) -> list[AuditEvent]:
    return list(session.scalars(select(AuditEvent).where(AuditEvent.action == action)).all())


# Unit A, by hand from the fixture (c6 is excluded):
UNIT_A = {
    # bakgrund and före: every case (5)
    "caseworker_ref": (0, 5),
    "sex": (0, 5),
    "age": (0, 5),
    "age_basis": (0, 5),
    "disability": (0, 5),
    "origin": (0, 5),
    "child_followup": (4, 5),  # c1 registered as none ([]) counts as registered
    "contact_initiative": (0, 5),
    "perpetrator": (4, 5),
    "honour_context": (5, 5),
    "violence_severity": (5, 5),
    "risk_instrument": (4, 5),
    "change_goal": (5, 5),
    # under: past aktualisering (c2 with an intervention; c3, c4, c5 closed)
    "intervention_start_on": (1, 4),  # c3 closed without intervention
    "intervention_type": (1, 4),
    "intervention_grounds": (2, 4),  # c3, and c2's intervention without grounds
    "collaboration": (2, 4),  # c4 registered "0 aktörer" ([])
    # efter: closed (c3, c4, c5)
    "implementation": (2, 3),
    "goal_followup": (1, 3),
    "closing_reason": (0, 3),
    # brukarenkät: closed; 203 only where 202 is an improvement (c5)
    "survey_violence_change": (1, 3),
    "survey_support_importance": (1, 1),
    "survey_positive": (2, 3),
    "survey_influence": (3, 3),
}
FUNNEL_A = [
    ("aktualiserad", 5, None),
    ("fatt_insats", 3, 2),
    ("avslutad", 3, 2),
    ("avslutsorsak_angiven", 3, 0),
    ("maluppfoljning_angiven", 2, 1),
    ("brukarenkat_genomford", 2, 1),
]


def test_coordinator_report_per_unit_and_municipality(
    client: TestClient, session: Session, world: World
) -> None:
    response = client.get(API, headers=world.coordinator.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["municipality_code"] == "0180"
    assert [u["unit_name"] for u in body["units"]] == ["A-enheten", "B-enheten"]
    unit_a, unit_b = body["units"]
    assert unit_a["unit_id"] == str(world.unit_a.id)
    assert (unit_a["cases"], unit_a["excluded_cases"]) == (5, 1)
    assert variables(unit_a) == UNIT_A
    assert funnel(unit_a) == FUNNEL_A
    assert [p["phase"] for p in unit_a["phases"]] == [
        "bakgrund",
        "fore",
        "under",
        "efter",
        "brukarenkat",
    ]
    by_phase = {
        p["phase"]: (p["cases_incomplete"], p["cases_applicable"]) for p in unit_a["phases"]
    }
    assert by_phase == {
        "bakgrund": (4, 5),
        "fore": (5, 5),
        "under": (2, 4),
        "efter": (2, 3),
        "brukarenkat": (3, 3),
    }
    survey_203 = next(
        v
        for p in unit_a["phases"]
        for v in p["variables"]
        if v["key"] == "survey_support_importance"
    )
    assert survey_203["applies_to"] == "closed"
    assert survey_203["applies_when"] == {"variable": "survey_violence_change", "any_of": [1, 2]}
    assert survey_203["missing_percent"] == 100.0
    assert survey_203["label"]["sv"]

    assert (unit_b["cases"], unit_b["excluded_cases"]) == (1, 0)
    assert variables(unit_b)["caseworker_ref"] == (1, 1)
    assert variables(unit_b)["collaboration"] == (0, 0)

    total = body["total"]
    assert total["unit_id"] is None
    assert (total["cases"], total["excluded_cases"]) == (6, 1)
    expected_total = {
        key: (missing + variables(unit_b)[key][0], applicable + variables(unit_b)[key][1])
        for key, (missing, applicable) in UNIT_A.items()
    }
    assert variables(total) == expected_total
    assert variables(total)["caseworker_ref"] == (1, 6)
    assert funnel(total)[0] == ("aktualiserad", 6, None)

    events = audit_events(session, "quality.report")
    assert len(events) == 1
    assert events[0].actor_user_id == world.coordinator.user.id
    assert events[0].municipality_code == "0180"


def test_percentages_and_free_text_left_out(client: TestClient, world: World) -> None:
    body = client.get(API, headers=world.coordinator.headers).json()
    keys = set(variables(body["total"]))
    # 217 is free text; 1, 2, 4, 5 are required at registration; 256 is the funnel's step.
    assert keys.isdisjoint(
        {
            "survey_suggestions",
            "unit_kind",
            "municipality",
            "client_id",
            "actualised_on",
            "closed_on",
        }
    )
    for phase in body["units"][0]["phases"]:
        for v in phase["variables"]:
            if v["applicable"]:
                assert v["missing_percent"] == round(100 * v["missing"] / v["applicable"], 1)
            else:
                assert v["missing_percent"] is None


def test_caseworker_sees_own_unit_only(client: TestClient, session: Session, world: World) -> None:
    response = client.get(API, headers=world.worker_a.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["unit_id"] == str(world.unit_a.id)
    assert [u["unit_id"] for u in body["units"]] == [str(world.unit_a.id)]
    assert variables(body["total"]) == UNIT_A
    assert funnel(body["total"]) == FUNNEL_A

    own = client.get(API, params={"unit_id": str(world.unit_a.id)}, headers=world.worker_a.headers)
    assert own.status_code == 200
    assert variables(own.json()["total"]) == UNIT_A

    other = client.get(
        API, params={"unit_id": str(world.unit_b.id)}, headers=world.worker_a.headers
    )
    assert other.status_code == 404
    assert other.json()["type"] == "/problems/not-found"
    response = client.get(
        f"{API}/cases",
        params={"variable": "sex", "unit_id": str(world.unit_b.id)},
        headers=world.worker_a.headers,
    )
    assert response.status_code == 404


def test_unit_filter_and_foreign_unit(client: TestClient, session: Session, world: World) -> None:
    response = client.get(
        API, params={"unit_id": str(world.unit_b.id)}, headers=world.coordinator.headers
    )
    assert response.status_code == 200
    body = response.json()
    assert [u["unit_name"] for u in body["units"]] == ["B-enheten"]
    assert body["total"]["cases"] == 1

    # Another municipality's coordinator: A's unit is indistinguishable from a random id.
    foreign = client.get(
        API, params={"unit_id": str(world.unit_a.id)}, headers=world.other_coordinator.headers
    )
    unknown = client.get(
        API, params={"unit_id": str(uuid.uuid4())}, headers=world.other_coordinator.headers
    )
    assert foreign.status_code == unknown.status_code == 404
    assert foreign.json() == unknown.json()
    # … and its own report never counts 0180's cases.
    own = client.get(API, headers=world.other_coordinator.headers).json()
    assert own["total"]["cases"] == 1
    assert [u["unit_name"] for u in own["units"]] == ["Göteborgsenheten"]
    assert len(audit_events(session, "quality.report")) == 2  # the 404s are not reports


def test_period_filter(client: TestClient, world: World) -> None:
    params = {"from": "2025-02-01", "to": "2025-02-15"}
    body = client.get(API, params=params, headers=world.coordinator.headers).json()
    assert (body["actualised_from"], body["actualised_to"]) == ("2025-02-01", "2025-02-15")
    assert body["total"]["cases"] == 2  # c3, c4
    assert funnel(body["total"])[2] == ("avslutad", 2, 0)
    bad = client.get(
        API, params={"from": "2025-03-01", "to": "2025-02-01"}, headers=world.coordinator.headers
    )
    assert bad.status_code == 422
    assert [e["pointer"] for e in bad.json()["errors"]] == ["/query/from"]
    bad = client.get(API, params={"from": "2025-02-30"}, headers=world.coordinator.headers)
    assert bad.status_code == 422
    assert [e["pointer"] for e in bad.json()["errors"]] == ["/query/from"]


def test_cases_lacking_a_variable(client: TestClient, session: Session, world: World) -> None:
    c = world.cases

    def lacking(variable: str, account: Account, **params: Any) -> list[str]:
        response = client.get(
            f"{API}/cases", params={"variable": variable, **params}, headers=account.headers
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["total"] >= len(body["items"])
        return [item["id"] for item in body["items"]]

    assert lacking("collaboration", world.coordinator) == [c["c2"], c["c3"]]
    assert lacking("intervention_grounds", world.coordinator) == [c["c2"], c["c3"]]
    assert lacking("survey_support_importance", world.coordinator) == [c["c5"]]
    assert lacking("goal_followup", world.coordinator) == [c["c3"]]
    assert lacking("caseworker_ref", world.coordinator) == [c["c7"]]
    assert lacking("caseworker_ref", world.worker_a) == []
    # c6 (excluded) lacks change_goal too but is left out; 1480's c8 never shows.
    assert lacking("change_goal", world.coordinator) == [
        c[k] for k in ("c1", "c2", "c3", "c4", "c5", "c7")
    ]
    assert lacking("change_goal", world.worker_b) == [c["c7"]]
    assert lacking("change_goal", world.other_coordinator) == [c["c8"]]
    assert lacking("change_goal", world.coordinator, unit_id=str(world.unit_b.id)) == [c["c7"]]
    assert lacking(
        "change_goal", world.coordinator, **{"from": "2025-02-01", "to": "2025-02-15"}
    ) == [
        c["c3"],
        c["c4"],
    ]

    page = client.get(
        f"{API}/cases",
        params={"variable": "change_goal", "limit": 2, "offset": 2},
        headers=world.coordinator.headers,
    ).json()
    assert page["total"] == 6
    assert [i["id"] for i in page["items"]] == [c["c3"], c["c4"]]
    item = page["items"][0]
    assert item == {
        "id": c["c3"],
        "unit_id": str(world.unit_a.id),
        "actualised_on": "2025-02-01",
        "caseworker_ref": "HL-7",
        "status": "avslutsorsak_angiven",
        "version": item["version"],
    }
    assert item["version"] >= 2

    events = audit_events(session, "quality.cases")
    assert len(events) == 12
    assert {tuple(e.fields) for e in events} == {
        ("collaboration",),
        ("intervention_grounds",),
        ("survey_support_importance",),
        ("goal_followup",),
        ("caseworker_ref",),
        ("change_goal",),
    }


def test_cases_unknown_variable(client: TestClient, session: Session, world: World) -> None:
    before = session.scalar(select(func.count(AuditEvent.id)))
    # Unknown; free text (217); the funnel's closing date; an undefined local key.
    for variable in ("no_such_variable", "survey_suggestions", "closed_on", "k0180.x"):
        response = client.get(
            f"{API}/cases", params={"variable": variable}, headers=world.coordinator.headers
        )
        assert response.status_code == 422, variable
        assert response.json()["type"] == "/problems/validation"
        assert [e["pointer"] for e in response.json()["errors"]] == ["/query/variable"]
    assert session.scalar(select(func.count(AuditEvent.id))) == before


def test_local_variables_are_reported(client: TestClient, world: World) -> None:
    response = client.post(
        "/api/v1/local-variables",
        json={
            "definition": {
                "key": "k0180.housing",
                "phase": "bakgrund",
                "type": "single",
                "label": {"sv": "Boende", "en": "Housing"},
                "question": {"sv": "Hur bor klienten?", "en": "How does the client live?"},
                "options": [{"code": 1, "label": {"sv": "Eget", "en": "Own"}}],
            }
        },
        headers=world.coordinator.headers,
    )
    assert response.status_code == 201, response.text
    response = client.patch(
        f"/api/v1/cases/{world.cases['c1']}",
        json={"local_values": {"k0180.housing": 1}},
        headers={**world.worker_a.headers, "If-Match": '"1"'},
    )
    assert response.status_code == 200, response.text
    body = client.get(API, headers=world.coordinator.headers).json()
    bakgrund = body["units"][0]["phases"][0]["variables"]
    local = next(v for v in bakgrund if v["key"] == "k0180.housing")
    assert (local["missing"], local["applicable"], local["is_local"]) == (4, 5, True)
    listed = client.get(
        f"{API}/cases", params={"variable": "k0180.housing"}, headers=world.worker_a.headers
    ).json()
    assert [i["id"] for i in listed["items"]] == [world.cases[k] for k in ("c2", "c3", "c4", "c5")]
    # Göteborg does not see Stockholm's variable.
    other = client.get(API, headers=world.other_coordinator.headers).json()
    assert "k0180.housing" not in variables(other["total"])


def test_other_roles_are_forbidden(client: TestClient, session: Session, world: World) -> None:
    before = session.scalar(select(func.count(AuditEvent.id)))
    for account in (world.regional, world.national, world.admin):
        for url, params in ((API, {}), (f"{API}/cases", {"variable": "sex"})):
            response = client.get(url, params=params, headers=account.headers)
            assert response.status_code == 403, (url, response.text)
            assert response.json()["type"] == "/problems/forbidden"
    assert session.scalar(select(func.count(AuditEvent.id))) == before


def test_unauthenticated(client: TestClient) -> None:
    for url in (API, f"{API}/cases?variable=sex"):
        response = client.get(url)
        assert response.status_code == 401
        assert "WWW-Authenticate" in response.headers


@pytest.fixture
def statements(engine: Engine) -> Iterator[list[str]]:
    seen: list[str] = []

    def listen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", listen)
    yield seen
    event.remove(engine, "before_cursor_execute", listen)


def test_query_count_does_not_grow_with_cases(
    client: TestClient, world: World, statements: list[str]
) -> None:
    """Counted in the database: no per-case loading."""
    statements.clear()
    assert client.get(API, headers=world.coordinator.headers).status_code == 200
    few = len(statements)
    for day in range(1, 9):
        build_case(
            client,
            world.worker_b,
            f"2025-04-{day:02d}",
            client_id=PNR,
            interventions=[intervention(f"2025-04-{day:02d}")],
        )
    statements.clear()
    body = client.get(API, headers=world.coordinator.headers).json()
    assert body["total"]["cases"] == 14
    assert len(statements) == few
    case_selects = [s for s in statements if "FROM cases" in s]
    assert len(case_selects) == 1


def test_openapi_documents_the_report(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    report = spec["paths"]["/api/v1/quality"]["get"]
    assert {p["name"] for p in report["parameters"]} == {"unit_id", "from", "to"}
    assert report["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/QualityReport"
    }
    cases = spec["paths"]["/api/v1/quality/cases"]["get"]
    required = {p["name"] for p in cases["parameters"] if p.get("required")}
    assert required == {"variable"}
