"""Helpers of the web tests: accounts with passwords, signing in, CSRF tokens."""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass

from fastapi.testclient import TestClient
from httpx2 import Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.auth.passwords import hash_password
from app.models import AuditEvent, Case, CaseRevision, Unit, User
from tests.factories import make_account

PASSWORD = "ett långt lösenord 123"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass(frozen=True)
class Person:
    user: User
    username: str
    password: str
    token: str


def make_person(
    session: Session, role: str, *, unit: Unit | None = None, municipality: str | None = None
) -> Person:
    account = make_account(session, role, unit=unit, municipality=municipality)
    account.user.password_hash = hash_password(PASSWORD)
    session.flush()
    return Person(account.user, account.user.username, PASSWORD, account.token)


def csrf_of(html: str) -> str:
    found = _CSRF.search(html)
    assert found is not None, "no CSRF token on the page"
    return found.group(1)


def sign_in(client: TestClient, person: Person, *, next_url: str = "/arenden") -> None:
    page = client.get("/logga-in")
    assert page.status_code == 200
    response = client.post(
        "/logga-in",
        data={
            "username": person.username,
            "password": person.password,
            "csrf_token": csrf_of(page.text),
            "next": next_url,
        },
    )
    assert response.status_code == 303, response.text
    assert response.headers["location"] == next_url


def csrf_for(client: TestClient, page_path: str) -> str:
    page = client.get(page_path)
    assert page.status_code == 200, page.text
    return csrf_of(page.text)


def post_form(
    client: TestClient, page_path: str, action: str, data: Mapping[str, object]
) -> Response:
    """Post ``data`` to ``action`` with the CSRF token of the page at ``page_path``."""
    page = client.get(page_path)
    assert page.status_code == 200, page.text
    return client.post(action, data={**data, "csrf_token": csrf_of(page.text)})


def counts(session: Session) -> dict[str, int]:
    """Rows that a rejected request must not change."""
    session.expire_all()
    return {
        "cases": session.scalar(select(func.count(Case.id))) or 0,
        "revisions": session.scalar(select(func.count(CaseRevision.id))) or 0,
        "audit": session.scalar(select(func.count(AuditEvent.id))) or 0,
    }


def audit_actions(session: Session, since: int = 0) -> list[str]:
    session.expire_all()
    return list(
        session.scalars(
            select(AuditEvent.action).where(AuditEvent.id > since).order_by(AuditEvent.id)
        ).all()
    )


def last_audit_id(session: Session) -> int:
    session.expire_all()
    return session.scalar(select(func.max(AuditEvent.id))) or 0


def random_id() -> uuid.UUID:
    return uuid.uuid4()
