"""Issue 13, item 3: the Kolada API v3-compatible read API under /kolada/v3
(both engines). The same values as ``isu export kolada --publish``; only
closed years; open, like Kolada (no token); Kolada's paging with absolute
``next_url``; errors as problem+json naming the parameter.

Data: :func:`tests.api.test_kolada_regional.county_world` (2025: Upplands
Väsby 10 women and 8 men, Stockholm district 0180-01 2 women and 1 man,
Malmö 9 women).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import typer
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from app.config import get_settings
from app.db import make_engine, make_session_factory, transaction
from app.indicators.cli import register
from app.indicators.population import Figure, import_figures
from app.kolada_v3 import router as v3_router
from app.kolada_v3 import service as v3_service
from app.reference import municipalities
from tests.api.test_kolada_regional import county_world
from tests.conftest import TEST_MASTER_KEY

BASE = "/kolada/v3"
TODAY = date(2026, 3, 1)
QUERY = "kpi_id=U30750,U30751&municipality_id=0180,0114&year=2024,2025"


@pytest.fixture(autouse=True)
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    v3_service.PUBLISHED.clear()
    monkeypatch.setattr(v3_router, "today", lambda: TODAY)
    yield
    v3_service.PUBLISHED.clear()


@pytest.fixture
def data(session: Session) -> None:
    county_world(session)


@pytest.fixture
def committed(fresh_database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("ISU_DATABASE_URL", fresh_database_url)
    monkeypatch.setenv("ISU_MASTER_KEY", TEST_MASTER_KEY)
    get_settings.cache_clear()
    engine = make_engine(fresh_database_url)
    with transaction(make_session_factory(engine)) as session:
        county_world(session)
    engine.dispose()
    yield fresh_database_url
    get_settings.cache_clear()


def export_kolada(tmp_path: Path, year: int) -> dict[str, Any]:
    cli = typer.Typer()
    register(cli)
    out = tmp_path / f"kolada-{year}.json"
    args = ["export", "kolada", "--year", str(year), "--out", str(out), "--publish"]
    args += ["--municipality", "0180", "--municipality", "0114"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    doc: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    return doc


def test_data_is_what_isu_export_kolada_publishes(
    committed: str, committing_app: FastAPI, tmp_path: Path
) -> None:
    with TestClient(committing_app) as client:
        r = client.get(f"{BASE}/data?{QUERY}")
        assert r.status_code == 200, r.text
        body = r.json()
        split = client.get(f"{BASE}/data", params={"kpi_id": "ISU-U30750", "year": "2025"})
        assert split.status_code == 200, split.text
    assert set(body) == {"count", "next_url", "previous_url", "values"}
    assert (body["count"], body["next_url"], body["previous_url"]) == (4, None, None)
    got = {(e["kpi"], e["municipality"], e["period"]): e["values"] for e in body["values"]}
    expected = {}
    for year in (2024, 2025):
        doc = export_kolada(tmp_path, year)
        for entry in doc["values"]:
            t = entry["values"][0]
            if entry["kpi"] in ("U30750", "U30751") and t["value"] is not None:
                key = (entry["kpi"], entry["municipality"], entry["period"])
                expected[key] = [
                    {"gender": "T", "count": t["count"], "status": "", "value": t["value"]}
                ]
    assert got == expected
    # By hand: Väsby 18 / 36 500 × 10 000; Stockholm the district mean 3 / 100 000 × 10 000.
    assert got[("U30750", "0114", 2025)][0]["value"] == 4.9
    assert got[("U30750", "0180", 2025)][0]["value"] == 0.3
    assert not any(year == 2024 for _, _, year in got)  # no case in 2024: no value, no entry
    # Our K/M split: as the export's isu_values_by_sex (Stockholm's hidden).
    doc = export_kolada(tmp_path, 2025)
    ours = {
        e["municipality"]: {v["gender"]: v["value"] for v in e["values"]}
        for e in doc["isu_values_by_sex"]
        if e["kpi"] == "U30750"
    }
    served = {
        e["municipality"]: {v["gender"]: v["value"] for v in e["values"]}
        for e in split.json()["values"]
    }
    assert served["0114"] == {"T": 4.9, **ours["0114"]} == {"T": 4.9, "K": 5.5, "M": 4.4}
    assert served["0180"] == {"T": 0.3, "K": None, "M": None}
    assert ours["0180"] == {"K": None, "M": None}
    stockholm = next(e for e in split.json()["values"] if e["municipality"] == "0180")
    assert [v["status"] for v in stockholm["values"]] == ["", "suppressed", "suppressed"]


def test_pagination_follows_next_url_to_the_end(client: TestClient, data: None) -> None:
    everything = client.get(f"{BASE}/data").json()
    assert everything["count"] == len(everything["values"]) == 3 * 3 + 3 * 3 + 3
    seen: list[dict[str, Any]] = []
    url: str | None = f"{BASE}/data?per_page=4"
    pages = 0
    previous: str | None = None
    while url is not None:
        r = client.get(url)
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["count"] == everything["count"]
        assert body["previous_url"] == previous
        assert len(body["values"]) <= 4
        seen += body["values"]
        pages += 1
        previous = url if url.startswith("http") else None
        url = body["next_url"]
        if url is not None:
            assert url.startswith("http://testserver/kolada/v3/data?")
            assert "per_page=4" in url
            assert f"page={pages + 1}" in url
        if pages == 1:
            previous = str(client.base_url.join(f"{BASE}/data?per_page=4&page=1"))
    assert pages == 6
    assert seen == everything["values"]
    assert {e["municipality"] for e in seen} == {"0114", "0180", "1280"}
    assert {e["kpi"] for e in seen} == {
        "U30750",
        "U30751",
        "U30752",
        "ISU-U30750",
        "ISU-U30751",
        "ISU-U30752",
        "ISU-A",
    }
    # Our indicator A, a share Kolada does not publish: wholly hidden where small
    # (Stockholm: 0 of 3), the entry kept and marked.
    a = {e["municipality"]: e["values"] for e in seen if e["kpi"] == "ISU-A"}
    assert [(v["value"], v["status"]) for v in a["0180"]] == [(None, "suppressed")] * 3
    assert [v["value"] for v in a["0114"]] == [100.0, 100.0, 100.0]
    beyond = client.get(f"{BASE}/data", params={"per_page": 4, "page": 99}).json()
    assert (beyond["values"], beyond["next_url"]) == ([], None)


def test_only_closed_years_are_published(
    client: TestClient, data: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(v3_router, "today", lambda: date(2025, 12, 31))
    body = client.get(f"{BASE}/data", params={"year": "2025"}).json()
    assert (body["count"], body["values"]) == (0, [])
    assert client.get(f"{BASE}/data").json()["count"] == 0
    r = client.get(f"{BASE}/data/kpi/U30750/year/2025")
    assert (r.status_code, r.json()["count"]) == (200, 0)


def test_no_token_needed_and_path_forms(client: TestClient, data: None) -> None:
    r = client.get(f"{BASE}/data/kpi/U30750/municipality/0114/year/2025")
    assert r.status_code == 200, r.text
    assert r.json()["values"] == [
        {
            "kpi": "U30750",
            "municipality": "0114",
            "period": 2025,
            "values": [{"gender": "T", "count": 1, "status": "", "value": 4.9}],
        }
    ]
    # A token is not needed, and one that is not valid is ignored, as by Kolada.
    bad = client.get(
        f"{BASE}/data/municipality/0114/kpi/U30750", headers={"Authorization": "Bearer nope"}
    )
    assert bad.json()["values"] == r.json()["values"]
    assert client.get(f"{BASE}/data/kpi/U30750/year/2025").json()["count"] == 3
    assert client.get(f"{BASE}/data/kpi/U30750/municipality/0114").json()["count"] == 1
    assert client.get(f"{BASE}/data/municipality/0114/year/2025").json()["count"] == 7
    # Every served K/M value hides small parts: Malmö's 9 women and no men: shown.
    malmo = client.get(f"{BASE}/data", params={"kpi_id": "ISU-U30750", "municipality_id": "1280"})
    values = {v["gender"]: v["value"] for v in malmo.json()["values"][0]["values"]}
    assert values == {"T": 0.3, "K": 0.6, "M": 0.0}


def test_kpi_metadata(client: TestClient) -> None:
    r = client.get(f"{BASE}/kpi")
    assert r.status_code == 200, r.text
    body = r.json()
    ids = [k["id"] for k in body["values"]]
    assert ids == ["U30750", "U30751", "U30752", "ISU-U30750", "ISU-U30751", "ISU-U30752", "ISU-A"]
    assert body["count"] == 7
    assert body["next_url"] is None
    kolada = body["values"][0]
    assert kolada["title"].startswith("Vuxna (18+) som aktualiserats")
    assert (kolada["is_divided_by_gender"], kolada["municipality_type"], kolada["ours"]) == (
        False,
        "K",
        False,
    )
    assert kolada["operating_area"] == "Individ- och familjeomsorg"
    ours = {k["id"]: k for k in body["values"] if k["ours"]}
    assert set(ours) == {"ISU-U30750", "ISU-U30751", "ISU-U30752", "ISU-A"}
    assert all(k["is_divided_by_gender"] and k["source"] == "ISU" for k in ours.values())
    r = client.get(f"{BASE}/kpi", params={"id": "U30752,ISU-A"})
    assert [k["id"] for k in r.json()["values"]] == ["U30752", "ISU-A"]
    r = client.get(f"{BASE}/kpi", params={"title": "KVINNOR OCH MÄN"})
    assert [k["id"] for k in r.json()["values"]] == ["ISU-U30750", "ISU-U30751", "ISU-U30752"]
    paged = client.get(f"{BASE}/kpi", params={"per_page": 5}).json()
    assert paged["next_url"] == "http://testserver/kolada/v3/kpi?per_page=5&page=2"


def test_municipality_metadata(client: TestClient) -> None:
    r = client.get(f"{BASE}/municipality", params={"id": "0180,0114"})
    assert r.status_code == 200, r.text
    assert r.json()["values"] == [
        {"id": "0114", "title": municipalities()["0114"].name, "type": "K"},
        {"id": "0180", "title": municipalities()["0180"].name, "type": "K"},
    ]
    everything = client.get(f"{BASE}/municipality").json()
    assert everything["count"] == 1 + 21 + 290
    types = {m["id"]: m["type"] for m in everything["values"]}
    assert (types["0000"], types["0001"], types["1280"]) == ("L", "L", "K")
    found = client.get(f"{BASE}/municipality", params={"title": "göteborg"}).json()
    assert [m["id"] for m in found["values"]] == ["1480"]


@pytest.mark.parametrize(
    ("path", "params", "pointer"),
    [
        ("/data", {"year": "20x5"}, "/query/year"),
        ("/data", {"municipality_id": "18"}, "/query/municipality_id"),
        ("/data", {"kpi_id": "U30750,,U30751"}, "/query/kpi_id"),
        ("/data", {"per_page": "0"}, "/query/per_page"),
        ("/data", {"per_page": "5001"}, "/query/per_page"),
        ("/data", {"page": "0"}, "/query/page"),
        ("/municipality", {"id": "Stockholm"}, "/query/id"),
        ("/kpi", {"title": ""}, "/query/title"),
    ],
)
def test_bad_parameters_are_problems_naming_them(
    client: TestClient, path: str, params: dict[str, str], pointer: str
) -> None:
    r = client.get(f"{BASE}{path}", params=params)
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"
    problem = r.json()
    assert [e["pointer"] for e in problem["errors"]] == [pointer]
    assert problem["errors"][0]["detail"]
    assert problem["errors"][0]["detail_en"]


def test_in_the_openapi_document_without_security(client: TestClient) -> None:
    """Schemathesis (test_openapi_contract) exercises every operation listed here."""
    paths = client.get("/openapi.json").json()["paths"]
    ours = {p: op for p, op in paths.items() if p.startswith(BASE)}
    assert {"/kolada/v3/kpi", "/kolada/v3/municipality", "/kolada/v3/data"} <= set(ours)
    assert len(ours) == 8
    assert all("security" not in op["get"] for op in ours.values())


def test_a_new_population_figure_is_served_at_once(
    client: TestClient, session: Session, data: None
) -> None:
    params = {"kpi_id": "U30750", "municipality_id": "0114", "year": "2025"}
    before = client.get(f"{BASE}/data", params=params).json()["values"][0]["values"][0]
    assert before["value"] == 4.9
    import_figures(session, [Figure("0114", 2025, "T", 18000)], source="SCB", reference_dates={})
    session.flush()
    after = client.get(f"{BASE}/data", params=params).json()["values"][0]["values"][0]
    assert after["value"] == 10.0  # 18 / 18 000 × 10 000
