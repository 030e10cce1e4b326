"""Request and response models of the case API, generated from the catalogue.

Built once per app (``build_case_schemas``) so that the OpenAPI schema lists
every variable with its codes; nothing here names a variable by hand except
the structural fields of a case.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, create_model
from pydantic_core import PydanticCustomError

from app.cases.examples import Examples, build_examples
from app.cases.exclusion import ExclusionReason
from app.catalogue.loader import Catalogue
from app.catalogue.models import (
    IsoDate,
    SafeText,
    comments_model,
    group_model,
    value_variables,
    values_model,
)
from app.catalogue.spec import LOCAL_KEY_PATTERN, Phase
from app.models import STATUSES
from app.security.identifiers import contains_personal_number

LocalKey = Annotated[SafeText, Field(max_length=80, pattern=LOCAL_KEY_PATTERN)]
LocalValues = Annotated[
    dict[LocalKey, Any],
    Field(
        max_length=200,
        description="Kommunens/regionens egna variabler (local variables), nyckel `k0180.x`.",
    ),
]


@dataclass(frozen=True)
class CaseSchemas:
    values: type[BaseModel]
    comments: type[BaseModel]
    create: type[BaseModel]
    update: type[BaseModel]
    close: type[BaseModel]
    read: type[BaseModel]
    page: type[BaseModel]
    intervention_in: type[BaseModel]
    intervention_read: type[BaseModel]
    intervention_patch: type[BaseModel]
    risk_in: type[BaseModel]
    risk_patch: type[BaseModel]
    risk_read: type[BaseModel]
    survey_in: type[BaseModel]
    survey_read: type[BaseModel]
    examples: dict[str, Examples]
    """``openapi_examples`` per body (see :mod:`app.cases.examples`)."""


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ExclusionIn(Strict):
    reason: ExclusionReason = Field(description="Orsak till att ärendet undantas från statistiken.")


class CaseWarning(Strict):
    """A catalogue consistency check the case fails (``variables/checks.yaml``).
    Not an error: the data is saved. See docs/errors.md."""

    pointer: str = Field(description="JSON-pekare in i ärendet som API:t returnerar det")
    code: str = Field(description="Kontrollens nyckel i katalogen (the check's key)")
    detail: str
    detail_en: str


class RevisionRead(BaseModel):
    version: int
    changed_at: datetime
    changed_by: uuid.UUID
    action: str
    fields: list[str]
    snapshot: dict[str, Any]


class HistoryRead(BaseModel):
    case_id: uuid.UUID
    revisions: list[RevisionRead]


def _strict(name: str, base: type[BaseModel] | None = None, **fields: Any) -> type[BaseModel]:
    if base is not None:
        return create_model(name, __base__=base, **fields)
    return create_model(name, __config__=ConfigDict(extra="forbid"), **fields)


def no_personal_number(value: str) -> str:
    """A caseworker reference is stored in clear: never a personnummer in it."""
    if contains_personal_number(value):
        raise PydanticCustomError("personal_number", "Not a personal identity number")
    return value


def build_case_schemas(catalogue: Catalogue) -> CaseSchemas:
    variables = value_variables(catalogue)
    values = values_model("CaseValues", variables)
    comments = comments_model(
        "CaseComments", [*variables, *catalogue.group_variables("intervention")]
    )
    efter = [v for v in variables if v.phase is Phase.efter]
    caseworker_ref = Annotated[
        SafeText,
        AfterValidator(no_personal_number),
        Field(max_length=64, description="SUV 3: handläggarens referens (aldrig ett personnummer)"),
    ]

    create = _strict(
        "CaseCreate",
        unit_id=(
            uuid.UUID | None,
            Field(default=None, description="Verksamhet (krävs för samordnare)"),
        ),
        client_id=(
            Annotated[SafeText, Field(min_length=1, max_length=64)],
            Field(
                description="SUV 4: personnummer, samordningsnummer eller verksamhetens egen kod. Lagras aldrig i klartext."
            ),
        ),
        actualised_on=(IsoDate, Field(description="SUV 5: datum för aktualisering")),
        caseworker_ref=(caseworker_ref | None, None),
        values=(values | None, None),
        comments=(comments | None, None),
        local_values=(LocalValues | None, None),
    )
    update = _strict(
        "CaseUpdate",
        actualised_on=(IsoDate | None, None),
        caseworker_ref=(caseworker_ref | None, None),
        values=(values | None, None),
        comments=(comments | None, None),
        local_values=(LocalValues | None, None),
    )
    close = _strict(
        "CaseClose",
        closed_on=(IsoDate, Field(description="SUV 256: datum för avslut")),
        values=(values_model("CaseCloseValues", efter) | None, None),
        comments=(comments_model("CaseCloseComments", efter) | None, None),
    )

    intervention_comments = comments_model(
        "InterventionComments", catalogue.group_variables("intervention")
    )
    intervention_in = group_model(
        catalogue,
        "intervention",
        "InterventionIn",
        required=frozenset({"intervention_start_on", "intervention_type"}),
        extra={"comments": (intervention_comments | None, None)},
    )
    intervention_read = _strict(
        "InterventionRead",
        intervention_in,
        id=(uuid.UUID, ...),
    )
    intervention_patch = group_model(
        catalogue,
        "intervention",
        "InterventionPatch",
        partial=True,
        extra={"comments": (intervention_comments | None, None)},
    )
    risk_in = group_model(
        catalogue, "risk_assessment", "RiskAssessmentIn", required=frozenset({"risk_instrument"})
    )
    risk_patch = group_model(catalogue, "risk_assessment", "RiskAssessmentPatch", partial=True)
    risk_read = _strict("RiskAssessmentRead", risk_in, id=(uuid.UUID, ...))
    survey_comments = comments_model("SurveyComments", catalogue.group_variables("survey"))
    survey_in = group_model(
        catalogue, "survey", "SurveyIn", extra={"comments": (survey_comments | None, None)}
    )
    survey_read = _strict("SurveyRead", survey_in, id=(uuid.UUID, ...))

    status = Annotated[str, Field(json_schema_extra={"enum": list(STATUSES)})]
    read = _strict(
        "CaseRead",
        id=(uuid.UUID, ...),
        unit_id=(uuid.UUID, ...),
        municipality_code=(str, ...),
        district_code=(str | None, None),
        client_pseudonym=(str, Field(description="HMAC-pseudonym under kommunens nyckel")),
        client_id_kind=(str, ...),
        previous_cases=(
            int,
            Field(description="Tidigare ärenden för samma klient i kommunen (återaktualisering)"),
        ),
        actualised_on=(date, ...),
        closed_on=(date | None, None),
        caseworker_ref=(str | None, None),
        status=(status, ...),
        is_excluded=(bool, ...),
        exclusion_reason=(str | None, None),
        values=(values, ...),
        comments=(comments, ...),
        local_values=(dict[str, Any], ...),
        interventions=(list[intervention_read], ...),  # type: ignore[valid-type]
        risk_assessments=(list[risk_read], ...),  # type: ignore[valid-type]
        survey=(survey_read | None, None),
        catalogue_version=(str, ...),
        version=(int, ...),
        created_at=(datetime, ...),
        updated_at=(datetime, ...),
        warnings=(
            list[CaseWarning],
            Field(
                default_factory=list,
                description="Motsägelser att kontrollera: sparat, men värt en extra blick "
                "(consistency warnings; they never block a save)",
            ),
        ),
    )
    summary = _strict(
        "CaseSummary",
        id=(uuid.UUID, ...),
        unit_id=(uuid.UUID, ...),
        actualised_on=(date, ...),
        closed_on=(date | None, None),
        caseworker_ref=(str | None, None),
        status=(status, ...),
        is_excluded=(bool, ...),
        version=(int, ...),
    )
    page = _strict(
        "CasePage",
        items=(list[summary], ...),  # type: ignore[valid-type]
        limit=(int, ...),
        next_cursor=(
            str | None,
            Field(description="Nästa sida: skicka som `cursor` (null på sista sidan)"),
        ),
    )
    return CaseSchemas(
        values=values,
        comments=comments,
        create=create,
        update=update,
        close=close,
        read=read,
        page=page,
        intervention_in=intervention_in,
        intervention_read=intervention_read,
        intervention_patch=intervention_patch,
        risk_in=risk_in,
        risk_patch=risk_patch,
        risk_read=risk_read,
        survey_in=survey_in,
        survey_read=survey_read,
        examples=build_examples(catalogue),
    )
