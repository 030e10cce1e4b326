"""The caseworker's day on the pages: every error of a save at once, warnings
confirmed before saving, the next step by phase, "my cases" and what is
missing in the list, the data-quality drill-down with references and CSV, and
pages that go through the services (no SQL of their own)."""

from __future__ import annotations

import ast
import csv
import io
import re
from datetime import date, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.config import PROJECT_ROOT
from app.models import Case, Intervention, Unit
from tests.factories import PNR, make_unit
from tests.web.helpers import (
    Person,
    counts,
    csrf_for,
    csrf_of,
    make_person,
    post_form,
    sign_in,
)

INTERVENTION = {"intervention_start_on": "2025-03-05", "intervention_type": "10"}


@pytest.fixture
def unit(session: Session) -> Unit:
    return make_unit(session)


@pytest.fixture
def worker(session: Session, unit: Unit) -> Person:
    return make_person(session, "caseworker", unit=unit)


def _create(web: TestClient, **fields: object) -> str:
    data: dict[str, object] = {
        "client_id": PNR,
        "actualised_on": "2025-03-01",
        "caseworker_ref": "HL-7",
        "values/sex": "1",
    }
    data.update(fields)
    response = post_form(web, "/arenden/nytt", "/arenden/nytt", data)
    assert response.status_code == 303, response.text
    location: str = response.headers["location"]
    return location.split("?")[0].removeprefix("/arenden/")


def _field_errors(page: str) -> dict[str, str]:
    return dict(re.findall(r'<p class="error-message" id="(f-[^"]+)-error">(.*?)</p>', page, re.S))


def test_one_save_shows_every_error(web: TestClient, worker: Person, session: Session) -> None:
    sign_in(web, worker)
    before = counts(session)
    response = post_form(
        web,
        "/arenden/nytt",
        "/arenden/nytt",
        {
            "client_id": "19121212-1213",  # wrong check digit
            "actualised_on": (date.today() + timedelta(days=3)).isoformat(),
            "values/age": "abc",
            "values/disability": ["1", "4"],  # Fysisk and Nej
        },
    )
    assert response.status_code == 422
    errors = _field_errors(response.text)
    assert set(errors) == {"f-client_id", "f-actualised_on", "f-values-age", "f-values-disability"}
    assert "Kontrollsiffran" in errors["f-client_id"]
    assert "framtiden" in errors["f-actualised_on"]
    assert "heltal" in errors["f-values-age"]
    assert "kan inte kombineras" in errors["f-values-disability"]
    summary = re.search(r'class="error-summary".*?</div>', response.text, re.S)
    assert summary is not None
    assert summary.group(0).count("<li>") == 4
    assert counts(session) == before


def test_a_warning_waits_for_a_confirmation(
    web: TestClient, worker: Person, session: Session
) -> None:
    sign_in(web, worker)
    case_id = _create(web)
    under, action = f"/arenden/{case_id}/fas/under", f"/arenden/{case_id}/insatser"
    assert post_form(web, under, action, INTERVENTION).status_code == 303
    token_of_page = csrf_for(web, under)
    before = counts(session)
    # The same intervention (Skyddat boende) again on the same date.
    asked = web.post(action, data={**INTERVENTION, "csrf_token": token_of_page})
    assert asked.status_code == 409
    assert "Kontrollera innan du sparar" in asked.text
    assert "Skyddat boende" in asked.text
    assert "2025-03-05" in asked.text
    token = re.search(r'name="bekrafta" value="([0-9a-f]+)"', asked.text)
    assert token is not None
    assert 'name="intervention_type"' in asked.text  # the form as typed
    assert counts(session) == before  # nothing saved yet
    # A confirmation of other warnings does not count.
    wrong = web.post(
        action, data={**INTERVENTION, "bekrafta": "0" * 20, "csrf_token": csrf_of(asked.text)}
    )
    assert wrong.status_code == 409
    saved = web.post(
        action, data={**INTERVENTION, "bekrafta": token.group(1), "csrf_token": csrf_of(asked.text)}
    )
    assert saved.status_code == 303, saved.text
    session.expire_all()
    assert session.scalar(select(func.count(Intervention.id))) == 2
    overview = web.get(f"/arenden/{case_id}").text
    assert "Att kontrollera" in overview
    assert "registrerad två gånger" in overview


def test_closing_with_a_contradiction_is_confirmed(
    web: TestClient, worker: Person, session: Session
) -> None:
    sign_in(web, worker)
    case_id = _create(web)
    efter, action = f"/arenden/{case_id}/fas/efter", f"/arenden/{case_id}/avsluta"
    data = {
        "version": "1",
        "closed_on": "2025-06-01",
        "values/goal_followup": "4",  # Negativ förändring
        "values/closing_reason": "1",  # Målet har uppnåtts
    }
    asked = post_form(web, efter, action, data)
    assert asked.status_code == 409
    # Shown at the field it points at, too.
    assert re.search(r'class="warning-message">.*?Negativ förändring', asked.text, re.S)
    token = re.search(r'name="bekrafta" value="([0-9a-f]+)"', asked.text)
    assert token is not None
    saved = web.post(
        action, data={**data, "bekrafta": token.group(1), "csrf_token": csrf_of(asked.text)}
    )
    assert saved.status_code == 303
    session.expire_all()
    assert session.scalar(select(Case.closed_on)) == date(2025, 6, 1)


def test_next_step_goes_phase_by_phase(web: TestClient, worker: Person) -> None:
    sign_in(web, worker)
    case_id = _create(web)
    overview = web.get(f"/arenden/{case_id}").text
    assert f'href="/arenden/{case_id}/fas/fore" data-next-step="fore"' in overview
    done = post_form(
        web,
        f"/arenden/{case_id}/fas/fore",
        f"/arenden/{case_id}/fas/fore",
        {
            "version": "1",
            "values/perpetrator": ["2"],
            "values/honour_context": "2",
            "values/violence_severity": "2",
            "values/change_goal": "2",
        },
    )
    assert done.status_code == 303, done.text
    assert 'data-next-step="under"' in web.get(f"/arenden/{case_id}").text


def test_case_page_speaks_plainly(web: TestClient, worker: Person) -> None:
    sign_in(web, worker)
    case_id = _create(web)
    overview = web.get(f"/arenden/{case_id}").text
    assert "<dt>Version</dt>" not in overview
    assert "sparat 1 gång" in overview
    fore = web.get(f"/arenden/{case_id}/fas/fore").text
    risk = fore[fore.index('action="/arenden/' + case_id + '/riskskattningar"') :]
    instrument = risk.index("Skattningsinstrument")
    assert instrument < risk.index("Skattad risk")
    assert risk.index("Datum för skattning") < instrument


def test_my_cases_and_what_is_missing(
    web: TestClient, worker: Person, session: Session, unit: Unit
) -> None:
    colleague = make_person(session, "caseworker", unit=unit)
    sign_in(web, colleague)
    _create(web, caseworker_ref="KOLLEGA-1", client_id="KLIENT-A")
    web.cookies.clear()
    sign_in(web, worker)
    mine = _create(web, caseworker_ref="MIN-1", client_id="KLIENT-B")
    everyone = web.get("/arenden").text
    assert "KOLLEGA-1" in everyone
    assert "MIN-1" in everyone
    only_mine = web.get("/arenden?mina=ja").text
    assert "MIN-1" in only_mine
    assert "KOLLEGA-1" not in only_mine
    assert "1 ärende" in only_mine
    # The missing column: före has four variables and the risk assessment, none registered.
    row = re.search(rf'<tr>(?:(?!</tr>).)*/arenden/{mine}".*?</tr>', only_mine, re.S)
    assert row is not None
    assert f'href="/arenden/{mine}/fas/fore"' in row.group(0)
    assert "Före stöd/insats: 5" in row.group(0)


def test_quality_drill_down_has_the_reference_and_a_csv(
    web: TestClient, worker: Person, session: Session
) -> None:
    sign_in(web, worker)
    case_id = _create(web, caseworker_ref="HL-99")
    page = web.get("/datakvalitet/saknas?variabel=change_goal")
    assert page.status_code == 200
    assert "HL-99" in page.text
    assert "Ladda ner listan (CSV)" in page.text
    download = web.get("/datakvalitet/saknas?variabel=change_goal&format=csv")
    assert download.status_code == 200
    assert download.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(download.content.decode("utf-8-sig")), delimiter=";"))
    assert rows[0] == ["Aktualiserat", "Handläggarens referens", "Verksamhet", "Status", "Ärende"]
    assert rows[1][:2] == ["2025-03-01", "HL-99"]
    assert rows[1][4].endswith(f"/arenden/{case_id}")


def test_quality_report_lists_the_warnings(
    web: TestClient, worker: Person, session: Session
) -> None:
    sign_in(web, worker)
    case_id = _create(web)
    under, action = f"/arenden/{case_id}/fas/under", f"/arenden/{case_id}/insatser"
    post_form(web, under, action, INTERVENTION)
    asked = post_form(web, under, action, INTERVENTION)
    token = re.search(r'name="bekrafta" value="([0-9a-f]+)"', asked.text)
    assert token is not None
    web.post(
        action, data={**INTERVENTION, "bekrafta": token.group(1), "csrf_token": csrf_of(asked.text)}
    )
    report = web.get("/datakvalitet").text
    assert "Samma insats två gånger samma dag" in report
    link = "/datakvalitet/kontrollera?kontroll=same_intervention_same_day"
    assert link in report
    listed = web.get(link)
    assert listed.status_code == 200
    assert f'href="/arenden/{case_id}"' in listed.text


PAGES = sorted((PROJECT_ROOT / "app" / "web").glob("pages_*.py"))


@pytest.mark.parametrize("path", PAGES, ids=[p.name for p in PAGES])
def test_pages_run_no_sql_of_their_own(path: object) -> None:
    """Page handlers call the services (the API's); they build no query and
    read no row themselves."""
    tree = ast.parse(
        PROJECT_ROOT.joinpath("app", "web", str(getattr(path, "name", ""))).read_text()
    )
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("sqlalchemy"):
            found += [a.name for a in node.names if a.name != "Session"]
        if isinstance(node, ast.Attribute) and node.attr in (
            "execute",
            "scalar",
            "scalars",
            "get",
        ):
            owner = node.value
            if isinstance(owner, ast.Attribute) and owner.attr == "session":
                found.append(f"session.{node.attr}")
    assert found == []
