"""Issue 13, item 2: a regional user gets the Kolada key ratios and indicator
A for every municipality of the own county; T as Kolada publishes it, the K/M
split protected (K and M hidden together when a part is small), never another
county (both engines).

2025, county 01: Upplands Väsby (0114, adults T 36 500, K 18 300, M 18 200):
10 women and 8 men opened 2025-03-01, each with an intervention by bistånd
decision: nothing small, K and M published. Stockholm (0180), district
0180-01 (T 100 000, K 50 000, M 50 000): 2 women and 1 man, no intervention:
K and M hidden. Malmö (1280, county 12): 9 women, never in county 01's answer.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.indicators.population import Figure, import_figures
from app.indicators.router import router as indicators_router
from app.models import Intervention
from app.reference import municipalities
from exporters.published import SUPPRESSED
from tests.api.test_submissions_p8 import ensure_router
from tests.db.test_analysis_frame import add_case
from tests.factories import Account, make_account, make_unit

API = "/api/v1"
OPENED = date(2025, 3, 1)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    ensure_router(app, indicators_router, "kolada", f"{API}/stats/kolada")
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def county_world(session: Session) -> dict[str, Account]:
    """The cases of the module docstring (also used by the /kolada/v3 tests)."""
    rows = [
        ("0114", 36500, 18300, 18200),
        ("0180", 800000, 400000, 400000),
        ("0180-01", 100000, 50000, 50000),
        ("1280", 280000, 140000, 140000),
    ]
    import_figures(
        session,
        [
            Figure(area, year, sex, value)
            for area, t, k, m in rows
            for year in (2024, 2025)
            for sex, value in (("T", t), ("K", k), ("M", m))
        ],
        source="SCB test",
        reference_dates={},
    )
    vasby = make_unit(session, "0114")
    rinkeby = make_unit(session, "0180", district="0180-01")
    malmo = make_unit(session, "1280")
    author = make_account(session, "coordinator", municipality="0114").user.id
    for sex, k in ((1, 10), (2, 8)):
        for _ in range(k):
            case = add_case(session, vasby, author, actualised_on=OPENED, values={"sex": sex})
            session.add(
                Intervention(
                    case_id=case.id, start_on=date(2025, 3, 5), type_code=4, grounds_code=1
                )
            )
    for sex in (1, 1, 2):
        case = add_case(session, rinkeby, author, actualised_on=OPENED, values={"sex": sex})
        case.district_code = "0180-01"
    for _ in range(9):
        add_case(session, malmo, author, actualised_on=OPENED, values={"sex": 1})
    session.flush()
    return {
        "regional": make_account(session, "regional", county="01"),
        "vasby": make_account(session, "coordinator", municipality="0114"),
        "stockholm": make_account(session, "coordinator", municipality="0180"),
    }


@pytest.fixture
def world(session: Session) -> dict[str, Account]:
    return county_world(session)


def county_01() -> set[str]:
    return {code for code, m in municipalities().items() if m.county_code == "01"}


def split(doc: dict[str, Any], municipality: str, kpi: str) -> dict[str, tuple[Any, Any]]:
    entry = next(
        e for e in doc["isu_values_by_sex"] if e["municipality"] == municipality and e["kpi"] == kpi
    )
    return {v["gender"]: (v["value"], v["isu"]["reason"]) for v in entry["values"]}


def total(doc: dict[str, Any], municipality: str, kpi: str) -> Any:
    entry = next(e for e in doc["values"] if e["municipality"] == municipality and e["kpi"] == kpi)
    return entry["values"][0]["value"]


def test_regional_key_ratios_for_every_municipality_of_the_county(
    client: TestClient, world: dict[str, Account]
) -> None:
    r = client.get(f"{API}/stats/kolada", params={"year": 2025}, headers=world["regional"].headers)
    assert r.status_code == 200, r.text
    doc = r.json()
    assert {e["municipality"] for e in doc["values"]} == county_01()
    assert "1280" not in {e["municipality"] for e in doc["isu_values_by_sex"]}
    assert doc["ou_values"] == []  # districts are the register's own units
    # T as Kolada publishes it: the same as the coordinator's own figure.
    own = client.get(f"{API}/stats/kolada", params={"year": 2025}, headers=world["vasby"].headers)
    for kpi in ("U30750", "U30751", "U30752"):
        assert total(doc, "0114", kpi) == total(own.json(), "0114", kpi)
    assert total(doc, "0114", "U30750") == 4.9  # 18 / 36 500 × 10 000
    assert split(doc, "0114", "U30750") == {"K": (5.5, None), "M": (4.4, None)}
    assert split(doc, "0114", "U30752") == {"K": (0.0, None), "M": (0.0, None)}  # zeros shown
    # Stockholm: T (the district mean, 3 / 100 000 × 10 000) published, K 2 and M 1 hidden.
    assert total(doc, "0180", "U30750") == 0.3
    assert split(doc, "0180", "U30750") == {"K": (None, SUPPRESSED), "M": (None, SUPPRESSED)}
    stockholm = next(
        e for e in doc["isu_values_by_sex"] if e["municipality"] == "0180" and e["kpi"] == "U30750"
    )
    assert all(v["isu"]["numerator"] is None for v in stockholm["values"])
    # The coordinator still sees the own municipality's split unprotected.
    own = client.get(
        f"{API}/stats/kolada", params={"year": 2025}, headers=world["stockholm"].headers
    ).json()
    assert split(own, "0180", "U30750")["K"] == (0.4, None)


def test_regional_indicator_a_for_every_municipality_of_the_county(
    client: TestClient, world: dict[str, Account]
) -> None:
    r = client.get(
        f"{API}/stats/indicators/A",
        params={"as_of": "2025-12-31"},
        headers=world["regional"].headers,
    )
    assert r.status_code == 200, r.text
    areas = {a["area_code"]: a for a in r.json()["areas"]}
    assert set(areas) == county_01()
    vasby = {
        v["sex"]: (v["numerator"], v["denominator"], v["value"]) for v in areas["0114"]["values"]
    }
    assert vasby == {"T": (18, 18, 100.0), "K": (10, 10, 100.0), "M": (8, 8, 100.0)}
    stockholm = {
        v["sex"]: (v["numerator"], v["value"], v["reason"]) for v in areas["0180"]["values"]
    }
    assert stockholm == {
        "T": (0, 0.0, None),
        "K": (None, None, SUPPRESSED),
        "M": (None, None, SUPPRESSED),
    }


@pytest.mark.parametrize("path", ["/stats/kolada", "/stats/indicators/A"])
def test_another_county_is_forbidden(
    client: TestClient, world: dict[str, Account], path: str
) -> None:
    params: dict[str, Any] = {"year": 2025, "as_of": "2025-12-31"}
    r = client.get(
        f"{API}{path}", params={**params, "county": "12"}, headers=world["regional"].headers
    )
    assert r.status_code == 403
    assert r.json()["type"] == "/problems/forbidden"
    own = client.get(
        f"{API}{path}", params={**params, "county": "01"}, headers=world["regional"].headers
    )
    assert own.status_code == 200, own.text
    r = client.get(
        f"{API}{path}", params={**params, "county": "01"}, headers=world["vasby"].headers
    )
    assert r.status_code == 403


def test_regional_compare_adds_the_county_and_the_nation(
    client: TestClient, world: dict[str, Account]
) -> None:
    r = client.get(
        f"{API}/stats/kolada",
        params={"year": 2025, "compare": "true"},
        headers=world["regional"].headers,
    )
    assert r.status_code == 200, r.text
    doc = r.json()
    areas = {e["municipality"] for e in doc["values"]}
    assert areas == county_01() | {"0001", "0000"}  # Kolada's ids of the county and the nation
    county = next(e for e in doc["values"] if e["municipality"] == "0001" and e["kpi"] == "U30750")
    nation = next(e for e in doc["values"] if e["municipality"] == "0000" and e["kpi"] == "U30750")
    # County: (18 + 3) / (36 500 + 800 000) × 10 000 = 0.25 -> 0.3, from 2 municipalities;
    # nation: also Malmö's 9 of 280 000: 30 / 1 116 500 × 10 000 = 0.27 -> 0.3, from 3.
    assert (county["values"][0]["value"], county["values"][0]["count"]) == (0.3, 2)
    assert (nation["values"][0]["value"], nation["values"][0]["count"]) == (0.3, 3)
    assert county["values"][0]["isu"]["numerator"] == 21
    assert nation["values"][0]["isu"]["numerator"] == 30
    # Stockholm's split is hidden, so the county's and the nation's are too:
    # else county K − Väsby K would give Stockholm's 2 women away.
    assert split(doc, "0001", "U30750") == {"K": (None, SUPPRESSED), "M": (None, SUPPRESSED)}
    assert split(doc, "0000", "U30750") == {"K": (None, SUPPRESSED), "M": (None, SUPPRESSED)}
    assert split(doc, "0114", "U30750") == {"K": (5.5, None), "M": (4.4, None)}
    assert "1280" not in {e["municipality"] for e in doc["isu_values_by_sex"]}


def test_regional_compare_indicator_a(client: TestClient, world: dict[str, Account]) -> None:
    r = client.get(
        f"{API}/stats/indicators/A",
        params={"as_of": "2025-12-31", "compare": "true"},
        headers=world["regional"].headers,
    )
    assert r.status_code == 200, r.text
    areas = {a["area_code"]: a for a in r.json()["areas"]}
    assert set(areas) == county_01() | {"0001", "0000"}
    assert areas["0001"]["level"] == "county"
    assert areas["0000"]["area_name"] == "Riket"
    county = {
        v["sex"]: (v["numerator"], v["denominator"], v["value"]) for v in areas["0001"]["values"]
    }
    # 18 of Väsby's 18 and 0 of Stockholm's 3: 18 / 21; the nation also 0 of Malmö's 9: 18 / 30.
    assert county["T"] == (18, 21, 85.7)
    nation = {v["sex"]: v["value"] for v in areas["0000"]["values"]}
    assert nation == {"T": 60.0, "K": None, "M": None}


def test_compare_is_for_the_regional_user(client: TestClient, world: dict[str, Account]) -> None:
    for path, params in (
        ("/stats/kolada", {"year": 2025}),
        ("/stats/indicators/A", {"as_of": "2025-12-31"}),
    ):
        r = client.get(
            f"{API}{path}", params={**params, "compare": "true"}, headers=world["vasby"].headers
        )
        assert r.status_code == 403, path
        r = client.get(
            f"{API}{path}",
            params={**params, "compare": "true", "county": "12"},
            headers=world["regional"].headers,
        )
        assert r.status_code == 403, path
