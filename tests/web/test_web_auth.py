"""Sign-in, sessions, sign-out, idle timeout, rate limiting and the password."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx2 import Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.auth import passwords
from app.clock import utcnow
from app.models import AuditEvent, User, WebSession
from app.security.crypto import hash_token
from app.web.auth import COOKIE, IDLE_MINUTES, LOGIN_COOKIE
from tests.factories import make_unit
from tests.web.helpers import (
    PASSWORD,
    audit_actions,
    csrf_of,
    last_audit_id,
    make_person,
    post_form,
    sign_in,
)


def _sessions(session: Session) -> list[WebSession]:
    session.expire_all()
    return list(session.scalars(select(WebSession).order_by(WebSession.created_at)).all())


def _login(web: TestClient, username: str, password: str, **extra: str) -> Response:
    page = web.get("/logga-in")
    data = {"username": username, "password": password, "csrf_token": csrf_of(page.text)}
    return web.post("/logga-in", data={**data, **extra})


def test_sign_in_sets_a_strict_cookie_and_audits(web: TestClient, session: Session) -> None:
    worker = make_person(session, "caseworker", unit=make_unit(session))
    before = last_audit_id(session)
    page = web.get("/logga-in")
    response = web.post(
        "/logga-in",
        data={
            "username": worker.username,
            "password": PASSWORD,
            "csrf_token": csrf_of(page.text),
            "next": "/arenden?status=avslutad",
        },
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/arenden?status=avslutad"
    cookie = next(c for c in response.headers.get_list("set-cookie") if c.startswith(COOKIE))
    lowered = cookie.lower()
    assert "httponly" in lowered
    assert "samesite=strict" in lowered
    assert "secure" in lowered
    token = cookie.split(";")[0].split("=", 1)[1]
    (row,) = _sessions(session)
    assert row.token_hash == hash_token(token)  # only the hash is stored
    assert row.user_id == worker.user.id
    assert audit_actions(session, before) == ["auth.web_login"]
    assert web.get("/arenden").status_code == 200


@pytest.mark.parametrize("who", ["wrong-password", "unknown-user", "deactivated"])
def test_failed_sign_in_is_audited_and_starts_no_session(
    web: TestClient, session: Session, who: str
) -> None:
    worker = make_person(session, "caseworker", unit=make_unit(session))
    username, password = worker.username, PASSWORD
    if who == "wrong-password":
        password = "fel lösenord helt och hållet"
    elif who == "unknown-user":
        username = "finns-inte"
    else:
        worker.user.is_active = False
        session.flush()
    before = last_audit_id(session)
    response = _login(web, username, password)
    assert response.status_code == 401
    assert "Fel användarnamn eller lösenord." in response.text
    assert _sessions(session) == []
    assert audit_actions(session, before) == ["auth.failed"]
    event = session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc())).first()
    assert event is not None
    assert event.outcome == "denied"
    assert event.fields == []
    assert web.get("/arenden").status_code == 303


def test_sign_in_is_rate_limited_per_username(web: TestClient, session: Session) -> None:
    worker = make_person(session, "caseworker", unit=make_unit(session))
    for _ in range(5):
        assert _login(web, worker.username, "gissning gissning").status_code == 401
    response = _login(web, worker.username, PASSWORD)  # even the right password waits
    assert response.status_code == 429
    assert int(response.headers["retry-after"]) > 0
    assert _sessions(session) == []
    assert (
        session.scalar(
            select(func.count()).where(
                AuditEvent.action == "auth.failed", AuditEvent.outcome == "rate_limited"
            )
        )
        == 1
    )


def test_sign_in_form_needs_its_csrf_token(web: TestClient, session: Session) -> None:
    worker = make_person(session, "caseworker", unit=make_unit(session))
    web.get("/logga-in")
    response = web.post(
        "/logga-in",
        data={"username": worker.username, "password": PASSWORD, "csrf_token": "forged"},
    )
    assert response.status_code == 400
    assert _sessions(session) == []
    # Without the login cookie (a cross-site post), the form token alone does not do.
    page = web.get("/logga-in")
    token = csrf_of(page.text)
    web.cookies.delete(LOGIN_COOKIE)
    response = web.post(
        "/logga-in", data={"username": worker.username, "password": PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 400
    assert _sessions(session) == []


def test_no_session_fixation(web: TestClient, session: Session) -> None:
    """A cookie planted before sign-in is never the session after it, and the
    session a browser had is ended when someone signs in on it."""
    worker = make_person(session, "caseworker", unit=make_unit(session))
    web.cookies.set(COOKIE, "planted-by-an-attacker", domain="testserver.local")
    sign_in(web, worker)
    first = web.cookies.get(COOKIE)
    assert first
    assert first != "planted-by-an-attacker"
    other = make_person(session, "caseworker", unit=make_unit(session))
    # Someone else signs in on the same browser (the sign-in form of a shared
    # computer): the first person's session ends.
    web.cookies.set(LOGIN_COOKIE, "form-token", domain="testserver.local")
    response = web.post(
        "/logga-in",
        data={"username": other.username, "password": PASSWORD, "csrf_token": "form-token"},
    )
    assert response.status_code == 303
    second = web.cookies.get(COOKIE)
    assert second
    assert second != first
    rows = _sessions(session)
    assert len(rows) == 2
    assert rows[0].ended_at is not None
    assert rows[1].ended_at is None
    # The old token is dead for whoever kept a copy of it.
    with TestClient(web.app, base_url="https://testserver", follow_redirects=False) as thief:
        thief.cookies.set(COOKIE, first or "", domain="testserver.local")
        assert thief.get("/arenden").status_code == 303


def test_sign_out_ends_the_session(web: TestClient, session: Session) -> None:
    worker = make_person(session, "caseworker", unit=make_unit(session))
    sign_in(web, worker)
    token = web.cookies.get(COOKIE)
    # Without the CSRF token, sign-out is refused (and the session lives on).
    assert web.post("/logga-ut", data={}).status_code == 403
    assert web.get("/arenden").status_code == 200
    response = post_form(web, "/arenden", "/logga-ut", {})
    assert response.status_code == 303
    assert response.headers["location"] == "/logga-in?utloggad=1"
    (row,) = _sessions(session)
    assert row.ended_at is not None
    assert "auth.web_logout" in audit_actions(session)
    with TestClient(web.app, base_url="https://testserver", follow_redirects=False) as again:
        again.cookies.set(COOKIE, token or "", domain="testserver.local")
        response = again.get("/arenden")
        assert response.status_code == 303
        assert response.headers["location"].startswith("/logga-in?next=%2Farenden")


@pytest.mark.parametrize("limit", ["idle", "absolute"])
def test_session_times_out(web: TestClient, session: Session, limit: str) -> None:
    worker = make_person(session, "caseworker", unit=make_unit(session))
    sign_in(web, worker)
    (row,) = _sessions(session)
    if limit == "idle":
        row.last_seen_at = utcnow() - timedelta(minutes=IDLE_MINUTES + 1)
    else:
        row.expires_at = utcnow() - timedelta(seconds=1)
    session.flush()
    response = web.get("/arenden")
    assert response.status_code == 303
    assert response.headers["location"] == "/logga-in?next=%2Farenden&utgangen=1"
    page = web.get(response.headers["location"])
    assert "inte använts på 30 minuter" in page.text


def test_activity_keeps_the_session_alive(web: TestClient, session: Session) -> None:
    worker = make_person(session, "caseworker", unit=make_unit(session))
    sign_in(web, worker)
    (row,) = _sessions(session)
    row.last_seen_at = utcnow() - timedelta(minutes=IDLE_MINUTES - 1)
    session.flush()
    assert web.get("/arenden").status_code == 200
    (row,) = _sessions(session)
    assert row.last_seen_at.replace(tzinfo=None) > (utcnow() - timedelta(minutes=1)).replace(
        tzinfo=None
    )


@pytest.mark.parametrize("role", ["admin", "regional", "national"])
def test_other_roles_use_the_api(web: TestClient, session: Session, role: str) -> None:
    person = make_person(session, role, municipality=None) if role != "regional" else None
    if person is None:
        from tests.factories import make_account

        account = make_account(session, "regional", county="01")
        account.user.password_hash = passwords.hash_password(PASSWORD)
        session.flush()
        username = account.user.username
    else:
        username = person.username
    response = _login(web, username, PASSWORD)
    assert response.status_code == 403
    assert "handläggare och samordnare" in response.text
    assert _sessions(session) == []


@pytest.mark.parametrize(
    "target", ["//evil.example/x", "https://evil.example/", "/\\evil.example", "/logga-in"]
)
def test_no_open_redirect_after_sign_in(web: TestClient, session: Session, target: str) -> None:
    worker = make_person(session, "caseworker", unit=make_unit(session))
    response = _login(web, worker.username, PASSWORD, next=target)
    assert response.status_code == 303
    assert response.headers["location"] == "/arenden"


def test_pages_need_a_session_and_send_protective_headers(
    web: TestClient, session: Session
) -> None:
    response = web.get("/arenden/nytt")
    assert response.status_code == 303
    assert response.headers["location"] == "/logga-in?next=%2Farenden%2Fnytt"
    page = web.get("/logga-in")
    assert page.headers["cache-control"] == "no-store"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["referrer-policy"] == "same-origin"
    assert '<html lang="sv">' in page.text


def test_change_own_password(web: TestClient, session: Session, app: FastAPI) -> None:
    worker = make_person(session, "caseworker", unit=make_unit(session))
    sign_in(web, worker)
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as other:
        sign_in(other, worker)
        short = post_form(
            web,
            "/konto/losenord",
            "/konto/losenord",
            {"current": PASSWORD, "password": "kort", "confirm": "kort"},
        )
        assert short.status_code == 422
        assert "minst 12 tecken" in short.text
        wrong = post_form(
            web,
            "/konto/losenord",
            "/konto/losenord",
            {"current": "inte rätt alls", "password": "x" * 12, "confirm": "x" * 12},
        )
        assert wrong.status_code == 422
        new = "ett helt nytt lösenord"
        done = post_form(
            web,
            "/konto/losenord",
            "/konto/losenord",
            {"current": PASSWORD, "password": new, "confirm": new},
        )
        assert done.status_code == 303
        assert web.get("/arenden").status_code == 200  # this browser stays signed in
        assert other.get("/arenden").status_code == 303  # the other one is signed out
    session.expire_all()
    assert passwords.check_password(worker.user, new)
    assert not passwords.check_password(worker.user, PASSWORD)
    assert "user.password_change" in audit_actions(session)


def test_demo_passwords(session: Session) -> None:
    unit = make_unit(session)
    from app.units.service import create_user

    create_user(
        session,
        username="demo-handlaggare",
        role="caseworker",
        municipality_code="0180",
        unit_id=unit.id,
        county_code=None,
    )
    done = passwords.set_demo_passwords(session)
    assert set(done) == {"demo-handlaggare"}
    user = session.scalar(select(User).where(User.username == "demo-handlaggare"))
    assert user is not None
    assert user.password_hash
    assert user.password_hash.startswith("$argon2id$")
    assert passwords.check_password(user, done["demo-handlaggare"])


def test_cli_gives_the_first_coordinator_a_password(
    fresh_database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from app.config import get_settings
    from app.db import make_engine, make_session_factory, transaction
    from app.units.service import create_user
    from app.web.cli import web_app

    monkeypatch.setenv("ISU_DATABASE_URL", fresh_database_url)
    get_settings.cache_clear()
    engine = make_engine(fresh_database_url)
    try:
        with transaction(make_session_factory(engine)) as s:
            create_user(
                s,
                username="forsta-samordnaren",
                role="coordinator",
                municipality_code="0180",
                unit_id=None,
                county_code=None,
            )
        result = CliRunner().invoke(web_app, ["password", "forsta-samordnaren", "--generate"])
        assert result.exit_code == 0, result.output
        secret = result.output.strip().splitlines()[-1]
        missing = CliRunner().invoke(web_app, ["password", "ingen-alls", "--generate"])
        assert missing.exit_code == 1
        with make_session_factory(engine)() as s:
            user = s.scalar(select(User).where(User.username == "forsta-samordnaren"))
            assert passwords.check_password(user, secret)
            event = s.scalars(select(AuditEvent).order_by(AuditEvent.id.desc())).first()
            assert event is not None
            assert event.action == "user.password_set"
            assert secret not in str(event.fields)
    finally:
        engine.dispose()
        get_settings.cache_clear()
