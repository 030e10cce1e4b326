"""GET /api/v1/stats/kolada and /stats/indicators over the API (both engines):
cases registered through the API in two municipalities and two years,
hand-computed key ratios, a client under 18 rejected at registration, a
Stockholm district, a municipality without cases (null, not 0), scope by
role, audit.

Upplands Väsby (0114), adults 2024 T 36 000 K 18 000 M 18 000; 2025
T 36 500 K 18 300 M 18 200:
k1  woman A, opened 2024-03-10, intervention 2024-03-15 (bistånd), closed
    2024-09-30 goal 1 reason 1.
k2  man B, opened 2024-12-15, intervention 2024-12-20 (utan bistånd), closed
    2025-01-10 goal 2 reason 3 (December -> January).
k3  woman A again, opened 2025-02-01, intervention 2025-02-05 (bistånd).
A 17-year-old's case (2025-04-01) is rejected with 422 and counts nowhere.

Stockholm (0180), 2025: district 0180-01 (T 100 000) woman, opened
2025-04-01, intervention 2025-04-02, closed 2025-10-01 goal 1 reason 1;
district 0180-02 (T 70 000) man, opened 2025-05-01. Nothing in 2024.
Vallentuna (0115): no cases.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.indicators.population import Figure, import_figures
from app.indicators.router import router as indicators_router
from app.models import AuditEvent, Case
from tests.api.test_submissions_p8 import ensure_router
from tests.factories import Account, make_account, make_unit

API = "/api/v1"


def personnummer(born: str, serial: str) -> str:
    """A synthetic personnummer (YYYYMMDD-NNNC) with a valid check digit."""
    digits = born[2:] + serial
    total = 0
    for i, ch in enumerate(digits):
        n = int(ch) * (2 if i % 2 == 0 else 1)
        total += n // 10 + n % 10
    return f"{born}-{serial}{(10 - total % 10) % 10}"


PERSON_A = personnummer("19800101", "002")
PERSON_B = personnummer("19750505", "013")
PERSON_C = personnummer("19900303", "024")
PERSON_D = personnummer("19850707", "035")
MINOR = personnummer("20080601", "046")


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    ensure_router(app, indicators_router, "kolada", f"{API}/stats/kolada")
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def population(session: Session) -> None:
    rows = [
        ("0114", 2024, 36000, 18000, 18000),
        ("0114", 2025, 36500, 18300, 18200),
        ("0180", 2025, 800000, 400000, 400000),
        ("0180-01", 2025, 100000, 50000, 50000),
        ("0180-02", 2025, 70000, 35000, 35000),
    ]
    figures = [
        Figure(area, year, sex, value)
        for area, year, t, k, m in rows
        for sex, value in (("T", t), ("K", k), ("M", m))
    ]
    import_figures(session, figures, source="SCB test", reference_dates={})


def new_case(
    client: TestClient,
    account: Account,
    client_id: str,
    opened: str,
    sex: int,
    *,
    intervention: tuple[str, int] | None = None,
    closed: tuple[str, int, int] | None = None,
) -> str:
    r = client.post(
        f"{API}/cases",
        json={"client_id": client_id, "actualised_on": opened, "values": {"sex": sex}},
        headers=account.headers,
    )
    assert r.status_code == 201, r.text
    case_id: str = r.json()["id"]
    version = r.json()["version"]
    if intervention is not None:
        start, grounds = intervention
        r = client.post(
            f"{API}/cases/{case_id}/interventions",
            json={
                "intervention_start_on": start,
                "intervention_type": 4,
                "intervention_grounds": grounds,
            },
            headers={**account.headers, "If-Match": f'"{version}"'},
        )
        assert r.status_code == 201, r.text
        version = r.json()["version"]
    if closed is not None:
        on, goal, reason = closed
        r = client.post(
            f"{API}/cases/{case_id}/close",
            json={"closed_on": on, "values": {"goal_followup": goal, "closing_reason": reason}},
            headers={**account.headers, "If-Match": f'"{version}"'},
        )
        assert r.status_code == 200, r.text
    return case_id


@pytest.fixture
def world(client: TestClient, session: Session) -> dict[str, Account]:
    population(session)
    vasby = make_account(session, "caseworker", unit=make_unit(session, "0114"))
    rinkeby = make_account(
        session, "caseworker", unit=make_unit(session, "0180", district="0180-01")
    )
    tensta = make_account(
        session, "caseworker", unit=make_unit(session, "0180", district="0180-02")
    )
    new_case(client, vasby, PERSON_A, "2024-03-10", 1, intervention=("2024-03-15", 1),
             closed=("2024-09-30", 1, 1))  # fmt: skip
    new_case(client, vasby, PERSON_B, "2024-12-15", 2, intervention=("2024-12-20", 2),
             closed=("2025-01-10", 2, 3))  # fmt: skip
    new_case(client, vasby, PERSON_A, "2025-02-01", 1, intervention=("2025-02-05", 1))
    new_case(client, rinkeby, PERSON_C, "2025-04-01", 1, intervention=("2025-04-02", 1),
             closed=("2025-10-01", 1, 1))  # fmt: skip
    new_case(client, tensta, PERSON_D, "2025-05-01", 2)
    return {
        "vasby": make_account(session, "coordinator", municipality="0114"),
        "stockholm": make_account(session, "coordinator", municipality="0180"),
        "vallentuna": make_account(session, "coordinator", municipality="0115"),
        "caseworker": vasby,
        "regional": make_account(session, "regional", county="01"),
        "national": make_account(session, "national"),
        "admin": make_account(session, "admin"),
    }


def kolada(client: TestClient, account: Account, year: int, **params: Any) -> Any:
    return client.get(
        f"{API}/stats/kolada", params={"year": year, **params}, headers=account.headers
    )


def totals(doc: dict[str, Any], municipality: str) -> dict[str, tuple[Any, ...]]:
    """Per key ratio: (value, numerator, population, reason) of T."""
    out = {}
    for entry in doc["values"]:
        if entry["municipality"] == municipality:
            t = entry["values"][0]
            assert t["gender"] == "T"
            isu = t["isu"]
            out[entry["kpi"]] = (t["value"], isu["numerator"], isu["population"], isu["reason"])
    return out


def by_sex(doc: dict[str, Any], municipality: str, kpi: str) -> dict[str, Any]:
    entry = next(
        e for e in doc["isu_values_by_sex"] if e["municipality"] == municipality and e["kpi"] == kpi
    )
    return {v["gender"]: v["value"] for v in entry["values"]}


def kolada_audits(session: Session) -> int:
    query = select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "export.kolada")
    return session.scalar(query) or 0


def test_a_client_under_18_is_rejected_and_never_counted(
    client: TestClient, session: Session, world: dict[str, Account]
) -> None:
    before = session.scalar(select(func.count()).select_from(Case))
    r = client.post(
        f"{API}/cases",
        json={"client_id": MINOR, "actualised_on": "2025-04-01", "values": {"sex": 1}},
        headers=world["caseworker"].headers,
    )
    assert r.status_code == 422
    assert [e["pointer"] for e in r.json()["errors"]] == ["/client_id"]
    assert session.scalar(select(func.count()).select_from(Case)) == before
    assert totals(kolada(client, world["vasby"], 2025).json(), "0114")["U30750"][1] == 1


def test_upplands_vasby_two_years_by_hand(
    client: TestClient, session: Session, world: dict[str, Account]
) -> None:
    before = kolada_audits(session)
    r = kolada(client, world["vasby"], 2024)
    assert r.status_code == 200, r.text
    doc = r.json()
    assert totals(doc, "0114") == {
        "U30750": (0.6, 2, 36000, None),
        "U30751": (0.6, 2, 36000, None),
        "U30752": (0.3, 1, 36000, None),
    }
    assert by_sex(doc, "0114", "U30752") == {"K": 0.6, "M": 0.0}
    doc = kolada(client, world["vasby"], 2025).json()
    assert totals(doc, "0114") == {
        "U30750": (0.3, 1, 36500, None),
        "U30751": (0.3, 1, 36500, None),
        "U30752": (0.3, 1, 36500, None),  # k2: opened December, closed January
    }
    assert by_sex(doc, "0114", "U30752") == {"K": 0.0, "M": 0.5}
    assert [e["municipality"] for e in doc["values"]] == ["0114"] * 3
    assert doc["ou_values"] == []
    strict = kolada(client, world["vasby"], 2025, choice="goal_rule=goal_and_reason").json()
    assert totals(strict, "0114")["U30752"] == (0.0, 0, 36500, None)
    assert strict["meta"]["kpis"][2]["choices"]["goal_rule"] == "goal_and_reason"
    assert kolada_audits(session) == before + 3
    event = session.scalars(
        select(AuditEvent).where(AuditEvent.action == "export.kolada").order_by(AuditEvent.id)
    ).all()[-1]
    assert (event.actor_user_id, event.object_id) == (world["vasby"].user.id, "0114")
    assert "choice:goal_rule" in event.fields


def test_stockholm_district_mean_and_an_empty_year(
    client: TestClient, world: dict[str, Account]
) -> None:
    doc = kolada(client, world["stockholm"], 2025).json()
    assert totals(doc, "0180") == {
        "U30750": (0.1, 2, 800000, None),  # (1/100 000 + 1/70 000) / 2 × 10 000
        "U30751": (0.1, 1, 800000, None),  # (0.1 + 0.0) / 2 = 0.05 -> 0.1
        "U30752": (0.1, 1, 800000, None),
    }
    u30750 = next(e for e in doc["values"] if e["kpi"] == "U30750")["values"][0]
    assert (u30750["count"], u30750["isu"]["method"]) == (2, "district_mean")
    districts = {e["ou"]: e["values"][0]["value"] for e in doc["ou_values"] if e["kpi"] == "U30750"}
    assert districts["0180-01"] == 0.1
    assert districts["0180-02"] == 0.1
    assert districts["0180-05"] is None
    assert len(districts) == 13
    empty = kolada(client, world["stockholm"], 2024).json()
    assert set(totals(empty, "0180").values()) == {(None, None, None, "no_cases")}


def test_municipality_without_cases_is_null_not_zero(
    client: TestClient, world: dict[str, Account]
) -> None:
    doc = kolada(client, world["vallentuna"], 2025).json()
    for value, numerator, _, reason in totals(doc, "0115").values():
        assert (value, numerator, reason) == (None, None, "no_cases")
    assert all(v["status"] == "missing" for e in doc["values"] for v in e["values"])


def test_csv_and_excel(client: TestClient, world: dict[str, Account]) -> None:
    r = kolada(client, world["vasby"], 2024, format="csv")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/csv")
    lines = r.text.splitlines()
    assert lines[0].startswith("kpi,level,area_code,area_name")
    assert (
        "U30750,municipality,0114,Upplands Väsby kommun,0114,2024,T,nej,2,36000,2024,0.6" in r.text
    )
    r = kolada(client, world["vasby"], 2024, format="xlsx")
    assert r.status_code == 200
    book = load_workbook(io.BytesIO(r.content))
    assert book["Nyckeltal"].max_row == 1 + 3 * 3


@pytest.mark.parametrize("role", ["caseworker", "national", "admin"])
def test_only_the_coordinator_and_regional(
    client: TestClient, session: Session, world: dict[str, Account], role: str
) -> None:
    before = kolada_audits(session)
    r = kolada(client, world[role], 2025)
    assert r.status_code == 403
    assert r.json()["type"] == "/problems/forbidden"
    assert kolada_audits(session) == before


@pytest.mark.parametrize(
    ("choice", "code"),
    [
        ("goal_rule", "choice_format"),
        ("colour=blue", "unknown_choice"),
        ("counting=households", "unknown_choice_value"),
    ],
)
def test_bad_choice_is_a_problem_naming_it(
    client: TestClient, world: dict[str, Account], choice: str, code: str
) -> None:
    r = kolada(client, world["vasby"], 2025, choice=choice)
    assert r.status_code == 422
    assert [(e["pointer"], e["code"]) for e in r.json()["errors"]] == [("/query/choice", code)]


def test_indicator_a_over_the_api(client: TestClient, world: dict[str, Account]) -> None:
    r = client.get(f"{API}/stats/indicators", headers=world["vasby"].headers)
    assert r.status_code == 200
    assert [d["id"] for d in r.json()] == ["U30750", "U30751", "U30752", "A"]
    r = client.get(
        f"{API}/stats/indicators/A",
        params={"as_of": date(2025, 12, 31).isoformat()},
        headers=world["vasby"].headers,
    )
    assert r.status_code == 200, r.text
    # Current in 2025: B (k2, until 10 January, no bistånd) and A (k3, bistånd).
    values = {
        v["sex"]: (v["numerator"], v["denominator"], v["value"])
        for v in r.json()["areas"][0]["values"]
    }
    assert values == {"T": (1, 2, 50.0), "K": (1, 1, 100.0), "M": (0, 1, 0.0)}
    r = client.get(f"{API}/stats/indicators/A", headers=world["vasby"].headers)
    assert r.status_code == 422
    assert r.json()["errors"][0]["pointer"] == "/query/as_of"
    r = client.get(
        f"{API}/stats/indicators/Z9", params={"year": 2025}, headers=world["vasby"].headers
    )
    assert r.status_code == 404
    r = client.get(
        f"{API}/stats/indicators/A",
        params={"as_of": "2025-12-31"},
        headers=world["caseworker"].headers,
    )
    assert r.status_code == 403
