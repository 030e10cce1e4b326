"""exporters.published: T as Kolada publishes it, K/M hidden together when a
part is small (a frame built by hand; an invariant as a property)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from app.catalogue.loader import load_catalogue
from app.config import PROJECT_ROOT
from app.indicators.loader import load_indicators
from exporters.indicators import ROW_COLUMNS, IndicatorResult, calendar_year, rolling_12_months
from exporters.published import SUPPRESSED, published_result

SPECS = load_indicators(
    PROJECT_ROOT / "variables" / "indicators", load_catalogue(PROJECT_ROOT / "variables")
)


def result(kpi: str, counts: dict[str, tuple[int, int]], level: str = "municipality") -> Any:
    """One area, T/K/M: sex -> (numerator, denominator)."""
    definition = SPECS[kpi].definition()
    rows = [
        {
            "indicator": kpi,
            "level": level,
            "area_code": "0114" if level == "municipality" else "0114-01",
            "municipality_code": "0114",
            "period": "2025",
            "sex": sex,
            "ours": sex != "T",
            "numerator": n,
            "denominator": d,
            "population_year": 2025,
            "raw_value": 10.0,
            "value": 10.0,
            "count": 1,
            "method": "ratio",
            "reason": None,
        }
        for sex, (n, d) in counts.items()
    ]
    frame = pd.DataFrame(rows, columns=list(ROW_COLUMNS))
    for column in ("numerator", "denominator", "population_year", "count"):
        frame[column] = frame[column].astype("Int64")
    for column in ("raw_value", "value"):
        frame[column] = frame[column].astype("Float64")
    period = calendar_year(2025) if kpi != "A" else rolling_12_months(date(2025, 12, 31))
    return IndicatorResult(definition, period, {}, frame)


def shown(res: IndicatorResult) -> dict[str, Any]:
    return {
        str(r["sex"]): (None if pd.isna(r["value"]) else r["value"], r["reason"])
        for _, r in res.rows.iterrows()
    }


def test_big_parts_are_published() -> None:
    out = published_result(result("U30750", {"T": (18, 36500), "K": (10, 18300), "M": (8, 18200)}))
    assert shown(out) == {"T": (10.0, None), "K": (10.0, None), "M": (10.0, None)}


def test_one_small_part_hides_both_and_keeps_t() -> None:
    out = published_result(result("U30750", {"T": (23, 36500), "K": (20, 18300), "M": (3, 18200)}))
    assert shown(out) == {"T": (10.0, None), "K": (None, SUPPRESSED), "M": (None, SUPPRESSED)}
    assert out.rows["numerator"].isna().tolist() == [False, True, True]


def test_unknown_sex_small_hides_the_split() -> None:
    # T − K − M = 2 persons without a registered sex: K and M would reveal them.
    out = published_result(result("U30750", {"T": (22, 36500), "K": (10, 18300), "M": (10, 18200)}))
    assert shown(out)["K"] == (None, SUPPRESSED)


def test_share_hides_a_small_complement() -> None:
    # Indicator A: 10 of 12 women: 2 without bistånd would be revealed.
    out = published_result(result("A", {"T": (20, 22), "K": (10, 12), "M": (10, 10)}))
    assert shown(out)["K"] == (None, SUPPRESSED)
    assert out.rows["denominator"].isna().tolist() == [False, True, True]


def test_a_share_can_be_protected_as_a_whole() -> None:
    small = result("A", {"T": (0, 3), "K": (0, 2), "M": (0, 1)})
    assert shown(published_result(small))["T"] == (10.0, None)
    whole = published_result(small, protect_total=True)
    assert set(shown(whole).values()) == {(None, SUPPRESSED)}
    big = result("A", {"T": (10, 20), "K": (10, 10), "M": (0, 10)})
    assert shown(published_result(big, protect_total=True))["T"] == (10.0, None)


def test_districts_are_left_out() -> None:
    out = published_result(
        result("U30750", {"T": (18, 1), "K": (10, 1), "M": (8, 1)}, level="district")
    )
    assert out.rows.empty


@settings(max_examples=200, deadline=None, derandomize=True)
@given(
    k=st.integers(0, 30),
    m=st.integers(0, 30),
    unknown=st.integers(0, 10),
    threshold=st.integers(1, 10),
)
def test_no_small_count_is_revealed(k: int, m: int, unknown: int, threshold: int) -> None:
    out = published_result(
        result("U30750", {"T": (k + m + unknown, 9), "K": (k, 9), "M": (m, 9)}), threshold
    )
    rows = {str(r["sex"]): r for _, r in out.rows.iterrows()}
    assert not pd.isna(rows["T"]["numerator"])
    if not pd.isna(rows["K"]["numerator"]):
        for part in (k, m, unknown):
            assert part == 0 or part >= threshold
    assert pd.isna(rows["K"]["numerator"]) == pd.isna(rows["M"]["numerator"])
