"""Annotated dependency aliases for the routers."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from app.audit.service import Actor, record
from app.auth.principal import Principal
from app.auth.service import FailureLimiter, authenticate
from app.catalogue.loader import Catalogue
from app.config import Settings
from app.db import transaction
from app.errors import Forbidden, IntegrityError, TooManyRequests, Unauthenticated
from app.security.keyring import Keyring


def get_session(request: Request) -> Iterator[Session]:
    """One transaction per request: committed when the route returns, rolled back
    on any error. ``scope="function"`` below makes a failed commit a 500 problem
    instead of an already-sent 2xx (ACCEPTANCE C5)."""
    factory = request.app.state.session_factory
    with factory() as session:
        try:
            yield session
            session.commit()
        except BaseException as exc:
            session.rollback()
            _after_failure(request, exc)
            raise


def _after_failure(request: Request, exc: BaseException) -> None:
    """Work that must survive the request's rollback."""
    idempotency = getattr(request.state, "idempotency", None)
    if idempotency is not None:
        idempotency.release()
    if isinstance(exc, IntegrityError):
        principal: Principal | None = getattr(request.state, "principal", None)
        with transaction(request.app.state.session_factory) as session:
            record(
                session,
                actor=principal.actor if principal else Actor(None, None, None),
                action="integrity.failed",
                object_type="request",
                outcome="integrity_failure",
                request_id=request_id(request),
            )


SessionDep = Annotated[Session, Depends(get_session, scope="function")]


def get_settings_dep(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_catalogue(request: Request) -> Catalogue:
    catalogue: Catalogue = request.app.state.catalogue
    return catalogue


def get_keyring(request: Request) -> Keyring:
    keyring: Keyring = request.app.state.keyring
    return keyring


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
CatalogueDep = Annotated[Catalogue, Depends(get_catalogue)]
KeyringDep = Annotated[Keyring, Depends(get_keyring)]

_bearer = HTTPBearer(auto_error=False, description="Opaque token from `isu users create`.")


def request_id(request: Request) -> str | None:
    rid: str | None = getattr(request.state, "request_id", None)
    return rid


def get_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The caller, checked in a short transaction of its own.

    The request's own transaction has not begun yet: on SQLite, where a write
    transaction holds the database lock, a second connection opened while it
    is held (failed-login audit, idempotency reservation) would wait forever.
    """
    limiter: FailureLimiter = request.app.state.auth_limiter
    client = request.client.host if request.client else "unknown"
    wait = limiter.retry_after(client)
    if wait is not None:
        raise TooManyRequests(
            "För många misslyckade inloggningar. Försök igen senare.",
            "Too many failed authentications. Try again later.",
            headers={"Retry-After": str(wait)},
        )
    principal = None
    if credentials is not None and credentials.scheme.lower() == "bearer":
        with transaction(request.app.state.session_factory) as auth_session:
            principal = authenticate(auth_session, credentials.credentials)
    if principal is None:
        limiter.fail(client)
        # The failure is audited in its own transaction: the request's is rolled back.
        with transaction(request.app.state.session_factory) as audit_session:
            record(
                audit_session,
                actor=Actor(None, None, None),
                action="auth.failed",
                outcome="denied",
                request_id=request_id(request),
            )
        raise Unauthenticated()
    request.state.principal = principal
    return principal


CurrentUser = Annotated[Principal, Depends(get_principal)]


def require_role(*roles: str) -> Callable[[Principal], Principal]:
    def check(principal: CurrentUser) -> Principal:
        if principal.role not in roles:
            raise Forbidden("Din roll får inte göra detta.", "Your role may not do this.")
        return principal

    return check


CaseUser = Annotated[Principal, Depends(require_role("caseworker", "coordinator"))]
CoordinatorUser = Annotated[Principal, Depends(require_role("coordinator"))]
AdminUser = Annotated[Principal, Depends(require_role("admin"))]
