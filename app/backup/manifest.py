"""The backup's ``manifest.json``: what the copy holds, and how to check it.

It names no personal data and no key material: row counts, checksums of the
dump, the audit chain's anchor, and which master key (by public id) wraps
which municipality key.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

FORMAT = "isu-backup/1"
MANIFEST = "manifest.json"


class BackupError(Exception):
    """A backup or restore that cannot go on; the message is Swedish with English.

    ``exit_code`` 2 is a key configuration problem (like ``isu serve``), 1 anything else.
    """

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@dataclass(frozen=True)
class KeyId:
    municipality: str
    purpose: str
    version: int
    master_key_id: str


@dataclass(frozen=True)
class DatabaseFacts:
    """What a consistent snapshot of the database holds (no content)."""

    schema_revision: str | None
    row_counts: dict[str, int]
    audit_events: int
    audit_last_hash: str | None
    audit_intact: bool = True
    keys: list[KeyId] = field(default_factory=list)


@dataclass(frozen=True)
class Manifest:
    created_at: str
    engine: str
    application_version: str
    files: dict[str, dict[str, Any]]
    """file name -> {"sha256": ..., "bytes": ...}"""
    facts: DatabaseFacts
    format: str = FORMAT

    def as_json(self) -> dict[str, Any]:
        facts = self.facts
        return {
            "format": self.format,
            "created_at": self.created_at,
            "engine": self.engine,
            "application_version": self.application_version,
            "schema_revision": facts.schema_revision,
            "files": self.files,
            "row_counts": facts.row_counts,
            "audit": {
                "intact": facts.audit_intact,
                "events": facts.audit_events,
                "last_hash": facts.audit_last_hash,
            },
            "keys": [asdict(k) for k in facts.keys],
            "master_key_ids": sorted({k.master_key_id for k in facts.keys}),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Manifest:
        if data.get("format") != FORMAT:
            raise BackupError(
                f"Okänt format på säkerhetskopian: {data.get('format')!r}. "
                f"(Unknown backup format; expected {FORMAT}.)"
            )
        try:
            facts = DatabaseFacts(
                schema_revision=data["schema_revision"],
                row_counts={str(k): int(v) for k, v in data["row_counts"].items()},
                audit_events=int(data["audit"]["events"]),
                audit_last_hash=data["audit"]["last_hash"],
                audit_intact=bool(data["audit"]["intact"]),
                keys=[KeyId(**k) for k in data["keys"]],
            )
            return cls(
                created_at=str(data["created_at"]),
                engine=str(data["engine"]),
                application_version=str(data["application_version"]),
                files={str(k): dict(v) for k, v in data["files"].items()},
                facts=facts,
            )
        except (KeyError, TypeError, ValueError):
            raise BackupError(
                "manifest.json är ofullständig. (The manifest is incomplete.)"
            ) from None


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def describe(path: Path) -> dict[str, Any]:
    return {"sha256": sha256_file(path), "bytes": path.stat().st_size}


def write_manifest(directory: Path, manifest: Manifest) -> Path:
    path = directory / MANIFEST
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(manifest.as_json(), handle, indent=2, ensure_ascii=False)
        handle.write("\n")
        handle.flush()
        os.fsync(handle.fileno())
    return path


def read_manifest(directory: Path) -> Manifest:
    try:
        data = json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
    except OSError:
        raise BackupError(
            f"{directory} saknar manifest.json: är det en säkerhetskopia? "
            "(No manifest.json: is this a backup?)"
        ) from None
    except ValueError:
        raise BackupError(
            "manifest.json kan inte läsas. (The manifest is not valid JSON.)"
        ) from None
    if not isinstance(data, dict):
        raise BackupError("manifest.json kan inte läsas. (The manifest is not an object.)")
    return Manifest.from_json(data)


def verify_checksums(directory: Path, manifest: Manifest) -> None:
    """Every file the manifest names is there with its size and sha256."""
    if not manifest.files:
        raise BackupError("manifest.json nämner ingen fil. (The manifest names no file.)")
    for name, expected in manifest.files.items():
        path = directory / name
        if Path(name).name != name or not path.is_file():
            raise BackupError(f"Filen {name} saknas i säkerhetskopian. (File missing.)")
        if path.stat().st_size != expected.get("bytes") or sha256_file(path) != expected.get(
            "sha256"
        ):
            raise BackupError(
                f"Kontrollsumman för {name} stämmer inte: säkerhetskopian är skadad eller ändrad. "
                f"(Checksum mismatch for {name}: the backup is damaged or altered.)"
            )
