"""Case lifecycle: create, read, list, update, close, exclude, history.

Plain functions over a :class:`CaseContext`; they never commit (the request's
session does). Each writes exactly one audit event, in the same transaction.
"""

from __future__ import annotations

import base64
import json
import uuid
from datetime import date
from typing import Any

from sqlalchemy import and_, func, or_, select

from app.cases.context import CaseContext
from app.cases.rules import AGE_BASIS_ACTUAL, AGE_BASIS_KEY, AGE_KEY, adult, case_dates
from app.cases.scope import get_case, scoped
from app.cases.status import derive_status
from app.cases.values import merge_local, merge_texts, merge_values, split_values
from app.clock import today
from app.db import new_object, remember_new
from app.errors import Conflict, FieldError, PreconditionFailed, ValidationFailed
from app.local_variables.service import for_municipality
from app.models import Case, CaseRevision, KodnyckelEntry, Unit
from app.security.crypto import encrypt_text, pseudonym
from app.security.identifiers import InvalidClientIdentifier, age_on, normalise_client_identifier
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


def _raise(errors: list[FieldError]) -> None:
    if errors:
        raise ValidationFailed(errors)


def _resolve_unit(ctx: CaseContext, unit_id: uuid.UUID | None) -> Unit:
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
        raise ValidationFailed(
            [FieldError("/unit_id", "unknown_unit", "Okänd verksamhet.", "Unknown unit.")]
        )
    return unit


def _identify(
    ctx: CaseContext, raw: str, actualised_on: date, values: dict[str, Any]
) -> tuple[str, str, int]:
    """Normalise the client identifier and derive the pseudonym; fill in age."""
    try:
        identifier = normalise_client_identifier(raw, today=today())
    except InvalidClientIdentifier as exc:
        messages = {
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
        sv, en = messages.get(exc.reason_code, messages["format"])
        raise ValidationFailed(
            [FieldError("/client_id", f"client_id_{exc.reason_code}", sv, en)]
        ) from None
    if identifier.birth_date is not None:
        if identifier.birth_date > actualised_on:
            raise ValidationFailed(
                [
                    FieldError(
                        "/client_id",
                        "client_id_future",
                        "Klienten var inte född vid aktualiseringen.",
                        "The client was not born when the case opened.",
                    )
                ]
            )
        age = age_on(identifier.birth_date, actualised_on)
        _raise(adult(age, "/client_id"))
        given = values.get(AGE_KEY)
        if given is None:
            values[AGE_KEY] = age
            values.setdefault(AGE_BASIS_KEY, AGE_BASIS_ACTUAL)
        elif abs(given - age) > 1:
            _raise(
                [
                    FieldError(
                        f"/values/{AGE_KEY}",
                        "age_mismatch",
                        "Åldern stämmer inte med personnumret.",
                        "The age does not match the personal identity number.",
                    )
                ]
            )
    municipality = ctx.principal.municipality_code or ""
    # Create the municipality's data key now, before the case is in the session:
    # creating it later (first comment) would flush the case mid-request.
    ctx.keyring.current(ctx.session, municipality, "data")
    version, key = ctx.keyring.current(ctx.session, municipality, "pseudonym")
    client_pseudonym = pseudonym(key, identifier.canonical)
    if municipality in ctx.settings.kodnyckel_municipalities:
        _store_kodnyckel(ctx, municipality, client_pseudonym, identifier.canonical)
    return client_pseudonym, identifier.kind, version


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
    }


def _apply_values(
    ctx: CaseContext, case: Case, data: dict[str, Any], *, is_closed: bool
) -> tuple[list[str], list[FieldError]]:
    """Merge values, local values and comments from ``data`` into ``case``."""
    changed: list[str] = []
    errors: list[FieldError] = []
    shared, local = split_values(case.values)
    incoming = data.get("values") or {}
    if incoming:
        shared, errs = merge_values(ctx.catalogue, shared, incoming, is_closed=is_closed)
        errors += errs
        changed += list(incoming)
    incoming_local = data.get("local_values") or {}
    if incoming_local:
        local, errs = merge_local(
            for_municipality(ctx.session, case.municipality_code), local, incoming_local
        )
        errors += errs
        changed += list(incoming_local)
    case.values = {**shared, **local}
    incoming_comments = data.get("comments") or {}
    if incoming_comments:
        stored = open_sealed(
            ctx.session,
            ctx.keyring,
            case.municipality_code,
            case.comments_ciphertext,
            case.data_key_version,
            context=case_comments_context(case.id),
        )
        texts = merge_texts(stored, incoming_comments)
        case.comments_ciphertext, case.data_key_version = seal(
            ctx.session,
            ctx.keyring,
            case.municipality_code,
            texts,
            context=case_comments_context(case.id),
        )
        changed += [f"comment:{k}" for k in incoming_comments]
    return changed, errors


def create_case(ctx: CaseContext, data: dict[str, Any]) -> Case:
    unit = _resolve_unit(ctx, data.get("unit_id"))
    actualised_on: date = data["actualised_on"]
    values = dict(data.get("values") or {})
    errors = case_dates(
        actualised_on=actualised_on,
        closed_on=None,
        intervention_starts=[],
        today=today(),
        pointers=DATE_POINTERS,
    )
    _raise(errors)
    client_pseudonym, kind, key_version = _identify(ctx, data["client_id"], actualised_on, values)
    case = Case(
        id=uuid.uuid4(),
        unit_id=unit.id,
        municipality_code=unit.municipality_code,
        district_code=unit.district_code,
        client_pseudonym=client_pseudonym,
        client_id_kind=kind,
        pseudonym_key_version=key_version,
        caseworker_ref=data.get("caseworker_ref"),
        actualised_on=actualised_on,
        values={},
        catalogue_version=ctx.catalogue.version,
        version=1,
        created_by_id=ctx.principal.user_id,
        interventions=[],
        risk_assessments=[],
        survey=None,
    )
    changed, errors = _apply_values(ctx, case, {**data, "values": values}, is_closed=False)
    _raise(errors)
    refresh_derived(case)
    ctx.session.add(case)
    remember_new(ctx.session, case)
    fields = [
        "client_id",
        "actualised_on",
        *(["caseworker_ref"] if case.caseworker_ref else []),
        *changed,
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


def list_cases(
    ctx: CaseContext,
    *,
    status: str | None,
    unit_id: uuid.UUID | None,
    actualised_from: date | None,
    actualised_to: date | None,
    limit: int,
    cursor: str | None = None,
) -> dict[str, Any]:
    """A page of cases, newest opening date first (keyset pagination: the cost
    of a page does not grow with how far into the list it is; no total count)."""
    query = scoped(select(Case), ctx.principal)
    if status is not None:
        query = query.where(Case.status == status)
    if unit_id is not None:
        query = query.where(Case.unit_id == unit_id)
    if actualised_from is not None:
        query = query.where(Case.actualised_on >= actualised_from)
    if actualised_to is not None:
        query = query.where(Case.actualised_on <= actualised_to)
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
    ctx.audit("case.list", object_type="case", fields=[])
    return {
        "items": [
            {
                "id": c.id,
                "unit_id": c.unit_id,
                "actualised_on": c.actualised_on,
                "closed_on": c.closed_on,
                "status": c.status,
                "is_excluded": c.is_excluded,
                "version": c.version,
            }
            for c in rows
        ],
        "limit": limit,
        "next_cursor": _cursor(rows[-1]) if more else None,
    }


def update_case(
    ctx: CaseContext, case_id: uuid.UUID, expected_version: int, data: dict[str, Any]
) -> Case:
    case = get_case(ctx.session, ctx.principal, case_id)
    check_version(case, expected_version)
    changed: list[str] = []
    errors: list[FieldError] = []
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
    value_changes, value_errors = _apply_values(
        ctx, case, data, is_closed=case.closed_on is not None
    )
    errors += value_errors
    changed += value_changes
    errors += case_dates(
        actualised_on=case.actualised_on,
        closed_on=case.closed_on,
        intervention_starts=[i.start_on for i in case.interventions],
        today=today(),
        # Only the opening date can move here: whatever it passes is its error.
        pointers=dict.fromkeys(DATE_POINTERS, DATE_POINTERS["actualised_on"]),
    )
    if "actualised_on" in changed:
        errors += _records_predating(case)
    if AGE_KEY in (data.get("values") or {}):
        errors += adult(case.values.get(AGE_KEY), f"/values/{AGE_KEY}")
    _raise(errors)
    if not changed:
        return case
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
    ctx: CaseContext, case_id: uuid.UUID, expected_version: int, data: dict[str, Any]
) -> Case:
    case = get_case(ctx.session, ctx.principal, case_id)
    check_version(case, expected_version)
    if case.closed_on is not None:
        raise Conflict("Ärendet är redan avslutat.", "The case is already closed.")
    case.closed_on = data["closed_on"]
    errors = case_dates(
        actualised_on=case.actualised_on,
        closed_on=case.closed_on,
        intervention_starts=[i.start_on for i in case.interventions],
        today=today(),
        pointers={**DATE_POINTERS, "intervention": "/closed_on"},
    )
    changed, value_errors = _apply_values(ctx, case, data, is_closed=True)
    _raise(errors + value_errors)
    refresh_derived(case)
    touch(case)
    fields = ["closed_on", *changed]
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
