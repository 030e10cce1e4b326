"""No clear text anywhere (issue 10; ACCEPTANCE P9), on both engines.

The README's whole example is walked with an ``Idempotency-Key`` on every
POST, then a case through the web forms and the client's own survey answer
through a one-time link. Afterwards the raw SQLite file and its write-ahead
log, or a plain ``pg_dump`` of the PostgreSQL database, are searched for every
comment, survey suggestion, name and personnummer form used: none is there,
neither as UTF-8 nor JSON-escaped.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.db import transaction
from tests.factories import make_account, make_unit
from tests.web.helpers import make_person, post_form, sign_in

PNR = "19121212-1212"
NAME = "Greta Testsson-Qvist"
COMMENTS = {
    "perpetrator": f"Förövaren hotade {NAME} igen (Zq-1)",
    "intervention": "Skyddat boende ordnat via jouren (Zq-2)",
    "close": "Klienten flyttade till syster (Zq-3)",
    "survey": "Bra bemötande, tack (Zq-4)",
    "web": "Kommentar skriven i webbformuläret (Zq-5)",
}
SUGGESTION = "Förslag från klienten själv: kortare väntetid (Zq-6)"
WEB_SUGGESTION = "Klientens eget förslag via länken (Zq-7)"


def personnummer_forms(pnr: str) -> list[str]:
    digits = pnr.replace("-", "")
    return [pnr, digits, digits[2:], f"{digits[2:8]}-{digits[8:]}"]


def _walk_the_readme(api: TestClient, token: str) -> None:
    auth = {"Authorization": f"Bearer {token}"}

    def post(path: str, body: dict[str, object], **headers: str) -> dict[str, object]:
        r = api.post(path, json=body, headers={**auth, "Idempotency-Key": path + "-1", **headers})
        assert r.status_code in (200, 201), r.text
        again = api.post(
            path, json=body, headers={**auth, "Idempotency-Key": path + "-1", **headers}
        )
        assert again.status_code == r.status_code  # the replay too
        result: dict[str, object] = r.json()
        return result

    case = post(
        "/api/v1/cases",
        {
            "client_id": PNR,
            "actualised_on": "2025-03-03",
            "caseworker_ref": "HL-17",
            "values": {"sex": 1, "origin": 1, "disability": [4], "contact_initiative": [1, 8]},
        },
    )
    path = f"/api/v1/cases/{case['id']}"
    r = api.patch(
        path,
        json={
            "values": {"perpetrator": [2], "honour_context": 2, "violence_severity": 2},
            "comments": {"perpetrator": COMMENTS["perpetrator"]},
        },
        headers={**auth, "If-Match": '"1"'},
    )
    assert r.status_code == 200, r.text
    post(
        f"{path}/risk-assessments",
        {"assessed_on": "2025-03-04", "assessment_phase": 1, "risk_instrument": 1, "score": 3},
    )
    post(
        f"{path}/interventions",
        {
            "intervention_start_on": "2025-03-10",
            "intervention_type": 4,
            "intervention_grounds": 2,
            "comments": {"intervention_type": COMMENTS["intervention"]},
        },
    )
    closed = post(
        f"{path}/close",
        {
            "closed_on": "2025-09-30",
            "values": {"implementation": 1, "goal_followup": 1, "closing_reason": 1},
            "comments": {"closing_reason": COMMENTS["close"]},
        },
        **{"If-Match": '"4"'},
    )
    r = api.put(
        f"{path}/survey",
        json={
            "answered_on": "2025-09-30",
            "language": 1,
            "mode": 2,
            "survey_violence_change": 1,
            "survey_support_importance": 5,
            "survey_positive": 1,
            "survey_suggestions": SUGGESTION,
            "comments": {"survey_positive": COMMENTS["survey"]},
        },
        headers={**auth, "If-Match": f'"{closed["version"]}"'},
    )
    assert r.status_code == 200, r.text


def _walk_the_web(app: FastAPI, person: object) -> None:
    web = TestClient(app, base_url="https://testserver", follow_redirects=False)
    sign_in(web, person)  # type: ignore[arg-type]
    created = post_form(
        web,
        "/arenden/nytt",
        "/arenden/nytt",
        {
            "client_id": PNR,
            "actualised_on": "2025-04-01",
            "caseworker_ref": "HL-18",
            "values/sex": "1",
            "comments/sex": COMMENTS["web"],
        },
    )
    assert created.status_code == 303, created.text
    case_id = created.headers["location"].split("?")[0].rsplit("/", 1)[1]
    closed = post_form(
        web,
        f"/arenden/{case_id}/fas/efter",
        f"/arenden/{case_id}/avsluta",
        {"version": "1", "closed_on": "2025-06-01", "values/closing_reason": "1"},
    )
    assert closed.status_code == 303, closed.text
    page = post_form(
        web, f"/arenden/{case_id}/fas/brukarenkat", f"/arenden/{case_id}/enkat/lank", {"mode": "4"}
    )
    link = re.search(r'value="https://testserver(/enkat/[^"]+)"', page.text)
    assert link is not None, page.text
    client = TestClient(app, base_url="https://testserver", follow_redirects=False)
    answered = client.post(
        f"{link.group(1)}/sv",
        data={"survey_violence_change": "1", "survey_suggestions": WEB_SUGGESTION},
    )
    assert answered.status_code == 200, answered.text


def _database_bytes(url: str, engine_name: str, tmp_path: Path) -> bytes:
    if engine_name == "sqlite":
        path = url.removeprefix("sqlite:///")
        return b"".join(
            Path(path + suffix).read_bytes()
            for suffix in ("", "-wal")
            if Path(path + suffix).exists()
        )
    pg_dump = shutil.which("pg_dump") or "/usr/lib/postgresql/15/bin/pg_dump"
    dump = subprocess.run(
        [pg_dump, "--no-owner", url.replace("postgresql+psycopg://", "postgresql://", 1)],
        capture_output=True,
        check=True,
    )
    return dump.stdout


def test_no_comment_name_or_personnummer_in_the_stored_files(
    committing_app: FastAPI, fresh_database_url: str, engine_name: str, tmp_path: Path
) -> None:
    with transaction(committing_app.state.session_factory) as session:
        unit = make_unit(session, "0180")
        worker = make_account(session, "caseworker", unit=unit)
        person = make_person(session, "caseworker", unit=unit)
    _walk_the_readme(TestClient(committing_app), worker.token)
    _walk_the_web(committing_app, person)
    committing_app.state.engine.dispose()  # everything committed, the files as left
    stored = _database_bytes(fresh_database_url, engine_name, tmp_path)
    assert b"HL-17" in stored  # the search sees clear text where there is some
    secrets = [*COMMENTS.values(), SUGGESTION, WEB_SUGGESTION, NAME, *personnummer_forms(PNR)]
    for secret in secrets:
        for form in {secret, json.dumps(secret)[1:-1]}:  # as typed, and JSON-escaped
            assert form.encode() not in stored, secret
