"""One Settings object, read from the environment (prefix ``ISU_``) and ``.env``."""

from __future__ import annotations

import ipaddress
import json
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
"""The checkout (an editable install); for an installed wheel, site-packages."""
BUNDLED = "_bundled"
"""Where a wheel carries ``variables/``, ``migrations/`` and ``alembic.ini``
(copied into the package at build time by setup.py)."""


def _bundled_dir() -> Path:
    return Path(str(files("app").joinpath(BUNDLED)))


def is_checkout() -> bool:
    """True when running from the source tree (no bundled resources)."""
    return not _bundled_dir().is_dir()


def resource_path(name: str) -> Path:
    """``variables``, ``migrations`` or ``alembic.ini``: the copy bundled in the
    installed package, else the one at the top of the checkout."""
    bundled = _bundled_dir() / name
    return bundled if bundled.exists() else PROJECT_ROOT / name


def default_data_dir() -> Path:
    """``var/`` of the checkout; for an installed wheel ``./var/`` in the current
    directory (never inside site-packages)."""
    return PROJECT_ROOT / "var" if is_checkout() else Path.cwd() / "var"


def _default_database_url() -> str:
    return f"sqlite:///{default_data_dir() / 'isu.sqlite3'}"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ISU_", env_file=".env", extra="ignore")

    database_url: str = Field(default_factory=_default_database_url)
    mode: Literal["dev", "production"] = "production"
    """In dev mode a master key file is created when none exists; never otherwise."""
    master_key: str | None = Field(default=None, repr=False)
    master_key_file: Path | None = None
    catalogue_dir: Path = Field(default_factory=lambda: resource_path("variables"))
    max_body_bytes: int = 1_000_000
    auth_failure_limit: int = 10
    """Failed authentications per client address and window before 429."""
    auth_failure_window_seconds: int = 60
    background_tasks: bool = True
    """The server's maintenance thread (app/maintenance.py): spooled audit writes,
    sealing, purges. Off, the same work happens inline or on demand (tests)."""
    audit_flush_interval_ms: int = 200
    """Read-only requests' audit events wait at most this long in memory."""
    audit_seal_interval_seconds: float = 2.0
    audit_seal_max_age_seconds: int = 300
    """``isu audit verify`` fails when an event has waited longer than this for its seal."""
    idempotency_ttl_hours: int = 24
    """An Idempotency-Key is remembered this long; a retry after that runs again."""
    db_lock_timeout_ms: int = 3000
    """An API request waits this long for a lock (SQLite busy_timeout, PostgreSQL
    lock_timeout), then answers 503 with Retry-After."""
    db_statement_timeout_ms: int = 30_000
    db_pool_size: int = 10
    db_max_overflow: int = 10
    suppression_threshold: int = 7
    hub_private_key_file: Path | None = None
    """National hub only: X25519 private key for packages sealed to the hub."""
    kodnyckel_municipalities: list[str] = []
    """Municipalities that keep a kodnyckel (pseudonym -> identifier), e.g. ["0180"]."""
    log_format: Literal["json", "text"] | None = None
    """Log lines as JSON objects or text; unset: JSON for ``isu serve``, text otherwise."""
    trusted_proxies: Annotated[list[str], NoDecode] = []
    """Addresses/networks of reverse proxies whose X-Forwarded-For/-Proto are
    believed (comma-separated or a JSON list). Empty: no proxy header is."""
    metrics_token: str | None = Field(default=None, repr=False, min_length=32)
    """Bearer token that /metrics requires; unset: /metrics answers 404."""
    readiness_timeout_seconds: float = Field(default=2.0, gt=0, le=30)
    """How long /readyz waits for the database before answering 503."""

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _split_proxies(cls, value: object) -> object:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [part.strip() for part in text.split(",") if part.strip()]
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _check_proxies(cls, value: list[str]) -> list[str]:
        for entry in value:
            ipaddress.ip_network(entry, strict=False)  # ValueError names the bad entry
        return value

    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


@cache
def get_settings() -> Settings:
    return Settings()
