"""`isu population import` and `isu export kolada|indicator` on a committed
database (both engines): the population figure loaded by the coordinator is
the denominator; every export is audited; bad input exits non-zero."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
import typer
from openpyxl import load_workbook
from sqlalchemy import func, select
from typer.testing import CliRunner

from app.config import get_settings
from app.db import make_engine, make_session_factory, transaction
from app.indicators.cli import register
from app.models import Intervention, PopulationFigure
from tests.conftest import TEST_MASTER_KEY
from tests.db.test_analysis_frame import add_case
from tests.factories import make_account, make_unit
from tests.support.db import audits, scalar


@pytest.fixture
def cli() -> typer.Typer:
    app = typer.Typer()
    register(app)
    return app


@pytest.fixture
def database(fresh_database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("ISU_DATABASE_URL", fresh_database_url)
    monkeypatch.setenv("ISU_MASTER_KEY", TEST_MASTER_KEY)
    get_settings.cache_clear()
    engine = make_engine(fresh_database_url)
    with transaction(make_session_factory(engine)) as session:
        unit = make_unit(session, "0114")
        author = make_account(session, "coordinator", municipality="0114").user.id
        for sex in (1, 1, 2):
            add_case(session, unit, author, actualised_on=date(2025, 3, 1), values={"sex": sex})
        with_intervention = add_case(
            session, unit, author, actualised_on=date(2025, 4, 1), values={"sex": 1}
        )
        session.add(
            Intervention(
                case_id=with_intervention.id,
                start_on=date(2025, 4, 2),
                type_code=4,
                grounds_code=1,
            )
        )
    engine.dispose()
    yield fresh_database_url
    get_settings.cache_clear()


def test_import_population_then_export(cli: typer.Typer, database: str, tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "kolada.json"
    result = runner.invoke(
        cli, ["export", "kolada", "--year", "2025", "--out", str(out)], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(out.read_text(encoding="utf-8"))
    first = doc["values"][0]["values"][0]
    # The packaged figures are for 2019 only: no 2025 denominator yet.
    assert (first["value"], first["isu"]["numerator"], first["isu"]["reason"]) == (
        None,
        4,
        "population_missing",
    )

    extract = tmp_path / "n02104.json"
    extract.write_text(
        json.dumps(
            {
                "values": [
                    {
                        "kpi": "N02104",
                        "municipality": "0114",
                        "period": 2025,
                        "values": [
                            {"gender": "T", "value": 40000},
                            {"gender": "K", "value": 20000},
                            {"gender": "M", "value": 20000},
                        ],
                    }
                ]
            }
        ),
        encoding="utf-8",
    )
    result = runner.invoke(
        cli, ["population", "import", str(extract), "--source", "Kolada N02104, uttag 2026-03-01"]
    )
    assert result.exit_code == 0, result.output
    assert scalar(database, select(func.count()).select_from(PopulationFigure)) == 3
    assert audits(database, "population.import") == 1

    result = runner.invoke(cli, ["export", "kolada", "--year", "2025", "--out", str(out)])
    assert result.exit_code == 0, result.output
    doc = json.loads(out.read_text(encoding="utf-8"))
    values = {e["kpi"]: e["values"][0] for e in doc["values"]}
    # 4 adults opened in 2025 / 40 000 × 10 000 = 1.0; 1 with an intervention = 0.25 -> 0.3.
    assert (values["U30750"]["value"], values["U30750"]["isu"]["population"]) == (1.0, 40000)
    assert values["U30751"]["value"] == 0.3
    assert values["U30752"]["value"] == 0.0
    assert "Kolada N02104" in doc["meta"]["population_sources"]["2025"]

    xlsx = tmp_path / "kolada.xlsx"
    result = runner.invoke(
        cli,
        ["export", "kolada", "--year", "2025", "--out", str(xlsx), "--format", "xlsx",
         "--choice", "counting=cases"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    book = load_workbook(io.BytesIO(xlsx.read_bytes()))
    assert book["Nyckeltal"].cell(2, 12).value == 1.0
    assert audits(database, "export.kolada") == 3

    result = runner.invoke(cli, ["export", "indicator", "A", "--as-of", "2025-12-31"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    total = doc["areas"][0]["values"][0]
    assert (total["numerator"], total["denominator"], total["value"]) == (1, 4, 25.0)
    assert audits(database, "export.indicator") == 1


def test_bad_input_exits_non_zero_and_changes_nothing(
    cli: typer.Typer, database: str, tmp_path: Path
) -> None:
    runner = CliRunner()
    bad = tmp_path / "bad.csv"
    bad.write_text("kommunkod,year,sex,population\n0114,2025,T,10\n0114,2025,K,4\n", "utf-8")
    bad.write_text(bad.read_text("utf-8") + "0114,2025,M,5\n", "utf-8")
    result = runner.invoke(cli, ["population", "import", str(bad), "--source", "SCB"])
    assert result.exit_code == 2
    assert scalar(database, select(func.count()).select_from(PopulationFigure)) == 0
    result = runner.invoke(
        cli, ["export", "kolada", "--year", "2025", "--out", str(tmp_path / "x"), "--choice", "x=y"]
    )
    assert result.exit_code == 2
    assert not (tmp_path / "x").exists()
    assert audits(database, "export.kolada") == 0
