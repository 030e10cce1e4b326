"""The brake on token guessing, shared by every worker: failed authentications
per client address and window, in the database (``auth_failures``).

The check rides on the token lookup (one statement); a failure is written
outside the request's transaction (:mod:`app.audit.sink`). Rows older than the
window are purged (:func:`purge`), so the table is bounded by the failure rate
times the window, never by how many addresses were ever seen.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, literal, select
from sqlalchemy.orm import Session

from app.auth.principal import Principal
from app.clock import utcnow
from app.models import ApiToken, AuthFailure, User
from app.security.crypto import hash_token


@dataclass(frozen=True)
class Limit:
    failures: int
    window_seconds: int

    @property
    def window(self) -> timedelta:
        return timedelta(seconds=self.window_seconds)


def client_hash(address: str) -> str:
    """The address is never stored; its hash is enough to count by."""
    return hashlib.sha256(b"isu-auth-client:" + address.encode()).hexdigest()


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=utcnow().tzinfo)


@dataclass(frozen=True)
class Check:
    principal: Principal | None
    retry_after: int | None
    """Seconds to wait when the client is over the limit (then ``principal`` is None)."""


def check(session: Session, token: str | None, address: str, limit: Limit) -> Check:
    """The caller of ``token`` from ``address``, unless the address is over the
    limit; one statement either way."""
    now = utcnow()
    recent = (
        AuthFailure.client_hash == client_hash(address),
        AuthFailure.failed_at > now - limit.window,
    )
    count = select(func.count()).where(*recent).scalar_subquery()
    oldest = select(func.min(AuthFailure.failed_at)).where(*recent).scalar_subquery()
    one = select(literal(1).label("one")).subquery("one")
    query = select(count, oldest, ApiToken, User).select_from(one)
    query = query.outerjoin(ApiToken, ApiToken.token_hash == hash_token(token or ""))
    query = query.outerjoin(User, User.id == ApiToken.user_id)
    failures, first, api_token, user = session.execute(query).one()
    if failures >= limit.failures and first is not None:
        wait = _aware(first) + limit.window - now
        return Check(None, max(1, math.ceil(wait.total_seconds())))
    if token is None or api_token is None or user is None:
        return Check(None, None)
    if api_token.revoked_at is not None or not user.is_active:
        return Check(None, None)
    if api_token.expires_at is not None and _aware(api_token.expires_at) <= now:
        return Check(None, None)
    principal = Principal(
        user_id=user.id,
        role=user.role,
        municipality_code=user.municipality_code,
        county_code=user.county_code,
        unit_id=user.unit_id,
    )
    return Check(principal, None)


def failure(address: str) -> AuthFailure:
    return AuthFailure(client_hash=client_hash(address), failed_at=utcnow())


def purge(session: Session, limit: Limit) -> int:
    result = session.execute(
        delete(AuthFailure).where(AuthFailure.failed_at <= utcnow() - limit.window)
    )
    return int(getattr(result, "rowcount", 0) or 0)
