"""The analysis table is written in the same transaction as every write that
changes a case, and equals a rebuild after each (both engines); ``isu analysis
check`` names a planted difference by case and column."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import date

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text, update
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from app.analysis.rebuild import check, count_rows, rebuild
from app.analysis.sync import sync_cases
from app.analysis.table import case_analysis
from app.cli import app as cli
from app.config import get_settings
from app.db import make_engine, make_session_factory, transaction
from app.importer.cli import run_import
from app.models import Case, Intervention, Unit
from app.security.crypto import MasterKey
from app.security.keyring import Keyring
from app.security.rotation import rotate_municipality
from tests.api.test_case_support import (
    API,
    INTERVENTION,
    RISK,
    SURVEY,
    etag_version,
    make_world,
    with_version,
)
from tests.conftest import TEST_MASTER_KEY, make_settings
from tests.factories import case_body


def assert_in_step(session: Session) -> None:
    session.flush()
    result = check(session.connection())
    assert result.differences == []
    assert result.cases == count_rows(session.connection())


def row(session: Session, case_id: str) -> dict[str, object]:
    found = session.execute(
        select(case_analysis).where(case_analysis.c.case_id == uuid.UUID(case_id))
    ).mappings()
    return dict(found.one())


def test_every_api_write_keeps_the_row_in_step(client: TestClient, session: Session) -> None:
    world = make_world(session)
    worker, coordinator = world.worker, world.coordinator
    r = client.post(API, json=case_body(), headers=worker.headers)
    assert r.status_code == 201, r.text
    case_id = r.json()["id"]
    stored = row(session, case_id)
    assert stored["status"] == "aktualiserad"
    assert stored["disability__4"] is True
    assert stored["disability__1"] is False
    assert stored["perpetrator__1"] is None  # not registered
    assert_in_step(session)

    def etag(response: object) -> int:
        assert response.status_code in (200, 201), response.text  # type: ignore[attr-defined]
        return etag_version(response)  # type: ignore[arg-type]

    version = 1
    r = client.patch(
        f"{API}/{case_id}",
        json={"values": {"perpetrator": [1, 2], "collaboration": [], "violence_severity": 2}},
        headers=with_version(worker, version),
    )
    version = etag(r)
    stored = row(session, case_id)
    assert (stored["perpetrator__bits"], stored["perpetrator_count"]) == (0b11, 2)
    assert (stored["collaboration__bits"], stored["collaboration_count"]) == (0, 0)
    assert_in_step(session)

    r = client.post(f"{API}/{case_id}/interventions", json=INTERVENTION, headers=worker.headers)
    version = etag(r)
    intervention_id = r.json()["interventions"][0]["id"]
    r = client.post(
        f"{API}/{case_id}/interventions",
        json={"intervention_start_on": "2025-03-12", "intervention_type": 10,
              "intervention_grounds": 1},
        headers=worker.headers,
    )  # fmt: skip
    version = etag(r)
    stored = row(session, case_id)
    assert (stored["n_intervention_records"], stored["n_intervention_types"]) == (2, 2)
    assert stored["status"] == "fatt_insats"
    assert stored["first_intervention_on"] == date(2025, 3, 10)
    assert_in_step(session)

    r = client.patch(
        f"{API}/{case_id}/interventions/{intervention_id}",
        json={"intervention_type": 10},
        headers=with_version(worker, version),
    )
    version = etag(r)
    assert row(session, case_id)["n_intervention_types"] == 1
    assert_in_step(session)

    r = client.post(f"{API}/{case_id}/risk-assessments", json=RISK, headers=worker.headers)
    version = etag(r)
    risk_id = r.json()["risk_assessments"][0]["id"]
    r = client.post(
        f"{API}/{case_id}/risk-assessments",
        json={**RISK, "assessed_on": "2025-04-01", "score": 3},
        headers=worker.headers,
    )
    version = etag(r)
    stored = row(session, case_id)
    assert (stored["risk_first_score"], stored["risk_last_score"]) == (2, 3)
    assert stored["risk_score_change"] == "higher"
    assert_in_step(session)

    r = client.patch(
        f"{API}/{case_id}/risk-assessments/{risk_id}",
        json={"score": 3},
        headers=with_version(worker, version),
    )
    version = etag(r)
    assert row(session, case_id)["risk_score_change"] == "same"
    assert_in_step(session)
    r = client.delete(
        f"{API}/{case_id}/risk-assessments/{risk_id}", headers=with_version(worker, version)
    )
    version = etag(r)
    assert row(session, case_id)["n_risk_scores"] == 1
    assert_in_step(session)
    r = client.delete(
        f"{API}/{case_id}/interventions/{intervention_id}", headers=with_version(worker, version)
    )
    version = etag(r)
    assert row(session, case_id)["n_intervention_records"] == 1
    assert_in_step(session)

    r = client.post(
        f"{API}/{case_id}/close",
        json={"closed_on": "2025-06-01", "values": {"closing_reason": 1, "goal_followup": 1}},
        headers=with_version(worker, version),
    )
    version = etag(r)
    stored = row(session, case_id)
    assert stored["status"] == "maluppfoljning_angiven"
    assert (stored["duration_days"], stored["duration_bin"]) == (93, "91–180")
    assert_in_step(session)

    r = client.put(f"{API}/{case_id}/survey", json=SURVEY, headers=with_version(worker, version))
    version = etag(r)
    stored = row(session, case_id)
    assert (stored["has_survey"], stored["survey_violence_change"]) == (True, 3)
    assert stored["status"] == "brukarenkat_genomford"
    assert_in_step(session)

    r = client.post(
        f"{API}/{case_id}/exclusion",
        json={"reason": "duplicate"},
        headers=with_version(coordinator, version),
    )
    version = etag(r)
    assert (row(session, case_id)["is_excluded"], row(session, case_id)["exclusion_reason"]) == (
        True,
        "duplicate",
    )
    assert_in_step(session)
    r = client.delete(f"{API}/{case_id}/exclusion", headers=with_version(coordinator, version))
    etag(r)
    assert row(session, case_id)["is_excluded"] is False
    assert_in_step(session)


def test_orm_writes_outside_the_services_and_a_unit_kind_change(session: Session) -> None:
    """Children added by foreign key only (collection never loaded) and a
    changed unit kind are picked up by the same hook."""
    from tests.db.test_analysis_frame import add_case
    from tests.factories import make_account, make_unit

    unit = make_unit(session, "0180", kind="utforare")
    user = make_account(session, "coordinator", municipality="0180").user
    case = add_case(session, unit, user.id, values={"sex": 1, "perpetrator": []})
    session.add(Intervention(case_id=case.id, start_on=date(2023, 3, 2), type_code=4))
    session.flush()
    stored = row(session, str(case.id))
    assert (stored["n_intervention_records"], stored["intervention_type__4"]) == (1, True)
    assert stored["unit_kind"] == 2
    assert stored["perpetrator__bits"] == 0
    session.get_one(Unit, unit.id).kind = "annat"
    session.flush()
    assert row(session, str(case.id))["unit_kind"] == 4
    assert_in_step(session)
    # A Core write bypasses the hook; sync_cases is its remedy.
    session.execute(update(Case).where(Case.id == case.id).values(closed_on=date(2023, 4, 1)))
    assert [d[1] for d in check(session.connection()).differences] == [
        "closed_on",
        "duration_days",
        "duration_bin",
        "status",
    ]
    sync_cases(session.connection(), [case.id])
    assert_in_step(session)


def test_import_and_key_rotation_keep_the_table_in_step(
    engine_name: str, fresh_database_url: str
) -> None:
    settings = make_settings(fresh_database_url)
    from app.synthetic.generator import GeneratorConfig, generate_cases

    lines = list(generate_cases(GeneratorConfig(today=date(2025, 6, 30), cases=40, seed=5)))
    report = run_import(settings, [json.dumps(line) for line in lines], create_units=True, total=40)
    assert (report.created, report.invalid) == (40, 0)
    engine = make_engine(fresh_database_url)
    factory = make_session_factory(engine)
    try:
        with engine.connect() as connection:
            assert count_rows(connection) == 40
            assert check(connection).ok
        municipality = lines[0]["municipality"]
        rotation = rotate_municipality(
            factory, Keyring(MasterKey.from_text(TEST_MASTER_KEY)), municipality
        )
        assert rotation.complete
        with engine.connect() as connection:
            assert check(connection).ok
    finally:
        engine.dispose()


@pytest.fixture
def cli_env(fresh_database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("ISU_DATABASE_URL", fresh_database_url)
    monkeypatch.setenv("ISU_MASTER_KEY", TEST_MASTER_KEY)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_check_names_a_planted_difference_and_rebuild_repairs_it(
    engine_name: str, fresh_database_url: str, cli_env: None
) -> None:
    settings = make_settings(fresh_database_url)
    from app.synthetic.generator import GeneratorConfig, generate_cases

    lines = list(generate_cases(GeneratorConfig(today=date(2025, 6, 30), cases=12, seed=9)))
    run_import(settings, [json.dumps(line) for line in lines], create_units=True, total=12)
    engine = make_engine(fresh_database_url)
    try:
        with transaction(make_session_factory(engine)) as session:
            victim = session.scalars(select(Case.id).order_by(Case.id)).first()
            assert victim is not None
        with engine.begin() as connection:
            connection.execute(
                text(
                    "UPDATE case_analysis SET sex = 9, n_intervention_types = 77 WHERE case_id = :id"
                ),
                {"id": victim.hex if engine_name == "sqlite" else str(victim)},
            )
        runner = CliRunner()
        result = runner.invoke(cli, ["analysis", "check"])
        assert result.exit_code == 1, result.output
        assert f"{victim} sex" in result.output
        assert f"{victim} n_intervention_types" in result.output
        result = runner.invoke(cli, ["analysis", "rebuild"])
        assert result.exit_code == 0, result.output
        result = runner.invoke(cli, ["analysis", "check"])
        assert result.exit_code == 0, result.output
        # A database migrated to the analysis table is filled by `isu db upgrade`.
        with engine.begin() as connection:
            connection.execute(text("DELETE FROM case_analysis"))
        result = runner.invoke(cli, ["db", "upgrade"])
        assert result.exit_code == 0, result.output
        with engine.connect() as connection:
            assert count_rows(connection) == 12
            assert check(connection).ok
        with engine.begin() as connection:
            connection.execute(text("DELETE FROM case_analysis"))
        assert rebuild(engine, batch=5) == 12
        with engine.connect() as connection:
            assert check(connection, batch=5).ok
    finally:
        engine.dispose()
