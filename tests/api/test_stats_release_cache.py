"""A published (protected) release is computed once per state of the data and
reused by every regional and national request until any case changes."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Case
from app.stats import service
from tests.api.test_stats import SEX, get, sex_rows, world  # noqa: F401  (fixture)


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    service.RELEASES.clear()
    calls: list[int] = []
    original = service.load_frame  # type: ignore[attr-defined]

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(service, "load_frame", counting)
    return calls


def test_release_is_reused_until_a_case_changes(
    client: TestClient,
    session: Session,
    world: dict[str, Any],  # noqa: F811
    reads: list[int],
) -> None:
    first = get(client, world["regional"], SEX, municipalities="true")
    assert first.status_code == 200, first.text
    again = get(client, world["regional"], SEX, municipalities="true")
    national = get(client, world["national"], SEX)
    assert (again.status_code, national.status_code) == (200, 200)
    assert sex_rows(again.json()) == sex_rows(first.json())
    assert len(reads) == 1  # one read of the data for all three requests

    # Two of the men in Upplands Väsby re-registered as women: the next
    # request reads the data again and shows them (35 -> 37 women in the nation).
    men = [
        c
        for c in session.scalars(select(Case).where(Case.municipality_code == "0114"))
        if c.values.get("sex") == 2
    ][:2]
    assert len(men) == 2
    for case in men:
        case.values = {**case.values, "sex": 1}
    session.flush()
    assert sex_rows(national.json())[("SE", "1")]["n"] == 35
    after = get(client, world["national"], SEX)
    assert len(reads) == 2
    assert sex_rows(after.json())[("SE", "1")]["n"] == 37
