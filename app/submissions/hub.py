"""The national hub: receiving packages, their history, the national compilation.

The hub is the same software run for SKR. A municipality submits with the
token of a hub user of role ``coordinator`` for that municipality, issued by
the hub's administrator (``isu users create skr-0180 --role coordinator
--municipality 0180``): the token can only submit for, and read the feedback
of, its own municipality. Receiving is all or nothing (one transaction, after
:func:`app.submissions.verify.verify`); the same package again is a no-op; a
new package for the same municipality and period is the next version, and the
history is kept. Compilations read the latest version per municipality.
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import pandas as pd
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError as DbIntegrityError
from sqlalchemy.orm import Session, sessionmaker

from app.audit.service import Actor, record
from app.auth.principal import Principal
from app.catalogue.loader import Catalogue
from app.db import transaction
from app.errors import AppError, Conflict, FieldError, Forbidden, ValidationFailed
from app.models import Submission, SubmissionFile
from app.reference import counties, county_of, municipalities
from app.stats.codebook import codebook_from_catalogue
from app.submissions import layout
from app.submissions.sealing import SealError, is_sealed, open_sealed
from app.submissions.verify import PackageRejected, VerifiedPackage, verify
from exporters.codebook import Label
from exporters.compare import NATION, area_labels, comparison_areas, county_areas, select_areas
from exporters.disclosure import Area
from exporters.frame import (
    INTERVENTION_COLUMNS,
    RISK_COLUMNS,
    SURVEY_COLUMNS,
    AnalysisFrame,
    RawData,
    build_frame,
)
from exporters.summary import Summary, protected_release

RECEIVED = "submission.received"
RESENT = "submission.resent"
REJECTED = "submission.rejected"
COMPILED = "submission.compilation"


class SubmissionScope(AppError):
    status = 403
    slug = "submission-scope"
    title = "Fel kommun"
    title_en = "Wrong municipality"


@dataclass(frozen=True)
class Received:
    submission: Submission
    created: bool
    """False: the same package was already received (nothing changed)."""


def open_package(blob: bytes, private_key: X25519PrivateKey | None) -> bytes:
    if not blob:
        raise PackageRejected(
            [FieldError("", "empty", "Inget paket skickades.", "No package was sent.")]
        )
    if not is_sealed(blob):
        return blob
    if private_key is None:
        raise PackageRejected(
            [
                FieldError(
                    "",
                    "sealed_no_key",
                    "Paketet är krypterat men navet har ingen nyckel för det.",
                    "The package is encrypted but this hub has no key for it.",
                )
            ]
        )
    try:
        return open_sealed(blob, private_key)
    except SealError:
        raise PackageRejected(
            [
                FieldError(
                    "",
                    "sealed_invalid",
                    "Det krypterade paketet kan inte öppnas med navets nyckel eller har ändrats.",
                    "The encrypted package cannot be opened with this hub's key or was altered.",
                )
            ]
        ) from None


def check_scope(package: VerifiedPackage, municipality_code: str | None) -> None:
    if package.manifest.municipality_code != municipality_code:
        raise SubmissionScope(
            "Paketet gäller en annan kommun än din behörighet.",
            "The package is for another municipality than your credential.",
            errors=[
                FieldError(
                    "/manifest/municipality_code",
                    "foreign_municipality",
                    "Kommunen i paketet är inte din.",
                    "The package's municipality is not yours.",
                )
            ],
        )


def receive(
    session: Session,
    catalogue: Catalogue,
    blob: bytes,
    *,
    submitter: Principal | None,
    actor: Actor,
    private_key: X25519PrivateKey | None,
    request_id: str | None = None,
) -> Received:
    """Verify and store one package. ``submitter`` is the municipality's hub
    account (its municipality must be the package's); None only for the hub's
    own CLI (a file that came by another channel, vouched for by the operator)."""
    if submitter is not None and submitter.role != "coordinator":
        raise Forbidden(
            "Bara en kommuns inlämningskonto kan lämna in paket.",
            "Only a municipality's submission account can submit packages.",
        )
    package = verify(open_package(blob, private_key), catalogue)
    if submitter is not None:
        check_scope(package, submitter.municipality_code)
    manifest = package.manifest
    existing = session.scalar(
        select(Submission).where(Submission.package_id == manifest.package_id)
    )
    if existing is not None:
        if existing.manifest_sha256 != package.manifest_sha256:
            raise Conflict(
                "Ett annat paket med samma paket-id finns redan.",
                "Another package with the same package id already exists.",
            )
        _audit(session, actor, RESENT, existing, request_id)
        return Received(existing, created=False)
    latest = session.scalar(
        select(func.max(Submission.version)).where(
            Submission.municipality_code == manifest.municipality_code,
            Submission.period == manifest.period,
        )
    )
    submission = Submission(
        id=uuid.uuid4(),
        package_id=manifest.package_id,
        manifest_sha256=package.manifest_sha256,
        municipality_code=manifest.municipality_code,
        period=manifest.period,
        period_from=manifest.period_from,
        period_to=manifest.period_to,
        version=(latest or 0) + 1,
        catalogue_version=manifest.catalogue_version,
        manifest=manifest.model_dump(mode="json"),
        status="accepted",
        received_by_id=submitter.user_id if submitter is not None else None,
    )
    try:
        with session.begin_nested():
            session.add(submission)
            session.flush()
            for name, (content, rows) in sorted(package.files.items()):
                session.add(
                    SubmissionFile(
                        submission_id=submission.id,
                        name=name,
                        sha256=manifest.files[name].sha256,
                        rows=rows or 0,
                        content=content,
                    )
                )
            session.flush()
    except DbIntegrityError:
        raise Conflict(
            "Ett annat paket för samma kommun och period togs emot samtidigt. Skicka igen.",
            "Another package for the same municipality and period arrived at the same time. "
            "Send again.",
        ) from None
    _audit(session, actor, RECEIVED, submission, request_id)
    return Received(submission, created=True)


def _audit(
    session: Session,
    actor: Actor,
    action: str,
    submission: Submission,
    request_id: str | None,
) -> None:
    record(
        session,
        actor=actor,
        action=action,
        object_type="submission",
        object_id=submission.id,
        fields=[f"period:{submission.period}", f"version:{submission.version}"],
        municipality_code=submission.municipality_code,
        request_id=request_id,
    )


def audit_rejection(
    factory: sessionmaker[Session],
    actor: Actor,
    error: AppError,
    request_id: str | None,
) -> None:
    """The rejection, in its own transaction (the request's is rolled back):
    the failing pointers' codes, never values."""
    with transaction(factory) as session:
        record(
            session,
            actor=actor,
            action=REJECTED,
            object_type="submission",
            fields=sorted({e.code for e in error.errors} or {error.slug}),
            outcome="rejected",
            request_id=request_id,
        )


def submit(
    session: Session,
    factory: sessionmaker[Session],
    catalogue: Catalogue,
    principal: Principal,
    blob: bytes,
    *,
    private_key: X25519PrivateKey | None,
    request_id: str | None = None,
) -> Received:
    """:func:`receive` for a municipality's account over the API. A rejected
    package leaves nothing behind but its audit event, written in a
    transaction of its own after the request's is rolled back."""
    try:
        return receive(
            session,
            catalogue,
            blob,
            submitter=principal,
            actor=principal.actor,
            private_key=private_key,
            request_id=request_id,
        )
    except AppError as exc:
        session.rollback()  # release the request's locks before the audit transaction
        audit_rejection(factory, principal.actor, exc, request_id)
        raise


def list_submissions(
    session: Session,
    principal: Principal,
    *,
    period: str | None = None,
    municipality: str | None = None,
) -> Sequence[Submission]:
    """National: every submission; a municipality's account: its own history."""
    query = select(Submission)
    if principal.role == "coordinator":
        query = query.where(Submission.municipality_code == principal.municipality_code)
    elif principal.role != "national":
        raise Forbidden("Din roll får inte se inlämningar.", "Your role may not see submissions.")
    if period is not None:
        query = query.where(Submission.period == period)
    if municipality is not None:
        query = query.where(Submission.municipality_code == municipality)
    return session.scalars(
        query.order_by(Submission.period, Submission.municipality_code, Submission.version)
    ).all()


def latest_submissions(session: Session, period: str) -> list[Submission]:
    """The latest accepted version per municipality for ``period``."""
    newest = (
        select(Submission.municipality_code, func.max(Submission.version).label("version"))
        .where(Submission.period == period, Submission.status == "accepted")
        .group_by(Submission.municipality_code)
        .subquery()
    )
    return list(
        session.scalars(
            select(Submission)
            .join(
                newest,
                (Submission.municipality_code == newest.c.municipality_code)
                & (Submission.version == newest.c.version),
            )
            .where(Submission.period == period)
            .order_by(Submission.municipality_code)
        ).all()
    )


def _read(content: bytes) -> pd.DataFrame:
    return pd.read_csv(io.BytesIO(content), dtype=str, keep_default_na=False, na_values=[""])


def _column(frame: pd.DataFrame, name: str) -> pd.Series:
    """A column, or an empty one when a (compatible) package does not have it."""
    return frame[name] if name in frame else pd.Series([None] * len(frame), dtype="object")


def raw_from_packages(catalogue: Catalogue, tables: Sequence[dict[str, bytes]]) -> RawData:
    """The analysis inputs from stored package tables (one dict of file name ->
    content per package), mapped back to catalogue keys through the layout."""
    columns = layout.layout(catalogue)
    counties_of = county_of()
    cases_parts, iv_parts, risk_parts, survey_parts = [], [], [], []
    for files in tables:
        cases = _read(files[layout.CASES])
        by_field = {c.name: c for c in columns[layout.CASES]}
        out = pd.DataFrame(index=cases.index)
        survey = pd.DataFrame(index=cases.index)
        for name in cases.columns:
            column = by_field.get(name)
            if column is None:
                continue  # local variables are not part of the national compilation
            values: pd.Series = cases[name]
            if column.kind in ("code", "integer"):
                values = pd.to_numeric(values, errors="coerce").astype("Float64").astype("Int64")
            if column.source == "case":
                target = {
                    "id": "case_id",
                    "unit_id": "unit_id",
                    "unit_kind": "unit_kind",
                    "municipality_code": "municipality_code",
                    "district": "district_code",
                    "actualised_on": "actualised_on",
                    "closed_on": "closed_on",
                    "is_excluded": "is_excluded",
                    "exclusion_reason": "exclusion_reason",
                }.get(column.field)
                if target is not None:
                    out[target] = values
            elif column.source == "values" and column.key is not None:
                out[column.key] = values
            elif column.source == "survey":
                survey[column.field] = values
            elif column.source == "survey_values" and column.key is not None:
                survey[column.key] = values
        out["is_excluded"] = out["is_excluded"] == "1"
        out["county_code"] = out["municipality_code"].map(counties_of)
        out["district_code"] = (
            out["district_code"].astype("object").where(out["district_code"].notna(), None)
        )
        cases_parts.append(out)
        answered = (
            survey["answered_on"].notna()
            if "answered_on" in survey
            else pd.Series(False, index=survey.index)
        )
        survey.insert(0, "case_id", out["case_id"])
        survey_parts.append(survey.loc[answered])
        iv = _read(files[layout.INTERVENTIONS])
        iv_parts.append(
            pd.DataFrame(
                {
                    target: _column(iv, c.name)
                    for c, target in zip(
                        columns[layout.INTERVENTIONS], INTERVENTION_COLUMNS, strict=True
                    )
                }
            )
        )
        risk = _read(files[layout.RISKS])
        risk_parts.append(
            pd.DataFrame(
                {
                    target: _column(risk, c.name)
                    for c, target in zip(columns[layout.RISKS], RISK_COLUMNS, strict=True)
                }
            )
        )

    def concat(parts: list[pd.DataFrame], names: Sequence[str]) -> pd.DataFrame:
        parts = [p for p in parts if len(p)]
        if not parts:
            return pd.DataFrame(columns=list(names))
        return pd.concat(parts, ignore_index=True)

    cases_all = concat(cases_parts, ("case_id",))
    if cases_all.empty:
        cases_all = pd.DataFrame(
            columns=[
                "case_id", "unit_id", "unit_kind", "municipality_code", "county_code",
                "district_code", "actualised_on", "closed_on", "is_excluded", "exclusion_reason",
            ]
        )  # fmt: skip
    return RawData(
        cases_all,
        concat(iv_parts, INTERVENTION_COLUMNS),
        concat(risk_parts, RISK_COLUMNS),
        concat(survey_parts, SURVEY_COLUMNS),
    )


def hub_frame(session: Session, catalogue: Catalogue, period: str) -> AnalysisFrame:
    """The analysis frame of the latest accepted packages of ``period``."""
    latest = latest_submissions(session, period)
    files = session.execute(
        select(SubmissionFile.submission_id, SubmissionFile.name, SubmissionFile.content).where(
            SubmissionFile.submission_id.in_([s.id for s in latest]),
            SubmissionFile.name.in_(layout.TABLES),
        )
    ).all()
    by_submission: dict[uuid.UUID, dict[str, bytes]] = {s.id: {} for s in latest}
    for submission_id, name, content in files:
        by_submission[submission_id][name] = content
    raw = raw_from_packages(catalogue, [by_submission[s.id] for s in latest])
    return build_frame(raw, codebook_from_catalogue(catalogue))


def _invalid(pointer: str, code: str, sv: str, en: str) -> ValidationFailed:
    return ValidationFailed([FieldError(pointer, code, sv, en)])


def _name(area: Area) -> str:
    level, code = area
    if level == "municipality":
        return municipalities()[code].name
    if level == "county":
        return counties()[code].name
    return "Riket"


@dataclass(frozen=True)
class CompilationQuery:
    period: str
    municipality: str | None = None
    county: str | None = None


def compile_period(
    session: Session,
    catalogue: Catalogue,
    principal: Principal,
    query: CompilationQuery,
    *,
    threshold: int,
    today: date,
    request_id: str | None = None,
) -> Summary:
    """The national compilation over the latest accepted packages of a period.

    ``national``: protected (small-number suppression) for the nation and each
    county, or one county and its municipalities, or one municipality.
    ``coordinator`` (a municipality's account): its own tables unprotected next
    to its county and the nation, protected — the feedback the report asks for.
    """
    years = layout.parse_period(query.period)
    if years is None:
        raise _invalid("/query/period", "bad_period", "Ogiltig period.", "Invalid period.")
    counties_of = county_of()
    known: str | None = None
    if principal.role == "coordinator":
        own = principal.municipality_code
        if own is None or query.municipality not in (None, own) or query.county is not None:
            raise Forbidden(
                "Du ser bara din egen kommun bredvid län och riket.",
                "You see only your own municipality beside its county and the nation.",
            )
        areas = comparison_areas(own, None, counties_of)
        known = own
        scope = own
    elif principal.role == "national":
        if query.municipality is not None and query.municipality not in municipalities():
            raise _invalid(
                "/query/municipality", "unknown_municipality", "Okänd kommun.", "Unknown."
            )
        if query.county is not None and query.county not in counties():
            raise _invalid("/query/county", "unknown_county", "Okänt län.", "Unknown county.")
        if query.municipality is not None:
            areas = [("municipality", query.municipality)]
        elif query.county is not None:
            areas = county_areas(query.county, counties_of)
        else:
            areas = [NATION, *(("county", c) for c in sorted(counties()))]
        scope = query.municipality or query.county or "SE"
    else:
        raise Forbidden(
            "Din roll får inte se den nationella sammanställningen.",
            "Your role may not see the national compilation.",
        )
    analysis = hub_frame(session, catalogue, query.period)
    codebook = codebook_from_catalogue(catalogue)
    # Both audiences get the release with its exclusions in one cell store;
    # a coordinator's own municipality is known (never hidden).
    release = protected_release(
        analysis.frame,
        codebook,
        threshold=threshold,
        county_of=counties_of,
        known_municipality=known,
        excluded_cases=analysis.excluded_cases,
    )
    tables = [select_areas(table, areas) for table in release.tables]
    first = areas[0]
    funnel = next(t for t in tables if t.id == "funnel").data
    rows = funnel[funnel["area_code"].astype(str) == first[1]]
    opened = rows[
        (rows["step"].astype(str) == "aktualiserad")
        & (rows["registered"].astype(str) == "registrerad")
    ]
    hidden = bool(opened["suppressed"].any()) if "suppressed" in opened.columns else False
    n_cases = None if hidden else int(opened["n"].astype("Int64").fillna(0).sum())
    excluded = release.excluded_in(first)
    names = {area: _name(area) for area in areas}
    notes: tuple[Label, ...] = (
        Label(
            "Sammanställd på nationella navet ur varje kommuns senast mottagna paket.",
            "Compiled at the national hub from each municipality's latest received package.",
        ),
    )
    if known is not None:
        notes += (
            Label(
                "Kommunens egna värden visas utan röjandeskydd; län och riket är röjandeskyddade.",
                "The municipality's own values are shown unprotected; county and nation are "
                "protected.",
            ),
        )
    record(
        session,
        actor=principal.actor,
        action=COMPILED,
        object_type="stats_summary",
        object_id=scope,
        fields=[f"period:{query.period}", *(t.id for t in tables)],
        municipality_code=known,
        request_id=request_id,
    )
    first_name = names[first]
    return Summary(
        tables=tables,
        period_from=date(years[0], 1, 1),
        period_to=date(years[1], 12, 31),
        scope=Label(first_name, first_name if first != NATION else "Sweden"),
        catalogue_version=catalogue.version,
        generated_on=today,
        protected=True,
        threshold=threshold,
        n_cases=n_cases,
        excluded=excluded,
        area_labels=area_labels(list(names), names),
        notes=notes,
    )


def submission_dict(submission: Submission, *, created: bool | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": submission.id,
        "package_id": submission.package_id,
        "municipality_code": submission.municipality_code,
        "period": submission.period,
        "version": submission.version,
        "status": submission.status,
        "catalogue_version": submission.catalogue_version,
        "received_at": submission.received_at,
        "counts": dict(submission.manifest.get("counts", {})),
        "key_version": submission.manifest.get("key_version"),
        "recipient": submission.manifest.get("recipient"),
    }
    if created is not None:
        out["resend"] = not created
    return out
