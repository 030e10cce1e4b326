"""Issuing, checking and revoking opaque bearer tokens."""

from __future__ import annotations

import threading
import time
import uuid
from collections import OrderedDict, deque
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth.principal import Principal
from app.clock import utcnow
from app.errors import NotFound
from app.models import ApiToken, User
from app.security.crypto import hash_token, new_token


def issue_token(
    session: Session, user: User, *, expires_in_days: int | None = 90, label: str | None = None
) -> str:
    """Create a token for ``user``; the plaintext is returned once and never stored."""
    token = new_token()
    expires_at = utcnow() + timedelta(days=expires_in_days) if expires_in_days else None
    session.add(
        ApiToken(user_id=user.id, token_hash=hash_token(token), expires_at=expires_at, label=label)
    )
    session.flush()
    return token


def revoke_tokens(session: Session, username: str) -> int:
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound()
    return revoke_user_tokens(session, user)


def revoke_user_tokens(session: Session, user: User) -> int:
    """Revoke every token of ``user`` that is not revoked yet; returns how many."""
    tokens = session.scalars(
        select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
    ).all()
    now = utcnow()
    for token in tokens:
        token.revoked_at = now
    session.flush()
    return len(tokens)


def _aware(moment: datetime) -> datetime:
    # SQLite returns naive datetimes; every stored time is UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=utcnow().tzinfo)


def authenticate(session: Session, token: str) -> Principal | None:
    row = session.execute(
        select(ApiToken, User)
        .join(User, User.id == ApiToken.user_id)
        .where(ApiToken.token_hash == hash_token(token))
    ).first()
    if row is None:
        return None
    api_token, user = row
    now = utcnow()
    if api_token.revoked_at is not None or not user.is_active:
        return None
    if api_token.expires_at is not None and _aware(api_token.expires_at) <= now:
        return None
    return Principal(
        user_id=user.id,
        role=user.role,
        municipality_code=user.municipality_code,
        county_code=user.county_code,
        unit_id=user.unit_id,
    )


class FailureLimiter:
    """Sliding-window count of failures per key (web sign-in, survey links).

    Kept in process memory and bounded: a key whose failures have all left the
    window is forgotten, and past ``max_keys`` the stalest key is dropped, so
    many addresses cannot grow it without limit. (The API's limiter is shared
    by every worker, in the database: :mod:`app.auth.limiter`.)
    """

    def __init__(self, limit: int, window_seconds: int, max_keys: int = 10_000) -> None:
        self.limit = limit
        self.window = window_seconds
        self.max_keys = max_keys
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def _prune(self, client: str, now: float) -> deque[float]:
        failures = self._failures.get(client) or deque()
        while failures and failures[0] <= now - self.window:
            failures.popleft()
        return failures

    def retry_after(self, client: str) -> int | None:
        """Seconds to wait, or None when the client may try again."""
        now = time.monotonic()
        with self._lock:
            failures = self._prune(client, now)
            if not failures:
                self._failures.pop(client, None)
            if len(failures) < self.limit:
                return None
            return max(1, int(failures[0] + self.window - now) + 1)

    def fail(self, client: str) -> None:
        now = time.monotonic()
        with self._lock:
            failures = self._prune(client, now)
            failures.append(now)
            self._failures[client] = failures
            self._failures.move_to_end(client)
            while len(self._failures) > self.max_keys:
                self._failures.popitem(last=False)

    def __len__(self) -> int:
        return len(self._failures)


def user_by_id(session: Session, user_id: uuid.UUID) -> User | None:
    return session.get(User, user_id)
