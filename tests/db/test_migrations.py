"""Migrations go up, down and up again on both engines, with no drift (C7)."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from app.cli import alembic_config
from app.db import Base, make_engine
from tests.conftest import new_database_url

EXPECTED_TABLES = {
    "units",
    "users",
    "api_tokens",
    "municipality_keys",
    "cases",
    "interventions",
    "risk_assessments",
    "survey_responses",
    "case_revisions",
    "kodnyckel",
    "local_variables",
    "idempotency_records",
    "audit_events",
    "audit_chain_head",
}


def test_upgrade_downgrade_upgrade_without_drift(
    engine_name: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    url = new_database_url(engine_name, request, tmp_path)
    cfg = alembic_config(url)
    engine = make_engine(url)
    try:
        assert set(inspect(engine).get_table_names()) >= EXPECTED_TABLES
        command.downgrade(cfg, "base")
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
        command.upgrade(cfg, "head")
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        assert diff == []
    finally:
        engine.dispose()
