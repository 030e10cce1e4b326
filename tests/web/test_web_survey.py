"""The client survey on one-time links: four languages from the catalogue, no
case data, one use, a short life, unguessable, rate limited."""

from __future__ import annotations

import hashlib
import html
import re
import uuid
from datetime import timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx2 import Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.catalogue.loader import Catalogue
from app.clock import utcnow
from app.models import AuditEvent, Case, SurveyLink, SurveyResponse
from app.web.survey import LINK_MINUTES
from tests.factories import PNR, make_unit
from tests.web.helpers import (
    Person,
    audit_actions,
    counts,
    csrf_for,
    make_person,
    post_form,
    sign_in,
)


@pytest.fixture
def worker(session: Session) -> Person:
    return make_person(session, "caseworker", unit=make_unit(session))


def _closed_case(web: TestClient, worker: Person) -> str:
    sign_in(web, worker)
    created = post_form(
        web,
        "/arenden/nytt",
        "/arenden/nytt",
        {"client_id": PNR, "actualised_on": "2025-03-01", "caseworker_ref": "REF-HEMLIG"},
    )
    case_id = created.headers["location"].split("?")[0].rsplit("/", 1)[1]
    closed = post_form(
        web,
        f"/arenden/{case_id}/fas/efter",
        f"/arenden/{case_id}/avsluta",
        {"version": "1", "closed_on": "2025-06-01", "values/closing_reason": "1"},
    )
    assert closed.status_code == 303, closed.text
    return case_id


def _link(web: TestClient, case_id: str, mode: str = "4") -> str:
    response = post_form(
        web, f"/arenden/{case_id}/fas/brukarenkat", f"/arenden/{case_id}/enkat/lank", {"mode": mode}
    )
    assert response.status_code == 200, response.text
    found = re.search(r'id="survey-url" value="https://testserver(/enkat/[^"]+)"', response.text)
    assert found is not None
    return found.group(1)


def _answer(client: TestClient, link: str, lang: str, **answers: str) -> Response:
    return client.post(f"{link}/{lang}", data=answers)


@pytest.fixture
def client(app: FastAPI) -> TestClient:
    """The client's own browser: no session of anyone."""
    return TestClient(
        app, base_url="https://testserver", follow_redirects=False, raise_server_exceptions=False
    )


def test_link_is_random_stored_hashed_and_audited(
    web: TestClient, worker: Person, session: Session
) -> None:
    case_id = _closed_case(web, worker)
    link = _link(web, case_id)
    token = link.rsplit("/", 1)[1]
    assert len(token) >= 43  # 256 random bits, URL-safe base64
    row = session.scalars(select(SurveyLink)).one()
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in row.token_hash
    expires = (
        row.expires_at if row.expires_at.tzinfo else row.expires_at.replace(tzinfo=utcnow().tzinfo)
    )
    assert (
        timedelta(minutes=LINK_MINUTES - 1) < expires - utcnow() <= timedelta(minutes=LINK_MINUTES)
    )
    event = session.scalars(
        select(AuditEvent).where(AuditEvent.action == "survey_link.create")
    ).one()
    assert token not in str(event.fields)
    assert event.object_id == str(row.id)


def test_link_needs_a_closed_case_without_answers(
    web: TestClient, worker: Person, session: Session
) -> None:
    sign_in(web, worker)
    created = post_form(
        web, "/arenden/nytt", "/arenden/nytt", {"client_id": PNR, "actualised_on": "2025-03-01"}
    )
    case_id = created.headers["location"].split("?")[0].rsplit("/", 1)[1]
    response = post_form(
        web, f"/arenden/{case_id}", f"/arenden/{case_id}/enkat/lank", {"mode": "4"}
    )
    assert response.status_code == 422
    assert "när ärendet är avslutat" in response.text
    assert session.scalars(select(SurveyLink)).all() == []


def test_client_answers_in_arabic_once(
    web: TestClient, worker: Person, session: Session, client: TestClient, app: FastAPI
) -> None:
    case_id = _closed_case(web, worker)
    link = _link(web, case_id, mode="2")
    start = client.get(link)
    assert start.status_code == 200
    for lang in ("sv", "en", "ar", "so"):
        assert f'href="{link}/{lang}"' in start.text
    form = client.get(f"{link}/ar")
    assert form.status_code == 200
    assert '<html lang="ar" dir="rtl">' in form.text
    catalogue: Catalogue = app.state.catalogue
    for variable in catalogue.group_variables("survey"):
        assert variable.survey_question is not None
        assert html.escape(variable.survey_question.ar or "-") in form.text
        for option in variable.options:
            assert html.escape(option.label.ar or "-") in form.text
    # Nothing of the case: no reference, dates, unit or caseworker.
    for secret in ("REF-HEMLIG", "2025-03-01", "2025-06-01", worker.username, case_id):
        assert secret not in start.text
        assert secret not in form.text
    response = _answer(
        client,
        link,
        "ar",
        survey_violence_change="1",
        survey_support_importance="4",
        survey_positive="1",
        survey_suggestions="اقتراح",
        **{"comments/survey_positive": "تعليق"},
    )
    assert response.status_code == 200
    assert "شكرًا على إجاباتك" in response.text
    session.expire_all()
    survey = session.scalars(select(SurveyResponse)).one()
    assert (survey.language_code, survey.mode_code) == (3, 2)
    assert survey.values == {
        "survey_violence_change": 1,
        "survey_support_importance": 4,
        "survey_positive": 1,
    }
    assert "اقتراح".encode() not in (survey.text_ciphertext or b"")
    case = session.get(Case, uuid.UUID(case_id))
    assert case is not None
    assert case.status == "brukarenkat_genomford"
    assert audit_actions(session)[-2:] == ["survey.put", "survey_link.answer"]
    # The link is dead: reading and posting again are refused, nothing changes.
    before = counts(session)
    again = client.get(link)
    assert again.status_code == 410
    assert "Länken är redan använd" in again.text
    repost = _answer(client, link, "sv", survey_violence_change="5")
    assert repost.status_code == 410
    assert counts(session) == before
    session.expire_all()
    assert session.scalars(select(SurveyResponse)).one().values["survey_violence_change"] == 1
    # The caseworker sees the answers on the case.
    page = web.get(f"/arenden/{case_id}/fas/brukarenkat").text
    assert "Brukarenkäten är besvarad" in page
    assert "Arabiska" in page
    # The history says the client answered, not the caseworker who opened the link.
    history = web.get(f"/arenden/{case_id}/historik").text
    row = re.search(r"<tr>(?:(?!</tr>).)*Brukarenkät besvarad av klienten.*?</tr>", history, re.S)
    assert row is not None
    assert "Klienten (via enkätlänken)" in row.group(0)
    assert worker.username not in row.group(0)


def test_expired_link(
    web: TestClient, worker: Person, session: Session, client: TestClient
) -> None:
    case_id = _closed_case(web, worker)
    link = _link(web, case_id)
    row = session.scalars(select(SurveyLink)).one()
    row.expires_at = utcnow() - timedelta(seconds=1)
    session.flush()
    response = client.get(link)
    assert response.status_code == 410
    assert "Länken har gått ut" in response.text
    before = counts(session)
    posted = _answer(client, link, "sv", survey_violence_change="1")
    assert posted.status_code == 410
    assert counts(session) == before
    assert session.scalars(select(SurveyResponse)).all() == []


def test_a_new_link_replaces_the_old_one(
    web: TestClient, worker: Person, client: TestClient
) -> None:
    case_id = _closed_case(web, worker)
    first = _link(web, case_id)
    second = _link(web, case_id)
    assert first != second
    assert client.get(first).status_code == 410
    assert "Länken gäller inte längre" in client.get(first).text
    assert client.get(second).status_code == 200


def test_answers_by_phone_kill_the_link(
    web: TestClient, worker: Person, client: TestClient, session: Session
) -> None:
    case_id = _closed_case(web, worker)
    link = _link(web, case_id)
    case = session.get(Case, uuid.UUID(case_id))
    assert case is not None
    session.refresh(case)
    response = post_form(
        web,
        f"/arenden/{case_id}/fas/brukarenkat",
        f"/arenden/{case_id}/enkat",
        {
            "version": str(case.version),
            "answered_on": "2025-06-02",
            "language": "1",
            "mode": "1",
            "survey_positive": "1",
        },
    )
    assert response.status_code == 303
    assert client.get(link).status_code == 410


def test_guessing_is_refused_and_rate_limited(
    web: TestClient, worker: Person, client: TestClient, session: Session
) -> None:
    case_id = _closed_case(web, worker)
    link = _link(web, case_id)
    guess = client.get("/enkat/" + "A" * 43)
    assert guess.status_code == 404
    assert "Länken finns inte" in guess.text
    for _ in range(19):
        assert client.get(f"/enkat/{uuid.uuid4().hex}").status_code == 404
    limited = client.get(link)  # even the right link waits now
    assert limited.status_code == 429
    assert int(limited.headers["retry-after"]) > 0
    before = counts(session)
    assert _answer(client, link, "sv", survey_positive="1").status_code == 429
    assert counts(session) == before


def test_empty_or_invalid_answers_keep_the_link(
    web: TestClient, worker: Person, client: TestClient, session: Session
) -> None:
    case_id = _closed_case(web, worker)
    link = _link(web, case_id)
    before = counts(session)
    empty = _answer(client, link, "so")
    assert empty.status_code == 422
    assert "Ka jawaab ugu yaraan hal su'aal" in html.unescape(empty.text)
    invalid = _answer(client, link, "en", survey_violence_change="99")
    assert invalid.status_code == 422
    assert "Choose one of the options." in invalid.text
    assert counts(session) == before
    assert client.get(link).status_code == 200


def test_a_question_not_asked_is_dropped(
    web: TestClient, worker: Person, client: TestClient, session: Session
) -> None:
    """203 is asked only after an improvement in 202 (catalogue skip logic)."""
    case_id = _closed_case(web, worker)
    link = _link(web, case_id)
    page = client.get(f"{link}/sv").text
    assert 'data-applies-when="survey_violence_change" data-applies-values="1,2"' in page
    response = _answer(
        client, link, "sv", survey_violence_change="3", survey_support_importance="5"
    )
    assert response.status_code == 200
    session.expire_all()
    assert session.scalars(select(SurveyResponse)).one().values == {"survey_violence_change": 3}


def test_no_link_for_another_units_case(
    web: TestClient, worker: Person, session: Session, app: FastAPI
) -> None:
    case_id = _closed_case(web, worker)
    other = make_person(session, "caseworker", unit=make_unit(session))
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as b:
        sign_in(b, other)
        token = csrf_for(b, "/arenden")
        response = b.post(f"/arenden/{case_id}/enkat/lank", data={"mode": "4", "csrf_token": token})
        assert response.status_code == 404
    assert session.scalars(select(SurveyLink)).all() == []
