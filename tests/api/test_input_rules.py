"""ACCEPTANCE I1: bad input is a 4xx problem naming the field (413 for size),
never a 500, and writes nothing.

Each rejection asserts status, problem type, the pointers and codes of
``errors[]``, and that row counts and every case's version and content are
unchanged.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Case
from tests.api.test_case_support import (
    API,
    Cases,
    World,
    codes,
    make_cases,
    make_world,
    personnummer,
    post_json_bytes,
    problem,
    state,
    with_version,
)
from tests.factories import case_body

OPENED = date(2025, 3, 1)  # case_body's actualised_on


@pytest.fixture
def world(session: Session) -> World:
    return make_world(session)


@pytest.fixture
def cases(client: TestClient, session: Session) -> Cases:
    return make_cases(client, session)


def rejected(
    client: TestClient,
    session: Session,
    method: str,
    path: str,
    headers: dict[str, str],
    body: Any,
    pointer: str | list[str],
    code: str | list[str],
    status: int = 422,
    slug: str = "validation",
) -> dict[str, Any]:
    """Send one bad request: the problem names exactly these fields and codes,
    and the database is as before."""
    pointers = [pointer] if isinstance(pointer, str) else pointer
    expected = [code] if isinstance(code, str) else code
    before = state(session)
    r = client.request(method, path, json=body, headers=headers)
    problem_body = problem(r, status, slug, pointers)
    assert sorted(codes(r)) == sorted(expected), r.text
    assert state(session) == before
    return problem_body


def _without(key: str) -> dict[str, Any]:
    body = case_body()
    del body[key]
    return body


# --- registering a case ----------------------------------------------------

CREATE_REJECTIONS: list[tuple[str, dict[str, Any], str, str]] = [
    # Adults only.
    (
        "age 17",
        case_body(client_id="KLIENT-1", values={"age": 17}),
        "/values/age",
        "under_18",
    ),
    (
        "personnummer of a 17-year-old",
        case_body(client_id=personnummer(date(2007, 3, 2))),
        "/client_id",
        "under_18",
    ),
    ("age contradicts personnummer", case_body(values={"age": 30}), "/values/age", "age_mismatch"),
    # Exclusive options, duplicates, "registered as none" where not allowed.
    (
        "Nej with another option",
        case_body(values={"disability": [4, 1]}),
        "/values/disability",
        "exclusive",
    ),
    (
        "Vet ej with Nej",
        case_body(values={"disability": [5, 4]}),
        "/values/disability",
        "exclusive",
    ),
    (
        "same option twice",
        case_body(values={"disability": [1, 1]}),
        "/values/disability",
        "duplicate",
    ),
    (
        "[] without empty_allowed",
        case_body(values={"disability": []}),
        "/values/disability",
        "empty",
    ),
    # Codes and variables that do not exist.
    ("unknown code", case_body(values={"sex": 9}), "/values/sex", "unknown_code"),
    (
        "unknown code in a list",
        case_body(values={"disability": [99]}),
        "/values/disability/0",
        "unknown_code",
    ),
    (
        "unknown variable",
        case_body(values={"shoe_size": 1}),
        "/values/shoe_size",
        "unknown_variable",
    ),
    (
        "comment on a variable without one",
        case_body(comments={"sex": "x"}),
        "/comments/sex",
        "unknown_field",
    ),
    (
        "unknown local variable",
        case_body(local_values={"k0180.nope": 1}),
        "/local_values/k0180.nope",
        "unknown_variable",
    ),
    (
        "malformed local key",
        case_body(local_values={"nope": 1}),
        "/local_values/nope",
        "invalid_format",
    ),
    # Phases and dates.
    (
        "efter variable on an open case",
        case_body(values={"goal_followup": 1}),
        "/values/goal_followup",
        "case_not_closed",
    ),
    (
        "opened in the future",
        case_body(actualised_on="2999-01-01"),
        "/actualised_on",
        "future_date",
    ),
    (
        "opened before birth",
        case_body(actualised_on="1911-01-01"),
        "/client_id",
        "client_id_future",
    ),
    (
        "31 February",
        case_body(actualised_on="2025-02-31"),
        "/actualised_on",
        "invalid_date",
    ),
    # Wrong types: nothing is coerced.
    ("code as a string", case_body(values={"sex": "1"}), "/values/sex", "wrong_type"),
    ("code as true", case_body(values={"sex": True}), "/values/sex", "wrong_type"),
    ("code as 1.0", case_body(values={"sex": 1.0}), "/values/sex", "wrong_type"),
    (
        "multi-choice as a number",
        case_body(values={"disability": 4}),
        "/values/disability",
        "wrong_type",
    ),
    (
        "age as a string",
        case_body(client_id="KLIENT-1", values={"age": "40"}),
        "/values/age",
        "wrong_type",
    ),
    (
        "age as 40.5",
        case_body(client_id="KLIENT-1", values={"age": 40.5}),
        "/values/age",
        "wrong_type",
    ),
    ("date as a number", case_body(actualised_on=20250301), "/actualised_on", "invalid_date"),
    (
        "date with a time",
        case_body(actualised_on="2025-03-01T00:00:00"),
        "/actualised_on",
        "invalid_date",
    ),
    ("values as a list", case_body(values=[1]), "/values", "wrong_type"),
    (
        "comment as a number",
        case_body(comments={"disability": 5}),
        "/comments/disability",
        "wrong_type",
    ),
    # Missing, empty, too long.
    ("no client", _without("client_id"), "/client_id", "missing"),
    ("no opening date", _without("actualised_on"), "/actualised_on", "missing"),
    ("empty client", case_body(client_id=""), "/client_id", "too_short"),
    (
        "comment too long",
        case_body(comments={"disability": "x" * 4001}),
        "/comments/disability",
        "too_long",
    ),
    ("wrong check digit", case_body(client_id="19121212-1213"), "/client_id", "client_id_checksum"),
    (
        "NUL in the client id",
        case_body(client_id="1912\x001212-1212"),
        "/client_id",
        "nul_character",
    ),
    (
        "NUL in the caseworker",
        case_body(caseworker_ref="HL\x007"),
        "/caseworker_ref",
        "nul_character",
    ),
]


@pytest.mark.parametrize(
    ("body", "pointer", "code"),
    [c[1:] for c in CREATE_REJECTIONS],
    ids=[c[0] for c in CREATE_REJECTIONS],
)
def test_create_rejects(
    client: TestClient, session: Session, world: World, body: Any, pointer: str, code: str
) -> None:
    rejected(client, session, "POST", API, world.worker.headers, body, pointer, code)


def test_adult_boundaries_are_accepted(client: TestClient, session: Session, world: World) -> None:
    turned_18 = client.post(
        API, json=case_body(client_id=personnummer(date(2007, 3, 1))), headers=world.worker.headers
    )
    assert turned_18.status_code == 201, turned_18.text
    assert (turned_18.json()["values"]["age"], turned_18.json()["values"]["age_basis"]) == (18, 1)
    estimated = client.post(
        API,
        json=case_body(client_id="KLIENT-2", values={"age": 18, "age_basis": 2}),
        headers=world.worker.headers,
    )
    assert estimated.status_code == 201, estimated.text
    ok = client.post(
        API, json=case_body(values={"disability": [3, 1, 2]}), headers=world.worker.headers
    )
    assert ok.status_code == 201, ok.text
    assert ok.json()["values"]["disability"] == [1, 2, 3]


def test_several_bad_fields_are_all_named(
    client: TestClient, session: Session, world: World
) -> None:
    before = state(session)
    body = case_body(values={"sex": 9, "disability": [4, 1], "shoe_size": 1})
    r = client.post(API, json=body, headers=world.worker.headers)
    # Type errors and the rules across values, in one answer (docs/errors.md).
    problem(r, 422, "validation", ["/values/sex", "/values/shoe_size", "/values/disability"])
    assert sorted(codes(r)) == ["exclusive", "unknown_code", "unknown_variable"]
    assert state(session) == before


# --- "registered as none" is not "missing" -----------------------------------


def test_empty_list_is_registered_as_none_distinct_from_missing(
    client: TestClient, session: Session, world: World
) -> None:
    created = client.post(
        API, json=case_body(values={"child_followup": []}), headers=world.worker.headers
    )
    assert created.status_code == 201, created.text
    case_id = uuid.UUID(created.json()["id"])
    values = created.json()["values"]
    assert values["child_followup"] == []  # registered as none
    assert values["collaboration"] is None  # not yet registered

    def stored() -> dict[str, Any]:
        raw = session.scalar(select(Case.values).where(Case.id == case_id))
        assert raw is not None
        return dict(raw)

    assert stored()["child_followup"] == []
    assert "collaboration" not in stored()
    r = client.patch(
        f"{API}/{case_id}",
        json={"values": {"collaboration": []}},
        headers=with_version(world.worker, 1),
    )
    assert r.status_code == 200, r.text
    assert r.json()["values"]["collaboration"] == []
    assert stored()["collaboration"] == []
    r = client.patch(
        f"{API}/{case_id}",
        json={"values": {"collaboration": [9, 1]}},
        headers=with_version(world.worker, 2),
    )
    assert stored()["collaboration"] == [1, 9]
    r = client.patch(
        f"{API}/{case_id}",
        json={"values": {"collaboration": None}},
        headers=with_version(world.worker, 3),
    )
    assert r.status_code == 200, r.text
    assert r.json()["values"]["collaboration"] is None
    assert "collaboration" not in stored()


# --- size and encoding ---------------------------------------------------------


def test_ten_megabyte_body_is_413(client: TestClient, session: Session, world: World) -> None:
    before = state(session)
    comment = "x" * (10 * 1024 * 1024)
    raw = json.dumps(case_body(comments={"disability": comment})).encode()
    r = post_json_bytes(client, API, raw, world.worker.headers)
    problem(r, 413, "payload-too-large")

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted while streaming
        for start in range(0, len(raw), 64 * 1024):
            yield raw[start : start + 64 * 1024]

    r = client.post(
        API, content=chunks(), headers={**world.worker.headers, "Content-Type": "application/json"}
    )
    problem(r, 413, "payload-too-large")
    assert state(session) == before


def test_just_under_the_limit_is_validated_not_413(
    client: TestClient, session: Session, world: World
) -> None:
    rejected(
        client,
        session,
        "POST",
        API,
        world.worker.headers,
        case_body(comments={"disability": "x" * 900_000}),
        "/comments/disability",
        "too_long",
    )


def test_ten_thousand_choices_are_rejected_fast(
    client: TestClient, session: Session, world: World
) -> None:
    for items in ([1] * 10_000, list(range(10_000))):
        started = time.perf_counter()
        body = rejected(
            client,
            session,
            "POST",
            API,
            world.worker.headers,
            case_body(values={"contact_initiative": items}),
            "/values/contact_initiative",
            "too_many",
        )
        assert time.perf_counter() - started < 2.0
        assert len(body["errors"]) == 1  # one error, not one per item


@pytest.mark.parametrize(
    ("raw", "pointers"),
    [
        (b'{"client_id": "K\xff1", "actualised_on": "2025-03-01"}', ["/client_id"]),
        (
            b'{"client_id": "K1", "actualised_on": "2025-03-01", "caseworker_ref": "\xc3",'
            b' "comments": {"disability": "ok \xe2\x82", "origin": "fine"}}',
            ["/caseworker_ref", "/comments/disability"],
        ),
        (
            b'{"client_id": "K1", "actualised_on": "2025-03-01", "comments": {"\xff": "x"}}',
            ["/comments"],
        ),
        (b'{"client_id": \xff}', [""]),  # not JSON even so: the whole body
    ],
    ids=["client-id", "two-fields", "in-a-key", "unparsable"],
)
def test_invalid_utf8_names_the_field(
    client: TestClient, session: Session, world: World, raw: bytes, pointers: list[str]
) -> None:
    before = state(session)
    r = post_json_bytes(client, API, raw, world.worker.headers)
    problem(r, 422, "validation", pointers)
    assert set(codes(r)) == {"string_unicode"}
    assert state(session) == before


# --- rules across a case's records -------------------------------------------


def test_closing_dates(client: TestClient, session: Session, cases: Cases) -> None:
    path, h = f"{API}/{cases.open_id}/close", with_version(cases.world.worker, 3)
    for closed_on, pointer, code in (
        # Avslut before aktualisering (and so before the intervention too).
        ("2025-02-01", ["/closed_on"] * 2, ["after_closing", "closed_before_actualised"]),
        ("2025-03-05", "/closed_on", "after_closing"),  # before the intervention started
        ("2999-01-01", "/closed_on", "future_date"),
    ):
        rejected(client, session, "POST", path, h, {"closed_on": closed_on}, pointer, code)
    rejected(
        client,
        session,
        "POST",
        path,
        h,
        {"closed_on": "2025-06-01", "values": {"closing_reason": 99}},
        "/values/closing_reason",
        "unknown_code",
    )


def test_closing_twice_is_409(client: TestClient, session: Session, cases: Cases) -> None:
    before = state(session)
    r = client.post(
        f"{API}/{cases.closed_id}/close",
        json={"closed_on": "2025-07-01"},
        headers=with_version(cases.world.worker, 2),
    )
    problem(r, 409, "conflict")
    assert state(session) == before


def test_intervention_dates(client: TestClient, session: Session, cases: Cases) -> None:
    h = cases.world.worker.headers
    for case_id, start, code in (
        (cases.closed_id, "2025-07-01", "after_closing"),  # start after avslut
        (cases.open_id, "2025-02-01", "before_actualisation"),  # start before aktualisering
        (cases.open_id, "2999-01-01", "future_date"),
    ):
        body = {"intervention_start_on": start, "intervention_type": 1}
        path = f"{API}/{case_id}/interventions"
        rejected(client, session, "POST", path, h, body, "/intervention_start_on", code)
    item = f"{API}/{cases.open_id}/interventions/{cases.intervention_id}"
    v3 = with_version(cases.world.worker, 3)
    rejected(
        client,
        session,
        "PATCH",
        item,
        v3,
        {"intervention_start_on": "2025-02-01"},
        "/intervention_start_on",
        "before_actualisation",
    )
    rejected(
        client,
        session,
        "PATCH",
        item,
        v3,
        {"intervention_start_on": None},
        "/intervention_start_on",
        "missing",
    )
    rejected(
        client,
        session,
        "PATCH",
        item,
        v3,
        {"intervention_type": 99},
        "/intervention_type",
        "unknown_code",
    )


def test_moving_the_opening_date(client: TestClient, session: Session, cases: Cases) -> None:
    path, h = f"{API}/{cases.open_id}", with_version(cases.world.worker, 3)
    # After the risk assessment (03-05), before the intervention (03-10).
    rejected(
        client,
        session,
        "PATCH",
        path,
        h,
        {"actualised_on": "2025-03-07"},
        "/actualised_on",
        "after_records",
    )
    # After the intervention too: both are named on the opening date.
    before = state(session)
    r = client.patch(path, json={"actualised_on": "2025-03-20"}, headers=h)
    problem(r, 422, "validation", ["/actualised_on", "/actualised_on"])
    assert sorted(codes(r)) == ["after_records", "before_actualisation"]
    assert state(session) == before
    rejected(
        client,
        session,
        "PATCH",
        path,
        h,
        {"actualised_on": "2999-01-01"},
        ["/actualised_on"] * 3,
        ["after_records", "before_actualisation", "future_date"],
    )
    rejected(
        client, session, "PATCH", path, h, {"actualised_on": None}, "/actualised_on", "missing"
    )
    closed = f"{API}/{cases.closed_id}"
    rejected(
        client,
        session,
        "PATCH",
        closed,
        with_version(cases.world.worker, 2),
        {"actualised_on": "2025-07-01"},
        "/actualised_on",
        "closed_before_actualised",
    )


def test_update_rules(client: TestClient, session: Session, cases: Cases) -> None:
    path, h = f"{API}/{cases.open_id}", with_version(cases.world.worker, 3)
    rejected(
        client,
        session,
        "PATCH",
        path,
        h,
        {"values": {"closing_reason": 1}},
        "/values/closing_reason",
        "case_not_closed",
    )
    rejected(
        client,
        session,
        "PATCH",
        path,
        h,
        {"values": {"age": 17}},
        "/values/age",
        "under_18",
    )
    rejected(
        client,
        session,
        "PATCH",
        path,
        h,
        {"values": {"perpetrator": [1, 1]}},
        "/values/perpetrator",
        "duplicate",
    )
    rejected(
        client,
        session,
        "PATCH",
        path,
        h,
        {"closed_on": "2025-06-01"},
        "/closed_on",
        "unknown_field",
    )
    # On a closed case the efter variables may be registered.
    r = client.patch(
        f"{API}/{cases.closed_id}",
        json={"values": {"closing_reason": 2}},
        headers=with_version(cases.world.worker, 2),
    )
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "avslutsorsak_angiven"


def test_risk_assessment_rules(client: TestClient, session: Session, cases: Cases) -> None:
    path, h = f"{API}/{cases.open_id}/risk-assessments", cases.world.worker.headers
    base = {"assessment_phase": 1, "risk_instrument": 1}
    rejected(
        client,
        session,
        "POST",
        path,
        h,
        {**base, "assessed_on": "2025-02-01"},
        "/assessed_on",
        "before_actualisation",
    )
    rejected(
        client,
        session,
        "POST",
        path,
        h,
        {**base, "assessed_on": "2999-01-01"},
        "/assessed_on",
        "future_date",
    )
    rejected(
        client,
        session,
        "POST",
        path,
        h,
        {"assessed_on": "2025-03-05", "assessment_phase": 1},
        "/risk_instrument",
        "missing",
    )
    rejected(
        client,
        session,
        "PATCH",
        f"{path}/{cases.risk_id}",
        with_version(cases.world.worker, 3),
        {"assessed_on": None},
        "/assessed_on",
        "missing",
    )


SURVEY = {"answered_on": "2025-06-15", "language": 1, "mode": 2}


def test_survey_rules(client: TestClient, session: Session, cases: Cases) -> None:
    closed, v2 = f"{API}/{cases.closed_id}/survey", with_version(cases.world.worker, 2)
    # 203 only when 202 is an improvement (1 or 2).
    for change in (3, 6, None):
        body = {**SURVEY, "survey_violence_change": change, "survey_support_importance": 4}
        rejected(
            client, session, "PUT", closed, v2, body, "/survey_support_importance", "skip_logic"
        )
    rejected(
        client,
        session,
        "PUT",
        closed,
        v2,
        {**SURVEY, "answered_on": "2999-01-01"},
        "/answered_on",
        "future_date",
    )
    rejected(
        client,
        session,
        "PUT",
        closed,
        v2,
        {**SURVEY, "answered_on": "2025-02-01"},
        "/answered_on",
        "before_actualisation",
    )
    rejected(
        client, session, "PUT", closed, v2, {**SURVEY, "language": 9}, "/language", "unknown_code"
    )
    rejected(
        client,
        session,
        "PUT",
        closed,
        v2,
        {**SURVEY, "survey_suggestions": "x" * 2001},
        "/survey_suggestions",
        "too_long",
    )
    # A survey on an open case: the whole request is wrong, not one field.
    rejected(
        client,
        session,
        "PUT",
        f"{API}/{cases.open_id}/survey",
        with_version(cases.world.worker, 3),
        SURVEY,
        "",
        "case_not_closed",
    )
    ok = {**SURVEY, "survey_violence_change": 2, "survey_support_importance": 4}
    r = client.put(closed, json=ok, headers=v2)
    assert r.status_code == 200, r.text


def test_local_values_are_validated_like_shared_ones(
    client: TestClient, session: Session, world: World
) -> None:
    definition = {
        "key": "k0180.housing",
        "phase": "bakgrund",
        "type": "single",
        "label": {"sv": "Boende", "en": "Housing"},
        "question": {"sv": "Hur bor klienten?", "en": "How does the client live?"},
        "options": [
            {"code": 1, "label": {"sv": "Eget", "en": "Own"}},
            {"code": 2, "label": {"sv": "Skyddat", "en": "Sheltered"}},
        ],
    }
    r = client.post(
        "/api/v1/local-variables",
        json={"definition": definition},
        headers=world.coordinator.headers,
    )
    assert r.status_code == 201, r.text
    h = world.worker.headers
    for value, code in ((3, "unknown_code"), ("1", "wrong_type"), (True, "wrong_type")):
        body = case_body(local_values={"k0180.housing": value})
        rejected(client, session, "POST", API, h, body, "/local_values/k0180.housing", code)
    r = client.post(API, json=case_body(local_values={"k0180.housing": 2}), headers=h)
    assert r.status_code == 201, r.text
    assert r.json()["local_values"] == {"k0180.housing": 2}
