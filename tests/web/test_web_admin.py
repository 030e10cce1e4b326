"""Coordinator pages: data quality, local variables, users and tokens, export."""

from __future__ import annotations

import re
import zipfile
from io import BytesIO

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth import passwords
from app.auth.service import authenticate
from app.models import AuditEvent, LocalVariableDefinition, User, WebSession
from tests.factories import PNR, make_unit
from tests.web.helpers import (
    Person,
    audit_actions,
    counts,
    csrf_for,
    last_audit_id,
    make_person,
    post_form,
    sign_in,
)

COORDINATOR_PAGES = ("/lokala-variabler", "/anvandare", "/export")


@pytest.fixture
def coordinator(session: Session) -> Person:
    return make_person(session, "coordinator", municipality="0180")


def _case(web: TestClient, unit_id: str, ref: str = "R-1") -> str:
    response = post_form(
        web,
        "/arenden/nytt",
        "/arenden/nytt",
        {
            "unit_id": unit_id,
            "client_id": PNR,
            "actualised_on": "2025-03-01",
            "caseworker_ref": ref,
        },
    )
    assert response.status_code == 303, response.text
    return response.headers["location"].split("?")[0].rsplit("/", 1)[1]


def test_caseworkers_do_not_get_coordinator_pages(web: TestClient, session: Session) -> None:
    worker = make_person(session, "caseworker", unit=make_unit(session))
    sign_in(web, worker)
    for path in (*COORDINATOR_PAGES, "/export/sammanstallning?fran=2025-01-01&till=2025-12-31"):
        response = web.get(path)
        assert response.status_code == 403, path
        assert "Behörighet saknas" in response.text
    assert 'href="/anvandare"' not in web.get("/arenden").text


def test_quality_report_links_to_cases_lacking_a_value(
    web: TestClient, session: Session, coordinator: Person
) -> None:
    unit = make_unit(session)
    sign_in(web, coordinator)
    case_id = _case(web, str(unit.id))
    before = last_audit_id(session)
    page = web.get("/datakvalitet")
    assert page.status_code == 200
    assert "Trattmodellen" in page.text
    link = re.search(r'href="(/datakvalitet/saknas\?variabel=sex[^"]*)"', page.text)
    assert link is not None
    lacking = web.get(link.group(1).replace("&amp;", "&"))
    assert lacking.status_code == 200
    assert f'href="/arenden/{case_id}/fas/bakgrund"' in lacking.text
    assert audit_actions(session, before) == ["quality.report", "quality.cases"]
    # A unit of another municipality is not there to filter by.
    other = make_unit(session, "1480")
    assert web.get(f"/datakvalitet?unit={other.id}").status_code == 404


def test_define_and_retire_a_local_variable(
    web: TestClient, session: Session, coordinator: Person
) -> None:
    sign_in(web, coordinator)
    data = {
        "name": "boende",
        "type": "single",
        "phase": "bakgrund",
        "label_sv": "Boendesituation",
        "label_en": "Housing",
        "question_sv": "Hur bor klienten?",
        "question_en": "How does the client live?",
        "options": "Eget boende | Own home\nSkyddat boende | Sheltered housing\n!Vet ej | Don't know",
    }
    bad = post_form(web, "/lokala-variabler", "/lokala-variabler", {**data, "name": "Boende!"})
    assert bad.status_code == 422
    assert 'id="f-name-error"' in bad.text
    assert "Hur bor klienten?" in bad.text  # kept
    assert session.scalars(select(LocalVariableDefinition)).all() == []
    done = post_form(web, "/lokala-variabler", "/lokala-variabler", data)
    assert done.status_code == 303, done.text
    row = session.scalars(select(LocalVariableDefinition)).one()
    assert row.key == "k0180.boende"
    assert [o["label"]["sv"] for o in row.definition["options"]] == [
        "Eget boende",
        "Skyddat boende",
        "Vet ej",
    ]
    assert row.definition["options"][2]["exclusive"] is True
    # Keys are never reused.
    again = post_form(web, "/lokala-variabler", "/lokala-variabler", data)
    assert again.status_code == 422
    assert "nycklar återanvänds aldrig" in again.text
    retired = post_form(web, "/lokala-variabler", f"/lokala-variabler/{row.id}/avregistrera", {})
    assert retired.status_code == 303
    session.refresh(row)
    assert row.is_retired


def test_users_passwords_and_tokens(
    web: TestClient, session: Session, coordinator: Person, app: FastAPI
) -> None:
    unit = make_unit(session)
    sign_in(web, coordinator)
    created = post_form(
        web,
        "/anvandare",
        "/anvandare",
        {"username": "ny-handlaggare", "role": "caseworker", "unit_id": str(unit.id)},
    )
    assert created.status_code == 200
    password = re.search(
        r"Tillfälligt lösenord.*?<code data-secret>([^<]+)</code>", created.text, re.S
    )
    token = re.search(
        r"Token \(API\).*?<code data-secret class=\"token\">([^<]+)</code>", created.text, re.S
    )
    assert password is not None
    assert token is not None
    user = session.scalars(select(User).where(User.username == "ny-handlaggare")).one()
    assert user.password_hash is not None
    assert password.group(1) not in user.password_hash
    assert authenticate(session, token.group(1)) is not None
    assert {"user.create", "user.password_set"} <= set(audit_actions(session))
    # The new person signs in with the temporary password.
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as new:
        person = Person(user, user.username, password.group(1), token.group(1))
        sign_in(new, person)
        # A reset gives a new password and signs the person out.
        reset = post_form(web, "/anvandare", f"/anvandare/{user.id}/losenord", {})
        assert reset.status_code == 200
        assert new.get("/arenden").status_code == 303
    session.expire_all()
    assert not passwords.check_password(user, password.group(1))
    # Deactivation revokes tokens and ends sessions.
    off = post_form(web, "/anvandare", f"/anvandare/{user.id}/sparra", {"deactivate": "1"})
    assert off.status_code == 303
    session.expire_all()
    assert not user.is_active
    assert authenticate(session, token.group(1)) is None
    assert all(
        s.ended_at is not None
        for s in session.scalars(select(WebSession).where(WebSession.user_id == user.id))
    )


def test_users_of_another_municipality_are_not_found(
    web: TestClient, session: Session, coordinator: Person
) -> None:
    stranger = make_person(session, "caseworker", unit=make_unit(session, "1480"))
    sign_in(web, coordinator)
    assert stranger.username not in web.get("/anvandare").text
    token = csrf_for(web, "/anvandare")
    before = counts(session)
    for action in ("losenord", "token", "sparra"):
        response = web.post(
            f"/anvandare/{stranger.user.id}/{action}",
            data={"csrf_token": token, "deactivate": "1"},
        )
        assert response.status_code == 404, action
    assert counts(session) == before
    session.refresh(stranger.user)
    assert stranger.user.is_active
    assert passwords.check_password(stranger.user, stranger.password)
    # A coordinator creates users only in the own municipality.
    other_unit = make_unit(session, "1480")
    refused = post_form(
        web,
        "/anvandare",
        "/anvandare",
        {"username": "intrang", "role": "caseworker", "unit_id": str(other_unit.id)},
    )
    assert refused.status_code == 422
    assert session.scalars(select(User).where(User.username == "intrang")).all() == []


def test_export_downloads_the_summary(
    web: TestClient, session: Session, coordinator: Person
) -> None:
    unit = make_unit(session)
    sign_in(web, coordinator)
    _case(web, str(unit.id))
    page = web.get("/export")
    assert page.status_code == 200
    before = last_audit_id(session)
    response = web.get("/export/sammanstallning?fran=2025-01-01&till=2025-12-31&format=xlsx")
    assert response.status_code == 200, response.text[:500]
    assert response.headers["content-disposition"] == (
        'attachment; filename="isu-sammanstallning-2025-01-01-2025-12-31.xlsx"'
    )
    assert zipfile.is_zipfile(BytesIO(response.content))
    assert audit_actions(session, before) == ["export.summary"]
    event = session.scalars(select(AuditEvent).where(AuditEvent.id > before)).one()
    assert event.actor_user_id == coordinator.user.id
    bad = web.get("/export/sammanstallning?fran=2025-13-01&till=2025-12-31&format=xlsx")
    assert bad.status_code == 422
    assert "Ange ett datum" in bad.text


def test_export_downloads_kolada_and_the_skr_package(
    web: TestClient, session: Session, coordinator: Person
) -> None:
    unit = make_unit(session)
    sign_in(web, coordinator)
    _case(web, str(unit.id))
    before = last_audit_id(session)
    kolada = web.get("/export/kolada?ar=2025&format=csv")
    assert kolada.status_code == 200, kolada.text[:500]
    assert kolada.headers["content-disposition"] == 'attachment; filename="kolada-2025.csv"'
    assert "U30750" in kolada.text
    token = csrf_for(web, "/export")
    package = web.post("/export/skr", data={"period": "2025", "csrf_token": token})
    assert package.status_code == 200, package.text[:500]
    assert re.fullmatch(
        r'attachment; filename="skr-0180-2025-[0-9a-f]{8}\.zip"',
        package.headers["content-disposition"],
    )
    names = zipfile.ZipFile(BytesIO(package.content)).namelist()
    assert any("manifest" in n for n in names)
    assert PNR.encode() not in package.content
    assert audit_actions(session, before) == ["export.kolada", "export.skr"]
    bad = web.post("/export/skr", data={"period": "tjugo", "csrf_token": token})
    assert bad.status_code == 422
