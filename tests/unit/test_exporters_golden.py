"""Golden tests: every table of Kapitel 2 on six hand-built cases (plus one
excluded). Every expected n, N and percent below was worked out by hand from
the case list; nothing is computed by the code under test. The frame is made
the way the application reads it: each case's analysis row
(``exporters.analysis.analysis_row``, what ``case_analysis`` stores), typed by
``exporters.frame.frame_from_table``; the tables come from their definitions
in ``variables/tables/``.

The cases (in Stockholm, 0180, over 200 000 residents, except C in Upplands
Väsby, 0114, 40 000–99 999, and F in Arjeplog, 2506, under 15 000;
closed_on − actualised_on + 1 = duration):

A  woman 22, origin 1, HRV yes, contact [1], disability [4], very severe,
   perpetrator [3, 4], collaboration [5, 7], implementation 1, closed after
   60 days, reason 1, goal 1; interventions 4, 10, 4 (grounds 1); FREDA 3
   then FREDA 2 (lower); survey 202=1, 203=4, 212=5, 206=1 -> top group.
B  woman 30, origin 4, HRV no, contact [1, 8], disability [2], severe,
   perpetrator [2], collaboration [] (none), implementation 2, closed after
   135 days, reason 3, goal 2; intervention 3 (grounds 2); conversation
   without method, no score; survey 202=3, 212=3, 206=3.
C  man 67, origin 1, HRV no, contact [13], disability [5], not severe,
   perpetrator [1], collaboration not registered, closed the same day
   (1 day), reason 4, no goal follow-up; nothing else.
D  woman 45, origin 2, HRV don't know, disability [1, 2], very severe,
   perpetrator [1, 2], collaboration [1, 2, 3, 5, 6] (4+), open;
   interventions 7, 10, 11 (grounds 1); FREDA 2 then SARA 2 (same).
E  woman, age not registered, origin 5, HRV yes, contact [1], perpetrator
   [3], collaboration [7], open; interventions 4, 15 (no grounds);
   Patriark 1 then 3 (higher).
F  sex not registered, 80, disability [4], severe, closed after 229 days,
   implementation 3, reason 7, goal 5; intervention 2 (grounds 3);
   survey 202=2 (203 not answered), 212=6.
X  excluded (perpetrator): has an intervention and a survey, counted nowhere.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

from app.catalogue.loader import load_catalogue
from app.config import PROJECT_ROOT
from app.stats.codebook import codebook_from_catalogue
from app.stats.tables import table_catalogue
from exporters.codebook import Codebook
from exporters.frame import AnalysisFrame, RawData, build_frame
from exporters.spec import Table
from exporters.tables import build_table

NR = "ej_registrerad"
Row = tuple[int, int, float | None]


def case(case_id: str, **values: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "case_id": case_id,
        "unit_id": "u1",
        "unit_kind": 1,
        "municipality_code": "0180",
        "county_code": "01",
        "district_code": None,
        "closed_on": None,
        "is_excluded": False,
        "exclusion_reason": None,
    }
    base.update(values)
    return base


CASES = [
    case(
        "A",
        actualised_on="2023-01-10",
        closed_on="2023-03-10",
        sex=1,
        age=22,
        origin=1,
        honour_context=1,
        contact_initiative=[1],
        disability=[4],
        violence_severity=3,
        perpetrator=[3, 4],
        collaboration=[5, 7],
        implementation=1,
        closing_reason=1,
        goal_followup=1,
    ),
    case(
        "B",
        actualised_on="2023-02-01",
        closed_on="2023-06-15",
        sex=1,
        age=30,
        origin=4,
        honour_context=2,
        contact_initiative=[1, 8],
        disability=[2],
        violence_severity=2,
        perpetrator=[2],
        collaboration=[],
        implementation=2,
        closing_reason=3,
        goal_followup=2,
    ),
    case(
        "C",
        municipality_code="0114",
        actualised_on="2023-03-01",
        closed_on="2023-03-01",
        sex=2,
        age=67,
        origin=1,
        honour_context=2,
        contact_initiative=[13],
        disability=[5],
        violence_severity=1,
        perpetrator=[1],
        closing_reason=4,
    ),
    case(
        "D",
        actualised_on="2023-04-01",
        sex=1,
        age=45,
        origin=2,
        honour_context=3,
        disability=[1, 2],
        violence_severity=3,
        perpetrator=[1, 2],
        collaboration=[1, 2, 3, 5, 6],
    ),
    case(
        "E",
        actualised_on="2023-05-01",
        sex=1,
        origin=5,
        honour_context=1,
        contact_initiative=[1],
        perpetrator=[3],
        collaboration=[7],
    ),
    case(
        "F",
        municipality_code="2506",
        county_code="25",
        actualised_on="2023-06-01",
        closed_on="2024-01-15",
        age=80,
        contact_initiative=[3, 4],
        disability=[4],
        violence_severity=2,
        implementation=3,
        closing_reason=7,
        goal_followup=5,
    ),
    case(
        "X",
        actualised_on="2023-06-01",
        sex=2,
        age=40,
        is_excluded=True,
        exclusion_reason="perpetrator",
    ),
]
INTERVENTIONS = [
    ("A", "2023-01-12", 4, 1),
    ("A", "2023-01-13", 10, 1),
    ("A", "2023-02-01", 4, 1),
    ("B", "2023-02-02", 3, 2),
    ("D", "2023-04-02", 7, 1),
    ("D", "2023-04-03", 10, 1),
    ("D", "2023-04-04", 11, 1),
    ("E", "2023-05-02", 4, None),
    ("E", "2023-05-03", 15, None),
    ("F", "2023-06-02", 2, 3),
    ("X", "2023-06-02", 19, 1),
]
RISKS = [
    ("A", "2023-01-11", 1, 1, 3),
    ("A", "2023-02-15", 2, 1, 2),
    ("B", "2023-02-01", 1, 6, None),
    ("D", "2023-05-01", 1, 1, 2),
    ("D", "2023-06-01", 2, 2, 2),
    ("E", "2023-07-01", 2, 3, 3),
    ("E", "2023-05-02", 1, 3, 1),
]
SURVEYS = [
    {
        "case_id": "A",
        "answered_on": "2023-03-10",
        "language_code": 1,
        "mode_code": 1,
        "survey_violence_change": 1,
        "survey_support_importance": 4,
        "survey_influence": 5,
        "survey_positive": 1,
    },
    {
        "case_id": "B",
        "answered_on": "2023-06-15",
        "language_code": 3,
        "mode_code": 2,
        "survey_violence_change": 3,
        "survey_influence": 3,
        "survey_positive": 3,
    },
    {
        "case_id": "F",
        "answered_on": "2024-01-15",
        "language_code": 1,
        "mode_code": 1,
        "survey_violence_change": 2,
        "survey_influence": 6,
    },
    {
        "case_id": "X",
        "answered_on": "2023-07-01",
        "language_code": 1,
        "mode_code": 1,
        "survey_violence_change": 5,
    },
]


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


def rows(table: Table) -> dict[tuple[str, ...], Row]:
    value = "mean" if table.spec.kind == "mean" else "percent"
    out: dict[tuple[str, ...], Row] = {}
    for record in table.data.to_dict("records"):
        key = tuple(str(record[d]) for d in table.spec.dims)
        v = record[value]
        out[key] = (int(record["n"]), int(record["N"]), None if pd.isna(v) else float(v))
    return out


def grid(
    groups: dict[Any, int] | int, categories: list[str], listed: dict[Any, Row]
) -> dict[tuple[str, ...], Row]:
    """Every category of every group (a key, or a tuple of keys): the listed
    rows as written, the rest n = 0 with the group's N (percent 0.0, or None
    when N is 0)."""
    by_group: dict[Any, int] = {"": groups} if isinstance(groups, int) else groups
    out: dict[tuple[str, ...], Row] = {}
    for group, big_n in by_group.items():
        for cat in categories:
            prefix = group if isinstance(group, tuple) else ((group,) if group else ())
            key = (*prefix, cat)
            out[key] = (0, big_n, 0.0 if big_n else None)
    for key, row in listed.items():
        full = key if isinstance(key, tuple) else (key,)
        assert full in out, full
        out[full] = row
    return out


def check(
    analysis: AnalysisFrame, codebook: Codebook, table_id: str, expected: dict[tuple[str, ...], Row]
) -> None:
    table = build_table(table_id, analysis.frame, codebook)
    assert list(table.data.columns[: len(table.spec.dims)]) == list(table.spec.dims)
    assert rows(table) == expected


def codes(last: int) -> list[str]:
    return [str(c) for c in range(1, last + 1)]


AGES = ["18–24", "25–34", "35–44", "45–54", "55–64", "65–74", "75–"]
SIZES = ["200000-", "100000-199999", "40000-99999", "15000-39999", "-14999"]
"""Municipality size classes, largest first: 0180 is in the first, 0114 in
the third, 2506 in the last."""


def test_excluded_cases_are_counted_and_left_out(analysis: AnalysisFrame) -> None:
    assert analysis.excluded == {"perpetrator": 1}
    assert analysis.n_cases == 6
    assert list(analysis.frame["case_id"]) == ["A", "B", "C", "D", "E", "F"]


def test_derived_fields(analysis: AnalysisFrame) -> None:
    f = analysis.frame.set_index("case_id")
    assert f["duration_days"].tolist() == [60, 135, 1, pd.NA, pd.NA, 229]
    assert f["n_intervention_types"].tolist() == [2, 1, 0, 3, 2, 1]
    assert f["n_intervention_records"].tolist() == [3, 1, 0, 3, 2, 1]
    assert f["collaboration_count"].tolist() == [2, 0, pd.NA, 5, 1, pd.NA]
    assert [str(v) for v in f["risk_score_change"].astype(object)] == [
        "lower",
        "nan",
        "nan",
        "same",
        "higher",
        "nan",
    ]
    assert f["is_top_group"].tolist() == [True, False, False, False, False, False]
    assert [str(s) for s in f["status"]] == [
        "brukarenkat_genomford",
        "brukarenkat_genomford",
        "avslutsorsak_angiven",
        "fatt_insats",
        "fatt_insats",
        "brukarenkat_genomford",
    ]
    assert f.loc["E", "first_intervention_on"] == pd.Timestamp("2023-05-02")


def test_every_table_has_a_golden_test() -> None:
    assert set(table_catalogue()) == set(EXPECTED)


EXPECTED: dict[str, Any] = {
    "funnel": {
        ("aktualiserad", "registrerad"): (6, 6, 100.0),
        ("aktualiserad", NR): (0, 6, 0.0),
        ("fatt_insats", "registrerad"): (5, 6, 83.3),
        ("fatt_insats", NR): (1, 6, 16.7),
        ("avslutad", "registrerad"): (4, 6, 66.7),
        ("avslutad", NR): (2, 6, 33.3),
        ("avslutsorsak_angiven", "registrerad"): (4, 4, 100.0),
        ("avslutsorsak_angiven", NR): (0, 4, 0.0),
        ("maluppfoljning_angiven", "registrerad"): (3, 4, 75.0),
        ("maluppfoljning_angiven", NR): (1, 4, 25.0),
        ("brukarenkat_genomford", "registrerad"): (3, 4, 75.0),
        ("brukarenkat_genomford", NR): (1, 4, 25.0),
    },
    "sex": grid(5, [*codes(2), NR], {"1": (4, 5, 80.0), "2": (1, 5, 20.0), NR: (1, 6, 16.7)}),
    "age_band": grid(
        5,
        [*AGES, NR],
        {
            "18–24": (1, 5, 20.0),
            "25–34": (1, 5, 20.0),
            "45–54": (1, 5, 20.0),
            "65–74": (1, 5, 20.0),
            "75–": (1, 5, 20.0),
            NR: (1, 6, 16.7),
        },
    ),
    "origin": grid(
        5,
        [*codes(5), NR],
        {
            "1": (2, 5, 40.0),
            "2": (1, 5, 20.0),
            "4": (1, 5, 20.0),
            "5": (1, 5, 20.0),
            NR: (1, 6, 16.7),
        },
    ),
    "honour_context": grid(
        5,
        [*codes(3), NR],
        {"1": (2, 5, 40.0), "2": (2, 5, 40.0), "3": (1, 5, 20.0), NR: (1, 6, 16.7)},
    ),
    "contact_initiative": grid(
        5,
        [*codes(14), NR],
        {
            "1": (3, 5, 60.0),
            "3": (1, 5, 20.0),
            "4": (1, 5, 20.0),
            "8": (1, 5, 20.0),
            "13": (1, 5, 20.0),
            NR: (1, 6, 16.7),
        },
    ),
    "disability": grid(
        5,
        [*codes(5), NR],
        {
            "1": (1, 5, 20.0),
            "2": (2, 5, 40.0),
            "4": (2, 5, 40.0),
            "5": (1, 5, 20.0),
            NR: (1, 6, 16.7),
        },
    ),
    "violence_severity": grid(
        5,
        [*codes(3), NR],
        {"1": (1, 5, 20.0), "2": (2, 5, 40.0), "3": (2, 5, 40.0), NR: (1, 6, 16.7)},
    ),
    "violence_severity_by_honour": grid(
        {"1": 1, "2": 2},
        [*codes(3), NR],
        {
            ("1", "3"): (1, 1, 100.0),
            ("1", NR): (1, 2, 50.0),
            ("2", "1"): (1, 2, 50.0),
            ("2", "2"): (1, 2, 50.0),
            ("2", NR): (0, 2, 0.0),
        },
    ),
    "violence_severity_by_age_band": grid(
        {"18–24": 1, "25–34": 1, "35–44": 0, "45–54": 1, "55–64": 0, "65–74": 1, "75–": 1},
        [*codes(3), NR],
        {
            ("18–24", "3"): (1, 1, 100.0),
            ("25–34", "2"): (1, 1, 100.0),
            ("45–54", "3"): (1, 1, 100.0),
            ("65–74", "1"): (1, 1, 100.0),
            ("75–", "2"): (1, 1, 100.0),
        },
    ),
    "perpetrator": grid(
        5,
        [*codes(6), NR],
        {
            "1": (2, 5, 40.0),
            "2": (2, 5, 40.0),
            "3": (2, 5, 40.0),
            "4": (1, 5, 20.0),
            NR: (1, 6, 16.7),
        },
    ),
    "interventions": grid(
        5,
        codes(19),
        {
            "2": (1, 5, 20.0),
            "3": (1, 5, 20.0),
            "4": (2, 5, 40.0),
            "7": (1, 5, 20.0),
            "10": (2, 5, 40.0),
            "11": (1, 5, 20.0),
            "15": (1, 5, 20.0),
        },
    ),
    "housing_interventions": {("ja",): (2, 5, 40.0), ("nej",): (3, 5, 60.0)},
    "interventions_per_case": {
        ("honour_yes", "types"): (4, 2, 2.0),
        ("honour_yes", "records"): (5, 2, 2.5),
        ("goal_met", "types"): (2, 1, 2.0),
        ("goal_met", "records"): (3, 1, 3.0),
        ("origin_outside_europe", "types"): (1, 1, 1.0),
        ("origin_outside_europe", "records"): (1, 1, 1.0),
        ("age_18_24", "types"): (2, 1, 2.0),
        ("age_18_24", "records"): (3, 1, 3.0),
        ("violence_very_severe", "types"): (5, 2, 2.5),
        ("violence_very_severe", "records"): (6, 2, 3.0),
        ("risk_assessed", "types"): (8, 4, 2.0),
        ("risk_assessed", "records"): (9, 4, 2.25),
        ("disability_intellectual", "types"): (0, 0, None),
        ("disability_intellectual", "records"): (0, 0, None),
        ("all", "types"): (9, 5, 1.8),
        ("all", "records"): (10, 5, 2.0),
        ("honour_no", "types"): (1, 1, 1.0),
        ("honour_no", "records"): (1, 1, 1.0),
        ("origin_sweden", "types"): (2, 1, 2.0),
        ("origin_sweden", "records"): (3, 1, 3.0),
        ("violence_not_severe", "types"): (0, 0, None),
        ("violence_not_severe", "records"): (0, 0, None),
        ("risk_not_assessed", "types"): (1, 1, 1.0),
        ("risk_not_assessed", "records"): (1, 1, 1.0),
        ("age_65_74", "types"): (0, 0, None),
        ("age_65_74", "records"): (0, 0, None),
    },
    "implementation": grid(
        3,
        [*codes(4), NR],
        {"1": (1, 3, 33.3), "2": (1, 3, 33.3), "3": (1, 3, 33.3), NR: (1, 4, 25.0)},
    ),
    "collaboration_partners": grid(
        3,
        codes(9),
        {
            "1": (1, 3, 33.3),
            "2": (1, 3, 33.3),
            "3": (1, 3, 33.3),
            "5": (2, 3, 66.7),
            "6": (1, 3, 33.3),
            "7": (2, 3, 66.7),
        },
    ),
    "collaboration_count": grid(
        4,
        ["0", "1", "2", "3", "4+", NR],
        {
            "0": (1, 4, 25.0),
            "1": (1, 4, 25.0),
            "2": (1, 4, 25.0),
            "4+": (1, 4, 25.0),
            NR: (2, 6, 33.3),
        },
    ),
    "closing_reason": grid(
        4,
        [*codes(7), NR],
        {"1": (1, 4, 25.0), "3": (1, 4, 25.0), "4": (1, 4, 25.0), "7": (1, 4, 25.0)},
    ),
    "goal_followup": grid(
        3,
        [*codes(5), NR],
        {"1": (1, 3, 33.3), "2": (1, 3, 33.3), "5": (1, 3, 33.3), NR: (1, 4, 25.0)},
    ),
    "duration": grid(
        4,
        [
            "1–90",
            "91–180",
            "181–270",
            "271–360",
            "361–450",
            "451–540",
            "541–630",
            "631–720",
            "721–",
            NR,
        ],
        {"1–90": (2, 4, 50.0), "91–180": (1, 4, 25.0), "181–270": (1, 4, 25.0)},
    ),
    "duration_by_closing_reason": grid(
        {"1–90": 2, "91–180": 1, "181–270": 1, "271–360": 0},
        ["1", "3", "4", "ovriga"],
        {
            ("1–90", "1"): (1, 2, 50.0),
            ("1–90", "4"): (1, 2, 50.0),
            ("91–180", "3"): (1, 1, 100.0),
            ("181–270", "ovriga"): (1, 1, 100.0),
        },
    ),
    "survey_violence_change": grid(
        3, [*codes(6), NR], {"1": (1, 3, 33.3), "2": (1, 3, 33.3), "3": (1, 3, 33.3)}
    ),
    "survey_support_importance": grid(1, [*codes(6), NR], {"4": (1, 1, 100.0), NR: (1, 2, 50.0)}),
    "survey_influence": grid(
        3, [*codes(6), NR], {"3": (1, 3, 33.3), "5": (1, 3, 33.3), "6": (1, 3, 33.3)}
    ),
    "survey_positive": grid(
        2, [*codes(3), NR], {"1": (1, 2, 50.0), "3": (1, 2, 50.0), NR: (1, 3, 33.3)}
    ),
    "top_group": {("ja",): (1, 4, 25.0), ("nej",): (3, 4, 75.0)},
    "top_group_profile": {
        ("perpetrator_former_partner", "top"): (0, 1, 0.0),
        ("perpetrator_former_partner", "all"): (2, 5, 40.0),
        ("perpetrator_current_partner", "top"): (0, 1, 0.0),
        ("perpetrator_current_partner", "all"): (2, 5, 40.0),
        ("disability_no", "top"): (1, 1, 100.0),
        ("disability_no", "all"): (2, 5, 40.0),
        ("has_intervention", "top"): (1, 1, 100.0),
        ("has_intervention", "all"): (5, 6, 83.3),
        ("grounds_decision", "top"): (1, 1, 100.0),
        ("grounds_decision", "all"): (2, 5, 40.0),
        ("risk_assessed", "top"): (1, 1, 100.0),
        ("risk_assessed", "all"): (4, 6, 66.7),
        ("no_collaboration", "top"): (0, 1, 0.0),
        ("no_collaboration", "all"): (1, 4, 25.0),
    },
    "hrv_age_band": grid(
        {"1": 1, "2": 2},
        [*AGES, NR],
        {
            ("1", "18–24"): (1, 1, 100.0),
            ("1", NR): (1, 2, 50.0),
            ("2", "25–34"): (1, 2, 50.0),
            ("2", "65–74"): (1, 2, 50.0),
            ("2", NR): (0, 2, 0.0),
        },
    ),
    "hrv_origin": grid(
        {"1": 2, "2": 2},
        [*codes(5), NR],
        {
            ("1", "1"): (1, 2, 50.0),
            ("1", "5"): (1, 2, 50.0),
            ("1", NR): (0, 2, 0.0),
            ("2", "1"): (1, 2, 50.0),
            ("2", "4"): (1, 2, 50.0),
            ("2", NR): (0, 2, 0.0),
        },
    ),
    "hrv_perpetrator": grid(
        {"1": 2, "2": 2},
        [*codes(6), NR],
        {
            ("1", "3"): (2, 2, 100.0),
            ("1", "4"): (1, 2, 50.0),
            ("1", NR): (0, 2, 0.0),
            ("2", "1"): (1, 2, 50.0),
            ("2", "2"): (1, 2, 50.0),
            ("2", NR): (0, 2, 0.0),
        },
    ),
    "hrv_interventions": grid(
        {"1": 2, "2": 1},
        codes(19),
        {
            ("1", "4"): (2, 2, 100.0),
            ("1", "10"): (1, 2, 50.0),
            ("1", "15"): (1, 2, 50.0),
            ("2", "3"): (1, 1, 100.0),
        },
    ),
    "hrv_risk_assessed": {
        ("1", "ja"): (2, 2, 100.0),
        ("1", "nej"): (0, 2, 0.0),
        ("2", "ja"): (1, 2, 50.0),
        ("2", "nej"): (1, 2, 50.0),
    },
    "men_age_band": grid(
        {"1": 3, "2": 1},
        [*AGES, NR],
        {
            ("1", "18–24"): (1, 3, 33.3),
            ("1", "25–34"): (1, 3, 33.3),
            ("1", "45–54"): (1, 3, 33.3),
            ("1", NR): (1, 4, 25.0),
            ("2", "65–74"): (1, 1, 100.0),
            ("2", NR): (0, 1, 0.0),
        },
    ),
    "perpetrator_by_sex": grid(
        {"1": 4, "2": 1},
        [*codes(6), NR],
        {
            ("1", "1"): (1, 4, 25.0),
            ("1", "2"): (2, 4, 50.0),
            ("1", "3"): (2, 4, 50.0),
            ("1", "4"): (1, 4, 25.0),
            ("1", NR): (0, 4, 0.0),
            ("2", "1"): (1, 1, 100.0),
            ("2", NR): (0, 1, 0.0),
        },
    ),
    "men_interventions": grid(
        {"1": 4, "2": 0},
        codes(19),
        {
            ("1", "3"): (1, 4, 25.0),
            ("1", "4"): (2, 4, 50.0),
            ("1", "7"): (1, 4, 25.0),
            ("1", "10"): (2, 4, 50.0),
            ("1", "11"): (1, 4, 25.0),
            ("1", "15"): (1, 4, 25.0),
        },
    ),
    "men_violence_severity": grid(
        {"1": 3, "2": 1},
        [*codes(3), NR],
        {
            ("1", "2"): (1, 3, 33.3),
            ("1", "3"): (2, 3, 66.7),
            ("1", NR): (1, 4, 25.0),
            ("2", "1"): (1, 1, 100.0),
            ("2", NR): (0, 1, 0.0),
        },
    ),
    "risk_assessed": {("ja",): (4, 6, 66.7), ("nej",): (2, 6, 33.3)},
    "risk_instruments": grid(
        4, codes(6), {"1": (2, 4, 50.0), "2": (1, 4, 25.0), "3": (1, 4, 25.0), "6": (1, 4, 25.0)}
    ),
    "risk_assessed_by_severity": {
        ("1", "ja"): (0, 1, 0.0),
        ("1", "nej"): (1, 1, 100.0),
        ("2", "ja"): (1, 2, 50.0),
        ("2", "nej"): (1, 2, 50.0),
        ("3", "ja"): (2, 2, 100.0),
        ("3", "nej"): (0, 2, 0.0),
    },
    "risk_score_change": {
        ("lower",): (1, 3, 33.3),
        ("same",): (1, 3, 33.3),
        ("higher",): (1, 3, 33.3),
    },
    # --- the analyses of Kapitel 2 given only in the text ------------------------
    # All cases by municipality size: A, B, D, E in 0180; C in 0114; F in 2506.
    "cases_by_municipality_size": grid(
        6,
        SIZES,
        {"200000-": (4, 6, 66.7), "40000-99999": (1, 6, 16.7), "-14999": (1, 6, 16.7)},
    ),
    # 0180: A 3, B 2, D 3, E not registered; 0114: C 1; 2506: F 2.
    "violence_severity_by_municipality_size": grid(
        {"200000-": 3, "100000-199999": 0, "40000-99999": 1, "15000-39999": 0, "-14999": 1},
        [*codes(3), NR],
        {
            ("200000-", "2"): (1, 3, 33.3),
            ("200000-", "3"): (2, 3, 66.7),
            ("200000-", NR): (1, 4, 25.0),
            ("40000-99999", "1"): (1, 1, 100.0),
            ("-14999", "2"): (1, 1, 100.0),
        },
    ),
    # Cases with at least one partner: A 2, D 5, E 1 -> 8 / 3 = 2.67 (the report's 1,4).
    "collaboration_partners_mean": {("partners",): (8, 3, 2.67)},
    # Women A 1, B 2, D 3, E 1; man C 2; F has no sex.
    "hrv_by_sex": grid(
        {"1": 4, "2": 1},
        [*codes(3), NR],
        {
            ("1", "1"): (2, 4, 50.0),
            ("1", "2"): (1, 4, 25.0),
            ("1", "3"): (1, 4, 25.0),
            ("2", "2"): (1, 1, 100.0),
        },
    ),
    "honour_context_by_municipality_size": grid(
        {"200000-": 4, "100000-199999": 0, "40000-99999": 1, "15000-39999": 0, "-14999": 0},
        [*codes(3), NR],
        {
            ("200000-", "1"): (2, 4, 50.0),
            ("200000-", "2"): (1, 4, 25.0),
            ("200000-", "3"): (1, 4, 25.0),
            ("40000-99999", "2"): (1, 1, 100.0),
            ("-14999", NR): (1, 1, 100.0),
        },
    ),
    # Women with HRV: A 22, E age not registered; women without: B 30;
    # men with HRV: none; men without: C 67.
    "hrv_age_band_by_sex": grid(
        {("1", "1"): 1, ("1", "2"): 1, ("2", "1"): 0, ("2", "2"): 1},
        [*AGES, NR],
        {
            ("1", "1", "18–24"): (1, 1, 100.0),
            ("1", "1", NR): (1, 2, 50.0),
            ("1", "2", "25–34"): (1, 1, 100.0),
            ("2", "2", "65–74"): (1, 1, 100.0),
        },
    ),
    # By sex and age band (E has no age): A 18–24 HRV 1, B 25–34 HRV 2,
    # D 45–54 HRV 3, C man 65–74 HRV 2.
    "hrv_by_sex_and_age_band": grid(
        {
            **{("1", age): 0 for age in AGES},
            **{("2", age): 0 for age in AGES},
            ("1", "18–24"): 1,
            ("1", "25–34"): 1,
            ("1", "45–54"): 1,
            ("2", "65–74"): 1,
        },
        [*codes(3), NR],
        {
            ("1", "18–24", "1"): (1, 1, 100.0),
            ("1", "25–34", "2"): (1, 1, 100.0),
            ("1", "45–54", "3"): (1, 1, 100.0),
            ("2", "65–74", "2"): (1, 1, 100.0),
        },
    ),
    # Closed: A (HRV 1, goal 1), B (HRV 2, goal 2), C (HRV 2, no goal), F (no HRV).
    "goal_followup_by_honour": grid(
        {"1": 1, "2": 1},
        [*codes(5), NR],
        {("1", "1"): (1, 1, 100.0), ("2", "2"): (1, 1, 100.0), ("2", NR): (1, 2, 50.0)},
    ),
    # Surveys: A (HRV 1: 202=1, 203=4, 212=5), B (HRV 2: 202=3, 212=3), F (no HRV).
    "survey_violence_change_by_honour": grid(
        {"1": 1, "2": 1}, [*codes(6), NR], {("1", "1"): (1, 1, 100.0), ("2", "3"): (1, 1, 100.0)}
    ),
    # 203 is asked only after 202 = 1 or 2: A (HRV 1) and F (no HRV).
    "survey_support_importance_by_honour": grid(
        {"1": 1, "2": 0}, [*codes(6), NR], {("1", "4"): (1, 1, 100.0), ("2", NR): (0, 0, None)}
    ),
    "survey_influence_by_honour": grid(
        {"1": 1, "2": 1}, [*codes(6), NR], {("1", "5"): (1, 1, 100.0), ("2", "3"): (1, 1, 100.0)}
    ),
    # Risk assessed: women A (FREDA), B (6), D (FREDA, SARA), E (Patriark); no man.
    "risk_instruments_by_sex": grid(
        {"1": 4, "2": 0},
        codes(6),
        {
            ("1", "1"): (2, 4, 50.0),
            ("1", "2"): (1, 4, 25.0),
            ("1", "3"): (1, 4, 25.0),
            ("1", "6"): (1, 4, 25.0),
        },
    ),
    # Closed: women A (implementation 1, goal 1), B (2, 2); man C (neither).
    "implementation_by_sex": grid(
        {"1": 2, "2": 0},
        [*codes(4), NR],
        {("1", "1"): (1, 2, 50.0), ("1", "2"): (1, 2, 50.0), ("2", NR): (1, 1, 100.0)},
    ),
    "goal_followup_by_sex": grid(
        {"1": 2, "2": 0},
        [*codes(5), NR],
        {("1", "1"): (1, 2, 50.0), ("1", "2"): (1, 2, 50.0), ("2", NR): (1, 1, 100.0)},
    ),
}


@pytest.mark.parametrize("table_id", sorted(EXPECTED))
def test_golden_table(table_id: str, analysis: AnalysisFrame, codebook: Codebook) -> None:
    check(analysis, codebook, table_id, EXPECTED[table_id])


def test_tables_declare_title_denominator_and_diagram() -> None:
    tables = table_catalogue().tables
    diagrams = {t.spec.diagram for t in tables if t.spec.diagram}
    assert diagrams == {f"Diagram {i}" for i in range(1, 28)}
    for entry in tables:
        spec = entry.spec
        assert spec.title.sv
        assert spec.title.en
        assert spec.denominator.sv
        assert spec.denominator.en
        assert spec.category in spec.dims


def test_columns_are_tidy_dims_then_n_N_percent(
    analysis: AnalysisFrame, codebook: Codebook
) -> None:
    table = build_table("sex", analysis.frame, codebook)
    assert list(table.data.columns) == ["sex", "n", "N", "percent"]
    assert isinstance(table.data["sex"].dtype, pd.CategoricalDtype)
    assert table.label("sex", "1").sv == "Kvinna"


def test_empty_frame_keeps_every_category(codebook: Codebook) -> None:
    raw = RawData(pd.DataFrame([case("Z", actualised_on="2023-01-01", is_excluded=True)]))
    empty = build_frame(raw, codebook)
    assert empty.n_cases == 0
    table = build_table("sex", empty.frame, codebook)
    assert rows(table) == {("1",): (0, 0, None), ("2",): (0, 0, None), (NR,): (0, 0, None)}
