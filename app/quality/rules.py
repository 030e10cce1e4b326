"""Which variable applies to which case, and where its value lives.

Pure functions over the catalogue: no session, no SQL. The rules (see
``docs/quality.md``) are driven by a variable's phase, storage and skip logic:

* ``bakgrund`` and ``fore``: every case (``all``);
* ``under`` (collaboration, the interventions 117/118/126): cases past
  aktualisering, i.e. that have received an intervention or are closed
  (``past_actualisation``); an open case without an intervention may still get one;
* ``efter`` and ``brukarenkat``: closed cases (``closed``);
* ``applies_when`` (skip logic, e.g. 203 only when 202 is an improvement)
  narrows this further to the cases where the condition holds.

A case *lacks* a variable when no value is stored for it: a multi-choice
registered as none (``[]``) is registered. For a repeated group the case lacks
the variable when it has no record of the group, or a record without the field.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from app.catalogue.loader import Catalogue
from app.catalogue.spec import Condition, Phase, Storage, Text, Variable, VariableType


class AppliesTo(StrEnum):
    all = "all"
    """Every case."""
    past_actualisation = "past_actualisation"
    """Cases that have received an intervention or are closed."""
    closed = "closed"
    """Closed cases (avslutade)."""


class Source(StrEnum):
    """Where a case keeps the variable's value."""

    values = "values"
    structural = "structural"
    intervention = "intervention"
    risk_assessment = "risk_assessment"
    survey = "survey"


PHASE_RULE: dict[Phase, AppliesTo] = {
    Phase.bakgrund: AppliesTo.all,
    Phase.fore: AppliesTo.all,
    Phase.under: AppliesTo.past_actualisation,
    Phase.efter: AppliesTo.closed,
    Phase.brukarenkat: AppliesTo.closed,
}

# The structural variables a case can lack. The others are required when a
# case is created (1 unit kind, 2 municipality, 4 client identifier,
# 5 aktualisering) or are a step of the funnel (256 closed_on: "Avslutade").
STRUCTURAL_OPTIONAL = frozenset({"caseworker_ref"})

GROUP_SOURCES = {
    "intervention": Source.intervention,
    "risk_assessment": Source.risk_assessment,
    "survey": Source.survey,
}


@dataclass(frozen=True)
class Check:
    """One variable of the report: to which cases it applies, and where to look."""

    key: str
    suv: int | None
    phase: Phase
    label: Text
    source: Source
    applies_to: AppliesTo
    condition: Condition | None = None
    condition_source: Source | None = None
    condition_possible: bool = True
    """False when the condition can never hold (a condition on a multi-choice,
    which the validation never accepts either)."""
    is_local: bool = False


def source_of(variable: Variable) -> Source | None:
    """Where the value lives, or None when the variable is not reported."""
    if variable.retired:
        return None
    if variable.storage is Storage.values:
        return Source.values
    if variable.storage is Storage.structural:
        return Source.structural if variable.key in STRUCTURAL_OPTIONAL else None
    if variable.type is VariableType.text:
        # Free-text answers (217) are optional by nature and stored encrypted.
        return None
    return GROUP_SOURCES.get(variable.group or "")


def build_checks(catalogue: Catalogue, local: list[Variable] | None = None) -> list[Check]:
    """The report's variables in catalogue order, then the local ones by key."""
    checks: list[Check] = []
    variables = dict(catalogue.variables)
    local_vars = sorted(local or [], key=lambda v: v.key)
    variables.update({v.key: v for v in local_vars})
    local_keys = {v.key for v in local_vars}
    for variable in variables.values():
        source = source_of(variable)
        if source is None:
            continue
        condition = variable.applies_when
        condition_source: Source | None = None
        possible = True
        if condition is not None:
            target = variables.get(condition.variable)
            condition_source = source_of(target) if target is not None else None
            possible = (
                target is not None
                and target.type is VariableType.single
                and condition_source in (Source.values, Source.survey)
            )
        checks.append(
            Check(
                key=variable.key,
                suv=variable.suv,
                phase=variable.phase,
                label=variable.label,
                source=source,
                applies_to=PHASE_RULE[variable.phase],
                condition=condition,
                condition_source=condition_source,
                condition_possible=possible,
                is_local=variable.key in local_keys,
            )
        )
    return checks
