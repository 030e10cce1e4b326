"""Bulk import through the case services (both engines).

A file with deliberately broken lines is rejected whole: every bad line is
reported with its number, pointer and problem, and nothing is written. A
valid file is imported; importing it again creates nothing.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from app.cases.schemas import build_case_schemas
from app.db import make_engine
from app.importer.format import build_line_model
from app.importer.service import Importer, ImportReport, SystemScope
from app.models import (
    AuditEvent,
    Case,
    CaseRevision,
    Intervention,
    RiskAssessment,
    SurveyResponse,
    Unit,
    User,
)
from app.synthetic.generator import GeneratorConfig, generate_cases
from tests.conftest import make_settings

TODAY = date(2025, 11, 25)  # before the real clock's today, so no date is in the future
COUNTED = (Case, Intervention, RiskAssessment, SurveyResponse, CaseRevision, AuditEvent, Unit, User)


def generated(
    n: int, seed: int = 11, municipalities: tuple[str, ...] = ("0117", "0380")
) -> list[dict[str, Any]]:
    return list(
        generate_cases(
            GeneratorConfig(today=TODAY, cases=n, seed=seed, municipalities=municipalities)
        )
    )


def counts(session: Session) -> dict[str, int]:
    return {
        m.__tablename__: session.scalar(select(func.count()).select_from(m)) or 0 for m in COUNTED
    }


def run(
    shared_app: FastAPI,
    factory: sessionmaker[Session],
    rows: list[str],
    *,
    skip_invalid: bool = False,
    atomic: bool = True,
) -> ImportReport:
    state = shared_app.state
    importer = Importer(
        factory=factory,
        catalogue=state.catalogue,
        keyring=state.keyring,
        settings=state.settings,
        scope=SystemScope(create_units=True),
        line_model=build_line_model(build_case_schemas(state.catalogue)),
        skip_invalid=skip_invalid,
        atomic=atomic,
        batch_size=7,
    )
    return importer.run(lambda: rows)


def broken_file() -> list[str]:
    """Eight lines; lines 2, 4, 6, 7 and 8 are broken (line 5 is blank)."""
    cases = generated(12)
    open_case = next(c for c in cases if c["close"] is None)
    closed_cases = [c for c in cases if c["close"] is not None]
    bad_code = json.loads(json.dumps(closed_cases[1]))
    bad_code["values"]["sex"] = 9
    closed_before_opened = json.loads(
        json.dumps(next(c for c in closed_cases[5:] if c["interventions"]))
    )
    closed_before_opened["close"]["closed_on"] = "2000-01-01"
    bad_checksum = json.loads(json.dumps(closed_cases[3]))
    bad_checksum["client_id"] = "19121212-1213"
    survey_on_open = json.loads(json.dumps(open_case))
    survey_on_open["survey"] = {"answered_on": open_case["actualised_on"], "language": 1, "mode": 1}
    rows = [
        closed_cases[0],
        bad_code,
        closed_cases[4],
        closed_before_opened,
    ]
    text = [json.dumps(r, ensure_ascii=False) for r in rows]
    text += ["", "{not json", json.dumps(bad_checksum), json.dumps(survey_on_open)]
    return text


EXPECTED_ERRORS = [
    (2, "/values/sex", "unknown_code"),
    (4, "/close/closed_on", "closed_before_actualised"),
    (4, "/close/closed_on", "after_closing"),  # its interventions now start after the end
    (6, "", "json_invalid"),
    (7, "/client_id", "client_id_checksum"),
    (8, "/survey", "case_not_closed"),
]


@pytest.mark.parametrize("atomic", [True, False], ids=["one-transaction", "batches"])
def test_broken_lines_are_reported_and_nothing_is_written(
    shared_app: FastAPI, session_factory: sessionmaker[Session], session: Session, atomic: bool
) -> None:
    before = counts(session)
    report = run(shared_app, session_factory, broken_file(), atomic=atomic)
    assert report.state == "rejected"
    assert [(e.line, e.pointer, e.code) for e in report.errors] == EXPECTED_ERRORS
    assert all(e.detail and e.detail_en for e in report.errors)
    assert (report.lines, report.invalid, report.created) == (7, 5, 0)
    session.expire_all()
    assert counts(session) == before
    # No submitted value in any message.
    assert "19121212" not in json.dumps([e.as_json() for e in report.errors])


def test_skip_invalid_imports_only_the_valid_lines(
    shared_app: FastAPI, session_factory: sessionmaker[Session], session: Session
) -> None:
    report = run(shared_app, session_factory, broken_file(), skip_invalid=True)
    assert report.state == "done"
    assert [(e.line, e.pointer, e.code) for e in report.errors] == EXPECTED_ERRORS
    assert (report.created, report.invalid) == (2, 5)
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(Case)) == 2


@pytest.mark.parametrize("atomic", [True, False], ids=["one-transaction", "batches"])
def test_valid_file_is_imported_and_reimport_creates_no_duplicates(
    shared_app: FastAPI, session_factory: sessionmaker[Session], session: Session, atomic: bool
) -> None:
    cases = generated(24)
    rows = [json.dumps(c, ensure_ascii=False) for c in cases]
    report = run(shared_app, session_factory, rows, atomic=atomic)
    assert (report.state, report.created, report.unchanged, report.invalid) == ("done", 24, 0, 0)
    session.expire_all()
    after_first = counts(session)
    assert after_first["cases"] == 24
    assert after_first["interventions"] == sum(len(c["interventions"]) for c in cases)
    assert after_first["risk_assessments"] == sum(len(c["risk_assessments"]) for c in cases)
    assert after_first["survey_responses"] == sum(1 for c in cases if c["survey"])
    stored = {c.source_ref: c for c in session.scalars(select(Case))}
    for c in cases:
        case = stored[c["source_ref"]]
        assert case.municipality_code == c["municipality"]
        assert case.actualised_on.isoformat() == c["actualised_on"]
        assert (case.closed_on.isoformat() if case.closed_on else None) == (
            c["close"]["closed_on"] if c["close"] else None
        )
        # The sending system's id is bookkeeping: it moves neither version nor history.
        revisions = session.scalar(
            select(func.count()).select_from(CaseRevision).where(CaseRevision.case_id == case.id)
        )
        assert revisions == case.version
    system_users = session.scalars(
        select(User.username).where(User.username.like("import-%"))
    ).all()
    assert sorted(system_users) == sorted({f"import-{c['municipality']}" for c in cases})

    again = run(shared_app, session_factory, rows, atomic=atomic)
    assert (again.state, again.created, again.unchanged) == ("done", 0, 24)
    session.expire_all()
    assert counts(session) == after_first


def test_duplicate_source_ref_in_one_file_is_an_error(
    shared_app: FastAPI, session_factory: sessionmaker[Session], session: Session
) -> None:
    case = generated(1)[0]
    row = json.dumps(case)
    report = run(shared_app, session_factory, [row, row])
    assert [(e.line, e.pointer, e.code) for e in report.errors] == [
        (2, "/source_ref", "duplicate_source_ref")
    ]
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(Case)) == 0


def test_unknown_unit_without_create_units(
    shared_app: FastAPI, session_factory: sessionmaker[Session], session: Session
) -> None:
    state = shared_app.state
    importer = Importer(
        factory=session_factory,
        catalogue=state.catalogue,
        keyring=state.keyring,
        settings=state.settings,
        scope=SystemScope(create_units=False),
        line_model=build_line_model(build_case_schemas(state.catalogue)),
    )
    rows = [json.dumps(c) for c in generated(2)]
    report = importer.run(lambda: rows)
    assert [(e.line, e.pointer, e.code) for e in report.errors] == [
        (1, "/unit", "unknown_unit"),
        (2, "/unit", "unknown_unit"),
    ]


def test_isu_import_command_reports_lines_and_exit_codes(
    fresh_database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.cli import app as cli
    from app.importer import cli as import_cli

    monkeypatch.setattr(import_cli, "get_settings", lambda: make_settings(fresh_database_url))
    broken = tmp_path / "broken.jsonl"
    broken.write_text("\n".join(broken_file()) + "\n", encoding="utf-8")
    runner = CliRunner()
    rejected = runner.invoke(cli, ["import", str(broken), "--create-units"])
    assert rejected.exit_code == 1
    for line, pointer, code in EXPECTED_ERRORS:
        assert f"rad {line}: {pointer or '/'} " in rejected.output
        assert code in rejected.output
    assert "inget importerades" in rejected.output
    skipped = runner.invoke(cli, ["import", str(broken), "--create-units", "--skip-invalid"])
    assert skipped.exit_code == 0, skipped.output
    assert "skapade: 2" in skipped.output
    engine = make_engine(fresh_database_url)
    try:
        with engine.connect() as conn:
            assert conn.scalar(select(func.count()).select_from(Case)) == 2
    finally:
        engine.dispose()
