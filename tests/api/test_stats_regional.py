"""Issue 13, item 2: a regional user compares the county's municipalities
with the county and the nation in one protected call, by year; another
county stays out of reach (403)."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.api.test_stats import SEX, audits, get, sex_rows, world  # noqa: F401  (fixture)


def test_regional_compare_gives_municipalities_county_and_nation_protected(
    client: TestClient,
    session: Session,
    world: dict[str, Any],  # noqa: F811
) -> None:
    before = audits(session)
    r = get(client, world["regional"], SEX, compare="true")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["meta"]["protected"] is True
    rows = sex_rows(body)
    assert {a for a, _ in rows} == {"01", "0180", "0114", "SE"}  # never Malmö on its own
    assert rows[("0180", "1")]["n"] == ".."  # 3 women: hidden
    assert rows[("0180", "1")]["suppressed"] is True
    assert rows[("0114", "1")]["n"] == ".."  # else county 15 − 12 = 3
    assert rows[("01", "1")]["n"] == 15
    assert rows[("SE", "1")]["n"] == 35  # the nation, as the comparison
    assert rows[("SE", "2")]["n"] == 17
    assert audits(session) == before + 1


def test_regional_compare_by_year(
    client: TestClient,
    world: dict[str, Any],  # noqa: F811
) -> None:
    r = client.get(
        SEX,
        params={"from": "2022-01-01", "to": "2023-12-31", "compare": "true", "by_year": "true"},
        headers=world["regional"].headers,
    )
    assert r.status_code == 200, r.text
    rows = {
        (row["year"], row["area_code"], row["sex"]): row["n"] for row in r.json()["table"]["rows"]
    }
    assert rows[(2022, "0180", "1")] == ".."  # one case in 2022: hidden
    # The years and the whole period are one store: with the whole period's
    # 36 women published (the same call without by_year), 2023's 35 would
    # give 2022's one away, so it is hidden too; the men (none in 2022) are not.
    assert rows[(2023, "SE", "1")] == ".."
    assert rows[(2023, "01", "2")] == 17
    assert rows[(2023, "SE", "2")] == 17
    whole = get(
        client, world["regional"], SEX, compare="true", **{"from": "2022-01-01", "to": "2023-12-31"}
    )
    assert sex_rows(whole.json())[("SE", "1")]["n"] == 36
    assert {area for _, area, _ in rows} == {"01", "0180", "0114", "SE"}


def test_regional_compare_one_municipality_of_the_county(
    client: TestClient,
    world: dict[str, Any],  # noqa: F811
) -> None:
    r = get(client, world["regional"], SEX, compare="true", municipality="0114")
    assert r.status_code == 200, r.text
    rows = sex_rows(r.json())
    assert {a for a, _ in rows} == {"0114", "01", "SE"}
    assert rows[("0114", "1")]["n"] == ".."  # protected as in the county release


def test_regional_compare_of_another_county_is_forbidden(
    client: TestClient,
    session: Session,
    world: dict[str, Any],  # noqa: F811
) -> None:
    before = audits(session)
    for params in ({"county": "12"}, {"municipality": "1280"}):
        r = get(client, world["regional"], SEX, compare="true", **params)
        assert r.status_code == 403, params
        assert r.json()["type"] == "/problems/forbidden"
    r = get(client, world["regional"], "/api/v1/stats/summary", compare="true", county="12")
    assert r.status_code == 403
    assert audits(session) == before
