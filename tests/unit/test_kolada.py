"""The three Kolada key ratios, hand-computed (exporters.indicators + kolada).

Every expected number below was worked out by hand from the case list; the
value is count / adult population × 10 000, rounded half up to one decimal.

Upplands Väsby (0114). Adults: 2024 T 36 000 (K 18 000, M 18 000);
2025 T 36 500 (K 18 300, M 18 200).

c1  P1 woman 30, opened 2024-03-10, intervention 2024-03-15 (bistånd),
    closed 2024-09-30, goal 1, reason 1.
c2  P2 man 40, opened 2024-12-15 (December), intervention 2024-12-20
    (without bistånd), closed 2025-01-10 (January), goal 2, reason 3.
c3  P1 again (re-aktualisering), opened 2025-02-01, intervention 2025-02-05.
c4  P3 woman, opened 2025-05-01, no intervention, closed 2025-06-01, goal 1,
    reason 2 (closed without intervention).
c5  P4 sex and age not registered, opened 2025-07-01, intervention 2025-07-02.
c7  P3 again, opened 2025-09-01 (two cases of one person in one year).
x1  excluded (P5, opened 2025-03-01, intervention): counted nowhere.
u1  P6 aged 17 (a client under 18): counted nowhere.

Stockholm (0180), 2025, districts (our codes) 0180-01 (T 100 000, K 50 000,
M 50 000), 0180-02 (T 70 000, K 35 000, M 35 000), 0180-03 without a
population figure; the municipality T 800 000 (K 400 000, M 400 000).

s1  P10 woman, 0180-01, opened 2025-04-01, intervention 2025-04-02, closed
    2025-10-01, goal 1, reason 1.
s2  P11 man, 0180-02, opened 2025-05-01.
s3  P12 woman, 0180-02, opened 2025-06-01, intervention 2025-06-10.
s4  P13 woman, 0180-03, opened 2025-08-01.

Vallentuna (0115) has no cases: every value is empty with reason no_cases.
"""

from __future__ import annotations

import io
import json
from datetime import date
from typing import Any

import pandas as pd
import pytest
from openpyxl import load_workbook

from app.catalogue.loader import Catalogue, load_catalogue
from app.config import PROJECT_ROOT
from app.indicators.loader import load_indicators
from app.indicators.spec import IndicatorSpec
from exporters.frame import RawData
from exporters.indicators import (
    CaseData,
    IndicatorResult,
    Population,
    calendar_year,
    case_data,
    compute,
)
from exporters.kolada import (
    CSV_COLUMNS,
    KoladaReport,
    kolada_csv,
    kolada_document,
    kolada_xlsx,
)
from exporters.rounding import round_half_up

STHLM_DISTRICTS = [f"0180-{i:02d}" for i in range(1, 14)]


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load_catalogue(PROJECT_ROOT / "variables")


@pytest.fixture(scope="module")
def specs(catalogue: Catalogue) -> dict[str, IndicatorSpec]:
    return load_indicators(PROJECT_ROOT / "variables" / "indicators", catalogue)


def case(case_id: str, person: str, municipality: str, opened: str, **kw: Any) -> dict[str, Any]:
    return {
        "case_id": case_id,
        "person": person,
        "unit_id": "u",
        "unit_kind": 1,
        "municipality_code": municipality,
        "county_code": "01",
        "district_code": kw.get("district"),
        "actualised_on": opened,
        "closed_on": kw.get("closed"),
        "is_excluded": kw.get("excluded", False),
        "exclusion_reason": "perpetrator" if kw.get("excluded") else None,
        "sex": kw.get("sex"),
        "age": kw.get("age"),
        "goal_followup": kw.get("goal"),
        "closing_reason": kw.get("reason"),
    }


CASES = [
    case("c1", "P1", "0114", "2024-03-10", sex=1, age=30, closed="2024-09-30", goal=1, reason=1),
    case("c2", "P2", "0114", "2024-12-15", sex=2, age=40, closed="2025-01-10", goal=2, reason=3),
    case("c3", "P1", "0114", "2025-02-01", sex=1, age=31),
    case("c4", "P3", "0114", "2025-05-01", sex=1, age=50, closed="2025-06-01", goal=1, reason=2),
    case("c5", "P4", "0114", "2025-07-01"),
    case("c7", "P3", "0114", "2025-09-01", sex=1, age=50),
    case("x1", "P5", "0114", "2025-03-01", sex=1, age=44, excluded=True),
    case("u1", "P6", "0114", "2025-04-01", sex=1, age=17),
    case("s1", "P10", "0180", "2025-04-01", sex=1, district="0180-01", closed="2025-10-01", goal=1),
    case("s2", "P11", "0180", "2025-05-01", sex=2, district="0180-02"),
    case("s3", "P12", "0180", "2025-06-01", sex=1, district="0180-02"),
    case("s4", "P13", "0180", "2025-08-01", sex=1, district="0180-03"),
]
for row in CASES:
    if row["case_id"] == "s1":
        row["closing_reason"] = 1
INTERVENTIONS = [
    ("c1", "2024-03-15", 1),
    ("c2", "2024-12-20", 2),
    ("c3", "2025-02-05", 1),
    ("c5", "2025-07-02", 1),
    ("x1", "2025-03-02", 1),
    ("u1", "2025-04-02", 1),
    ("s1", "2025-04-02", 1),
    ("s3", "2025-06-10", 2),
]
POPULATION = Population(
    {
        ("0114", 2024, "T"): 36000,
        ("0114", 2024, "K"): 18000,
        ("0114", 2024, "M"): 18000,
        ("0114", 2025, "T"): 36500,
        ("0114", 2025, "K"): 18300,
        ("0114", 2025, "M"): 18200,
        ("0180", 2025, "T"): 800000,
        ("0180", 2025, "K"): 400000,
        ("0180", 2025, "M"): 400000,
        ("0180-01", 2025, "T"): 100000,
        ("0180-01", 2025, "K"): 50000,
        ("0180-01", 2025, "M"): 50000,
        ("0180-02", 2025, "T"): 70000,
        ("0180-02", 2025, "K"): 35000,
        ("0180-02", 2025, "M"): 35000,
    },
    {2024: "test", 2025: "test"},
)


@pytest.fixture(scope="module")
def data() -> CaseData:
    frame = pd.DataFrame(CASES)
    persons = dict(zip(frame["case_id"], frame.pop("person"), strict=True))
    interventions = pd.DataFrame(
        [
            {"case_id": c, "start_on": d, "type_code": 4, "grounds_code": g}
            for c, d, g in INTERVENTIONS
        ]
    )
    return case_data(RawData(frame, interventions), persons)


def run(
    specs: dict[str, IndicatorSpec],
    data: CaseData,
    kpi: str,
    year: int,
    municipalities: tuple[str, ...] = ("0114", "0115", "0180"),
    **choices: str,
) -> IndicatorResult:
    return compute(
        specs[kpi].definition(),
        data,
        calendar_year(year),
        municipalities=list(municipalities),
        population=POPULATION,
        districts={"0180": STHLM_DISTRICTS},
        choices=choices,
    )


def values(result: IndicatorResult, area: str) -> dict[str, tuple[Any, Any, Any, Any]]:
    """Per sex: (numerator, denominator, value, reason)."""
    out = {}
    for sex in ("T", "K", "M"):
        row = result.row(area, sex)
        out[sex] = (row["numerator"], row["denominator"], row["value"], row["reason"])
    return out


def test_round_half_up_as_published() -> None:
    assert round_half_up(0.25, 1) == 0.3
    assert round_half_up(0.05, 1) == 0.1
    assert round_half_up(0.5479, 1) == 0.5
    assert round_half_up(2.45, 1) == 2.5


def test_u30750_counts_unique_adults_opened_in_the_year(
    specs: dict[str, IndicatorSpec], data: CaseData
) -> None:
    y2024 = run(specs, data, "U30750", 2024)
    assert values(y2024, "0114") == {
        "T": (2, 36000, 0.6, None),
        "K": (1, 18000, 0.6, None),
        "M": (1, 18000, 0.6, None),
    }
    y2025 = run(specs, data, "U30750", 2025)
    # P1, P3 (twice), P4 (sex unknown: in T only); not x1 (excluded), not u1 (17).
    assert values(y2025, "0114") == {
        "T": (3, 36500, 0.8, None),
        "K": (2, 18300, 1.1, None),
        "M": (0, 18200, 0.0, None),
    }


def test_u30750_counting_cases_is_a_documented_choice(
    specs: dict[str, IndicatorSpec], data: CaseData
) -> None:
    result = run(specs, data, "U30750", 2025, counting="cases")
    assert result.choices["counting"] == "cases"
    assert values(result, "0114")["T"] == (4, 36500, 1.1, None)
    assert values(result, "0114")["K"] == (3, 18300, 1.6, None)


def test_u30751_interventions_started_in_the_year(
    specs: dict[str, IndicatorSpec], data: CaseData
) -> None:
    assert values(run(specs, data, "U30751", 2024), "0114") == {
        "T": (2, 36000, 0.6, None),
        "K": (1, 18000, 0.6, None),
        "M": (1, 18000, 0.6, None),
    }
    # c3 (P1) and c5 (P4); c2's intervention started in December 2024.
    assert values(run(specs, data, "U30751", 2025), "0114") == {
        "T": (2, 36500, 0.5, None),
        "K": (1, 18300, 0.5, None),
        "M": (0, 18200, 0.0, None),
    }
    # Option: interventions still running in a case open during the year (c2 too).
    active = run(specs, data, "U30751", 2025, intervention_rule="active_in_year")
    assert values(active, "0114")["T"] == (3, 36500, 0.8, None)
    assert values(active, "0114")["M"] == (1, 18200, 0.5, None)


def test_u30752_closed_in_the_year_with_goal_reached(
    specs: dict[str, IndicatorSpec], data: CaseData
) -> None:
    assert values(run(specs, data, "U30752", 2024), "0114") == {
        "T": (1, 36000, 0.3, None),
        "K": (1, 18000, 0.6, None),
        "M": (0, 18000, 0.0, None),
    }
    # c2: opened December 2024, closed January 2025 with goal 2 -> counted in 2025.
    # c4: goal 1 but no intervention -> not counted.
    assert values(run(specs, data, "U30752", 2025), "0114") == {
        "T": (1, 36500, 0.3, None),
        "K": (0, 18300, 0.0, None),
        "M": (1, 18200, 0.5, None),
    }
    # The stricter reading also needs avslutsorsak 1: c2 closed with reason 3.
    strict = run(specs, data, "U30752", 2025, goal_rule="goal_and_reason")
    assert values(strict, "0114")["T"] == (0, 36500, 0.0, None)
    assert strict.choices["goal_rule"] == "goal_and_reason"


def test_municipality_without_cases_is_null_with_reason_not_zero(
    specs: dict[str, IndicatorSpec], data: CaseData
) -> None:
    for kpi in ("U30750", "U30751", "U30752"):
        for year in (2024, 2025):
            for sex, (numerator, _, value, reason) in values(
                run(specs, data, kpi, year), "0115"
            ).items():
                assert (numerator, value, reason) == (None, None, "no_cases"), (kpi, year, sex)


def test_missing_population_is_null_and_latest_year_is_an_option(
    specs: dict[str, IndicatorSpec], data: CaseData
) -> None:
    # 2026: c3, c5, c7 are still open, so 0114 takes part, but no 2026 population.
    same = run(specs, data, "U30750", 2026, ("0114",))
    assert values(same, "0114")["T"] == (0, None, None, "population_missing")
    latest = run(specs, data, "U30752", 2026, ("0114",), population_year="latest")
    row = latest.row("0114")
    assert (row["numerator"], row["denominator"], row["population_year"], row["value"]) == (
        0,
        36500,
        2025,
        0.0,
    )


def test_stockholm_is_the_mean_of_participating_districts(
    specs: dict[str, IndicatorSpec], data: CaseData
) -> None:
    result = run(specs, data, "U30750", 2025)
    # Districts: 0180-01 1/100 000 -> 0.1; 0180-02 2/70 000 -> 0.2857 -> 0.3;
    # 0180-03 has a case but no population; the other ten have no cases.
    assert values(result, "0180-01")["T"] == (1, 100000, 0.1, None)
    assert values(result, "0180-02") == {
        "T": (2, 70000, 0.3, None),
        "K": (1, 35000, 0.3, None),
        "M": (1, 35000, 0.3, None),
    }
    assert values(result, "0180-03")["T"] == (1, None, None, "population_missing")
    assert values(result, "0180-13")["T"] == (None, None, None, "no_cases")
    # Municipality: mean of the unrounded district values, 4 adults, 2 districts.
    municipality = result.row("0180")
    assert municipality["method"] == "district_mean"
    assert municipality["count"] == 2
    assert (municipality["numerator"], municipality["denominator"]) == (4, 800000)
    assert municipality["value"] == 0.2  # (0.1 + 0.2857) / 2 = 0.193
    assert result.row("0180", "K")["value"] == 0.2  # (0.2 + 0.2857) / 2 = 0.243
    assert result.row("0180", "M")["value"] == 0.1  # (0.0 + 0.2857) / 2 = 0.143
    # Option: the whole municipality, 4 / 800 000.
    whole = run(specs, data, "U30750", 2025, district_method="whole_municipality")
    assert (whole.row("0180")["value"], whole.row("0180")["method"]) == (0.1, "ratio")


def test_stockholm_u30751_and_u30752_district_means(
    specs: dict[str, IndicatorSpec], data: CaseData
) -> None:
    u30751 = run(specs, data, "U30751", 2025)
    assert values(u30751, "0180-01")["T"] == (1, 100000, 0.1, None)
    assert values(u30751, "0180-02")["T"] == (1, 70000, 0.1, None)
    assert u30751.row("0180")["value"] == 0.1  # (0.1 + 0.1429) / 2 = 0.121
    u30752 = run(specs, data, "U30752", 2025)
    assert values(u30752, "0180-02")["T"] == (0, 70000, 0.0, None)
    assert u30752.row("0180")["value"] == 0.1  # (0.1 + 0.0) / 2 = 0.05 -> 0.1


def test_unknown_choice_or_value_is_refused(
    specs: dict[str, IndicatorSpec], data: CaseData
) -> None:
    with pytest.raises(ValueError, match="unknown choice"):
        run(specs, data, "U30750", 2025, goal_rule="goal_and_reason")
    with pytest.raises(ValueError, match="has no value"):
        run(specs, data, "U30752", 2025, goal_rule="sometimes")


@pytest.fixture(scope="module")
def report(specs: dict[str, IndicatorSpec], data: CaseData) -> KoladaReport:
    return KoladaReport(
        results=[run(specs, data, k, 2025) for k in ("U30750", "U30751", "U30752")],
        area_names={"0114": "Upplands Väsby kommun", "0180-01": "Rinkeby-Kista"},
        generated_on=date(2026, 2, 1),
        population_sources={2025: "test"},
        catalogue_version="v",
    )


def test_kolada_document_has_the_api_v3_shape_and_marks_our_split(report: KoladaReport) -> None:
    doc = kolada_document(report)
    assert doc["count"] == 9  # three key ratios × three municipalities
    first = doc["values"][0]
    assert set(first) == {"kpi", "municipality", "period", "values"}
    assert (first["kpi"], first["municipality"], first["period"]) == ("U30750", "0114", 2025)
    assert first["values"] == [
        {
            "gender": "T",
            "count": 1,
            "status": "",
            "value": 0.8,
            "isu": {
                "numerator": 3,
                "population": 36500,
                "population_year": 2025,
                "method": "ratio",
                "ours": False,
                "reason": None,
                "reason_sv": None,
                "reason_en": None,
            },
        }
    ]
    empty = next(v for v in doc["values"] if v["municipality"] == "0115")["values"][0]
    assert (empty["value"], empty["status"], empty["isu"]["reason"]) == (
        None,
        "missing",
        "no_cases",
    )
    assert empty["isu"]["reason_en"].startswith("No cases in the register")
    split = next(v for v in doc["isu_values_by_sex"] if v["municipality"] == "0114")
    assert split["ours"] is True
    assert [(e["gender"], e["isu"]["ours"]) for e in split["values"]] == [
        ("K", True),
        ("M", True),
    ]
    stockholm = next(
        v for v in doc["values"] if v["municipality"] == "0180" and v["kpi"] == "U30750"
    )
    assert (stockholm["values"][0]["count"], stockholm["values"][0]["value"]) == (2, 0.2)
    districts = [v for v in doc["ou_values"] if v["kpi"] == "U30750"]
    assert [d["ou"] for d in districts] == STHLM_DISTRICTS
    assert districts[0]["ou_title"] == "Rinkeby-Kista"
    json.dumps(doc)  # serialisable as is


def test_kolada_csv_and_excel_rows(report: KoladaReport) -> None:
    text = kolada_csv(report).decode("utf-8")
    frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    assert tuple(frame.columns) == CSV_COLUMNS
    # 3 key ratios × (3 municipalities + 13 districts) × 3 sexes.
    assert len(frame) == 3 * 16 * 3
    row = frame[(frame["kpi"] == "U30752") & (frame["area_code"] == "0114")]
    assert row[["gender", "numerator", "population", "value", "ours"]].values.tolist() == [
        ["T", "1", "36500", "0.3", "nej"],
        ["K", "0", "18300", "0.0", "ja"],
        ["M", "1", "18200", "0.5", "ja"],
    ]
    empty = frame[(frame["area_code"] == "0115") & (frame["gender"] == "T")]
    assert set(empty["value"]) == {""}
    assert set(empty["reason"]) == {"no_cases"}
    book = load_workbook(io.BytesIO(kolada_xlsx(report)))
    assert book.sheetnames == ["Om", "Nyckeltal"]
    sheet = book["Nyckeltal"]
    assert sheet.max_row == len(frame) + 1
    assert sheet.cell(1, 1).value == "Nyckeltal"
    about = [c.value for c in book["Om"]["B"] if c.value]
    assert any("medelvärdet av de deltagande" in str(v) for v in about)
