"""One Settings object, read from the environment (prefix ``ISU_``) and ``.env``."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

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

    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


@cache
def get_settings() -> Settings:
    return Settings()
