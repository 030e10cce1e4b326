"""A real ``isu serve`` subprocess on a free port, and accounts to call it with."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from app.db import make_engine, make_session_factory, transaction
from tests.conftest import TEST_MASTER_KEY
from tests.factories import make_account, make_unit

STARTUP_SECONDS = 120  # a wait for the server, not an assertion about speed


@dataclass(frozen=True)
class Caseworker:
    user_id: str
    token: str


@dataclass
class Served:
    url: str
    stderr: Path
    process: subprocess.Popen[bytes]

    def log_lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.stderr.read_text().splitlines()]


def caseworker(database_url: str) -> Caseworker:
    engine = make_engine(database_url)
    try:
        with transaction(make_session_factory(engine)) as session:
            account = make_account(session, "caseworker", unit=make_unit(session, "0180"))
            return Caseworker(str(account.user.id), account.token)
    finally:
        engine.dispose()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def serve_environment(database_url: str, tmp_path: Path, **settings: str) -> dict[str, str]:
    """The environment of an ``isu`` subprocess on ``database_url``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ISU_", "PROMETHEUS_"))}
    env.update(
        ISU_DATABASE_URL=database_url,
        ISU_MASTER_KEY=TEST_MASTER_KEY,
        ISU_MODE="production",
        TMPDIR=str(tmp_path),
        **{f"ISU_{name.upper()}": value for name, value in settings.items()},
    )
    return env


@contextmanager
def isu_serve(
    database_url: str, tmp_path: Path, *, workers: int = 1, **settings: str
) -> Iterator[Served]:
    """``isu serve`` on a free port, stopped with SIGTERM when the block ends
    (unless the test killed it)."""
    env = serve_environment(database_url, tmp_path, **settings)
    port = free_port()
    stderr = tmp_path / "serve.stderr"
    command = [sys.executable, "-c", "from app.cli import main; main()", "serve"]
    command += ["--port", str(port), "--workers", str(workers)]
    with stderr.open("wb") as err:
        process = subprocess.Popen(
            command, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=err
        )
    served = Served(f"http://127.0.0.1:{port}", stderr, process)
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            assert process.poll() is None, stderr.read_text()
            try:
                if httpx.get(f"{served.url}/healthz", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "isu serve did not start"
            time.sleep(0.2)
        yield served
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
