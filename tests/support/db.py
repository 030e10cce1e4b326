"""Reading a database by URL from tests that commit for real (CLI tests)."""

from __future__ import annotations

from sqlalchemy import Select, func, select

from app.db import make_engine, make_session_factory
from app.models import AuditEvent


def scalar(url: str, query: Select[int]) -> int:
    engine = make_engine(url)
    try:
        with make_session_factory(engine)() as session:
            return session.scalar(query) or 0
    finally:
        engine.dispose()


def audits(url: str, action: str) -> int:
    """How many audit events of ``action`` the database holds."""
    return scalar(
        url, select(func.count()).select_from(AuditEvent).where(AuditEvent.action == action)
    )
