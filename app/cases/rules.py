"""Rules across a case's records: dates in order, nothing in the future, adults only.

Pure functions returning FieldErrors (pointer into the request body).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from app.errors import FieldError

ADULT_AGE = 18
AGE_KEY = "age"
"""The catalogue variable the adult rule and the personnummer check read (SUV 15)."""
AGE_BASIS_KEY = "age_basis"
AGE_BASIS_ACTUAL = 1
"""``age_basis`` code for an age computed from a personnummer ("Faktisk ålder")."""


def not_in_future(day: date | None, today: date, pointer: str) -> list[FieldError]:
    if day is not None and day > today:
        return [
            FieldError(
                pointer,
                "future_date",
                "Datumet får inte ligga i framtiden.",
                "The date cannot be in the future.",
            )
        ]
    return []


@dataclass(frozen=True)
class Dated:
    """A record with a date, named for a message: ``Skyddat boende (2025-03-12)``."""

    on: date
    sv: str
    en: str

    def name(self, lang: str) -> str:
        label = self.sv if lang == "sv" else self.en
        quote = ("”", "”") if lang == "sv" else ("“", "”")
        return f"{quote[0]}{label}{quote[1]} ({self.on.isoformat()})"


def _names(records: Iterable[Dated], lang: str) -> str:
    joiner = " och " if lang == "sv" else " and "
    return joiner.join(r.name(lang) for r in records)


def case_dates(
    *,
    actualised_on: date,
    closed_on: date | None,
    interventions: Iterable[Dated],
    today: date,
    pointers: dict[str, str],
) -> list[FieldError]:
    """aktualisering ≤ every intervention start ≤ avslut ≤ today. A broken
    order names the interventions and their dates."""
    errors = not_in_future(actualised_on, today, pointers["actualised_on"])
    errors += not_in_future(closed_on, today, pointers["closed_on"])
    starts = sorted(interventions, key=lambda r: r.on)
    if starts:
        errors += not_in_future(starts[-1].on, today, pointers["intervention"])
    early = [r for r in starts if r.on < actualised_on]
    if early:
        errors.append(
            FieldError(
                pointers["intervention"],
                "before_actualisation",
                f"Insatsen {_names(early, 'sv')} kan inte börja före aktualiseringen "
                f"({actualised_on.isoformat()}).",
                f"The intervention {_names(early, 'en')} cannot start before the case was "
                f"opened ({actualised_on.isoformat()}).",
            )
        )
    if closed_on is not None and closed_on < actualised_on:
        errors.append(
            FieldError(
                pointers["closed_on"],
                "closed_before_actualised",
                "Avslutsdatum kan inte ligga före aktualiseringsdatum "
                f"({actualised_on.isoformat()}).",
                "The closing date cannot be before the date the case was opened "
                f"({actualised_on.isoformat()}).",
            )
        )
    late = [r for r in starts if closed_on is not None and r.on > closed_on]
    if closed_on is not None and late:
        errors.append(
            FieldError(
                pointers["intervention"],
                "after_closing",
                f"Insatsen {_names(late, 'sv')} börjar efter avslutsdatumet "
                f"({closed_on.isoformat()}). Avsluta tidigast {late[-1].on.isoformat()} "
                "eller rätta insatsens startdatum.",
                f"The intervention {_names(late, 'en')} starts after the closing date "
                f"({closed_on.isoformat()}). Close on {late[-1].on.isoformat()} or later, "
                "or correct the intervention's start date.",
            )
        )
    return errors


def under_18(pointer: str, *, estimated_allowed: bool = False) -> FieldError:
    sv = "Registret gäller vuxna: klienten måste vara minst 18 år vid aktualiseringen."
    en = "The register covers adults: the client must be 18 or older when the case opened."
    if estimated_allowed:
        # On the age itself: the caseworker may not know the exact age.
        sv += " Är den exakta åldern okänd går det bra att ange en uppskattad ålder."
        en += " If the exact age is not known, an estimated age is allowed."
    return FieldError(pointer, "under_18", sv, en)


def adult(age: int | None, pointer: str, *, estimated_allowed: bool = False) -> list[FieldError]:
    if age is not None and age < ADULT_AGE:
        return [under_18(pointer, estimated_allowed=estimated_allowed)]
    return []


def explain_age(errors: Iterable[FieldError], pointer: str) -> list[FieldError]:
    """The catalogue's lowest age (SUV 15) is the adult rule: a value below it
    is reported as such, not as a bare "too small"."""
    return [
        under_18(pointer, estimated_allowed=True)
        if e.pointer == pointer and e.code == "too_small"
        else e
        for e in errors
    ]
