"""Application factory."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from app.audit.router import router as audit_router
from app.auth.service import FailureLimiter
from app.cases.router import build_router as build_case_router
from app.cases.schemas import build_case_schemas
from app.catalogue.loader import load_catalogue
from app.catalogue.router import router as catalogue_router
from app.config import Settings, get_settings
from app.db import make_engine, make_session_factory
from app.errors import install_handlers
from app.importer.router import router as import_router
from app.indicators.router import router as indicators_router
from app.kodnyckel.router import router as kodnyckel_router
from app.local_variables.router import router as local_variables_router
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
    engine = make_engine(settings.database_url)
    session_factory = make_session_factory(engine)
    with session_factory() as session:
        keyring.verify(session)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
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
    app.state.auth_limiter = FailureLimiter(
        settings.auth_failure_limit, settings.auth_failure_window_seconds
    )
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
    app.include_router(build_web_router(catalogue))
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(RequestContext, metrics=app.state.metrics)
    return app
