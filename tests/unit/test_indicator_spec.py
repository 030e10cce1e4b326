"""Indicator definitions are data (variables/indicators/*.yaml): the spec
forbids typos and inconsistent definitions; Kolada's titles are Kolada's own;
the catalogue loader does not read the sub-folder."""

from __future__ import annotations

import copy
import json
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from app.catalogue.loader import Catalogue, load_catalogue
from app.config import PROJECT_ROOT
from app.indicators.loader import IndicatorError, load_file, load_indicators
from app.indicators.spec import IndicatorSpec

DIRECTORY = PROJECT_ROOT / "variables" / "indicators"


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load_catalogue(PROJECT_ROOT / "variables")


def raw(name: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((DIRECTORY / name).read_text(encoding="utf-8"))
    return data


def test_the_four_definitions_load(catalogue: Catalogue) -> None:
    specs = load_indicators(DIRECTORY, catalogue)
    assert list(specs) == ["U30750", "U30751", "U30752", "A"]
    a = specs["A"]
    assert (a.unit, a.counting, a.period, a.direction.value) == (
        "percent",
        "persons",
        "rolling_12_months",
        "higher_is_better",
    )
    for kpi in ("U30750", "U30751", "U30752"):
        spec = specs[kpi]
        assert (spec.unit, spec.scale, spec.decimals, spec.direction.value) == (
            "per_inhabitants",
            10000,
            1,
            "none",
        )
        assert spec.district_mean == ("0180", "1480")
        assert spec.total_only_upstream is True
        assert {c.key: c.default for c in spec.choices}.items() >= {
            ("counting", "persons"),
            ("population_year", "same"),
            ("district_method", "district_mean"),
        }
    assert {c.key: c.default for c in specs["U30752"].choices}["goal_rule"] == "goal_followup"


def test_kolada_titles_are_koladas_own(catalogue: Catalogue) -> None:
    text = (
        resources.files("app.reference")
        .joinpath("data", "kolada_kpi_metadata.json")
        .read_text(encoding="utf-8")
    )
    kolada = {v["id"]: v for v in json.loads(text)["values"]}
    specs = load_indicators(DIRECTORY, catalogue)
    for kpi in ("U30750", "U30751", "U30752"):
        assert specs[kpi].title.sv == kolada[kpi]["title"]
        assert specs[kpi].source.title == kolada[kpi]["title"]
        assert specs[kpi].source.reference == kpi
        assert kolada[kpi]["is_divided_by_gender"] is False  # hence our K/M is marked


def test_the_catalogue_loader_ignores_the_indicator_folder(catalogue: Catalogue) -> None:
    assert DIRECTORY.is_dir()
    assert not any("indicator" in name for name in catalogue.files)
    assert "U30750" not in catalogue.variables


def write(tmp_path: Path, data: dict[str, Any]) -> Path:
    path = tmp_path / "x.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.update(titel="x"), "Extra inputs are not permitted"),
        (lambda d: d.update(unit="percent"), "percentage needs a 'subjects' denominator"),
        (lambda d: d["choices"][0].update(default="people"), "default 'people' is not a value"),
        (
            lambda d: d["choices"][0]["values"].update(households={"sv": "h", "en": "h"}),
            "values must be among",
        ),
        (
            lambda d: d["numerator"]["all_of"][0].update(when={"strict": "yes"}),
            "undeclared choice",
        ),
        (lambda d: d.update(reporting_levels=["municipality"]), "district_mean needs"),
        (lambda d: d.update(measure="indikator"), "an indicator has a direction"),
        (lambda d: d["numerator"].update(all_of=[]), "at least 1 item"),
    ],
)
def test_spec_rejects_inconsistent_definitions(tmp_path: Path, change: Any, message: str) -> None:
    data = copy.deepcopy(raw("kolada_u30750.yaml"))
    change(data)
    with pytest.raises(IndicatorError, match=message):
        load_file(write(tmp_path, data))


def test_unknown_catalogue_variable_or_code_is_an_error(
    tmp_path: Path, catalogue: Catalogue
) -> None:
    data = copy.deepcopy(raw("kolada_u30752.yaml"))
    data["numerator"]["all_of"][2]["any_of"] = [1, 2, 99]
    (tmp_path / "a.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(IndicatorError, match=r"goal_followup: unknown codes \[99\]"):
        load_indicators(tmp_path, catalogue)
    data["numerator"]["all_of"][2]["variable"] = "goal_folowup"
    (tmp_path / "a.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(IndicatorError, match="unknown variable goal_folowup"):
        load_indicators(tmp_path, catalogue)


def test_duplicate_ids_are_an_error(tmp_path: Path, catalogue: Catalogue) -> None:
    for name in ("a.yaml", "b.yaml"):
        (tmp_path / name).write_text(
            (DIRECTORY / "socialstyrelsen_a.yaml").read_text(encoding="utf-8"), encoding="utf-8"
        )
    with pytest.raises(IndicatorError, match="duplicate indicator id A"):
        load_indicators(tmp_path, catalogue)


def test_spec_is_frozen() -> None:
    spec = IndicatorSpec.model_validate(raw("socialstyrelsen_a.yaml"))
    with pytest.raises(ValidationError):
        spec.id = "B"  # type: ignore[misc]


def test_adding_an_indicator_is_a_data_change(tmp_path: Path, catalogue: Catalogue) -> None:
    """A new share (cases closed in the year with a survey) from YAML alone."""
    data = copy.deepcopy(raw("socialstyrelsen_a.yaml"))
    data.update(id="X1", period="calendar_year", choices=[], counting="cases")
    data["numerator"]["all_of"] = [{"kind": "value", "variable": "goal_followup", "any_of": [1]}]
    data["denominator"]["all_of"] = [{"kind": "date_in_period", "column": "closed_on"}]
    (tmp_path / "x1.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    spec = load_indicators(tmp_path, catalogue)["X1"]
    definition = spec.definition()
    assert definition.counting == "cases"
    assert [c.kind for c in definition.denominator_conditions] == ["date_in_period"]
