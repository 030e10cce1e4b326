"""Building the SKR submission package (the municipality's side).

A package is a ZIP file: ``manifest.json``, ``codebook.json`` and three CSV
tables (see :mod:`app.submissions.layout`). It holds the cases *aktualiserade*
in the period (as the national compilation counts them), with their current
follow-up, pseudonymised for the recipient:

* the recipient key is HKDF-SHA256 of the municipality's pseudonym key and the
  recipient's name (``app.security.crypto.recipient_pseudonym_key``); client,
  case, unit and caseworker references are HMAC-SHA256 under that key, each
  with its own domain. So the recipient's pseudonyms are stable across all its
  packages (the same person is recognised over the years), but cannot be
  linked to the internal pseudonyms or to another recipient's;
* no free text, no comment and no kodnyckel entry is ever read;
* local variables only where their owner opted in to export.

The manifest names the period, the counts per table, a SHA-256 per file, the
catalogue version, the pseudonym key version and the generation time.
Optionally the whole ZIP is sealed to the recipient's public key
(:mod:`app.submissions.sealing`).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import uuid
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from app.audit.service import Actor, record
from app.auth.principal import Principal
from app.catalogue.loader import Catalogue
from app.catalogue.spec import LocalVariable
from app.errors import FieldError, Forbidden, ValidationFailed
from app.models import (
    Case,
    Intervention,
    LocalVariableDefinition,
    RiskAssessment,
    SurveyResponse,
    Unit,
)
from app.reference import municipalities
from app.security.crypto import pseudonym, recipient_pseudonym_key
from app.security.keyring import Keyring
from app.submissions import layout
from app.submissions.layout import Column
from app.submissions.sealing import SealError, load_public, seal

EXPORT_ACTION = "export.skr"
RECIPIENT_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
ZIP_TIME = (2000, 1, 1, 0, 0, 0)
SOFTWARE = "isu-register 0.1.0"
UNIT_KIND_CODES = {"myndighet": 1, "utforare": 2, "bada": 3, "annat": 4}


@dataclass(frozen=True)
class PackageRequest:
    municipality_code: str
    period: str
    recipient: str


@dataclass(frozen=True)
class Package:
    content: bytes
    """The ZIP file (not sealed)."""
    manifest: dict[str, Any]

    @property
    def package_id(self) -> str:
        return str(self.manifest["package_id"])


class RecipientKeys:
    """The recipient's keyed pseudonyms (HMAC-SHA256, one domain per kind)."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    def client(self, internal_pseudonym: str) -> str:
        return pseudonym(self._key, f"client:{internal_pseudonym}")

    def short(self, domain: str, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        return pseudonym(self._key, f"{domain}:{value}")[:32]


def recipient_keys(
    session: Session, keyring: Keyring, municipality_code: str, recipient: str
) -> tuple[int, RecipientKeys]:
    version, key = keyring.current(session, municipality_code, "pseudonym")
    return version, RecipientKeys(recipient_pseudonym_key(key, recipient))


def period_dates(period: str) -> tuple[date, date]:
    years = layout.parse_period(period)
    if years is None:
        raise ValueError("period")
    return date(years[0], 1, 1), date(years[1], 12, 31)


def opted_in_locals(session: Session, municipality_code: str) -> list[LocalVariable]:
    """Local variables of the municipality, or of its county, whose owner opted
    in to export (retired ones too: stored values stay exportable)."""
    county = municipalities()[municipality_code].county_code
    rows = session.scalars(
        select(LocalVariableDefinition)
        .where(
            LocalVariableDefinition.export_opt_in.is_(True),
            or_(
                (LocalVariableDefinition.owner_kind == "municipality")
                & (LocalVariableDefinition.owner_code == municipality_code),
                (LocalVariableDefinition.owner_kind == "county")
                & (LocalVariableDefinition.owner_code == county),
            ),
        )
        .order_by(LocalVariableDefinition.key)
    ).all()
    return [LocalVariable.model_validate(r.definition) for r in rows]


def _cell(column: Column, value: Any) -> str:
    if value is None:
        return ""
    if column.kind == "codes":
        return json.dumps(sorted(int(v) for v in value), separators=(",", ":"))
    if column.kind == "flag":
        return "1" if value else "0"
    if column.kind == "date":
        return value.isoformat() if isinstance(value, date | datetime) else str(value)
    return str(value)


def _csv(columns: Sequence[Column], rows: Iterable[Sequence[str]]) -> tuple[bytes, int]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([c.name for c in columns])
    count = 0
    for row in rows:
        writer.writerow(row)
        count += 1
    return buffer.getvalue().encode("utf-8"), count


def codebook_json(
    catalogue: Catalogue, tables: dict[str, list[Column]], local: list[LocalVariable]
) -> dict[str, Any]:
    """Column descriptions (labels and codes from the catalogue) for readers
    without the register, and the definitions of exported local variables."""

    def describe(column: Column) -> dict[str, Any]:
        out: dict[str, Any] = {"name": column.name, "kind": column.kind}
        variable = catalogue.variable(column.key) if column.key else None
        if variable is not None:
            out["key"] = variable.key
            if variable.suv:
                out["suv"] = variable.suv
            out["label"] = {"sv": variable.label.sv, "en": variable.label.en}
            if variable.options:
                out["codes"] = {
                    str(o.code): {"sv": o.label.sv, "en": o.label.en} for o in variable.options
                }
        elif column.key:
            out["key"] = column.key
        return out

    return {
        "catalogue_version": catalogue.version,
        "tables": {name: [describe(c) for c in columns] for name, columns in tables.items()},
        "local_variables": [v.model_dump(mode="json", exclude_none=True) for v in local],
    }


def build_package(
    session: Session,
    catalogue: Catalogue,
    keyring: Keyring,
    request: PackageRequest,
    *,
    generated_at: datetime,
) -> Package:
    """Read the municipality's cases of the period and write the package."""
    municipality = request.municipality_code
    period_from, period_to = period_dates(request.period)
    key_version, keys = recipient_keys(session, keyring, municipality, request.recipient)
    local = opted_in_locals(session, municipality)
    tables = layout.layout(catalogue)
    local_columns = [c for c in (layout.local_column(v) for v in local) if c is not None]
    case_cols = tables[layout.CASES] + local_columns
    tables[layout.CASES] = case_cols

    cases = session.execute(
        select(
            Case.id,
            Case.unit_id,
            Unit.kind,
            Case.municipality_code,
            Case.district_code,
            Case.client_pseudonym,
            Case.caseworker_ref,
            Case.actualised_on,
            Case.closed_on,
            Case.values,
            Case.status,
            Case.is_excluded,
            Case.exclusion_reason,
        )
        .join(Unit, Unit.id == Case.unit_id)
        .where(
            Case.municipality_code == municipality,
            Case.actualised_on >= period_from,
            Case.actualised_on <= period_to,
        )
        .order_by(Case.actualised_on, Case.id)
    ).all()
    case_ids = [row.id for row in cases]
    case_key = {row.id: keys.short("case", str(row.id)) for row in cases}
    surveys = {
        row.case_id: row
        for row in _in_chunks(
            session,
            lambda ids: select(
                SurveyResponse.case_id,
                SurveyResponse.answered_on,
                SurveyResponse.language_code,
                SurveyResponse.mode_code,
                SurveyResponse.values,
            ).where(SurveyResponse.case_id.in_(ids)),
            case_ids,
        )
    }

    def case_row(row: Any) -> list[str]:
        survey = surveys.get(row.id)
        structural = {
            "id": case_key[row.id],
            "unit_kind": UNIT_KIND_CODES[row.kind],
            "unit_id": keys.short("unit", str(row.unit_id)),
            "municipality_code": row.municipality_code,
            "district": row.district_code,
            "caseworker_ref": keys.short("caseworker", row.caseworker_ref),
            "client_pseudonym": keys.client(row.client_pseudonym),
            "actualised_on": row.actualised_on,
            "closed_on": row.closed_on,
            "status": row.status,
            "is_excluded": row.is_excluded,
            "exclusion_reason": row.exclusion_reason,
        }
        cells = []
        for column in case_cols:
            if column.source == "case":
                value = structural[column.field]
            elif column.source in ("values", "local"):
                value = (row.values or {}).get(column.field)
            elif survey is None:
                value = None
            elif column.source == "survey":
                value = getattr(survey, column.field)
            else:
                value = (survey.values or {}).get(column.field)
            cells.append(_cell(column, value))
        return cells

    ordered = sorted(cases, key=lambda r: (r.actualised_on, case_key[r.id] or ""))
    files: dict[str, tuple[bytes, int]] = {
        layout.CASES: _csv(case_cols, (case_row(r) for r in ordered))
    }
    interventions = _in_chunks(
        session,
        lambda ids: (
            select(
                Intervention.case_id,
                Intervention.start_on,
                Intervention.type_code,
                Intervention.grounds_code,
            )
            .where(Intervention.case_id.in_(ids))
            .order_by(Intervention.case_id, Intervention.start_on, Intervention.created_at)
        ),
        case_ids,
    )
    risks = _in_chunks(
        session,
        lambda ids: (
            select(
                RiskAssessment.case_id,
                RiskAssessment.assessed_on,
                RiskAssessment.phase_code,
                RiskAssessment.instrument_code,
                RiskAssessment.score,
            )
            .where(RiskAssessment.case_id.in_(ids))
            .order_by(RiskAssessment.case_id, RiskAssessment.assessed_on, RiskAssessment.created_at)
        ),
        case_ids,
    )
    for name, rows in ((layout.INTERVENTIONS, interventions), (layout.RISKS, risks)):
        columns = tables[name]
        # Grouped by case key, each case's records in their stored order.
        keyed = sorted(
            ((case_key[r.case_id] or "", i, r) for i, r in enumerate(rows)),
            key=lambda t: (t[0], t[1]),
        )
        files[name] = _csv(
            columns,
            (
                [_cell(c, key if c.field == "case_id" else getattr(r, c.field)) for c in columns]
                for key, _, r in keyed
            ),
        )
    codebook = json.dumps(
        codebook_json(catalogue, tables, local), ensure_ascii=False, indent=1, sort_keys=True
    ).encode("utf-8")
    info = municipalities()[municipality]
    manifest: dict[str, Any] = {
        "format": layout.FORMAT,
        "format_version": layout.FORMAT_VERSION,
        "package_id": str(uuid.uuid4()),
        "municipality_code": municipality,
        "municipality_name": info.name,
        "county_code": info.county_code,
        "period": request.period,
        "period_from": period_from.isoformat(),
        "period_to": period_to.isoformat(),
        "selection": "cases aktualiserade (SUV 5) within the period, with their current follow-up",
        "recipient": request.recipient,
        "catalogue_version": catalogue.version,
        "key_version": key_version,
        "pseudonymisation": (
            "HMAC-SHA256 under a key derived by HKDF-SHA256 from the municipality's pseudonym "
            "key and the recipient name"
        ),
        "generated_at": generated_at.isoformat(),
        "software": SOFTWARE,
        "counts": {
            "cases": files[layout.CASES][1],
            "excluded_cases": sum(1 for r in cases if r.is_excluded),
            "interventions": files[layout.INTERVENTIONS][1],
            "risk_assessments": files[layout.RISKS][1],
            "surveys": sum(1 for r in cases if r.id in surveys),
        },
        "files": {
            **{
                name: {
                    "sha256": hashlib.sha256(body).hexdigest(),
                    "rows": rows,
                    "bytes": len(body),
                }
                for name, (body, rows) in files.items()
            },
            layout.CODEBOOK: {
                "sha256": hashlib.sha256(codebook).hexdigest(),
                "rows": None,
                "bytes": len(codebook),
            },
        },
        "local_variables": [v.key for v in local],
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        members = [
            (layout.MANIFEST, json.dumps(manifest, ensure_ascii=False, indent=1).encode("utf-8")),
            (layout.CODEBOOK, codebook),
            *((name, body) for name, (body, _) in files.items()),
        ]
        for name, body in members:
            info_ = zipfile.ZipInfo(name, date_time=ZIP_TIME)
            info_.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info_, body)
    return Package(buffer.getvalue(), manifest)


def _in_chunks(session: Session, make: Any, ids: list[uuid.UUID], size: int = 500) -> list[Any]:
    """Rows of ``make(chunk)`` for chunks of ids (bounded IN lists)."""
    out: list[Any] = []
    for start in range(0, len(ids), size):
        out += session.execute(make(ids[start : start + size])).all()
    return out


def audit_export(
    session: Session,
    actor: Actor,
    package: Package,
    *,
    sealed: bool,
    request_id: str | None = None,
) -> None:
    """One event per package: who, which municipality, which tables (never values)."""
    record(
        session,
        actor=actor,
        action=EXPORT_ACTION,
        object_type="skr_package",
        object_id=package.package_id,
        fields=[*package.manifest["files"], f"recipient:{package.manifest['recipient']}"]
        + (["sealed"] if sealed else []),
        municipality_code=package.manifest["municipality_code"],
        request_id=request_id,
    )


def _invalid(pointer: str, code: str, sv: str, en: str) -> ValidationFailed:
    return ValidationFailed([FieldError(pointer, code, sv, en)])


def check_request(period: str, recipient: str) -> None:
    if layout.parse_period(period) is None:
        raise _invalid(
            "/period",
            "bad_period",
            "Ange perioden som ÅÅÅÅ eller ÅÅÅÅ-ÅÅÅÅ (t.ex. 2025 eller 2021-2023).",
            "Give the period as YYYY or YYYY-YYYY (e.g. 2025 or 2021-2023).",
        )
    if not RECIPIENT_PATTERN.fullmatch(recipient):
        raise _invalid(
            "/recipient",
            "bad_recipient",
            "Mottagaren anges med små bokstäver, siffror, - och _ (t.ex. skr).",
            "The recipient is lower-case letters, digits, - and _ (e.g. skr).",
        )


def export_package(
    session: Session,
    catalogue: Catalogue,
    keyring: Keyring,
    principal: Principal,
    *,
    period: str,
    recipient: str,
    recipient_public_key: str | None,
    generated_at: datetime,
    request_id: str | None = None,
) -> tuple[bytes, Package]:
    """A coordinator's package for their own municipality, sealed when a
    public key is given; audited. Returns (file content, package)."""
    if principal.role != "coordinator" or principal.municipality_code is None:
        raise Forbidden(
            "Bara kommunens samordnare tar fram SKR-paketet.",
            "Only the municipality's coordinator produces the SKR package.",
        )
    check_request(period, recipient)
    public = None
    if recipient_public_key is not None:
        try:
            public = load_public(recipient_public_key.encode("utf-8"))
        except SealError:
            raise _invalid(
                "/recipient_public_key",
                "bad_public_key",
                "Mottagarens publika nyckel ska vara en X25519-nyckel i PEM-format.",
                "The recipient's public key must be an X25519 key in PEM format.",
            ) from None
    package = build_package(
        session,
        catalogue,
        keyring,
        PackageRequest(principal.municipality_code, period, recipient),
        generated_at=generated_at,
    )
    audit_export(
        session, principal.actor, package, sealed=public is not None, request_id=request_id
    )
    content = seal(package.content, public) if public is not None else package.content
    return content, package
