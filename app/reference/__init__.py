"""Packaged reference data: counties, municipalities, districts, adult and
total population, and the municipalities' size classes.

The CSV files live in ``app/reference/data`` (see ``SOURCES.md`` there) and are
read through :mod:`importlib.resources`, so this works from an installed wheel.
All codes are kept as strings: leading zeros matter (``0114``).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Literal

__all__ = [
    "SIZE_CLASSES",
    "County",
    "District",
    "Municipality",
    "Sex",
    "adult_population",
    "counties",
    "districts",
    "is_reporting_unit_code",
    "municipalities",
    "population_years",
    "size_class",
    "total_population",
]

Sex = Literal["T", "K", "M"]


@dataclass(frozen=True, slots=True)
class County:
    code: str
    name: str
    short_name: str


@dataclass(frozen=True, slots=True)
class Municipality:
    code: str
    name: str
    short_name: str
    county_code: str


@dataclass(frozen=True, slots=True)
class District:
    """A sub-municipal reporting unit. The codes are this project's own."""

    code: str
    name: str
    municipality_code: str


def _rows(filename: str) -> Iterator[dict[str, str]]:
    text = resources.files(__name__).joinpath("data", filename).read_text(encoding="utf-8")
    yield from csv.DictReader(io.StringIO(text))


@cache
def counties() -> dict[str, County]:
    """All 21 counties by two-digit county code."""
    return {
        row["county_code"]: County(
            code=row["county_code"],
            name=row["county_name"],
            short_name=row["county_name_short"],
        )
        for row in _rows("counties.csv")
    }


@cache
def municipalities() -> dict[str, Municipality]:
    """All 290 municipalities by four-digit municipality code."""
    return {
        row["municipality_code"]: Municipality(
            code=row["municipality_code"],
            name=row["municipality_name"],
            short_name=row["municipality_name_short"],
            county_code=row["county_code"],
        )
        for row in _rows("municipality_county.csv")
    }


def county_of() -> dict[str, str]:
    """Municipality code -> county code, for all 290 municipalities."""
    return {code: m.county_code for code, m in municipalities().items()}


@cache
def districts() -> dict[str, District]:
    """Districts (stadsdelsområden / geographic nämnder) by district code."""
    return {
        row["district_code"]: District(
            code=row["district_code"],
            name=row["district_name"],
            municipality_code=row["municipality_code"],
        )
        for row in _rows("districts.csv")
    }


@cache
def _population() -> dict[tuple[str, int, str], int]:
    return {
        (row["kommunkod"], int(row["year"]), row["sex"]): int(row["population_18plus"])
        for row in _rows("population_18plus.csv")
    }


def adult_population(municipality_code: str, year: int, sex: Sex) -> int | None:
    """Residents aged 18+ on 31 Dec of ``year``; ``None`` when not in the data."""
    return _population().get((municipality_code, year, sex))


@cache
def _population_years() -> tuple[int, ...]:
    return tuple(sorted({year for _, year, _ in _population()}))


def population_years() -> list[int]:
    """Years for which adult population figures are available, ascending."""
    # A fresh list each call, so callers cannot mutate the cached value.
    return list(_population_years())


def is_reporting_unit_code(code: str) -> bool:
    """True for a known municipality code or district code."""
    return code in municipalities() or code in districts()


@cache
def _total_population() -> dict[str, int]:
    return {row["kommunkod"]: int(row["folkmangd"]) for row in _rows("population_total.csv")}


TOTAL_POPULATION_DATE = "2024-12-31"
"""The reference date of ``population_total.csv`` (all ages, SCB via Kolada N01951)."""


def total_population(municipality_code: str) -> int | None:
    """Residents of all ages on :data:`TOTAL_POPULATION_DATE`; ``None`` when unknown."""
    return _total_population().get(municipality_code)


SIZE_CLASSES: tuple[tuple[str, int, int | None, str, str], ...] = (
    ("200000-", 200_000, None, "200 000 invånare eller fler", "200,000 residents or more"),
    ("100000-199999", 100_000, 199_999, "100 000–199 999 invånare", "100,000–199,999 residents"),
    ("40000-99999", 40_000, 99_999, "40 000–99 999 invånare", "40,000–99,999 residents"),
    ("15000-39999", 15_000, 39_999, "15 000–39 999 invånare", "15,000–39,999 residents"),
    ("-14999", 0, 14_999, "Färre än 15 000 invånare", "Fewer than 15,000 residents"),
)
"""Municipality size by total population (key, lowest, highest, sv, en),
largest first. The report groups municipalities by size ("kommuner som har från
40 000 upp till 99 999 invånare", "de minsta kommunerna")."""


def size_class(municipality_code: str) -> str | None:
    """The key of the municipality's size class; ``None`` for an unknown code."""
    population = total_population(municipality_code)
    if population is None:
        return None
    for key, low, high, _sv, _en in SIZE_CLASSES:
        if population >= low and (high is None or population <= high):
            return key
    return None
