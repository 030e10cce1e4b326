"""The SKR package's tables and columns, derived from the catalogue.

One row per case in ``cases.csv``; the repeated records in long tables
(``interventions.csv``, ``risk_assessments.csv``). A column of a catalogue
variable is named ``v<SUV>_<key>`` (``v014_sex``), a group field that is not an
SUV variable ``<group>_<field>`` (``risk_assessment_score``); codes are those
of Bilaga 2, multi-choice values a JSON array (``[1,8]``; ``[]`` = registered
as none; empty = not registered). Free text is never a column: the text
variables (217 survey suggestions) and every comment are left out; the client
(4), caseworker (3), case and unit are re-keyed for the recipient.

The exporter and the hub's verifier both read this layout, so a column name
maps back to the same catalogue variable on either side.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from app.cases.exclusion import ExclusionReason
from app.catalogue.loader import Catalogue
from app.catalogue.spec import Storage, Variable, VariableType
from app.models import STATUSES

MANIFEST = "manifest.json"
CODEBOOK = "codebook.json"
CASES = "cases.csv"
INTERVENTIONS = "interventions.csv"
RISKS = "risk_assessments.csv"
TABLES = (CASES, INTERVENTIONS, RISKS)
FORMAT = "isu-skr-package"
FORMAT_VERSION = 1

Kind = Literal[
    "key", "municipality", "district", "code", "codes", "integer", "date", "enum", "flag"
]
Source = Literal["case", "values", "survey", "survey_values", "intervention", "risk", "local"]


@dataclass(frozen=True)
class Column:
    name: str
    kind: Kind
    source: Source
    field: str
    """The database attribute (or JSON values key) the column is read from."""
    key: str | None = None
    """The catalogue key (None for structural columns such as ``case_key``)."""
    codes: frozenset[int] = frozenset()
    values: frozenset[str] = frozenset()
    minimum: int | None = None
    maximum: int | None = None
    required: bool = False


def column_name(variable: Variable) -> str:
    return f"v{variable.suv:03d}_{variable.key}" if variable.suv else variable.key


def _codes(variable: Variable) -> frozenset[int]:
    # Retired codes too: an old case may hold one ("codes never change").
    return frozenset(o.code for o in variable.options)


def _var(catalogue: Catalogue, key: str) -> Variable:
    variable = catalogue.variable(key)
    if variable is None:
        raise KeyError(key)
    return variable


def _value_column(variable: Variable, source: Source, field: str) -> Column | None:
    name = column_name(variable)
    if variable.type is VariableType.single:
        return Column(name, "code", source, field, variable.key, _codes(variable))
    if variable.type is VariableType.multi:
        return Column(name, "codes", source, field, variable.key, _codes(variable))
    if variable.type is VariableType.integer:
        return Column(
            name, "integer", source, field, variable.key,
            minimum=variable.minimum, maximum=variable.maximum,
        )  # fmt: skip
    if variable.type is VariableType.date:
        return Column(name, "date", source, field, variable.key)
    return None  # free text: never exported


def case_columns(catalogue: Catalogue) -> list[Column]:
    def named(key: str) -> str:
        return column_name(_var(catalogue, key))

    municipality = named("municipality")
    columns = [
        Column("case_key", "key", "case", "id", required=True),
        Column(
            named("unit_kind"),
            "code",
            "case",
            "unit_kind",
            "unit_kind",
            _codes(_var(catalogue, "unit_kind")),
            required=True,
        ),
        Column("unit_key", "key", "case", "unit_id", required=True),
        Column(municipality, "municipality", "case", "municipality_code", required=True),
        Column(municipality.replace("municipality", "district"), "district", "case", "district"),
        Column(named("caseworker_ref"), "key", "case", "caseworker_ref", "caseworker_ref"),
        Column(named("client_id"), "key", "case", "client_pseudonym", "client_id", required=True),
        Column(
            named("actualised_on"), "date", "case", "actualised_on", "actualised_on", required=True
        ),
    ]
    for variable in catalogue.variables.values():
        if variable.storage is Storage.values and "." not in variable.key:
            column = _value_column(variable, "values", variable.key)
            if column is not None:
                columns.append(column)
    columns.append(Column(named("closed_on"), "date", "case", "closed_on", "closed_on"))
    survey = catalogue.groups["survey"]
    for extra in survey.extra_fields:
        name = f"survey_{extra.key}"
        field = {"answered_on": "answered_on", "language": "language_code", "mode": "mode_code"}[
            extra.key
        ]
        if extra.type is VariableType.date:
            columns.append(Column(name, "date", "survey", field, f"survey.{extra.key}"))
        else:
            codes = frozenset(o.code for o in extra.options)
            columns.append(Column(name, "code", "survey", field, f"survey.{extra.key}", codes))
    for variable in catalogue.group_variables("survey"):
        column = _value_column(variable, "survey_values", variable.key)
        if column is not None and column.kind != "date":
            columns.append(column)
    columns += [
        Column("status", "enum", "case", "status", values=frozenset(STATUSES), required=True),
        Column("is_excluded", "flag", "case", "is_excluded", required=True),
        Column(
            "exclusion_reason",
            "enum",
            "case",
            "exclusion_reason",
            values=frozenset(r.value for r in ExclusionReason),
        ),
    ]
    return columns


def intervention_columns(catalogue: Catalogue) -> list[Column]:
    start = _var(catalogue, "intervention_start_on")
    kind = _var(catalogue, "intervention_type")
    grounds = _var(catalogue, "intervention_grounds")
    return [
        Column("case_key", "key", "intervention", "case_id", required=True),
        Column(column_name(start), "date", "intervention", "start_on", start.key, required=True),
        Column(
            column_name(kind),
            "code",
            "intervention",
            "type_code",
            kind.key,
            _codes(kind),
            required=True,
        ),
        Column(
            column_name(grounds),
            "code",
            "intervention",
            "grounds_code",
            grounds.key,
            _codes(grounds),
        ),
    ]


def risk_columns(catalogue: Catalogue) -> list[Column]:
    group = catalogue.groups["risk_assessment"]
    extras = {e.key: e for e in group.extra_fields}
    instrument = _var(catalogue, "risk_instrument")

    def extra_codes(key: str) -> frozenset[int]:
        return frozenset(o.code for o in extras[key].options)

    return [
        Column("case_key", "key", "risk", "case_id", required=True),
        Column(
            "risk_assessment_assessed_on",
            "date",
            "risk",
            "assessed_on",
            "risk_assessment.assessed_on",
            required=True,
        ),
        Column(
            "risk_assessment_assessment_phase",
            "code",
            "risk",
            "phase_code",
            "risk_assessment.assessment_phase",
            extra_codes("assessment_phase"),
            required=True,
        ),
        Column(
            column_name(instrument),
            "code",
            "risk",
            "instrument_code",
            instrument.key,
            _codes(instrument),
            required=True,
        ),
        Column(
            "risk_assessment_score",
            "code",
            "risk",
            "score",
            "risk_assessment.score",
            extra_codes("score"),
        ),
    ]


def local_column(variable: Variable) -> Column | None:
    return _value_column(variable, "local", variable.key)


def layout(catalogue: Catalogue) -> dict[str, list[Column]]:
    return {
        CASES: case_columns(catalogue),
        INTERVENTIONS: intervention_columns(catalogue),
        RISKS: risk_columns(catalogue),
    }


def parse_period(text: str) -> tuple[int, int] | None:
    """``2025`` -> (2025, 2025); ``2021-2023`` -> (2021, 2023); else None."""
    first, sep, last = text.partition("-")
    if not first.isdigit() or len(first) != 4 or (sep and (not last.isdigit() or len(last) != 4)):
        return None
    start, end = int(first), int(last) if sep else int(first)
    if not 2000 <= start <= end <= 2100:
        return None
    return start, end
