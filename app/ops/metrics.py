"""Prometheus metrics at ``/metrics`` (prometheus-client).

- ``isu_http_requests_total{method,route,status}`` and
  ``isu_http_request_duration_seconds{method,route}``: route *templates* only,
  so no path (and no survey token) becomes a label.
- ``isu_db_pool_connections_in_use`` / ``isu_db_pool_size``: the SQLAlchemy
  pool, kept by pool events so that every worker process reports its own.
- ``isu_audit_unsealed_events``: audit events not yet sealed, counted at scrape.

With several workers (``isu serve --workers N``) the values live in files in
``PROMETHEUS_MULTIPROC_DIR`` and any worker's ``/metrics`` sums them all.

``/metrics`` needs ``Authorization: Bearer <ISU_METRICS_TOKEN>``; without the
setting it answers 404 (see docs/observability.md).
"""

from __future__ import annotations

import atexit
import hmac
import logging
import os
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
    multiprocess,
)
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from app.audit.service import unsealed_count
from app.errors import NotFound, Unauthenticated
from app.ops.logging import error_fields

log = logging.getLogger("isu.metrics")

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class Metrics:
    """The app's metrics, in a registry of their own (one app, one registry)."""

    def __init__(self, engine: Engine) -> None:
        self.multiprocess = bool(os.environ.get(MULTIPROC_ENV))
        registry = self.registry = CollectorRegistry()
        self.requests = Counter(
            "isu_http_requests",
            "HTTP requests by method, route template and status.",
            ("method", "route", "status"),
            registry=registry,
        )
        self.latency = Histogram(
            "isu_http_request_duration_seconds",
            "Time to answer a request, by method and route template.",
            ("method", "route"),
            buckets=_BUCKETS,
            registry=registry,
        )
        self.pool_in_use = Gauge(
            "isu_db_pool_connections_in_use",
            "Database connections checked out of the pool (all workers).",
            registry=registry,
            multiprocess_mode="livesum",
        )
        self.pool_size = Gauge(
            "isu_db_pool_size",
            "Configured size of the database connection pool (all workers).",
            registry=registry,
            multiprocess_mode="livesum",
        )
        self.unsealed = Gauge(
            "isu_audit_unsealed_events",
            "Audit events not yet sealed (counted when /metrics is read).",
            registry=registry,
            multiprocess_mode="livemostrecent",
        )
        if self.multiprocess:
            # Drops this worker's live gauges when it exits.
            atexit.register(multiprocess.mark_process_dead, os.getpid())
        else:
            ProcessCollector(registry=registry)
        self._watch_pool(engine)

    def _watch_pool(self, engine: Engine) -> None:
        size = getattr(engine.pool, "size", None)
        self.pool_size.set(size() if callable(size) else 0)

        def checked_out(*_: Any) -> None:
            self.pool_in_use.inc()

        def checked_in(*_: Any) -> None:
            self.pool_in_use.dec()

        event.listen(engine, "checkout", checked_out)
        event.listen(engine, "checkin", checked_in)

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        method = method if method in _METHODS else "OTHER"
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)

    def refresh(self, session_factory: sessionmaker[Session]) -> None:
        """Values read at scrape time."""
        try:
            with session_factory() as session:
                self.unsealed.set(unsealed_count(session))
        except Exception as exc:  # a scrape must not fail on it; readiness reports the database
            log.warning("metrics_refresh_failed", extra=error_fields(exc))

    def exposition(self) -> bytes:
        if self.multiprocess:
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
            return generate_latest(registry)
        return generate_latest(self.registry)


router = APIRouter(include_in_schema=False)


def _authorised(request: Request, token: str) -> bool:
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        given.strip().encode(), token.encode()
    )


@router.get("/metrics")
def metrics(request: Request) -> Response:
    token: str | None = request.app.state.settings.metrics_token
    if token is None:
        raise NotFound()
    if not _authorised(request, token):
        raise Unauthenticated()
    collected: Metrics = request.app.state.metrics
    collected.refresh(request.app.state.session_factory)
    return Response(collected.exposition(), media_type=CONTENT_TYPE_LATEST)
