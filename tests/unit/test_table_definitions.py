"""The table definitions (variables/tables/) are data, checked on load: a
mistake names the file, the table and the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.stats.tables import TABLES_DIR, load_tables
from exporters.tabledefs import TableDefinitionError

GOOD = """
kind: isu-tables
format_version: 1
section: {key: who, label: {sv: Vilka, en: Who}}
tables:
- id: sex
  title: {sv: Kön, en: Sex}
  kind: single
  dims: [sex]
  denominator: {sv: Alla, en: All}
  chart: pie
  compute:
    values: {variable: sex}
"""


def write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "01-who.yaml").write_text(text, encoding="utf-8")
    return tmp_path


def test_the_packaged_definitions_load_in_report_order() -> None:
    tables = load_tables(TABLES_DIR)
    ids = tables.ids()
    assert len(ids) == 54
    assert ids[0] == "funnel"
    assert ids[-1] == "risk_score_change"
    assert tables["contact_initiative"].spec.notes[0].sv.startswith("Flera alternativ")


def test_a_good_file_loads(tmp_path: Path) -> None:
    tables = load_tables(write(tmp_path, GOOD))
    assert tables.ids() == ["sex"]
    assert tables["sex"].spec.section.en == "Who"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("kind: single", "kind: pie"), "01-who.yaml: tables[0] (sex).kind"),
        (("chart: pie", "chart: donut"), "(sex).chart"),
        (("{sv: Alla, en: All}", "{sv: Alla}"), "(sex).denominator"),
        (("values: {variable: sex}", "values: {variable: sex, band: age}"), "compute.values"),
        (("values: {variable: sex}", "population: ill\n    values: {variable: sex}"), "population"),
        (("values: {variable: sex}", "rule: magic"), "compute.rule"),
        (("  chart: pie", "  chart: pie\n  colour: red"), "unknown field(s) ['colour']"),
        (("chart: pie", "chart: {kind: columns, axis: age}"), "(sex).chart.axis"),
        (("chart: pie", "chart: {kind: bars, sort: random}"), "(sex).chart.sort"),
        (("chart: pie", "chart: {kind: bars, value: mean}"), "(sex).chart.value"),
        (("chart: pie", "chart: {kind: bars, stacked: 1}"), "(sex).chart.stacked"),
        (("values: {variable: sex}", "values: {area_group: parish}"), "unknown area_group"),
        (("values: {variable: sex}", "rule: means"), "compute.measures"),
    ],
)
def test_a_mistake_names_file_table_and_field(
    tmp_path: Path, change: tuple[str, str], message: str
) -> None:
    with pytest.raises(TableDefinitionError, match=r"01-who\.yaml") as error:
        load_tables(write(tmp_path, GOOD.replace(*change)))
    assert message in str(error.value)


def test_a_table_defined_twice_is_refused(tmp_path: Path) -> None:
    body = GOOD + GOOD.split("tables:\n", 1)[1]
    with pytest.raises(TableDefinitionError, match="defined twice"):
        load_tables(write(tmp_path, body))


def test_a_pie_needs_a_single_choice_table(tmp_path: Path) -> None:
    multi = GOOD.replace("kind: single", "kind: multi").replace(
        "values: {variable: sex}", "options: {variable: disability}"
    )
    with pytest.raises(TableDefinitionError, match=r"\(sex\)\.chart\.kind: a pie needs"):
        load_tables(write(tmp_path, multi))


def test_chart_shorthand_and_mapping(tmp_path: Path) -> None:
    text = GOOD.replace(
        "chart: pie", "chart: {kind: columns, value: count, sort: descending, not_registered: true}"
    )
    chart = load_tables(write(tmp_path, text))["sex"].spec.chart
    assert (chart.kind, chart.value, chart.sort, chart.axis) == (
        "columns",
        "count",
        "descending",
        "sex",
    )
    assert chart.not_registered is True
    assert chart.stacked is False
    assert load_tables(write(tmp_path, GOOD))["sex"].spec.chart.kind == "pie"


def test_municipality_size_is_a_grouping_of_every_municipality() -> None:
    grouping = load_tables(TABLES_DIR).groupings["municipality_size"]
    assert len(grouping.of) == 290
    # Stockholm, Göteborg, Malmö and Uppsala are the four over 200 000 (31 Dec 2024).
    assert sorted(c for c, g in grouping.of.items() if g == "200000-") == [
        "0180",
        "0380",
        "1280",
        "1480",
    ]
    assert grouping.of["0114"] == "40000-99999"  # Upplands Väsby, 50 323
    assert grouping.of["2506"] == "-14999"  # Arjeplog, 2 599
