"""The built wheel runs outside the checkout: variables/, migrations/ and
alembic.ini travel inside the package, and the default database is ./var/ of
the current directory, never site-packages."""

from __future__ import annotations

import json
import os
import site
import sqlite3
import subprocess
import sys
from pathlib import Path

from app.config import PROJECT_ROOT


def _run(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, check=False)


def _clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ISU_")}
    env.pop("PYTHONPATH", None)
    return env


def test_wheel_migrates_and_reads_the_catalogue_outside_the_checkout(tmp_path: Path) -> None:
    env = _clean_env()
    wheels = tmp_path / "wheels"
    built = _run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            str(PROJECT_ROOT),
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(wheels),
        ],
        cwd=tmp_path,
        env=env,
    )
    assert built.returncode == 0, built.stderr
    [wheel] = list(wheels.glob("isu_register-*.whl"))

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    # The dependencies come from this virtualenv's site-packages (a plain path
    # entry: its .pth files, such as the editable install's finder, are not run).
    purelib = _run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        cwd=tmp_path,
        env=env,
    ).stdout.strip()
    Path(purelib, "deps.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    installed = _run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "--no-deps",
            "-q",
            str(wheel),
        ],
        cwd=tmp_path,
        env=env,
    )
    assert installed.returncode == 0, installed.stderr

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    where = _run([str(python), "-c", "import app; print(app.__file__)"], cwd=elsewhere, env=env)
    assert Path(where.stdout.strip()).is_relative_to(venv)

    isu = str(venv / "bin" / "isu")
    database = tmp_path / "data" / "isu.sqlite3"
    upgraded = _run(
        [isu, "db", "upgrade"],
        cwd=elsewhere,
        env={**env, "ISU_DATABASE_URL": f"sqlite:///{database}"},
    )
    assert upgraded.returncode == 0, upgraded.stderr
    with sqlite3.connect(database) as conn:
        tables = {
            row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
        }
        [(revision,)] = conn.execute("SELECT version_num FROM alembic_version").fetchall()
    assert {"cases", "audit_events", "municipality_keys", "submissions"} <= tables
    assert revision == _head_revision()

    catalogue = _run([isu, "variables", "--json"], cwd=elsewhere, env=env)
    assert catalogue.returncode == 0, catalogue.stderr
    ours = _run(
        [sys.executable, "-c", "from app.cli import main; main()", "variables", "--json"],
        cwd=PROJECT_ROOT,
        env=env,
    )
    assert json.loads(catalogue.stdout) == json.loads(ours.stdout)

    # Without ISU_DATABASE_URL the database is ./var/isu.sqlite3 of the current directory.
    default = _run([isu, "db", "upgrade"], cwd=elsewhere, env=env)
    assert default.returncode == 0, default.stderr
    assert (elsewhere / "var" / "isu.sqlite3").is_file()
    assert not list(venv.rglob("*.sqlite3"))


def _head_revision() -> str:
    from alembic.script import ScriptDirectory

    from app.cli import alembic_config

    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    assert head is not None
    return head
