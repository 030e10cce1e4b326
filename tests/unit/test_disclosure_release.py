"""Disclosure control of a whole release (issue 13 item 1): regressions.

* top_group_profile's "all" row and "top" row have different Ns; they used to
  share one cell, so a municipality with 5 cases had its "all" N published
  as 1–6 while the funnel hid the same total.
* meta.excluded is protected in the same cell store as the tables: with one
  municipality's exclusions hidden, another is hidden too, so that the
  county or nation minus the published ones does not reveal it.
"""

from __future__ import annotations

import pandas as pd
import pytest

from app.catalogue.loader import load_catalogue
from app.config import PROJECT_ROOT
from app.stats.codebook import codebook_from_catalogue
from exporters.codebook import Codebook
from exporters.frame import AnalysisFrame, RawData, build_frame
from exporters.spec import Table
from exporters.summary import protected_release
from tests.unit.test_exporters_golden import CASES, INTERVENTIONS, RISKS, SURVEYS

THRESHOLD = 7
COUNTY_OF = {"0114": "01", "0180": "01", "0181": "01", "1280": "12", "1281": "12"}


@pytest.fixture(scope="module")
def codebook() -> Codebook:
    return codebook_from_catalogue(load_catalogue(PROJECT_ROOT / "variables"))


@pytest.fixture(scope="module")
def analysis(codebook: Codebook) -> AnalysisFrame:
    raw = RawData(
        pd.DataFrame(CASES),
        pd.DataFrame(INTERVENTIONS, columns=["case_id", "start_on", "type_code", "grounds_code"]),
        pd.DataFrame(
            RISKS, columns=["case_id", "assessed_on", "phase_code", "instrument_code", "score"]
        ),
        pd.DataFrame(SURVEYS),
    )
    return build_frame(raw, codebook)


def cases(frame: pd.DataFrame, municipality: str, count: int) -> pd.DataFrame:
    """``count`` cases in ``municipality``: the six hand-made ones over and over."""
    rows = frame.iloc[[i % len(frame) for i in range(count)]]
    return rows.assign(municipality_code=municipality)


def published_small(table: Table) -> pd.DataFrame:
    d = table.data
    n = d["n"].astype("Int64")
    big_n = d["N"].astype("Int64")
    small_n = n.notna() & (n > 0) & (n < THRESHOLD)
    small_big = big_n.notna() & (big_n > 0) & (big_n < THRESHOLD)
    if table.spec.kind == "mean":
        return d[small_big]  # a mean's n is a sum, not a count of cases
    return d[small_n | small_big]


def test_top_group_profile_all_n_of_five_cases_is_never_published(
    analysis: AnalysisFrame, codebook: Codebook
) -> None:
    frame = pd.concat(
        [
            cases(analysis.frame, "0114", 5),
            cases(analysis.frame, "0180", 60),
            cases(analysis.frame, "0181", 30),
            cases(analysis.frame, "1280", 60),
            cases(analysis.frame, "1281", 24),
        ],
        ignore_index=True,
    )
    release = protected_release(frame, codebook, threshold=THRESHOLD, county_of=COUNTY_OF)
    for table in release.tables:
        assert published_small(table).empty, table.id
    profile = next(t for t in release.tables if t.id == "top_group_profile").data
    mine = profile[profile["area_code"].astype(str) == "0114"]
    everyone = mine[mine["group"].astype(str) == "all"]
    assert not everyone.empty
    # Each "all" N is 0, hidden, or at least the threshold; never 1–6.
    for value, hidden in zip(everyone["N"], everyone["N_suppressed"], strict=True):
        assert bool(hidden) or pd.isna(value) or value == 0 or value >= THRESHOLD
    # The "all" rows count other cases than the "top" rows: different cells.
    top = mine[mine["group"].astype(str) == "top"]
    assert set(everyone["N_key"].astype(str)).isdisjoint(set(top["N_key"].astype(str)))
    funnel = next(t for t in release.tables if t.id == "funnel").data
    opened = funnel[
        (funnel["area_code"].astype(str) == "0114")
        & (funnel["step"].astype(str) == "aktualiserad")
        & (funnel["registered"].astype(str) == "registrerad")
    ]
    assert bool(opened["suppressed"].iloc[0])


def test_meta_excluded_gets_secondary_suppression(
    analysis: AnalysisFrame, codebook: Codebook
) -> None:
    frame = pd.concat(
        [cases(analysis.frame, m, 40) for m in ("0114", "0180", "0181", "1280")],
        ignore_index=True,
    )
    excluded = pd.DataFrame(
        {
            "municipality_code": ["0114"] * 3 + ["0180"] * 14 + ["0181"] * 12 + ["1280"] * 9,
            "county_code": ["01"] * 29 + ["12"] * 9,
            "reason": ["perpetrator"] * 38,
        }
    )
    release = protected_release(
        frame, codebook, threshold=THRESHOLD, county_of=COUNTY_OF, excluded_cases=excluded
    )
    # 0114's 3 is hidden (primary); so is one more count of the county, else
    # the county's 29 minus 0180's 14 and 0181's 12 gives 3.
    assert release.excluded_in(("municipality", "0114")) == {"perpetrator": None}
    known = [
        release.excluded_in(area)["perpetrator"]
        for area in (("municipality", "0180"), ("municipality", "0181"), ("county", "01"))
    ]
    assert known.count(None) >= 1
    # County 12 is not involved: its municipality's 9 stays published.
    assert release.excluded_in(("municipality", "1280")) == {"perpetrator": 9}
