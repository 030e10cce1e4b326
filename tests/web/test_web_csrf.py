"""Every form post of the web interface needs the session's CSRF token and,
when the browser names one, this site's origin. Found by walking the routes,
so a new form cannot be added without the check."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import WebSession
from app.web.rendering import WebRoute
from tests.factories import make_unit
from tests.web.helpers import counts, csrf_for, make_person, post_form, sign_in

PUBLIC_POSTS = ("/logga-in", "/enkat/")
"""The sign-in form (double-submit token, tests/web/test_web_auth.py) and the
client survey (the one-time token in the address is the secret)."""


def _routes(routes: list[Any]) -> Iterator[Any]:
    """Every route, also inside included routers (the web's are included
    without a prefix)."""
    for route in routes:
        inner = getattr(route, "original_router", None)
        if inner is not None:
            yield from _routes(inner.routes)
        else:
            yield route


def _post_routes(app: FastAPI) -> list[str]:
    paths = []
    for route in _routes(app.routes):
        if (
            isinstance(route, WebRoute)
            and "POST" in (route.methods or set())
            and not route.path.startswith(PUBLIC_POSTS)
        ):
            paths.append(route.path)
    return sorted(set(paths))


def test_the_web_has_forms(app: FastAPI) -> None:
    paths = _post_routes(app)
    assert "/arenden/nytt" in paths
    assert "/arenden/{case_id}/avsluta" in paths
    assert "/anvandare" in paths
    assert len(paths) >= 15


@pytest.mark.parametrize("attack", ["no-token", "wrong-token", "other-session", "other-origin"])
def test_every_post_checks_csrf(
    web: TestClient, session: Session, app: FastAPI, attack: str
) -> None:
    unit = make_unit(session)
    coordinator = make_person(session, "coordinator", municipality="0180")
    worker = make_person(session, "caseworker", unit=unit)
    sign_in(web, coordinator)
    created = post_form(
        web,
        "/arenden/nytt",
        "/arenden/nytt",
        {"unit_id": str(unit.id), "client_id": "19121212-1212", "actualised_on": "2025-03-01"},
    )
    assert created.status_code == 303
    case_id = created.headers["location"].split("?")[0].rsplit("/", 1)[1]
    token = csrf_for(web, "/arenden")
    if attack == "other-session":
        with TestClient(app, base_url="https://testserver", follow_redirects=False) as other:
            sign_in(other, worker)
            token = csrf_for(other, "/arenden")
    before = counts(session)
    live_sessions = session.scalar(
        select(func.count()).select_from(WebSession).where(WebSession.ended_at.is_(None))
    )
    for path in _post_routes(app):
        url = re.sub(r"\{case_id\}", case_id, path)
        url = re.sub(r"\{[a-z_]+\}", str(uuid.uuid4()), url)
        data: dict[str, str] = {
            "version": "1",
            "values/sex": "2",
            "closed_on": "2025-04-01",
            "reason": "duplicate",
            "client_id": "19121212-1212",
            "actualised_on": "2025-03-01",
            "unit_id": str(unit.id),
            "username": "ny-person",
            "role": "caseworker",
        }
        headers = {}
        if attack == "wrong-token":
            data["csrf_token"] = "x" * 43
        elif attack in ("other-session", "other-origin"):
            data["csrf_token"] = token
        if attack == "other-origin":
            headers["Origin"] = "https://evil.example"
        response = web.post(url, data=data, headers=headers)
        assert response.status_code == 403, (path, response.status_code)
        assert "säkerhetskontroll" in response.text
    assert counts(session) == before
    session.expire_all()
    assert (
        session.scalar(
            select(func.count()).select_from(WebSession).where(WebSession.ended_at.is_(None))
        )
        == live_sessions
    )


def test_same_origin_post_with_token_passes(web: TestClient, session: Session) -> None:
    worker = make_person(session, "caseworker", unit=make_unit(session))
    sign_in(web, worker)
    token = csrf_for(web, "/arenden/nytt")
    response = web.post(
        "/arenden/nytt",
        data={"client_id": "19121212-1212", "actualised_on": "2025-03-01", "csrf_token": token},
        headers={"Origin": "https://testserver"},
    )
    assert response.status_code == 303
