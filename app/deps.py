"""Annotated dependency aliases for the routers, and the request's transaction.

One short transaction per request: the token check, the idempotency record,
the work, its revision and its audit event all commit together (or not at
all). A read-only API request (GET/HEAD under /api) begins a deferred
transaction, so on SQLite it never waits for a writer, and its audit events
are written after it (:mod:`app.audit.sink`). A request waits for one of a
bounded number of database slots on the event loop, never in a worker thread,
so the connection pool and the thread pool cannot starve each other.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Annotated

import anyio
from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from app.audit.service import DEFERRED, Actor, new_event
from app.audit.sink import AuditSink
from app.auth import limiter
from app.auth.principal import Principal
from app.catalogue.loader import Catalogue
from app.config import Settings
from app.errors import (
    Forbidden,
    IntegrityError,
    ServiceUnavailable,
    TooManyRequests,
    Unauthenticated,
)
from app.models import AuditEvent
from app.security.keyring import Keyring

SLOT_WAIT_SECONDS = 10
READ_METHODS = frozenset({"GET", "HEAD"})
READ_PREFIXES = ("/api/", "/kolada/")
"""The read-only JSON APIs: ``/api/v1`` and the public Kolada-compatible one."""


def is_read_only(request: Request) -> bool:
    """API reads: no write lock, audit written after. Web pages may write (their
    session's last activity), so they run as writes."""
    return request.method in READ_METHODS and request.url.path.startswith(READ_PREFIXES)


def _finish(request: Request, session: Session) -> None:
    """Commit (in the worker thread), then hand over a read's audit events."""
    deferred: list[AuditEvent] | None = session.info.get(DEFERRED)
    try:
        session.commit()
    finally:
        session.close()
    if deferred:
        sink(request).submit(deferred)


def _fail(request: Request, session: Session, exc: BaseException) -> None:
    try:
        session.rollback()
    finally:
        session.close()
    failed_auth = getattr(request.state, "failed_auth", None)
    if failed_auth is not None:  # written after the rollback, so that it stays
        sink(request).submit(*failed_auth)
    if isinstance(exc, IntegrityError):
        # Survives the rollback: stored ciphertext failed its check.
        principal: Principal | None = getattr(request.state, "principal", None)
        event = new_event(
            actor=principal.actor if principal else Actor(None, None, None),
            action="integrity.failed",
            object_type="request",
            outcome="integrity_failure",
            request_id=request_id(request),
        )
        sink(request).submit([event])


async def get_session(request: Request) -> AsyncIterator[Session]:
    """The request's session. Committed when the route returns (before the
    response is sent: ``scope="function"`` below, so a failed commit is a
    problem response, never an already-sent 2xx, ACCEPTANCE C5); rolled back on
    any error."""
    state = request.app.state
    read_only = is_read_only(request)
    if not await state.db_slots.acquire(SLOT_WAIT_SECONDS):
        raise ServiceUnavailable(SLOT_WAIT_SECONDS)
    try:
        factory = state.read_session_factory if read_only else state.session_factory
        session: Session = factory()
        if read_only:
            session.info[DEFERRED] = []
        try:
            yield session
        except BaseException as exc:
            with anyio.CancelScope(shield=True):
                await run_in_threadpool(_fail, request, session, exc)
            raise
        with anyio.CancelScope(shield=True):
            await run_in_threadpool(_finish, request, session)
    finally:
        state.db_slots.release()


SessionDep = Annotated[Session, Depends(get_session, scope="function")]


async def get_settings_dep(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_catalogue(request: Request) -> Catalogue:
    catalogue: Catalogue = request.app.state.catalogue
    return catalogue


async def get_keyring(request: Request) -> Keyring:
    keyring: Keyring = request.app.state.keyring
    return keyring


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
CatalogueDep = Annotated[Catalogue, Depends(get_catalogue)]
KeyringDep = Annotated[Keyring, Depends(get_keyring)]

_bearer = HTTPBearer(auto_error=False, description="Opaque token from `isu users create`.")


def request_id(request: Request) -> str | None:
    rid: str | None = getattr(request.state, "request_id", None)
    return rid


def sink(request: Request) -> AuditSink:
    audit_sink: AuditSink = request.app.state.audit_sink
    return audit_sink


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _authenticate(request: Request, session: Session, token: str | None) -> Principal:
    settings: Settings = request.app.state.settings
    address = client_address(request)
    limit = limiter.Limit(settings.auth_failure_limit, settings.auth_failure_window_seconds)
    found = limiter.check(session, token, address, limit)
    if found.retry_after is not None:
        raise TooManyRequests(
            "För många misslyckade inloggningar. Försök igen senare.",
            "Too many failed authentications. Try again later.",
            headers={"Retry-After": str(found.retry_after)},
        )
    if found.principal is None:
        event = new_event(
            actor=Actor(None, None, None),
            action="auth.failed",
            outcome="denied",
            request_id=request_id(request),
        )
        # Written after the request's transaction is rolled back, so that it stays.
        request.state.failed_auth = ([event], [limiter.failure(address)])
        raise Unauthenticated()
    request.state.principal = found.principal
    return found.principal


def _bearer_token(credentials: HTTPAuthorizationCredentials | None) -> str | None:
    if credentials is not None and credentials.scheme.lower() == "bearer":
        return credentials.credentials
    return None


def get_principal(
    request: Request,
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The caller, checked in the request's own transaction (one statement,
    with the shared limiter). A failure is recorded outside it.

    On SQLite a write request's transaction holds the database-wide write
    lock from its first statement, so there the check runs in a read of its
    own and the lock is taken only when the work starts."""
    token = _bearer_token(credentials)
    if request.app.state.settings.is_sqlite() and not is_read_only(request):
        with request.app.state.read_session_factory() as check_session:
            try:
                return _authenticate(request, check_session, token)
            finally:
                check_session.rollback()
    return _authenticate(request, session, token)


def get_standalone_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The caller, checked in a short read transaction of its own: for the few
    routes that run their own transactions (imports), which must not wait for
    a request transaction holding SQLite's write lock."""
    with request.app.state.read_session_factory() as session:
        try:
            return _authenticate(request, session, _bearer_token(credentials))
        finally:
            session.rollback()
            failed_auth = getattr(request.state, "failed_auth", None)
            if failed_auth is not None:
                sink(request).submit(*failed_auth)


CurrentUser = Annotated[Principal, Depends(get_principal)]


def require_role(*roles: str, standalone: bool = False) -> Callable[[Principal], object]:
    """A dependency: the caller (see :func:`get_standalone_principal` for
    ``standalone``), refused with 403 unless in one of ``roles``."""
    base = get_standalone_principal if standalone else get_principal

    # The dependency as a default: this module's annotations are strings, and
    # FastAPI cannot resolve the local ``base`` from one.
    async def check(principal: Principal = Depends(base)) -> Principal:  # noqa: B008
        if principal.role not in roles:
            raise Forbidden("Din roll får inte göra detta.", "Your role may not do this.")
        return principal

    return check


CaseUser = Annotated[Principal, Depends(require_role("caseworker", "coordinator"))]
CoordinatorUser = Annotated[Principal, Depends(require_role("coordinator"))]
AdminUser = Annotated[Principal, Depends(require_role("admin"))]
