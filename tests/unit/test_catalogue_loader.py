"""The runtime loader: version hash, JSON form, and errors that name file, entry, problem."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from app.catalogue.loader import CatalogueError, load_catalogue
from app.config import PROJECT_ROOT

CATALOGUE_DIR = PROJECT_ROOT / "variables"


def test_loads_29_shared_variables_and_three_groups() -> None:
    catalogue = load_catalogue(CATALOGUE_DIR)
    assert len([v for v in catalogue.variables.values() if v.suv is not None]) == 29
    assert set(catalogue.groups) == {"intervention", "risk_assessment", "survey"}
    assert len(catalogue.version) == 16
    as_json = catalogue.as_json()
    assert as_json["catalogue_version"] == catalogue.version
    sex = next(v for v in as_json["variables"] if v["key"] == "sex")
    assert sex["suv"] == 14
    assert sex["options"][0]["code"] == 1
    assert sex["options"][0]["label"] == {"sv": "Kvinna", "en": "Woman"}


def _copy(tmp_path: Path) -> Path:
    target = tmp_path / "variables"
    shutil.copytree(CATALOGUE_DIR, target)
    return target


def test_version_changes_with_content(tmp_path: Path) -> None:
    target = _copy(tmp_path)
    before = load_catalogue(target).version
    path = target / "efter.yaml"
    path.write_text(
        path.read_text(encoding="utf-8").replace("Ingen förändring", "Ingen förändring alls"),
        encoding="utf-8",
    )
    assert load_catalogue(target).version != before


def test_unknown_field_is_rejected_naming_file_entry_and_problem(tmp_path: Path) -> None:
    target = _copy(tmp_path)
    path = target / "bakgrund.yaml"
    text = path.read_text(encoding="utf-8").replace(
        "  - key: sex\n", "  - key: sex\n    colour: red\n", 1
    )
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CatalogueError) as caught:
        load_catalogue(target)
    message = str(caught.value)
    assert "bakgrund.yaml" in message
    assert "variables[sex]" in message
    assert "colour" in message


def test_duplicate_option_code_is_rejected(tmp_path: Path) -> None:
    target = _copy(tmp_path)
    path = target / "bakgrund.yaml"
    text = path.read_text(encoding="utf-8").replace(
        '{code: 2, label: {sv: "Man"', '{code: 1, label: {sv: "Man"', 1
    )
    path.write_text(text, encoding="utf-8")
    with pytest.raises(
        CatalogueError, match=r"bakgrund\.yaml: variables\[sex\].*duplicate option codes"
    ):
        load_catalogue(target)


def test_skip_logic_to_unknown_code_is_rejected(tmp_path: Path) -> None:
    target = _copy(tmp_path)
    path = target / "brukarenkat.yaml"
    text = path.read_text(encoding="utf-8")
    assert "any_of: [1, 2]" in text
    path.write_text(text.replace("any_of: [1, 2]", "any_of: [1, 99]"), encoding="utf-8")
    with pytest.raises(CatalogueError, match=r"survey_support_importance.*unknown codes"):
        load_catalogue(target)


def test_consistency_checks_are_loaded_and_in_the_json() -> None:
    catalogue = load_catalogue(CATALOGUE_DIR)
    assert "same_intervention_same_day" in catalogue.checks
    keys = [c["key"] for c in catalogue.as_json()["checks"]]
    assert keys == list(catalogue.checks)


@pytest.mark.parametrize(
    ("old", "new", "problem"),
    [
        (
            "{variable: goal_followup, any_of: [4]}",
            "{variable: goal_follow, any_of: [4]}",
            "goal_follow",
        ),
        (
            "{variable: goal_followup, any_of: [4]}",
            "{variable: goal_followup, any_of: [99]}",
            "codes",
        ),
        (
            "same: [intervention_type, intervention_start_on]",
            "same: [intervention_type, nope]",
            "nope",
        ),
        ("{intervention_start_on}. Kontrollera", "{start}. Kontrollera", "start"),
        ("group: risk_assessment\n    same", "group: risk\n    same", "risk"),
    ],
    ids=["variable", "code", "field", "placeholder", "group"],
)
def test_a_check_naming_what_is_not_there_is_refused(
    tmp_path: Path, old: str, new: str, problem: str
) -> None:
    target = _copy(tmp_path)
    path = target / "checks.yaml"
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(CatalogueError) as caught:
        load_catalogue(target)
    assert "checks[" in str(caught.value)
    assert problem in str(caught.value)
