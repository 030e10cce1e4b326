"""Case lifecycle: create, read, list, update, close, exclude, history.

Plain functions over a :class:`CaseContext`; they never commit (the request's
session does). Each writes exactly one audit event, in the same transaction.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import and_, func, or_, select

from app.cases.bodies import Submitted
from app.cases.consistency import case_warnings
from app.cases.context import CaseContext
from app.cases.rules import (
    AGE_BASIS_ACTUAL,
    AGE_BASIS_KEY,
    AGE_KEY,
    Dated,
    adult,
    case_dates,
    explain_age,
)
from app.cases.scope import get_case, scoped
from app.cases.status import PHASE_STATUSES, derive_status
from app.cases.values import merge_local, merge_texts, merge_values, split_values
from app.catalogue.loader import Catalogue
from app.clock import today
from app.db import new_object, remember_new
from app.errors import Conflict, FieldError, PreconditionFailed, ValidationFailed
from app.local_variables.service import for_municipality
from app.models import Case, CaseRevision, Intervention, KodnyckelEntry, Unit
from app.security.crypto import encrypt_text, pseudonym
from app.security.identifiers import (
    ClientIdentifier,
    InvalidClientIdentifier,
    age_on,
    normalise_client_identifier,
)
from app.security.sealed import open_sealed, seal

DATE_POINTERS = {
    "actualised_on": "/actualised_on",
    "closed_on": "/closed_on",
    "intervention": "/intervention_start_on",
}


def case_comments_context(case_id: uuid.UUID) -> str:
    return f"case:{case_id}:comments"


def check_version(case: Case, expected: int) -> None:
    if case.version != expected:
        raise PreconditionFailed(
            "Ärendet har ändrats sedan du läste det. Hämta det igen och gör om ändringen.",
            "The case changed since you read it. Fetch it again and redo the change.",
        )


def check_submitted_version(case: Case, expected: int, submitted: Submitted) -> None:
    """:func:`check_version` for a checked body: a body with type errors is
    wrong whatever the version, so those errors are answered (422), not 412."""
    try:
        check_version(case, expected)
    except PreconditionFailed:
        if submitted.errors:
            raise ValidationFailed(submitted.errors) from None
        raise


def _raise(errors: Sequence[FieldError]) -> None:
    if errors:
        raise ValidationFailed(errors)


def _resolve_unit(ctx: CaseContext, unit_id: uuid.UUID | None) -> Unit | FieldError:
    principal = ctx.principal
    if principal.role == "caseworker":
        if unit_id is not None and unit_id != principal.unit_id:
            unit_id = None  # treated like an unknown unit below
        else:
            unit_id = principal.unit_id
    unit = (
        (new_object(ctx.session, Unit, unit_id) or ctx.session.get(Unit, unit_id))
        if unit_id
        else None
    )
    if unit is None or unit.municipality_code != principal.municipality_code or not unit.is_active:
        return FieldError("/unit_id", "unknown_unit", "Okänd verksamhet.", "Unknown unit.")
    return unit


_IDENTIFIER_MESSAGES = {
    "checksum": ("Kontrollsiffran stämmer inte.", "The check digit is wrong."),
    "date": (
        "Födelsedatumet i numret finns inte.",
        "The birth date in the number does not exist.",
    ),
    "future": ("Födelsedatumet ligger i framtiden.", "The birth date is in the future."),
    "format": (
        "Ogiltigt format på klientens identitet.",
        "Invalid format of the client identifier.",
    ),
}


def _check_identifier(
    raw: str, actualised_on: date | None, values: dict[str, Any], errors: list[FieldError]
) -> ClientIdentifier | None:
    """Normalise the client identifier; fill in the age it gives (or check the
    age given against it). Problems go to ``errors``."""
    try:
        identifier = normalise_client_identifier(raw, today=today())
    except InvalidClientIdentifier as exc:
        sv, en = _IDENTIFIER_MESSAGES.get(exc.reason_code, _IDENTIFIER_MESSAGES["format"])
        errors.append(FieldError("/client_id", f"client_id_{exc.reason_code}", sv, en))
        return None
    if identifier.birth_date is None or actualised_on is None:
        return identifier
    if identifier.birth_date > actualised_on:
        errors.append(
            FieldError(
                "/client_id",
                "client_id_future",
                "Klienten var inte född vid aktualiseringen.",
                "The client was not born when the case opened.",
            )
        )
        return identifier
    age = age_on(identifier.birth_date, actualised_on)
    under = adult(age, "/client_id")
    errors += under
    given = values.get(AGE_KEY)
    if given is None:
        if not under:
            values[AGE_KEY] = age
            values.setdefault(AGE_BASIS_KEY, AGE_BASIS_ACTUAL)
    elif abs(given - age) > 1:
        errors.append(
            FieldError(
                f"/values/{AGE_KEY}",
                "age_mismatch",
                "Åldern stämmer inte med personnumret.",
                "The age does not match the personal identity number.",
            )
        )
    return identifier


def _pseudonymise(ctx: CaseContext, identifier: ClientIdentifier) -> tuple[str, int]:
    """The pseudonym under the municipality's key (and the kodnyckel entry)."""
    municipality = ctx.principal.municipality_code or ""
    # Create the municipality's data key now, before the case is in the session:
    # creating it later (first comment) would flush the case mid-request.
    ctx.keyring.current(ctx.session, municipality, "data")
    version, key = ctx.keyring.current(ctx.session, municipality, "pseudonym")
    client_pseudonym = pseudonym(key, identifier.canonical)
    if municipality in ctx.settings.kodnyckel_municipalities:
        _store_kodnyckel(ctx, municipality, client_pseudonym, identifier.canonical)
    return client_pseudonym, version


def _store_kodnyckel(
    ctx: CaseContext, municipality: str, client_pseudonym: str, canonical: str
) -> None:
    exists = ctx.session.scalar(
        select(KodnyckelEntry.id).where(
            KodnyckelEntry.municipality_code == municipality,
            KodnyckelEntry.client_pseudonym == client_pseudonym,
        )
    )
    if exists is not None:
        return
    version, key = ctx.keyring.current(ctx.session, municipality, "data")
    blob = encrypt_text(key, canonical, context=kodnyckel_context(municipality, client_pseudonym))
    ctx.session.add(
        KodnyckelEntry(
            municipality_code=municipality,
            client_pseudonym=client_pseudonym,
            identifier_ciphertext=blob,
            data_key_version=version,
        )
    )


def kodnyckel_context(municipality: str, client_pseudonym: str) -> str:
    return f"kodnyckel:{municipality}:{client_pseudonym}"


def _snapshot(case: Case) -> dict[str, Any]:
    """Coded values and dates for the history; never free text or identifiers."""
    return {
        "values": dict(case.values),
        "actualised_on": case.actualised_on.isoformat(),
        "closed_on": case.closed_on.isoformat() if case.closed_on else None,
        "status": case.status,
        "is_excluded": case.is_excluded,
        "exclusion_reason": case.exclusion_reason,
    }


def record_revision(ctx: CaseContext, case: Case, action: str, fields: list[str]) -> None:
    ctx.session.add(
        CaseRevision(
            case_id=case.id,
            version=case.version,
            changed_by_id=ctx.principal.user_id,
            action=action,
            fields=sorted(fields),
            snapshot=_snapshot(case),
        )
    )


def refresh_derived(case: Case) -> None:
    starts = [i.start_on for i in case.interventions]
    case.first_intervention_on = min(starts) if starts else None
    case.status = derive_status(case)


def touch(case: Case) -> None:
    """The case changed (itself or a child): its version (ETag) moves on."""
    from app.clock import utcnow

    case.version += 1
    case.updated_at = utcnow()


def serialise(ctx: CaseContext, case: Case) -> dict[str, Any]:
    from app.cases.records import intervention_dict, risk_dict, survey_dict

    # Written now (one flush for the whole request's changes): the response shows
    # what was stored, timestamps included.
    ctx.session.flush()
    shared, local = split_values(case.values)
    comments = open_sealed(
        ctx.session,
        ctx.keyring,
        case.municipality_code,
        case.comments_ciphertext,
        case.data_key_version,
        context=case_comments_context(case.id),
    )
    # Counted within the caller's scope: a caseworker must not learn whether
    # the client has a case at another unit (ACCEPTANCE A7).
    previous = ctx.session.scalar(
        scoped(select(func.count(Case.id)), ctx.principal).where(
            Case.client_pseudonym == case.client_pseudonym,
            Case.id != case.id,
            Case.actualised_on <= case.actualised_on,
        )
    )
    return {
        "id": case.id,
        "unit_id": case.unit_id,
        "municipality_code": case.municipality_code,
        "district_code": case.district_code,
        "client_pseudonym": case.client_pseudonym,
        "client_id_kind": case.client_id_kind,
        "previous_cases": previous or 0,
        "actualised_on": case.actualised_on,
        "closed_on": case.closed_on,
        "caseworker_ref": case.caseworker_ref,
        "status": case.status,
        "is_excluded": case.is_excluded,
        "exclusion_reason": case.exclusion_reason,
        "values": shared,
        "comments": comments,
        "local_values": local,
        "interventions": [
            intervention_dict(ctx, i, case.municipality_code) for i in case.interventions
        ],
        "risk_assessments": [risk_dict(r) for r in case.risk_assessments],
        "survey": survey_dict(ctx, case.survey, case.municipality_code) if case.survey else None,
        "catalogue_version": case.catalogue_version,
        "version": case.version,
        "created_at": case.created_at,
        "updated_at": case.updated_at,
        "warnings": [w.as_json() for w in case_warnings(ctx.catalogue, case)],
    }


@dataclass
class ValueChange:
    """Submitted values and local values merged into a case's (checked, not
    applied yet), the names of what changed and the problems found."""

    values: dict[str, Any]
    changed: list[str]
    errors: list[FieldError]


def _check_values(
    ctx: CaseContext,
    municipality: str,
    stored: dict[str, Any],
    submitted: Submitted,
    *,
    is_closed: bool,
) -> ValueChange:
    """Merge values and local values from the valid part of a body into the
    stored ones, with every rule across them. Keys that failed their type
    check are left out, and rules that read them are not judged."""
    data = submitted.data
    changed: list[str] = []
    errors: list[FieldError] = []
    shared, local = split_values(stored)
    incoming = data.get("values") or {}
    undecided = {
        e.pointer.split("/")[2] for e in submitted.errors if e.pointer.startswith("/values/")
    }
    if incoming or undecided:
        shared, errs = merge_values(
            ctx.catalogue, shared, incoming, is_closed=is_closed, undecided=undecided
        )
        errors += errs
        changed += list(incoming)
    incoming_local = data.get("local_values") or {}
    if incoming_local:
        local, errs = merge_local(
            for_municipality(ctx.session, municipality), local, incoming_local
        )
        errors += errs
        changed += list(incoming_local)
    changed += [f"comment:{k}" for k in data.get("comments") or {}]
    return ValueChange({**shared, **local}, changed, errors)


def _seal_comments(ctx: CaseContext, case: Case, incoming: dict[str, str | None]) -> None:
    if not incoming:
        return
    stored = open_sealed(
        ctx.session,
        ctx.keyring,
        case.municipality_code,
        case.comments_ciphertext,
        case.data_key_version,
        context=case_comments_context(case.id),
    )
    case.comments_ciphertext, case.data_key_version = seal(
        ctx.session,
        ctx.keyring,
        case.municipality_code,
        merge_texts(stored, incoming),
        context=case_comments_context(case.id),
    )


def intervention_dates(catalogue: Catalogue, interventions: Iterable[Intervention]) -> list[Dated]:
    """The interventions' start dates, named by their type (for date rules)."""
    types = catalogue.variables["intervention_type"]
    named = []
    for item in interventions:
        if item.start_on is None:
            continue
        option = types.option(item.type_code) if item.type_code is not None else None
        sv, en = (option.label.sv, option.label.en) if option else ("?", "?")
        named.append(Dated(item.start_on, sv, en))
    return named


def as_submitted(data: dict[str, Any] | Submitted) -> Submitted:
    """Services take a checked body (:mod:`app.cases.bodies`) or, from code
    that validated already (the import), its valid dict."""
    return data if isinstance(data, Submitted) else Submitted(data)


def create_case(ctx: CaseContext, body: dict[str, Any] | Submitted) -> Case:
    """Register a case. Every problem of the request (its type errors and the
    rules) is reported together; nothing is written unless there are none."""
    submitted = as_submitted(body)
    data = submitted.data
    errors = explain_age(submitted.errors, f"/values/{AGE_KEY}")
    unit = _resolve_unit(ctx, data.get("unit_id"))
    if isinstance(unit, FieldError):
        errors.append(unit)
    actualised_on: date | None = data.get("actualised_on")
    values = dict(data.get("values") or {})
    if actualised_on is not None:
        errors += case_dates(
            actualised_on=actualised_on,
            closed_on=None,
            interventions=[],
            today=today(),
            pointers=DATE_POINTERS,
        )
    identifier = None
    if "client_id" in data:
        identifier = _check_identifier(data["client_id"], actualised_on, values, errors)
    municipality = (
        unit.municipality_code if isinstance(unit, Unit) else ctx.principal.municipality_code
    )
    change = _check_values(
        ctx,
        municipality or "",
        {},
        Submitted({**data, "values": values}, submitted.errors),
        is_closed=False,
    )
    errors += change.errors
    _raise(errors)
    # Each is present when nothing failed: a missing one is an error above.
    assert isinstance(unit, Unit)
    assert identifier is not None
    assert actualised_on is not None
    client_pseudonym, key_version = _pseudonymise(ctx, identifier)
    case = Case(
        id=uuid.uuid4(),
        unit_id=unit.id,
        municipality_code=unit.municipality_code,
        district_code=unit.district_code,
        client_pseudonym=client_pseudonym,
        client_id_kind=identifier.kind,
        pseudonym_key_version=key_version,
        caseworker_ref=data.get("caseworker_ref"),
        actualised_on=actualised_on,
        values=change.values,
        catalogue_version=ctx.catalogue.version,
        version=1,
        created_by_id=ctx.principal.user_id,
        interventions=[],
        risk_assessments=[],
        survey=None,
    )
    _seal_comments(ctx, case, data.get("comments") or {})
    refresh_derived(case)
    ctx.session.add(case)
    remember_new(ctx.session, case)
    fields = [
        "client_id",
        "actualised_on",
        *(["caseworker_ref"] if case.caseworker_ref else []),
        *change.changed,
    ]
    record_revision(ctx, case, "create", fields)
    ctx.audit(
        "case.create", object_id=case.id, fields=fields, municipality_code=case.municipality_code
    )
    return case


def read_case(ctx: CaseContext, case_id: uuid.UUID) -> Case:
    case = get_case(ctx.session, ctx.principal, case_id)
    ctx.audit("case.read", object_id=case.id, municipality_code=case.municipality_code)
    return case


def _cursor(case: Case) -> str:
    raw = json.dumps({"a": case.actualised_on.isoformat(), "i": str(case.id)})
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _after(cursor: str) -> tuple[date, uuid.UUID]:
    """The position a cursor names; 422 for anything this service did not make."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = json.loads(raw)
        return date.fromisoformat(data["a"]), uuid.UUID(data["i"])
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        raise ValidationFailed(
            [FieldError("/query/cursor", "cursor", "Ogiltig markör.", "Invalid cursor.")]
        ) from None


def _like(text: str) -> str:
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def list_cases(
    ctx: CaseContext,
    *,
    status: str | None,
    unit_id: uuid.UUID | None,
    actualised_from: date | None,
    actualised_to: date | None,
    limit: int,
    cursor: str | None = None,
    phase: str | None = None,
    reference: str | None = None,
    excluded: bool | None = None,
    mine: bool = False,
    with_total: bool = False,
) -> dict[str, Any]:
    """A page of cases, newest opening date first (keyset pagination: the cost
    of a page does not grow with how far into the list it is).

    ``reference`` searches the unit's own references (SUV 3 and the case-
    management system's id); ``mine``: the cases the caller registered;
    ``with_total``: also count the whole selection (the web's "N ärenden")."""
    query = scoped(select(Case), ctx.principal)
    used: list[str] = []
    if status is not None:
        query = query.where(Case.status == status)
        used.append("status")
    if phase is not None:
        query = query.where(Case.status.in_(PHASE_STATUSES[phase]))
        used.append("phase")
    if unit_id is not None:
        query = query.where(Case.unit_id == unit_id)
        used.append("unit_id")
    if actualised_from is not None:
        query = query.where(Case.actualised_on >= actualised_from)
        used.append("actualised_from")
    if actualised_to is not None:
        query = query.where(Case.actualised_on <= actualised_to)
        used.append("actualised_to")
    if reference:
        pattern = _like(reference)
        query = query.where(
            or_(
                func.lower(Case.caseworker_ref).like(pattern, escape="\\"),
                func.lower(Case.source_ref).like(pattern, escape="\\"),
            )
        )
        used.append("reference")
    if excluded is not None:
        query = query.where(Case.is_excluded.is_(excluded))
        used.append("is_excluded")
    if mine:
        query = query.where(Case.created_by_id == ctx.principal.user_id)
        used.append("mine")
    total = None
    if with_total:
        total = ctx.session.scalar(select(func.count()).select_from(query.subquery())) or 0
    if cursor is not None:
        on, after_id = _after(cursor)
        query = query.where(
            or_(Case.actualised_on < on, and_(Case.actualised_on == on, Case.id > after_id))
        )
    rows = ctx.session.scalars(
        query.order_by(Case.actualised_on.desc(), Case.id).limit(limit + 1)
    ).all()
    more = len(rows) > limit
    rows = rows[:limit]
    ctx.audit("case.list", object_type="case", fields=used)
    page: dict[str, Any] = {
        "items": [
            {
                "id": c.id,
                "unit_id": c.unit_id,
                "actualised_on": c.actualised_on,
                "closed_on": c.closed_on,
                "caseworker_ref": c.caseworker_ref,
                "status": c.status,
                "is_excluded": c.is_excluded,
                "version": c.version,
            }
            for c in rows
        ],
        "limit": limit,
        "next_cursor": _cursor(rows[-1]) if more else None,
    }
    if total is not None:
        page["total"] = total
    return page


def changes_since(ctx: CaseContext, case: Case, version: int) -> list[str]:
    """Names of the fields changed after ``version`` of a case the caller has
    read (for "someone else changed …" after a stale save)."""
    rows = ctx.session.scalars(
        select(CaseRevision.fields)
        .where(CaseRevision.case_id == case.id, CaseRevision.version > version)
        .order_by(CaseRevision.version)
    ).all()
    names: list[str] = []
    for fields in rows:
        names += [name for name in fields if name not in names]
    return names


def update_case(
    ctx: CaseContext, case_id: uuid.UUID, expected_version: int, body: dict[str, Any] | Submitted
) -> Case:
    case = get_case(ctx.session, ctx.principal, case_id)
    submitted = as_submitted(body)
    check_submitted_version(case, expected_version, submitted)
    data = submitted.data
    errors = explain_age(submitted.errors, f"/values/{AGE_KEY}")
    changed: list[str] = []
    if "actualised_on" in data:
        if data["actualised_on"] is None:
            errors.append(
                FieldError(
                    "/actualised_on",
                    "missing",
                    "Aktualiseringsdatum kan inte tas bort.",
                    "The opening date cannot be removed.",
                )
            )
        else:
            case.actualised_on = data["actualised_on"]
            changed.append("actualised_on")
    if "caseworker_ref" in data:
        case.caseworker_ref = data["caseworker_ref"]
        changed.append("caseworker_ref")
    change = _check_values(
        ctx, case.municipality_code, case.values, submitted, is_closed=case.closed_on is not None
    )
    errors += change.errors
    changed += change.changed
    errors += case_dates(
        actualised_on=case.actualised_on,
        closed_on=case.closed_on,
        interventions=intervention_dates(ctx.catalogue, case.interventions),
        today=today(),
        # Only the opening date can move here: whatever it passes is its error.
        pointers=dict.fromkeys(DATE_POINTERS, DATE_POINTERS["actualised_on"]),
    )
    if "actualised_on" in changed:
        errors += _records_predating(case)
    if AGE_KEY in (data.get("values") or {}):
        errors += adult(change.values.get(AGE_KEY), f"/values/{AGE_KEY}", estimated_allowed=True)
    _raise(errors)
    if not changed:
        return case
    case.values = change.values
    _seal_comments(ctx, case, data.get("comments") or {})
    refresh_derived(case)
    touch(case)
    record_revision(ctx, case, "update", changed)
    ctx.audit(
        "case.update", object_id=case.id, fields=changed, municipality_code=case.municipality_code
    )
    return case


def _records_predating(case: Case) -> list[FieldError]:
    """A moved opening date may not pass a risk assessment or the survey."""
    dates = [r.assessed_on for r in case.risk_assessments]
    if case.survey is not None:
        dates.append(case.survey.answered_on)
    if dates and min(dates) < case.actualised_on:
        return [
            FieldError(
                "/actualised_on",
                "after_records",
                "Aktualiseringsdatum kan inte ligga efter en riskskattning eller brukarenkät.",
                "The opening date cannot be after a risk assessment or the client survey.",
            )
        ]
    return []


def close_case(
    ctx: CaseContext, case_id: uuid.UUID, expected_version: int, body: dict[str, Any] | Submitted
) -> Case:
    case = get_case(ctx.session, ctx.principal, case_id)
    submitted = as_submitted(body)
    check_submitted_version(case, expected_version, submitted)
    if case.closed_on is not None:
        raise Conflict("Ärendet är redan avslutat.", "The case is already closed.")
    data = submitted.data
    errors = list(submitted.errors)
    closed_on: date | None = data.get("closed_on")
    if closed_on is not None:
        errors += case_dates(
            actualised_on=case.actualised_on,
            closed_on=closed_on,
            interventions=intervention_dates(ctx.catalogue, case.interventions),
            today=today(),
            pointers={**DATE_POINTERS, "intervention": "/closed_on"},
        )
    change = _check_values(ctx, case.municipality_code, case.values, submitted, is_closed=True)
    errors += change.errors
    _raise(errors)
    case.closed_on = closed_on
    case.values = change.values
    _seal_comments(ctx, case, data.get("comments") or {})
    refresh_derived(case)
    touch(case)
    fields = ["closed_on", *change.changed]
    record_revision(ctx, case, "close", fields)
    ctx.audit(
        "case.close", object_id=case.id, fields=fields, municipality_code=case.municipality_code
    )
    return case


def set_exclusion(
    ctx: CaseContext, case_id: uuid.UUID, expected_version: int, reason: str | None
) -> Case:
    case = get_case(ctx.session, ctx.principal, case_id)
    check_version(case, expected_version)
    case.is_excluded = reason is not None
    case.exclusion_reason = reason
    touch(case)
    action = "exclude" if reason else "include"
    record_revision(ctx, case, action, ["is_excluded"])
    ctx.audit(
        f"case.{action}",
        object_id=case.id,
        fields=["is_excluded", "exclusion_reason"],
        municipality_code=case.municipality_code,
    )
    return case


def history(ctx: CaseContext, case_id: uuid.UUID) -> dict[str, Any]:
    case = get_case(ctx.session, ctx.principal, case_id, with_children=False)
    revisions = ctx.session.scalars(
        select(CaseRevision).where(CaseRevision.case_id == case.id).order_by(CaseRevision.version)
    ).all()
    ctx.audit("case.history", object_id=case.id, municipality_code=case.municipality_code)
    return {
        "case_id": case.id,
        "revisions": [
            {
                "version": r.version,
                "changed_at": r.changed_at,
                "changed_by": r.changed_by_id,
                "action": r.action,
                "fields": r.fields,
                "snapshot": r.snapshot,
            }
            for r in revisions
        ],
    }
