"""The failed-authentication limiters are bounded (issue 10): the API's, shared
by every worker in the database, forgets rows older than its window; the web's
in-memory ones keep at most ``max_keys`` addresses."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.auth import limiter
from app.auth.service import FailureLimiter
from app.clock import utcnow
from app.models import AuthFailure

LIMIT = limiter.Limit(failures=3, window_seconds=60)


def test_database_limiter_counts_per_address_and_purges_old_rows(session: Session) -> None:
    now = utcnow()
    for n in range(1000):  # many addresses, each failing once, long ago
        session.add(AuthFailure(client_hash=limiter.client_hash(f"10.0.{n // 250}.{n % 250}"),
                                failed_at=now - timedelta(minutes=5)))  # fmt: skip
    for _ in range(3):
        session.add(limiter.failure("192.0.2.7"))
    session.flush()
    assert limiter.check(session, None, "192.0.2.7", LIMIT).retry_after is not None
    assert limiter.check(session, None, "10.0.0.1", LIMIT).retry_after is None
    assert limiter.purge(session, LIMIT) == 1000
    assert session.scalar(select(func.count(AuthFailure.id))) == 3
    assert limiter.check(session, None, "192.0.2.7", LIMIT).retry_after is not None


def test_in_memory_limiter_keeps_at_most_max_keys() -> None:
    brake = FailureLimiter(limit=2, window_seconds=60, max_keys=100)
    for n in range(100_000):
        brake.fail(f"addr-{n}")
    assert len(brake) == 100
    brake.fail("addr-x")
    brake.fail("addr-x")
    assert brake.retry_after("addr-x") is not None
