"""Repeated records of a case: interventions, risk assessments, the survey.

Every change moves the case's version (ETag) and is audited and kept in the
case's history.
"""

from __future__ import annotations

import uuid
from typing import Any

from app.cases.bodies import Submitted
from app.cases.context import CaseContext
from app.cases.rules import case_dates, not_in_future
from app.cases.scope import get_case
from app.cases.service import (
    DATE_POINTERS,
    as_submitted,
    check_submitted_version,
    check_version,
    intervention_dates,
    record_revision,
    refresh_derived,
    touch,
)
from app.cases.values import merge_texts
from app.catalogue.spec import VariableType
from app.catalogue.validation import check_skip_logic
from app.clock import today
from app.errors import FieldError, NotFound, ValidationFailed
from app.models import Case, Intervention, RiskAssessment, SurveyResponse
from app.security.sealed import open_sealed, seal


def intervention_context(intervention_id: uuid.UUID) -> str:
    return f"intervention:{intervention_id}:comments"


def survey_context(case_id: uuid.UUID) -> str:
    return f"survey:{case_id}:text"


def intervention_dict(ctx: CaseContext, i: Intervention, municipality_code: str) -> dict[str, Any]:
    comments = open_sealed(
        ctx.session,
        ctx.keyring,
        municipality_code,
        i.comments_ciphertext,
        i.data_key_version,
        context=intervention_context(i.id),
    )
    return {
        "id": i.id,
        "intervention_start_on": i.start_on,
        "intervention_type": i.type_code,
        "intervention_grounds": i.grounds_code,
        "comments": comments,
    }


def risk_dict(r: RiskAssessment) -> dict[str, Any]:
    return {
        "id": r.id,
        "assessed_on": r.assessed_on,
        "assessment_phase": r.phase_code,
        "risk_instrument": r.instrument_code,
        "score": r.score,
    }


def survey_dict(ctx: CaseContext, s: SurveyResponse, municipality_code: str) -> dict[str, Any]:
    texts = open_sealed(
        ctx.session,
        ctx.keyring,
        municipality_code,
        s.text_ciphertext,
        s.data_key_version,
        context=survey_context(s.case_id),
    )
    comments = {k.removeprefix("comment:"): v for k, v in texts.items() if k.startswith("comment:")}
    return {
        "id": s.id,
        "answered_on": s.answered_on,
        "language": s.language_code,
        "mode": s.mode_code,
        **s.values,
        **{key: texts.get(key) for key in survey_text_keys(ctx)},
        "comments": comments,
    }


def survey_text_keys(ctx: CaseContext) -> list[str]:
    """The survey's free-text items (217): stored encrypted, never in ``values``."""
    return [v.key for v in ctx.catalogue.group_variables("survey") if v.type is VariableType.text]


def _date_errors(ctx: CaseContext, case: Case, pointer: str) -> list[FieldError]:
    return case_dates(
        actualised_on=case.actualised_on,
        closed_on=case.closed_on,
        interventions=intervention_dates(ctx.catalogue, case.interventions),
        today=today(),
        pointers={**DATE_POINTERS, "intervention": pointer},
    )


def _required(key: str) -> FieldError:
    return FieldError(f"/{key}", "missing", "Uppgiften saknas.", "This field is required.")


def _finish(
    ctx: CaseContext,
    case: Case,
    action: str,
    object_type: str,
    object_id: uuid.UUID,
    fields: list[str],
    *,
    revision_action: str | None = None,
) -> None:
    refresh_derived(case)
    touch(case)
    record_revision(ctx, case, revision_action or action, fields)
    ctx.audit(
        f"{object_type}.{action}",
        object_type=object_type,
        object_id=object_id,
        fields=fields,
        municipality_code=case.municipality_code,
    )


def _find(items: list[Any], item_id: uuid.UUID) -> Any:
    found = next((x for x in items if x.id == item_id), None)
    if found is None:
        raise NotFound()
    return found


# --- interventions ---------------------------------------------------------


_INTERVENTION_COLUMNS = (
    ("intervention_start_on", "start_on"),
    ("intervention_type", "type_code"),
    ("intervention_grounds", "grounds_code"),
)
_NULLABLE = frozenset({"intervention_grounds", "score"})


def _apply_intervention(
    ctx: CaseContext, case: Case, item: Intervention, data: dict[str, Any]
) -> tuple[list[str], list[FieldError]]:
    changed = []
    errors = []
    for key, column in _INTERVENTION_COLUMNS:
        if key in data:
            if data[key] is None and key not in _NULLABLE:
                errors.append(_required(key))
                continue
            setattr(item, column, data[key])
            changed.append(key)
    if data.get("comments") and not errors:
        stored = open_sealed(
            ctx.session,
            ctx.keyring,
            case.municipality_code,
            item.comments_ciphertext,
            item.data_key_version,
            context=intervention_context(item.id),
        )
        texts = merge_texts(stored, data["comments"])
        item.comments_ciphertext, item.data_key_version = seal(
            ctx.session,
            ctx.keyring,
            case.municipality_code,
            texts,
            context=intervention_context(item.id),
        )
        changed += [f"comment:{k}" for k in data["comments"]]
    return changed, errors


def add_intervention(
    ctx: CaseContext, case_id: uuid.UUID, body: dict[str, Any] | Submitted
) -> tuple[Case, Intervention]:
    case = get_case(ctx.session, ctx.principal, case_id)
    submitted = as_submitted(body)
    item = Intervention(id=uuid.uuid4(), case_id=case.id)
    errors = list(submitted.errors)
    changed, more = _apply_intervention(ctx, case, item, submitted.data)
    errors += more
    if item.start_on is not None:
        # Checked as if added: the new start against the case's dates.
        errors += case_dates(
            actualised_on=case.actualised_on,
            closed_on=case.closed_on,
            interventions=intervention_dates(ctx.catalogue, [*case.interventions, item]),
            today=today(),
            pointers={**DATE_POINTERS, "intervention": "/intervention_start_on"},
        )
    if errors:
        raise ValidationFailed(errors)
    case.interventions.append(item)
    _finish(ctx, case, "create", "intervention", item.id, changed)
    return case, item


def update_intervention(
    ctx: CaseContext,
    case_id: uuid.UUID,
    item_id: uuid.UUID,
    expected_version: int,
    body: dict[str, Any] | Submitted,
) -> tuple[Case, Intervention]:
    case = get_case(ctx.session, ctx.principal, case_id)
    item: Intervention = _find(case.interventions, item_id)
    submitted = as_submitted(body)
    check_submitted_version(case, expected_version, submitted)
    errors = list(submitted.errors)
    changed, more = _apply_intervention(ctx, case, item, submitted.data)
    errors += more + _date_errors(ctx, case, "/intervention_start_on")
    if errors:
        raise ValidationFailed(errors)
    _finish(ctx, case, "update", "intervention", item.id, changed)
    return case, item


def delete_intervention(
    ctx: CaseContext, case_id: uuid.UUID, item_id: uuid.UUID, expected_version: int
) -> Case:
    case = get_case(ctx.session, ctx.principal, case_id)
    item: Intervention = _find(case.interventions, item_id)
    check_version(case, expected_version)
    case.interventions.remove(item)
    _finish(ctx, case, "delete", "intervention", item.id, [])
    return case


# --- risk assessments ------------------------------------------------------

_RISK_COLUMNS = (
    ("assessed_on", "assessed_on"),
    ("assessment_phase", "phase_code"),
    ("risk_instrument", "instrument_code"),
    ("score", "score"),
)


def _apply_risk(
    case: Case, item: RiskAssessment, submitted: Submitted
) -> tuple[list[str], list[FieldError]]:
    changed = []
    errors = list(submitted.errors)
    for key, column in _RISK_COLUMNS:
        if key in submitted.data:
            if submitted.data[key] is None and key not in _NULLABLE:
                errors.append(_required(key))
                continue
            setattr(item, column, submitted.data[key])
            changed.append(key)
    if item.assessed_on is not None:
        errors += not_in_future(item.assessed_on, today(), "/assessed_on")
        if item.assessed_on < case.actualised_on:
            errors.append(
                FieldError(
                    "/assessed_on",
                    "before_actualisation",
                    "Skattningen kan inte göras före aktualiseringen "
                    f"({case.actualised_on.isoformat()}).",
                    f"The assessment cannot predate the case ({case.actualised_on.isoformat()}).",
                )
            )
    return changed, errors


def add_risk(
    ctx: CaseContext, case_id: uuid.UUID, body: dict[str, Any] | Submitted
) -> tuple[Case, RiskAssessment]:
    case = get_case(ctx.session, ctx.principal, case_id)
    item = RiskAssessment(id=uuid.uuid4(), case_id=case.id)
    changed, errors = _apply_risk(case, item, as_submitted(body))
    if errors:
        raise ValidationFailed(errors)
    case.risk_assessments.append(item)
    _finish(ctx, case, "create", "risk_assessment", item.id, changed)
    return case, item


def update_risk(
    ctx: CaseContext,
    case_id: uuid.UUID,
    item_id: uuid.UUID,
    expected_version: int,
    body: dict[str, Any] | Submitted,
) -> tuple[Case, RiskAssessment]:
    case = get_case(ctx.session, ctx.principal, case_id)
    item: RiskAssessment = _find(case.risk_assessments, item_id)
    submitted = as_submitted(body)
    check_submitted_version(case, expected_version, submitted)
    changed, errors = _apply_risk(case, item, submitted)
    if errors:
        raise ValidationFailed(errors)
    _finish(ctx, case, "update", "risk_assessment", item.id, changed)
    return case, item


def delete_risk(
    ctx: CaseContext, case_id: uuid.UUID, item_id: uuid.UUID, expected_version: int
) -> Case:
    case = get_case(ctx.session, ctx.principal, case_id)
    item: RiskAssessment = _find(case.risk_assessments, item_id)
    check_version(case, expected_version)
    case.risk_assessments.remove(item)
    _finish(ctx, case, "delete", "risk_assessment", item.id, [])
    return case


# --- survey ----------------------------------------------------------------


CLIENT_ANSWER = "put_by_client"
"""The history's action for a survey the client answered on a one-time link."""


def put_survey(
    ctx: CaseContext,
    case_id: uuid.UUID,
    expected_version: int,
    body: dict[str, Any] | Submitted,
    *,
    by_client: bool = False,
) -> Case:
    """Register (or replace) the case's survey answers. ``by_client``: the
    client answered on a link; the history says so, not the caseworker."""
    case = get_case(ctx.session, ctx.principal, case_id)
    submitted = as_submitted(body)
    check_submitted_version(case, expected_version, submitted)
    data = submitted.data
    errors = list(submitted.errors)
    if case.closed_on is None:
        errors.append(
            FieldError(
                "",
                "case_not_closed",
                "Brukarenkäten registreras när ärendet är avslutat.",
                "The client survey is registered once the case is closed.",
            )
        )
    answered_on = data.get("answered_on")
    if answered_on is not None:
        errors += not_in_future(answered_on, today(), "/answered_on")
        if answered_on < case.actualised_on:
            errors.append(
                FieldError(
                    "/answered_on",
                    "before_actualisation",
                    "Enkäten kan inte besvaras före aktualiseringen "
                    f"({case.actualised_on.isoformat()}).",
                    f"The survey cannot predate the case ({case.actualised_on.isoformat()}).",
                )
            )
    text_keys = survey_text_keys(ctx)
    question_keys = [
        v.key for v in ctx.catalogue.group_variables("survey") if v.key not in text_keys
    ]
    values = {k: data[k] for k in question_keys if data.get(k) is not None}
    undecided = {e.pointer.lstrip("/").split("/")[0] for e in submitted.errors}
    errors += check_skip_logic(ctx.catalogue.variables, values, "", undecided)
    if errors:
        raise ValidationFailed(errors)
    texts = {k: data[k] for k in text_keys if data.get(k)}
    texts.update({f"comment:{k}": v for k, v in (data.get("comments") or {}).items() if v})
    assert answered_on is not None  # required: its absence is an error above
    survey = case.survey or SurveyResponse(id=uuid.uuid4(), case_id=case.id)
    survey.answered_on = answered_on
    survey.language_code = data["language"]
    survey.mode_code = data["mode"]
    survey.values = values
    survey.text_ciphertext, survey.data_key_version = seal(
        ctx.session, ctx.keyring, case.municipality_code, texts, context=survey_context(case.id)
    )
    case.survey = survey
    fields = ["answered_on", "language", "mode", *values, *(k for k in texts)]
    _finish(
        ctx,
        case,
        "put",
        "survey",
        survey.id,
        fields,
        revision_action=CLIENT_ANSWER if by_client else None,
    )
    return case
