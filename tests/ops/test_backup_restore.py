"""ACCEPTANCE C6: `isu backup` while writers commit, restore into an empty
database (both engines). Every case acknowledged before the backup started is
restored as acknowledged; the audit chain verifies; the backup holds no
plaintext; a missing or wrong master key, or a copy that does not match its
manifest, restores nothing."""

from __future__ import annotations

import gc
import json
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select, text, update
from typer.testing import CliRunner

from app.backup.checks import decrypt_sample
from app.backup.manifest import BackupError
from app.backup.postgres import tool
from app.cli import app as cli
from app.config import get_settings
from app.db import make_engine, transaction
from app.main import create_app
from app.models import Case
from app.security.crypto import MasterKey
from app.security.keyring import Keyring
from tests.conftest import TEST_MASTER_KEY, make_settings
from tests.factories import PNR, Account, case_body, make_account, make_unit
from tests.support.postgres import Server, drop_database

pytestmark = pytest.mark.concurrency

runner = CliRunner()
WRITERS = 2
MAX_CASES_PER_WRITER = 40
BEFORE_BACKUP = 8
AFTER_BACKUP = 4
TIMEOUT = 120
PNR_FORMS = ("19121212-1212", "191212121212", "121212-1212", "1212121212")


@dataclass
class Acks:
    """Every state of a case a client got a 2xx for, in order."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    states: dict[str, list[tuple[int, dict[str, str]]]] = field(default_factory=dict)
    count: int = 0
    errors: list[str] = field(default_factory=list)

    def add(self, case_id: str, version: int, comments: dict[str, str]) -> None:
        with self.lock:
            self.states.setdefault(case_id, []).append((version, comments))
            self.count += 1

    def latest(self) -> dict[str, tuple[int, dict[str, str]]]:
        with self.lock:
            return {case_id: states[-1] for case_id, states in self.states.items()}

    def texts(self) -> list[str]:
        with self.lock:
            return [t for states in self.states.values() for _, c in states for t in c.values()]


def write_cases(api: FastAPI, worker: Account, acks: Acks, stop: threading.Event, n: int) -> None:
    client = TestClient(api, raise_server_exceptions=False)
    for i in range(MAX_CASES_PER_WRITER):
        if stop.is_set():
            return
        first = {"origin": f"hemlig kommentar {n}-{i} före"}
        created = client.post(
            "/api/v1/cases",
            json=case_body(client_id=PNR, comments=first),
            headers=worker.headers,
        )
        if created.status_code != 201:
            acks.errors.append(f"create {created.status_code}")
            return
        case_id = created.json()["id"]
        acks.add(case_id, 1, first)
        second = {"origin": f"hemlig kommentar {n}-{i} efter"}
        patched = client.patch(
            f"/api/v1/cases/{case_id}",
            json={"comments": second},
            headers={**worker.headers, "If-Match": '"1"'},
        )
        if patched.status_code != 200:
            acks.errors.append(f"patch {patched.status_code}")
            return
        acks.add(case_id, 2, second)


def wait_for(condition: Any, what: str) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


@pytest.fixture
def source(fresh_database_url: str) -> Iterator[tuple[str, FastAPI]]:
    api = create_app(make_settings(fresh_database_url, kodnyckel_municipalities=["0180"]))
    yield fresh_database_url, api
    api.state.engine.dispose()


@pytest.fixture
def target_url(engine_name: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Where the restore goes: a database that does not exist yet."""
    if engine_name == "sqlite":
        yield f"sqlite:///{tmp_path / 'restored' / 'isu.sqlite3'}"
        return
    server: Server = request.getfixturevalue("pg_server")
    base, _, _ = server.admin_url.rpartition("/")
    url = f"{base}/isu_test_restored_{uuid.uuid4().hex[:10]}"
    yield url
    drop_database(server, url)


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    for name in ("ISU_MASTER_KEY_FILE", "ISU_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ISU_MODE", "production")
    monkeypatch.setenv("ISU_MASTER_KEY", TEST_MASTER_KEY)
    get_settings.cache_clear()
    yield monkeypatch
    get_settings.cache_clear()


def invoke(env: pytest.MonkeyPatch, args: list[str], **variables: str | None) -> Any:
    for name, value in variables.items():
        if value is None:
            env.delenv(name, raising=False)
        else:
            env.setenv(name, value)
    get_settings.cache_clear()
    return runner.invoke(cli, args)


def leftovers(engine_name: str, target: str) -> list[str]:
    """Staging copies a failed restore might have left behind."""
    if engine_name == "sqlite":
        directory = Path(target.removeprefix("sqlite:///")).parent
        return sorted(p.name for p in directory.glob("*")) if directory.exists() else []
    name = target.rpartition("/")[2]
    engine = make_engine(target.rpartition("/")[0] + "/postgres")
    try:
        with engine.connect() as conn:
            return list(
                conn.scalars(
                    text("SELECT datname FROM pg_database WHERE datname LIKE :p"),
                    {"p": f"{name}%"},
                )
            )
    finally:
        engine.dispose()


def test_backup_while_writing_then_restore_into_an_empty_database(
    engine_name: str,
    source: tuple[str, FastAPI],
    target_url: str,
    tmp_path: Path,
    cli_env: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
) -> None:
    source_url, api = source
    with transaction(api.state.session_factory) as session:
        worker = make_account(session, "caseworker", unit=make_unit(session, "0180"))

    # Writers commit while the backup runs.
    acks, stop = Acks(), threading.Event()
    threads = [
        threading.Thread(target=write_cases, args=(api, worker, acks, stop, n))
        for n in range(WRITERS)
    ]
    for t in threads:
        t.start()
    try:
        wait_for(lambda: acks.count >= BEFORE_BACKUP or acks.errors, "writes before the backup")
        before = acks.latest()
        made = invoke(cli_env, ["backup", str(tmp_path / "backups")], ISU_DATABASE_URL=source_url)
        assert made.exit_code == 0, made.output
        after_backup = acks.count
        wait_for(
            lambda: acks.count >= after_backup + AFTER_BACKUP or acks.errors,
            "writes after the backup",
        )
    finally:
        stop.set()
        for t in threads:
            t.join(TIMEOUT)
    assert acks.errors == []
    assert len(before) >= BEFORE_BACKUP // 2

    # Owner-only files, a manifest, and no plaintext anywhere in them.
    [backup] = list((tmp_path / "backups").iterdir())
    assert backup.stat().st_mode & 0o777 == 0o700
    manifest = json.loads((backup / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["engine"] == engine_name
    assert manifest["created_at"].endswith("Z")
    assert manifest["row_counts"]["cases"] >= len(before)
    assert manifest["master_key_ids"] == [MasterKey.from_text(TEST_MASTER_KEY).key_id]
    assert {k["purpose"] for k in manifest["keys"]} == {"pseudonym", "data"}
    assert "wrapped_key" not in json.dumps(manifest)
    raw = b""
    for path in backup.iterdir():
        assert path.stat().st_mode & 0o777 == 0o600, path.name
        raw += path.read_bytes()
    if engine_name == "postgresql":
        dump = backup / "database.pgdump"
        plain = subprocess.run(
            [tool("pg_restore"), "-f", "-", str(dump)], capture_output=True, check=True
        ).stdout
        assert b"COPY public.cases" in plain
        raw += plain
    secrets = [*acks.texts(), *PNR_FORMS, "hemlig kommentar"]
    assert [s for s in secrets if s.encode() in raw] == []

    # Without the master key, or with another one: fails loudly, writes nothing.
    missing = invoke(cli_env, ["restore", str(backup), "--to", target_url], ISU_MASTER_KEY=None)
    assert missing.exit_code == 2, missing.output
    assert "Huvudnyckel saknas" in missing.output
    wrong = invoke(
        cli_env,
        ["restore", str(backup), "--to", target_url],
        ISU_MASTER_KEY=MasterKey.generate().to_text(),
    )
    assert wrong.exit_code == 2, wrong.output
    assert manifest["master_key_ids"][0] in wrong.output
    assert leftovers(engine_name, target_url) == []

    # A copy that does not match its manifest is checked in staging and dropped.
    altered = tmp_path / "altered"
    altered.mkdir()
    for path in backup.iterdir():
        (altered / path.name).write_bytes(path.read_bytes())
    lying = dict(manifest, row_counts={**manifest["row_counts"], "cases": 1})
    (altered / "manifest.json").write_text(json.dumps(lying), encoding="utf-8")
    refused = invoke(
        cli_env, ["restore", str(altered), "--to", target_url], ISU_MASTER_KEY=TEST_MASTER_KEY
    )
    assert refused.exit_code == 1, refused.output
    assert "cases" in refused.output
    assert leftovers(engine_name, target_url) == []

    # The real restore.
    restored = invoke(cli_env, ["restore", str(backup), "--to", target_url])
    assert restored.exit_code == 0, restored.output
    assert "stickprov" in restored.output
    sample = int(restored.output.split("krypterade texter")[0].split()[-1])
    assert sample >= 2  # comments and kodnyckel entries were decrypted

    # The restored chain verifies and ends at the manifest's anchor (before any read
    # below adds events to it).
    verified = invoke(cli_env, ["audit", "verify"], ISU_DATABASE_URL=target_url)
    assert verified.exit_code == 0, verified.output
    assert manifest["audit"]["last_hash"] in verified.output

    # Every case acknowledged before the backup started is there, as acknowledged
    # then or later (a write acknowledged during the backup may be in it too).
    copy = create_app(make_settings(target_url, kodnyckel_municipalities=["0180"]))
    try:
        client = TestClient(copy, raise_server_exceptions=False)
        for case_id, (version, _comments) in before.items():
            r = client.get(f"/api/v1/cases/{case_id}", headers=worker.headers)
            assert r.status_code == 200, r.text
            comments = {k: v for k, v in r.json()["comments"].items() if v is not None}
            found = (r.json()["version"], comments)
            assert found[0] >= version
            assert found in acks.states[case_id]
        listed = client.get("/api/v1/cases?limit=200", headers=worker.headers)
        assert listed.status_code == 200
    finally:
        copy.state.engine.dispose()

    # The restored database is no longer empty: no second restore over it without --force.
    again = invoke(cli_env, ["restore", str(backup), "--to", target_url])
    assert again.exit_code == 1, again.output
    assert "--force" in again.output

    # With --force it is replaced (PostgreSQL keeps the old database aside).
    gc.collect()  # the CLI's engines above are unreferenced; close their connections
    forced = invoke(cli_env, ["restore", str(backup), "--to", target_url, "--force"])
    assert forced.exit_code == 0, forced.output
    if engine_name == "postgresql":
        name = target_url.rpartition("/")[2]
        [aside] = [n for n in leftovers(engine_name, target_url) if n != name]
        assert aside in " ".join(forced.output.split())
        drop_database(request.getfixturevalue("pg_server"), target_url.replace(name, aside))
    assert leftovers(engine_name, target_url) == (
        ["isu.sqlite3"] if engine_name == "sqlite" else [target_url.rpartition("/")[2]]
    )


def test_decrypt_sample_refuses_a_ciphertext_the_key_does_not_open(
    fresh_database_url: str,
) -> None:
    api = create_app(make_settings(fresh_database_url))
    try:
        with transaction(api.state.session_factory) as session:
            worker = make_account(session, "caseworker", unit=make_unit(session, "0180"))
        client = TestClient(api, raise_server_exceptions=False)
        for i in range(2):
            r = client.post(
                "/api/v1/cases",
                json=case_body(client_id=f"klient-{i}", comments={"origin": f"text {i}"}),
                headers=worker.headers,
            )
            assert r.status_code == 201, r.text
        keyring = Keyring(MasterKey.from_text(TEST_MASTER_KEY))
        with api.state.session_factory() as session:
            assert decrypt_sample(session, keyring) == 2
        with transaction(api.state.session_factory) as session:
            blob = session.scalars(select(Case.comments_ciphertext).limit(1)).one()
            assert blob is not None
            session.execute(
                update(Case)
                .where(Case.comments_ciphertext == blob)
                .values(comments_ciphertext=blob[:-1] + bytes([blob[-1] ^ 1]))
            )
        with api.state.session_factory() as session, pytest.raises(BackupError) as caught:
            decrypt_sample(session, keyring)
        assert caught.value.exit_code == 2
        assert "Inget har ändrats" in str(caught.value)
    finally:
        api.state.engine.dispose()
