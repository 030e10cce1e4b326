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
from exporters.published import SUPPRESSED, published_result, with_aggregates

SPECS = load_indicators(
    PROJECT_ROOT / "variables" / "indicators", load_catalogue(PROJECT_ROOT / "variables")
)


def result(
    kpi: str,
    counts: dict[str, tuple[int, int]],
    level: str = "municipality",
    area: str = "0114",
    more: dict[str, dict[str, tuple[int, int]]] | None = None,
) -> Any:
    """Areas, T/K/M: sex -> (numerator, denominator) (``more``: other municipalities)."""
    definition = SPECS[kpi].definition()
    areas = {area: counts, **(more or {})}
    rows = [
        {
            "indicator": kpi,
            "level": level,
            "area_code": code if level == "municipality" else f"{code}-01",
            "municipality_code": code,
            "period": "2025",
            "sex": sex,
            "ours": sex != "T",
            "numerator": n,
            "denominator": d,
            "population_year": 2025,
            "raw_value": 10.0 if d else None,
            "value": 10.0 if d else None,
            "count": 1,
            "method": "ratio",
            "reason": None,
        }
        for code, by_sex in areas.items()
        for sex, (n, d) in by_sex.items()
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


COUNTY_OF = {"0114": "01", "0180": "01", "1280": "12"}


def aggregated(more: dict[str, dict[str, tuple[int, int]]]) -> dict[str, dict[str, Any]]:
    first, *rest = more.items()
    res = result("U30750", first[1], area=first[0], more=dict(rest))
    combined, ancestors = with_aggregates(res, COUNTY_OF, ["01"])
    out = published_result(combined, ancestors=ancestors)
    return {
        str(code): {
            str(r["sex"]): (
                None if pd.isna(r["numerator"]) else r["numerator"],
                None if pd.isna(r["value"]) else r["value"],
                r["reason"],
            )
            for _, r in block.iterrows()
        }
        for code, block in out.rows.groupby("area_code")
    }


def test_aggregates_are_weighted_sums_and_shown_when_no_part_is_hidden() -> None:
    big = {"T": (20, 20000), "K": (10, 10000), "M": (10, 10000)}
    rows = aggregated({"0114": big, "0180": big, "1280": big})
    assert rows["0001"]["T"] == (40, 10.0, None)  # 40 / 40 000 × 10 000
    assert rows["0001"]["K"] == (20, 10.0, None)
    assert rows["0000"]["T"] == (60, 10.0, None)


def test_an_aggregate_hides_its_split_when_a_part_is_hidden() -> None:
    big = {"T": (20, 20000), "K": (10, 10000), "M": (10, 10000)}
    small = {"T": (12, 20000), "K": (2, 10000), "M": (10, 10000)}
    rows = aggregated({"0114": big, "0180": big, "1280": small})
    assert rows["0001"]["K"] == (20, 10.0, None)  # Malmö is in another county
    assert rows["0000"]["K"][2] == SUPPRESSED  # nation K − the others would give Malmö's 2
    assert rows["0000"]["T"][0] == 52


def test_an_aggregate_without_contributing_municipalities_is_empty() -> None:
    none = {"T": (0, 0), "K": (0, 0), "M": (0, 0)}
    rows = aggregated(
        {"1280": {"T": (20, 20000), "K": (10, 10000), "M": (10, 10000)}, "0114": none}
    )
    assert rows["0001"]["T"][1:] == (None, "population_missing")
