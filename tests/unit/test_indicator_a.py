"""Seed 000's indicator A, hand-computed: unique adults (pseudonyms, not
cases) granted an intervention by bistånd decision (SUV 126 code 1), among
the adults current in the last 12 months; K/M.

As of 2025-12-31 the window is 2025-01-01 … 2025-12-31. Upplands Väsby (0114):

a1  P1 woman, opened 2024-06-01, bistånd 2024-06-10, still open (current).
a2  P1 again, opened 2025-03-01, nothing else (P1 counts once).
a3  P2 woman, opened 2025-02-01, intervention without bistånd, closed 2025-05-01.
a4  P3 man, opened 2025-04-01, bistånd 2025-04-05, closed 2025-08-01.
a9  P3 again, opened 2025-09-01.
a5  P4 man, opened 2023-01-01, closed 2024-12-31 (not current).
a6  P5 woman, opened 2025-06-01, interventions with and without bistånd.
a7  P6 sex not registered, opened 2025-07-01, intervention grounds "vet inte".
a8  P7 woman, opened 2026-01-05 (after the window).

Denominator: P1 K, P2 K, P3 M, P5 K, P6 (total only) -> T 5, K 3, M 1
(7 cases). Numerator (bistånd during a current case): P1, P3, P5 -> T 3,
K 2, M 1 -> 60.0 %, 66.7 %, 100.0 %. With the choice "within_period" P1's
bistånd (2024) does not count: T 2, K 1, M 1 -> 40.0 %, 33.3 %, 100.0 %.
Vallentuna (0115) has one case, of a 17-year-old: nobody in the denominator.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pandas as pd
import pytest

from app.catalogue.loader import load_catalogue
from app.config import PROJECT_ROOT
from app.indicators.loader import load_indicators
from app.indicators.spec import IndicatorSpec
from exporters.frame import RawData
from exporters.indicators import (
    CaseData,
    IndicatorResult,
    case_data,
    compute,
    indicator_document,
    rolling_12_months,
)


def case(
    case_id: str, person: str, opened: str, sex: int | None = None, **kw: Any
) -> dict[str, Any]:
    return {
        "case_id": case_id,
        "person": person,
        "unit_id": "u",
        "unit_kind": 1,
        "municipality_code": kw.get("municipality", "0114"),
        "county_code": "01",
        "district_code": None,
        "actualised_on": opened,
        "closed_on": kw.get("closed"),
        "is_excluded": False,
        "exclusion_reason": None,
        "sex": sex,
        "age": kw.get("age", 35),
    }


@pytest.fixture(scope="module")
def spec() -> IndicatorSpec:
    catalogue = load_catalogue(PROJECT_ROOT / "variables")
    return load_indicators(PROJECT_ROOT / "variables" / "indicators", catalogue)["A"]


@pytest.fixture(scope="module")
def data() -> CaseData:
    cases = pd.DataFrame(
        [
            case("a1", "P1", "2024-06-01", 1),
            case("a2", "P1", "2025-03-01", 1),
            case("a3", "P2", "2025-02-01", 1, closed="2025-05-01"),
            case("a4", "P3", "2025-04-01", 2, closed="2025-08-01"),
            case("a9", "P3", "2025-09-01", 2),
            case("a5", "P4", "2023-01-01", 2, closed="2024-12-31"),
            case("a6", "P5", "2025-06-01", 1),
            case("a7", "P6", "2025-07-01", None),
            case("a8", "P7", "2026-01-05", 1),
            case("v1", "P8", "2025-03-01", 1, municipality="0115", age=17),
        ]
    )
    persons = dict(zip(cases["case_id"], cases.pop("person"), strict=True))
    interventions = pd.DataFrame(
        [
            {"case_id": c, "start_on": d, "type_code": 4, "grounds_code": g}
            for c, d, g in (
                ("a1", "2024-06-10", 1),
                ("a3", "2025-02-10", 2),
                ("a4", "2025-04-05", 1),
                ("a6", "2025-06-02", 1),
                ("a6", "2025-06-03", 2),
                ("a7", "2025-07-02", 3),
                ("a5", "2023-02-01", 1),
                ("v1", "2025-03-02", 1),
            )
        ]
    )
    return case_data(RawData(cases, interventions), persons)


def run(spec: IndicatorSpec, data: CaseData, **choices: str) -> IndicatorResult:
    return compute(
        spec.definition(),
        data,
        rolling_12_months(date(2025, 12, 31)),
        municipalities=["0114", "0115"],
        choices=choices,
    )


def triple(result: IndicatorResult, area: str = "0114") -> dict[str, tuple[Any, Any, Any]]:
    return {
        sex: (row["numerator"], row["denominator"], row["value"])
        for sex in ("T", "K", "M")
        for row in [result.row(area, sex)]
    }


def test_rolling_window() -> None:
    window = rolling_12_months(date(2025, 12, 31))
    assert (window.start, window.end) == (date(2025, 1, 1), date(2025, 12, 31))
    leap = rolling_12_months(date(2024, 2, 29))
    assert (leap.start, leap.end) == (date(2023, 3, 1), date(2024, 2, 29))


def test_indicator_a_counts_unique_people_split_by_sex(spec: IndicatorSpec, data: CaseData) -> None:
    result = run(spec, data)
    assert result.choices == {"intervention_window": "during_case"}
    assert triple(result) == {"T": (3, 5, 60.0), "K": (2, 3, 66.7), "M": (1, 1, 100.0)}
    # Counting people, not cases: 7 cases were current, 5 people.
    assert result.row("0114")["ours"] is False


def test_indicator_a_within_period_choice(spec: IndicatorSpec, data: CaseData) -> None:
    result = run(spec, data, intervention_window="within_period")
    assert triple(result) == {"T": (2, 5, 40.0), "K": (1, 3, 33.3), "M": (1, 1, 100.0)}


def test_nobody_in_the_denominator_is_null_with_a_reason(
    spec: IndicatorSpec, data: CaseData
) -> None:
    row = run(spec, data).row("0115")
    assert (row["numerator"], row["denominator"], row["value"], row["reason"]) == (
        0,
        0,
        None,
        "no_subjects",
    )


def test_indicator_document(spec: IndicatorSpec, data: CaseData) -> None:
    doc = indicator_document(run(spec, data), {"0114": "Upplands Väsby kommun"})
    assert doc["indicator"] == "A"
    assert doc["period"] == {"from": "2025-01-01", "to": "2025-12-31", "year": None}
    assert doc["counting"] == "persons"
    area = doc["areas"][0]
    assert (area["area_code"], area["area_name"]) == ("0114", "Upplands Väsby kommun")
    assert [(v["sex"], v["value"]) for v in area["values"]] == [
        ("T", 60.0),
        ("K", 66.7),
        ("M", 100.0),
    ]
    assert doc["areas"][1]["values"][0]["reason_label"]["en"].startswith("Nobody")
