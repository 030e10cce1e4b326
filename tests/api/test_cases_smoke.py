from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.factories import create_case, make_account, make_unit


def test_create_read_update_close_survey(client: TestClient, session: Session) -> None:
    unit = make_unit(session)
    worker = make_account(session, "caseworker", unit=unit)
    case = create_case(client, worker)
    assert case["values"]["age"] == 112
    assert case["status"] == "aktualiserad"
    r = client.get(f"/api/v1/cases/{case['id']}", headers=worker.headers)
    assert r.status_code == 200, r.text
    assert r.headers["etag"] == '"1"'
    r = client.patch(
        f"/api/v1/cases/{case['id']}",
        json={"values": {"perpetrator": [1]}, "comments": {"perpetrator": "hemlig text"}},
        headers={**worker.headers, "If-Match": '"1"'},
    )
    assert r.status_code == 200, r.text
    assert r.json()["comments"]["perpetrator"] == "hemlig text"
    r = client.post(
        f"/api/v1/cases/{case['id']}/interventions",
        json={
            "intervention_start_on": "2025-03-05",
            "intervention_type": 4,
            "intervention_grounds": 1,
        },
        headers=worker.headers,
    )
    assert r.status_code == 201, r.text
    v = r.headers["etag"]
    r = client.post(
        f"/api/v1/cases/{case['id']}/close",
        json={"closed_on": "2025-06-01", "values": {"closing_reason": 1, "goal_followup": 1}},
        headers={**worker.headers, "If-Match": v},
    )
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "maluppfoljning_angiven"
    v = r.headers["etag"]
    r = client.put(
        f"/api/v1/cases/{case['id']}/survey",
        json={
            "answered_on": "2025-06-01",
            "language": 3,
            "mode": 2,
            "survey_violence_change": 1,
            "survey_support_importance": 4,
            "survey_suggestions": "mer stöd",
        },
        headers={**worker.headers, "If-Match": v},
    )
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "brukarenkat_genomford"
    r = client.get(f"/api/v1/cases/{case['id']}/history", headers=worker.headers)
    assert [x["action"] for x in r.json()["revisions"]] == [
        "create",
        "update",
        "create",
        "close",
        "put",
    ]
