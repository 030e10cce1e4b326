"""Synthetic client identifiers and units.

Generated personnummer and samordningsnummer are valid (check digit, date, age
at aktualisering) so that they pass the API's checks, but their birth number
(the three digits after the date) is always in the range this project reserves
for synthetic data, 980-999, so a generated identifier is recognisable. Such a
number could still coincide with a real person's: generated files belong only
in demo, test and benchmark databases.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache

from app.reference import adult_population, districts, municipalities, population_years
from app.synthetic.sampling import Uniforms

SYNTHETIC_SERIALS = range(980, 1000)
SAMORDNING_DAY_OFFSET = 60


def luhn_check_digit(digits: str) -> int:
    total = 0
    for index, char in enumerate(digits):
        product = int(char) * (2 if index % 2 == 0 else 1)
        total += product // 10 + product % 10
    return (10 - total % 10) % 10


def personnummer(birth: date, serial: int, *, samordning: bool = False) -> str:
    """``YYYYMMDD-NNNC``; a samordningsnummer has 60 added to the day."""
    day = birth.day + (SAMORDNING_DAY_OFFSET if samordning else 0)
    short = f"{birth.year % 100:02d}{birth.month:02d}{day:02d}{serial:03d}"
    return f"{birth.year:04d}{birth.month:02d}{day:02d}-{serial:03d}{luhn_check_digit(short)}"


def serial_for(sex: int | None, u: Uniforms) -> int:
    """A reserved birth number whose last digit is odd for a man, even for a woman."""
    base = SYNTHETIC_SERIALS.start + 2 * u.below(len(SYNTHETIC_SERIALS) // 2)
    is_man = sex == 2 if sex is not None else u.chance(0.5)
    return base + (1 if is_man else 0)


def _same_day(year: int, on: date) -> date:
    # 29 February in a common year: the 28th.
    return date(year, on.month, min(on.day, 28) if on.month == 2 else on.day)


def birth_date_for_age(age: int, on: date, u: Uniforms) -> date:
    """A birth date that makes the client exactly ``age`` years old on ``on``."""
    latest = _same_day(on.year - age, on)
    earliest = _same_day(on.year - age - 1, on) + timedelta(days=1)
    return earliest + timedelta(days=u.below((latest - earliest).days + 1))


@dataclass(frozen=True)
class SyntheticUnit:
    """A unit the generated cases name (created by the import when missing)."""

    name: str
    kind_code: int
    """SUV 1: 1 myndighet, 2 utförare, 3 både och, 4 annat."""
    municipality: str
    district: str | None
    weight: float


LARGE_MUNICIPALITY = 50_000


@cache
def units_for(municipality: str) -> tuple[SyntheticUnit, ...]:
    """The synthetic units of a municipality: one per district where the
    reference data has districts, a myndighet and a support unit in larger
    municipalities, one combined unit in smaller ones."""
    own = [d for d in districts().values() if d.municipality_code == municipality]
    if own:
        return tuple(
            SyntheticUnit(f"{d.name} – våld i nära relationer", 1, municipality, d.code, 1.0)
            for d in sorted(own, key=lambda d: d.code)
        )
    name = municipalities()[municipality].short_name
    if municipality_weight(municipality) >= LARGE_MUNICIPALITY:
        return (
            SyntheticUnit(
                f"{name} – myndighet, våld i nära relationer", 1, municipality, None, 0.7
            ),
            SyntheticUnit(f"{name} – stödverksamhet för våldsutsatta", 2, municipality, None, 0.3),
        )
    return (
        SyntheticUnit(
            f"{name} – socialtjänsten, våld i nära relationer", 3, municipality, None, 1.0
        ),
    )


@cache
def municipality_weight(municipality: str) -> int:
    """Adults (18+) in the newest year of the reference data."""
    year = max(population_years())
    return adult_population(municipality, year, "T") or 0
