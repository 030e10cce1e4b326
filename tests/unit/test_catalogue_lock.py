"""The committed catalogue lock and JSON schema against the YAML ("names change, codes never")."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.catalogue_lock import (
    LOCK_PATH,
    REGENERATE_HINT,
    SCHEMA_PATH,
    VARIABLES_DIR,
    catalogue_paths,
    catalogue_schema,
    lock_differences,
    lock_from_files,
    render_json,
    write_lock,
)


def _committed_lock() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(LOCK_PATH.read_text(encoding="utf-8"))
    return data


def test_committed_lock_holds_every_key_and_code_of_the_yaml() -> None:
    report = lock_differences(_committed_lock(), lock_from_files(catalogue_paths()))
    assert not report.broken, "published codes changed:\n" + "\n".join(report.broken)
    assert not report.unlocked, "\n".join(report.unlocked)


def test_committed_lock_is_exactly_the_generated_one() -> None:
    expected = render_json(lock_from_files(catalogue_paths()))
    assert LOCK_PATH.read_text(encoding="utf-8") == expected, REGENERATE_HINT


def test_lock_lists_the_29_suv_variables() -> None:
    lock = _committed_lock()
    suvs = [entry["suv"] for entry in lock["variables"].values() if entry["suv"] is not None]
    assert len(set(suvs)) == len(suvs) == 29
    assert lock["variables"]["sex"] == {
        "suv": 14,
        "type": "single",
        "options": {"1": "Kvinna", "2": "Man"},
    }


def test_schema_file_is_the_model_schema() -> None:
    assert json.loads(SCHEMA_PATH.read_text(encoding="utf-8")) == catalogue_schema()
    assert SCHEMA_PATH.read_text(encoding="utf-8") == render_json(catalogue_schema())


# --- The rule itself, on a scratch copy of the catalogue -----------------------------------

Mutation = Callable[[dict[str, dict[str, Any]]], None]


def _variable(files: dict[str, dict[str, Any]], key: str) -> dict[str, Any]:
    for data in files.values():
        for variable in data.get("variables", []):
            if variable["key"] == key:
                result: dict[str, Any] = variable
                return result
    raise KeyError(key)


def _mutated(tmp_path: Path, mutate: Mutation) -> dict[str, Any]:
    """The lock of a copy of the catalogue after ``mutate`` edits the parsed YAML."""
    files = {
        path.name: yaml.safe_load(path.read_text(encoding="utf-8")) for path in catalogue_paths()
    }
    mutate(files)
    for name, data in files.items():
        (tmp_path / name).write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return lock_from_files(catalogue_paths(tmp_path))


def _drop_option(files: dict[str, dict[str, Any]]) -> None:
    variable = _variable(files, "perpetrator")
    variable["options"] = [o for o in variable["options"] if o["code"] != 5]


def _relabel_option(files: dict[str, dict[str, Any]]) -> None:
    option = _variable(files, "sex")["options"][0]
    option["label"]["sv"] = "Flicka/kvinna"


def _drop_variable(files: dict[str, dict[str, Any]]) -> None:
    data = files["fore.yaml"]
    data["variables"] = [v for v in data["variables"] if v["key"] != "honour_context"]


def _change_type(files: dict[str, dict[str, Any]]) -> None:
    _variable(files, "perpetrator")["type"] = "single"


def _renumber_comment(files: dict[str, dict[str, Any]]) -> None:
    _variable(files, "disability")["comment"]["code"] = 9


def _drop_group_option(files: dict[str, dict[str, Any]]) -> None:
    score = files["fore.yaml"]["groups"][0]["extra_fields"][2]
    assert score["key"] == "score"
    score["options"] = score["options"][:2]


@pytest.mark.parametrize(
    ("mutate", "named"),
    [
        (_drop_option, ["'perpetrator'", "option code 5", "Barn", "retired: true"]),
        (_relabel_option, ["'sex'", "option code 1", "Kvinna", "Flicka/kvinna"]),
        (_drop_variable, ["'honour_context'", "retired: true"]),
        (_change_type, ["'perpetrator'", "type", "multi"]),
        (_renumber_comment, ["'disability'", "comment", "6"]),
        (_drop_group_option, ["'risk_assessment'", "'score'", "option code 3", "Hög risk"]),
    ],
    ids=[
        "option-deleted",
        "label-changed",
        "key-deleted",
        "type-changed",
        "comment-moved",
        "group-option-deleted",
    ],
)
def test_a_locked_key_or_code_that_disappears_or_changes_fails(
    tmp_path: Path, mutate: Mutation, named: list[str]
) -> None:
    report = lock_differences(_committed_lock(), _mutated(tmp_path, mutate))
    assert len(report.broken) == 1, report.broken
    for fragment in named:
        assert fragment in report.broken[0]


def test_a_new_code_must_be_added_to_the_lock(tmp_path: Path) -> None:
    def add_option(files: dict[str, dict[str, Any]]) -> None:
        variable = _variable(files, "perpetrator")
        variable["comment"]["code"] = 8
        variable["options"].append({"code": 7, "label": {"sv": "Syskon", "en": "Sibling"}})

    report = lock_differences(_committed_lock(), _mutated(tmp_path, add_option))
    # Moving the comment code is itself a change of a published code.
    assert [line for line in report.broken if "comment" in line]
    assert len(report.unlocked) == 1
    assert "'perpetrator'" in report.unlocked[0]
    assert "option code 7" in report.unlocked[0]
    assert REGENERATE_HINT in report.unlocked[0]


def test_a_new_variable_must_be_added_to_the_lock(tmp_path: Path) -> None:
    def add_variable(files: dict[str, dict[str, Any]]) -> None:
        files["efter.yaml"]["variables"].append(
            {
                "key": "closing_note",
                "phase": "efter",
                "type": "text",
                "label": {"sv": "Anteckning", "en": "Note"},
                "question": {"sv": "Anteckning", "en": "Note"},
            }
        )

    report = lock_differences(_committed_lock(), _mutated(tmp_path, add_variable))
    assert report.broken == []
    assert report.unlocked == [f"variable 'closing_note' is not in the lock; {REGENERATE_HINT}"]


def test_a_retired_option_stays_in_the_yaml_and_keeps_the_lock(tmp_path: Path) -> None:
    def retire(files: dict[str, dict[str, Any]]) -> None:
        variable = _variable(files, "contact_initiative")
        for option in variable["options"]:
            if option["code"] == 2:
                option["retired"] = True
        _variable(files, "sex")["label"]["en"] = "Legal sex"  # names change freely

    current = _mutated(tmp_path, retire)
    assert lock_differences(_committed_lock(), current).ok
    assert current == _committed_lock()


def test_the_generator_refuses_to_drop_a_locked_code(tmp_path: Path) -> None:
    lock_path = tmp_path / "catalogue.lock.json"
    shutil.copy(LOCK_PATH, lock_path)
    yaml_dir = tmp_path / "variables"
    yaml_dir.mkdir()
    _mutated(yaml_dir, _drop_option)

    report = write_lock(catalogue_paths(yaml_dir), lock_path)
    assert report.broken
    assert lock_path.read_text(encoding="utf-8") == LOCK_PATH.read_text(encoding="utf-8")

    write_lock(catalogue_paths(yaml_dir), lock_path, allow_breaking=True)
    rewritten = json.loads(lock_path.read_text(encoding="utf-8"))
    assert "5" not in rewritten["variables"]["perpetrator"]["options"]


def test_catalogue_directory_is_the_project_one() -> None:
    assert Path(__file__).resolve().parents[2] / "variables" == VARIABLES_DIR
    assert [p.name for p in catalogue_paths()] == [
        "bakgrund.yaml",
        "brukarenkat.yaml",
        "checks.yaml",
        "efter.yaml",
        "fore.yaml",
        "under.yaml",
    ]
