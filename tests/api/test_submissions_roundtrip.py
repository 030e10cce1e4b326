"""Round trip between two instances (both engines): a municipality exports its
package, the national hub (a second installation with its own database)
receives it through the `isu submit` client; a tampered copy and another
municipality's package are rejected, a resend changes nothing, and the hub's
compilation for the municipality equals the municipality's own."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pandas as pd
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.db import transaction
from app.models import Submission, SubmissionFile
from app.stats.codebook import codebook_from_catalogue
from app.stats.frame import CaseFilter, load_frame
from app.submissions import hub as hub_service
from app.submissions.client import Progress, send_package
from app.submissions.router import router as submissions_router
from exporters.summary import compile_tables
from tests.api.test_submissions_hub import rebuild, replace_in
from tests.api.test_submissions_p8 import API, ensure_router, export, register_cases
from tests.api.test_submissions_p8 import client as client
from tests.factories import Account, make_account


@pytest.fixture
def hub_app(committing_app: FastAPI) -> FastAPI:
    ensure_router(committing_app, submissions_router, "list_submissions", f"{API}/submissions")
    return committing_app


@pytest.fixture
def hub_client(hub_app: FastAPI) -> Iterator[TestClient]:
    with TestClient(hub_app, raise_server_exceptions=False) as c:
        yield c


@pytest.fixture
def hub_accounts(hub_app: FastAPI) -> dict[str, Account]:
    with transaction(hub_app.state.session_factory) as session:
        return {
            "0180": make_account(session, "coordinator", municipality="0180"),
            "national": make_account(session, "national"),
        }


def hub_counts(hub_app: FastAPI) -> tuple[int, int]:
    with hub_app.state.session_factory() as session:
        return (
            session.scalar(select(func.count()).select_from(Submission)) or 0,
            session.scalar(select(func.count()).select_from(SubmissionFile)) or 0,
        )


def test_round_trip(
    client: TestClient,
    session: Session,
    hub_app: FastAPI,
    hub_client: TestClient,
    hub_accounts: dict[str, Account],
) -> None:
    stockholm = register_cases(client, session)
    vasby = register_cases(client, session, "0114", None)
    package = export(client, stockholm.coordinator).content
    foreign = export(client, vasby.coordinator).content
    url = f"http://testserver{API}/submissions"
    token = hub_accounts["0180"].token
    progress: list[int] = []

    # Accepted, with the upload reported to the progress bar.
    result = send_package(
        package,
        url,
        token,
        client=hub_client,
        progress=Progress(start=lambda total: progress.append(-total), advance=progress.append),
    )
    assert (result.status, result.body["version"], result.attempts) == (201, 1, 1)
    assert -progress[0] == sum(progress[1:]) == len(package)
    assert hub_counts(hub_app) == (1, 4)

    # A tampered copy and another municipality's package are rejected.
    tampered = rebuild(
        package,
        edit=replace_in("cases.csv", ",2025-06-01,", ",2025-05-01,"),
        fix_checksums=False,
    )
    result = send_package(tampered, url, token, client=hub_client)
    assert result.status == 422
    assert result.body["errors"][0]["pointer"] == "/files/cases.csv/sha256"
    result = send_package(foreign, url, token, client=hub_client)
    assert (result.status, result.body["type"]) == (403, "/problems/submission-scope")
    # A resend changes nothing.
    result = send_package(package, url, token, client=hub_client)
    assert (result.status, result.body["resend"]) == (200, True)
    assert hub_counts(hub_app) == (1, 4)

    # The hub's compilation for Stockholm equals Stockholm's own.
    catalogue = client.app.state.catalogue  # type: ignore[attr-defined]
    codebook = codebook_from_catalogue(catalogue)
    own = load_frame(session, catalogue, CaseFilter(date(2025, 1, 1), date(2025, 12, 31), {"0180"}))
    with hub_app.state.session_factory() as hub_session:
        national = hub_service.hub_frame(hub_session, catalogue, "2025")
    assert dict(national.excluded) == dict(own.excluded) == {"perpetrator": 1}
    assert national.n_cases == own.n_cases == 3
    mine = compile_tables(own.frame, codebook, mode="internal")
    theirs = compile_tables(
        national.frame[national.frame["municipality_code"] == "0180"], codebook, mode="internal"
    )
    assert [t.id for t in mine] == [t.id for t in theirs]
    for a, b in zip(mine, theirs, strict=True):
        pd.testing.assert_frame_equal(
            a.data.reset_index(drop=True), b.data.reset_index(drop=True), obj=a.id
        )

    # The municipality's feedback at the hub shows the same own counts.
    feedback = hub_client.get(
        f"{API}/submissions/compilation",
        params={"period": "2025"},
        headers=hub_accounts["0180"].headers,
    )
    assert feedback.status_code == 200, feedback.text
    funnel = next(t for t in feedback.json()["tables"] if t["id"] == "funnel")
    opened = [
        r["n"]
        for r in funnel["rows"]
        if r["area_code"] == "0180"
        and r["step"] == "aktualiserad"
        and r["registered"] == "registrerad"
    ]
    assert opened == [3]
