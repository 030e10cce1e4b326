"""GET /api/v1/stats/summary and /stats/tables/{id}: scope by role, disclosure
control for audiences outside the municipality (D1), audit (U1)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import AuditEvent
from tests.db.test_analysis_frame import add_case
from tests.factories import Account, make_account, make_unit

YEAR = {"from": "2023-01-01", "to": "2023-12-31"}


@pytest.fixture
def world(session: Session) -> dict[str, Any]:
    """Stockholm (0180): 3 women, 8 men; Upplands Väsby (0114): 12 women, 9 men
    (both county 01); Malmö (1280, county 12): 20 women. Plus one excluded case."""
    sthlm = make_unit(session, "0180")
    sthlm_other = make_unit(session, "0180")
    vasby = make_unit(session, "0114")
    malmo = make_unit(session, "1280")
    author = make_account(session, "coordinator", municipality="0180").user.id
    for unit, sex, k in (
        (sthlm, 1, 3),
        (sthlm_other, 2, 8),
        (vasby, 1, 12),
        (vasby, 2, 9),
        (malmo, 1, 20),
    ):
        for _ in range(k):
            add_case(session, unit, author, values={"sex": sex})
    add_case(
        session, sthlm, author, values={"sex": 2}, is_excluded=True, exclusion_reason="duplicate"
    )
    add_case(session, sthlm, author, actualised_on=date(2022, 6, 1), values={"sex": 1})
    return {
        "coordinator": make_account(session, "coordinator", municipality="0180"),
        "caseworker": make_account(session, "caseworker", unit=sthlm),
        "regional": make_account(session, "regional", county="01"),
        "national": make_account(session, "national"),
        "admin": make_account(session, "admin"),
    }


def audits(session: Session) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == "export.summary")
        )
        or 0
    )


def get(
    client: TestClient, account: Account, path: str = "/api/v1/stats/summary", **params: Any
) -> Any:
    return client.get(path, params={**YEAR, **params}, headers=account.headers)


SEX = "/api/v1/stats/tables/sex"


def sex_rows(body: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    table = (
        body["table"] if "table" in body else next(t for t in body["tables"] if t["id"] == "sex")
    )
    return {(r.get("area_code", ""), r["sex"]): r for r in table["rows"]}


def test_coordinator_sees_own_municipality_unprotected_and_is_audited(
    client: TestClient, session: Session, world: dict[str, Any]
) -> None:
    before = audits(session)
    r = get(client, world["coordinator"])
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["meta"]["protected"] is False
    assert body["meta"]["cases"] == 11
    assert body["meta"]["excluded"] == {"duplicate": 1}
    rows = sex_rows(body)
    assert rows[("", "1")]["n"] == 3
    assert rows[("", "1")]["N"] == 11
    assert rows[("", "2")]["n"] == 8
    assert rows[("", "2")]["percent"] == 72.7
    assert audits(session) == before + 1
    event = session.scalars(select(AuditEvent).where(AuditEvent.action == "export.summary")).all()[
        -1
    ]
    assert event.actor_user_id == world["coordinator"].user.id
    assert event.object_id == "0180"
    assert "sex" in event.fields


def test_d1_regional_county_aggregate_hides_three_case_cell(
    client: TestClient, session: Session, world: dict[str, Any]
) -> None:
    r = get(client, world["regional"], SEX, municipalities="true")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["meta"]["protected"] is True
    assert body["meta"]["threshold"] == 7
    rows = sex_rows(body)
    three = rows[("0180", "1")]
    assert three["n"] == ".."
    assert three["suppressed"] is True
    assert three["percent"] == ".."
    assert three["N"] == 11  # every published percentage shows its N; this one's N too
    assert rows[("0180", "2")]["n"] == ".."  # secondary: else 11 − 8 = 3
    assert rows[("0114", "1")]["n"] == ".."  # else county 15 − 12 = 3
    assert rows[("01", "1")]["n"] == 15
    assert rows[("01", "2")]["n"] == 17
    assert {a for a, _ in rows} == {"01", "0180", "0114"}  # never Malmö


def test_regional_outside_own_county_is_forbidden(
    client: TestClient, session: Session, world: dict[str, Any]
) -> None:
    before = audits(session)
    r = get(client, world["regional"], municipality="1280")
    assert r.status_code == 403
    assert r.json()["type"] == "/problems/forbidden"
    assert audits(session) == before


def test_protected_periods_are_whole_years(client: TestClient, world: dict[str, Any]) -> None:
    r = client.get(
        "/api/v1/stats/summary",
        params={"from": "2023-02-01", "to": "2023-12-31"},
        headers=world["national"].headers,
    )
    assert r.status_code == 422
    assert [e["pointer"] for e in r.json()["errors"]] == ["/query/from"]


def test_national_sees_nation_protected(client: TestClient, world: dict[str, Any]) -> None:
    body = get(client, world["national"], SEX).json()
    rows = sex_rows(body)
    assert rows[("SE", "1")]["n"] == 35
    assert rows[("SE", "2")]["n"] == 17
    body = get(client, world["national"], SEX, municipality="0180").json()
    assert sex_rows(body)[("0180", "1")]["n"] == ".."


def test_coordinator_compare_keeps_own_values_and_protects_the_rest(
    client: TestClient, world: dict[str, Any]
) -> None:
    body = get(client, world["coordinator"], SEX, compare="true").json()
    rows = sex_rows(body)
    assert rows[("0180", "1")]["n"] == 3  # known to the coordinator: shown
    assert rows[("01", "1")]["n"] == 15  # 15 − 3 = Väsby's 12: nothing small revealed
    assert rows[("SE", "1")]["n"] == 35


def test_caseworker_sees_own_unit_only(client: TestClient, world: dict[str, Any]) -> None:
    body = get(client, world["caseworker"]).json()
    assert body["meta"]["cases"] == 3
    assert sex_rows(body)[("", "2")]["n"] == 0
    assert get(client, world["caseworker"], compare="true").status_code == 403
    assert get(client, world["caseworker"], municipality="0114").status_code == 403


def test_admin_gets_no_aggregates(client: TestClient, world: dict[str, Any]) -> None:
    r = get(client, world["admin"])
    assert r.status_code == 403


def test_one_table_and_unknown_table(
    client: TestClient, session: Session, world: dict[str, Any]
) -> None:
    before = audits(session)
    r = get(client, world["coordinator"], "/api/v1/stats/tables/age_band")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["table"]["id"] == "age_band"
    assert body["table"]["diagram"] == "Diagram 3"
    assert audits(session) == before + 1
    r = get(client, world["coordinator"], "/api/v1/stats/tables/nope")
    assert r.status_code == 404
    assert r.json()["type"] == "/problems/not-found"
    assert audits(session) == before + 1


def test_file_formats(client: TestClient, world: dict[str, Any]) -> None:
    r = get(client, world["coordinator"], format="xlsx")
    assert r.status_code == 200
    assert r.content.startswith(b"PK")
    assert "spreadsheetml" in r.headers["content-type"]
    r = get(client, world["coordinator"], "/api/v1/stats/tables/sex", format="csv")
    assert r.status_code == 200
    assert r.text.splitlines()[0].startswith("sex,sex_label,n,N,percent")


def test_unauthenticated(client: TestClient) -> None:
    r = client.get("/api/v1/stats/summary", params=YEAR)
    assert r.status_code == 401


def test_empty_register_gives_zero_rows_not_errors(client: TestClient, session: Session) -> None:
    national = make_account(session, "national")
    r = get(client, national, SEX)
    assert r.status_code == 200, r.text
    assert r.json()["table"]["rows"] == []
    coordinator = make_account(session, "coordinator", municipality="0180")
    r = get(client, coordinator, SEX, by_year="true")
    assert r.status_code == 200, r.text
    assert r.json()["meta"]["cases"] == 0


def test_by_year_keeps_years_apart(client: TestClient, world: dict[str, Any]) -> None:
    r = client.get(
        SEX,
        params={"from": "2022-01-01", "to": "2023-12-31", "by_year": "true"},
        headers=world["coordinator"].headers,
    )
    assert r.status_code == 200, r.text
    rows = {(row["year"], row["sex"]): row["n"] for row in r.json()["table"]["rows"]}
    assert rows[(2022, "1")] == 1
    assert rows[(2023, "1")] == 3
    assert rows[(2023, "2")] == 8
