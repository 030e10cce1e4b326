"""One Settings object, read from the environment (prefix ``ISU_``) and ``.env``."""

from __future__ import annotations

import ipaddress
import json
from functools import cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE = PROJECT_ROOT / "var" / "isu.sqlite3"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ISU_", env_file=".env", extra="ignore")

    database_url: str = f"sqlite:///{DEFAULT_DATABASE}"
    mode: Literal["dev", "production"] = "production"
    """In dev mode a master key file is created when none exists; never otherwise."""
    master_key: str | None = Field(default=None, repr=False)
    master_key_file: Path | None = None
    catalogue_dir: Path = PROJECT_ROOT / "variables"
    max_body_bytes: int = 1_000_000
    auth_failure_limit: int = 10
    """Failed authentications per client address and window before 429."""
    auth_failure_window_seconds: int = 60
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
