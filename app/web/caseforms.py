"""The forms of a case, phase by phase, built from the catalogue.

bakgrund (the opening date, the caseworker reference and the background
variables), före (variables and the repeated risk assessments), under
(variables and interventions), efter (closing) and the client survey; local
and regional variables join the phase their definition names.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from app.catalogue.loader import Catalogue
from app.catalogue.spec import LocalVariable, Phase, Variable, VariableType
from app.web.forms import Choice, Field, variable_field

NONE_LABEL = "Inget av alternativen (registreras som inget)"
PHASES = tuple(p.value for p in Phase)

# Structural variables (columns of the case) that the forms edit.
CREATE_STRUCTURAL = ("client_id", "actualised_on", "caseworker_ref")
UPDATE_STRUCTURAL = ("actualised_on", "caseworker_ref")


def _value_field(variable: Variable) -> Field:
    f = variable_field(variable, "values", none_label=NONE_LABEL)
    return replace(f, clearable=f.kind == "single")


def _local_field(variable: LocalVariable) -> Field:
    f = variable_field(variable, "local_values", with_comment=False, none_label=NONE_LABEL)
    return replace(f, clearable=f.kind == "single")


def _structural(catalogue: Catalogue, key: str, *, required: bool = False) -> Field:
    f = variable_field(catalogue.variables[key], "", with_comment=False)
    return replace(f, required=required, suv=catalogue.variables[key].suv)


@dataclass(frozen=True)
class CaseForms:
    """Field lists for one municipality's cases (catalogue + its local variables)."""

    catalogue: Catalogue
    local: Mapping[str, LocalVariable]

    def local_fields(self, phase: str) -> list[Field]:
        return [_local_field(v) for v in self.local.values() if v.phase.value == phase]

    def values_fields(self, phase: str) -> list[Field]:
        """The phase's own variables (stored in the case's values) and local ones."""
        shared = [_value_field(v) for v in self.catalogue.phase_values(Phase(phase))]
        return shared + self.local_fields(phase)

    def bakgrund_fields(self) -> list[Field]:
        structural = [
            _structural(self.catalogue, "actualised_on", required=True),
            _structural(self.catalogue, "caseworker_ref"),
        ]
        return structural + self.values_fields("bakgrund")

    def create_fields(self, units: list[tuple[str, str]] | None) -> list[Field]:
        """The new-case form: the unit (coordinators), the client identifier,
        the opening date, the reference and the background variables."""
        fields = []
        if units is not None:
            unit = self.catalogue.variables.get("unit_kind")
            fields.append(
                Field(
                    name="unit_id",
                    kind="select",
                    label=unit.label.sv if unit else "unit_id",
                    choices=tuple(Choice(value, label) for value, label in units),
                    required=True,
                )
            )
        client = _structural(self.catalogue, "client_id", required=True)
        fields.append(replace(client, hint=client.hint))
        fields.append(_structural(self.catalogue, "actualised_on", required=True))
        fields.append(_structural(self.catalogue, "caseworker_ref"))
        shared = [_value_field(v) for v in self.catalogue.phase_values(Phase.bakgrund)]
        return fields + shared + self.local_fields("bakgrund")

    def close_fields(self) -> list[Field]:
        return [_structural(self.catalogue, "closed_on", required=True)] + [
            _value_field(v) for v in self.catalogue.phase_values(Phase.efter)
        ]

    def group_fields(self, group: str, required: frozenset[str]) -> list[Field]:
        """A repeated record's form: its required extra fields (date, occasion),
        its SUV variables, then its optional extra fields, so that a risk
        assessment names the instrument before the score."""
        spec = self.catalogue.groups[group]
        extras = []
        for extra in spec.extra_fields:
            options = tuple(Choice(str(o.code), o.label.sv) for o in extra.options if not o.retired)
            extras.append(
                Field(
                    name=extra.key,
                    kind=extra.type.value,
                    label=extra.label.sv,
                    choices=options,
                    required=extra.required,
                )
            )
        variables = []
        for variable in self.catalogue.group_variables(group):
            f = variable_field(variable, "", comment_prefix="comments")
            if variable.form_label is not None:
                f = replace(f, label=variable.form_label.sv, hint=variable.label.sv)
            variables.append(replace(f, required=variable.key in required))
        return [f for f in extras if f.required] + variables + [f for f in extras if not f.required]

    def intervention_fields(self) -> list[Field]:
        return self.group_fields(
            "intervention", frozenset({"intervention_start_on", "intervention_type"})
        )

    def risk_fields(self) -> list[Field]:
        return self.group_fields("risk_assessment", frozenset({"risk_instrument"}))

    def survey_fields(self) -> list[Field]:
        return self.group_fields("survey", frozenset())


def answered(fields: list[Field], body: Mapping[str, Any]) -> tuple[int, int]:
    """(registered, asked) over the fields' variables (comments not counted)."""
    asked = 0
    registered = 0
    for f in fields:
        head, _, rest = f.name.partition("/")
        value = body.get(head) if not rest else (body.get(head) or {}).get(rest)
        asked += 1
        if value is not None:
            registered += 1
    return registered, asked


def option_label(variable: Variable | None, code: Any) -> str:
    if variable is None or code is None:
        return "" if code is None else str(code)
    if variable.type is VariableType.multi and isinstance(code, list):
        return ", ".join(option_label(variable, c) for c in code) or "Inget"
    option = variable.option(code) if isinstance(code, int) else None
    return option.label.sv if option else str(code)


def extra_label(catalogue: Catalogue, group: str, key: str, code: Any) -> str:
    extra = next((f for f in catalogue.groups[group].extra_fields if f.key == key), None)
    if extra is None or code is None:
        return "" if code is None else str(code)
    option = next((o for o in extra.options if o.code == code), None)
    return option.label.sv if option else str(code)
