"""Loading the master key: from ISU_MASTER_KEY, or a key file.

Outside dev mode a missing or unreadable key stops the service with a clear
message and nothing is generated. Only dev mode (``make run``) creates a key
file when none exists — at ``ISU_MASTER_KEY_FILE`` if set, else
``var/master.key`` — and logs that it did.
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
    if settings.mode == "dev":
        path = path or DEV_KEY_FILE
        if not path.exists():
            write_key_file(path, MasterKey.generate())
            log.warning("dev_master_key_created", extra={"path": str(path)})
    if path is None:
        raise KeyConfigurationError(
            "Huvudnyckel saknas: ange ISU_MASTER_KEY eller ISU_MASTER_KEY_FILE. "
            "(Master key missing: set ISU_MASTER_KEY or ISU_MASTER_KEY_FILE.)"
        )
    return read_key_file(path)


def read_key_file(path: Path) -> MasterKey:
    """A master key from a file holding its base64 text (surrounding whitespace ignored)."""
    try:
        text = Path(path).read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        raise KeyConfigurationError(
            "Nyckelfilen kan inte läsas. (The master key file cannot be read.)"
        ) from None
    return MasterKey.from_text(text)


def write_key_file(path: Path, key: MasterKey) -> None:
    """Write ``key`` to a new file readable by its owner only; never overwrites."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise KeyConfigurationError(
            "Nyckelfilen finns redan och skrivs inte över. "
            "(The key file already exists and is not overwritten.)"
        ) from None
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(key.to_text() + "\n")
        handle.flush()
        os.fsync(handle.fileno())
