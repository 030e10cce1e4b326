"""Key ratios and indicators from case data (pure pandas).

An indicator is *data* (``variables/indicators/*.yaml``, read and checked by
``app.indicators.spec``), turned into a :class:`Definition` here: a numerator
(conditions on cases), a denominator (the adult population, or the subjects of
other conditions), what is counted (unique persons or cases), the period rule,
the breakdowns and reporting levels, and the documented *choices* (each with a
default) that settle the definition's ambiguities. :func:`compute` evaluates a
definition over the cases and interventions of :class:`CaseData` for one
period and a list of areas and returns tidy rows, one per area and sex.

Nothing here reads a database, a file or the clock; the population figures,
the period and the areas are parameters. A value that cannot be computed is
``None`` with a reason code (:data:`REASONS`), never a 0.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, Literal

import numpy as np
import pandas as pd

from exporters.codebook import Label
from exporters.frame import RawData
from exporters.rounding import round_half_up

Counting = Literal["persons", "cases"]
ConditionKind = Literal["date_in_period", "open_in_period", "intervention", "value"]
DateColumn = Literal["actualised_on", "closed_on"]
Started = Literal["in_period", "by_period_end", "any"]
UnitKind = Literal["per_inhabitants", "percent"]
PeriodRule = Literal["calendar_year", "rolling_12_months"]
DenominatorKind = Literal["adult_population", "subjects"]
Level = Literal["municipality", "district"]
Sex = Literal["T", "K", "M"]

SEXES: tuple[Sex, ...] = ("T", "K", "M")
SEX_CODES: Mapping[str, int] = {"K": 1, "M": 2}
"""SUV 14 (Kön): 1 Kvinna, 2 Man."""
ADULT_AGE = 18

ENGINE_CHOICES: Mapping[str, tuple[str, ...]] = {
    "counting": ("persons", "cases"),
    "population_year": ("same", "latest"),
    "district_method": ("district_mean", "whole_municipality"),
}
"""Choices the engine itself acts on. A definition may declare them (with its
own default); their values must be among these."""

REASONS: Mapping[str, Label] = {
    "no_cases": Label(
        "Inga ärenden i registret under perioden: kan inte redovisas.",
        "No cases in the register during the period: cannot be reported.",
    ),
    "population_missing": Label(
        "Befolkningsuppgift (18+ den 31/12) saknas för året: läs in den med "
        "`isu population import`.",
        "The population figure (18+ on 31 Dec) is missing for the year: load it with "
        "`isu population import`.",
    ),
    "no_subjects": Label(
        "Inga personer i nämnaren: andelen kan inte beräknas.",
        "Nobody in the denominator: the share cannot be computed.",
    ),
    "suppressed": Label(
        "Dolt av röjandeskydd: K och M döljs tillsammans när någon del är färre än "
        "tröskelvärdet (T redovisas som i Kolada).",
        "Hidden by disclosure control: K and M are hidden together when any part is below "
        "the threshold (T is published as in Kolada).",
    ),
    "no_district_values": Label(
        "Ingen deltagande stadsdel har ett värde (inga ärenden eller befolkning per "
        "stadsdel saknas): kommunvärdet är medelvärdet av stadsdelarnas värden.",
        "No participating district has a value (no cases, or the district population is "
        "missing): the municipality value is the mean of the districts' values.",
    ),
}


@dataclass(frozen=True)
class Condition:
    """One test on a case. ``when`` limits it to some choice values: it applies
    only when every named choice has the given value."""

    kind: ConditionKind
    column: DateColumn | None = None
    """date_in_period: which date must fall within the period."""
    variable: str | None = None
    """value: the catalogue variable (a single-choice code column)."""
    any_of: tuple[int, ...] = ()
    """value: accepted codes; intervention: accepted grounds (SUV 126), empty = any."""
    started: Started = "any"
    """intervention: when it started relative to the period."""
    when: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Choice:
    key: str
    default: str
    values: Mapping[str, Label]
    label: Label


@dataclass(frozen=True)
class Definition:
    id: str
    title: Label
    unit: UnitKind
    scale: int
    """Per how many inhabitants (10 000), or 100 for a percentage."""
    decimals: int
    period: PeriodRule
    counting: Counting
    numerator: tuple[Condition, ...]
    denominator: DenominatorKind
    denominator_conditions: tuple[Condition, ...] = ()
    breakdowns: tuple[str, ...] = ("sex",)
    reporting_levels: tuple[Level, ...] = ("municipality",)
    district_mean: tuple[str, ...] = ()
    """Municipalities whose value is the mean of their participating districts' values."""
    choices: tuple[Choice, ...] = ()
    total_only_upstream: bool = False
    """The publisher (Kolada) shows only the total T: our K/M split is marked as ours."""

    def resolve(self, given: Mapping[str, str] | None = None) -> dict[str, str]:
        """Every declared choice's value: the given one, else the default.
        Raises ValueError for an undeclared choice or an unknown value."""
        given = dict(given or {})
        out: dict[str, str] = {}
        for choice in self.choices:
            value = given.pop(choice.key, choice.default)
            if value not in choice.values:
                raise ValueError(f"{self.id}: choice {choice.key} has no value {value}")
            out[choice.key] = value
        if given:
            raise ValueError(f"{self.id}: unknown choice {sorted(given)[0]}")
        return out


@dataclass(frozen=True)
class Period:
    start: date
    end: date
    year: int | None = None
    """The calendar year, for calendar-year periods (Kolada's ``period``)."""

    @property
    def label(self) -> str:
        if self.year is not None:
            return str(self.year)
        return f"{self.start.isoformat()}/{self.end.isoformat()}"


def calendar_year(year: int) -> Period:
    return Period(date(year, 1, 1), date(year, 12, 31), year)


def rolling_12_months(as_of: date) -> Period:
    """The 12 months ending on ``as_of`` (inclusive): 2025-12-31 -> 2025-01-01."""
    try:
        year_before = as_of.replace(year=as_of.year - 1)
    except ValueError:  # 29 February
        year_before = as_of.replace(year=as_of.year - 1, day=28)
    return Period(year_before + timedelta(days=1), as_of)


def period_for(definition: Definition, *, year: int | None, as_of: date | None) -> Period:
    if definition.period == "calendar_year":
        if year is None:
            raise ValueError(f"{definition.id}: a calendar year is needed")
        return calendar_year(year)
    if as_of is None:
        raise ValueError(f"{definition.id}: an as-of date is needed")
    return rolling_12_months(as_of)


CASE_DATA_COLUMNS = (
    "case_id",
    "person",
    "municipality_code",
    "district_code",
    "actualised_on",
    "closed_on",
    "sex",
    "age",
)


@dataclass(frozen=True)
class CaseData:
    """Included (not excluded) cases with the person they concern, and their
    interventions. ``cases`` has :data:`CASE_DATA_COLUMNS` plus any coded
    variable a condition names; ``interventions`` has case_id, start_on,
    grounds_code."""

    cases: pd.DataFrame
    interventions: pd.DataFrame


def case_data(raw: RawData, persons: Mapping[str, str] | None = None) -> CaseData:
    """:class:`CaseData` from the analysis inputs. ``persons`` maps case id ->
    client pseudonym (None: every case is its own person). Excluded cases are
    left out, as in every statistic."""
    cases = raw.cases
    keep = ~cases["is_excluded"].fillna(False).astype(bool).to_numpy()
    cases = cases.loc[keep].reset_index(drop=True).copy()
    ids = cases["case_id"].astype(str)
    cases["case_id"] = ids
    if persons is None:
        cases["person"] = ids
    else:
        cases["person"] = ids.map(lambda i: persons.get(i, i))
    for column in ("actualised_on", "closed_on"):
        cases[column] = pd.to_datetime(cases[column], errors="coerce").astype("datetime64[s]")
    for column in ("sex", "age"):
        values = cases[column] if column in cases else pd.Series([None] * len(cases))
        cases[column] = pd.to_numeric(values, errors="coerce").astype("Float64")
    if "district_code" not in cases:
        cases["district_code"] = None
    iv = raw.interventions
    interventions = pd.DataFrame(
        {
            "case_id": iv["case_id"].astype(str),
            "start_on": pd.to_datetime(iv["start_on"], errors="coerce").astype("datetime64[s]"),
            "grounds_code": pd.to_numeric(iv["grounds_code"], errors="coerce").astype("Float64"),
        }
    )
    interventions = interventions[interventions["case_id"].isin(set(ids))]
    return CaseData(cases, interventions.reset_index(drop=True))


def case_data_from_table(
    cases: pd.DataFrame, interventions: pd.DataFrame, persons: Mapping[str, str] | None = None
) -> CaseData:
    """:class:`CaseData` from included rows of the analysis table and the
    intervention records (case_id, start_on, grounds_code)."""
    return case_data(RawData(cases.assign(is_excluded=False), interventions), persons)


@dataclass(frozen=True)
class Population:
    """Adults (18+) on 31 December: (area code, year, sex) -> count. Area codes
    are municipality codes (``0180``) or district codes (``0180-01``)."""

    figures: Mapping[tuple[str, int, str], int]
    sources: Mapping[int, str] = field(default_factory=dict)
    """Per year: where the figures come from (shown in reports)."""

    def lookup(self, area: str, year: int, sex: str, rule: str) -> tuple[int, int] | None:
        """(count, reference year) by ``rule``: ``same`` = 31 Dec of ``year``;
        ``latest`` = the latest year up to ``year`` that has a figure."""
        if rule == "same":
            value = self.figures.get((area, year, sex))
            return None if value is None else (value, year)
        years = sorted(
            {y for (a, y, s) in self.figures if a == area and s == sex and y <= year}, reverse=True
        )
        if not years:
            return None
        return self.figures[(area, years[0], sex)], years[0]


def _ts(day: date) -> np.datetime64:
    return np.datetime64(day.isoformat(), "s")


def _applies(condition: Condition, choices: Mapping[str, str]) -> bool:
    return all(choices.get(key) == value for key, value in condition.when)


def _condition_mask(condition: Condition, data: CaseData, period: Period) -> np.ndarray:
    cases = data.cases
    start, end = _ts(period.start), _ts(period.end)
    if condition.kind == "date_in_period":
        if condition.column is None:
            raise ValueError("date_in_period needs a column")
        on = cases[condition.column]
        return ((on >= start) & (on <= end)).fillna(False).to_numpy(dtype=bool)
    if condition.kind == "open_in_period":
        opened = (cases["actualised_on"] <= end).fillna(False)
        closed = cases["closed_on"]
        still_open = closed.isna() | (closed >= start).fillna(False)
        return (opened & still_open).to_numpy(dtype=bool)
    if condition.kind == "value":
        if condition.variable is None:
            raise ValueError("a value condition needs a variable")
        if condition.variable not in cases:
            return np.zeros(len(cases), dtype=bool)
        values = pd.to_numeric(cases[condition.variable], errors="coerce")
        return values.isin(list(condition.any_of)).to_numpy(dtype=bool)
    iv = data.interventions
    hit = pd.Series(True, index=iv.index)
    if condition.any_of:
        hit &= iv["grounds_code"].isin(list(condition.any_of)).fillna(False)
    if condition.started == "in_period":
        hit &= ((iv["start_on"] >= start) & (iv["start_on"] <= end)).fillna(False)
    elif condition.started == "by_period_end":
        hit &= (iv["start_on"] <= end).fillna(False)
    matched = set(iv.loc[hit.to_numpy(dtype=bool), "case_id"])
    return cases["case_id"].isin(matched).to_numpy(dtype=bool)


def mask(
    conditions: Sequence[Condition], data: CaseData, period: Period, choices: Mapping[str, str]
) -> np.ndarray:
    """Cases meeting every applicable condition, adults only (age 18+ at
    aktualisering; a case without a registered age counts as adult, since the
    register only accepts adults)."""
    age = data.cases["age"]
    out = (age.isna() | (age >= ADULT_AGE)).fillna(True).to_numpy(dtype=bool)
    for condition in conditions:
        if _applies(condition, choices):
            out &= _condition_mask(condition, data, period)
    return out


def subject_sex(cases: pd.DataFrame, counting: Counting) -> pd.Series:
    """One row per subject (person or case) with its sex code (NA = unknown).
    A person's sex is the one registered on their latest case in the selection
    (by date of aktualisering)."""
    if counting == "cases":
        return pd.Series(cases["sex"].to_numpy(), index=cases["case_id"].to_numpy())
    ordered = cases.sort_values(["actualised_on", "case_id"], kind="stable")
    known = ordered.dropna(subset=["sex"])
    last = known.groupby("person", sort=True)["sex"].last()
    persons = pd.Index(sorted(set(ordered["person"])))
    return last.reindex(persons)


def _counts(subjects: pd.Series) -> dict[str, int]:
    values = subjects.to_numpy(dtype=float, na_value=np.nan)
    return {
        "T": len(subjects),
        "K": int(np.sum(values == SEX_CODES["K"])),
        "M": int(np.sum(values == SEX_CODES["M"])),
    }


ROW_COLUMNS = (
    "indicator",
    "level",
    "area_code",
    "municipality_code",
    "period",
    "sex",
    "ours",
    "numerator",
    "denominator",
    "population_year",
    "raw_value",
    "value",
    "count",
    "method",
    "reason",
)


@dataclass(frozen=True)
class IndicatorResult:
    definition: Definition
    period: Period
    choices: Mapping[str, str]
    rows: pd.DataFrame
    """Tidy: :data:`ROW_COLUMNS`, one row per (area, sex). ``raw_value`` is
    unrounded; ``value`` is rounded as published. ``denominator`` is the
    population for per-inhabitant ratios, the number of subjects for shares."""

    def row(self, area_code: str, sex: str = "T") -> dict[str, Any]:
        hit = self.rows[(self.rows["area_code"] == area_code) & (self.rows["sex"] == sex)]
        if len(hit) != 1:
            raise KeyError((area_code, sex))
        return {str(k): (None if _is_na(v) else v) for k, v in hit.iloc[0].to_dict().items()}


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as dicts with string keys."""
    return [{str(k): v for k, v in row.items()} for row in frame.to_dict("records")]


def _is_na(value: Any) -> bool:
    return value is None or (not isinstance(value, str | tuple | list) and bool(pd.isna(value)))


def _area_cases(data: CaseData, level: Level, code: str) -> np.ndarray:
    column = "municipality_code" if level == "municipality" else "district_code"
    return (data.cases[column].astype("object") == code).to_numpy(dtype=bool)


def compute(
    definition: Definition,
    data: CaseData,
    period: Period,
    *,
    municipalities: Sequence[str],
    population: Population | None = None,
    districts: Mapping[str, Sequence[str]] | None = None,
    choices: Mapping[str, str] | None = None,
) -> IndicatorResult:
    """The indicator for each municipality in ``municipalities`` (and, where the
    definition reports districts, for each district in ``districts[municipality]``).

    An area *participates* when it has at least one included case open during
    the period; otherwise its value is None with reason ``no_cases`` (never 0).
    """
    resolved = definition.resolve(choices)
    counting: Counting = (
        "cases" if resolved.get("counting", definition.counting) == "cases" else "persons"
    )
    population_rule = resolved.get("population_year", "same")
    district_method = resolved.get("district_method", "district_mean")
    if definition.unit == "per_inhabitants" and population is None:
        raise ValueError(f"{definition.id}: population figures are needed")
    districts = districts or {}
    open_cases = _condition_mask(Condition("open_in_period"), data, period)
    if definition.denominator == "subjects":
        base = mask(definition.denominator_conditions, data, period, resolved)
        selected = base & mask(definition.numerator, data, period, resolved)
    else:
        base = mask(definition.numerator, data, period, resolved)
        selected = base
    rows: list[dict[str, Any]] = []

    def evaluate(level: Level, code: str) -> dict[str, dict[str, Any]]:
        in_area = _area_cases(data, level, code)
        participates = bool(np.any(open_cases & in_area))
        reference = data.cases.loc[base & in_area]
        sex_of = subject_sex(reference, counting)
        chosen = data.cases.loc[selected & in_area]
        chosen_ids = set(chosen["person" if counting == "persons" else "case_id"])
        numerator = _counts(sex_of[sex_of.index.isin(chosen_ids)])
        out: dict[str, dict[str, Any]] = {}
        for sex in SEXES:
            entry: dict[str, Any] = {
                "numerator": numerator[sex] if participates else None,
                "denominator": None,
                "population_year": None,
                "raw_value": None,
                "reason": None,
            }
            if definition.unit == "per_inhabitants":
                assert population is not None
                found = population.lookup(
                    code, period.year or period.end.year, sex, population_rule
                )
                if found is not None:
                    entry["denominator"], entry["population_year"] = found
                if not participates:
                    entry["reason"] = "no_cases"
                elif found is None or found[0] <= 0:
                    entry["reason"] = "population_missing"
                else:
                    entry["raw_value"] = definition.scale * numerator[sex] / found[0]
            else:
                denominator = _counts(sex_of)[sex]
                entry["denominator"] = denominator if participates else None
                if not participates:
                    entry["reason"] = "no_cases"
                elif denominator == 0:
                    entry["reason"] = "no_subjects"
                else:
                    entry["raw_value"] = definition.scale * numerator[sex] / denominator
            out[sex] = entry
        return out

    def emit(
        level: Level,
        code: str,
        municipality: str,
        values: Mapping[str, Mapping[str, Any]],
        count: Mapping[str, int],
        method: str,
    ) -> None:
        for sex in SEXES:
            entry = values[sex]
            raw = entry["raw_value"]
            rows.append(
                {
                    "indicator": definition.id,
                    "level": level,
                    "area_code": code,
                    "municipality_code": municipality,
                    "period": period.label,
                    "sex": sex,
                    "ours": sex != "T" and definition.total_only_upstream,
                    "numerator": entry["numerator"],
                    "denominator": entry["denominator"],
                    "population_year": entry["population_year"],
                    "raw_value": raw,
                    "value": None if raw is None else round_half_up(raw, definition.decimals),
                    "count": count[sex] if raw is not None else 0,
                    "method": method,
                    "reason": entry["reason"] if raw is None else None,
                }
            )

    for municipality in municipalities:
        whole = evaluate("municipality", municipality)
        own_districts = list(districts.get(municipality, ()))
        by_district = {d: evaluate("district", d) for d in own_districts}
        if municipality in definition.district_mean and district_method == "district_mean":
            mean_values: dict[str, dict[str, Any]] = {}
            counts: dict[str, int] = {}
            for sex in SEXES:
                district_values = [
                    v[sex]["raw_value"]
                    for v in by_district.values()
                    if v[sex]["raw_value"] is not None
                ]
                entry = dict(whole[sex])
                counts[sex] = len(district_values)
                if district_values:
                    entry["raw_value"] = float(np.mean(district_values))
                    entry["reason"] = None
                else:
                    entry["raw_value"] = None
                    entry["reason"] = whole[sex]["reason"] or "no_district_values"
                mean_values[sex] = entry
            emit("municipality", municipality, municipality, mean_values, counts, "district_mean")
        else:
            emit(
                "municipality", municipality, municipality, whole, dict.fromkeys(SEXES, 1), "ratio"
            )
        if "district" in definition.reporting_levels:
            for code, district in by_district.items():
                emit("district", code, municipality, district, dict.fromkeys(SEXES, 1), "ratio")
    frame = pd.DataFrame(rows, columns=list(ROW_COLUMNS))
    for column in ("numerator", "denominator", "population_year", "count"):
        frame[column] = frame[column].astype("Int64")
    for column in ("raw_value", "value"):
        frame[column] = frame[column].astype("Float64")
    return IndicatorResult(definition, period, resolved, frame)


def reason_label(code: str | None) -> Label | None:
    return None if code is None else REASONS[code]


def indicator_document(
    result: IndicatorResult, area_names: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """An indicator result as JSON: the definition's choices and one entry per
    area with T, K and M (numerator, denominator, value, reason)."""
    definition = result.definition
    names = area_names or {}
    areas: list[dict[str, Any]] = []
    for (level, code), block in result.rows.groupby(["level", "area_code"], sort=False):
        values = []
        for row in records(block):
            clean = {k: (None if _is_na(v) else v) for k, v in row.items()}
            reason = clean["reason"]
            values.append(
                {
                    "sex": clean["sex"],
                    "numerator": _plain(clean["numerator"]),
                    "denominator": _plain(clean["denominator"]),
                    "population_year": _plain(clean["population_year"]),
                    "value": _plain(clean["value"]),
                    "ours": bool(clean["ours"]),
                    "reason": reason,
                    "reason_label": REASONS[reason].as_json() if reason else None,
                }
            )
        areas.append(
            {
                "level": level,
                "area_code": code,
                "area_name": names.get(str(code), str(code)),
                "method": block["method"].iloc[0],
                "values": values,
            }
        )
    return {
        "indicator": definition.id,
        "title": definition.title.as_json(),
        "unit": definition.unit,
        "scale": definition.scale,
        "period": {
            "from": result.period.start.isoformat(),
            "to": result.period.end.isoformat(),
            "year": result.period.year,
        },
        "counting": result.choices.get("counting", definition.counting),
        "choices": dict(result.choices),
        "areas": areas,
    }


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value
