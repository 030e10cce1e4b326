"""Every case route: what a success stores, and that each class of bad input
is a problem response naming the field that changes nothing.

The bad-input matrix runs every write route through malformed JSON, a body
that is not an object, an unknown field, a wrong type, NUL and invalid UTF-8
in text, a missing and a stale If-Match, unknown and malformed ids and another
municipality's token. After each: row counts and every case's version and
content are exactly as before.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import AuditEvent, Case, CaseRevision, Intervention, RiskAssessment, SurveyResponse
from tests.api.test_case_support import (
    API,
    INTERVENTION,
    RISK,
    SURVEY,
    Cases,
    etag_version,
    make_cases,
    make_world,
    post_json_bytes,
    problem,
    state,
    with_version,
)
from tests.factories import case_body, create_case, forget_auth_failures, make_account, make_unit


@pytest.fixture
def cases(client: TestClient, session: Session) -> Cases:
    return make_cases(client, session)


def audit_actions(session: Session) -> list[str]:
    return list(session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)).all())


# --- successes ---------------------------------------------------------------


def test_create_stores_case_revision_and_audit(
    client: TestClient, session: Session, engine_name: str
) -> None:
    world = make_world(session)
    before = state(session)
    r = client.post(
        API,
        json=case_body(comments={"disability": "syntetisk kommentar"}),
        headers=world.worker.headers,
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert r.headers["etag"] == '"1"'
    assert r.headers["location"] == f"{API}/{body['id']}"
    after = state(session)
    assert after.counts == {
        **before.counts,
        "cases": before.counts["cases"] + 1,
        "case_revisions": before.counts["case_revisions"] + 1,
        "audit_events": before.counts["audit_events"] + 1,
    }
    stored = session.get_one(Case, uuid.UUID(body["id"]))
    assert stored.version == 1
    assert stored.values == {
        "sex": 1,
        "origin": 1,
        "disability": [4],
        "contact_initiative": [1, 8],
        "age": 112,
        "age_basis": 1,
    }
    assert stored.status == "aktualiserad"
    assert stored.comments_ciphertext is not None
    assert b"syntetisk" not in stored.comments_ciphertext
    assert body["comments"]["disability"] == "syntetisk kommentar"
    assert audit_actions(session)[-1] == "case.create"


def test_list_is_scoped_and_filtered(client: TestClient, cases: Cases, session: Session) -> None:
    w = cases.world
    before = state(session)
    r = client.get(API, headers=w.worker.headers)
    assert r.status_code == 200, r.text
    assert {i["id"] for i in r.json()["items"]} == {cases.open_id, cases.closed_id}
    r = client.get(API, params={"status": "avslutad"}, headers=w.worker.headers)
    assert [i["id"] for i in r.json()["items"]] == [cases.closed_id]
    r = client.get(API, params={"limit": 1}, headers=w.worker.headers)
    first = r.json()
    assert (len(first["items"]), first["limit"]) == (1, 1)
    assert first["next_cursor"] is not None
    r = client.get(
        API, params={"limit": 1, "cursor": first["next_cursor"]}, headers=w.worker.headers
    )
    second = r.json()
    assert len(second["items"]) == 1
    assert second["next_cursor"] is None  # the last page
    assert {first["items"][0]["id"], second["items"][0]["id"]} == {cases.open_id, cases.closed_id}
    assert client.get(API, headers=w.outsider.headers).json()["items"] == []
    after = state(session)
    assert after.cases == before.cases
    assert after.counts["audit_events"] == before.counts["audit_events"] + 5
    assert audit_actions(session)[-5:] == ["case.list"] * 5


@pytest.mark.parametrize(
    ("params", "pointer"),
    [
        ({"status": "okand"}, "/query/status"),
        ({"limit": "0"}, "/query/limit"),
        ({"limit": "501"}, "/query/limit"),
        ({"cursor": "inte-en-markör"}, "/query/cursor"),
        ({"cursor": "eyJhIjogMX0"}, "/query/cursor"),
        ({"actualised_from": "2025-13-01"}, "/query/actualised_from"),
        ({"unit_id": "inte-ett-id"}, "/query/unit_id"),
    ],
)
def test_list_rejects_bad_query(
    client: TestClient, cases: Cases, session: Session, params: dict[str, str], pointer: str
) -> None:
    before = state(session)
    r = client.get(API, params=params, headers=cases.world.worker.headers)
    problem(r, 422, "validation", [pointer])
    assert state(session) == before


def test_read_returns_etag_and_audits(client: TestClient, cases: Cases, session: Session) -> None:
    before = state(session)
    r = client.get(f"{API}/{cases.open_id}", headers=cases.world.worker.headers)
    assert r.status_code == 200, r.text
    assert r.headers["etag"] == '"3"'
    assert r.json()["version"] == 3
    assert len(r.json()["interventions"]) == 1
    assert len(r.json()["risk_assessments"]) == 1
    after = state(session)
    assert after.cases == before.cases
    assert after.counts["audit_events"] == before.counts["audit_events"] + 1
    assert audit_actions(session)[-1] == "case.read"


def test_update_changes_values_and_version(
    client: TestClient, cases: Cases, session: Session
) -> None:
    before = state(session)
    r = client.patch(
        f"{API}/{cases.open_id}",
        json={
            "values": {"perpetrator": [2, 1], "sex": None, "collaboration": []},
            "comments": {"perpetrator": "ny text"},
            "caseworker_ref": "HL-9",
        },
        headers=with_version(cases.world.worker, 3),
    )
    assert r.status_code == 200, r.text
    assert r.headers["etag"] == '"4"'
    stored = session.get_one(Case, uuid.UUID(cases.open_id))
    session.refresh(stored)
    assert stored.version == 4
    assert stored.values["perpetrator"] == [1, 2]  # stored sorted
    assert "sex" not in stored.values  # null clears
    assert stored.values["collaboration"] == []  # registered as none
    assert stored.caseworker_ref == "HL-9"
    revision = session.scalars(
        select(CaseRevision).where(CaseRevision.case_id == stored.id, CaseRevision.version == 4)
    ).one()
    assert revision.fields == sorted(
        ["caseworker_ref", "collaboration", "comment:perpetrator", "perpetrator", "sex"]
    )
    assert "ny text" not in json.dumps(revision.snapshot)
    after = state(session)
    assert after.counts["case_revisions"] == before.counts["case_revisions"] + 1
    assert after.counts["audit_events"] == before.counts["audit_events"] + 1


def test_empty_update_changes_nothing(client: TestClient, cases: Cases, session: Session) -> None:
    before = state(session)
    r = client.patch(f"{API}/{cases.open_id}", json={}, headers=with_version(cases.world.worker, 3))
    assert r.status_code == 200, r.text
    assert r.headers["etag"] == '"3"'
    assert state(session) == before


def test_close_sets_date_values_and_status(
    client: TestClient, cases: Cases, session: Session
) -> None:
    r = client.post(
        f"{API}/{cases.open_id}/close",
        json={"closed_on": "2025-06-01", "values": {"closing_reason": 1}},
        headers=with_version(cases.world.worker, 3),
    )
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["closed_on"], r.headers["etag"]) == (
        "avslutsorsak_angiven",
        "2025-06-01",
        '"4"',
    )
    stored = session.get_one(Case, uuid.UUID(cases.open_id))
    session.refresh(stored)
    assert (str(stored.closed_on), stored.values["closing_reason"]) == ("2025-06-01", 1)
    assert audit_actions(session)[-1] == "case.close"


def test_exclusion_and_inclusion(client: TestClient, cases: Cases, session: Session) -> None:
    coord = cases.world.coordinator
    r = client.post(
        f"{API}/{cases.open_id}/exclusion",
        json={"reason": "perpetrator"},
        headers=with_version(coord, 3),
    )
    assert r.status_code == 200, r.text
    assert (r.json()["is_excluded"], r.json()["exclusion_reason"]) == (True, "perpetrator")
    stored = session.get_one(Case, uuid.UUID(cases.open_id))
    session.refresh(stored)
    assert (stored.is_excluded, stored.version) == (True, 4)
    r = client.delete(f"{API}/{cases.open_id}/exclusion", headers=with_version(coord, 4))
    assert r.status_code == 200, r.text
    session.refresh(stored)
    assert (stored.is_excluded, stored.exclusion_reason, stored.version) == (False, None, 5)
    assert audit_actions(session)[-2:] == ["case.exclude", "case.include"]


def test_history_lists_revisions(client: TestClient, cases: Cases, session: Session) -> None:
    r = client.get(f"{API}/{cases.open_id}/history", headers=cases.world.worker.headers)
    assert r.status_code == 200, r.text
    revisions = r.json()["revisions"]
    assert [(x["version"], x["action"]) for x in revisions] == [
        (1, "create"),
        (2, "create"),
        (3, "create"),
    ]
    assert audit_actions(session)[-1] == "case.history"


def test_intervention_add_change_delete(client: TestClient, cases: Cases, session: Session) -> None:
    w = cases.world.worker
    base = f"{API}/{cases.open_id}/interventions"
    r = client.post(
        base,
        json={"intervention_start_on": "2025-03-20", "intervention_type": 10, "comments": {}},
        headers=w.headers,
    )
    assert r.status_code == 201, r.text
    new_id = next(i["id"] for i in r.json()["interventions"] if i["id"] != cases.intervention_id)
    assert r.headers["location"] == f"{base}/{new_id}"
    assert r.headers["etag"] == '"4"'
    assert len(session.scalars(select(Intervention)).all()) == 2
    r = client.patch(
        f"{base}/{new_id}",
        json={"intervention_grounds": 2, "comments": {"intervention_type": "om insatsen"}},
        headers=with_version(w, 4),
    )
    assert r.status_code == 200, r.text
    item = session.get_one(Intervention, uuid.UUID(new_id))
    session.refresh(item)
    assert (item.grounds_code, item.type_code) == (2, 10)
    assert item.comments_ciphertext is not None
    assert b"insatsen" not in item.comments_ciphertext
    r = client.delete(f"{base}/{cases.intervention_id}", headers=with_version(w, 5))
    assert r.status_code == 200, r.text
    assert [i["id"] for i in r.json()["interventions"]] == [new_id]
    stored = session.get_one(Case, uuid.UUID(cases.open_id))
    session.refresh(stored)
    assert (stored.version, str(stored.first_intervention_on)) == (6, "2025-03-20")
    assert audit_actions(session)[-3:] == [
        "intervention.create",
        "intervention.update",
        "intervention.delete",
    ]


def test_risk_add_change_delete(client: TestClient, cases: Cases, session: Session) -> None:
    w = cases.world.worker
    base = f"{API}/{cases.open_id}/risk-assessments"
    r = client.post(base, json={**RISK, "assessment_phase": 2, "score": 3}, headers=w.headers)
    assert r.status_code == 201, r.text
    assert len(session.scalars(select(RiskAssessment)).all()) == 2
    r = client.patch(f"{base}/{cases.risk_id}", json={"score": None}, headers=with_version(w, 4))
    assert r.status_code == 200, r.text
    item = session.get_one(RiskAssessment, uuid.UUID(cases.risk_id))
    session.refresh(item)
    assert item.score is None
    r = client.delete(f"{base}/{cases.risk_id}", headers=with_version(w, 5))
    assert r.status_code == 200, r.text
    assert len(r.json()["risk_assessments"]) == 1
    remaining = session.scalars(select(RiskAssessment.id)).all()
    assert uuid.UUID(cases.risk_id) not in remaining
    assert len(remaining) == 1


def test_survey_put_and_replace(client: TestClient, cases: Cases, session: Session) -> None:
    w = cases.world.worker
    path = f"{API}/{cases.closed_id}/survey"
    r = client.put(
        path,
        json={
            **SURVEY,
            "survey_violence_change": 1,
            "survey_support_importance": 4,
            "survey_suggestions": "fler samtal",
            "comments": {"survey_positive": "bra bemötande"},
        },
        headers=with_version(w, 2),
    )
    assert r.status_code == 200, r.text
    survey = r.json()["survey"]
    assert (survey["survey_support_importance"], survey["survey_suggestions"]) == (4, "fler samtal")
    assert survey["comments"] == {"survey_positive": "bra bemötande"}
    assert r.json()["status"] == "brukarenkat_genomford"
    stored = session.scalars(select(SurveyResponse)).one()
    assert stored.values == {"survey_violence_change": 1, "survey_support_importance": 4}
    assert stored.text_ciphertext is not None
    assert b"samtal" not in stored.text_ciphertext
    r = client.put(path, json=SURVEY, headers=with_version(w, 3))
    assert r.status_code == 200, r.text
    assert r.json()["survey"]["survey_suggestions"] is None
    assert len(session.scalars(select(SurveyResponse)).all()) == 1


# --- the bad-input matrix ----------------------------------------------------


@dataclass(frozen=True)
class Route:
    name: str
    method: str
    path: str
    body: dict[str, Any] | None
    versioned: bool
    target: str = "open"  # which case: "open" or "closed"
    role: str = "worker"
    wrong_type: tuple[dict[str, Any], str] | None = None
    text: tuple[dict[str, Any], str] | None = None
    """A body with the marker text at a field, and that field's pointer."""
    extra: dict[str, Any] = field(default_factory=dict)


MARK = "MARKER"

ROUTES = [
    Route(
        "create",
        "POST",
        "",
        case_body(),
        versioned=False,
        wrong_type=(case_body(actualised_on=20250301), "/actualised_on"),
        text=(case_body(comments={"disability": MARK}), "/comments/disability"),
    ),
    Route(
        "update",
        "PATCH",
        "/{case}",
        {"values": {"sex": 2}},
        versioned=True,
        wrong_type=({"values": {"sex": "2"}}, "/values/sex"),
        text=({"comments": {"perpetrator": MARK}}, "/comments/perpetrator"),
    ),
    Route(
        "close",
        "POST",
        "/{case}/close",
        {"closed_on": "2025-06-01"},
        versioned=True,
        wrong_type=(
            {"closed_on": "2025-06-01", "values": {"goal_followup": [1]}},
            "/values/goal_followup",
        ),
        text=(
            {"closed_on": "2025-06-01", "comments": {"closing_reason": MARK}},
            "/comments/closing_reason",
        ),
    ),
    Route(
        "exclude",
        "POST",
        "/{case}/exclusion",
        {"reason": "duplicate"},
        versioned=True,
        role="coordinator",
        wrong_type=({"reason": 1}, "/reason"),
    ),
    Route("include", "DELETE", "/{case}/exclusion", None, versioned=True, role="coordinator"),
    Route(
        "add_intervention",
        "POST",
        "/{case}/interventions",
        INTERVENTION,
        versioned=False,
        wrong_type=({**INTERVENTION, "intervention_type": True}, "/intervention_type"),
        text=(
            {**INTERVENTION, "comments": {"intervention_type": MARK}},
            "/comments/intervention_type",
        ),
    ),
    Route(
        "update_intervention",
        "PATCH",
        "/{case}/interventions/{intervention}",
        {"intervention_type": 5},
        versioned=True,
        wrong_type=({"intervention_start_on": "10 mars 2025"}, "/intervention_start_on"),
        text=({"comments": {"intervention_type": MARK}}, "/comments/intervention_type"),
    ),
    Route("delete_intervention", "DELETE", "/{case}/interventions/{intervention}", None, True),
    Route(
        "add_risk",
        "POST",
        "/{case}/risk-assessments",
        RISK,
        versioned=False,
        wrong_type=({**RISK, "score": 2.0}, "/score"),
    ),
    Route(
        "update_risk",
        "PATCH",
        "/{case}/risk-assessments/{risk}",
        {"score": 1},
        versioned=True,
        wrong_type=({"score": "1"}, "/score"),
    ),
    Route("delete_risk", "DELETE", "/{case}/risk-assessments/{risk}", None, True),
    Route(
        "survey",
        "PUT",
        "/{case}/survey",
        SURVEY,
        versioned=True,
        target="closed",
        wrong_type=({**SURVEY, "language": "sv"}, "/language"),
        text=({**SURVEY, "survey_suggestions": MARK}, "/survey_suggestions"),
    ),
]
BODY_ROUTES = [r for r in ROUTES if r.body is not None]
VERSIONED = [r for r in ROUTES if r.versioned]
IDS = [r.name for r in ROUTES]


def _path(route: Route, cases: Cases, case_id: str | None = None) -> str:
    target = cases.closed_id if route.target == "closed" else cases.open_id
    return API + route.path.format(
        case=case_id or target, intervention=cases.intervention_id, risk=cases.risk_id
    )


def _headers(route: Route, cases: Cases, *, version: int | None = None) -> dict[str, str]:
    account = cases.world.coordinator if route.role == "coordinator" else cases.world.worker
    if not route.versioned:
        return account.headers
    if version is None:
        version = 2 if route.target == "closed" else 3
    return with_version(account, version)


def _send(
    client: TestClient, route: Route, path: str, headers: dict[str, str], body: Any = None
) -> Any:
    if route.body is None:
        return client.request(route.method, path, headers=headers)
    return client.request(route.method, path, json=body, headers=headers)


@pytest.mark.parametrize("route", ROUTES, ids=IDS)
def test_valid_request_succeeds(
    client: TestClient, cases: Cases, session: Session, route: Route
) -> None:
    before = state(session)
    r = _send(client, route, _path(route, cases), _headers(route, cases), route.body)
    assert r.status_code in (200, 201), r.text
    after = state(session)
    if route.name != "create":
        target = cases.closed_id if route.target == "closed" else cases.open_id
        assert after.version(target) == before.version(target) + 1
        assert etag_version(r) == after.version(target)
    assert after.counts["case_revisions"] == before.counts["case_revisions"] + 1
    assert after.counts["audit_events"] == before.counts["audit_events"] + 1


MALFORMED = [
    (b'{"values": ', "truncated"),
    (b'{"a": 1} trailing', "trailing data"),
    (b"[]", "an array"),
    (b'"text"', "a string"),
    (b"null", "null"),
    (b'{"a": 1' + b"0" * 5000 + b"}", "a number past Python's digit limit"),
    (b"[" * 100_000 + b"]" * 100_000, "nesting past the recursion limit"),
]
BAD_TEXT = [
    (b"a\\u0000b", "nul_character", "NUL"),
    (b"a\xff\xfeb", "string_unicode", "bytes that are not UTF-8"),
    (b"a\\ud800b", "string_unicode", "a lone surrogate escape"),
]
IF_MATCH_412 = ['"1"', '"99"', 'W/"3"', "3", "*"]


def _bad_requests(route: Route, cases: Cases) -> list[tuple[str, Any, int, str, list[str] | None]]:
    """(label, request, status, problem slug, pointers) for every class of bad input."""
    path, headers = _path(route, cases), _headers(route, cases)
    send: list[tuple[str, Any, int, str, list[str] | None]] = []

    def raw(body: bytes, hdrs: dict[str, str] = headers) -> Any:
        return ("raw", path, body, hdrs)

    if route.body is not None:
        for malformed, label in MALFORMED:
            send.append((f"malformed: {label}", raw(malformed), 422, "validation", [""]))
        send.append(
            (
                "unknown field",
                ("json", path, {**route.body, "status": "x"}, headers),
                422,
                "validation",
                ["/status"],
            )
        )
    if route.wrong_type is not None:
        wrong, pointer = route.wrong_type
        send.append(("wrong type", ("json", path, wrong, headers), 422, "validation", [pointer]))
    if route.text is not None:
        with_text, pointer = route.text
        for replacement, code, label in BAD_TEXT:
            encoded = json.dumps(with_text).encode().replace(MARK.encode(), replacement)
            send.append((f"text: {label} ({code})", raw(encoded), 422, "validation", [pointer]))
    if route.versioned:
        account = cases.world.coordinator if route.role == "coordinator" else cases.world.worker
        send.append(
            (
                "no If-Match",
                ("json", path, route.body, account.headers),
                428,
                "if-match-required",
                None,
            )
        )
        for if_match in IF_MATCH_412:
            hdrs = {**headers, "If-Match": if_match}
            send.append(
                (
                    f"If-Match {if_match}",
                    ("json", path, route.body, hdrs),
                    412,
                    "stale-version",
                    None,
                )
            )
    if "{case}" in route.path:
        foreign = (
            cases.world.foreign_coordinator if route.role == "coordinator" else cases.world.outsider
        )
        send += [
            (
                "unknown case id",
                ("json", _path(route, cases, str(uuid.uuid4())), route.body, headers),
                404,
                "not-found",
                None,
            ),
            (
                "another municipality's case",
                ("json", path, route.body, {**headers, **foreign.headers}),
                404,
                "not-found",
                None,
            ),
            (
                "malformed case id",
                ("json", _path(route, cases, "inte-ett-id"), route.body, headers),
                422,
                "validation",
                ["/path/case_id"],
            ),
        ]
    return send


@pytest.mark.parametrize("route", ROUTES, ids=IDS)
def test_bad_input_is_a_problem_and_changes_nothing(
    client: TestClient, cases: Cases, session: Session, route: Route
) -> None:
    """Every class of bad input, one after another on the same data: each is the
    expected problem, and after each the database is exactly as before."""
    before = state(session)
    bad = _bad_requests(route, cases)
    assert len(bad) >= 4
    for label, (kind, path, body, headers), status, slug, pointers in bad:
        if kind == "raw":
            r = post_json_bytes(client, path, body, headers, method=route.method)
        elif route.body is None:
            r = client.request(route.method, path, headers=headers)
        else:
            r = client.request(route.method, path, json=body, headers=headers)
        try:
            problem(r, status, slug, pointers)
        except AssertionError as exc:
            raise AssertionError(f"{route.name}: {label}: {exc}") from None
        assert state(session) == before, f"{route.name}: {label} changed the database"
    if route.text is not None:
        codes = []
        for replacement, code, _ in BAD_TEXT:
            body, _pointer = route.text
            encoded = json.dumps(body).encode().replace(MARK.encode(), replacement)
            r = post_json_bytes(
                client, _path(route, cases), encoded, _headers(route, cases), route.method
            )
            codes.append((r.json()["errors"][0]["code"], code))
        assert all(got == want for got, want in codes), codes


CHILD_ROUTES = [r for r in ROUTES if "{intervention}" in r.path or "{risk}" in r.path]


@pytest.mark.parametrize("route", CHILD_ROUTES, ids=[r.name for r in CHILD_ROUTES])
def test_unknown_child_is_404(
    client: TestClient, cases: Cases, session: Session, route: Route
) -> None:
    path = API + route.path.format(case=cases.open_id, intervention=uuid.uuid4(), risk=uuid.uuid4())
    before = state(session)
    problem(_send(client, route, path, _headers(route, cases), route.body), 404, "not-found")
    # A child of another case is as unknown as a random id.
    other = API + route.path.format(
        case=cases.closed_id, intervention=cases.intervention_id, risk=cases.risk_id
    )
    headers = {**_headers(route, cases), "If-Match": '"2"'}
    problem(_send(client, route, other, headers, route.body), 404, "not-found")
    assert state(session) == before


def test_exclusion_needs_a_coordinator(client: TestClient, cases: Cases, session: Session) -> None:
    before = state(session)
    for method, body in (("POST", {"reason": "duplicate"}), ("DELETE", None)):
        r = client.request(
            method,
            f"{API}/{cases.open_id}/exclusion",
            json=body,
            headers=with_version(cases.world.worker, 3),
        )
        problem(r, 403, "forbidden")
    assert state(session) == before


def test_no_token_is_401_on_every_route(
    app: FastAPI, client: TestClient, cases: Cases, session: Session
) -> None:
    before = state(session)
    for route in ROUTES:
        forget_auth_failures(session)  # one client, more failures than the limit
        r = _send(client, route, _path(route, cases), {"If-Match": '"3"'}, route.body)
        problem(r, 401, "unauthenticated")
        assert r.headers["www-authenticate"].startswith("Bearer"), route.name
    after = state(session)
    assert after.cases == before.cases
    # Only the failed authentications are recorded.
    assert after.counts == {
        **before.counts,
        "audit_events": before.counts["audit_events"] + len(ROUTES),
    }


def test_cursor_pages_visit_every_case_once(client: TestClient, session: Session) -> None:
    """Keyset pages: equal opening dates are ordered by id, so nothing is skipped
    or repeated, and a case written meanwhile does not shift later pages."""
    worker = make_account(session, "caseworker", unit=make_unit(session, "0180"))
    made = [
        create_case(client, worker, actualised_on=day)["id"]
        for day in ["2025-01-10"] * 4 + ["2025-02-10"] * 3
    ]
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = client.get(API, params=params, headers=worker.headers).json()
        seen += [item["id"] for item in page["items"]]
        if len(seen) == 2:  # an older case arrives between two pages
            made.append(create_case(client, worker, actualised_on="2024-12-01")["id"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(made)
    assert len(seen) == len(set(seen)) == 8
