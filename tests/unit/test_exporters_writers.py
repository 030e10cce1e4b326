"""Writers: JSON shape, CSV per table (zipped), Excel sheets, charts, HTML;
and the analytical definitions name only codes the catalogue has."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import date

import openpyxl
import pandas as pd
import pytest

from exporters.codebook import Codebook, Label
from exporters.definitions import DEFAULT_DEFINITIONS
from exporters.frame import AnalysisFrame
from exporters.summary import Summary, compile_tables
from exporters.writers.charts import render_chart
from exporters.writers.csv_writer import write_csv_zip
from exporters.writers.html import write_html
from exporters.writers.json_writer import summary_json, write_json
from exporters.writers.xlsx_writer import write_xlsx
from tests.unit.test_exporters_golden import analysis, codebook  # noqa: F401 - fixtures

TABLE_IDS = ("funnel", "sex", "interventions", "interventions_per_case", "hrv_age_band")


@pytest.fixture(scope="module")
def protected_summary(analysis: AnalysisFrame, codebook: Codebook) -> Summary:  # noqa: F811
    tables = compile_tables(
        analysis.frame,
        codebook,
        mode="protected",
        county_of={"0180": "01"},
        areas=[("municipality", "0180"), ("county", "01"), ("nation", "SE")],
        table_ids=TABLE_IDS,
    )
    return Summary(
        tables=tables,
        period_from=date(2023, 1, 1),
        period_to=date(2023, 12, 31),
        scope=Label("Stockholms kommun", "Stockholm"),
        catalogue_version=codebook.version,
        generated_on=date(2026, 1, 2),
        protected=True,
        threshold=7,
        n_cases=None,
        excluded={"perpetrator": None},
        area_labels={
            "0180": Label("Stockholm", "Stockholm"),
            "01": Label("Stockholms län", "Stockholm county"),
        },
    )


def test_json_shape_marks_hidden_cells(protected_summary: Summary) -> None:
    doc = json.loads(write_json(protected_summary))
    assert doc["format"] == "isu-summary"
    assert doc["format_version"] == 1
    meta = doc["meta"]
    assert meta["period"] == {"from": "2023-01-01", "to": "2023-12-31"}
    assert meta["protected"] is True
    assert meta["threshold"] == 7
    assert meta["cases"] == ".."
    assert meta["excluded"] == {"perpetrator": ".."}
    sex = next(t for t in doc["tables"] if t["id"] == "sex")
    assert sex["diagram"] == "Diagram 2"
    assert sex["title"]["sv"] == "Hur ser könsfördelningen ut?"
    assert [d["name"] for d in sex["dimensions"]] == ["area_level", "area_code", "sex"]
    first = sex["rows"][0]
    assert first["area_code"] == "0180"
    assert first["sex"] == "1"
    assert first["sex_label"] == "Kvinna"
    # Six cases: every count under 7 is hidden, with its flag, never 0.
    women = [r for r in sex["rows"] if r["sex"] == "1"]
    assert all(r["n"] == ".." and r["suppressed"] is True for r in women)
    assert all(r["percent"] == ".." for r in women)


def test_csv_zip_has_one_file_per_table(protected_summary: Summary) -> None:
    archive = zipfile.ZipFile(io.BytesIO(write_csv_zip(protected_summary)))
    assert sorted(archive.namelist()) == sorted(["README.txt", *(f"{t}.csv" for t in TABLE_IDS)])
    sex = pd.read_csv(io.BytesIO(archive.read("sex.csv")), encoding="utf-8-sig", dtype=str)
    assert list(sex.columns[:6]) == [
        "area_level",
        "area_level_label",
        "area_code",
        "area_code_label",
        "sex",
        "sex_label",
    ]
    assert set(sex.loc[sex["sex"] == "1", "n"]) == {".."}
    assert write_csv_zip(protected_summary) == write_csv_zip(protected_summary)


def test_xlsx_one_sheet_per_table_with_title_and_source(protected_summary: Summary) -> None:
    book = openpyxl.load_workbook(io.BytesIO(write_xlsx(protected_summary)))
    assert book.sheetnames == ["Om", *TABLE_IDS]
    sheet = book["sex"]
    assert sheet["A1"].value == "Hur ser könsfördelningen ut?"
    texts = [c.value for row in sheet.iter_rows() for c in row if isinstance(c.value, str)]
    assert ".." in texts
    assert any(t.startswith("Källa:") for t in texts)
    assert any(t.startswith("N: ") for t in texts)


def test_charts_png_and_svg(protected_summary: Summary) -> None:
    table = protected_summary.table("sex")
    png = render_chart(protected_summary, table, "png")
    svg = render_chart(protected_summary, table, "svg")
    assert png.startswith(b"\x89PNG")
    assert b"<svg" in svg
    assert b"Kvinna" in svg
    assert b".." in svg


def test_html_report_is_self_contained_swedish(protected_summary: Summary) -> None:
    html = write_html(protected_summary).decode("utf-8")
    assert html.startswith("<!DOCTYPE html>")
    assert 'lang="sv"' in html
    assert "Diagram 2: Hur ser könsfördelningen ut?" in html
    assert "Röjandeskydd" in html
    assert "2023-01-01 – 2023-12-31" in html
    assert protected_summary.catalogue_version in html
    assert "<svg" in html
    assert 'src="http' not in html
    assert "<link" not in html
    assert "<script" not in html
    assert "@media print" in html


def test_unprotected_json_has_numbers(analysis: AnalysisFrame, codebook: Codebook) -> None:  # noqa: F811
    tables = compile_tables(analysis.frame, codebook, mode="internal", table_ids=["sex"])
    summary = Summary(
        tables,
        date(2023, 1, 1),
        date(2023, 12, 31),
        Label("K", "K"),
        codebook.version,
        date(2026, 1, 2),
        False,
        7,
        6,
        {"perpetrator": 1},
    )
    doc = summary_json(summary)
    assert doc["tables"][0]["rows"][0] == {
        "sex": "1",
        "sex_label": "Kvinna",
        "n": 4,
        "N": 5,
        "percent": 80.0,
        "suppressed": False,
        "N_suppressed": False,
    }


def test_definitions_name_codes_the_catalogue_has(codebook: Codebook) -> None:  # noqa: F811
    d = DEFAULT_DEFINITIONS
    assert [codebook.label("intervention_type", c).sv for c in d.housing_intervention_codes] == [
        "Skyddat boende",
        "Hjälp med ny bostad (ej skyddat boende)",
        "Byte av kommun",
        "Tillfälligt boende",
    ]
    assert codebook.label("risk_instrument", 6).sv.startswith("Annat samtal med klient utan")
    assert [codebook.label("closing_reason", c).sv for c in d.main_closing_reasons] == [
        "Målet med stödet/insatsen har uppnåtts",
        "Klienten har tackat nej till vidare stöd/insats",
        "Klienten har inte återkommit",
    ]
    assert codebook.label("goal_followup", 1).sv.startswith("Positiv förändring och målet uppnått")
    assert codebook.label("survey_violence_change", 1).sv == "Förbättrats mycket"
    assert codebook.label("honour_context", 1).sv == "Ja"
