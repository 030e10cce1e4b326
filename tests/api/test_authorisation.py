"""Authorisation (ACCEPTANCE A1, A2, A3, A5).

The routes are enumerated from ``app.routes``: a new route that takes an object
id, or a new case-content or administration route, fails these tests until it
has a request in ``REQUESTS`` below, so nothing new goes unchecked.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.auth.principal import Principal
from app.auth.service import issue_token, revoke_user_tokens
from app.clock import utcnow
from app.importer.jobs import create_job
from app.models import (
    ApiToken,
    AuditEvent,
    Case,
    CaseRevision,
    Intervention,
    LocalVariableDefinition,
    RiskAssessment,
    SurveyResponse,
    Unit,
    User,
)
from tests.factories import PNR, Account, case_body, create_case, make_account, make_unit

A, B = "0180", "1480"
COMMENT = "Hemlig kommentar om klientens situation"
PREFIX = "/api/v1"
ID_PARAM = re.compile(r"\{(\w+_id)\}")

# One valid request body per route (None: no body). Every route that takes an
# object id, and every case-content and administration route, must be listed.
REQUESTS: dict[tuple[str, str], dict[str, Any] | None] = {
    ("POST", "/cases"): case_body(),
    ("GET", "/cases"): None,
    ("GET", "/cases/{case_id}"): None,
    ("PATCH", "/cases/{case_id}"): {"values": {"sex": 2}},
    ("POST", "/cases/{case_id}/close"): {
        "closed_on": "2025-06-01",
        "values": {"closing_reason": 1, "goal_followup": 1},
    },
    ("POST", "/cases/{case_id}/exclusion"): {"reason": "duplicate"},
    ("DELETE", "/cases/{case_id}/exclusion"): None,
    ("GET", "/cases/{case_id}/history"): None,
    ("POST", "/cases/{case_id}/interventions"): {
        "intervention_start_on": "2025-03-05",
        "intervention_type": 4,
    },
    ("PATCH", "/cases/{case_id}/interventions/{intervention_id}"): {"intervention_type": 5},
    ("DELETE", "/cases/{case_id}/interventions/{intervention_id}"): None,
    ("POST", "/cases/{case_id}/risk-assessments"): {
        "assessed_on": "2025-03-10",
        "assessment_phase": 1,
        "risk_instrument": 1,
        "score": 2,
    },
    ("PATCH", "/cases/{case_id}/risk-assessments/{assessment_id}"): {"score": 3},
    ("DELETE", "/cases/{case_id}/risk-assessments/{assessment_id}"): None,
    ("PUT", "/cases/{case_id}/survey"): {
        "answered_on": "2025-06-01",
        "language": 1,
        "mode": 2,
        "survey_violence_change": 1,
        "survey_support_importance": 4,
    },
    ("POST", "/kodnyckel/lookup"): {
        "pseudonym": "0" * 64,
        "reason": "Klienten har begärt utdrag ur registret.",
    },
    ("POST", "/local-variables/{variable_id}/retire"): None,
    ("POST", "/imports"): None,
    ("GET", "/imports/{job_id}"): None,
    ("GET", "/units"): None,
    ("POST", "/units"): {"name": "Ny enhet", "municipality_code": A},
    ("GET", "/units/{unit_id}"): None,
    ("GET", "/users"): None,
    ("POST", "/users"): {"username": "ny-nationell", "role": "national"},
    ("GET", "/users/{user_id}"): None,
    ("POST", "/users/{user_id}/tokens"): {"expires_in_days": 30},
    ("POST", "/users/{user_id}/revoke"): {"deactivate": True},
    ("GET", "/keys"): None,
    ("GET", "/audit-events"): None,
    ("GET", "/audit-events/verify"): None,
}
PERIOD = "?from=2023-01-01&to=2023-12-31"
LIST_QUERIES: dict[str, str] = {
    "/quality/cases": "?variable=perpetrator",
    "/quality/warnings": "?check=same_intervention_same_day",
    "/stats/summary": PERIOD,
    "/stats/tables/{table_id}": PERIOD,
    "/stats/kolada": "?year=2025",
    "/stats/indicators/{indicator_id}": "?year=2025",
    "/submissions/compilation": "?period=2025",
}
"""Required query parameters of GET routes."""
NOT_OBJECT_IDS: dict[str, str] = {"table_id": "funnel", "indicator_id": "U30750"}
"""``…_id`` parameters that name no object of a municipality (a table of the
national compilation, an indicator definition), with a value to call them with."""
CASE_CONTENT = ("/cases", "/kodnyckel", "/imports")
"""Path prefixes whose every route reads or writes case content."""
ADMINISTRATION = ("/users", "/units", "/keys", "/audit-events")
"""Path prefixes of user, unit, key and audit administration."""


def api_routes(app: FastAPI) -> list[tuple[str, str]]:
    """(method, path below /api/v1) of every route of the app."""
    found: set[tuple[str, str]] = set()
    routes: list[tuple[str | None, set[str] | None]]
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # FastAPI before included routers were kept nested
        routes = [(r.path, r.methods) for r in app.routes if isinstance(r, APIRoute)]
    else:
        routes = [(r.path, r.methods) for r in iter_route_contexts(app.routes)]
    for path, methods in routes:
        if path is None or not path.startswith(PREFIX + "/"):
            continue
        for method in methods or ():
            if method != "HEAD":
                found.add((method, path.removeprefix(PREFIX)))
    return sorted(found)


def routes_under(app: FastAPI, prefixes: tuple[str, ...]) -> list[tuple[str, str]]:
    chosen = [r for r in api_routes(app) if r[1].startswith(prefixes)]
    missing = [r for r in chosen if r not in REQUESTS]
    assert not missing, f"add a request for these routes to REQUESTS: {missing}"
    return chosen


@dataclass(frozen=True)
class World:
    """Municipality A (0180) with a full case, B (1480) with its own."""

    worker_a: Account
    coordinator_a: Account
    other_unit_worker_a: Account
    worker_b: Account
    coordinator_b: Account
    admin: Account
    regional: Account
    national: Account
    unit_a: Unit
    case_a: dict[str, Any]
    case_b: dict[str, Any]
    variable_a: str
    import_job_a: str

    def ids(self) -> dict[str, str]:
        """A's object for each id parameter."""
        return {
            "case_id": self.case_a["id"],
            "intervention_id": self.case_a["interventions"][0]["id"],
            "assessment_id": self.case_a["risk_assessments"][0]["id"],
            "user_id": str(self.worker_a.user.id),
            "unit_id": str(self.unit_a.id),
            "variable_id": self.variable_a,
            "job_id": self.import_job_a,
        }

    def secrets(self) -> list[str]:
        """Case content of A that must never reach another caller."""
        return [PNR, PNR.replace("-", ""), COMMENT, self.case_a["client_pseudonym"]]


@pytest.fixture
def world(client: TestClient, session: Session) -> World:
    unit_a, other_unit_a, unit_b = (
        make_unit(session, A),
        make_unit(session, A),
        make_unit(session, B),
    )
    worker_a = make_account(session, "caseworker", unit=unit_a)
    coordinator_a = make_account(session, "coordinator", municipality=A)
    worker_b = make_account(session, "caseworker", unit=unit_b)
    created = create_case(client, worker_a, comments={"perpetrator": COMMENT})
    url = f"/api/v1/cases/{created['id']}"
    for path in ("interventions", "risk-assessments"):
        body = REQUESTS[("POST", f"/cases/{{case_id}}/{path}")]
        r = client.post(f"{url}/{path}", json=body, headers=worker_a.headers)
        assert r.status_code == 201, r.text
    case_a = client.get(url, headers=worker_a.headers).json()
    r = client.post(
        "/api/v1/local-variables",
        json={
            "definition": {
                "key": "k0180.boende",
                "phase": "bakgrund",
                "type": "single",
                "label": {"sv": "Boende", "en": "Housing"},
                "question": {"sv": "Hur bor klienten?", "en": "How does the client live?"},
                "options": [{"code": 1, "label": {"sv": "Eget", "en": "Own"}}],
            }
        },
        headers=coordinator_a.headers,
    )
    assert r.status_code == 201, r.text
    job = create_job(session, principal_of(worker_a), lines=1, skip_invalid=False)
    return World(
        worker_a=worker_a,
        coordinator_a=coordinator_a,
        other_unit_worker_a=make_account(session, "caseworker", unit=other_unit_a),
        worker_b=worker_b,
        coordinator_b=make_account(session, "coordinator", municipality=B),
        admin=make_account(session, "admin"),
        regional=make_account(session, "regional", county="01"),
        national=make_account(session, "national"),
        unit_a=unit_a,
        case_a=case_a,
        case_b=create_case(client, worker_b),  # the same client at B
        variable_a=r.json()["id"],
        import_job_a=str(job.id),
    )


def principal_of(account: Account) -> Principal:
    user = account.user
    return Principal(user.id, user.role, user.municipality_code, user.county_code, user.unit_id)


def state_of_a(session: Session, world: World) -> dict[str, Any]:
    """Everything a request could have changed about A's objects."""
    session.expire_all()
    case_id = uuid.UUID(world.case_a["id"])
    case = session.get(Case, case_id)
    assert case is not None
    user = session.get(User, world.worker_a.user.id)
    assert user is not None
    variable = session.get(LocalVariableDefinition, uuid.UUID(world.variable_a))
    assert variable is not None
    return {
        "case": (
            case.version, case.values, case.status, case.closed_on, case.is_excluded,
            case.exclusion_reason, case.comments_ciphertext, case.updated_at,
        ),
        "interventions": sorted(
            (str(i.id), i.start_on, i.type_code, i.grounds_code)
            for i in session.scalars(select(Intervention).where(Intervention.case_id == case_id))
        ),
        "risks": sorted(
            (str(r.id), r.assessed_on, r.instrument_code, r.score)
            for r in session.scalars(
                select(RiskAssessment).where(RiskAssessment.case_id == case_id)
            )
        ),
        "surveys": session.scalar(
            select(func.count(SurveyResponse.id)).where(SurveyResponse.case_id == case_id)
        ),
        "revisions": session.scalar(
            select(func.count(CaseRevision.id)).where(CaseRevision.case_id == case_id)
        ),
        "user": (user.is_active, user.role, user.unit_id),
        "tokens": sorted(
            (str(t.id), t.revoked_at)
            for t in session.scalars(select(ApiToken).where(ApiToken.user_id == user.id))
        ),
        "variable": (variable.is_retired, variable.definition),
        "rows": tuple(
            session.scalar(select(func.count()).select_from(model))
            for model in (Case, Unit, User, ApiToken, LocalVariableDefinition, AuditEvent)
        ),
    }  # fmt: skip


def call(
    client: TestClient,
    method: str,
    path: str,
    ids: dict[str, str],
    account: Account,
    version: int,
) -> Any:
    url = PREFIX + path.format(**ids)
    body = REQUESTS.get((method, path))
    headers = {**account.headers, "If-Match": f'"{version}"'}
    return client.request(method, url, json=body, headers=headers)


def without_instance(response: Any) -> dict[str, Any]:
    body: dict[str, Any] = response.json()
    body.pop("instance")
    return body


# --- A1: object scope ------------------------------------------------------------


def id_routes(app: FastAPI) -> list[tuple[str, str]]:
    """Routes that take the id of an object in some municipality's scope."""
    routes = [r for r in api_routes(app) if set(ID_PARAM.findall(r[1])) - set(NOT_OBJECT_IDS)]
    missing = [r for r in routes if r not in REQUESTS]
    assert not missing, f"A1: add a request for these routes to REQUESTS: {missing}"
    return routes


def test_every_id_route_hides_other_municipalities_objects(
    app: FastAPI, client: TestClient, session: Session, world: World
) -> None:
    routes = id_routes(app)
    params = {p for _, path in routes for p in ID_PARAM.findall(path)}
    assert params <= set(world.ids()), f"A1: no object of A for {params - set(world.ids())}"
    assert {path for _, path in routes} >= {
        "/cases/{case_id}",
        "/cases/{case_id}/interventions/{intervention_id}",
        "/users/{user_id}/revoke",
    }
    before = state_of_a(session, world)
    version = world.case_a["version"]
    exercised = []
    for method, path in routes:
        names = ID_PARAM.findall(path)
        random_ids = {name: str(uuid.uuid4()) for name in names}
        theirs = call(client, method, path, world.ids(), world.coordinator_b, version)
        missing = call(client, method, path, random_ids, world.coordinator_b, version)
        for response in (theirs, missing):
            assert response.status_code == 404, (method, path, response.text)
            assert response.headers["content-type"] == "application/problem+json"
        assert without_instance(theirs) == without_instance(missing), (method, path)
        assert without_instance(theirs)["type"] == "/problems/not-found"
        if path.startswith("/cases/{case_id}/") and len(names) > 1:
            # B's own case with A's child record: just as missing.
            mixed = {**world.ids(), "case_id": world.case_b["id"]}
            r = call(client, method, path, mixed, world.coordinator_b, world.case_b["version"])
            assert r.status_code == 404, (method, path, r.text)
            assert without_instance(r) == without_instance(missing)
        exercised.append((method, path))
    assert exercised == routes
    assert state_of_a(session, world) == before


def test_another_units_caseworker_sees_nothing_of_the_case(
    app: FastAPI, client: TestClient, session: Session, world: World
) -> None:
    """Within municipality A, a caseworker's scope is their own unit."""
    before = state_of_a(session, world)
    routes = [r for r in id_routes(app) if r[1].startswith("/cases/")]
    coordinator_only = {"/cases/{case_id}/exclusion"}
    for method, path in routes:
        response = call(
            client, method, path, world.ids(), world.other_unit_worker_a, world.case_a["version"]
        )
        expected = 403 if path in coordinator_only else 404
        assert response.status_code == expected, (method, path, response.text)
    assert state_of_a(session, world) == before


def test_lists_and_counts_never_include_another_municipalitys_rows(
    app: FastAPI, client: TestClient, session: Session, world: World
) -> None:
    a_ids = [*world.ids().values(), str(world.coordinator_a.user.id)]
    b_cases = session.scalar(select(func.count(Case.id)).where(Case.municipality_code == B))
    page = client.get("/api/v1/cases?limit=500", headers=world.coordinator_b.headers).json()
    assert len(page["items"]) == b_cases == 1
    assert [c["id"] for c in page["items"]] == [world.case_b["id"]]
    filtered = client.get(
        f"/api/v1/cases?unit_id={world.unit_a.id}", headers=world.coordinator_b.headers
    ).json()
    assert (filtered["next_cursor"], filtered["items"]) == (None, [])
    # The same client at B is a different pseudonym and not a re-aktualisering.
    assert world.case_b["client_pseudonym"] != world.case_a["client_pseudonym"]
    assert world.case_b["previous_cases"] == 0
    # Every list route, for B's coordinator and caseworker: nothing of A in it.
    lists = [path for method, path in api_routes(app) if method == "GET" and "{" not in path]
    assert {"/cases", "/users", "/units", "/audit-events"} <= set(lists)
    for account in (world.coordinator_b, world.worker_b):
        for path in lists:
            r = client.get(PREFIX + path + LIST_QUERIES.get(path, ""), headers=account.headers)
            assert r.status_code in (200, 403), (path, r.text)
            for secret in [*a_ids, *world.secrets()]:
                assert secret not in r.text, (path, account.user.role)
    for path in ("/audit-events", "/users", "/units"):
        r = client.get(f"{PREFIX}{path}?municipality_code={A}", headers=world.coordinator_b.headers)
        assert (r.status_code, r.json()["total"], r.json()["items"]) == (200, 0, [])
    r = client.get(
        f"{PREFIX}/audit-events?object_id={world.case_a['id']}",
        headers=world.coordinator_b.headers,
    )
    assert r.json()["total"] == 0


# --- A2: role matrix ------------------------------------------------------------------


def test_roles_without_case_access_get_403_on_every_case_route(
    app: FastAPI, client: TestClient, session: Session, world: World
) -> None:
    routes = routes_under(app, CASE_CONTENT)
    assert len(routes) >= 15
    before = state_of_a(session, world)
    for account in (world.regional, world.national, world.admin):
        for method, path in routes:
            names = ID_PARAM.findall(path)
            variants = [
                world.ids(),
                {n: str(uuid.uuid4()) for n in names},
                dict.fromkeys(names, "not-an-id"),
            ]
            for ids in variants[: 3 if names else 1]:
                r = call(client, method, path, ids, account, world.case_a["version"])
                assert r.status_code == 403, (account.user.role, method, path, r.text)
                assert r.json()["type"] == "/problems/forbidden"
                for secret in world.secrets():
                    assert secret not in r.text
    assert state_of_a(session, world) == before


def test_case_roles_get_403_on_administration(
    app: FastAPI, client: TestClient, session: Session, world: World
) -> None:
    """Caseworkers, regional and national roles manage no users, keys or audit log;
    a coordinator may not create units, list keys or verify the chain."""
    routes = routes_under(app, ADMINISTRATION)
    assert len(routes) >= 9
    before = state_of_a(session, world)
    coordinator_may = {
        ("GET", "/units"),
        ("GET", "/units/{unit_id}"),
        ("GET", "/users"),
        ("POST", "/users"),
        ("GET", "/users/{user_id}"),
        ("POST", "/users/{user_id}/tokens"),
        ("POST", "/users/{user_id}/revoke"),
        ("GET", "/audit-events"),
    }
    callers = [world.worker_a, world.worker_b, world.regional, world.national]
    for account in [*callers, world.coordinator_a]:
        for method, path in routes:
            if account is world.coordinator_a and (method, path) in coordinator_may:
                continue
            names = ID_PARAM.findall(path)
            variants = [world.ids(), {n: str(uuid.uuid4()) for n in names}]
            for ids in variants[: 2 if names else 1]:
                r = call(client, method, path, ids, account, 1)
                assert r.status_code == 403, (account.user.role, method, path, r.text)
                assert r.json()["type"] == "/problems/forbidden"
    assert state_of_a(session, world) == before


def test_admin_never_receives_case_content(app: FastAPI, client: TestClient, world: World) -> None:
    readable = [
        path
        for method, path in api_routes(app)
        if method == "GET" and not path.startswith(CASE_CONTENT)
    ]
    for path in readable:
        url = PREFIX + path.format(**world.ids(), **NOT_OBJECT_IDS) + LIST_QUERIES.get(path, "")
        r = client.get(url, headers=world.admin.headers)
        assert r.status_code in (200, 403, 404), (path, r.text)
        for secret in [*world.secrets(), "HL-7"]:
            assert secret not in r.text, path


# --- A3: fields a client may not set -------------------------------------------------

FORBIDDEN_FIELDS: dict[str, Any] = {
    "municipality_code": B,
    "unit_id": str(uuid.uuid4()),
    "client_pseudonym": "0" * 64,
    "version": 987654,
    "status": "avslutad",
    "is_excluded": True,
    "created_by_id": str(uuid.uuid4()),
}


def test_patch_with_fields_the_client_may_not_set_is_rejected_whole(
    client: TestClient, session: Session, world: World
) -> None:
    before = state_of_a(session, world)
    url = f"/api/v1/cases/{world.case_a['id']}"
    headers = {**world.coordinator_a.headers, "If-Match": f'"{world.case_a["version"]}"'}
    r = client.patch(url, json={**FORBIDDEN_FIELDS, "values": {"sex": 2}}, headers=headers)
    assert r.status_code == 422, r.text
    assert r.json()["type"] == "/problems/validation"
    found = [e["pointer"] for e in r.json()["errors"]]
    assert sorted(found) == sorted(f"/{name}" for name in FORBIDDEN_FIELDS)
    assert all(e["code"] == "unknown_field" for e in r.json()["errors"])
    for name, value in FORBIDDEN_FIELDS.items():
        r = client.patch(url, json={name: value}, headers=headers)
        assert r.status_code == 422, (name, r.text)
        assert [e["pointer"] for e in r.json()["errors"]] == [f"/{name}"]
        if isinstance(value, str):  # never echoes the value
            assert value not in json.dumps(without_instance(r)), name
    assert state_of_a(session, world) == before


# --- A5: tokens --------------------------------------------------------------------


def auth_failures(session: Session) -> int:
    return (
        session.scalar(select(func.count(AuditEvent.id)).where(AuditEvent.action == "auth.failed"))
        or 0
    )


def test_bad_tokens_get_identical_401_and_one_audit_event_each(
    client: TestClient, session: Session
) -> None:
    unit = make_unit(session, A)
    expired, revoked, disabled = (make_account(session, "caseworker", unit=unit) for _ in "abc")
    for token in session.scalars(select(ApiToken).where(ApiToken.user_id == expired.user.id)):
        token.expires_at = utcnow()
    revoke_user_tokens(session, revoked.user)
    disabled.user.is_active = False
    session.flush()
    attempts: dict[str, dict[str, str]] = {
        "none": {},
        "unknown": {"Authorization": "Bearer " + "x" * 43},
        "empty": {"Authorization": "Bearer "},
        "wrong scheme": {"Authorization": f"Basic {expired.token}"},
        "expired": expired.headers,
        "revoked": revoked.headers,
        "disabled user": disabled.headers,
    }
    bodies = []
    for name, headers in attempts.items():
        before = auth_failures(session)
        r = client.get("/api/v1/cases", headers=headers)
        assert r.status_code == 401, (name, r.text)
        assert r.headers["www-authenticate"].startswith("Bearer"), name
        assert r.json()["type"] == "/problems/unauthenticated"
        bodies.append(r.json())
        assert auth_failures(session) == before + 1, name
    assert all(body == bodies[0] for body in bodies)
    events = session.scalars(
        select(AuditEvent).where(AuditEvent.action == "auth.failed").order_by(AuditEvent.id)
    ).all()
    for event in events[-len(attempts) :]:
        assert (event.actor_user_id, event.outcome, event.request_id is not None) == (
            None,
            "denied",
            True,
        )
        columns = repr([getattr(event, c.key) for c in AuditEvent.__table__.columns])
        for account in (expired, revoked, disabled):
            assert account.token not in columns
    # Nothing was read or written for them.
    assert session.scalar(select(func.count(Case.id)).where(Case.unit_id == unit.id)) == 0


def test_one_audit_event_per_failure_on_routes_with_several_auth_dependencies(
    client: TestClient, session: Session
) -> None:
    """POST /cases needs the caller twice (role, Idempotency-Key): still one event."""
    before = auth_failures(session)
    r = client.post(
        "/api/v1/cases",
        json=case_body(),
        headers={"Authorization": "Bearer nope", "Idempotency-Key": "k"},
    )
    assert r.status_code == 401
    assert auth_failures(session) == before + 1


class FakeClock:
    """Stands in for the limiter's clock: it only moves on ``advance``."""

    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, 12, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def test_repeated_failures_are_rate_limited(
    app: FastAPI, client: TestClient, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    import app.auth.limiter as auth_limiter

    clock = FakeClock()
    monkeypatch.setattr(auth_limiter, "utcnow", clock)
    settings = app.state.settings
    worker = make_account(session, "caseworker", unit=make_unit(session, A))
    before = auth_failures(session)
    bad = {"Authorization": "Bearer guessed"}
    for _ in range(settings.auth_failure_limit):
        assert client.get("/api/v1/cases", headers=bad).status_code == 401
    assert auth_failures(session) == before + settings.auth_failure_limit
    for headers in (bad, worker.headers):  # while limited, even a valid token waits
        r = client.get("/api/v1/cases", headers=headers)
        assert r.status_code == 429, r.text
        assert r.json()["type"] == "/problems/rate-limited"
        wait = int(r.headers["retry-after"])
        assert 1 <= wait <= settings.auth_failure_window_seconds + 1
    # A refused attempt is not an authentication: no event, no write.
    assert auth_failures(session) == before + settings.auth_failure_limit
    # Another client address is not limited.
    with TestClient(app, raise_server_exceptions=False, client=("127.0.0.2", 50000)) as other:
        assert other.get("/api/v1/cases", headers=worker.headers).status_code == 200
    clock.advance(settings.auth_failure_window_seconds + 1)
    assert client.get("/api/v1/cases", headers=worker.headers).status_code == 200
    assert client.get("/api/v1/cases", headers=bad).status_code == 401


def test_new_token_for_a_user_works_and_old_revoked_one_does_not(
    client: TestClient, session: Session
) -> None:
    worker = make_account(session, "caseworker", unit=make_unit(session, A))
    revoke_user_tokens(session, worker.user)
    fresh = issue_token(session, worker.user, expires_in_days=1)
    assert client.get("/api/v1/cases", headers=worker.headers).status_code == 401
    r = client.get("/api/v1/cases", headers={"Authorization": f"Bearer {fresh}"})
    assert r.status_code == 200, r.text
