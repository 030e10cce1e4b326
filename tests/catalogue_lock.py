"""The catalogue lock: every published variable key and option code, frozen.

``variables/catalogue.lock.json`` records, for every variable key of the YAML
catalogue, its SUV number, its type, the comment code and every option code with
its Swedish label (and the same for the extra fields of the repeated groups).
``tests/unit/test_catalogue_lock.py`` fails when the YAML drops or redefines
something the lock holds ("names change, codes never": retire, never delete),
and when the YAML has something new that the lock does not hold yet.

Regenerate the lock (and the JSON schema of the format) after adding variables
or codes, from the project root::

    .venv/bin/python tests/catalogue_lock.py

The generator refuses to write a lock that drops or redefines a locked code
unless ``--allow-breaking`` is given (for a deliberate, reviewed correction).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from app.catalogue.spec import CatalogueFile, ExtraField, Option, Variable

ROOT = Path(__file__).resolve().parents[1]
VARIABLES_DIR = ROOT / "variables"
LOCK_PATH = VARIABLES_DIR / "catalogue.lock.json"
SCHEMA_PATH = VARIABLES_DIR / "catalogue.schema.json"
LOCK_FORMAT = 1
REGENERATE_HINT = "regenerate the lock with `.venv/bin/python tests/catalogue_lock.py`"


def catalogue_paths(directory: Path = VARIABLES_DIR) -> list[Path]:
    """The catalogue files of ``directory``, sorted by name."""
    return sorted(directory.glob("*.yaml"))


def load_catalogue_file(path: Path) -> CatalogueFile:
    with path.open(encoding="utf-8") as handle:
        return CatalogueFile.model_validate(yaml.safe_load(handle))


def load_catalogue(paths: Iterable[Path]) -> list[CatalogueFile]:
    return [load_catalogue_file(Path(p)) for p in paths]


def _options(options: Iterable[Option]) -> dict[str, str]:
    return {str(o.code): o.label.sv for o in sorted(options, key=lambda o: o.code)}


def _variable_entry(variable: Variable) -> dict[str, Any]:
    entry: dict[str, Any] = {"suv": variable.suv, "type": variable.type.value}
    if variable.options:
        entry["options"] = _options(variable.options)
    if variable.comment is not None:
        entry["comment"] = variable.comment.code
    return entry


def _field_entry(extra: ExtraField) -> dict[str, Any]:
    entry: dict[str, Any] = {"type": extra.type.value}
    if extra.options:
        entry["options"] = _options(extra.options)
    return entry


def lock_from_files(paths: Iterable[Path]) -> dict[str, Any]:
    """The lock of the catalogue files ``paths`` (a pure function of their content)."""
    variables: dict[str, Any] = {}
    groups: dict[str, Any] = {}
    for catalogue in load_catalogue(paths):
        for variable in catalogue.variables:
            if variable.key in variables:
                raise ValueError(f"variable key {variable.key!r} is defined twice")
            variables[variable.key] = _variable_entry(variable)
        for group in catalogue.groups:
            if group.key in groups:
                raise ValueError(f"group key {group.key!r} is defined twice")
            groups[group.key] = {
                "extra_fields": {f.key: _field_entry(f) for f in group.extra_fields}
            }
    return {"format": LOCK_FORMAT, "variables": variables, "groups": groups}


@dataclass
class LockReport:
    """What differs between a committed lock and the lock of the current YAML."""

    broken: list[str] = field(default_factory=list)
    """Locked keys or codes that disappeared or changed meaning: never allowed."""
    unlocked: list[str] = field(default_factory=list)
    """Keys or codes in the YAML that the lock does not hold yet: regenerate the lock."""

    @property
    def ok(self) -> bool:
        return not self.broken and not self.unlocked


def _compare_options(
    where: str, locked: Mapping[str, str], current: Mapping[str, str], report: LockReport
) -> None:
    for code, label in locked.items():
        if code not in current:
            report.broken.append(
                f"{where}: option code {code} ({label!r}) is locked but missing from the "
                "YAML; codes are never deleted: keep it with `retired: true`"
            )
        elif current[code] != label:
            report.broken.append(
                f"{where}: option code {code} changed its Swedish label from {label!r} to "
                f"{current[code]!r}; a code keeps its meaning: retire it and add a new code"
            )
    for code, label in current.items():
        if code not in locked:
            report.unlocked.append(
                f"{where}: option code {code} ({label!r}) is not in the lock; {REGENERATE_HINT}"
            )


def _compare_entry(
    where: str, locked: Mapping[str, Any], current: Mapping[str, Any], report: LockReport
) -> None:
    for attribute in ("suv", "type", "comment"):
        if attribute not in locked and attribute not in current:
            continue
        if attribute not in locked:
            report.unlocked.append(
                f"{where}: {attribute} {current[attribute]!r} is not in the lock; {REGENERATE_HINT}"
            )
        elif locked[attribute] != current.get(attribute):
            report.broken.append(
                f"{where}: {attribute} is locked as {locked[attribute]!r} but the YAML "
                f"has {current.get(attribute)!r}"
            )
    _compare_options(where, locked.get("options", {}), current.get("options", {}), report)


def lock_differences(locked: Mapping[str, Any], current: Mapping[str, Any]) -> LockReport:
    """Compare the committed lock ``locked`` with ``current`` (from ``lock_from_files``)."""
    report = LockReport()
    if locked.get("format") != current.get("format"):
        report.broken.append(
            f"lock format {locked.get('format')!r} differs from {current.get('format')!r}"
        )
    locked_vars: Mapping[str, Any] = locked.get("variables", {})
    current_vars: Mapping[str, Any] = current.get("variables", {})
    for key, entry in locked_vars.items():
        if key not in current_vars:
            report.broken.append(
                f"variable {key!r} is locked but missing from the YAML; keys are never "
                "deleted: keep it with `retired: true`"
            )
        else:
            _compare_entry(f"variable {key!r}", entry, current_vars[key], report)
    for key in current_vars:
        if key not in locked_vars:
            report.unlocked.append(f"variable {key!r} is not in the lock; {REGENERATE_HINT}")

    locked_groups: Mapping[str, Any] = locked.get("groups", {})
    current_groups: Mapping[str, Any] = current.get("groups", {})
    for key, group in locked_groups.items():
        if key not in current_groups:
            report.broken.append(f"group {key!r} is locked but missing from the YAML")
            continue
        current_fields: Mapping[str, Any] = current_groups[key]["extra_fields"]
        for field_key, entry in group["extra_fields"].items():
            where = f"group {key!r} field {field_key!r}"
            if field_key not in current_fields:
                report.broken.append(f"{where} is locked but missing from the YAML")
            else:
                _compare_entry(where, entry, current_fields[field_key], report)
        for field_key in current_fields:
            if field_key not in group["extra_fields"]:
                report.unlocked.append(
                    f"group {key!r} field {field_key!r} is not in the lock; {REGENERATE_HINT}"
                )
    for key in current_groups:
        if key not in locked_groups:
            report.unlocked.append(f"group {key!r} is not in the lock; {REGENERATE_HINT}")
    return report


def render_json(data: Mapping[str, Any]) -> str:
    """The committed form: sorted keys, indent 2, UTF-8 text, trailing newline."""
    return json.dumps(data, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def catalogue_schema() -> dict[str, Any]:
    """The JSON schema of one catalogue file, as committed in ``catalogue.schema.json``."""
    return CatalogueFile.model_json_schema()


def write_lock(
    paths: Iterable[Path], lock_path: Path = LOCK_PATH, *, allow_breaking: bool = False
) -> LockReport:
    """Write the lock of ``paths``; refuse to drop or redefine a locked code."""
    current = lock_from_files(paths)
    report = LockReport()
    if lock_path.exists():
        report = lock_differences(json.loads(lock_path.read_text(encoding="utf-8")), current)
        if report.broken and not allow_breaking:
            return report
    lock_path.write_text(render_json(current), encoding="utf-8")
    return report


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    report = write_lock(catalogue_paths(), allow_breaking="--allow-breaking" in args)
    if report.broken and "--allow-breaking" not in args:
        print("Refusing to write the lock: published codes would change.", file=sys.stderr)
        for line in report.broken:
            print(f"  {line}", file=sys.stderr)
        return 1
    SCHEMA_PATH.write_text(render_json(catalogue_schema()), encoding="utf-8")
    print(f"wrote {LOCK_PATH.relative_to(ROOT)} and {SCHEMA_PATH.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
