"""Issue 5: on 3 070 generated cases, imported through the same services as the
API, the compiled funnel (Diagram 1) equals the generator's own counts exactly.

The full 3 070 run on SQLite; on PostgreSQL, where importing through the
services costs about 60 ms a case, the same check runs on 500 cases so the
suite stays inside its time budget (the frame reading itself is tested on both
engines in test_analysis_frame.py)."""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

from sqlalchemy import func, select

from app.catalogue.loader import load_catalogue
from app.clock import today
from app.db import make_engine, make_session_factory
from app.importer.cli import run_import
from app.models import Case
from app.stats.codebook import codebook_from_catalogue
from app.stats.frame import CaseFilter, load_frame
from app.synthetic.generator import GeneratorConfig, generate_cases
from exporters.definitions import REGISTERED
from exporters.summary import compile_tables
from tests.conftest import make_settings

CASES = {"sqlite": 3070, "postgresql": 500}


def _generator_counts(lines: list[dict[str, Any]]) -> dict[str, int]:
    closed = [line for line in lines if line["close"] is not None]
    return {
        "aktualiserad": len(lines),
        "fatt_insats": sum(1 for line in lines if line["interventions"]),
        "avslutad": len(closed),
        "avslutsorsak_angiven": sum(
            1 for line in closed if "closing_reason" in line["close"]["values"]
        ),
        "maluppfoljning_angiven": sum(
            1 for line in closed if "goal_followup" in line["close"]["values"]
        ),
        "brukarenkat_genomford": sum(1 for line in lines if line["survey"]),
    }


def test_funnel_of_3070_generated_cases_equals_the_generators_counts(
    engine_name: str, fresh_database_url: str
) -> None:
    cases = CASES[engine_name]
    settings = make_settings(fresh_database_url)
    config = GeneratorConfig(today=today(), cases=cases, municipalities=("0180", "0380", "1280"))
    lines = list(generate_cases(config))
    report = run_import(
        settings, [json.dumps(line) for line in lines], create_units=True, total=cases
    )
    assert (report.created, report.invalid) == (cases, 0)

    catalogue = load_catalogue(settings.catalogue_dir)
    engine = make_engine(fresh_database_url)
    try:
        with make_session_factory(engine)() as session:
            assert session.scalar(select(func.count(Case.id))) == cases
            frame = load_frame(
                session,
                catalogue,
                CaseFilter(config.period_start - timedelta(days=1), date.today()),
            )
    finally:
        engine.dispose()
    assert frame.n_cases == cases
    (funnel,) = compile_tables(
        frame.frame, codebook_from_catalogue(catalogue), mode="internal", table_ids=["funnel"]
    )
    registered = funnel.data[funnel.data["registered"].astype(str) == REGISTERED]
    compiled = dict(zip(registered["step"].astype(str), registered["n"].astype(int), strict=True))
    assert compiled == _generator_counts(lines)
