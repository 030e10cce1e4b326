"""Packaged reference data: counties, municipalities, districts, adult population.

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
