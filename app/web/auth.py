"""Sign-in, browser sessions and CSRF for the web interface.

* A session is a row in ``web_sessions``; the cookie holds a random 256-bit
  token whose SHA-256 is the row's key. Every sign-in makes a new session and
  a new token, whatever cookie the browser had (no session fixation), and ends
  the one the browser presented.
* The cookie is HttpOnly, SameSite=Strict, Path=/ and Secure (except over
  plain HTTP to a loopback address, the developer's own machine).
* A session ends at sign-out, after ``IDLE_MINUTES`` without a request, after
  ``ABSOLUTE_HOURS`` in all, or when the user is deactivated or loses the web
  password. Every form carries the session's CSRF token (synchroniser token);
  the sign-in form, before there is a session, a double-submit token.
* Failed sign-ins are audited (``auth.failed``) and rate limited per client
  address and per username.

Only caseworkers and coordinators use the web interface; the principal is
built exactly as for a bearer token, so the services see the same roles and
scopes as through the API.
"""

from __future__ import annotations

import hmac
import ipaddress
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from fastapi import Request
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.audit.service import Actor, record
from app.auth.passwords import check_password, refresh_hash
from app.auth.principal import Principal
from app.auth.service import FailureLimiter
from app.clock import utcnow
from app.models import User, WebSession
from app.security.crypto import hash_token

COOKIE = "isu_session"
LOGIN_COOKIE = "isu_login"
"""Double-submit CSRF token of the sign-in form (there is no session yet)."""
IDLE_MINUTES = 30
ABSOLUTE_HOURS = 10
TOUCH_AFTER = timedelta(seconds=60)
"""``last_seen_at`` is written at most once a minute per session."""
WEB_ROLES = ("caseworker", "coordinator")


def aware(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; every stored time is UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=utcnow().tzinfo)


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def cookie_secure(request: Request) -> bool:
    """Secure, unless the request is plain HTTP to a loopback host (dev)."""
    if request.url.scheme == "https":
        return True
    host = (request.url.hostname or "").strip("[]")
    if host == "localhost":
        return False
    try:
        return not ipaddress.ip_address(host).is_loopback
    except ValueError:
        return True


def set_cookie(request: Request, response: Response, name: str, value: str, max_age: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/",
        secure=cookie_secure(request),
        httponly=True,
        samesite="strict",
    )


def clear_cookie(request: Request, response: Response, name: str) -> None:
    response.delete_cookie(
        name, path="/", secure=cookie_secure(request), httponly=True, samesite="strict"
    )


def tokens_match(given: str | None, expected: str | None) -> bool:
    if not given or not expected:
        return False
    return hmac.compare_digest(given.encode(), expected.encode())


@dataclass(frozen=True)
class WebUser:
    """The signed-in person of one request."""

    principal: Principal
    username: str
    session_id: uuid.UUID
    csrf_token: str


def principal_of(user: User) -> Principal:
    return Principal(
        user_id=user.id,
        role=user.role,
        municipality_code=user.municipality_code,
        county_code=user.county_code,
        unit_id=user.unit_id,
    )


def resolve(session: Session, token: str | None) -> WebUser | None:
    """The live session of ``token``, moved forward; None if there is none."""
    if not token:
        return None
    row = session.execute(
        select(WebSession, User)
        .join(User, User.id == WebSession.user_id)
        .where(WebSession.token_hash == hash_token(token))
    ).first()
    if row is None:
        return None
    web_session, user = row
    now = utcnow()
    idle_end = aware(web_session.last_seen_at) + timedelta(minutes=IDLE_MINUTES)
    if (
        web_session.ended_at is not None
        or aware(web_session.expires_at) <= now
        or idle_end <= now
        or not user.is_active
        or not user.password_hash
        or user.role not in WEB_ROLES
    ):
        return None
    if now - aware(web_session.last_seen_at) >= TOUCH_AFTER:
        web_session.last_seen_at = now
    return WebUser(principal_of(user), user.username, web_session.id, web_session.csrf_token)


@dataclass(frozen=True)
class SignInResult:
    web_user: WebUser | None
    token: str | None
    reason: str | None
    """``credentials``, ``role`` or None on success."""


def sign_in(
    session: Session,
    username: str,
    password: str,
    *,
    previous_token: str | None,
    request_id: str | None,
) -> SignInResult:
    """Check the password; on success end the browser's old session (if any)
    and start a new one. Audits the outcome either way (never the username)."""
    user = session.scalar(select(User).where(User.username == username))
    valid = check_password(user, password) and user is not None and user.is_active
    if not valid or user is None:
        record(
            session,
            actor=Actor(None, None, None),
            action="auth.failed",
            object_type="user" if user is not None else "web_login",
            object_id=user.id if user is not None else None,
            municipality_code=user.municipality_code if user is not None else None,
            outcome="denied",
            request_id=request_id,
        )
        return SignInResult(None, None, "credentials")
    principal = principal_of(user)
    if user.role not in WEB_ROLES:
        record(
            session,
            actor=principal.actor,
            action="auth.web_login",
            object_type="user",
            object_id=user.id,
            outcome="denied",
            request_id=request_id,
        )
        return SignInResult(None, None, "role")
    refresh_hash(user, password)
    if previous_token:
        end_session(session, previous_token)
    token = secrets.token_urlsafe(32)
    now = utcnow()
    web_session = WebSession(
        id=uuid.uuid4(),
        user_id=user.id,
        token_hash=hash_token(token),
        csrf_token=secrets.token_urlsafe(32),
        created_at=now,
        last_seen_at=now,
        expires_at=now + timedelta(hours=ABSOLUTE_HOURS),
    )
    session.add(web_session)
    session.flush()
    record(
        session,
        actor=principal.actor,
        action="auth.web_login",
        object_type="web_session",
        object_id=web_session.id,
        request_id=request_id,
    )
    web_user = WebUser(principal, user.username, web_session.id, web_session.csrf_token)
    return SignInResult(web_user, token, None)


def end_session(session: Session, token: str) -> uuid.UUID | None:
    """End the session of ``token`` (sign-out); returns its id if it was live."""
    web_session = session.scalar(
        select(WebSession).where(WebSession.token_hash == hash_token(token))
    )
    if web_session is None or web_session.ended_at is not None:
        return None
    web_session.ended_at = utcnow()
    session.flush()
    return web_session.id


class SignInLimiter:
    """Failed sign-ins per client address and per username (sliding window).

    In process memory, like the API's limiter: a brake on password guessing;
    the audit log keeps every failure.
    """

    def __init__(self, per_client: int, per_user: int, window_seconds: int) -> None:
        self.clients = FailureLimiter(per_client, window_seconds)
        self.users = FailureLimiter(per_user, window_seconds)

    def retry_after(self, client: str, username: str) -> int | None:
        waits = [
            w
            for w in (
                self.clients.retry_after(client),
                self.users.retry_after(username.lower()),
            )
            if w is not None
        ]
        return max(waits) if waits else None

    def fail(self, client: str, username: str) -> None:
        self.clients.fail(client)
        self.users.fail(username.lower())
