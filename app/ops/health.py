"""``/healthz`` (liveness) and ``/readyz`` (readiness), without authentication.

- ``/healthz``: the process answers. Never touches the database, so a slow
  database does not get a healthy process restarted.
- ``/readyz``: the database answers ``SELECT 1`` and the master key opens the
  stored municipality keys (:meth:`Keyring.verify`), within
  ``readiness_timeout_seconds``; else 503 problem+json. Why it failed is
  logged (``not_ready``), never answered.
"""

from __future__ import annotations

import logging
from functools import partial

import anyio
import anyio.to_thread
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from app.errors import problem_response
from app.ops.logging import error_fields
from app.security.crypto import KeyConfigurationError
from app.security.keyring import Keyring

log = logging.getLogger("isu.health")

router = APIRouter(include_in_schema=False)


@router.get("/healthz")
async def healthz() -> JSONResponse:
    return JSONResponse({"status": "ok"})


@router.get("/readyz")
async def readyz(request: Request) -> JSONResponse:
    state = request.app.state
    timeout: float = state.settings.readiness_timeout_seconds
    failed: str | None = "timeout"
    check = partial(_check, state.session_factory, state.keyring, timeout)
    with anyio.move_on_after(timeout):
        # A check stuck on a lock is left to finish on its own thread (the
        # statement timeout below ends it on PostgreSQL).
        failed = await anyio.to_thread.run_sync(check, abandon_on_cancel=True)
    if failed is None:
        return JSONResponse({"status": "ready"})
    if failed == "timeout":
        log.warning("not_ready", extra={"check": "timeout"})
    return problem_response(
        status=503,
        slug="not-ready",
        title="Tjänsten är inte redo",
        title_en="The service is not ready",
        detail="Tjänsten kan inte ta emot begäranden just nu. Försök igen senare.",
        detail_en="The service cannot take requests right now. Try again later.",
        instance=request.url.path,
    )


def _check(factory: sessionmaker[Session], keyring: Keyring, timeout: float) -> str | None:
    """None when ready, else the name of the failed check (logged here)."""
    try:
        with factory() as session:
            if session.get_bind().dialect.name == "postgresql":
                milliseconds = max(1, int(timeout * 1000))
                session.execute(text(f"SET LOCAL statement_timeout = {milliseconds}"))
            session.execute(text("SELECT 1"))
            keyring.verify(session)
            session.rollback()
    except Exception as exc:
        step = "keys" if isinstance(exc, KeyConfigurationError) else "database"
        log.warning("not_ready", extra={"check": step, **error_fields(exc)})
        return step
    return None
