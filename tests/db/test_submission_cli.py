"""`isu export skr`, `isu submit` and `isu submissions keygen|open|receive` on
a committed database (both engines): the package is written and audited,
sealed when asked, sent with the municipality's token, and received by the
hub's operator from a file; a tampered file is refused and audited."""

from __future__ import annotations

import functools
import io
import json
import zipfile
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
import typer
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from typer.testing import CliRunner

from app.config import get_settings
from app.db import make_engine, make_session_factory, transaction
from app.main import create_app
from app.models import Intervention, Submission
from app.submissions import cli as submissions_cli
from app.submissions.client import send_package
from app.submissions.router import router as submissions_router
from tests.api.test_submissions_p8 import ensure_router
from tests.conftest import TEST_MASTER_KEY, make_settings
from tests.db.test_analysis_frame import add_case
from tests.factories import make_account, make_unit
from tests.support.db import audits, scalar


@pytest.fixture
def cli() -> typer.Typer:
    app = typer.Typer()
    submissions_cli.register(app)
    return app


@pytest.fixture
def database(fresh_database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("ISU_DATABASE_URL", fresh_database_url)
    monkeypatch.setenv("ISU_MASTER_KEY", TEST_MASTER_KEY)
    get_settings.cache_clear()
    engine = make_engine(fresh_database_url)
    with transaction(make_session_factory(engine)) as session:
        unit = make_unit(session, "0180", district="0180-02")
        author = make_account(session, "coordinator", municipality="0180").user.id
        first = add_case(session, unit, author, actualised_on=date(2025, 2, 1), values={"sex": 1})
        add_case(session, unit, author, actualised_on=date(2025, 3, 1), values={"sex": 2})
        add_case(session, unit, author, actualised_on=date(2024, 3, 1), values={"sex": 2})
        session.add(
            Intervention(case_id=first.id, start_on=date(2025, 2, 2), type_code=4, grounds_code=1)
        )
    engine.dispose()
    yield fresh_database_url
    get_settings.cache_clear()


def test_export_seal_open_and_receive(cli: typer.Typer, database: str, tmp_path: Path) -> None:
    runner = CliRunner()
    plain = tmp_path / "skr-2025.zip"
    result = runner.invoke(cli, ["export", "skr", "--period", "2025", "--out", str(plain)])
    assert result.exit_code == 0, result.output
    manifest = json.loads(zipfile.ZipFile(plain).read("manifest.json"))
    assert (manifest["municipality_code"], manifest["counts"]["cases"]) == ("0180", 2)
    assert manifest["counts"]["interventions"] == 1
    assert audits(database, "export.skr") == 1

    result = runner.invoke(cli, ["submissions", "keygen", "--out-dir", str(tmp_path / "keys")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "keys" / "skr.key").stat().st_mode & 0o777 == 0o600
    sealed = tmp_path / "skr-2025.isupkg"
    result = runner.invoke(
        cli,
        ["export", "skr", "--period", "2025", "--out", str(sealed),
         "--encrypt-to", str(tmp_path / "keys" / "skr.pub")],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert not sealed.read_bytes().startswith(b"PK")
    opened = tmp_path / "opened.zip"
    result = runner.invoke(
        cli,
        ["submissions", "open", str(sealed), "--key", str(tmp_path / "keys" / "skr.key"),
         "--out", str(opened)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert json.loads(zipfile.ZipFile(opened).read("manifest.json"))["period"] == "2025"

    # The hub's operator receives the sealed file that came by another channel.
    key = str(tmp_path / "keys" / "skr.key")
    result = runner.invoke(cli, ["submissions", "receive", str(sealed), "--key", key])
    assert result.exit_code == 0, result.output
    assert "version 1" in result.output
    result = runner.invoke(cli, ["submissions", "receive", str(sealed), "--key", key])
    assert result.exit_code == 0, result.output
    assert "ingen ändring" in result.output
    assert scalar(database, select(func.count()).select_from(Submission)) == 1

    files = {n: zipfile.ZipFile(plain).read(n) for n in zipfile.ZipFile(plain).namelist()}
    files["cases.csv"] = files["cases.csv"].replace(b",2025-03-01,", b",2025-03-02,")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, body in files.items():
            archive.writestr(name, body)
    tampered = tmp_path / "tampered.zip"
    tampered.write_bytes(buffer.getvalue())
    result = runner.invoke(cli, ["submissions", "receive", str(tampered)])
    assert result.exit_code == 2
    assert "/files/cases.csv/sha256" in result.output
    assert scalar(database, select(func.count()).select_from(Submission)) == 1
    assert audits(database, "submission.rejected") == 1


def test_submit_sends_with_the_token(
    cli: typer.Typer, database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hub = create_app(make_settings(database))
    ensure_router(hub, submissions_router, "list_submissions", "/api/v1/submissions")
    with transaction(hub.state.session_factory) as session:
        token = make_account(session, "coordinator", municipality="0180").token
    runner = CliRunner()
    package = tmp_path / "skr.zip"
    assert (
        runner.invoke(cli, ["export", "skr", "--period", "2025", "--out", str(package)]).exit_code
        == 0
    )
    with TestClient(hub) as http:
        monkeypatch.setattr(
            submissions_cli, "send_package", functools.partial(send_package, client=http)
        )
        args = ["submit", str(package), "--to", "http://testserver", "--allow-http"]
        result = runner.invoke(cli, args)
        assert result.exit_code == 2
        assert "ISU_SUBMISSION_TOKEN" in result.output
        result = runner.invoke(cli, args, env={"ISU_SUBMISSION_TOKEN": token})
        assert result.exit_code == 0, result.output
        assert "version 1" in result.output
        assert token not in result.output
        result = runner.invoke(cli, args, env={"ISU_SUBMISSION_TOKEN": token})
        assert (result.exit_code, "ingen ändring" in result.output) == (0, True)
        result = runner.invoke(
            cli,
            ["submit", str(package), "--to", "http://nav.example.se"],
            env={"ISU_SUBMISSION_TOKEN": token},
        )
        assert (result.exit_code, "HTTPS" in result.output) == (2, True)
    hub.state.engine.dispose()
    assert scalar(database, select(func.count()).select_from(Submission)) == 1


def test_several_municipalities_need_one_named(
    cli: typer.Typer, database: str, tmp_path: Path
) -> None:
    engine = make_engine(database)
    with transaction(make_session_factory(engine)) as session:
        unit = make_unit(session, "0114")
        author = make_account(session, "coordinator", municipality="0114").user.id
        add_case(session, unit, author, actualised_on=date(2025, 2, 1))
    engine.dispose()
    out = tmp_path / "x.zip"
    result = CliRunner().invoke(cli, ["export", "skr", "--period", "2025", "--out", str(out)])
    assert result.exit_code == 2
    assert not out.exists()
    result = CliRunner().invoke(
        cli, ["export", "skr", "--period", "2025", "--out", str(out), "--municipality", "0114"]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(zipfile.ZipFile(out).read("manifest.json"))["counts"]["cases"] == 1
    result = CliRunner().invoke(cli, ["export", "skr", "--period", "25", "--out", str(out)])
    assert result.exit_code == 2
    assert audits(database, "export.skr") == 1
