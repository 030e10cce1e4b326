"""NUL in the web sign-in or a page's query is 422, never 500 (issue 10)."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import WebSession
from tests.factories import make_unit
from tests.web.helpers import Person, make_person, sign_in


def test_nul_in_the_web_sign_in_and_case_list_is_422(web: TestClient, session: Session) -> None:
    person: Person = make_person(session, "caseworker", unit=make_unit(session, "0180"))
    before = session.scalar(select(func.count(WebSession.id)))
    r = web.post(
        "/logga-in", data={"username": f"{person.username}\x00", "password": person.password}
    )
    assert r.status_code == 422, r.text
    assert [e["pointer"] for e in r.json()["errors"]] == ["/form/username"]
    assert session.scalar(select(func.count(WebSession.id))) == before
    sign_in(web, person)
    r = web.get("/arenden?ref=%00")
    assert r.status_code == 422, r.text
    assert [e["pointer"] for e in r.json()["errors"]] == ["/query/ref"]
