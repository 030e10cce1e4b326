"""The web interface's routes, built once per app (``app.main``)."""

from __future__ import annotations

from fastapi import APIRouter

from app.cases.schemas import build_case_schemas
from app.catalogue.loader import Catalogue
from app.web.pages_admin import build_admin_router
from app.web.pages_auth import build_auth_router
from app.web.pages_cases import CasePages
from app.web.survey import check_catalogue
from app.web.survey_pages import build_survey_router


def build_web_router(catalogue: Catalogue) -> APIRouter:
    """Sign-in, caseworker and coordinator pages, the client survey and static files."""
    check_catalogue(catalogue)
    schemas = build_case_schemas(catalogue)
    router = APIRouter(include_in_schema=False)
    router.include_router(build_auth_router())
    router.include_router(CasePages(schemas).router())
    router.include_router(build_admin_router())
    router.include_router(build_survey_router(schemas))
    return router
