"""A PostgreSQL server for the test suite.

Order: ``ISU_TEST_DATABASE_URL`` if set; else a server answering on
127.0.0.1:5432 (user postgres, trust auth); else a throwaway cluster started
from the machine's PostgreSQL binaries in a temporary directory (as the
``postgres`` user when run as root) and stopped afterwards. No server at all
is an error, never a skip.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psycopg

LOCAL_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


@dataclass
class Server:
    admin_url: str
    """URL of a maintenance database on the server (SQLAlchemy form)."""
    stop: Callable[[], None] | None = None


def _libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def _answers(url: str) -> bool:
    try:
        with psycopg.connect(_libpq(url), connect_timeout=3) as conn:
            conn.execute("SELECT 1")
        return True
    except psycopg.Error:
        return False


def _port_open(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex((host, port)) == 0


def _bindir() -> Path:
    candidates = []
    pg_config = shutil.which("pg_config")
    if pg_config:
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=False)
        candidates.append(out.stdout.strip())
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    initdb = shutil.which("initdb")
    if initdb:
        candidates.append(str(Path(initdb).parent))
    for directory in candidates:
        if (
            directory
            and (Path(directory) / "initdb").exists()
            and (Path(directory) / "pg_ctl").exists()
        ):
            return Path(directory)
    raise RuntimeError(
        "No PostgreSQL server answers and no PostgreSQL binaries (initdb, pg_ctl) were found. "
        "Install PostgreSQL (e.g. apt-get install postgresql) or set ISU_TEST_DATABASE_URL."
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _throwaway() -> Server:
    bindir = _bindir()
    root = Path(tempfile.mkdtemp(prefix="isu-pg-"))
    data = root / "data"
    as_postgres: list[str] = []
    if os.geteuid() == 0:
        # PostgreSQL refuses to run as root.
        shutil.chown(root, "postgres", "postgres")
        root.chmod(0o700)
        as_postgres = ["runuser", "-u", "postgres", "--"]
    port = _free_port()
    subprocess.run(
        [
            *as_postgres,
            str(bindir / "initdb"),
            "-D",
            str(data),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
        ],
        check=True,
        capture_output=True,
    )
    options = (
        f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=on -c synchronous_commit=on"
    )
    subprocess.run(
        [
            *as_postgres,
            str(bindir / "pg_ctl"),
            "-D",
            str(data),
            "-o",
            options,
            "-l",
            str(root / "log"),
            "-w",
            "start",
        ],
        check=True,
        capture_output=True,
    )

    def stop() -> None:
        subprocess.run(
            [*as_postgres, str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"],
            check=False,
            capture_output=True,
        )
        shutil.rmtree(root, ignore_errors=True)

    url = f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    for _ in range(50):
        if _answers(url):
            return Server(url, stop)
        time.sleep(0.2)
    stop()
    raise RuntimeError("The throwaway PostgreSQL cluster did not start.")


def acquire_server() -> Server:
    configured = os.environ.get("ISU_TEST_DATABASE_URL")
    if configured:
        if not _answers(configured):
            raise RuntimeError("ISU_TEST_DATABASE_URL is set but the server does not answer.")
        return Server(configured)
    if _port_open("127.0.0.1", 5432) and _answers(LOCAL_URL):
        return Server(LOCAL_URL)
    return _throwaway()


def create_database(server: Server) -> str:
    """A fresh, uniquely named database on the server; returns its URL."""
    name = f"isu_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(_libpq(server.admin_url), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base, _, _ = server.admin_url.rpartition("/")
    return f"{base}/{name}"


def drop_database(server: Server, url: str) -> None:
    name = url.rpartition("/")[2]
    with psycopg.connect(_libpq(server.admin_url), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
