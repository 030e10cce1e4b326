"""Example request bodies for /docs, generated from the catalogue.

Every example is synthetic and valid as it stands, so a caseworker can try
each route from /docs in the order of a case's life: register, update, add an
intervention and a risk assessment, close, register the client survey. Values
come from the catalogue (first active code, a mid-range integer), never from
hand-written variable keys, so the examples follow the catalogue when it grows.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

from app.cases.exclusion import ExclusionReason
from app.cases.rules import AGE_KEY
from app.catalogue.loader import Catalogue
from app.catalogue.models import value_variables
from app.catalogue.spec import ExtraField, Phase, Variable, VariableType

# Dates in the order the rules require: opened ≤ assessed, started ≤ closed ≤ survey.
ACTUALISED_ON = date(2025, 3, 1)
ASSESSED_ON = date(2025, 3, 5)
INTERVENTION_ON = date(2025, 3, 10)
CLOSED_ON = date(2025, 6, 1)
SURVEY_ON = date(2025, 6, 15)

SYNTHETIC_PERSONNUMMER = "19121212-1212"
"""Skatteverket's classic example number: belongs to nobody."""
LOCAL_CLIENT_CODE = "KLIENT-0001"
EXAMPLE_TEXT = "Exempeltext (syntetisk) / example text (synthetic)"

Examples = dict[str, dict[str, Any]]


def example_value(variable: Variable | ExtraField, on: date, *, second: bool = False) -> Any:
    """A valid value: the first active code (or the second), a mid-range integer."""
    kind = variable.type
    if kind in (VariableType.single, VariableType.multi):
        codes = [o.code for o in variable.options if not o.retired and not o.exclusive]
        code = codes[1] if second and len(codes) > 1 else codes[0]
        return [code] if kind is VariableType.multi else code
    if kind is VariableType.integer:
        low = variable.minimum if variable.minimum is not None else 0
        high = variable.maximum if variable.maximum is not None else low + 10
        return (low + high) // 2
    if kind is VariableType.date:
        return on.isoformat()
    return EXAMPLE_TEXT


def example_values(
    catalogue: Catalogue, variables: Iterable[Variable | ExtraField], on: date
) -> dict[str, Any]:
    """One value per variable, leaving out those whose skip logic does not hold."""
    values = {v.key: example_value(v, on) for v in variables}
    for key in list(values):
        variable = catalogue.variables.get(key)
        cond = variable.applies_when if variable is not None else None
        if cond is not None and values.get(cond.variable) not in cond.any_of:
            del values[key]
    return values


def example_comments(variables: Iterable[Variable]) -> dict[str, str]:
    """A comment on the first variable that takes one."""
    for variable in variables:
        if variable.comment is not None:
            return {variable.key: EXAMPLE_TEXT}
    return {}


def _phase(catalogue: Catalogue, *phases: Phase) -> list[Variable]:
    return [v for v in value_variables(catalogue) if v.phase in phases]


def _group(catalogue: Catalogue, group: str, on: date) -> tuple[dict[str, Any], list[Variable]]:
    variables = catalogue.group_variables(group)
    fields: list[Variable | ExtraField] = [*catalogue.groups[group].extra_fields, *variables]
    return example_values(catalogue, fields, on), variables


def _first_coded(catalogue: Catalogue, group: str) -> Variable | ExtraField:
    fields: list[Variable | ExtraField] = [
        *catalogue.group_variables(group),
        *catalogue.groups[group].extra_fields,
    ]
    return next(f for f in fields if f.type is VariableType.single)


def _one(summary: str, value: dict[str, Any], description: str | None = None) -> dict[str, Any]:
    example: dict[str, Any] = {"summary": summary, "value": value}
    if description:
        example["description"] = description
    return example


def build_examples(catalogue: Catalogue) -> dict[str, Examples]:
    """``openapi_examples`` for each case route that takes a body."""
    background = _phase(catalogue, Phase.bakgrund)
    ongoing = _phase(catalogue, Phase.fore, Phase.under)
    closing = _phase(catalogue, Phase.efter)
    background_values = example_values(catalogue, background, ACTUALISED_ON)
    ongoing_values = example_values(catalogue, ongoing, ACTUALISED_ON)
    none_registered = [v for v in ongoing if v.type is VariableType.multi and v.empty_allowed]

    update: Examples = {
        "values": _one(
            "Uppgifter före och under stödet (values before and during support)",
            {"values": ongoing_values, "comments": example_comments(ongoing)},
        )
    }
    if none_registered:
        update["none"] = _one(
            "Registrerat som inget (registered as none)",
            {"values": {none_registered[0].key: []}},
            "`[]` betyder registrerat som inget; `null` tar bort uppgiften "
            "(`[]` means registered as none; `null` removes the value).",
        )

    intervention, intervention_vars = _group(catalogue, "intervention", INTERVENTION_ON)
    risk, _ = _group(catalogue, "risk_assessment", ASSESSED_ON)
    survey, survey_vars = _group(catalogue, "survey", SURVEY_ON)
    intervention_field = _first_coded(catalogue, "intervention")
    risk_field = _first_coded(catalogue, "risk_assessment")

    return {
        "create": {
            "own_code": _one(
                "Verksamhetens egen kod (the unit's own code for the client)",
                {
                    "client_id": LOCAL_CLIENT_CODE,
                    "actualised_on": ACTUALISED_ON.isoformat(),
                    "caseworker_ref": "HL-1",
                    "values": background_values,
                    "comments": example_comments(background),
                },
            ),
            "personnummer": _one(
                "Personnummer: åldern räknas ut (the age is derived)",
                {
                    "client_id": SYNTHETIC_PERSONNUMMER,
                    "actualised_on": ACTUALISED_ON.isoformat(),
                    "values": {k: v for k, v in background_values.items() if k != AGE_KEY},
                },
                "Numret lagras aldrig i klartext, bara som pseudonym "
                "(never stored in clear, only as a pseudonym).",
            ),
        },
        "update": update,
        "close": {
            "close": _one(
                "Avsluta med avslutsorsak och måluppföljning (close with reason and follow-up)",
                {
                    "closed_on": CLOSED_ON.isoformat(),
                    "values": example_values(catalogue, closing, CLOSED_ON),
                    "comments": example_comments(closing),
                },
            )
        },
        "exclusion": {
            "exclude": _one(
                "Undanta (exclude from statistics)", {"reason": next(iter(ExclusionReason)).value}
            )
        },
        "intervention_in": {
            "intervention": _one(
                "Ett stöd/en insats (one intervention)",
                {**intervention, "comments": example_comments(intervention_vars)},
            )
        },
        "intervention_patch": {
            "change": _one(
                "Ändra en uppgift (change one field)",
                {intervention_field.key: example_value(intervention_field, CLOSED_ON, second=True)},
            )
        },
        "risk_in": {"assessment": _one("En riskskattning (one risk assessment)", risk)},
        "risk_patch": {
            "change": _one(
                "Ändra en uppgift (change one field)",
                {risk_field.key: example_value(risk_field, ASSESSED_ON, second=True)},
            )
        },
        "survey_in": {
            "survey": _one(
                "Brukarenkät (client survey)",
                {**survey, "comments": example_comments(survey_vars)},
                "Bara för avslutade ärenden (closed cases only).",
            )
        },
    }
