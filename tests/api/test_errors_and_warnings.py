"""Every error of a request in one answer, and warnings that do not block.

A body is read once with its catalogue-generated model; the services check
the rules on what is valid and answer with the type errors and the rule
errors together (docs/errors.md). The catalogue's consistency checks
(variables/checks.yaml) never refuse a save: they come back as ``warnings``,
and the data-quality report counts them with the same rules in SQL.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.cases.consistency import check_case
from app.catalogue.loader import Catalogue
from tests.api.test_case_support import (
    API,
    INTERVENTION,
    Cases,
    World,
    make_cases,
    make_world,
    problem,
    state,
    with_version,
)
from tests.factories import case_body


@pytest.fixture
def catalogue(app: FastAPI) -> Catalogue:
    found: Catalogue = app.state.catalogue
    return found


@pytest.fixture
def world(session: Session) -> World:
    return make_world(session)


@pytest.fixture
def cases(client: TestClient, session: Session) -> Cases:
    return make_cases(client, session)


def errors_of(body: dict[str, Any]) -> list[tuple[str, str]]:
    return sorted((e["pointer"], e["code"]) for e in body["errors"])


def test_a_new_case_with_four_kinds_of_error_names_them_all(
    client: TestClient, session: Session, world: World
) -> None:
    before = state(session)
    body = case_body(
        client_id="19121212-1213",  # wrong check digit
        actualised_on="2999-01-01",  # in the future
        values={
            "age": "abc",  # not an integer
            "disability": [1, 4],  # "Fysisk" with "Nej"
            "sex": 9,  # not in the code list
            "shoe_size": 1,  # no such variable
        },
        local_values={"k0180.nope": 1},
    )
    r = client.post(API, json=body, headers=world.worker.headers)
    found = problem(r, 422, "validation")
    assert errors_of(found) == [
        ("/actualised_on", "future_date"),
        ("/client_id", "client_id_checksum"),
        ("/local_values/k0180.nope", "unknown_variable"),
        ("/values/age", "wrong_type"),
        ("/values/disability", "exclusive"),
        ("/values/sex", "unknown_code"),
        ("/values/shoe_size", "unknown_variable"),
    ]
    for error in found["errors"]:
        assert error["detail"]
        assert error["detail_en"]
        assert "1213" not in error["detail"] + error["detail_en"]
    assert state(session) == before


def test_an_update_names_type_and_rule_errors_together(
    client: TestClient, session: Session, cases: Cases
) -> None:
    before = state(session)
    r = client.patch(
        f"{API}/{cases.open_id}",
        json={
            "actualised_on": "2999-01-01",
            "values": {"age": "40", "perpetrator": [1, 1], "closing_reason": 1},
        },
        headers=with_version(cases.world.worker, 3),
    )
    found = problem(r, 422, "validation")
    assert errors_of(found) == [
        ("/actualised_on", "after_records"),
        ("/actualised_on", "before_actualisation"),
        ("/actualised_on", "future_date"),
        ("/values/age", "wrong_type"),
        ("/values/closing_reason", "case_not_closed"),
        ("/values/perpetrator", "duplicate"),
    ]
    assert state(session) == before


def test_a_stale_version_with_type_errors_answers_the_type_errors(
    client: TestClient, session: Session, cases: Cases
) -> None:
    r = client.patch(
        f"{API}/{cases.open_id}",
        json={"values": {"sex": "1"}},
        headers=with_version(cases.world.worker, 1),
    )
    assert errors_of(problem(r, 422, "validation")) == [("/values/sex", "wrong_type")]
    r = client.patch(
        f"{API}/{cases.open_id}",
        json={"values": {"sex": 2}},
        headers=with_version(cases.world.worker, 1),
    )
    problem(r, 412, "stale-version")


def test_closing_before_an_intervention_names_it_with_the_other_errors(
    client: TestClient, session: Session, cases: Cases
) -> None:
    before = state(session)
    r = client.post(
        f"{API}/{cases.open_id}/close",
        json={"closed_on": "2025-03-05", "values": {"closing_reason": "1", "goal_followup": 9}},
        headers=with_version(cases.world.worker, 3),
    )
    found = problem(r, 422, "validation")
    assert errors_of(found) == [
        ("/closed_on", "after_closing"),
        ("/values/closing_reason", "wrong_type"),
        ("/values/goal_followup", "unknown_code"),
    ]
    [late] = [e for e in found["errors"] if e["code"] == "after_closing"]
    # INTERVENTION is "Stödsamtal (enskilt)" from 2025-03-10.
    assert "”Stödsamtal (enskilt)” (2025-03-10)" in late["detail"]
    assert "“Supportive counselling (individual)” (2025-03-10)" in late["detail_en"]
    assert state(session) == before


def test_records_name_every_error(client: TestClient, session: Session, cases: Cases) -> None:
    before = state(session)
    r = client.post(
        f"{API}/{cases.open_id}/interventions",
        json={
            "intervention_start_on": "2025-02-31",
            "intervention_type": 99,
            "intervention_grounds": "1",
        },
        headers=cases.world.worker.headers,
    )
    assert errors_of(problem(r, 422, "validation")) == [
        ("/intervention_grounds", "wrong_type"),
        ("/intervention_start_on", "invalid_date"),
        ("/intervention_type", "unknown_code"),
    ]
    r = client.put(
        f"{API}/{cases.closed_id}/survey",
        json={
            "answered_on": "2025-02-01",
            "language": 9,
            "mode": 2,
            "survey_violence_change": 3,
            "survey_support_importance": 4,
        },
        headers=with_version(cases.world.worker, 2),
    )
    assert errors_of(problem(r, 422, "validation")) == [
        ("/answered_on", "before_actualisation"),
        ("/language", "unknown_code"),
        ("/survey_support_importance", "skip_logic"),
    ]
    assert state(session) == before


def test_an_age_of_15_says_adults_only_and_that_an_estimate_is_allowed(
    client: TestClient, world: World
) -> None:
    r = client.post(
        API, json=case_body(client_id="KLIENT-15", values={"age": 15}), headers=world.worker.headers
    )
    [error] = problem(r, 422, "validation")["errors"]
    assert (error["pointer"], error["code"]) == ("/values/age", "under_18")
    assert "minst 18 år" in error["detail"]
    assert "uppskattad ålder" in error["detail"]


# --- warnings ------------------------------------------------------------------


def warnings_of(body: dict[str, Any]) -> list[tuple[str, str]]:
    return [(w["pointer"], w["code"]) for w in body["warnings"]]


def test_warnings_are_saved_and_named(client: TestClient, session: Session, cases: Cases) -> None:
    h = cases.world.worker.headers
    path = f"{API}/{cases.open_id}"
    # The same intervention (Stödsamtal) again on the same date: saved, with a warning.
    again = client.post(f"{path}/interventions", json=INTERVENTION, headers=h)
    assert again.status_code == 201, again.text
    assert len(again.json()["interventions"]) == 2
    assert warnings_of(again.json()) == [
        ("/interventions/1/intervention_type", "same_intervention_same_day")
    ]
    [warning] = again.json()["warnings"]
    assert "Stödsamtal (enskilt)" in warning["detail"]
    assert "2025-03-10" in warning["detail"]
    assert "Supportive counselling (individual)" in warning["detail_en"]
    # "Samtal utan bedömningsmetod" with a risk score.
    risk = {"assessed_on": "2025-03-06", "assessment_phase": 1, "risk_instrument": 6, "score": 3}
    scored = client.post(f"{path}/risk-assessments", json=risk, headers=h)
    assert scored.status_code == 201, scored.text
    assert sorted(warnings_of(scored.json())) == [
        ("/interventions/1/intervention_type", "same_intervention_same_day"),
        ("/risk_assessments/1/score", "conversation_with_score"),
    ]
    # Closing with "Negativ förändring" and "Målet har uppnåtts".
    closed = client.post(
        f"{path}/close",
        json={"closed_on": "2025-06-01", "values": {"goal_followup": 4, "closing_reason": 1}},
        headers=with_version(cases.world.worker, 5),
    )
    assert closed.status_code == 200, closed.text
    assert closed.json()["status"] == "maluppfoljning_angiven"
    assert ("/values/closing_reason", "negative_change_goal_achieved") in warnings_of(closed.json())
    # A read shows them too; correcting the data makes them go away.
    assert len(client.get(path, headers=h).json()["warnings"]) == 3
    fixed = client.patch(
        path, json={"values": {"goal_followup": 2}}, headers=with_version(cases.world.worker, 6)
    )
    assert "negative_change_goal_achieved" not in {c for _, c in warnings_of(fixed.json())}


def test_the_quality_report_counts_and_lists_the_warnings(
    client: TestClient, session: Session, cases: Cases
) -> None:
    h = cases.world.worker.headers
    client.post(f"{API}/{cases.open_id}/interventions", json=INTERVENTION, headers=h)
    report = client.get("/api/v1/quality", headers=cases.world.coordinator.headers).json()
    counts = {w["key"]: w["cases"] for w in report["total"]["warnings"]}
    assert counts["same_intervention_same_day"] == 1
    assert sum(counts.values()) == 1
    listed = client.get(
        "/api/v1/quality/warnings",
        params={"check": "same_intervention_same_day"},
        headers=cases.world.coordinator.headers,
    )
    assert listed.status_code == 200, listed.text
    assert [i["id"] for i in listed.json()["items"]] == [cases.open_id]
    assert listed.json()["items"][0]["caseworker_ref"] == "HL-7"
    unknown = client.get("/api/v1/quality/warnings", params={"check": "nope"}, headers=h)
    assert [(e["pointer"], e["code"]) for e in problem(unknown, 422, "validation")["errors"]] == [
        ("/query/check", "unknown_check")
    ]


WARNED_CASES: dict[str, dict[str, Any]] = {
    # check key -> what to do to a fresh open case (a copy of INTERVENTION is added first)
    "same_intervention_same_day": {"interventions": [INTERVENTION]},
    "same_assessment_same_day": {
        "risks": [{"assessed_on": "2025-03-05", "assessment_phase": 1, "risk_instrument": 2}] * 2
    },
    "conversation_with_score": {
        "risks": [
            {"assessed_on": "2025-03-05", "assessment_phase": 1, "risk_instrument": 6, "score": 1}
        ]
    },
    "negative_change_goal_achieved": {"close": {"goal_followup": 4, "closing_reason": 1}},
    "goal_met_without_goal": {"values": {"change_goal": 1}, "close": {"goal_followup": 1}},
    "closed_without_intervention_has_interventions": {"close": {"closing_reason": 2}},
    "all_implemented_without_interventions": {
        "no_intervention": True,
        "close": {"implementation": 1},
    },
}


def test_every_check_agrees_in_the_api_and_the_report(
    client: TestClient, session: Session, world: World, catalogue: Catalogue
) -> None:
    """One case per catalogue check that fails exactly that check, and one that
    fails none: the case's warnings and the report's SQL count the same."""
    assert set(WARNED_CASES) == set(catalogue.checks)
    h = world.worker.headers
    expected: dict[str, str] = {}
    for key, steps in {**WARNED_CASES, "none": {}}.items():
        case = client.post(API, json=case_body(client_id=f"K-{key}"), headers=h).json()
        path = f"{API}/{case['id']}"
        if not steps.get("no_intervention"):
            client.post(f"{path}/interventions", json=INTERVENTION, headers=h)
        for item in steps.get("interventions", []):
            client.post(f"{path}/interventions", json=item, headers=h)
        for item in steps.get("risks", []):
            assert client.post(f"{path}/risk-assessments", json=item, headers=h).status_code == 201
        current = client.get(path, headers=h).json()
        if "values" in steps:
            current = client.patch(
                path,
                json={"values": steps["values"]},
                headers=with_version(world.worker, current["version"]),
            ).json()
        if "close" in steps:
            current = client.post(
                f"{path}/close",
                json={"closed_on": "2025-06-01", "values": steps["close"]},
                headers=with_version(world.worker, current["version"]),
            ).json()
        assert {w["code"] for w in current["warnings"]} == ({key} if key != "none" else set())
        expected[case["id"]] = key
    report = client.get("/api/v1/quality", headers=world.coordinator.headers).json()
    counts = {w["key"]: w["cases"] for w in report["total"]["warnings"]}
    assert counts == dict.fromkeys(catalogue.checks, 1)
    for key in catalogue.checks:
        listed = client.get(
            "/api/v1/quality/warnings", params={"check": key}, headers=world.coordinator.headers
        ).json()
        assert [expected[i["id"]] for i in listed["items"]] == [key]


def test_check_case_on_plain_records(catalogue: Catalogue) -> None:
    """The evaluator on hand-made values and records (no database)."""
    records: dict[str, list[dict[str, Any]]] = {
        "intervention": [],
        "risk_assessment": [],
        "survey": [],
    }
    assert check_case(catalogue, {"implementation": 2}, records) == []
    [warning] = check_case(catalogue, {"implementation": 1}, records)
    assert (warning.pointer, warning.code) == (
        "/values/implementation",
        "all_implemented_without_interventions",
    )
    assert "Alla planerade stöd/insatser har genomförts" in warning.detail
