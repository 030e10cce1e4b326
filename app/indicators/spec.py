"""Pydantic spec of an indicator definition (``variables/indicators/*.yaml``).

Key ratios (nyckeltal, e.g. Kolada's U30750) and indicators (e.g. seed 000's
indicator A) are data, in the Öppna jämförelser style: title, unit, direction,
numerator, denominator, breakdowns, reporting levels, source. The models are
frozen and forbid unknown keys, so a typo is an error at load time. A loaded
spec is turned into the pure :class:`exporters.indicators.Definition`.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from app.catalogue.loader import Catalogue
from app.catalogue.spec import Text
from exporters import indicators as engine
from exporters.codebook import Label

ID_PATTERN = r"^[A-Za-z0-9_]{1,20}$"


class Spec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class MeasureKind(StrEnum):
    nyckeltal = "nyckeltal"
    """A key ratio: no stated direction (Öppna jämförelser's "nyckeltal")."""
    indikator = "indikator"
    """An indicator: has a direction (high or low values are good)."""


class Direction(StrEnum):
    higher_is_better = "higher_is_better"
    lower_is_better = "lower_is_better"
    none = "none"


class IndicatorType(StrEnum):
    struktur = "struktur"
    process = "process"
    resultat = "resultat"


class DateInPeriod(Spec):
    kind: Literal["date_in_period"]
    column: Literal["actualised_on", "closed_on"]
    when: dict[str, str] = Field(default_factory=dict)


class OpenInPeriod(Spec):
    kind: Literal["open_in_period"]
    when: dict[str, str] = Field(default_factory=dict)


class InterventionCondition(Spec):
    kind: Literal["intervention"]
    started: Literal["in_period", "by_period_end", "any"] = "any"
    grounds_any_of: tuple[int, ...] = ()
    """SUV 126 codes; empty = any grounds."""
    when: dict[str, str] = Field(default_factory=dict)


class ValueCondition(Spec):
    kind: Literal["value"]
    variable: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    any_of: tuple[int, ...] = Field(min_length=1)
    when: dict[str, str] = Field(default_factory=dict)


Condition = Annotated[
    DateInPeriod | OpenInPeriod | InterventionCondition | ValueCondition,
    Field(discriminator="kind"),
]


class Numerator(Spec):
    label: Text
    all_of: tuple[Condition, ...] = Field(min_length=1)


class Denominator(Spec):
    label: Text
    kind: Literal["adult_population", "subjects"]
    all_of: tuple[Condition, ...] = ()

    @model_validator(mode="after")
    def _check(self) -> Denominator:
        if self.kind == "subjects" and not self.all_of:
            raise ValueError("a 'subjects' denominator needs conditions (all_of)")
        if self.kind == "adult_population" and self.all_of:
            raise ValueError("an 'adult_population' denominator takes no conditions")
        return self


class Choice(Spec):
    """A documented choice that settles an ambiguity of the definition."""

    key: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    label: Text
    default: str
    values: dict[str, Text] = Field(min_length=2)

    @model_validator(mode="after")
    def _check(self) -> Choice:
        if self.default not in self.values:
            raise ValueError(f"choice {self.key}: default {self.default!r} is not a value")
        allowed = engine.ENGINE_CHOICES.get(self.key)
        if allowed is not None and not set(self.values) <= set(allowed):
            raise ValueError(f"choice {self.key}: values must be among {list(allowed)}")
        return self


class Source(Spec):
    publisher: str
    reference: str
    """E.g. the Kolada KPI id or the report the indicator comes from."""
    url: str | None = None
    title: str | None = None
    """The publisher's exact title (Kolada's), when it differs from ours."""


class IndicatorSpec(Spec):
    kind: Literal["isu-indicator"]
    format_version: Literal[1]
    id: str = Field(pattern=ID_PATTERN)
    measure: MeasureKind
    title: Text
    description: Text
    unit: Literal["per_inhabitants", "percent"]
    unit_label: Text
    scale: int = Field(ge=1)
    decimals: int = Field(ge=0, le=4)
    direction: Direction
    indicator_type: IndicatorType | None = None
    period: Literal["calendar_year", "rolling_12_months"]
    counting: Literal["persons", "cases"]
    numerator: Numerator
    denominator: Denominator
    breakdowns: tuple[Literal["sex"], ...] = ()
    reporting_levels: tuple[Literal["municipality", "district"], ...] = ("municipality",)
    district_mean: tuple[Annotated[str, Field(pattern=r"^\d{4}$")], ...] = ()
    total_only_upstream: bool = False
    choices: tuple[Choice, ...] = ()
    limitations: Text | None = None
    source: Source

    @model_validator(mode="after")
    def _check(self) -> IndicatorSpec:
        if self.unit == "per_inhabitants" and self.denominator.kind != "adult_population":
            raise ValueError("a per-inhabitant ratio needs the adult population as denominator")
        if self.unit == "percent" and self.denominator.kind != "subjects":
            raise ValueError("a percentage needs a 'subjects' denominator")
        if self.measure is MeasureKind.indikator and self.direction is Direction.none:
            raise ValueError("an indicator has a direction (higher or lower is better)")
        keys = [c.key for c in self.choices]
        if len(keys) != len(set(keys)):
            raise ValueError("duplicate choice keys")
        declared = {c.key: c for c in self.choices}
        for condition in (*self.numerator.all_of, *self.denominator.all_of):
            for key, value in condition.when.items():
                if key not in declared or value not in declared[key].values:
                    raise ValueError(f"condition depends on an undeclared choice {key}={value}")
        if self.district_mean and "district" not in self.reporting_levels:
            raise ValueError("district_mean needs the district reporting level")
        return self

    def variables(self) -> set[str]:
        """Catalogue variables the conditions read."""
        return {
            c.variable
            for c in (*self.numerator.all_of, *self.denominator.all_of)
            if isinstance(c, ValueCondition)
        }

    def check_against(self, catalogue: Catalogue) -> list[str]:
        """Problems with the catalogue: unknown variables or codes."""
        problems = []
        for condition in (*self.numerator.all_of, *self.denominator.all_of):
            if isinstance(condition, ValueCondition):
                variable = catalogue.variable(condition.variable)
                if variable is None:
                    problems.append(f"unknown variable {condition.variable}")
                    continue
                unknown = set(condition.any_of) - {o.code for o in variable.options}
                if unknown:
                    problems.append(f"{condition.variable}: unknown codes {sorted(unknown)}")
            elif isinstance(condition, InterventionCondition) and condition.grounds_any_of:
                grounds = catalogue.variable("intervention_grounds")
                codes = {o.code for o in grounds.options} if grounds else set()
                unknown = set(condition.grounds_any_of) - codes
                if unknown:
                    problems.append(f"intervention_grounds: unknown codes {sorted(unknown)}")
        return problems

    def definition(self) -> engine.Definition:
        return engine.Definition(
            id=self.id,
            title=_label(self.title),
            unit=self.unit,
            scale=self.scale,
            decimals=self.decimals,
            period=self.period,
            counting=self.counting,
            numerator=tuple(_condition(c) for c in self.numerator.all_of),
            denominator=self.denominator.kind,
            denominator_conditions=tuple(_condition(c) for c in self.denominator.all_of),
            breakdowns=self.breakdowns,
            reporting_levels=self.reporting_levels,
            district_mean=self.district_mean,
            choices=tuple(
                engine.Choice(
                    key=c.key,
                    default=c.default,
                    values={k: _label(v) for k, v in c.values.items()},
                    label=_label(c.label),
                )
                for c in self.choices
            ),
            total_only_upstream=self.total_only_upstream,
        )


def _label(text: Text) -> Label:
    return Label(text.sv, text.en)


def _condition(
    condition: DateInPeriod | OpenInPeriod | InterventionCondition | ValueCondition,
) -> engine.Condition:
    when = tuple(sorted(condition.when.items()))
    if isinstance(condition, DateInPeriod):
        return engine.Condition("date_in_period", column=condition.column, when=when)
    if isinstance(condition, OpenInPeriod):
        return engine.Condition("open_in_period", when=when)
    if isinstance(condition, InterventionCondition):
        return engine.Condition(
            "intervention",
            any_of=condition.grounds_any_of,
            started=condition.started,
            when=when,
        )
    return engine.Condition(
        "value", variable=condition.variable, any_of=condition.any_of, when=when
    )
