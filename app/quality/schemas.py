"""Response models of the data-quality report."""

from __future__ import annotations

import uuid
from datetime import date

from pydantic import BaseModel, ConfigDict, Field

from app.models import STATUSES
from app.quality.rules import AppliesTo


class Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Label(Out):
    sv: str
    en: str


class FunnelStepRead(Out):
    step: str = Field(description="Steg i trattmodellen (Diagram 1)")
    label: Label
    base: str | None = Field(
        description="Steget vars ärenden är nämnaren: registrerat + ej registrerat = base"
    )
    registered: int = Field(ge=0, description="Registrerat")
    not_registered: int | None = Field(ge=0, description="Ej registrerat (null för första steget)")


class ConditionRead(Out):
    variable: str
    any_of: list[int]


class VariableQuality(Out):
    key: str
    suv: int | None
    label: Label
    is_local: bool = Field(description="Kommunens eller länets egen variabel")
    applies_to: AppliesTo = Field(
        description="all: alla ärenden; past_actualisation: fått insats eller avslutade; "
        "closed: avslutade"
    )
    applies_when: ConditionRead | None = Field(description="Hopplogik ur katalogen")
    applicable: int = Field(ge=0, description="Ärenden där variabeln ska vara registrerad")
    missing: int = Field(ge=0, description="… av dem där den saknas")
    missing_percent: float | None = Field(description="missing / applicable, i procent")


class PhaseQuality(Out):
    phase: str
    cases_applicable: int = Field(ge=0, description="Ärenden där någon variabel i fasen gäller")
    cases_incomplete: int = Field(ge=0, description="… av dem där minst en saknas")
    variables: list[VariableQuality]


class WarningCount(Out):
    key: str = Field(description="Kontrollens nyckel i katalogen (variables/checks.yaml)")
    label: Label
    cases: int = Field(ge=0, description="Ärenden som inte klarar kontrollen")


class QualityGroup(Out):
    unit_id: uuid.UUID | None = Field(description="Verksamheten, null för hela urvalet")
    unit_name: str | None
    cases: int = Field(ge=0, description="Ärenden i urvalet (undantagna ej medräknade)")
    excluded_cases: int = Field(ge=0, description="Undantagna ärenden, redovisas separat")
    funnel: list[FunnelStepRead]
    phases: list[PhaseQuality]
    warnings: list[WarningCount] = Field(
        description="Katalogens rimlighetskontroller: ärenden med en motsägelse att kontrollera"
    )


class QualityReport(Out):
    catalogue_version: str
    municipality_code: str | None
    unit_id: uuid.UUID | None
    actualised_from: date | None
    actualised_to: date | None
    total: QualityGroup
    units: list[QualityGroup]


class LackingCase(Out):
    id: uuid.UUID
    unit_id: uuid.UUID
    actualised_on: date
    caseworker_ref: str | None = Field(description="SUV 3: handläggarens referens")
    status: str = Field(json_schema_extra={"enum": list(STATUSES)})
    version: int


class LackingCasesPage(Out):
    variable: str
    items: list[LackingCase]
    total: int = Field(ge=0)
    limit: int
    offset: int


class WarningCasesPage(Out):
    check: str
    items: list[LackingCase]
    total: int = Field(ge=0)
    limit: int
    offset: int
