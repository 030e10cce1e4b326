"""The national hub: POST /api/v1/submissions, GET /submissions and
/submissions/compilation (both engines).

A municipality's account at the hub (role coordinator of that municipality)
submits; the hub verifies manifest, checksums, catalogue compatibility and
scope, stores all or nothing, treats a resend as a no-op and a new package
for the same municipality and period as a new version. Every decision is
audited; a rejected package leaves only its audit event.
"""

from __future__ import annotations

import hashlib
import io
import json
import uuid
import zipfile
from collections.abc import Callable
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import AuditEvent, Submission, SubmissionFile
from app.submissions.sealing import generate, public_pem, seal
from tests.api.test_submissions_p8 import (
    API,
    Municipality,
    export,
    members,
    register_cases,
)
from tests.api.test_submissions_p8 import client as client
from tests.factories import Account, make_account, make_unit


@pytest.fixture
def stockholm(client: TestClient, session: Session) -> Municipality:
    return register_cases(client, session)


@pytest.fixture
def package(client: TestClient, stockholm: Municipality) -> bytes:
    r = export(client, stockholm.coordinator)
    assert r.status_code == 200, r.text
    content: bytes = r.content
    return content


@pytest.fixture
def hub(session: Session) -> dict[str, Account]:
    """The hub's accounts: one per municipality (issued by the hub's admin)."""
    return {
        "0180": make_account(session, "coordinator", municipality="0180"),
        "0114": make_account(session, "coordinator", municipality="0114"),
        "national": make_account(session, "national"),
        "regional": make_account(session, "regional", county="01"),
        "admin": make_account(session, "admin"),
        "caseworker": make_account(session, "caseworker", unit=make_unit(session, "0180")),
    }


def submit(client: TestClient, account: Account, content: bytes) -> Any:
    return client.post(
        f"{API}/submissions",
        content=content,
        headers={**account.headers, "Content-Type": "application/octet-stream"},
    )


def stored(session: Session) -> tuple[int, int]:
    return (
        session.scalar(select(func.count()).select_from(Submission)) or 0,
        session.scalar(select(func.count()).select_from(SubmissionFile)) or 0,
    )


def events(session: Session, action: str) -> list[AuditEvent]:
    return list(
        session.scalars(
            select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
        ).all()
    )


def rebuild(
    content: bytes,
    *,
    edit: Callable[[dict[str, bytes]], None] | None = None,
    manifest_edit: Callable[[dict[str, Any]], None] | None = None,
    fix_checksums: bool = True,
) -> bytes:
    """A forged copy: members edited, then (unless told not to) the manifest's
    checksums and row counts recomputed, as a forger would."""
    files = members(content)
    if edit is not None:
        edit(files)
    manifest = json.loads(files["manifest.json"])
    if fix_checksums:
        for name in manifest["files"]:
            manifest["files"][name]["sha256"] = hashlib.sha256(files[name]).hexdigest()
            manifest["files"][name]["bytes"] = len(files[name])
    if manifest_edit is not None:
        manifest_edit(manifest)
    files["manifest.json"] = json.dumps(manifest).encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, body in files.items():
            archive.writestr(name, body)
    return buffer.getvalue()


def replace_in(name: str, old: str, new: str, count: int = 1) -> Callable[[dict[str, bytes]], None]:
    def edit(files: dict[str, bytes]) -> None:
        text = files[name].decode()
        assert old in text
        files[name] = text.replace(old, new, count).encode()

    return edit


def test_accept_resend_and_new_version(
    client: TestClient,
    session: Session,
    stockholm: Municipality,
    package: bytes,
    hub: dict[str, Account],
) -> None:
    r = submit(client, hub["0180"], package)
    assert r.status_code == 201, r.text
    body = r.json()
    assert (body["municipality_code"], body["period"], body["version"], body["resend"]) == (
        "0180",
        "2025",
        1,
        False,
    )
    assert body["counts"]["cases"] == 4
    assert stored(session) == (1, 4)
    # The same package again (a retry): nothing changes.
    again = submit(client, hub["0180"], package)
    assert again.status_code == 200
    assert (again.json()["id"], again.json()["resend"]) == (body["id"], True)
    assert stored(session) == (1, 4)
    # A new export for the same municipality and period is the next version.
    newer = export(client, stockholm.coordinator).content
    r = submit(client, hub["0180"], newer)
    assert (r.status_code, r.json()["version"]) == (201, 2)
    assert stored(session) == (2, 8)
    history = client.get(f"{API}/submissions", headers=hub["national"].headers)
    assert [(s["municipality_code"], s["version"]) for s in history.json()] == [
        ("0180", 1),
        ("0180", 2),
    ]
    own = client.get(f"{API}/submissions", headers=hub["0180"].headers)
    assert len(own.json()) == 2
    assert client.get(f"{API}/submissions", headers=hub["0114"].headers).json() == []
    assert client.get(f"{API}/submissions", headers=hub["admin"].headers).status_code == 403
    received = events(session, "submission.received")
    assert [e.municipality_code for e in received] == ["0180", "0180"]
    assert received[0].actor_user_id == hub["0180"].user.id
    assert len(events(session, "submission.resent")) == 1


def rejected(
    client: TestClient, session: Session, account: Account, content: bytes
) -> dict[str, Any]:
    before = stored(session)
    audits = len(events(session, "submission.rejected"))
    r = submit(client, account, content)
    assert r.headers["content-type"] == "application/problem+json"
    assert stored(session) == before  # nothing half-stored
    assert len(events(session, "submission.rejected")) == audits + 1
    assert events(session, "submission.rejected")[-1].outcome == "rejected"
    body: dict[str, Any] = r.json()
    body["status_code"] = r.status_code
    return body


def pointers(body: dict[str, Any]) -> list[tuple[str, str]]:
    return [(e["pointer"], e["code"]) for e in body.get("errors", [])]


def test_tampered_copy_is_rejected(
    client: TestClient, session: Session, package: bytes, hub: dict[str, Account]
) -> None:
    tampered = rebuild(package, edit=replace_in("cases.csv", ",2025-06-01,", ",2025-06-02,"),
                       fix_checksums=False)  # fmt: skip
    body = rejected(client, session, hub["0180"], tampered)
    assert body["status_code"] == 422
    assert body["type"] == "/problems/package-rejected"
    assert pointers(body) == [("/files/cases.csv/sha256", "checksum_mismatch")]
    # The genuine package is still accepted afterwards.
    assert submit(client, hub["0180"], package).status_code == 201


def test_foreign_municipality_is_rejected(
    client: TestClient, session: Session, package: bytes, hub: dict[str, Account]
) -> None:
    body = rejected(client, session, hub["0114"], package)
    assert body["status_code"] == 403
    assert body["type"] == "/problems/submission-scope"
    assert pointers(body) == [("/manifest/municipality_code", "foreign_municipality")]
    # A forged row of another municipality inside a Stockholm package.
    forged = rebuild(package, edit=replace_in("cases.csv", ",0180,0180-01,", ",0114,,"))
    body = rejected(client, session, hub["0180"], forged)
    assert body["status_code"] == 422
    assert pointers(body) == [("/cases.csv/1/v002_municipality", "foreign_municipality")]


def test_incompatible_catalogue_and_bad_values_are_named(
    client: TestClient, session: Session, package: bytes, hub: dict[str, Account]
) -> None:
    def new_column(files: dict[str, bytes]) -> None:
        lines = files["cases.csv"].decode().splitlines()
        lines = [lines[0] + ",v999_new_variable"] + [line + ",1" for line in lines[1:]]
        files["cases.csv"] = ("\n".join(lines) + "\n").encode()

    body = rejected(client, session, hub["0180"], rebuild(package, edit=new_column))
    assert pointers(body) == [("/cases.csv/columns/v999_new_variable", "unknown_column")]

    def identifier_as_column(files: dict[str, bytes]) -> None:
        lines = files["cases.csv"].decode().splitlines()
        lines = [lines[0] + ",19121212-1212"] + [line + ",1" for line in lines[1:]]
        files["cases.csv"] = ("\n".join(lines) + "\n").encode()

    body = rejected(client, session, hub["0180"], rebuild(package, edit=identifier_as_column))
    width = len(members(package)["cases.csv"].decode().splitlines()[0].split(","))
    assert pointers(body) == [(f"/cases.csv/columns/{width}", "unknown_column")]
    assert "1212" not in json.dumps(body)  # a name from the package is never echoed

    def bad_sex(files: dict[str, bytes]) -> None:
        lines = files["cases.csv"].decode().splitlines()
        header = lines[0].split(",")
        cells = lines[1].split(",")
        cells[header.index("v014_sex")] = "7"
        files["cases.csv"] = "\n".join([lines[0], ",".join(cells), *lines[2:], ""]).encode()

    body = rejected(client, session, hub["0180"], rebuild(package, edit=bad_sex))
    assert pointers(body) == [("/cases.csv/1/v014_sex", "unknown_code")]
    assert "7" not in json.dumps(body["errors"])  # the value is never quoted

    def wrong_count(manifest: dict[str, Any]) -> None:
        manifest["counts"]["cases"] = 5

    body = rejected(client, session, hub["0180"], rebuild(package, manifest_edit=wrong_count))
    assert pointers(body) == [("/manifest/counts/cases", "count_mismatch")]

    def extra_file(files: dict[str, bytes]) -> None:
        files["notes.txt"] = b"free text"

    body = rejected(client, session, hub["0180"], rebuild(package, edit=extra_file))
    assert pointers(body) == [("/files/notes.txt", "unexpected_file")]

    def bad_version(manifest: dict[str, Any]) -> None:
        manifest["format_version"] = 2

    body = rejected(client, session, hub["0180"], rebuild(package, manifest_edit=bad_version))
    assert pointers(body) == [("/manifest/format_version", "less_than_equal")]

    body = rejected(client, session, hub["0180"], b"not a zip at all")
    assert pointers(body) == [("", "not_a_package")]


def test_reused_package_id_with_other_content_is_a_conflict(
    client: TestClient, session: Session, package: bytes, hub: dict[str, Account]
) -> None:
    assert submit(client, hub["0180"], package).status_code == 201
    forged = rebuild(package, edit=replace_in("cases.csv", ",2025-06-01,", ",2025-06-02,"))
    body = rejected(client, session, hub["0180"], forged)
    assert (body["status_code"], body["type"]) == (409, "/problems/conflict")

    def new_id(manifest: dict[str, Any]) -> None:
        manifest["package_id"] = str(uuid.uuid4())

    r = submit(client, hub["0180"], rebuild(package, manifest_edit=new_id))
    assert (r.status_code, r.json()["version"]) == (201, 2)


def test_sealed_package(
    client: TestClient, app: FastAPI, session: Session, package: bytes, hub: dict[str, Account]
) -> None:
    key = generate()
    sealed = seal(package, key.public_key())
    body = rejected(client, session, hub["0180"], sealed)
    assert pointers(body) == [("", "sealed_no_key")]
    app.state.hub_private_key = key
    try:
        assert submit(client, hub["0180"], sealed).status_code == 201
        other = seal(package, generate().public_key())
        body = rejected(client, session, hub["0180"], other)
        assert pointers(body) == [("", "sealed_invalid")]
    finally:
        del app.state.hub_private_key
    assert public_pem(key.public_key()).startswith(b"-----BEGIN PUBLIC KEY-----")


@pytest.mark.parametrize("role", ["national", "regional", "admin", "caseworker"])
def test_only_a_municipality_account_submits(
    client: TestClient, session: Session, package: bytes, hub: dict[str, Account], role: str
) -> None:
    r = submit(client, hub[role], package)
    assert r.status_code == 403
    assert stored(session) == (0, 0)


def table(doc: dict[str, Any], table_id: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = next(t for t in doc["tables"] if t["id"] == table_id)["rows"]
    return rows


def test_compilation_for_the_nation_and_feedback_for_the_municipality(
    client: TestClient, session: Session, package: bytes, hub: dict[str, Account]
) -> None:
    assert submit(client, hub["0180"], package).status_code == 201
    before = len(events(session, "submission.compilation"))
    r = client.get(
        f"{API}/submissions/compilation", params={"period": "2025"}, headers=hub["national"].headers
    )
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["meta"]["protected"] is True
    sex = table(doc, "sex")
    nation = [row for row in sex if row["area_code"] == "SE"]
    # 3 included cases (2 women, 1 man): below the threshold, so hidden.
    assert {row["n"] for row in nation if row["sex"] in ("1", "2")} == {".."}
    feedback = client.get(
        f"{API}/submissions/compilation", params={"period": "2025"}, headers=hub["0180"].headers
    ).json()
    own = {row["sex"]: row["n"] for row in table(feedback, "sex") if row["area_code"] == "0180"}
    assert (own["1"], own["2"]) == (2, 1)  # the municipality's own cells, unprotected
    areas = {row["area_code"] for row in table(feedback, "sex")}
    assert areas == {"0180", "01", "SE"}
    assert feedback["meta"]["excluded"] == {"perpetrator": 1}
    r = client.get(
        f"{API}/submissions/compilation",
        params={"period": "2025", "municipality": "0114"},
        headers=hub["0180"].headers,
    )
    assert r.status_code == 403
    for role in ("regional", "admin"):
        r = client.get(
            f"{API}/submissions/compilation", params={"period": "2025"}, headers=hub[role].headers
        )
        assert r.status_code == 403
    xlsx = client.get(
        f"{API}/submissions/compilation",
        params={"period": "2025", "format": "xlsx"},
        headers=hub["national"].headers,
    )
    assert xlsx.status_code == 200
    assert xlsx.content[:2] == b"PK"
    assert len(events(session, "submission.compilation")) == before + 3


def drop_column(name: str, column: str) -> Callable[[dict[str, bytes]], None]:
    def edit(files: dict[str, bytes]) -> None:
        lines = files[name].decode().splitlines()
        at = lines[0].split(",").index(column)
        kept = [",".join(c for i, c in enumerate(line.split(",")) if i != at) for line in lines]
        files[name] = ("\n".join(kept) + "\n").encode()

    return edit


def test_a_compatible_older_catalogue_is_accepted(
    client: TestClient, session: Session, package: bytes, hub: dict[str, Account]
) -> None:
    """Codes never change: a package from another catalogue version is accepted
    when every column and code in it is known here; missing optional columns
    are simply not registered."""

    def older(files: dict[str, bytes]) -> None:
        drop_column("cases.csv", "v041_child_followup")(files)
        drop_column("interventions.csv", "v126_intervention_grounds")(files)

    def other_version(manifest: dict[str, Any]) -> None:
        manifest["catalogue_version"] = "0000000000older"
        manifest["package_id"] = str(uuid.uuid4())

    r = submit(client, hub["0180"], rebuild(package, edit=older, manifest_edit=other_version))
    assert r.status_code == 201, r.text
    assert r.json()["catalogue_version"] == "0000000000older"
    feedback = client.get(
        f"{API}/submissions/compilation", params={"period": "2025"}, headers=hub["0180"].headers
    )
    assert feedback.status_code == 200, feedback.text
    own = {
        row["sex"]: row["n"] for row in table(feedback.json(), "sex") if row["area_code"] == "0180"
    }
    assert (own["1"], own["2"]) == (2, 1)
