"""The SKR submission package (POST /api/v1/exports/skr), both engines.

ACCEPTANCE P8: exported for recipient R twice and for S, R's pseudonyms are
equal across R's packages and disjoint from the internal ones and from S's;
no free text; the caseworker reference is pseudonymised; the manifest has the
period, counts, catalogue version, key version and checksums. Also: column
names carry SUV numbers, codes as in Bilaga 2, local variables only where
their owner opted in, the package can be sealed to R's public key, every
export is audited, only the coordinator exports.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.routing import NoMatchFound

from app.models import AuditEvent, Case
from app.submissions.router import router as submissions_router
from app.submissions.sealing import SealError, generate, open_sealed, public_pem
from tests.api.test_local_variables import define
from tests.factories import PNR, PNR_OTHER, Account, make_account, make_unit

API = "/api/v1"
COMMENT = "Klienten berättade om hot via sms"
SUGGESTION = "Fler samtal på kvällstid önskas"
IV_COMMENT = "Stödsamtal hos extern utförare"
HEX32 = re.compile(r"^[0-9a-f]{32}$")
HEX64 = re.compile(r"^[0-9a-f]{64}$")


def ensure_router(app: FastAPI, router: APIRouter, name: str, path: str) -> None:
    """Include ``router`` unless app.main already does (the lead wires it there)."""
    try:
        if app.url_path_for(name) == path:
            return
    except NoMatchFound:
        pass
    app.include_router(router, prefix=API)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    ensure_router(app, submissions_router, "list_submissions", f"{API}/submissions")
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def with_version(account: Account, version: int) -> dict[str, str]:
    return {**account.headers, "If-Match": f'"{version}"'}


@dataclass
class Municipality:
    code: str
    caseworker: Account
    coordinator: Account
    case_ids: list[str]


def post(client: TestClient, path: str, body: dict[str, Any], headers: dict[str, str]) -> Any:
    r = client.post(path, json=body, headers=headers)
    assert r.status_code in (200, 201), r.text
    return r.json()


def register_cases(
    client: TestClient, session: Session, code: str = "0180", district: str | None = "0180-01"
) -> Municipality:
    """Four 2025 cases (one excluded), a 2024 case; comments, survey text and
    a caseworker reference that must never leave the municipality."""
    unit = make_unit(session, code, district=district)
    worker = make_account(session, "caseworker", unit=unit)
    coordinator = make_account(session, "coordinator", municipality=code)
    h = worker.headers
    first = post(
        client,
        f"{API}/cases",
        {
            "client_id": PNR,
            "actualised_on": "2025-02-01",
            "caseworker_ref": "HL-7",
            "values": {"sex": 1, "origin": 1, "disability": [4], "collaboration": [5, 7]},
            "comments": {"origin": COMMENT},
        },
        h,
    )
    cid = first["id"]
    v = post(
        client,
        f"{API}/cases/{cid}/interventions",
        {
            "intervention_start_on": "2025-02-03",
            "intervention_type": 4,
            "intervention_grounds": 1,
            "comments": {"intervention_type": IV_COMMENT},
        },
        with_version(worker, first["version"]),
    )["version"]
    v = post(
        client,
        f"{API}/cases/{cid}/risk-assessments",
        {"assessed_on": "2025-02-02", "assessment_phase": 1, "risk_instrument": 1, "score": 3},
        with_version(worker, v),
    )["version"]
    v = post(
        client,
        f"{API}/cases/{cid}/close",
        {"closed_on": "2025-06-01", "values": {"goal_followup": 1, "closing_reason": 1}},
        with_version(worker, v),
    )["version"]
    r = client.put(
        f"{API}/cases/{cid}/survey",
        json={
            "answered_on": "2025-06-02",
            "language": 1,
            "mode": 2,
            "survey_violence_change": 1,
            "survey_support_importance": 4,
            "survey_suggestions": SUGGESTION,
        },
        headers=with_version(worker, v),
    )
    assert r.status_code == 200, r.text
    again = post(
        client,
        f"{API}/cases",
        {"client_id": PNR, "actualised_on": "2025-08-01", "caseworker_ref": "HL-9",
         "values": {"sex": 1}},
        h,
    )  # fmt: skip
    other = post(
        client,
        f"{API}/cases",
        {"client_id": PNR_OTHER, "actualised_on": "2025-03-01", "values": {"sex": 2}},
        h,
    )
    excluded = post(
        client,
        f"{API}/cases",
        {"client_id": "egen-kod-17", "actualised_on": "2025-04-01", "values": {"sex": 2}},
        h,
    )
    post(
        client,
        f"{API}/cases/{excluded['id']}/exclusion",
        {"reason": "perpetrator"},
        with_version(coordinator, excluded["version"]),
    )
    post(
        client,
        f"{API}/cases",
        {"client_id": PNR_OTHER, "actualised_on": "2024-11-01", "values": {"sex": 2}},
        h,
    )
    return Municipality(code, worker, coordinator, [cid, again["id"], other["id"], excluded["id"]])


def export(client: TestClient, account: Account, recipient: str = "skr", **extra: Any) -> Any:
    return client.post(
        f"{API}/exports/skr",
        json={"period": "2025", "recipient": recipient, **extra},
        headers=account.headers,
    )


def members(content: bytes) -> dict[str, bytes]:
    archive = zipfile.ZipFile(io.BytesIO(content))
    return {name: archive.read(name) for name in archive.namelist()}


def rows(content: bytes, name: str) -> list[dict[str, str]]:
    text = members(content)[name].decode("utf-8")
    return list(csv.DictReader(io.StringIO(text)))


def manifest(content: bytes) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(members(content)["manifest.json"])
    return data


@pytest.fixture
def municipality(client: TestClient, session: Session) -> Municipality:
    stockholm = register_cases(client, session)
    define(client, stockholm.coordinator, "k0180.housing", export_opt_in=True)
    define(client, stockholm.coordinator, "k0180.private_note", export_opt_in=False)
    r = client.patch(
        f"{API}/cases/{stockholm.case_ids[2]}",
        json={"local_values": {"k0180.housing": 2, "k0180.private_note": 1}},
        headers=with_version(stockholm.caseworker, 1),
    )
    assert r.status_code == 200, r.text
    return stockholm


def audits(session: Session) -> list[AuditEvent]:
    return list(
        session.scalars(
            select(AuditEvent).where(AuditEvent.action == "export.skr").order_by(AuditEvent.id)
        ).all()
    )


def test_p8_recipient_pseudonyms(
    client: TestClient, session: Session, municipality: Municipality
) -> None:
    first = export(client, municipality.coordinator)
    second = export(client, municipality.coordinator)
    other = export(client, municipality.coordinator, recipient="socialstyrelsen")
    for r in (first, second, other):
        assert r.status_code == 200, r.text
        assert r.headers["content-type"] == "application/zip"
    r1, r2, s = (rows(r.content, "cases.csv") for r in (first, second, other))
    assert manifest(first.content)["package_id"] != manifest(second.content)["package_id"]

    def clients(table: list[dict[str, str]]) -> list[str]:
        return [row["v004_client_id"] for row in table]

    # Stable for R: the same rows, keys and pseudonyms in both packages.
    assert r1 == r2
    assert all(HEX64.fullmatch(p) for p in clients(r1))
    # The same person's two cases share R's pseudonym (re-aktualisering is visible).
    assert len(set(clients(r1))) == 3
    internal = set(session.scalars(select(Case.client_pseudonym)).all())
    assert set(clients(r1)).isdisjoint(internal)
    assert set(clients(r1)).isdisjoint(clients(s))
    for column in ("case_key", "unit_key", "v003_caseworker_ref"):
        values = {row[column] for row in r1} - {""}
        assert values.isdisjoint({row[column] for row in s}), column
    # The case key ties the long tables to the cases.
    keys = {row["case_key"] for row in r1}
    assert {row["case_key"] for row in rows(first.content, "interventions.csv")} <= keys


def test_p8_no_free_text_and_caseworker_pseudonymised(
    client: TestClient, municipality: Municipality
) -> None:
    content = export(client, municipality.coordinator).content
    blob = b"".join(members(content).values())
    for secret in (COMMENT, SUGGESTION, IV_COMMENT, "HL-7", "HL-9", "egen-kod-17", "1212121212"):
        assert secret.encode("utf-8") not in blob, secret
    cases = rows(content, "cases.csv")
    refs = [row["v003_caseworker_ref"] for row in cases]
    assert sum(1 for r in refs if HEX32.fullmatch(r)) == 2  # two cases had a reference
    assert set(refs) - {""} == {r for r in refs if HEX32.fullmatch(r)}
    header = list(cases[0])
    assert "v217_survey_suggestions" not in header
    assert not any("comment" in column for column in header)


def test_p8_manifest(client: TestClient, session: Session, municipality: Municipality) -> None:
    response = export(client, municipality.coordinator)
    content = response.content
    files = members(content)
    doc = manifest(content)
    catalogue = client.app.state.catalogue  # type: ignore[attr-defined]
    assert doc["format"] == "isu-skr-package"
    assert (doc["municipality_code"], doc["county_code"], doc["recipient"]) == ("0180", "01", "skr")
    assert (doc["period"], doc["period_from"], doc["period_to"]) == (
        "2025",
        "2025-01-01",
        "2025-12-31",
    )
    assert doc["catalogue_version"] == catalogue.version
    assert doc["key_version"] == 1
    assert doc["generated_at"].startswith("20")
    assert response.headers["x-isu-package-id"] == doc["package_id"]
    # 2025 only: the 2024 case is left out; the excluded case is in, flagged.
    assert doc["counts"] == {
        "cases": 4,
        "excluded_cases": 1,
        "interventions": 1,
        "risk_assessments": 1,
        "surveys": 1,
    }
    assert set(files) == {"manifest.json", "codebook.json", *doc["files"]}
    for name, meta in doc["files"].items():
        assert hashlib.sha256(files[name]).hexdigest() == meta["sha256"]
        assert len(files[name]) == meta["bytes"]
    assert doc["files"]["cases.csv"]["rows"] == 4
    assert doc["local_variables"] == ["k0180.housing"]
    events = audits(session)
    assert [(e.object_id, e.municipality_code) for e in events] == [(doc["package_id"], "0180")]
    assert events[0].actor_user_id == municipality.coordinator.user.id
    assert "recipient:skr" in events[0].fields


def test_columns_carry_suv_numbers_and_bilaga2_codes(
    client: TestClient, municipality: Municipality
) -> None:
    content = export(client, municipality.coordinator).content
    cases = {row["v005_actualised_on"]: row for row in rows(content, "cases.csv")}
    first = cases["2025-02-01"]
    assert first["v001_unit_kind"] == "1"
    assert (first["v002_municipality"], first["v002_district"]) == ("0180", "0180-01")
    assert (first["v014_sex"], first["v019_disability"], first["v127_collaboration"]) == (
        "1",
        "[4]",
        "[5,7]",
    )
    assert (first["v192_goal_followup"], first["v256_closed_on"]) == ("1", "2025-06-01")
    assert (first["survey_answered_on"], first["v202_survey_violence_change"]) == (
        "2025-06-02",
        "1",
    )
    assert (first["status"], first["is_excluded"]) == ("brukarenkat_genomford", "0")
    # The local variable whose owner opted in is exported; the other is not.
    assert cases["2025-03-01"]["k0180.housing"] == "2"
    assert "k0180.private_note" not in first
    assert cases["2025-04-01"]["exclusion_reason"] == "perpetrator"
    interventions = rows(content, "interventions.csv")
    assert list(interventions[0]) == [
        "case_key",
        "v117_intervention_start_on",
        "v118_intervention_type",
        "v126_intervention_grounds",
    ]
    assert list(rows(content, "risk_assessments.csv")[0])[:4] == [
        "case_key",
        "risk_assessment_assessed_on",
        "risk_assessment_assessment_phase",
        "v090_risk_instrument",
    ]
    codebook = json.loads(members(content)["codebook.json"])
    sex = next(c for c in codebook["tables"]["cases.csv"] if c["name"] == "v014_sex")
    assert (sex["suv"], sex["codes"]["1"]["sv"]) == (14, "Kvinna")
    assert [v["key"] for v in codebook["local_variables"]] == ["k0180.housing"]


def test_sealed_to_the_recipients_public_key(
    client: TestClient, municipality: Municipality
) -> None:
    private = generate()
    r = export(
        client,
        municipality.coordinator,
        recipient_public_key=public_pem(private.public_key()).decode("ascii"),
    )
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/vnd.isu.sealed-package"
    assert b"v004_client_id" not in r.content
    opened = open_sealed(r.content, private)
    assert manifest(opened)["counts"]["cases"] == 4
    with pytest.raises(SealError):
        open_sealed(r.content, generate())
    tampered = bytearray(r.content)
    tampered[-5] ^= 1
    with pytest.raises(SealError):
        open_sealed(bytes(tampered), private)


@pytest.mark.parametrize(
    ("body", "pointer"),
    [
        ({"period": "25"}, "/period"),
        ({"period": "2025-2023"}, "/period"),
        ({"period": "2025", "recipient": "SKR!"}, "/recipient"),
        ({"period": "2025", "recipient_public_key": "not a key"}, "/recipient_public_key"),
        ({"period": "2025", "unknown": 1}, "/unknown"),
    ],
)
def test_bad_request_is_a_problem_and_audits_nothing(
    client: TestClient,
    session: Session,
    municipality: Municipality,
    body: dict[str, Any],
    pointer: str,
) -> None:
    r = client.post(f"{API}/exports/skr", json=body, headers=municipality.coordinator.headers)
    assert r.status_code == 422
    assert [e["pointer"] for e in r.json()["errors"]] == [pointer]
    assert audits(session) == []


@pytest.mark.parametrize("role", ["caseworker", "regional", "national", "admin"])
def test_only_the_coordinator_exports(
    client: TestClient, session: Session, municipality: Municipality, role: str
) -> None:
    account = (
        municipality.caseworker
        if role == "caseworker"
        else make_account(session, role, county="01" if role == "regional" else None)
    )
    r = export(client, account)
    assert r.status_code == 403
    assert r.json()["type"] == "/problems/forbidden"
    assert audits(session) == []


def test_an_other_municipalitys_cases_never_appear(
    client: TestClient, session: Session, municipality: Municipality
) -> None:
    vasby = register_cases(client, session, "0114", None)
    content = export(client, vasby.coordinator).content
    cases = rows(content, "cases.csv")
    assert {row["v002_municipality"] for row in cases} == {"0114"}
    assert len(cases) == 4
    assert session.scalar(select(func.count()).select_from(Case)) == 10
