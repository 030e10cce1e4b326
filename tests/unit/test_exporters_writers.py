"""Writers: JSON shape, CSV per table (zipped, machine and Swedish Excel),
Excel sheets with numbers as numbers, charts like the report's, HTML; and the
analytical definitions name only codes the catalogue has. Expected numbers are
the golden tests' (worked out by hand from the six cases)."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import date
from typing import Any

import openpyxl
import pandas as pd
import pytest

from exporters.codebook import Codebook, Label
from exporters.definitions import DEFAULT_DEFINITIONS
from exporters.frame import AnalysisFrame
from exporters.spec import Table, TableSpec
from exporters.summary import Summary, compile_tables
from exporters.writers.charts import chart_data, chart_figure, render_chart, title_text
from exporters.writers.csv_writer import write_csv_zip
from exporters.writers.html import write_html
from exporters.writers.json_writer import summary_json, write_json
from exporters.writers.xlsx_writer import sheet_names, write_xlsx
from tests.unit.test_exporters_golden import analysis, codebook  # noqa: F401 - fixtures

TABLE_IDS = ("funnel", "sex", "interventions", "interventions_per_case", "hrv_age_band")


@pytest.fixture(scope="module")
def protected_summary(analysis: AnalysisFrame, codebook: Codebook) -> Summary:  # noqa: F811
    tables = compile_tables(
        analysis.frame,
        codebook,
        mode="protected",
        county_of={"0180": "01", "0114": "01", "2506": "25"},
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
    excel = [
        "excel/diagram-01-funnel.csv",
        "excel/diagram-02-sex.csv",
        "excel/diagram-09-interventions.csv",
        "excel/diagram-10-interventions_per_case.csv",
        "excel/diagram-21-hrv_age_band.csv",
    ]
    machine = [f"{t}.csv" for t in TABLE_IDS]
    assert sorted(archive.namelist()) == sorted(["README.txt", *machine, *excel])
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


@pytest.fixture(scope="module")
def internal_summary(analysis: AnalysisFrame, codebook: Codebook) -> Summary:  # noqa: F811
    """The six cases unprotected (a municipality's own view)."""
    ids = ("funnel", "cases_by_municipality_size", "sex", *TABLE_IDS[2:])
    return Summary(
        tables=compile_tables(analysis.frame, codebook, mode="internal", table_ids=ids),
        period_from=date(2023, 1, 1),
        period_to=date(2023, 12, 31),
        scope=Label("Stockholms kommun", "Stockholm"),
        catalogue_version=codebook.version,
        generated_on=date(2026, 1, 2),
        protected=False,
        threshold=7,
        n_cases=6,
        excluded={"perpetrator": 1},
    )


def test_csv_for_swedish_excel(internal_summary: Summary) -> None:
    archive = zipfile.ZipFile(io.BytesIO(write_csv_zip(internal_summary)))
    raw = archive.read("excel/diagram-02-sex.csv")
    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 with a byte-order mark
    lines = raw.decode("utf-8-sig").split("\r\n")
    assert lines[:4] == [
        "Kön;Antal (n);N;Andel (%)",
        "Kvinna;4;5;80,0",
        "Man;1;5;20,0",
        "Ej registrerat;1;6;16,7",
    ]
    means = archive.read("excel/diagram-10-interventions_per_case.csv").decode("utf-8-sig")
    assert "Genomsnitt;Insatstyper per ärende;9;5;1,80" in means.split("\r\n")
    # A share with N = 0 is "–", never 0.
    mean = archive.read("excel/diagram-10-interventions_per_case.csv").decode("utf-8-sig")
    assert "Ålder 65–74 år;Insatstyper per ärende;0;0;–" in mean.split("\r\n")


def sheet_rows(sheet: Any) -> list[tuple[Any, ...]]:
    return [tuple(c.value for c in row) for row in sheet.iter_rows()]


def test_xlsx_numbers_are_numbers_with_swedish_formats(internal_summary: Summary) -> None:
    book = openpyxl.load_workbook(io.BytesIO(write_xlsx(internal_summary)))
    names = book.sheetnames
    assert names[0] == "Innehåll"
    assert names[1:4] == [
        "Diagram 1 Antal ärenden i olik…",
        "Ärenden efter kommunens storlek",
        "Diagram 2 Hur ser könsfördelni…",
    ]
    assert all(len(n) <= 31 and not set(n) & set("[]:*?/\\") for n in names)
    assert len(set(names)) == len(names) == len(internal_summary.tables) + 1
    about = "Område: Stockholms kommun · Period (aktualiserade ärenden): 2023-01-01 – 2023-12-31"
    for name in names:  # area, period and catalogue version on every sheet
        texts = [c for row in sheet_rows(book[name]) for c in row if isinstance(c, str)]
        assert any(t.startswith(about) and internal_summary.catalogue_version in t for t in texts)

    sex = book["Diagram 2 Hur ser könsfördelni…"]
    assert sex["A1"].value == "Diagram 2: Hur ser könsfördelningen ut?"
    header = [c.value for c in sex[6]]
    assert header == ["Kön", "Antal (n)", "N", "Andel (%)"]
    women, men, missing = (next(iter(sex.iter_rows(min_row=r, max_row=r))) for r in (7, 8, 9))
    assert [c.value for c in women] == ["Kvinna", 4, 5, 80.0]
    assert [c.value for c in missing] == ["Ej registrerat", 1, 6, 16.7]
    # Numbers, not texts (Excel stores 80.0 as 80: openpyxl reads an int).
    assert [c.data_type for c in (*women[1:], *men[1:])] == ["n"] * 6
    assert all(isinstance(c.value, int | float) for c in (*women[1:], *men[1:]))
    assert (women[1].number_format, women[2].number_format) == ("#,##0", "#,##0")
    assert women[3].number_format == "0.0"

    per_case = book[
        names[1 + [t.id for t in internal_summary.tables].index("interventions_per_case")]
    ]
    rows = sheet_rows(per_case)
    assert ("Genomsnitt", "Insatstyper per ärende", 9, 5, 1.8) in rows
    assert ("Ålder 65–74 år", "Insatstyper per ärende", 0, 0, "–") in rows

    contents = sheet_rows(book["Innehåll"])
    assert ("Antal ärenden", 6, None) in contents
    assert any(
        r[0] == "Diagram 2 Hur ser könsfördelni…" and r[1] == "Hur ser könsfördelningen ut?"
        for r in contents
    )


def test_xlsx_hidden_values_are_marked_not_zero(protected_summary: Summary) -> None:
    book = openpyxl.load_workbook(io.BytesIO(write_xlsx(protected_summary)))
    sex = book["Diagram 2 Hur ser könsfördelni…"]
    rows = sheet_rows(sex)
    women = [r for r in rows if r[:2] == ("Stockholm", "Kvinna")]
    assert women == [("Stockholm", "Kvinna", "..", "..", "..")]
    texts = [c for row in rows for c in row if isinstance(c, str)]
    assert any(t.startswith("Källa:") for t in texts)
    assert any(t.startswith("N: ") for t in texts)


def test_sheet_names_respect_excel_limits() -> None:
    def spec_table(table_id: str, title: str, diagram: str | None) -> Table:
        spec = TableSpec(
            table_id, Label(title, title), diagram, Label("N", "N"), "single", ("x",), "x"
        )
        return Table(spec, pd.DataFrame())

    tables = [
        spec_table("a", "Vem: utövar [våldet]? / * \\ och varför", "Diagram 8"),
        spec_table("b", "Samma rubrik som är mycket längre än trettioen tecken", None),
        spec_table("c", "Samma rubrik som är mycket längre än trettioen tecken", None),
        spec_table("d", "Innehåll", None),
    ]
    names = sheet_names(tables)
    assert names[0] == "Diagram 8 Vem utövar våldet oc…"
    assert names[1] == "Samma rubrik som är mycket län…"
    assert names[2] == "Samma rubrik som är mycket (2)"
    assert names[3] == "Innehåll (2)"
    assert all(len(n) <= 31 for n in names)


def test_chart_data_like_the_report(internal_summary: Summary) -> None:
    # Diagram 9: sorted by size, N in the title.
    interventions = chart_data(internal_summary, internal_summary.table("interventions"))
    assert interventions.categories[:2] == ["Stödsamtal (enskilt)", "Skyddat boende"]
    assert interventions.series[0].values[:2] == [40.0, 40.0]
    assert interventions.n_text == "N=5"
    assert title_text(internal_summary.table("interventions"), interventions) == (
        "Diagram 9: Vilka är de vanligaste insatserna? (N=5)"
    )
    # Diagram 1: counts per phase, registered and "Ej registrerat" stacked.
    funnel = chart_data(internal_summary, internal_summary.table("funnel"))
    assert funnel.value == "count"
    assert funnel.categories[:3] == ["Aktualiserade", "Fått insats", "Avslutade"]
    assert [s.name for s in funnel.series] == ["Registrerat", "Ej registrerat"]
    assert funnel.series[0].values == [6, 5, 4, 4, 3, 3]
    assert funnel.series[1].values == [0, 1, 2, 0, 1, 1]
    assert funnel.n_text == ""  # N differs by phase, as in the report
    # Diagram 21: the report's "HRV" / "Ej HRV", each with its N.
    hrv = chart_data(internal_summary, internal_summary.table("hrv_age_band"))
    assert [s.name for s in hrv.series] == ["HRV", "Ej HRV"]
    assert hrv.n_text == "HRV N=1, Ej HRV N=2"
    assert hrv.categories == ["18–24", "25–34", "35–44", "45–54", "55–64", "65–74", "75–"]


def test_charts_name_area_and_period_and_keep_legends_off_the_data(
    internal_summary: Summary, protected_summary: Summary
) -> None:
    svg = render_chart(internal_summary, internal_summary.table("funnel"), "svg").decode()
    assert "Diagram 1: Antal ärenden i olika faser" in svg
    assert "Stockholms kommun · aktualiserade 2023-01-01 – 2023-12-31" in svg
    assert "Ej registrerat" in svg
    assert "Källa: ISU-registret" in svg
    png = render_chart(protected_summary, protected_summary.table("sex"), "png")
    assert png.startswith(b"\x89PNG")
    hidden = render_chart(protected_summary, protected_summary.table("sex"), "svg").decode()
    assert ".." in hidden
    assert "dolt värde" in hidden
    # The legend sits above the plot: below the title, above every bar.
    figure = chart_figure(internal_summary, internal_summary.table("hrv_age_band"))
    axes = figure.axes[0].get_window_extent()
    for legend in figure.legends:
        box = legend.get_window_extent()
        assert box.y0 >= axes.y1


def test_html_report_is_self_contained_swedish(internal_summary: Summary) -> None:
    html = write_html(internal_summary).decode("utf-8")
    assert html.startswith("<!DOCTYPE html>")
    assert 'lang="sv"' in html
    # Title and N once: in the heading, not again inside the chart.
    assert html.count("Diagram 9: Vilka är de vanligaste insatserna?") == 1
    assert "<h3>Diagram 9: Vilka är de vanligaste insatserna? (N=5)</h3>" in html
    section = html[html.index('<section class="table" id="interventions">') :]
    section = section[: section.index("</section>")]
    assert section.count("N: Ärenden med minst en insats<") == 1
    assert section.count("Vilka är de vanligaste insatserna?") == 1
    assert "2023-01-01 – 2023-12-31" in html
    assert internal_summary.catalogue_version in html
    assert "<svg" in html
    assert 'src="http' not in html
    assert "<link" not in html
    assert "<script" not in html
    assert "@media print" in html


def test_html_report_of_a_protected_summary(protected_summary: Summary) -> None:
    html = write_html(protected_summary).decode("utf-8")
    assert "Röjandeskydd" in html
    assert "Diagram 2: Hur ser könsfördelningen ut?" in html


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
