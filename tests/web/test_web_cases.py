"""Caseworker pages: the forms come from the catalogue, saves go through the
case services, refused saves change nothing and lose nothing, stale versions
are reported, and nothing of another unit or municipality is reachable."""

from __future__ import annotations

import re
import uuid
from datetime import date, timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.catalogue.loader import Catalogue
from app.local_variables.service import define
from app.models import Case, CaseRevision
from app.web.auth import principal_of
from tests.factories import PNR, make_unit
from tests.web.helpers import (
    Person,
    audit_actions,
    counts,
    csrf_for,
    csrf_of,
    last_audit_id,
    make_person,
    post_form,
    sign_in,
)


@pytest.fixture
def worker(session: Session) -> Person:
    return make_person(session, "caseworker", unit=make_unit(session))


def _create(web: TestClient, **fields: object) -> str:
    data: dict[str, object] = {
        "client_id": PNR,
        "actualised_on": "2025-03-01",
        "caseworker_ref": "HL-7",
        "values/sex": "1",
        "values/disability": ["4"],
        "values/contact_initiative": ["1", "8"],
    }
    data.update(fields)
    response = post_form(web, "/arenden/nytt", "/arenden/nytt", data)
    assert response.status_code == 303, response.text
    location: str = response.headers["location"]
    return location.split("?")[0].removeprefix("/arenden/")


def _case(session: Session, case_id: str) -> Case:
    session.expire_all()
    case = session.get(Case, uuid.UUID(case_id))
    assert case is not None
    return case


def test_new_case_form_comes_from_the_catalogue(
    web: TestClient, worker: Person, app: FastAPI
) -> None:
    sign_in(web, worker)
    page = web.get("/arenden/nytt").text
    catalogue: Catalogue = app.state.catalogue
    sex = catalogue.variables["sex"]
    assert sex.label.sv in page
    assert sex.question.sv in page
    for option in sex.options:
        assert f'name="values/sex" value="{option.code}"' in page
    disability = catalogue.variables["disability"]
    exclusive = [o.code for o in disability.options if o.exclusive]
    for code in exclusive:
        assert re.search(rf'name="values/disability" value="{code}"[^>]*data-exclusive', page)
    assert disability.comment is not None
    assert disability.comment.label.sv in page
    assert 'name="comments/disability"' in page
    # Every input has a label (for=) or sits in a fieldset with a legend.
    ids = re.findall(r'<input type="(?:text|date|radio|checkbox)"[^>]* id="([^"]+)"', page)
    for input_id in ids:
        assert f'for="{input_id}"' in page, input_id


def test_create_case(web: TestClient, worker: Person, session: Session) -> None:
    sign_in(web, worker)
    before = last_audit_id(session)
    case_id = _create(web, **{"comments/disability": "hemlig kommentar"})
    case = _case(session, case_id)
    assert case.values["sex"] == 1
    assert case.values["disability"] == [4]
    assert case.values["age"] == 112
    assert case.unit_id == worker.user.unit_id
    assert case.created_by_id == worker.user.id
    assert b"hemlig" not in (case.comments_ciphertext or b"")
    assert "case.create" in audit_actions(session, before)
    page = web.get(f"/arenden/{case_id}/fas/bakgrund")
    assert "hemlig kommentar" in page.text  # decrypted for the caseworker
    assert "Ärendet är registrerat" in web.get(f"/arenden/{case_id}?meddelande=skapat").text


@pytest.mark.parametrize(
    ("fields", "field_id", "message"),
    [
        (
            {"actualised_on": (date.today() + timedelta(days=2)).isoformat()},
            "f-actualised_on",
            "Datumet får inte ligga i framtiden.",
        ),
        ({"client_id": "19121212-1213"}, "f-client_id", "Kontrollsiffran stämmer inte."),
        ({"actualised_on": "2025-02-30"}, "f-actualised_on", "Ogiltigt datum"),
        ({"values/disability": ["1", "4"]}, "f-values-disability", "kan inte kombineras"),
        ({"values/age": "sjutton"}, "f-values-age", "Ange ett heltal."),
        ({"values/age": "17", "client_id": "HL-kod-1"}, "f-values-age", "uppskattad ålder"),
        ({"values/sex": "9"}, "f-values-sex", "Koden finns inte i kodlistan."),
    ],
)
def test_refused_new_case_keeps_what_was_typed(
    web: TestClient,
    worker: Person,
    session: Session,
    fields: dict[str, object],
    field_id: str,
    message: str,
) -> None:
    sign_in(web, worker)
    before = counts(session)
    data: dict[str, object] = {
        "client_id": PNR,
        "actualised_on": "2025-03-01",
        "caseworker_ref": "HL-7",
        "values/contact_initiative": ["1", "8"],
        "comments/origin": "kvar efter felet",
        **fields,
    }
    response = post_form(web, "/arenden/nytt", "/arenden/nytt", data)
    assert response.status_code == 422
    page = response.text
    assert 'class="error-summary"' in page
    assert f'href="#{field_id}"' in page
    error = re.search(rf'<p class="error-message" id="{field_id}-error">(.*?)</p>', page, re.S)
    assert error is not None
    assert message in error.group(1)
    assert "HL-7" in page
    assert "kvar efter felet" in page
    assert 'name="values/contact_initiative" value="8" checked' in page
    assert counts(session) == before  # nothing written, not even an audit event


def test_update_phase_names_only_what_changed(
    web: TestClient, worker: Person, session: Session
) -> None:
    sign_in(web, worker)
    case_id = _create(web)
    path = f"/arenden/{case_id}/fas/fore"
    response = post_form(
        web,
        path,
        path,
        {
            "version": "1",
            "values/perpetrator": ["2"],
            "values/honour_context": "2",
            "values/violence_severity": "",
            "comments/perpetrator": "före detta partner",
        },
    )
    assert response.status_code == 303, response.text
    case = _case(session, case_id)
    assert case.version == 2
    assert case.values["perpetrator"] == [2]
    assert case.values["honour_context"] == 2
    assert "violence_severity" not in case.values
    revision = session.scalars(
        select(CaseRevision).where(CaseRevision.case_id == case.id, CaseRevision.version == 2)
    ).one()
    assert revision.fields == ["comment:perpetrator", "honour_context", "perpetrator"]
    # The same form again changes nothing and writes nothing.
    token = csrf_for(web, path)
    before = counts(session)
    response = web.post(
        path,
        data={
            "version": "2",
            "values/perpetrator": ["2"],
            "values/honour_context": "2",
            "comments/perpetrator": "före detta partner",
            "csrf_token": token,
        },
    )
    assert response.headers["location"].endswith("meddelande=oforandrat")
    assert counts(session) == before


def test_stale_version_is_reported_not_overwritten(
    web: TestClient, worker: Person, session: Session, app: FastAPI
) -> None:
    sign_in(web, worker)
    case_id = _create(web)
    path = f"/arenden/{case_id}/fas/fore"
    form_a = web.get(path).text  # A opens the form at version 1
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as b:
        sign_in(b, worker)
        saved = post_form(b, path, path, {"version": "1", "values/honour_context": "1"})
        assert saved.status_code == 303
    before = counts(session)
    response = web.post(
        path,
        data={"version": "1", "values/honour_context": "3", "csrf_token": csrf_of(form_a)},
    )
    assert response.status_code == 412
    assert "Någon annan har ändrat ärendet" in response.text
    assert "Hedersrelaterat våld" in response.text  # what the other person changed
    assert 'name="values/honour_context" value="3" checked' in response.text  # A's choice kept
    assert 'name="version" value="2"' in response.text  # saving again is deliberate
    assert _case(session, case_id).values["honour_context"] == 1
    assert counts(session) == before


def test_records_and_closing_and_phone_survey(
    web: TestClient, worker: Person, session: Session
) -> None:
    sign_in(web, worker)
    case_id = _create(web)
    base = f"/arenden/{case_id}"
    # An intervention before the case opened is refused at its date field.
    early = post_form(
        web,
        f"{base}/fas/under",
        f"{base}/insatser",
        {"intervention_start_on": "2025-02-01", "intervention_type": "4"},
    )
    assert early.status_code == 422
    assert 'id="f-intervention_start_on-error"' in early.text
    added = post_form(
        web,
        f"{base}/fas/under",
        f"{base}/insatser",
        {
            "intervention_start_on": "2025-03-05",
            "intervention_type": "4",
            "intervention_grounds": "1",
            "comments/intervention_type": "samtal varje vecka",
        },
    )
    assert added.status_code == 303
    risk = post_form(
        web,
        f"{base}/fas/fore",
        f"{base}/riskskattningar",
        {"assessed_on": "2025-03-02", "assessment_phase": "1", "risk_instrument": "1"},
    )
    assert risk.status_code == 303
    case = _case(session, case_id)
    assert case.status == "fatt_insats"
    # A survey before closing is refused.
    survey = {
        "version": str(case.version),
        "answered_on": "2025-06-02",
        "language": "1",
        "mode": "1",
        "survey_violence_change": "3",
        "survey_support_importance": "4",  # only when 202 is an improvement
    }
    early_survey = post_form(web, f"{base}/fas/brukarenkat", f"{base}/enkat", survey)
    assert early_survey.status_code == 422
    closed = post_form(
        web,
        f"{base}/fas/efter",
        f"{base}/avsluta",
        {
            "version": str(case.version),
            "closed_on": "2025-06-01",
            "values/closing_reason": "1",
            "values/goal_followup": "2",
        },
    )
    assert closed.status_code == 303, closed.text
    case = _case(session, case_id)
    assert case.status == "maluppfoljning_angiven"
    assert case.closed_on == date(2025, 6, 1)
    token = csrf_for(web, f"{base}/fas/brukarenkat")
    before = counts(session)
    survey["version"] = str(case.version)
    skip = web.post(f"{base}/enkat", data={**survey, "csrf_token": token})
    assert skip.status_code == 422
    assert 'id="f-survey_support_importance-error"' in skip.text
    assert counts(session) == before
    survey["survey_violence_change"] = "1"
    done = post_form(web, f"{base}/fas/brukarenkat", f"{base}/enkat", survey)
    assert done.status_code == 303
    case = _case(session, case_id)
    assert case.status == "brukarenkat_genomford"
    history = web.get(f"{base}/historik").text
    for label in ("Registrerat", "Avslutat", "Brukarenkät registrerad"):
        assert label in history
    assert worker.username in history


def test_case_list_filters_and_search(web: TestClient, worker: Person, session: Session) -> None:
    sign_in(web, worker)
    first = _create(web, caseworker_ref="ABC-1")
    _create(web, caseworker_ref="XYZ-2", client_id="19900101-0017")
    post_form(
        web,
        f"/arenden/{first}/fas/efter",
        f"/arenden/{first}/avsluta",
        {"version": "1", "closed_on": "2025-04-01"},
    )
    page = web.get("/arenden").text
    assert "2 ärenden" in page
    assert "ABC-1" in web.get("/arenden?ref=abc").text
    assert "XYZ-2" not in web.get("/arenden?ref=abc").text
    closed = web.get("/arenden?fas=efter").text
    assert "ABC-1" in closed
    assert "XYZ-2" not in closed
    opened = web.get("/arenden?status=aktualiserad").text
    assert "XYZ-2" in opened
    assert "ABC-1" not in opened
    assert web.get("/arenden?ref=%25").text.count("ärenden") >= 1  # a wildcard is a character


def test_local_variable_appears_in_its_phase(
    web: TestClient, worker: Person, session: Session
) -> None:
    coordinator = make_person(session, "coordinator", municipality="0180")
    define(
        session,
        principal_of(coordinator.user),
        {
            "key": "k0180.housing",
            "phase": "under",
            "type": "single",
            "label": {"sv": "Boendesituation", "en": "Housing"},
            "question": {"sv": "Hur bor klienten?", "en": "How?"},
            "options": [
                {"code": 1, "label": {"sv": "Eget boende", "en": "Own home"}},
                {"code": 2, "label": {"sv": "Skyddat boende", "en": "Sheltered"}},
            ],
        },
        export_opt_in=False,
    )
    sign_in(web, worker)
    case_id = _create(web)
    page = web.get(f"/arenden/{case_id}/fas/under").text
    assert "Boendesituation" in page
    assert 'name="local_values/k0180.housing"' in page
    assert "Boendesituation" not in web.get(f"/arenden/{case_id}/fas/bakgrund").text
    path = f"/arenden/{case_id}/fas/under"
    response = post_form(web, path, path, {"version": "1", "local_values/k0180.housing": "2"})
    assert response.status_code == 303
    assert _case(session, case_id).values["k0180.housing"] == 2


def test_exclusion_is_for_coordinators(web: TestClient, worker: Person, session: Session) -> None:
    sign_in(web, worker)
    case_id = _create(web)
    refused = post_form(
        web,
        f"/arenden/{case_id}",
        f"/arenden/{case_id}/undantag",
        {"version": "1", "reason": "duplicate"},
    )
    assert refused.status_code == 403
    assert not _case(session, case_id).is_excluded
    coordinator = make_person(session, "coordinator", municipality="0180")
    web.cookies.clear()
    sign_in(web, coordinator)
    excluded = post_form(
        web,
        f"/arenden/{case_id}",
        f"/arenden/{case_id}/undantag",
        {"version": "1", "reason": "duplicate"},
    )
    assert excluded.status_code == 303
    case = _case(session, case_id)
    assert case.is_excluded
    assert case.exclusion_reason == "duplicate"
    assert "Undantaget" in web.get("/arenden?undantagna=ja").text


# --- scope: another unit, another municipality ---------------------------------


def _case_paths(case_id: str) -> list[str]:
    return [
        f"/arenden/{case_id}",
        f"/arenden/{case_id}/historik",
        *(
            f"/arenden/{case_id}/fas/{p}"
            for p in ("bakgrund", "fore", "under", "efter", "brukarenkat")
        ),
    ]


@pytest.mark.parametrize("other", ["other-municipality", "other-unit"])
def test_nothing_of_another_scope_is_reachable(
    web: TestClient, worker: Person, session: Session, app: FastAPI, other: str
) -> None:
    sign_in(web, worker)
    case_id = _create(web, caseworker_ref="A-HEMLIG")
    if other == "other-municipality":
        intruder = make_person(session, "coordinator", municipality="1480")
    else:
        intruder = make_person(session, "caseworker", unit=make_unit(session, "0180"))
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as b:
        sign_in(b, intruder)
        missing = str(uuid.uuid4())
        for path in _case_paths(case_id):
            theirs = b.get(path)
            nobody = b.get(path.replace(case_id, missing))
            assert theirs.status_code == nobody.status_code == 404, path
            assert theirs.text == nobody.text  # existence does not leak
            assert "A-HEMLIG" not in theirs.text
        assert "A-HEMLIG" not in b.get("/arenden").text
        assert "A-HEMLIG" not in b.get("/arenden?ref=HEMLIG").text
        csrf = csrf_of(b.get("/arenden/nytt").text)
        before = counts(session)
        for action, data in (
            (f"/arenden/{case_id}/fas/bakgrund", {"version": "1", "values/sex": "2"}),
            (f"/arenden/{case_id}/avsluta", {"version": "1", "closed_on": "2025-04-01"}),
            (
                f"/arenden/{case_id}/insatser",
                {"intervention_start_on": "2025-03-02", "intervention_type": "1"},
            ),
            (f"/arenden/{case_id}/enkat/lank", {"mode": "4"}),
            (f"/arenden/{case_id}/undantag", {"version": "1", "reason": "duplicate"}),
        ):
            response = b.post(action, data={**data, "csrf_token": csrf})
            assert response.status_code in (403, 404), action
        assert counts(session) == before
    case = _case(session, case_id)
    assert case.values["sex"] == 1
    assert case.closed_on is None
    assert case.version == 1


def test_malformed_ids_are_not_found(web: TestClient, worker: Person) -> None:
    sign_in(web, worker)
    response = web.get("/arenden/inte-ett-id")
    assert response.status_code == 404
    assert "Sidan finns inte" in response.text
    assert web.get("/arenden/00000000-0000-0000-0000-000000000000/fas/okand").status_code == 404


def test_overview_shows_the_funnel(web: TestClient, worker: Person) -> None:
    sign_in(web, worker)
    case_id = _create(web)
    page = web.get(f"/arenden/{case_id}").text
    current = re.search(
        r'<li class="funnel-step is-current" aria-current="step">(.*?)</li>', page, re.S
    )
    assert current is not None
    assert "Aktualiserad" in current.group(1)
    assert "Nästa steg" in page
    assert f'href="/arenden/{case_id}/fas/under"' in page
