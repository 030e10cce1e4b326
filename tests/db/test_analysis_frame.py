"""The analysis frame read from the database (both engines): from the analysis
table only (never the cases' JSON), excluded cases counted."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.orm import Session

from app.catalogue.loader import Catalogue, load_catalogue
from app.config import PROJECT_ROOT
from app.models import Case, Intervention, RiskAssessment, SurveyResponse, Unit
from app.stats.frame import CaseFilter, load_frame
from tests.factories import make_account, make_unit

YEAR = CaseFilter(date(2023, 1, 1), date(2023, 12, 31))


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load_catalogue(PROJECT_ROOT / "variables")


def add_case(session: Session, unit: Unit, user_id: uuid.UUID, **kw: Any) -> Case:
    case = Case(
        id=uuid.uuid4(),
        unit_id=unit.id,
        municipality_code=unit.municipality_code,
        client_pseudonym=uuid.uuid4().hex,
        client_id_kind="own_code",
        pseudonym_key_version=1,
        actualised_on=kw.pop("actualised_on", date(2023, 3, 1)),
        closed_on=kw.pop("closed_on", None),
        values=kw.pop("values", {}),
        catalogue_version="test",
        created_by_id=user_id,
        status="aktualiserad",
        is_excluded=kw.pop("is_excluded", False),
        exclusion_reason=kw.pop("exclusion_reason", None),
    )
    session.add(case)
    session.flush()
    return case


@pytest.fixture
def cases(session: Session) -> dict[str, Case]:
    unit = make_unit(session, "0180", kind="utforare")
    other = make_unit(session, "1280")
    user = make_account(session, "coordinator", municipality="0180").user
    out = {
        "a": add_case(
            session,
            unit,
            user.id,
            closed_on=date(2023, 5, 1),
            values={
                "sex": 1,
                "age": 34,
                "collaboration": [],
                "perpetrator": [1, 2],
                "closing_reason": 1,
                "goal_followup": 1,
            },
        ),
        "b": add_case(session, unit, user.id, values={"sex": 2, "disability": [4]}),
        "excluded": add_case(
            session,
            unit,
            user.id,
            values={"sex": 2},
            is_excluded=True,
            exclusion_reason="perpetrator",
        ),
        "earlier": add_case(session, unit, user.id, actualised_on=date(2022, 12, 31)),
        "malmo": add_case(session, other, user.id, values={"sex": 1}),
    }
    a = out["a"]
    session.add_all(
        [
            Intervention(case_id=a.id, start_on=date(2023, 3, 2), type_code=4, grounds_code=1),
            Intervention(case_id=a.id, start_on=date(2023, 3, 3), type_code=4, grounds_code=1),
            Intervention(case_id=a.id, start_on=date(2023, 3, 4), type_code=10, grounds_code=None),
            Intervention(case_id=out["excluded"].id, start_on=date(2023, 3, 4), type_code=2),
            RiskAssessment(
                case_id=a.id, assessed_on=date(2023, 3, 2), phase_code=1, instrument_code=1, score=3
            ),
            RiskAssessment(
                case_id=a.id, assessed_on=date(2023, 4, 2), phase_code=2, instrument_code=1, score=1
            ),
            SurveyResponse(
                case_id=a.id,
                answered_on=date(2023, 5, 1),
                language_code=3,
                mode_code=1,
                values={"survey_violence_change": 1, "survey_support_importance": 5},
            ),
        ]
    )
    session.flush()
    return out


@pytest.fixture
def statements(session: Session) -> Iterator[list[str]]:
    seen: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append(statement)

    bind = session.connection()
    event.listen(bind, "before_cursor_execute", count)
    yield seen
    event.remove(bind, "before_cursor_execute", count)


def test_frame_from_database(
    session: Session, catalogue: Catalogue, cases: dict[str, Case], statements: list[str]
) -> None:
    af = load_frame(session, catalogue, YEAR)
    # SQLite reads this uncommitted transaction through its own cursor (seen
    # here); PostgreSQL through COPY (not a cursor SELECT). Only case_analysis.
    assert all("FROM case_analysis" in s and "json" not in s.lower() for s in statements)
    assert af.excluded == {"perpetrator": 1}
    frame = af.frame.set_index("case_id")
    a, b = str(cases["a"].id), str(cases["b"].id)
    assert set(frame.index) == {a, b, str(cases["malmo"].id)}
    assert frame.loc[a, "sex"] == 1
    assert frame.loc[b, "sex"] == 2
    assert frame.loc[a, "age_band"] == "25–34"
    assert frame.loc[a, "unit_kind"] == 2
    assert frame.loc[a, "county_code"] == "01"
    # [] is registered as none; an absent key is not registered.
    assert bool(frame.loc[a, "collaboration__registered"])
    assert frame.loc[a, "collaboration_count"] == 0
    assert not bool(frame.loc[b, "collaboration__registered"])
    assert bool(frame.loc[a, "perpetrator__1"])
    assert bool(frame.loc[a, "perpetrator__2"])
    assert bool(frame.loc[b, "disability__4"])
    assert frame.loc[b, "disability_count"] == 0
    assert frame.loc[a, "n_intervention_records"] == 3
    assert frame.loc[a, "n_intervention_types"] == 2
    assert bool(frame.loc[a, "intervention_grounds__1"])
    assert str(frame.loc[a, "risk_score_change"]) == "lower"
    assert frame.loc[a, "survey_violence_change"] == 1
    assert frame.loc[a, "survey_language"] == 3
    assert bool(frame.loc[a, "is_top_group"])
    assert frame.loc[a, "duration_days"] == 62
    assert str(frame.loc[a, "status"]) == "brukarenkat_genomford"
    assert str(frame.loc[b, "status"]) == "aktualiserad"


def test_filters_by_municipality_and_unit(
    session: Session, catalogue: Catalogue, cases: dict[str, Case]
) -> None:
    only = CaseFilter(YEAR.actualised_from, YEAR.actualised_to, {"1280"})
    assert list(load_frame(session, catalogue, only).frame["case_id"]) == [str(cases["malmo"].id)]
    unit = CaseFilter(YEAR.actualised_from, YEAR.actualised_to, {"0180"}, cases["a"].unit_id)
    af = load_frame(session, catalogue, unit)
    assert af.n_cases == 2
    assert af.excluded == {"perpetrator": 1}
    kind = CaseFilter(YEAR.actualised_from, YEAR.actualised_to, None, None, "myndighet")
    assert list(load_frame(session, catalogue, kind).frame["case_id"]) == [str(cases["malmo"].id)]


def test_empty_database_gives_an_empty_frame(session: Session, catalogue: Catalogue) -> None:
    af = load_frame(session, catalogue, YEAR)
    assert af.n_cases == 0
    assert af.excluded == {}
    assert "sex" in af.frame.columns
    assert "intervention_type__4" in af.frame.columns
