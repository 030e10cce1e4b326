"""`isu export summary` (app.stats.cli.export_app): reads committed cases,
writes the file, audits the export; a county is protected."""

from __future__ import annotations

import json
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from app.config import get_settings
from app.db import make_engine, make_session_factory, transaction
from app.models import AuditEvent
from app.stats.cli import export_app
from tests.conftest import TEST_MASTER_KEY
from tests.db.test_analysis_frame import add_case
from tests.factories import make_account, make_unit


@pytest.fixture
def database(fresh_database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("ISU_DATABASE_URL", fresh_database_url)
    monkeypatch.setenv("ISU_MASTER_KEY", TEST_MASTER_KEY)
    get_settings.cache_clear()
    engine = make_engine(fresh_database_url)
    with transaction(make_session_factory(engine)) as session:
        unit = make_unit(session, "0180")
        author = make_account(session, "coordinator", municipality="0180").user.id
        for sex in (1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2):
            add_case(session, unit, author, values={"sex": sex})
    engine.dispose()
    yield fresh_database_url
    get_settings.cache_clear()


def exports(url: str) -> int:
    engine = make_engine(url)
    try:
        with make_session_factory(engine)() as session:
            return (
                session.scalar(
                    select(func.count())
                    .select_from(AuditEvent)
                    .where(AuditEvent.action == "export.summary")
                )
                or 0
            )
    finally:
        engine.dispose()


def run(*args: str) -> object:
    return CliRunner().invoke(
        export_app, ["summary", "--from", "2023-01-01", "--to", "2023-12-31", *args]
    )


def test_export_municipality_json_county_csv_and_partial_year(
    database: str, tmp_path: Path
) -> None:
    out = tmp_path / "kommun.json"
    result = run("--municipality", "0180", "--format", "json", "--out", str(out))
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert doc["meta"]["protected"] is False
    sex = next(t for t in doc["tables"] if t["id"] == "sex")
    assert [r["n"] for r in sex["rows"]] == [3, 8, 0]
    assert exports(database) == 1

    out = tmp_path / "lan.zip"
    result = run("--county", "01", "--format", "csv", "--out", str(out))
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    text = zipfile.ZipFile(out).read("sex.csv").decode("utf-8-sig")
    women = [line for line in text.splitlines() if ",1,Kvinna," in line]
    assert women
    assert all(",..," in line for line in women)
    assert exports(database) == 2

    # A protected export must cover whole calendar years: refused, nothing written.
    out = tmp_path / "x.json"
    result = CliRunner().invoke(
        export_app,
        [
            "summary",
            "--from",
            "2023-02-01",
            "--to",
            "2023-12-31",
            "--county",
            "01",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 2
    assert not out.exists()
    assert exports(database) == 2


def test_charts_go_to_a_folder_or_a_zip_when_the_name_says_so(
    database: str, tmp_path: Path
) -> None:
    folder = tmp_path / "diagram"
    args = ("--municipality", "0180", "--tables", "funnel,sex")
    result = run(*args, "--format", "png", "--out", f"{folder}/")
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    assert folder.is_dir()
    names = sorted(p.name for p in folder.iterdir())
    assert names == ["diagram-01-funnel.png", "diagram-02-sex.png"]
    assert (folder / "diagram-02-sex.png").read_bytes().startswith(b"\x89PNG")

    archive = tmp_path / "diagram.zip"
    result = run(*args, "--format", "svg", "--out", str(archive))
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    with zipfile.ZipFile(archive) as zipped:
        assert sorted(zipped.namelist()) == ["diagram-01-funnel.svg", "diagram-02-sex.svg"]
        assert b"Stockholms kommun" in zipped.read("diagram-02-sex.svg")

    # An existing file that is not a zip is not silently replaced by a folder.
    plain = tmp_path / "diagram.txt"
    plain.write_text("x", encoding="utf-8")
    result = run(*args, "--format", "png", "--out", str(plain))
    assert result.exit_code == 2  # type: ignore[attr-defined]
    assert plain.read_text(encoding="utf-8") == "x"
