"""Application factory."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from app.audit.router import router as audit_router
from app.audit.sink import AuditSink
from app.cases.router import build_router as build_case_router
from app.cases.schemas import build_case_schemas
from app.catalogue.loader import load_catalogue
from app.catalogue.router import router as catalogue_router
from app.config import Settings, get_settings
from app.db import ApiLimits, DatabaseSlots, api_engine, make_session_factory
from app.errors import install_handlers
from app.idempotency import InFlight
from app.importer.jobs import fail_interrupted_jobs
from app.importer.router import router as import_router
from app.indicators.router import router as indicators_router
from app.kodnyckel.router import router as kodnyckel_router
from app.kolada_v3.router import router as kolada_v3_router
from app.local_variables.router import router as local_variables_router
from app.maintenance import Maintenance
from app.middleware import BodySizeLimit, RequestContext
from app.ops.health import router as health_router
from app.ops.metrics import Metrics
from app.ops.metrics import router as metrics_router
from app.quality.router import router as quality_router
from app.security.keyring import Keyring
from app.security.master import load_master_key
from app.stats.router import router as stats_router
from app.submissions.router import router as submissions_router
from app.units.router import router as units_router
from app.web.router import build_web_router

API_PREFIX = "/api/v1"
log = logging.getLogger("isu")


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app. Fails at once (before serving) on a bad catalogue or key."""
    settings = settings or get_settings()
    catalogue = load_catalogue(settings.catalogue_dir)
    keyring = Keyring(load_master_key(settings))
    limits = ApiLimits(
        lock_timeout_ms=settings.db_lock_timeout_ms,
        statement_timeout_ms=settings.db_statement_timeout_ms,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
    )
    engine = api_engine(settings.database_url, limits)
    session_factory = make_session_factory(engine)
    with session_factory() as session, session.begin():
        keyring.verify(session)
        fail_interrupted_jobs(session)

    @asynccontextmanager
    async def lifespan(api: FastAPI) -> AsyncIterator[None]:
        maintenance = Maintenance(api.state, settings) if settings.background_tasks else None
        if maintenance is not None:
            maintenance.start()
        try:
            yield
        finally:
            if maintenance is not None:
                maintenance.stop()
            engine.dispose()

    app = FastAPI(
        title="ISU-registret",
        summary="Individbaserad systematisk uppföljning av stöd till våldsutsatta vuxna "
        "(follow-up of support to adults exposed to violence)",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.catalogue = catalogue
    app.state.keyring = keyring
    app.state.engine = engine
    app.state.session_factory = session_factory
    app.state.read_session_factory = make_session_factory(engine, read_only=True)
    app.state.db_slots = DatabaseSlots(limits.connections)
    app.state.in_flight = InFlight()
    app.state.audit_sink = AuditSink(lambda: app.state.session_factory)
    app.state.metrics = Metrics(engine)
    install_handlers(app)
    app.include_router(health_router)
    app.include_router(metrics_router)
    app.include_router(catalogue_router, prefix=API_PREFIX)
    app.include_router(build_case_router(build_case_schemas(catalogue)), prefix=API_PREFIX)
    for router in (
        audit_router,
        import_router,
        indicators_router,
        kodnyckel_router,
        local_variables_router,
        quality_router,
        stats_router,
        submissions_router,
        units_router,
    ):
        app.include_router(router, prefix=API_PREFIX)
    app.include_router(kolada_v3_router)
    app.include_router(build_web_router(catalogue))
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(RequestContext, metrics=app.state.metrics)
    return app
