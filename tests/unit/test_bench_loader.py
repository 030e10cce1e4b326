"""The benchmark's bulk loader and DuckDB baseline can be trusted (both engines).

1. The bulk loader (bench/loader.py) stores what the case services store: the
   same generated cases imported through the services (``isu import``) and
   bulk-loaded give the same rows field by field (free text aside, which the
   loader leaves out) and the same compiled tables.
2. The DuckDB baseline (bench/baseline.py) counts the funnel and the one-way
   distributions exactly as the exporters do, from the raw frames and from the
   analysis frame, with excluded cases left out.

These use a database (the loader is about what lands in one), although they
live with the unit tests beside the rest of the bench's tests.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from app.catalogue.loader import load_catalogue
from app.config import PROJECT_ROOT
from app.db import make_engine, make_session_factory
from app.importer.cli import run_import
from app.models import Case, Intervention, RiskAssessment, SurveyResponse, Unit
from app.stats.codebook import codebook_from_catalogue
from app.stats.frame import CaseFilter, load_frame
from app.synthetic.generator import GeneratorConfig, generate_cases
from bench import loader
from bench.baseline import BASELINE_TABLES, exporter_counts, from_frame, from_raw
from bench.json_read import CaseFilter as JsonFilter
from bench.json_read import read_raw
from exporters.frame import build_frame
from exporters.summary import compile_tables
from tests.conftest import make_settings, new_database_url

CATALOGUE = load_catalogue(PROJECT_ROOT / "variables")
CODEBOOK = codebook_from_catalogue(CATALOGUE)
MUNICIPALITIES = ("0180", "0380", "1280")
EVERYTHING = CaseFilter(date(2000, 1, 1), date(2100, 12, 31))


def lines(cases: int, seed: int) -> list[dict[str, Any]]:
    config = GeneratorConfig(
        today=loader.BENCH_TODAY, cases=cases, seed=seed, municipalities=MUNICIPALITIES
    )
    return list(generate_cases(config))


def bulk_load(engine_name: str, url: str, rows: list[dict[str, Any]], directory: Path) -> None:
    counts = loader.write_rows(rows, directory, CATALOGUE, seed=5)
    data = loader.BenchData(directory, len(rows), 5, loader.BENCH_TODAY, counts, 0.0)
    loader.load(engine_name, url, data)


@pytest.fixture
def bulk_engine(fresh_database_url: str) -> Iterator[Engine]:
    engine = make_engine(fresh_database_url)
    yield engine
    engine.dispose()


def stored(session: Session) -> dict[str, dict[str, Any]]:
    """Every case by source_ref: its columns, unit and child rows in
    registration order (free text and ids left out)."""
    out: dict[str, dict[str, Any]] = {}
    cases = session.execute(select(Case, Unit).join(Unit, Unit.id == Case.unit_id)).all()
    children: dict[Any, dict[str, list[tuple[Any, ...]]]] = {}
    for model, columns in (
        (Intervention, ("start_on", "type_code", "grounds_code")),
        (RiskAssessment, ("assessed_on", "phase_code", "instrument_code", "score")),
        (SurveyResponse, ("answered_on", "language_code", "mode_code", "values")),
    ):
        records: list[Any] = list(session.scalars(select(model).order_by(model.created_at)))
        for row in records:
            case_rows = children.setdefault(row.case_id, {})
            case_rows.setdefault(model.__tablename__, []).append(
                tuple(getattr(row, c) for c in columns)
            )
    clients: dict[str, list[str]] = {}
    for case, _unit in cases:
        clients.setdefault(case.client_pseudonym, []).append(str(case.source_ref))
    for case, unit in cases:
        out[str(case.source_ref)] = {
            "unit": (unit.municipality_code, unit.name, unit.kind, unit.district_code),
            "municipality_code": case.municipality_code,
            "district_code": case.district_code,
            "client_id_kind": case.client_id_kind,
            # The same client (pseudonym) as which other cases: the key differs.
            "same_client_as": sorted(clients[case.client_pseudonym]),
            "caseworker_ref": case.caseworker_ref,
            "actualised_on": case.actualised_on,
            "closed_on": case.closed_on,
            "first_intervention_on": case.first_intervention_on,
            "values": case.values,
            "status": case.status,
            "is_excluded": case.is_excluded,
            "catalogue_version": case.catalogue_version,
            "version": case.version,
            **children.get(case.id, {}),
        }
    return out


def test_bulk_loader_stores_what_the_services_store(
    engine_name: str, fresh_database_url: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    rows = lines(120, seed=3)
    report = run_import(
        make_settings(fresh_database_url),
        [json.dumps(line) for line in rows],
        create_units=True,
        total=len(rows),
    )
    assert (report.created, report.invalid) == (len(rows), 0)
    (tmp_path / "bulk").mkdir()
    bulk_url = new_database_url(engine_name, request, tmp_path / "bulk")
    bulk_load(engine_name, bulk_url, rows, tmp_path / "rows")

    services_engine = make_engine(fresh_database_url)
    loaded_engine = make_engine(bulk_url)
    try:
        with (
            make_session_factory(services_engine)() as by_services,
            make_session_factory(loaded_engine)() as by_loader,
        ):
            expected, got = stored(by_services), stored(by_loader)
            assert len(got) == len(rows)
            assert {k for k, v in got.items() if v.get("survey_responses")}  # some surveys
            assert got == expected
            expected_frame = load_frame(by_services, CATALOGUE, EVERYTHING)
            got_frame = load_frame(by_loader, CATALOGUE, EVERYTHING)
    finally:
        services_engine.dispose()
        loaded_engine.dispose()
    ours = compile_tables(got_frame.frame, CODEBOOK, mode="internal")
    theirs = compile_tables(expected_frame.frame, CODEBOOK, mode="internal")
    assert [t.id for t in ours] == [t.id for t in theirs]
    for mine, reference in zip(ours, theirs, strict=True):
        pd.testing.assert_frame_equal(mine.data, reference.data)


def test_duckdb_baseline_counts_what_the_exporters_count(
    engine_name: str, fresh_database_url: str, bulk_engine: Engine, tmp_path: Path
) -> None:
    rows = lines(400, seed=7)
    bulk_load(engine_name, fresh_database_url, rows, tmp_path / "rows")
    excluded = [f"SYN-{rows[i]['municipality']}-{i + 1:07d}" for i in (0, 5, 9)]
    with bulk_engine.begin() as conn:
        conn.execute(
            update(Case)
            .where(Case.source_ref.in_(excluded))
            .values(is_excluded=True, exclusion_reason="perpetrator")
        )
    with make_session_factory(bulk_engine)() as session:
        raw = read_raw(session, CODEBOOK, JsonFilter(date(2000, 1, 1), date(2100, 12, 31)))
    assert len(raw.cases) == 400
    analysis = build_frame(raw, CODEBOOK)
    assert analysis.n_cases == 397
    tables = compile_tables(analysis.frame, CODEBOOK, mode="internal")
    expected = exporter_counts(tables).sort_values(["table", "key"]).reset_index(drop=True)
    assert set(expected["table"]) == set(BASELINE_TABLES)
    steps = expected[expected["table"] == "funnel"]
    funnel = dict(zip(steps["key"], steps["n"], strict=True))
    assert funnel["aktualiserad:registrerad"] == 397
    assert 0 < funnel["brukarenkat_genomford:registrerad"] < 397

    for baseline in (from_raw(raw, CODEBOOK), from_frame(analysis.frame, CODEBOOK)):
        got = baseline.counts.sort_values(["table", "key"]).reset_index(drop=True)
        pd.testing.assert_frame_equal(got, expected)
        assert baseline.sql_seconds > 0
