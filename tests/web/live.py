"""The app served by uvicorn on a free 127.0.0.1 port, on a fresh migrated
database, with a unit, a caseworker and a coordinator who have passwords; and
headless Chromium (Debian's ``chromium`` + ``chromium-driver``) driven by
Selenium. Used by the browser tests (tests/web/test_web_browser.py)."""

from __future__ import annotations

import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import uvicorn
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

from app.auth.passwords import hash_password
from app.db import make_engine, make_session_factory, transaction
from app.main import create_app
from app.models import Unit
from app.units.service import create_unit, create_user
from tests.conftest import make_settings

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
PASSWORD = "ett långt lösenord 123"
CHROMIUM_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--disable-features=Translate,OptimizationHints,MediaRouter",
    "--window-size=1280,1000",
    "--lang=sv-SE",
)


@dataclass(frozen=True)
class LiveApp:
    url: str
    unit: str
    caseworker: str
    coordinator: str
    password: str = PASSWORD


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _people(database_url: str) -> tuple[str, str, str]:
    engine = make_engine(database_url)
    try:
        with transaction(make_session_factory(engine)) as session:
            unit: Unit = create_unit(
                session,
                name="Relationsvåldsteamet",
                kind="myndighet",
                municipality_code="0180",
                district_code=None,
            )
            worker, _ = create_user(
                session,
                username="handlaggare",
                role="caseworker",
                municipality_code="0180",
                unit_id=unit.id,
                county_code=None,
            )
            coordinator, _ = create_user(
                session,
                username="samordnare",
                role="coordinator",
                municipality_code="0180",
                unit_id=None,
                county_code=None,
            )
            worker.password_hash = hash_password(PASSWORD)
            coordinator.password_hash = hash_password(PASSWORD)
            return unit.name, worker.username, coordinator.username
    finally:
        engine.dispose()


@contextmanager
def serve(database_url: str) -> Iterator[LiveApp]:
    """Serve the app on ``database_url`` (already migrated) until the block ends."""
    unit, caseworker, coordinator = _people(database_url)
    api = create_app(make_settings(database_url))
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(api, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield LiveApp(f"http://127.0.0.1:{port}", unit, caseworker, coordinator)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        api.state.engine.dispose()


def missing_browser() -> str | None:
    """Why the browser cannot run here, with the command that fixes it."""
    missing = [p.name for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    if not missing:
        return None
    return (
        f"{', '.join(missing)} missing: run `sh tests/web/install-browser.sh` "
        "(as root: apt-get install -y chromium chromium-driver)"
    )


@contextmanager
def chromium(download_dir: Path) -> Iterator[webdriver.Chrome]:
    """Headless Chromium with a fresh profile; downloads go to ``download_dir``."""
    problem = missing_browser()
    if problem is not None:
        raise RuntimeError(problem)
    profile = Path(tempfile.mkdtemp(prefix="isu-chromium-"))
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    options.add_experimental_option(
        "prefs",
        {
            "download.default_directory": str(download_dir),
            "download.prompt_for_download": False,
            "safebrowsing.enabled": False,
        },
    )
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    try:
        driver.execute_cdp_cmd(
            "Browser.setDownloadBehavior",
            {"behavior": "allow", "downloadPath": str(download_dir)},
        )
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
