"""Repeated records of a case: interventions, risk assessments, the survey.

Every change moves the case's version (ETag) and is audited and kept in the
case's history.
"""

from __future__ import annotations

import uuid
from typing import Any

from app.cases.context import CaseContext
from app.cases.rules import case_dates, not_in_future
from app.cases.scope import get_case
from app.cases.service import DATE_POINTERS, check_version, record_revision, refresh_derived, touch
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


def _check_dates(case: Case, pointer: str) -> None:
    errors = case_dates(
        actualised_on=case.actualised_on,
        closed_on=case.closed_on,
        intervention_starts=[i.start_on for i in case.interventions],
        today=today(),
        pointers={**DATE_POINTERS, "intervention": pointer},
    )
    if errors:
        raise ValidationFailed(errors)


def _finish(
    ctx: CaseContext,
    case: Case,
    action: str,
    object_type: str,
    object_id: uuid.UUID,
    fields: list[str],
) -> None:
    refresh_derived(case)
    touch(case)
    record_revision(ctx, case, action, fields)
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


def _apply_intervention(
    ctx: CaseContext, case: Case, item: Intervention, data: dict[str, Any]
) -> list[str]:
    changed = []
    for key, column in (
        ("intervention_start_on", "start_on"),
        ("intervention_type", "type_code"),
        ("intervention_grounds", "grounds_code"),
    ):
        if key in data:
            if data[key] is None and key != "intervention_grounds":
                raise ValidationFailed(
                    [
                        FieldError(
                            f"/{key}", "missing", "Uppgiften saknas.", "This field is required."
                        )
                    ]
                )
            setattr(item, column, data[key])
            changed.append(key)
    if data.get("comments"):
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
    return changed


def add_intervention(
    ctx: CaseContext, case_id: uuid.UUID, data: dict[str, Any]
) -> tuple[Case, Intervention]:
    case = get_case(ctx.session, ctx.principal, case_id)
    item = Intervention(id=uuid.uuid4(), case_id=case.id)
    changed = _apply_intervention(ctx, case, item, data)
    case.interventions.append(item)
    _check_dates(case, "/intervention_start_on")
    _finish(ctx, case, "create", "intervention", item.id, changed)
    return case, item


def update_intervention(
    ctx: CaseContext,
    case_id: uuid.UUID,
    item_id: uuid.UUID,
    expected_version: int,
    data: dict[str, Any],
) -> tuple[Case, Intervention]:
    case = get_case(ctx.session, ctx.principal, case_id)
    item: Intervention = _find(case.interventions, item_id)
    check_version(case, expected_version)
    changed = _apply_intervention(ctx, case, item, data)
    _check_dates(case, "/intervention_start_on")
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


def _apply_risk(case: Case, item: RiskAssessment, data: dict[str, Any]) -> list[str]:
    changed = []
    for key, column in _RISK_COLUMNS:
        if key in data:
            if data[key] is None and key != "score":
                raise ValidationFailed(
                    [
                        FieldError(
                            f"/{key}", "missing", "Uppgiften saknas.", "This field is required."
                        )
                    ]
                )
            setattr(item, column, data[key])
            changed.append(key)
    errors = not_in_future(item.assessed_on, today(), "/assessed_on")
    if item.assessed_on < case.actualised_on:
        errors.append(
            FieldError(
                "/assessed_on",
                "before_actualisation",
                "Skattningen kan inte göras före aktualiseringen.",
                "The assessment cannot predate the case.",
            )
        )
    if errors:
        raise ValidationFailed(errors)
    return changed


def add_risk(
    ctx: CaseContext, case_id: uuid.UUID, data: dict[str, Any]
) -> tuple[Case, RiskAssessment]:
    case = get_case(ctx.session, ctx.principal, case_id)
    item = RiskAssessment(id=uuid.uuid4(), case_id=case.id)
    changed = _apply_risk(case, item, data)
    case.risk_assessments.append(item)
    _finish(ctx, case, "create", "risk_assessment", item.id, changed)
    return case, item


def update_risk(
    ctx: CaseContext,
    case_id: uuid.UUID,
    item_id: uuid.UUID,
    expected_version: int,
    data: dict[str, Any],
) -> tuple[Case, RiskAssessment]:
    case = get_case(ctx.session, ctx.principal, case_id)
    item: RiskAssessment = _find(case.risk_assessments, item_id)
    check_version(case, expected_version)
    changed = _apply_risk(case, item, data)
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


def put_survey(
    ctx: CaseContext, case_id: uuid.UUID, expected_version: int, data: dict[str, Any]
) -> Case:
    case = get_case(ctx.session, ctx.principal, case_id)
    check_version(case, expected_version)
    if case.closed_on is None:
        raise ValidationFailed(
            [
                FieldError(
                    "",
                    "case_not_closed",
                    "Brukarenkäten registreras när ärendet är avslutat.",
                    "The client survey is registered once the case is closed.",
                )
            ]
        )
    answered_on = data["answered_on"]
    errors = not_in_future(answered_on, today(), "/answered_on")
    if answered_on < case.actualised_on:
        errors.append(
            FieldError(
                "/answered_on",
                "before_actualisation",
                "Enkäten kan inte besvaras före aktualiseringen.",
                "The survey cannot predate the case.",
            )
        )
    text_keys = survey_text_keys(ctx)
    question_keys = [
        v.key for v in ctx.catalogue.group_variables("survey") if v.key not in text_keys
    ]
    values = {k: data[k] for k in question_keys if data.get(k) is not None}
    errors += check_skip_logic(ctx.catalogue.variables, values, "")
    if errors:
        raise ValidationFailed(errors)
    texts = {k: data[k] for k in text_keys if data.get(k)}
    texts.update({f"comment:{k}": v for k, v in (data.get("comments") or {}).items() if v})
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
    _finish(ctx, case, "put", "survey", survey.id, fields)
    return case
