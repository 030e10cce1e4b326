"""Loading the master key: from ISU_MASTER_KEY, or a key file.

Outside dev mode a missing or unreadable key stops the service with a clear
message; only dev mode (``make run``) creates a key file, and says so.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from app.config import PROJECT_ROOT, Settings
from app.security.crypto import KeyConfigurationError, MasterKey

log = logging.getLogger("isu.keys")

DEV_KEY_FILE = PROJECT_ROOT / "var" / "master.key"


def load_master_key(settings: Settings) -> MasterKey:
    if settings.master_key:
        return MasterKey.from_text(settings.master_key)
    path = settings.master_key_file
    if path is None and settings.mode == "dev":
        path = DEV_KEY_FILE
        if not path.exists():
            _create_key_file(path)
            log.warning("dev_master_key_created", extra={"path": str(path)})
    if path is None:
        raise KeyConfigurationError(
            "Huvudnyckel saknas: ange ISU_MASTER_KEY eller ISU_MASTER_KEY_FILE. "
            "(Master key missing: set ISU_MASTER_KEY or ISU_MASTER_KEY_FILE.)"
        )
    try:
        text = Path(path).read_text(encoding="ascii").strip()
    except OSError:
        raise KeyConfigurationError(
            "Nyckelfilen kan inte läsas. (The master key file cannot be read.)"
        ) from None
    return MasterKey.from_text(text)


def _create_key_file(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(MasterKey.generate().to_text() + "\n")
